/* nginx pools as files in include_dir, changed under test and reload; see balancer.h. */
#include "balancer.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "child.h"
#include "xalloc.h"
#include "fileio.h"
#include "banned.h"

#define POOL_NAME_MAX	  200
#define HOST_NAME_MAX_LEN 253
#define POOL_FILE_CAP	  ((size_t)16 << 20) /* an old pool file bigger than this is refused */
#define OUTPUT_KEEP	  ((size_t)64 << 10) /* of a command's output */
#define MESSAGE_LINES	  5		     /* of a command's output, in an error message */
#define MESSAGE_CHARS	  1000
/* after the command exits, how long the rest of its group may hold its output */
#define STRAGGLER_MS 1000

/* --- names and nodes ---------------------------------------------------- */

int balancer_valid_pool(const char *name)
{
	size_t i;

	if (!name || !*name)
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.'))
			return 0;
	}
	return i <= POOL_NAME_MAX;
}

static int check_pool(const char *name, struct error *err)
{
	struct buf shown = BUF_INIT;

	if (balancer_valid_pool(name))
		return 0;
	if (!name)
		return error_set(err, "a pool has no name");
	buf_add_printable(&shown, name, strlen(name) > 80 ? 80 : strlen(name));
	error_set(
		err,
		"bad pool name '%s%s': pool names are identifiers ([A-Za-z0-9_.]+, at most %d characters)",
		buf_cstr(&shown), strlen(name) > 80 ? "..." : "", POOL_NAME_MAX);
	buf_release(&shown);
	return -1;
}

struct node {
	const char *addr; /* not NUL-terminated: alen bytes */
	size_t alen;
	unsigned port;
	int v6;
};

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Parses "host:port", "ipv4:port", "[ipv6]:port" or "ipv6:port" (the last
 * colon starts the port); returns NULL or why it is not a node. */
static const char *parse_node(const char *s, struct node *nd)
{
	const char *port;
	char tmp[64];
	unsigned long v = 0;

	memset(nd, 0, sizeof(*nd));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return "'[' without ']'";
		if (close[1] != ':')
			return "no ':PORT' after the bracketed address";
		nd->addr = s + 1;
		nd->alen = (size_t)(close - s - 1);
		nd->v6 = 1;
		port = close + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon)
			return "no ':PORT'";
		nd->addr = s;
		nd->alen = (size_t)(colon - s);
		nd->v6 = memchr(s, ':', nd->alen) != NULL;
		port = colon + 1;
	}
	if (nd->alen == 0)
		return "no address";
	if (nd->v6) {
		unsigned char bin[16];

		if (nd->alen >= sizeof(tmp))
			return "not an IPv6 address";
		memcpy(tmp, nd->addr, nd->alen);
		tmp[nd->alen] = '\0';
		if (inet_pton(AF_INET6, tmp, bin) != 1)
			return "not an IPv6 address";
	} else {
		if (nd->alen > HOST_NAME_MAX_LEN)
			return "address too long";
		if (!is_alnum(nd->addr[0]))
			return "an address starts with a letter or a digit";
		for (size_t i = 0; i < nd->alen; i++) {
			char c = nd->addr[i];

			if (!is_alnum(c) && c != '.' && c != '-' && c != '_')
				return "an address holds only letters, digits, '.', '-' and '_' (or is an IPv6 address)";
		}
	}
	if (!*port)
		return "no port";
	if (port[0] == '0')
		return "the port is 1-65535, without leading zeros";
	for (size_t i = 0; port[i]; i++) {
		if (port[i] < '0' || port[i] > '9' || i >= 5)
			return "the port is 1-65535, without leading zeros";
		v = v * 10 + (unsigned long)(port[i] - '0');
	}
	if (v < 1 || v > 65535)
		return "the port is 1-65535, without leading zeros";
	nd->port = (unsigned)v;
	return NULL;
}

static int node_cmp(const void *a, const void *b)
{
	const struct node *x = a, *y = b;
	size_t m = x->alen < y->alen ? x->alen : y->alen;
	int c = memcmp(x->addr, y->addr, m);

	if (c)
		return c;
	if (x->alen != y->alen)
		return x->alen < y->alen ? -1 : 1;
	return (x->port > y->port) - (x->port < y->port);
}

int balancer_render_pool(struct buf *out, const char *pool, const char *const *nodes, size_t n,
			 struct error *err)
{
	struct node *nd;
	size_t kept = 0;
	int rc = 0;

	if (check_pool(pool, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	nd = xcalloc(n, sizeof(*nd));
	for (size_t i = 0; i < n; i++) {
		const char *why = nodes[i] ? parse_node(nodes[i], &nd[i]) : "missing";

		if (why) {
			struct buf shown = BUF_INIT;

			if (nodes[i])
				buf_add_printable(&shown, nodes[i], strnlen(nodes[i], 80));
			error_set(err, "pool %s: bad node '%s': %s (want ADDRESS:PORT)", pool,
				  buf_cstr(&shown), why);
			buf_release(&shown);
			free(nd);
			return -1;
		}
	}
	qsort(nd, n, sizeof(*nd), node_cmp);
	rc |= buf_printf(out, "upstream %s {\n", pool);
	for (size_t i = 0; i < n; i++) {
		if (kept && node_cmp(&nd[kept - 1], &nd[i]) == 0)
			continue;
		nd[kept++] = nd[i];
		rc |= buf_printf(out, "    server %s%.*s%s:%u;\n", nd[i].v6 ? "[" : "",
				 (int)nd[i].alen, nd[i].addr, nd[i].v6 ? "]" : "", nd[i].port);
	}
	rc |= buf_puts(out, "}\n");
	free(nd);
	if (rc)
		return error_set(err, "pool %s: the file would be too big", pool);
	return 0;
}

/* --- running test and reload -------------------------------------------- */

int balancer_run_command(const struct strv *argv, const char *const *env_drop, uint64_t timeout_ms,
			 struct buf *output, struct error *err)
{
	struct child_spec spec = {.env_drop = env_drop,
				  .deadline_ms = child_now_ms() + timeout_ms,
				  .output_cap = OUTPUT_KEEP,
				  .straggler_ms = STRAGGLER_MS};
	struct child_result res;
	struct error why = ERROR_INIT;
	char **av;
	int rc = -1;

	if (!argv || argv->n == 0 || !argv->v[0] || !argv->v[0][0])
		return error_set(err, "no command");
	av = xcalloc(argv->n + 1, sizeof(*av));
	for (size_t i = 0; i < argv->n; i++)
		av[i] = argv->v[i];
	spec.argv = av;
	if (child_run(&spec, &res, output, &why) < 0) {
		error_set(err, "cannot run '%s': %s", av[0], error_msg(&why));
		goto cleanup;
	}
	switch (res.end) {
	case CHILD_EXITED:
		if (res.code == 0)
			rc = 0;
		else
			error_set(err, "exit %d", res.code);
		break;
	case CHILD_SIGNALED:
		error_set(err, "killed by signal %d", res.code);
		break;
	case CHILD_TIMED_OUT:
		if (timeout_ms % 1000 == 0)
			error_set(err, "timed out after %llus",
				  (unsigned long long)(timeout_ms / 1000));
		else
			error_set(err, "timed out after %llums", (unsigned long long)timeout_ms);
		break;
	case CHILD_NOT_RUN:
		error_set(err, "cannot run '%s': %s", av[0], strerror(res.code));
		break;
	case CHILD_LOST:
		error_set(err, "its exit status was lost (is SIGCHLD ignored?)");
		break;
	}
cleanup:
	free(av);
	error_release(&why);
	return rc;
}

/* "<what> failed (<reason>): <first lines of output>" */
static int command_failed(struct error *err, const char *what, const struct error *why,
			  const struct buf *output)
{
	struct buf msg = BUF_INIT;
	const char *p = buf_cstr(output), *end = p + output->len;
	int lines = 0;

	buf_printf(&msg, "nginx %s failed (%s)", what, error_msg(why));
	while (p < end && lines < MESSAGE_LINES && msg.len < MESSAGE_CHARS) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t len;

		while (eol > p && (eol[-1] == '\r' || eol[-1] == ' ' || eol[-1] == '\t'))
			eol--;
		len = (size_t)(eol - p);
		if (len) {
			buf_puts(&msg, lines ? " | " : ": ");
			if (len > MESSAGE_CHARS)
				len = MESSAGE_CHARS;
			buf_add_printable(&msg, p, len);
			lines++;
		}
		p = nl ? nl + 1 : end;
	}
	while (p < end && (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t'))
		p++;
	if (p < end && lines)
		buf_puts(&msg, " ...");
	error_set(err, "%s", buf_cstr(&msg));
	buf_release(&msg);
	return -1;
}

/* --- files --------------------------------------------------------------- */

struct touched {
	const char *pool;
	struct buf path;       /* include_dir/POOL.conf */
	int existed;	       /* POOL.conf was there before */
	mode_t mode;	       /* its permissions then */
	struct buf old, fresh; /* its content before and wanted */
	int remove;	       /* wanted: no file */
};

static void join(struct buf *out, const char *dir, const char *name)
{
	size_t n = strlen(dir);

	buf_puts(out, dir);
	if (n == 0 || dir[n - 1] != '/')
		buf_putc(out, '/');
	buf_puts(out, name);
}

/* Reads POOL.conf into t->old; 0 with existed = 0 when there is none. */
static int read_old(struct touched *t, struct error *err)
{
	struct stat st;
	char chunk[8192];
	int fd = open(t->path.ptr, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			return error_set(
				err,
				"%s is a symbolic link, not a pool file raptor wrote; refusing to replace it",
				t->path.ptr);
		return error_set(err, "reading %s: %s", t->path.ptr, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return error_set(err, "%s is not a regular file; refusing to replace it",
				 t->path.ptr);
	}
	t->existed = 1;
	t->mode = st.st_mode & 07777;
	buf_init(&t->old, POOL_FILE_CAP);
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			error_set(err, "reading %s: %s", t->path.ptr, strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		if (buf_add(&t->old, chunk, (size_t)r) < 0) {
			close(fd);
			return error_set(err, "%s is bigger than %zu MiB; refusing to replace it",
					 t->path.ptr, POOL_FILE_CAP >> 20);
		}
	}
	close(fd);
	return 0;
}

static int put_new(struct touched *t, struct error *err)
{
	if (t->remove) {
		if (unlink(t->path.ptr) < 0 && errno != ENOENT)
			return error_set(err, "removing %s: %s", t->path.ptr, strerror(errno));
		return 0;
	}
	return file_write_atomic(t->path.ptr, buf_cstr(&t->fresh), t->fresh.len, 0644, err);
}

/* Puts the first k touched files back as they were, last first; problems
 * are appended to `err`'s message. */
static void restore(const char *dir, struct touched *t, size_t k, struct error *err)
{
	struct error e = ERROR_INIT;
	int bad = 0;

	for (size_t i = k; i-- > 0;) {
		int rc;

		if (t[i].existed) {
			rc = file_write_atomic(t[i].path.ptr, buf_cstr(&t[i].old), t[i].old.len,
					       t[i].mode, &e);
		} else {
			rc = unlink(t[i].path.ptr) < 0 && errno != ENOENT
				     ? error_set(&e, "removing %s: %s", t[i].path.ptr,
						 strerror(errno))
				     : 0;
		}
		if (rc < 0) {
			buf_printf(&err->msg, "; restoring %s failed: %s", t[i].path.ptr,
				   error_msg(&e));
			bad = 1;
		}
	}
	file_sync_dir(dir);
	if (bad)
		buf_puts(&err->msg, "; the pool files are in a mixed state");
	error_release(&e);
}

static int check_dir(const struct balancer *b, struct error *err)
{
	struct stat st;

	if (!b->include_dir || !*b->include_dir)
		return error_set(err, "balancer %s has no include_dir", b->name ? b->name : "?");
	if (stat(b->include_dir, &st) < 0) {
		if (errno == ENOENT)
			return error_set(
				err,
				"balancer %s: include_dir %s does not exist; create it and include %s/*.conf in nginx's http block",
				b->name ? b->name : "?", b->include_dir, b->include_dir);
		return error_set(err, "balancer %s: include_dir %s: %s", b->name ? b->name : "?",
				 b->include_dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return error_set(err, "balancer %s: include_dir %s is not a directory",
				 b->name ? b->name : "?", b->include_dir);
	return 0;
}

/* Removes the temporary files (.POOL.conf.XXXXXX, fileio.c) a raptor killed
 * while writing a pool left in include_dir: nginx never reads them, but
 * nothing else would ever remove them. The caller holds the state lock, so no
 * other write of ours is under way. */
static void sweep_temporaries(const struct balancer *b)
{
	DIR *d = opendir(b->include_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name, *conf = strstr(name, ".conf.");

		if (name[0] == '.' && conf && conf > name + 1 && strlen(conf + 6) == 6 &&
		    !strchr(conf + 6, '.'))
			unlinkat(dirfd(d), name, 0);
	}
	closedir(d);
}

int balancer_apply(const struct balancer *b, const struct pool_update *updates, size_t n,
		   const char *const *env_drop, int *changed, struct error *err)
{
	struct touched *t;
	size_t k = 0, done = 0;
	struct error why = ERROR_INIT;
	struct buf output = BUF_INIT;
	int rc = -1;

	if (changed)
		*changed = 0;
	if (b->type != BALANCER_NGINX)
		return error_set(err, "balancer %s: unknown type", b->name ? b->name : "?");
	if (b->test.n == 0 || b->reload.n == 0)
		return error_set(err, "balancer %s has no test or reload command",
				 b->name ? b->name : "?");
	if (n == 0)
		return 0;
	sweep_temporaries(b);
	t = xcalloc(n, sizeof(*t));
	/* everything checked and rendered before anything is written */
	for (size_t i = 0; i < n; i++) {
		struct touched *c = &t[k];

		for (size_t j = 0; j < i; j++) {
			if (updates[i].pool && updates[j].pool &&
			    strcmp(updates[i].pool, updates[j].pool) == 0) {
				error_set(err, "pool %s is given twice", updates[i].pool);
				goto out;
			}
		}
		if (balancer_render_pool(&c->fresh, updates[i].pool, updates[i].nodes, updates[i].n,
					 err) < 0)
			goto out;
		c->pool = updates[i].pool;
		c->remove = updates[i].n == 0;
		k++;
	}
	if (check_dir(b, err) < 0)
		goto out;
	for (size_t i = 0; i < k; i++) {
		join(&t[i].path, b->include_dir, t[i].pool);
		buf_puts(&t[i].path, ".conf");
		if (read_old(&t[i], err) < 0)
			goto out;
	}
	/* keep only what changes, in the order given */
	{
		size_t m = 0;

		for (size_t i = 0; i < k; i++) {
			int same = t[i].remove ? !t[i].existed
					       : t[i].existed && t[i].old.len == t[i].fresh.len &&
							 memcmp(buf_cstr(&t[i].old),
								buf_cstr(&t[i].fresh),
								t[i].fresh.len) == 0;

			if (same) {
				buf_release(&t[i].path);
				buf_release(&t[i].old);
				buf_release(&t[i].fresh);
				continue;
			}
			if (m != i) {
				t[m] = t[i];
				memset(&t[i], 0, sizeof(t[i]));
			}
			m++;
		}
		k = m;
	}
	if (k == 0) {
		rc = 0;
		goto out;
	}
	for (done = 0; done < k; done++) {
		if (put_new(&t[done], err) < 0) {
			restore(b->include_dir, t, done, err);
			goto out;
		}
	}
	file_sync_dir(b->include_dir);

	if (balancer_run_command(&b->test, env_drop, BALANCER_COMMAND_TIMEOUT_MS, &output, &why) <
	    0) {
		command_failed(err, "test", &why, &output);
		restore(b->include_dir, t, k, err);
		goto out;
	}
	buf_reset(&output);
	if (balancer_run_command(&b->reload, env_drop, BALANCER_COMMAND_TIMEOUT_MS, &output, &why) <
	    0) {
		struct buf again = BUF_INIT;
		struct error why2 = ERROR_INIT;

		command_failed(err, "reload", &why, &output);
		restore(b->include_dir, t, k, err);
		if (balancer_run_command(&b->reload, env_drop, BALANCER_COMMAND_TIMEOUT_MS, &again,
					 &why2) < 0) {
			struct error tmp = ERROR_INIT;

			command_failed(&tmp, "reload", &why2, &again);
			buf_printf(
				&err->msg,
				"; the old pool files were restored, but reloading them failed too: %s",
				error_msg(&tmp));
			error_release(&tmp);
		} else {
			buf_puts(&err->msg, "; the old pool files were restored and reloaded");
		}
		buf_release(&again);
		error_release(&why2);
		goto out;
	}
	if (changed)
		*changed = 1;
	rc = 0;
out:
	for (size_t i = 0; i < n; i++) {
		buf_release(&t[i].path);
		buf_release(&t[i].old);
		buf_release(&t[i].fresh);
	}
	free(t);
	buf_release(&output);
	error_release(&why);
	return rc;
}

/* --- listing ------------------------------------------------------------- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int balancer_list_pools(const struct balancer *b, char ***names, size_t *n, struct error *err)
{
	VEC(char *) v = {0};
	struct dirent *de;
	DIR *d;

	*names = NULL;
	*n = 0;
	if (check_dir(b, err) < 0)
		return -1;
	d = opendir(b->include_dir);
	if (!d)
		return error_set(err, "balancer %s: reading %s: %s", b->name ? b->name : "?",
				 b->include_dir, strerror(errno));
	while ((errno = 0, de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct stat st;
		char *stem;

		if (len <= 5 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		stem = xstrndup(de->d_name, len - 5);
		if (!balancer_valid_pool(stem)) {
			free(stem);
			continue;
		}
		vec_push(&v, stem);
	}
	if (errno) {
		int e = errno;

		closedir(d);
		balancer_free_list(v.v, v.n);
		return error_set(err, "balancer %s: reading %s: %s", b->name ? b->name : "?",
				 b->include_dir, strerror(e));
	}
	closedir(d);
	if (v.n > 1)
		qsort(v.v, v.n, sizeof(*v.v), str_cmp);
	*names = v.v;
	*n = v.n;
	return 0;
}

void balancer_free_list(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int balancer_pool_nodes(const struct balancer *b, const char *pool, char ***nodes, size_t *n,
			struct error *err)
{
	struct touched t = {.pool = pool};
	VEC(char *) v = {0};
	const char *p;
	int rc = -1;

	*nodes = NULL;
	*n = 0;
	join(&t.path, b->include_dir, pool);
	buf_puts(&t.path, ".conf");
	if (read_old(&t, err) < 0)
		goto cleanup;
	/* the lines raptor writes: "server NODE;" inside the upstream block;
	 * anything else in a hand-edited file is not a node */
	for (p = t.old.ptr ? t.old.ptr : ""; *p;) {
		const char *end = strchr(p, '\n'), *s = p, *stop;

		if (!end)
			end = p + strlen(p);
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		if (end - s > 7 && !strncmp(s, "server", 6) && (s[6] == ' ' || s[6] == '\t')) {
			s += 7;
			while (s < end && (*s == ' ' || *s == '\t'))
				s++;
			for (stop = s; stop < end && *stop != ';' && *stop != ' ' && *stop != '\t';
			     stop++)
				;
			if (stop > s)
				vec_push(&v, xstrndup(s, (size_t)(stop - s)));
		}
		p = *end ? end + 1 : end;
	}
	if (v.n > 1)
		qsort(v.v, v.n, sizeof(*v.v), str_cmp);
	*nodes = v.v;
	*n = v.n;
	rc = 0;
cleanup:
	if (rc < 0)
		balancer_free_list(v.v, v.n);
	buf_release(&t.path);
	buf_release(&t.old);
	return rc;
}

/* The state directory: host record, atomic files, lock, journal; see state.h. */
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fileio.h"
#include "xalloc.h"
#include "banned.h"

#define STATE_MAX_FILE ((size_t)16 << 20)
/* More than a holder line ever needs; the rest of a bigger lock file is not read. */
#define STATE_MAX_LOCK_LINE 4096

/* Loads DIR/NAME (its path left in `path`) into *root: 0 and NULL when there
 * is no such file or directory (nothing recorded yet), -1 with an error
 * naming the file when it cannot be read or is not JSON. */
static int record_load(json_t **root, struct buf *path, const char *dir, const char *name,
		       struct error *err)
{
	json_error_t jerr;
	struct stat st;

	*root = NULL;
	buf_printf(path, "%s/%s", dir, name);
	if (stat(path->ptr, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return error_set(err, "%s: %s", path->ptr, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return error_set(err, "%s: not a file; is it a state record?", path->ptr);
	if ((size_t)st.st_size > STATE_MAX_FILE)
		return error_set(err, "%s: larger than 16 MiB; is it a state record?", path->ptr);
	*root = json_load_file(path->ptr, JSON_REJECT_DUPLICATES, &jerr);
	/* a position only where the text is at fault, not the file */
	if (!*root && jerr.line < 1)
		return error_set(err, "%s: %s", path->ptr, jerr.text);
	if (!*root)
		return error_set(err, "%s:%d:%d: %s", path->ptr, jerr.line, jerr.column, jerr.text);
	return 0;
}

int state_hosts_read(state_hosts *out, struct arena *mem, const char *dir, struct error *err)
{
	struct buf path = BUF_INIT;
	json_t *root = NULL, *hosts;
	size_t i;
	json_t *h;
	int rc = -1;

	if (record_load(&root, &path, dir, "hosts.json", err) < 0)
		goto cleanup;
	if (!root) {
		rc = 0;
		goto cleanup;
	}
	hosts = json_object_get(root, "hosts");
	if (json_integer_value(json_object_get(root, "format_version")) != 1 ||
	    !json_is_array(hosts)) {
		error_set(err, "%s: not a raptor host record of format_version 1", path.ptr);
		goto cleanup;
	}
	json_array_foreach(hosts, i, h)
	{
		const char *name = json_string_value(json_object_get(h, "name"));
		const char *url = json_string_value(json_object_get(h, "url"));
		const char *address = json_string_value(json_object_get(h, "address"));
		struct state_host *sh;

		if (!name || !url) {
			error_set(err, "%s: host #%zu lacks a name or url", path.ptr, i + 1);
			goto cleanup;
		}
		sh = vec_add(out);
		sh->name = arena_strdup(mem, name);
		sh->url = arena_strdup(mem, url);
		sh->address = arena_strdup(mem, address ? address : name);
	}
	rc = 0;
cleanup:
	json_decref(root);
	buf_release(&path);
	return rc;
}

/* Appends the current UTC time in ISO 8601, with milliseconds if asked. */
static void iso8601_now(struct buf *b, int with_ms)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		   tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (with_ms)
		buf_printf(b, ".%03ld", ts.tv_nsec / 1000000);
	buf_putc(b, 'Z');
}

/* write(2) until all is written: a regular file may take a write in parts,
 * and a full disk shows as a short write first and ENOSPC after. */
int state_write_atomic(const char *path, const void *data, size_t len, struct error *err)
{
	return file_write_atomic(path, data, len, 0640, err);
}

/* Splits s in place at spaces into at most `max` words; returns how many
 * there are (max + 1 means "more than max"). */
static size_t split_words(char *s, char **w, size_t max)
{
	size_t n = 0;

	while (*s) {
		while (*s == ' ')
			*s++ = '\0';
		if (!*s)
			break;
		if (n == max)
			return max + 1;
		w[n++] = s;
		while (*s && *s != ' ')
			s++;
	}
	return n;
}

/* The "is held" message, with who holds it as its lock file tells. The
 * holder writes that line just after taking the lock, so it may be missing. */
static int lock_held_error(int fd, const char *path, struct error *err)
{
	struct buf raw = BUF_INIT, line = BUF_INIT;
	char *w[6];
	ssize_t n = 0;
	size_t nw, end;

	buf_init(&raw, STATE_MAX_LOCK_LINE);
	while (buf_reserve(&raw, 512) == 0 &&
	       (n = pread(fd, raw.ptr + raw.len, 512, (off_t)raw.len)) > 0) {
		raw.len += (size_t)n;
		raw.ptr[raw.len] = '\0';
	}
	for (end = 0; end < raw.len && raw.ptr[end] != '\n'; end++)
		;
	/* the file is anyone's to write: no control characters into a terminal */
	buf_add_printable(&line, raw.ptr ? raw.ptr : "", end);
	if (!line.len) {
		error_set(err,
			  "another raptor apply holds the state lock %s (it has not yet written "
			  "who it is); wait for it to finish",
			  path);
		goto cleanup;
	}
	error_set(err, "another raptor apply holds the state lock %s: %s; wait for it to finish",
		  path, line.ptr);
	nw = split_words(line.ptr, w, 6);
	if (nw == 6 && !strcmp(w[0], "pid") && !strcmp(w[2], "host") && !strcmp(w[4], "started"))
		error_set(err,
			  "another raptor apply holds the state lock %s: pid %s on host %s since "
			  "%s; wait for it to finish",
			  path, w[1], w[3], w[5]);
cleanup:
	buf_release(&raw);
	buf_release(&line);
	return -1;
}

/* Removes the temporary files (.NAME.XXXXXX, fileio.c) of the records that a
 * raptor killed while writing one left behind: nothing reads them, and
 * nothing else would ever remove them. Only the lock's holder writes the
 * records, so none of them is being written now. */
static void sweep_temporaries(const char *dir)
{
	static const char *const records[] = {"hosts.json", "last.json", "unchecked.json"};
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;

		for (size_t i = 0; name[0] == '.' && i < sizeof(records) / sizeof(records[0]);
		     i++) {
			size_t n = strlen(records[i]);

			if (!strncmp(name + 1, records[i], n) && name[n + 1] == '.' &&
			    strlen(name + n + 2) == 6 && !strchr(name + n + 2, '.'))
				unlinkat(dirfd(d), name, 0);
		}
	}
	closedir(d);
}

int state_lock(struct state_lock *out, const char *dir, struct error *err)
{
	struct buf path = BUF_INIT, line = BUF_INIT;
	struct utsname u;
	int fd = -1, rc = -1;

	out->fd = -1;
	out->path = NULL;
	if (file_mkdirs(dir, "the state directory", err) < 0)
		goto cleanup;
	buf_printf(&path, "%s/lock", dir);
	fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		error_set(err, "cannot open the state lock %s: %s", path.ptr, strerror(errno));
		goto cleanup;
	}
	/* flock, not fcntl locks: those are per process, so a second lock in
	 * this process would succeed, and closing any descriptor of the file
	 * would drop them. LOCK_NB: a second apply fails at once. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			lock_held_error(fd, path.ptr, err);
		else
			error_set(err, "cannot lock %s: %s", path.ptr, strerror(errno));
		goto cleanup;
	}
	buf_printf(&line, "pid %ld host %s started ", (long)getpid(),
		   uname(&u) == 0 && u.nodename[0] ? u.nodename : "unknown");
	iso8601_now(&line, 0);
	buf_putc(&line, '\n');
	if (ftruncate(fd, 0) < 0 || file_write_all(fd, line.ptr, line.len) < 0) {
		error_set(err, "cannot write the state lock %s: %s", path.ptr, strerror(errno));
		goto cleanup;
	}
	sweep_temporaries(dir);
	out->fd = fd;
	out->path = buf_detach(&path);
	fd = -1;
	rc = 0;
cleanup:
	if (fd >= 0)
		close(fd); /* drops the lock too, if taken */
	buf_release(&path);
	buf_release(&line);
	return rc;
}

void state_unlock(struct state_lock *l)
{
	if (!l->path)
		return;
	flock(l->fd, LOCK_UN);
	close(l->fd);
	free(l->path);
	l->fd = -1;
	l->path = NULL;
}

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 for none;
 * the rules jansson applies: no overlong forms, surrogates or > U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string for s, null for NULL. jansson refuses text that is not
 * UTF-8; a host's error message may be anything, and the journal must keep
 * it, so bad bytes become U+FFFD. */
static json_t *json_text(const char *s)
{
	struct buf b = BUF_INIT;
	size_t n;
	json_t *j;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	n = strlen(s);
	for (size_t i = 0, k; i < n; i += k ? k : 1) {
		k = utf8_len((const unsigned char *)s + i, n - i);
		if (k)
			buf_add(&b, s + i, k);
		else
			buf_puts(&b, "\xef\xbf\xbd");
	}
	j = json_string(buf_cstr(&b));
	buf_release(&b);
	return j;
}

/* Seconds to the millisecond, so the journal says 0.25 and not
 * 0.25000000000000006; null for NaN or infinity, which JSON cannot say. */
static json_t *json_seconds(double s)
{
	if (!isfinite(s))
		return json_null();
	if (s >= 0 && s < 1e12)
		s = (double)(long long)(s * 1000 + 0.5) / 1000;
	return json_real(s);
}

int state_journal(const char *dir, const struct journal_entry *e, struct error *err)
{
	struct buf path = BUF_INIT, now = BUF_INIT, line = BUF_INIT;
	json_t *o = json_object();
	char *text = NULL, last;
	struct stat st;
	ssize_t n;
	int fd = -1, rc = -1;

	buf_printf(&path, "%s/journal.jsonl", dir);
	iso8601_now(&now, 1);
	json_object_set_new(o, "time", json_text(now.ptr));
	json_object_set_new(o, "op", json_text(e->op));
	json_object_set_new(o, "host", json_text(e->host));
	json_object_set_new(o, "program", json_text(e->program));
	json_object_set_new(o, "swarm", json_text(e->swarm));
	json_object_set_new(o, "pool", json_text(e->pool));
	json_object_set_new(o, "result", json_text(e->result));
	json_object_set_new(o, "error", json_text(e->error));
	if (e->detail)
		json_object_set_new(o, "detail", json_text(e->detail));
	json_object_set_new(o, "commit", json_text(e->commit));
	json_object_set_new(o, "seconds", json_seconds(e->seconds));
	text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	if (!text) {
		error_set(err, "cannot append to the journal %s: cannot encode the entry",
			  path.ptr);
		goto cleanup;
	}

	fd = open(path.ptr, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		error_set(err, "cannot open the journal %s: %s", path.ptr, strerror(errno));
		goto cleanup;
	}
	/* A last line torn by a full disk or a power cut must not swallow this
	 * one: start on a line of its own. */
	if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 &&
	    last != '\n')
		buf_putc(&line, '\n');
	buf_puts(&line, text);
	buf_putc(&line, '\n');
	/* one write(2) with O_APPEND: the line lands whole at the end */
	n = write(fd, line.ptr, line.len);
	if (n < 0) {
		error_set(err, "cannot append to the journal %s: %s", path.ptr, strerror(errno));
		goto cleanup;
	}
	if ((size_t)n != line.len) {
		error_set(err,
			  "cannot append to the journal %s: only %zd of %zu bytes written; is the "
			  "disk full?",
			  path.ptr, n, line.len);
		goto cleanup;
	}
	if (fsync(fd) < 0) {
		error_set(err, "cannot append to the journal %s: %s", path.ptr, strerror(errno));
		goto cleanup;
	}
	rc = close(fd);
	fd = -1;
	if (rc < 0) {
		rc = -1;
		error_set(err, "cannot append to the journal %s: %s", path.ptr, strerror(errno));
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	free(text);
	json_decref(o);
	buf_release(&path);
	buf_release(&now);
	buf_release(&line);
	return rc;
}

/* Writes `root` as indented JSON to DIR/NAME, atomically. */
static int write_json(const char *dir, const char *name, json_t *root, struct error *err)
{
	struct buf path = BUF_INIT, doc = BUF_INIT;
	char *text = NULL;
	int rc = -1;

	buf_printf(&path, "%s/%s", dir, name);
	text = json_dumps(root, JSON_INDENT(2));
	if (!text) {
		error_set(err, "cannot write %s: cannot encode it", path.ptr);
		goto cleanup;
	}
	buf_puts(&doc, text);
	buf_putc(&doc, '\n');
	rc = state_write_atomic(path.ptr, doc.ptr, doc.len, err);
cleanup:
	free(text);
	buf_release(&path);
	buf_release(&doc);
	return rc;
}

struct host_at {
	const struct state_host *h;
	size_t i; /* where it was given: the tie-break that makes the sort stable */
};

static int host_at_cmp(const void *a, const void *b)
{
	const struct host_at *x = a, *y = b;
	int c = strcmp(x->h->name, y->h->name);

	if (c)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

int state_hosts_write(const char *dir, const struct state_host *hosts, size_t n, struct error *err)
{
	struct host_at *order = xmalloc(st_mult(n, sizeof(*order)));
	json_t *root = json_object(), *arr = json_array();
	int rc = -1;

	json_object_set_new(root, "format_version", json_integer(1));
	json_object_set(root, "hosts", arr);
	for (size_t i = 0; i < n; i++) {
		if (!hosts[i].name || !hosts[i].url) {
			error_set(err, "cannot record host #%zu in %s/hosts.json: it has no %s",
				  i + 1, dir, hosts[i].name ? "url" : "name");
			goto cleanup;
		}
		order[i] = (struct host_at){&hosts[i], i};
	}
	if (n)
		qsort(order, n, sizeof(*order), host_at_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct state_host *h = order[i].h;
		json_t *name, *address, *url;

		if (i && !strcmp(order[i - 1].h->name, h->name))
			continue;
		/* names and URLs are identities: refuse, rather than mend, bad text */
		name = json_string(h->name);
		address = json_string(h->address ? h->address : h->name);
		url = json_string(h->url);
		if (!name || !address || !url) {
			json_decref(name);
			json_decref(address);
			json_decref(url);
			error_set(err,
				  "cannot record host #%zu in %s/hosts.json: its name, address or "
				  "url is not UTF-8",
				  order[i].i + 1, dir);
			goto cleanup;
		}
		json_array_append_new(arr, json_pack("{s:o,s:o,s:o}", "name", name, "address",
						     address, "url", url));
	}
	rc = write_json(dir, "hosts.json", root, err);
cleanup:
	free(order);
	json_decref(arr);
	json_decref(root);
	return rc;
}

int state_last_write(const char *dir, const char *commit, const char *outcome, size_t started,
		     size_t stopped, size_t failed, struct error *err)
{
	struct buf now = BUF_INIT;
	json_t *root;
	int rc;

	iso8601_now(&now, 0);
	root = json_pack("{s:i,s:o,s:o,s:s,s:{s:I,s:I,s:I}}", "format_version", 1, "commit",
			 json_text(commit), "outcome", json_text(outcome), "time", now.ptr,
			 "summary", "started", (json_int_t)started, "stopped", (json_int_t)stopped,
			 "failed", (json_int_t)failed);
	rc = write_json(dir, "last.json", root, err);
	json_decref(root);
	buf_release(&now);
	return rc;
}

int state_last_converged(char **commit, const char *dir)
{
	struct buf path = BUF_INIT;
	json_t *root;
	const char *c, *outcome;

	*commit = NULL;
	buf_printf(&path, "%s/last.json", dir);
	/* small by construction; a missing or foreign file just means "none" */
	root = json_load_file(path.ptr, JSON_REJECT_DUPLICATES, NULL);
	c = json_string_value(json_object_get(root, "commit"));
	outcome = json_string_value(json_object_get(root, "outcome"));
	if (c && outcome && !strcmp(outcome, "converged"))
		*commit = xstrdup(c);
	json_decref(root);
	buf_release(&path);
	return *commit ? 0 : -1;
}

int state_unchecked_read(state_instances *out, struct arena *mem, const char *dir,
			 struct error *err)
{
	struct buf path = BUF_INIT;
	json_t *root = NULL, *list, *o;
	size_t i, first = out->n;
	int rc = -1;

	if (record_load(&root, &path, dir, "unchecked.json", err) < 0)
		goto cleanup;
	if (!root) {
		rc = 0;
		goto cleanup;
	}
	list = json_object_get(root, "instances");
	if (json_integer_value(json_object_get(root, "format_version")) != 1 ||
	    !json_is_array(list)) {
		error_set(err, "%s: not a raptor record of unchecked instances of format_version 1",
			  path.ptr);
		goto cleanup;
	}
	json_array_foreach(list, i, o)
	{
		const char *host = json_string_value(json_object_get(o, "host"));
		const char *program = json_string_value(json_object_get(o, "program"));
		struct state_instance *si;

		if (!host || !*host || !program || !*program) {
			error_set(err, "%s: instance #%zu lacks a host or program", path.ptr,
				  i + 1);
			goto cleanup;
		}
		si = vec_add(out);
		si->host = arena_strdup(mem, host);
		si->program = arena_strdup(mem, program);
	}
	rc = 0;
cleanup:
	/* a record read in part is no record: the caller gets all or nothing */
	if (rc < 0)
		out->n = first;
	json_decref(root);
	buf_release(&path);
	return rc;
}

static int instance_cmp(const void *a, const void *b)
{
	const struct state_instance *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	return c ? c : strcmp(x->program, y->program);
}

int state_unchecked_write(const char *dir, const struct state_instance *v, size_t n,
			  struct error *err)
{
	struct state_instance *order = xmalloc(st_mult(n ? n : 1, sizeof(*order)));
	json_t *root = json_object(), *arr = json_array();
	int rc = -1;

	json_object_set_new(root, "format_version", json_integer(1));
	json_object_set(root, "instances", arr);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].host || !v[i].program) {
			error_set(err,
				  "cannot record instance #%zu in %s/unchecked.json: it has no %s",
				  i + 1, dir, v[i].host ? "program" : "host");
			goto cleanup;
		}
		order[i] = v[i];
	}
	/* sorted, each once: the same set is the same file */
	if (n)
		qsort(order, n, sizeof(*order), instance_cmp);
	for (size_t i = 0; i < n; i++) {
		json_t *host, *program;

		if (i && !instance_cmp(&order[i - 1], &order[i]))
			continue;
		host = json_string(order[i].host);
		program = json_string(order[i].program);
		if (!host || !program) {
			json_decref(host);
			json_decref(program);
			error_set(err,
				  "cannot record an instance in %s/unchecked.json: its host or "
				  "program name is not UTF-8",
				  dir);
			goto cleanup;
		}
		json_array_append_new(arr,
				      json_pack("{s:o,s:o}", "host", host, "program", program));
	}
	rc = write_json(dir, "unchecked.json", root, err);
cleanup:
	free(order);
	json_decref(arr);
	json_decref(root);
	return rc;
}

/*
 * nginx pools as files (balancer.h): exact contents, atomic writes, nothing
 * touched when nothing changes, restore on a failed test or reload, input
 * checked before anything is written, listing, and the command runner.
 * `test` and `reload` are small real commands (/bin/true, /bin/sh -c ...);
 * when nginx is installed one test runs the real `nginx -t` over the files.
 */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "balancer.h"
#include "xalloc.h"

/* --- helpers ------------------------------------------------------------- */

struct fixture {
	char dir[64];	   /* the scratch directory */
	struct buf inc;	   /* dir/raptor.d: the include_dir */
	struct buf marker; /* dir/marker: created by a command that should not run */
	struct balancer b;
	char *test[16], *reload[16];
};

static void set_argv(char **slot, struct strv *sv, const char *const *words)
{
	size_t n = 0;

	for (size_t i = 0; slot[i]; i++)
		free(slot[i]), slot[i] = NULL;
	for (; words[n]; n++) {
		assert_true(n < 15);
		slot[n] = xstrdup(words[n]);
	}
	sv->v = slot;
	sv->n = n;
}

#define SET_TEST(f, ...) set_argv((f)->test, &(f)->b.test, (const char *const[]){__VA_ARGS__, NULL})
#define SET_RELOAD(f, ...)                                                                         \
	set_argv((f)->reload, &(f)->b.reload, (const char *const[]){__VA_ARGS__, NULL})

/* a shell command with every "@" replaced by the scratch directory */
static char *sh(const struct fixture *f, const char *script)
{
	struct buf b = BUF_INIT;

	for (const char *p = script; *p; p++) {
		if (*p == '@')
			buf_puts(&b, f->dir);
		else
			buf_putc(&b, *p);
	}
	return buf_detach(&b);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/raptor-balancer.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	buf_printf(&f->inc, "%s/raptor.d", f->dir);
	buf_printf(&f->marker, "%s/marker", f->dir);
	assert_int_equal(mkdir(f->inc.ptr, 0755), 0);
	f->b.name = "edge";
	f->b.type = BALANCER_NGINX;
	f->b.include_dir = f->inc.ptr;
	f->b.drain_ms = 0;
	SET_TEST(f, "/bin/true");
	SET_RELOAD(f, "/bin/true");
	*state = f;
	return 0;
}

static void remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	while (d && (de = readdir(d)) != NULL) {
		char sub[512];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		remove_tree(sub);
	}
	if (d)
		closedir(d);
	rmdir(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	remove_tree(f->dir);
	for (size_t i = 0; i < ARRAY_SIZE(f->test); i++) {
		free(f->test[i]);
		free(f->reload[i]);
	}
	buf_release(&f->inc);
	buf_release(&f->marker);
	free(f);
	return 0;
}

static char *path_in(const struct fixture *f, const char *name)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s/%s", f->inc.ptr, name);
	return buf_detach(&b);
}

/* the file's content, or NULL when there is none */
static char *slurp(const char *path)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	while ((r = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)r);
	close(fd);
	return buf_detach(&b);
}

static char *pool_file(const struct fixture *f, const char *pool)
{
	char name[256], *p, *s;

	snprintf(name, sizeof(name), "%s.conf", pool);
	p = path_in(f, name);
	s = slurp(p);
	free(p);
	return s;
}

static void put_file(const struct fixture *f, const char *name, const char *content, mode_t mode)
{
	char *p = path_in(f, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	free(p);
}

static void assert_pool(const struct fixture *f, const char *pool, const char *want)
{
	char *got = pool_file(f, pool);

	if (!want) {
		if (got)
			fail_msg("%s.conf should not exist; it holds:\n%s", pool, got);
		return;
	}
	if (!got)
		fail_msg("%s.conf does not exist", pool);
	assert_string_equal(got, want);
	free(got);
}

/* the names in include_dir, sorted, joined by spaces */
static char *dir_listing(const struct fixture *f)
{
	struct buf b = BUF_INIT;
	struct dirent **list;
	int n = scandir(f->inc.ptr, &list, NULL, alphasort);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..")) {
			if (b.len)
				buf_putc(&b, ' ');
			buf_puts(&b, list[i]->d_name);
		}
		free(list[i]);
	}
	free(list);
	return buf_detach(&b);
}

static void assert_listing(const struct fixture *f, const char *want)
{
	char *got = dir_listing(f);

	assert_string_equal(got, want);
	free(got);
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* test and reload that leave a marker if they ever run */
static void marking_commands(struct fixture *f)
{
	char *t = sh(f, "touch @/marker");

	SET_TEST(f, "/bin/sh", "-c", t);
	SET_RELOAD(f, "/bin/sh", "-c", t);
	free(t);
}

static const char *const web_nodes[] = {"10.0.0.2:5001", "10.0.0.10:5000", "10.0.0.2:999",
					"web1.example.com:80"};
static const char WEB_FILE[] = "upstream web {\n"
			       "    server 10.0.0.10:5000;\n"
			       "    server 10.0.0.2:999;\n"
			       "    server 10.0.0.2:5001;\n"
			       "    server web1.example.com:80;\n"
			       "}\n";

/* --- rendering ----------------------------------------------------------- */

static void test_render(void **state)
{
	static const char *const v6[] = {"[2001:db8::1]:443", "::1:8080", "127.0.0.1:80",
					 "[::1]:8080", "[::ffff:10.0.0.1]:1"};
	struct buf out = BUF_INIT;
	struct error err = ERROR_INIT;

	(void)state;
	assert_int_equal(balancer_render_pool(&out, "web", web_nodes, 4, &err), 0);
	assert_string_equal(out.ptr, WEB_FILE);
	buf_reset(&out);
	/* IPv6 in brackets, bare or bracketed on input; the duplicate goes */
	assert_int_equal(balancer_render_pool(&out, "v6.pool_1", v6, ARRAY_SIZE(v6), &err), 0);
	assert_string_equal(out.ptr, "upstream v6.pool_1 {\n"
				     "    server 127.0.0.1:80;\n"
				     "    server [2001:db8::1]:443;\n"
				     "    server [::1]:8080;\n"
				     "    server [::ffff:10.0.0.1]:1;\n"
				     "}\n");
	buf_reset(&out);
	assert_int_equal(balancer_render_pool(&out, "empty", NULL, 0, &err), 0);
	assert_string_equal(buf_cstr(&out), "");
	buf_release(&out);
	error_release(&err);
}

static void test_bad_names_and_nodes(void **state)
{
	static const char *const bad_pools[] = {"",    "a-b",  "a/b",  "../x",
						"a b", "a;b}", "über", "x\n"};
	static const char *const bad_nodes[] = {
		"10.0.0.1",
		"10.0.0.1:",
		"10.0.0.1:0",
		"10.0.0.1:65536",
		"10.0.0.1:080",
		"10.0.0.1:8o",
		":80",
		"-host:80",
		"a b:80",
		"host;x:80",
		"[::1]80",
		"[zz::1]:80",
		"[::1]:",
		"[]:80",
		"1:2:3:4:5:6:7:8:9:10:80",
		"host:80;",
		"10.0.0.1:123456",
		"host}:80",
		"[::1]:80 ",
	};
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	const char *good[] = {"10.0.0.1:80"};
	int changed = 7;

	marking_commands(f);
	for (size_t i = 0; i < ARRAY_SIZE(bad_pools); i++) {
		/* a good pool first: still nothing may be written */
		struct pool_update u[] = {{"fine", good, 1}, {bad_pools[i], good, 1}};

		if (balancer_apply(&f->b, u, 2, NULL, &changed, &err) != -1)
			fail_msg("pool name '%s' was accepted", bad_pools[i]);
		if (!strstr(error_msg(&err), "bad pool name"))
			fail_msg("pool name '%s': %s", bad_pools[i], error_msg(&err));
		assert_int_equal(changed, 0);
		assert_false(balancer_valid_pool(bad_pools[i]));
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_nodes); i++) {
		const char *nodes[] = {"10.0.0.1:80", bad_nodes[i]};
		struct pool_update u[] = {{"fine", good, 1}, {"web", nodes, 2}};

		if (balancer_apply(&f->b, u, 2, NULL, &changed, &err) != -1)
			fail_msg("node '%s' was accepted", bad_nodes[i]);
		if (!strstr(error_msg(&err), "pool web: bad node '"))
			fail_msg("node '%s': %s", bad_nodes[i], error_msg(&err));
	}
	{
		struct pool_update u[] = {{"web", good, 1}, {"other", good, 1}, {"web", NULL, 0}};

		assert_int_equal(balancer_apply(&f->b, u, 3, NULL, &changed, &err), -1);
		assert_string_equal(error_msg(&err), "pool web is given twice");
	}
	{
		struct pool_update u[] = {{NULL, good, 1}};

		assert_int_equal(balancer_apply(&f->b, u, 1, NULL, &changed, &err), -1);
	}
	assert_true(balancer_valid_pool("hello_prod.v2"));
	assert_listing(f, "");
	assert_false(exists(f->marker.ptr));
	error_release(&err);
}

/* --- apply --------------------------------------------------------------- */

static void test_apply_writes(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	const char *one[] = {"[::1]:7000"};
	struct pool_update u[] = {{"web", web_nodes, 4}, {"api", one, 1}};
	struct stat st;
	char *p;
	int changed = 0;

	assert_int_equal(balancer_apply(&f->b, u, 2, NULL, &changed, &err), 0);
	assert_int_equal(changed, 1);
	assert_pool(f, "web", WEB_FILE);
	assert_pool(f, "api", "upstream api {\n    server [::1]:7000;\n}\n");
	/* no temporary file left behind; new files are 0644 */
	assert_listing(f, "api.conf web.conf");
	p = path_in(f, "web.conf");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	free(p);
	/* changed may be NULL */
	u[1].n = 0;
	assert_int_equal(balancer_apply(&f->b, u, 2, NULL, NULL, &err), 0);
	assert_listing(f, "web.conf");
	error_release(&err);
}

static void test_unchanged_runs_nothing(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	const char *reordered[] = {"web1.example.com:80", "10.0.0.2:999", "10.0.0.10:5000",
				   "10.0.0.2:5001", "10.0.0.2:5001"};
	struct pool_update u[] = {{"web", web_nodes, 4}, {"gone", NULL, 0}};
	struct stat before, after;
	char *p = path_in(f, "web.conf");
	int changed = 7;

	assert_int_equal(balancer_apply(&f->b, u, 1, NULL, &changed, &err), 0);
	assert_int_equal(changed, 1);
	assert_int_equal(stat(p, &before), 0);
	marking_commands(f);
	/* the same nodes in another order (and a duplicate), and a pool that has no file */
	u[0].nodes = reordered;
	u[0].n = ARRAY_SIZE(reordered);
	assert_int_equal(balancer_apply(&f->b, u, 2, NULL, &changed, &err), 0);
	assert_int_equal(changed, 0);
	assert_false(exists(f->marker.ptr));
	assert_int_equal(stat(p, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino); /* not even rewritten */
	assert_pool(f, "web", WEB_FILE);
	/* nothing at all */
	assert_int_equal(balancer_apply(&f->b, NULL, 0, NULL, &changed, &err), 0);
	assert_int_equal(changed, 0);
	assert_false(exists(f->marker.ptr));
	/* and a change does run them */
	u[0].n = 1;
	assert_int_equal(balancer_apply(&f->b, u, 1, NULL, &changed, &err), 0);
	assert_int_equal(changed, 1);
	assert_true(exists(f->marker.ptr));
	free(p);
	error_release(&err);
}

static void test_empty_pool_removed(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct pool_update u[] = {{"web", NULL, 0}};
	int changed = 0;

	put_file(f, "web.conf", WEB_FILE, 0644);
	put_file(f, "other.conf", "upstream other {\n    server 10.0.0.1:1;\n}\n", 0644);
	assert_int_equal(balancer_apply(&f->b, u, 1, NULL, &changed, &err), 0);
	assert_int_equal(changed, 1);
	assert_listing(f, "other.conf");
	error_release(&err);
}

/* a.conf changes (hand-written content, mode 0640), b.conf is new, c.conf goes */
static const char A_OLD[] = "# hand-written\nupstream a {\n\tserver 10.9.9.9:1 weight=2;\n}";
static const char C_OLD[] = "upstream c {\n    server 10.0.0.3:3;\n}\n";

static void put_abc(struct fixture *f, struct pool_update *u)
{
	static const char *const a_nodes[] = {"10.0.0.1:1"};
	static const char *const b_nodes[] = {"10.0.0.2:2"};

	put_file(f, "a.conf", A_OLD, 0640);
	put_file(f, "c.conf", C_OLD, 0644);
	put_file(f, "same.conf", "upstream same {\n    server 10.0.0.4:4;\n}\n", 0644);
	u[0] = (struct pool_update){"a", a_nodes, 1};
	u[1] = (struct pool_update){"b", b_nodes, 1};
	u[2] = (struct pool_update){"c", NULL, 0};
}

static void assert_abc_restored(struct fixture *f)
{
	struct stat st;
	char *p = path_in(f, "a.conf");

	assert_pool(f, "a", A_OLD);
	assert_pool(f, "b", NULL);
	assert_pool(f, "c", C_OLD);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_listing(f, "a.conf c.conf same.conf");
	free(p);
}

static void test_failed_test_restores(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct pool_update u[3];
	char *t = sh(f, "cat @/raptor.d/a.conf > @/seen; echo broken >&2; echo '  second line'; "
			"echo; echo third; echo 4; echo 5; echo 6; exit 1");
	char *r = sh(f, "touch @/marker");
	char *seen;
	int changed = 7;

	put_abc(f, u);
	SET_TEST(f, "/bin/sh", "-c", t);
	SET_RELOAD(f, "/bin/sh", "-c", r);
	assert_int_equal(balancer_apply(&f->b, u, 3, NULL, &changed, &err), -1);
	assert_int_equal(changed, 0);
	assert_string_equal(error_msg(&err), "nginx test failed (exit 1): broken |   second line | "
					     "third | 4 | 5 ...");
	/* the test saw the new files; afterwards every one is as it was */
	seen = sh(f, "@/seen");
	{
		char *content = slurp(seen);

		assert_non_null(content);
		assert_string_equal(content, "upstream a {\n    server 10.0.0.1:1;\n}\n");
		free(content);
	}
	free(seen);
	assert_abc_restored(f);
	assert_false(exists(f->marker.ptr));
	free(t);
	free(r);
	error_release(&err);
}

static void test_failed_reload_restores(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct pool_update u[3];
	/* each reload logs the a.conf it sees; the first fails, the second works */
	char *r = sh(
		f,
		"cat @/raptor.d/a.conf >> @/reloads; echo == >> @/reloads; "
		"if [ -e @/flag ]; then exit 0; fi; touch @/flag; echo 'reload: no master' >&2; exit 3");
	char *log_path = sh(f, "@/reloads"), *log;
	int changed = 7;

	put_abc(f, u);
	SET_RELOAD(f, "/bin/sh", "-c", r);
	assert_int_equal(balancer_apply(&f->b, u, 3, NULL, &changed, &err), -1);
	assert_int_equal(changed, 0);
	assert_string_equal(error_msg(&err), "nginx reload failed (exit 3): reload: no master; the "
					     "old pool files were restored and reloaded");
	assert_abc_restored(f);
	log = slurp(log_path);
	assert_non_null(log);
	assert_string_equal(log,
			    "upstream a {\n    server 10.0.0.1:1;\n}\n==\n"
			    "# hand-written\nupstream a {\n\tserver 10.9.9.9:1 weight=2;\n}==\n");
	free(log);
	free(r);
	free(log_path);
	error_release(&err);
}

static void test_failed_reload_twice(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct pool_update u[3];
	char *r = sh(f, "echo x >> @/count; echo down; exit 1");
	char *count_path = sh(f, "@/count"), *count;

	put_abc(f, u);
	SET_RELOAD(f, "/bin/sh", "-c", r);
	assert_int_equal(balancer_apply(&f->b, u, 3, NULL, NULL, &err), -1);
	assert_string_equal(error_msg(&err),
			    "nginx reload failed (exit 1): down; the old pool files were restored, "
			    "but reloading them failed too: nginx reload failed (exit 1): down");
	assert_abc_restored(f);
	count = slurp(count_path);
	assert_string_equal(count, "x\nx\n");
	free(count);
	free(r);
	free(count_path);
	error_release(&err);
}

static void test_test_cannot_run(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct pool_update u[3];

	put_abc(f, u);
	SET_TEST(f, "/nonexistent/nginx", "-t");
	assert_int_equal(balancer_apply(&f->b, u, 3, NULL, NULL, &err), -1);
	assert_string_equal(error_msg(&err),
			    "nginx test failed (cannot run '/nonexistent/nginx': No "
			    "such file or directory)");
	assert_abc_restored(f);
	error_release(&err);
}

static void test_include_dir_problems(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	const char *good[] = {"10.0.0.1:80"};
	struct pool_update u[] = {{"web", good, 1}};
	char *missing = sh(f, "@/nope"), *file = sh(f, "@/plain"), **names;
	char *link_target = sh(f, "@/elsewhere.conf"), *link_path = path_in(f, "linked.conf");
	size_t n;

	marking_commands(f);
	f->b.include_dir = missing;
	assert_int_equal(balancer_apply(&f->b, u, 1, NULL, NULL, &err), -1);
	assert_non_null(strstr(error_msg(&err), "balancer edge: include_dir "));
	assert_non_null(strstr(error_msg(&err), "/nope does not exist"));
	assert_int_equal(balancer_list_pools(&f->b, &names, &n, &err), -1);
	assert_non_null(strstr(error_msg(&err), "/nope does not exist"));
	assert_false(exists(missing));

	close(open(file, O_WRONLY | O_CREAT, 0644));
	f->b.include_dir = file;
	assert_int_equal(balancer_apply(&f->b, u, 1, NULL, NULL, &err), -1);
	assert_non_null(strstr(error_msg(&err), "/plain is not a directory"));
	f->b.include_dir = f->inc.ptr;

	/* a pool file that is a symlink or a directory is not replaced */
	assert_int_equal(symlink(link_target, link_path), 0);
	u[0].pool = "linked";
	assert_int_equal(balancer_apply(&f->b, u, 1, NULL, NULL, &err), -1);
	assert_non_null(strstr(error_msg(&err), "linked.conf is a symbolic link"));
	assert_false(exists(link_target));
	free(link_path);
	link_path = path_in(f, "sub.conf");
	assert_int_equal(mkdir(link_path, 0755), 0);
	u[0].pool = "sub";
	assert_int_equal(balancer_apply(&f->b, u, 1, NULL, NULL, &err), -1);
	assert_non_null(strstr(error_msg(&err), "sub.conf is not a regular file"));
	assert_listing(f, "linked.conf sub.conf");
	assert_false(exists(f->marker.ptr));

	free(missing);
	free(file);
	free(link_target);
	free(link_path);
	error_release(&err);
}

static void test_list_pools(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	char **names = (char **)1, *p;
	size_t n = 9;

	assert_int_equal(balancer_list_pools(&f->b, &names, &n, &err), 0);
	assert_int_equal(n, 0);
	balancer_free_list(names, n);

	put_file(f, "web.conf", WEB_FILE, 0644);
	put_file(f, "api.v2.conf", "", 0644);
	put_file(f, "Z_last.conf", "", 0644);
	put_file(f, "not-a-pool.conf", "", 0644); /* someone else's file */
	put_file(f, "notes.txt", "", 0644);
	put_file(f, ".raptor-web.AbC123", "", 0644); /* a temporary file */
	put_file(f, ".conf", "", 0644);
	p = path_in(f, "dir.conf");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = path_in(f, "link.conf");
	assert_int_equal(symlink("web.conf", p), 0);
	free(p);
	assert_int_equal(balancer_list_pools(&f->b, &names, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "Z_last");
	assert_string_equal(names[1], "api.v2");
	assert_string_equal(names[2], "web");
	balancer_free_list(names, n);
	error_release(&err);
}

/* --- the command runner -------------------------------------------------- */

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* a pid written to a file by a command; 0 when there is none */
static pid_t read_pid(const char *path)
{
	char *s = slurp(path);
	long v = s ? strtol(s, NULL, 10) : 0;

	free(s);
	return (pid_t)v;
}

/* 1 while pid runs (a zombie counts as gone) */
static int running(pid_t pid)
{
	char path[64], *stat, *close_paren;
	int alive;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	stat = slurp(path);
	if (!stat)
		return 0;
	close_paren = strrchr(stat, ')');
	alive = close_paren && close_paren[1] == ' ' && close_paren[2] != 'Z';
	free(stat);
	return alive;
}

static void wait_gone(pid_t pid)
{
	for (int i = 0; i < 200 && running(pid); i++)
		usleep(10000);
	if (running(pid))
		fail_msg("process %d is still running", (int)pid);
}

static void test_run_command(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct buf out = BUF_INIT;
	char *args[4];
	struct strv sv = {args, 3};
	char *pidfile = sh(f, "@/pid");
	uint64_t t0;
	pid_t pid;

	args[0] = "/bin/sh";
	args[1] = "-c";

	args[2] = "echo out; echo err >&2; read x; echo \"stdin=[$x]\"";
	assert_int_equal(balancer_run_command(&sv, NULL, 5000, &out, &err), 0);
	assert_string_equal(buf_cstr(&out), "out\nerr\nstdin=[]\n");

	buf_reset(&out);
	args[2] = "kill -TERM $$";
	assert_int_equal(balancer_run_command(&sv, NULL, 5000, &out, &err), -1);
	assert_string_equal(error_msg(&err), "killed by signal 15");

	/* output is capped, and the command still runs to its end */
	buf_reset(&out);
	args[2] = "head -c 300000 /dev/zero | tr '\\0' x; exit 4";
	assert_int_equal(balancer_run_command(&sv, NULL, 5000, &out, &err), -1);
	assert_string_equal(error_msg(&err), "exit 4");
	assert_int_equal(out.len, 64 << 10);

	/* the time limit kills the whole process group */
	buf_reset(&out);
	args[2] = sh(f, "sleep 30 & echo $! > @/pid; echo started; sleep 30");
	t0 = ms_now();
	assert_int_equal(balancer_run_command(&sv, NULL, 400, &out, &err), -1);
	assert_true(ms_now() - t0 < 3000);
	assert_string_equal(error_msg(&err), "timed out after 400ms");
	assert_string_equal(buf_cstr(&out), "started\n");
	pid = read_pid(pidfile);
	assert_true(pid > 0);
	wait_gone(pid);
	free(args[2]);

	/* a command that exits but leaves something holding its output */
	buf_reset(&out);
	unlink(pidfile);
	args[2] = sh(f, "sleep 30 & echo $! > @/pid; echo bye");
	t0 = ms_now();
	assert_int_equal(balancer_run_command(&sv, NULL, 10000, &out, &err), 0);
	assert_true(ms_now() - t0 < 5000);
	assert_string_equal(buf_cstr(&out), "bye\n");
	pid = read_pid(pidfile);
	assert_true(pid > 0);
	wait_gone(pid);
	free(args[2]);

	/* descriptors raptor holds (a lock, sockets) do not reach the command */
	{
		int fd = open("/dev/null", O_RDONLY), high = dup2(fd, 200);
		char script[160];

		assert_true(fd > 2);
		assert_int_equal(high, 200);
		snprintf(
			script, sizeof(script),
			"for n in 0 1 2 %d 200; do [ -e /proc/self/fd/$n ] && echo -n \"$n \"; done; true",
			fd);
		args[0] = "/bin/sh";
		args[1] = "-c";
		args[2] = script;
		sv.n = 3;
		buf_reset(&out);
		assert_int_equal(balancer_run_command(&sv, NULL, 5000, &out, &err), 0);
		assert_string_equal(buf_cstr(&out), "0 1 2 ");
		close(fd);
		close(high);
	}

	/* seconds when whole */
	buf_reset(&out);
	args[0] = "sleep";
	args[1] = "5";
	sv.n = 2;
	assert_int_equal(balancer_run_command(&sv, NULL, 1000, &out, &err), -1);
	assert_string_equal(error_msg(&err), "timed out after 1s");

	/* found on PATH; not found */
	args[0] = "true";
	sv.n = 1;
	assert_int_equal(balancer_run_command(&sv, NULL, 5000, &out, &err), 0);
	args[0] = "raptor-no-such-command";
	assert_int_equal(balancer_run_command(&sv, NULL, 5000, &out, &err), -1);
	assert_string_equal(error_msg(&err),
			    "cannot run 'raptor-no-such-command': No such file or directory");
	sv.n = 0;
	assert_int_equal(balancer_run_command(&sv, NULL, 5000, &out, &err), -1);

	free(pidfile);
	buf_release(&out);
	error_release(&err);
}

/* test and reload run without the variables named: the supervisor credentials' */
static void test_commands_env_drop(void **state)
{
	static const char *const drop[] = {"RAPTOR_BALANCER_SECRET", NULL};
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	const char *one[] = {"10.0.0.1:5000"}, *two[] = {"10.0.0.2:5000"};
	struct pool_update u[] = {{"web", one, 1}};
	char *test = sh(
		f,
		"[ -z \"${RAPTOR_BALANCER_SECRET+set}\" ] && echo \"$RAPTOR_BALANCER_KEEP\" >@/test.env");
	char *reload = sh(f, "env >@/reload.env");
	char *test_env = sh(f, "@/test.env"), *reload_env = sh(f, "@/reload.env"), *text;
	int changed = 0;

	setenv("RAPTOR_BALANCER_SECRET", "user:hunter2", 1);
	setenv("RAPTOR_BALANCER_KEEP", "kept", 1);
	SET_TEST(f, "/bin/sh", "-c", test);
	SET_RELOAD(f, "/bin/sh", "-c", reload);
	assert_int_equal(balancer_apply(&f->b, u, 1, drop, &changed, &err), 0);
	assert_int_equal(changed, 1);
	text = slurp(test_env);
	assert_string_equal(text, "kept\n");
	free(text);
	text = slurp(reload_env);
	assert_non_null(text);
	assert_null(strstr(text, "hunter2"));
	assert_non_null(strstr(text, "RAPTOR_BALANCER_KEEP=kept\n"));
	free(text);
	/* without the list, the test sees the variable and fails: the files come back */
	u[0].nodes = two;
	assert_int_equal(balancer_apply(&f->b, u, 1, NULL, &changed, &err), -1);
	assert_string_equal(error_msg(&err), "nginx test failed (exit 1)");
	assert_pool(f, "web", "upstream web {\n    server 10.0.0.1:5000;\n}\n");
	unsetenv("RAPTOR_BALANCER_SECRET");
	unsetenv("RAPTOR_BALANCER_KEEP");
	free(test);
	free(reload);
	free(test_env);
	free(reload_env);
	error_release(&err);
}

/* --- against the real nginx -t ------------------------------------------- */

static const char *find_nginx(void)
{
	static const char *const where[] = {"/usr/sbin/nginx", "/usr/local/sbin/nginx",
					    "/usr/bin/nginx"};

	for (size_t i = 0; i < ARRAY_SIZE(where); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

static void test_real_nginx(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	const char *nginx = find_nginx();
	const char *web[] = {"127.0.0.1:5001", "[::1]:5002", "localhost:5003"};
	const char *api[] = {"127.0.0.1:6000"};
	struct pool_update u[] = {{"web", web, 3}, {"api", api, 1}};
	char *conf, *conf_path, *prefix, *elog, *content;
	int changed = 0;

	if (!nginx) {
		skip();
		return;
	}
	conf_path = sh(f, "@/nginx.conf");
	prefix = sh(f, "@/");
	elog = sh(f, "@/error.log");
	conf = sh(f, "pid @/nginx.pid;\n"
		     "error_log @/error.log;\n"
		     "lock_file @/nginx.lock;\n"
		     "events { worker_connections 64; }\n"
		     "http {\n"
		     "    access_log off;\n"
		     "    client_body_temp_path @/tmp/body;\n"
		     "    proxy_temp_path @/tmp/proxy;\n"
		     "    fastcgi_temp_path @/tmp/fastcgi;\n"
		     "    uwsgi_temp_path @/tmp/uwsgi;\n"
		     "    scgi_temp_path @/tmp/scgi;\n"
		     "    include @/raptor.d/*.conf;\n"
		     "    server {\n"
		     "        listen 127.0.0.1:1;\n"
		     "        location / { proxy_pass http://web; }\n"
		     "    }\n"
		     "}\n");
	{
		FILE *fp = fopen(conf_path, "w");

		assert_non_null(fp);
		fputs(conf, fp);
		fclose(fp);
	}
	{
		char *tmp = sh(f, "@/tmp"); /* nginx makes only the last part of a temp path */

		assert_int_equal(mkdir(tmp, 0755), 0);
		free(tmp);
	}
	SET_TEST(f, nginx, "-q", "-t", "-c", conf_path, "-p", prefix, "-e", elog);
	if (balancer_apply(&f->b, u, 2, NULL, &changed, &err) != 0)
		fail_msg("%s", error_msg(&err));
	assert_int_equal(changed, 1);
	/* the server proxies to web: nginx refuses to lose it, and the file comes back */
	content = pool_file(f, "web");
	u[0].n = 0;
	u[1].n = 0;
	assert_int_equal(balancer_apply(&f->b, u, 2, NULL, &changed, &err), -1);
	assert_non_null(strstr(error_msg(&err), "nginx test failed (exit 1): nginx: [emerg] host "
						"not found in upstream \"web\""));
	assert_pool(f, "web", content);
	assert_pool(f, "api", "upstream api {\n    server 127.0.0.1:6000;\n}\n");
	/* a pool nobody proxies to may go */
	u[0].n = 3;
	assert_int_equal(balancer_apply(&f->b, u, 2, NULL, &changed, &err), 0);
	assert_listing(f, "web.conf");
	free(content);
	free(conf);
	free(conf_path);
	free(prefix);
	free(elog);
	error_release(&err);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_render),
		T(test_bad_names_and_nodes),
		T(test_apply_writes),
		T(test_unchanged_runs_nothing),
		T(test_empty_pool_removed),
		T(test_failed_test_restores),
		T(test_failed_reload_restores),
		T(test_failed_reload_twice),
		T(test_test_cannot_run),
		T(test_include_dir_problems),
		T(test_list_pools),
		T(test_run_command),
		T(test_commands_env_drop),
		T(test_real_nginx),
	};
#undef T
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("balancer", tests, NULL, NULL);
}

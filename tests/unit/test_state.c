/*
 * The state directory: atomic files (replaced whole, refused cleanly on a
 * read-only directory or a full disk), the apply lock (exclusive, naming its
 * holder, gone with its process), the journal, the host and last records,
 * and the record of instances not yet seen healthy.
 */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state.h"

/* A fresh directory under /tmp; `tmpl` must be "/tmp/raptor-state.XXXXXX". */
static void make_dir(char *tmpl)
{
	assert_non_null(mkdtemp(tmpl));
}

static void rm_rf(const char *path)
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
	chmod(path, 0700);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct buf sub = BUF_INIT;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		buf_printf(&sub, "%s/%s", path, de->d_name);
		rm_rf(sub.ptr);
		buf_release(&sub);
	}
	closedir(d);
	assert_int_equal(rmdir(path), 0);
}

/* The names in dir, sorted and joined with spaces: "a b c". */
static void list_dir(struct buf *out, const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	assert_true(n >= 0);
	buf_reset(out);
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, ".."))
			buf_printf(out, "%s%s", out->len ? " " : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
}

static void slurp(struct buf *out, const char *path)
{
	char chunk[256];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	buf_reset(out);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(out, chunk, (size_t)n);
	assert_true(n == 0);
	close(fd);
}

static mode_t current_umask(void)
{
	mode_t m = umask(0);

	umask(m);
	return m;
}

static void put(const char *path, const char *text)
{
	struct error err = ERROR_INIT;

	if (state_write_atomic(path, text, strlen(text), &err) < 0)
		fail_msg("%s", error_msg(&err));
	error_release(&err);
}

static void test_write_atomic_replaces(void **state)
{
	char dir[] = "/tmp/raptor-state.XXXXXX";
	struct buf path = BUF_INIT, got = BUF_INIT;
	struct stat st;

	(void)state;
	make_dir(dir);
	buf_printf(&path, "%s/hosts.json", dir);

	put(path.ptr, "first\n");
	slurp(&got, path.ptr);
	assert_string_equal(got.ptr, "first\n");
	assert_int_equal(stat(path.ptr, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	put(path.ptr, "second, and longer than the first\n");
	slurp(&got, path.ptr);
	assert_string_equal(got.ptr, "second, and longer than the first\n");
	put(path.ptr, "3");
	slurp(&got, path.ptr);
	assert_string_equal(got.ptr, "3");

	/* an operator's tighter mode survives a rewrite */
	assert_int_equal(chmod(path.ptr, 0600), 0);
	put(path.ptr, "4");
	assert_int_equal(stat(path.ptr, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	put(path.ptr, "");
	slurp(&got, path.ptr);
	assert_int_equal(got.len, 0);

	list_dir(&got, dir);
	assert_string_equal(got.ptr, "hosts.json");

	rm_rf(dir);
	buf_release(&path);
	buf_release(&got);
}

/* The write must fail naming the path, keep the old file, leave no temp. */
static int refused(const char *path, const char *why)
{
	struct error err = ERROR_INIT;
	int ok = state_write_atomic(path, "new\n", 4, &err) == -1 &&
		 strstr(error_msg(&err), path) && strstr(error_msg(&err), why);

	if (!ok)
		fprintf(stderr, "for %s: wanted an error with '%s', got '%s'\n", path, why,
			error_msg(&err));
	error_release(&err);
	return ok;
}

static void test_write_atomic_readonly(void **state)
{
	char dir[] = "/tmp/raptor-state.XXXXXX";
	struct buf path = BUF_INIT, got = BUF_INIT;
	int status;
	pid_t pid;

	(void)state;
	make_dir(dir);
	buf_printf(&path, "%s/last.json", dir);
	put(path.ptr, "old\n");

	if (geteuid() != 0) {
		assert_int_equal(chmod(dir, 0500), 0);
		assert_true(refused(path.ptr, "Permission denied"));
	} else {
		/* root writes anywhere: try as nobody, who may read the directory
		 * but not write it */
		assert_int_equal(chmod(dir, 0555), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setgid(65534) < 0 || setuid(65534) < 0)
				_exit(77);
			_exit(refused(path.ptr, "Permission denied") ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status) == 77)
			fprintf(stderr, "cannot become nobody; read-only case by ENOTDIR only\n");
		else
			assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(chmod(dir, 0700), 0);
	slurp(&got, path.ptr);
	assert_string_equal(got.ptr, "old\n");
	list_dir(&got, dir);
	assert_string_equal(got.ptr, "last.json");

	/* a parent that is a file refuses even root */
	buf_reset(&path);
	buf_printf(&path, "%s/last.json/hosts.json", dir);
	assert_true(refused(path.ptr, "Not a directory"));
	buf_reset(&path);
	buf_printf(&path, "%s/last.json", dir);
	slurp(&got, path.ptr);
	assert_string_equal(got.ptr, "old\n");

	/* a path naming a directory */
	buf_reset(&path);
	buf_printf(&path, "%s/", dir);
	assert_true(refused(path.ptr, "names a directory"));

	list_dir(&got, dir);
	assert_string_equal(got.ptr, "last.json");
	rm_rf(dir);
	buf_release(&path);
	buf_release(&got);
}

/* A file size limit fails the write part-way, as a full disk does. */
static void test_write_atomic_full(void **state)
{
	char dir[] = "/tmp/raptor-state.XXXXXX";
	struct buf path = BUF_INIT, got = BUF_INIT, big = BUF_INIT;
	struct rlimit was, low;
	void (*old_handler)(int);
	struct error err = ERROR_INIT;
	int rc;

	(void)state;
	make_dir(dir);
	buf_printf(&path, "%s/hosts.json", dir);
	put(path.ptr, "old\n");
	for (int i = 0; i < 8192; i++)
		buf_puts(&big, "0123456789\n");

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
	low = was;
	low.rlim_cur = 4096;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
	rc = state_write_atomic(path.ptr, big.ptr, big.len, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
	signal(SIGXFSZ, old_handler);

	assert_int_equal(rc, -1);
	assert_non_null(strstr(error_msg(&err), path.ptr));
	assert_non_null(strstr(error_msg(&err), "File too large"));
	slurp(&got, path.ptr);
	assert_string_equal(got.ptr, "old\n");
	list_dir(&got, dir);
	assert_string_equal(got.ptr, "hosts.json");

	rm_rf(dir);
	error_release(&err);
	buf_release(&path);
	buf_release(&got);
	buf_release(&big);
}

/* "pid PID host HOST since " as the message for a holder should read. */
static void holder_words(struct buf *out, long pid)
{
	struct utsname u;

	assert_int_equal(uname(&u), 0);
	buf_reset(out);
	buf_printf(out, "pid %ld on host %s since 20", pid, u.nodename);
}

static void test_lock_twice(void **state)
{
	char dir[] = "/tmp/raptor-state.XXXXXX";
	struct buf sdir = BUF_INIT, lockpath = BUF_INIT, got = BUF_INIT, want = BUF_INIT;
	struct state_lock a, b, never = {0};
	struct error err = ERROR_INIT;
	struct utsname u;
	struct stat st;
	int fd;

	(void)state;
	make_dir(dir);
	/* two levels that do not exist yet */
	buf_printf(&sdir, "%s/var/state", dir);
	buf_printf(&lockpath, "%s/lock", sdir.ptr);

	assert_int_equal(state_lock(&a, sdir.ptr, &err), 0);
	assert_string_equal(a.path, lockpath.ptr);
	assert_int_equal(stat(sdir.ptr, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750 & ~current_umask());
	slurp(&got, lockpath.ptr);
	assert_int_equal(uname(&u), 0);
	buf_printf(&want, "pid %ld host %s started 20", (long)getpid(), u.nodename);
	assert_memory_equal(got.ptr, want.ptr, want.len);
	assert_int_equal(got.ptr[got.len - 2], 'Z');
	assert_int_equal(got.ptr[got.len - 1], '\n');

	/* a second open in the same process is a second holder: refused */
	assert_int_equal(state_lock(&b, sdir.ptr, &err), -1);
	assert_null(b.path);
	buf_reset(&want);
	buf_printf(&want, "another raptor apply holds the state lock %s: ", lockpath.ptr);
	assert_non_null(strstr(error_msg(&err), want.ptr));
	holder_words(&want, (long)getpid());
	assert_non_null(strstr(error_msg(&err), want.ptr));
	assert_non_null(strstr(error_msg(&err), "Z; wait for it to finish"));
	state_unlock(&b); /* harmless on a lock not taken */
	state_unlock(&never);

	/* the holder has not written its line yet */
	fd = open(lockpath.ptr, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(state_lock(&b, sdir.ptr, &err), -1);
	assert_non_null(strstr(error_msg(&err), "has not yet written who it is"));
	/* a line of another shape is shown as it is, control characters made visible */
	assert_int_equal(write(fd, "someone \x1b[31m\nmore", 18), 18);
	close(fd);
	assert_int_equal(state_lock(&b, sdir.ptr, &err), -1);
	assert_non_null(strstr(error_msg(&err), ": someone \\x1b[31m; wait for it to finish"));

	state_unlock(&a);
	state_unlock(&a);
	assert_null(a.path);
	assert_int_equal(state_lock(&b, sdir.ptr, &err), 0);
	state_unlock(&b);
	/* the file stays */
	assert_int_equal(stat(lockpath.ptr, &st), 0);

	/* a state directory that cannot be made */
	buf_reset(&sdir);
	buf_printf(&sdir, "%s/var/state/lock/x", dir);
	assert_int_equal(state_lock(&b, sdir.ptr, &err), -1);
	assert_non_null(strstr(error_msg(&err), "state directory"));
	assert_non_null(strstr(error_msg(&err), "Not a directory"));

	rm_rf(dir);
	error_release(&err);
	buf_release(&sdir);
	buf_release(&lockpath);
	buf_release(&got);
	buf_release(&want);
}

/* A child takes the lock and then exits (or is killed) without unlocking:
 * while it lives the lock names it, afterwards the lock is free. */
/* What a writer killed half-way leaves (fileio.c's .NAME.XXXXXX) goes when
 * the lock is taken; anything else stays. */
static void test_lock_sweeps_temporaries(void **state)
{
	static const char *const gone[] = {".unchecked.json.a1B2c3", ".hosts.json.XXXXXX",
					   ".last.json.000000"};
	static const char *const kept[] = {".unchecked.json.a1B2c", ".unchecked.json.a1B2c3d",
					   ".journal.jsonl.a1B2c3", ".unchecked.json.a.b2c3",
					   "unchecked.json",	    "x.unchecked.json.a1B2c3"};
	char dir[] = "/tmp/raptor-state.XXXXXX";
	struct buf path = BUF_INIT, got = BUF_INIT;
	struct error err = ERROR_INIT;
	struct state_lock l;

	(void)state;
	make_dir(dir);
	for (size_t i = 0; i < ARRAY_SIZE(gone); i++) {
		buf_reset(&path);
		buf_printf(&path, "%s/%s", dir, gone[i]);
		put(path.ptr, "half");
	}
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
		buf_reset(&path);
		buf_printf(&path, "%s/%s", dir, kept[i]);
		put(path.ptr, "{}");
	}
	assert_int_equal(state_lock(&l, dir, &err), 0);
	list_dir(&got, dir);
	assert_string_equal(got.ptr, ".journal.jsonl.a1B2c3 .unchecked.json.a.b2c3 "
				     ".unchecked.json.a1B2c .unchecked.json.a1B2c3d lock "
				     "unchecked.json x.unchecked.json.a1B2c3");
	state_unlock(&l);
	rm_rf(dir);
	error_release(&err);
	buf_release(&path);
	buf_release(&got);
}

static void test_lock_dies_with_holder(void **state)
{
	char dir[] = "/tmp/raptor-state.XXXXXX";
	struct buf want = BUF_INIT;
	struct error err = ERROR_INIT;
	struct state_lock l;

	(void)state;
	make_dir(dir);
	for (int kill_it = 0; kill_it < 2; kill_it++) {
		int ready[2], go[2], status;
		char c;
		pid_t pid;

		assert_int_equal(pipe(ready), 0);
		assert_int_equal(pipe(go), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct state_lock mine;

			close(ready[0]);
			close(go[1]);
			if (state_lock(&mine, dir, &err) < 0)
				_exit(1);
			if (write(ready[1], "x", 1) != 1)
				_exit(1);
			while (read(go[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0); /* no state_unlock */
		}
		close(ready[1]);
		close(go[0]);
		assert_int_equal(read(ready[0], &c, 1), 1);

		assert_int_equal(state_lock(&l, dir, &err), -1);
		holder_words(&want, (long)pid);
		assert_non_null(strstr(error_msg(&err), want.ptr));

		if (kill_it)
			assert_int_equal(kill(pid, SIGKILL), 0);
		close(go[1]); /* the child reads EOF and exits */
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (kill_it)
			assert_true(WIFSIGNALED(status));
		else
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		close(ready[0]);

		if (state_lock(&l, dir, &err) < 0)
			fail_msg("%s", error_msg(&err));
		state_unlock(&l);
	}
	rm_rf(dir);
	error_release(&err);
	buf_release(&want);
}

static json_t *load_line(const char *line)
{
	json_error_t jerr;
	json_t *j = json_loads(line, 0, &jerr);

	if (!j)
		fail_msg("'%s': %s", line, jerr.text);
	return j;
}

static void assert_time(json_t *t, size_t len)
{
	const char *s = json_string_value(t);

	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	assert_int_equal(s[4], '-');
	assert_int_equal(s[10], 'T');
	assert_int_equal(s[len - 1], 'Z');
	if (len == 24)
		assert_int_equal(s[19], '.');
}

static void test_journal(void **state)
{
	char dir[] = "/tmp/raptor-state.XXXXXX";
	struct buf path = BUF_INIT, got = BUF_INIT;
	struct error err = ERROR_INIT;
	struct journal_entry full = {.op = "start",
				     .host = "web1",
				     .program = "hello-1.4.2-prod-1a2b3c4d-web-5001",
				     .swarm = "hello/prod/web@web",
				     .pool = "hello_web",
				     .result = "failed",
				     .error = "not RUNNING after 10s: \"BACKOFF\"",
				     .commit = "0123abcd",
				     .seconds = 10.25};
	struct journal_entry bare = {.op = "apply", .result = "ok", .seconds = 0.1 + 0.2};
	struct journal_entry bad = {.op = "check",
				    .result = "failed",
				    .error = "bad \xff byte \xe2\x82\xac",
				    .seconds = INFINITY};
	static const char *const keys[] = {"time", "op",     "host",  "program", "swarm",
					   "pool", "result", "error", "commit",	 "seconds"};
	json_t *j, *k;
	const char *key;
	char *line, *next;
	size_t i;
	struct stat st;

	(void)state;
	make_dir(dir);
	buf_printf(&path, "%s/journal.jsonl", dir);
	assert_int_equal(state_journal(dir, &full, &err), 0);
	assert_int_equal(state_journal(dir, &bare, &err), 0);
	assert_int_equal(state_journal(dir, &bad, &err), 0);
	assert_int_equal(stat(path.ptr, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640 & ~current_umask());

	slurp(&got, path.ptr);
	line = got.ptr;
	next = strchr(line, '\n');
	assert_non_null(next);
	*next++ = '\0';
	j = load_line(line);
	assert_int_equal(json_object_size(j), ARRAY_SIZE(keys));
	i = 0;
	json_object_foreach(j, key, k)
	{
		assert_string_equal(key, keys[i++]); /* in a stable, readable order */
	}
	assert_time(json_object_get(j, "time"), 24);
	assert_string_equal(json_string_value(json_object_get(j, "op")), "start");
	assert_string_equal(json_string_value(json_object_get(j, "host")), "web1");
	assert_string_equal(json_string_value(json_object_get(j, "pool")), "hello_web");
	assert_string_equal(json_string_value(json_object_get(j, "error")),
			    "not RUNNING after 10s: \"BACKOFF\"");
	assert_string_equal(json_string_value(json_object_get(j, "commit")), "0123abcd");
	assert_true(json_real_value(json_object_get(j, "seconds")) == 10.25);
	json_decref(j);

	line = next;
	next = strchr(line, '\n');
	assert_non_null(next);
	*next++ = '\0';
	j = load_line(line);
	for (i = 2; i < 9; i++) {
		if (strcmp(keys[i], "result"))
			assert_true(json_is_null(json_object_get(j, keys[i])));
	}
	assert_string_equal(json_string_value(json_object_get(j, "result")), "ok");
	/* milliseconds, not 0.30000000000000004 */
	assert_non_null(strstr(line, "\"seconds\":0.3}"));
	json_decref(j);

	line = next;
	next = strchr(line, '\n');
	assert_non_null(next);
	*next++ = '\0';
	j = load_line(line);
	assert_string_equal(json_string_value(json_object_get(j, "error")),
			    "bad \xef\xbf\xbd byte \xe2\x82\xac");
	assert_true(json_is_null(json_object_get(j, "seconds")));
	json_decref(j);
	assert_string_equal(next, "");

	/* a torn last line (a crash, a full disk) does not swallow the next entry */
	{
		int fd = open(path.ptr, O_WRONLY | O_APPEND);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "{\"time\":\"20", 11), 11);
		close(fd);
	}
	assert_int_equal(state_journal(dir, &bare, &err), 0);
	slurp(&got, path.ptr);
	line = strstr(got.ptr, "{\"time\":\"20{");
	assert_null(line);
	line = strrchr(got.ptr, '\n');
	assert_true(line && line[1] == '\0');
	*line = '\0';
	line = strrchr(got.ptr, '\n');
	assert_non_null(line);
	j = load_line(line + 1);
	assert_string_equal(json_string_value(json_object_get(j, "op")), "apply");
	json_decref(j);

	/* no directory: the message names the file */
	buf_reset(&path);
	buf_printf(&path, "%s/missing", dir);
	assert_int_equal(state_journal(path.ptr, &bare, &err), -1);
	assert_non_null(strstr(error_msg(&err), "missing/journal.jsonl"));
	assert_non_null(strstr(error_msg(&err), "No such file or directory"));

	rm_rf(dir);
	error_release(&err);
	buf_release(&path);
	buf_release(&got);
}

static void test_hosts_round_trip(void **state)
{
	char dir[] = "/tmp/raptor-state.XXXXXX";
	const struct state_host hosts[] = {
		{"web2", "10.0.0.2", "http://10.0.0.2:9001/RPC2"},
		{"web1", "10.0.0.1", "http://10.0.0.1:9001/RPC2"},
		{"web2", "10.9.9.9", "http://stale:9001/RPC2"},
		{"db1", NULL, "http://db1:9001/RPC2"},
	};
	struct state_host nameless = {NULL, NULL, "http://x/RPC2"};
	struct buf path = BUF_INIT, got = BUF_INIT;
	struct error err = ERROR_INIT;
	struct arena mem = ARENA_INIT;
	state_hosts back = {0};

	(void)state;
	make_dir(dir);
	buf_printf(&path, "%s/hosts.json", dir);

	/* nothing recorded yet */
	assert_int_equal(state_hosts_read(&back, &mem, dir, &err), 0);
	assert_int_equal(back.n, 0);

	if (state_hosts_write(dir, hosts, ARRAY_SIZE(hosts), &err) < 0)
		fail_msg("%s", error_msg(&err));
	assert_int_equal(state_hosts_read(&back, &mem, dir, &err), 0);
	assert_int_equal(back.n, 3);
	assert_string_equal(back.v[0].name, "db1");
	assert_string_equal(back.v[0].address, "db1");
	assert_string_equal(back.v[0].url, "http://db1:9001/RPC2");
	assert_string_equal(back.v[1].name, "web1");
	assert_string_equal(back.v[1].address, "10.0.0.1");
	assert_string_equal(back.v[2].name, "web2");
	/* the first given of a name wins */
	assert_string_equal(back.v[2].address, "10.0.0.2");
	assert_string_equal(back.v[2].url, "http://10.0.0.2:9001/RPC2");
	slurp(&got, path.ptr);
	assert_non_null(strstr(got.ptr, "\"format_version\": 1"));
	assert_int_equal(got.ptr[got.len - 1], '\n');
	vec_release(&back);

	/* a host without a name is refused and the record kept */
	assert_int_equal(state_hosts_write(dir, &nameless, 1, &err), -1);
	assert_non_null(strstr(error_msg(&err), "host #1"));
	assert_non_null(strstr(error_msg(&err), "has no name"));
	assert_int_equal(state_hosts_read(&back, &mem, dir, &err), 0);
	assert_int_equal(back.n, 3);
	vec_release(&back);

	/* and the empty record */
	assert_int_equal(state_hosts_write(dir, NULL, 0, &err), 0);
	assert_int_equal(state_hosts_read(&back, &mem, dir, &err), 0);
	assert_int_equal(back.n, 0);

	list_dir(&got, dir);
	assert_string_equal(got.ptr, "hosts.json");
	rm_rf(dir);
	vec_release(&back);
	arena_release(&mem);
	error_release(&err);
	buf_release(&path);
	buf_release(&got);
}

static void test_last(void **state)
{
	char dir[] = "/tmp/raptor-state.XXXXXX";
	struct buf path = BUF_INIT, got = BUF_INIT;
	struct error err = ERROR_INIT;
	json_error_t jerr;
	json_t *j, *sum;

	(void)state;
	make_dir(dir);
	buf_printf(&path, "%s/last.json", dir);
	assert_int_equal(state_last_write(dir, "0123abcd", "ok", 3, 2, 1, &err), 0);
	j = json_load_file(path.ptr, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 5);
	assert_int_equal(json_integer_value(json_object_get(j, "format_version")), 1);
	assert_string_equal(json_string_value(json_object_get(j, "commit")), "0123abcd");
	assert_string_equal(json_string_value(json_object_get(j, "outcome")), "ok");
	assert_time(json_object_get(j, "time"), 20);
	sum = json_object_get(j, "summary");
	assert_int_equal(json_object_size(sum), 3);
	assert_int_equal(json_integer_value(json_object_get(sum, "started")), 3);
	assert_int_equal(json_integer_value(json_object_get(sum, "stopped")), 2);
	assert_int_equal(json_integer_value(json_object_get(sum, "failed")), 1);
	json_decref(j);

	assert_int_equal(state_last_write(dir, NULL, "failed", 0, 0, 4, &err), 0);
	j = json_load_file(path.ptr, 0, &jerr);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "commit")));
	assert_string_equal(json_string_value(json_object_get(j, "outcome")), "failed");
	json_decref(j);

	list_dir(&got, dir);
	assert_string_equal(got.ptr, "last.json");
	rm_rf(dir);
	error_release(&err);
	buf_release(&path);
	buf_release(&got);
}

static void test_unchecked_round_trip(void **state)
{
	char dir[] = "/tmp/raptor-state.XXXXXX";
	const struct state_instance set[] = {
		{"web2", "hello-1-prod-0badf00d-web-5001"},
		{"web1", "hello-1-prod-0badf00d-web-5000"},
		{"web2", "hello-1-prod-0badf00d-web-5000"},
		{"web1", "hello-1-prod-0badf00d-web-5000"},
	};
	const struct state_instance hostless = {NULL, "x"}, not_utf8 = {"web1", "bad\xff"};
	struct buf path = BUF_INIT, got = BUF_INIT, nodir = BUF_INIT;
	struct error err = ERROR_INIT;
	struct arena mem = ARENA_INIT;
	state_instances back = {0};

	(void)state;
	make_dir(dir);
	buf_printf(&path, "%s/unchecked.json", dir);
	buf_printf(&nodir, "%s/none", dir);

	/* nothing recorded: no file, or no directory yet, is the empty set */
	assert_int_equal(state_unchecked_read(&back, &mem, dir, &err), 0);
	assert_int_equal(back.n, 0);
	assert_int_equal(state_unchecked_read(&back, &mem, nodir.ptr, &err), 0);
	assert_int_equal(back.n, 0);

	/* sorted by host and program, each once */
	if (state_unchecked_write(dir, set, ARRAY_SIZE(set), &err) < 0)
		fail_msg("%s", error_msg(&err));
	assert_int_equal(state_unchecked_read(&back, &mem, dir, &err), 0);
	assert_int_equal(back.n, 3);
	assert_string_equal(back.v[0].host, "web1");
	assert_string_equal(back.v[0].program, "hello-1-prod-0badf00d-web-5000");
	assert_string_equal(back.v[1].host, "web2");
	assert_string_equal(back.v[1].program, "hello-1-prod-0badf00d-web-5000");
	assert_string_equal(back.v[2].host, "web2");
	assert_string_equal(back.v[2].program, "hello-1-prod-0badf00d-web-5001");
	slurp(&got, path.ptr);
	assert_non_null(strstr(got.ptr, "\"format_version\": 1"));
	assert_non_null(strstr(got.ptr, "\"instances\": ["));
	assert_int_equal(got.ptr[got.len - 1], '\n');
	vec_release(&back);

	/* what cannot be recorded is refused, and the record kept */
	assert_int_equal(state_unchecked_write(dir, &hostless, 1, &err), -1);
	assert_non_null(strstr(error_msg(&err), "instance #1"));
	assert_non_null(strstr(error_msg(&err), "has no host"));
	assert_int_equal(state_unchecked_write(dir, &not_utf8, 1, &err), -1);
	assert_non_null(strstr(error_msg(&err), "not UTF-8"));
	assert_int_equal(state_unchecked_read(&back, &mem, dir, &err), 0);
	assert_int_equal(back.n, 3);

	/* the empty set is a file too */
	assert_int_equal(state_unchecked_write(dir, NULL, 0, &err), 0);
	vec_release(&back);
	assert_int_equal(state_unchecked_read(&back, &mem, dir, &err), 0);
	assert_int_equal(back.n, 0);
	list_dir(&got, dir);
	assert_string_equal(got.ptr, "unchecked.json");

	rm_rf(dir);
	vec_release(&back);
	arena_release(&mem);
	error_release(&err);
	buf_release(&path);
	buf_release(&got);
	buf_release(&nodir);
}

/* A record that is not one is an error naming the file, and adds nothing. */
static void test_unchecked_corrupt(void **state)
{
	static const struct {
		const char *text, *want;
	} rows[] = {
		{"{\"format_version\": 1, \"instances\": [", "unchecked.json:1:"},
		{"", "unchecked.json:1:"},
		{"{\"format_version\": 1, \"instances\": [], \"instances\": []}",
		 "unchecked.json:1:"},
		{"{\"format_version\": 2, \"instances\": []}",
		 "unchecked.json: not a raptor record of unchecked instances of format_version 1"},
		{"{\"format_version\": 1, \"instances\": {}}", "not a raptor record"},
		{"[]", "not a raptor record"},
		{"{\"format_version\": 1, \"instances\": [{\"host\": \"web1\", \"program\": \"a\"}, "
		 "{\"host\": \"web1\"}]}",
		 "unchecked.json: instance #2 lacks a host or program"},
		{"{\"format_version\": 1, \"instances\": [{\"host\": \"\", \"program\": \"a\"}]}",
		 "instance #1 lacks a host or program"},
		{"{\"format_version\": 1, \"instances\": [7]}", "instance #1 lacks"},
	};
	char dir[] = "/tmp/raptor-state.XXXXXX";
	struct buf path = BUF_INIT;
	struct arena mem = ARENA_INIT;
	state_instances back = {0};

	(void)state;
	make_dir(dir);
	buf_printf(&path, "%s/unchecked.json", dir);
	/* what was read before stays as it was */
	*vec_add(&back) = (struct state_instance){"keep", "me"};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct error err = ERROR_INIT;

		put(path.ptr, rows[i].text);
		if (state_unchecked_read(&back, &mem, dir, &err) == 0)
			fail_msg("row %zu: '%s' was read", i, rows[i].text);
		if (!strstr(error_msg(&err), rows[i].want))
			fail_msg("row %zu: '%s' does not hold '%s'", i, error_msg(&err),
				 rows[i].want);
		assert_non_null(strstr(error_msg(&err), path.ptr));
		assert_int_equal(back.n, 1);
		error_release(&err);
	}
	/* a directory where the file should be */
	unlink(path.ptr);
	assert_int_equal(mkdir(path.ptr, 0700), 0);
	{
		struct error err = ERROR_INIT;

		assert_int_equal(state_unchecked_read(&back, &mem, dir, &err), -1);
		assert_non_null(strstr(error_msg(&err), path.ptr));
		assert_non_null(strstr(error_msg(&err), "not a file"));
		error_release(&err);
	}
	rm_rf(dir);
	vec_release(&back);
	arena_release(&mem);
	buf_release(&path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_atomic_replaces),
		cmocka_unit_test(test_write_atomic_readonly),
		cmocka_unit_test(test_write_atomic_full),
		cmocka_unit_test(test_lock_twice),
		cmocka_unit_test(test_lock_dies_with_holder),
		cmocka_unit_test(test_lock_sweeps_temporaries),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_hosts_round_trip),
		cmocka_unit_test(test_last),
		cmocka_unit_test(test_unchecked_round_trip),
		cmocka_unit_test(test_unchecked_corrupt),
	};
	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}

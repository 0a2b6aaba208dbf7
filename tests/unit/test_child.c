/*
 * The runner of untrusted commands (child.h), with real programs (/bin/sh,
 * /bin/true, sleep): the environment without the dropped names, a failed
 * exec's errno, the deadline killing the whole group, the straggler time,
 * the output cap, what the child does not inherit (descriptors, signal
 * dispositions and mask, stdin), an exit reaped by someone else, and runs on
 * several threads at once.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

extern char **environ;

struct run {
	int rc;
	struct child_result res;
	struct buf out;
	uint64_t ms;
	char err[256];
};

/* Runs argv with a budget relative to now; the output in r->out. */
static void run(struct run *r, char *const *argv, const char *const *drop, uint64_t budget_ms,
		size_t cap, uint64_t straggler_ms)
{
	uint64_t start = child_now_ms();
	const struct child_spec spec = {.argv = argv,
					.env_drop = drop,
					.deadline_ms = start + budget_ms,
					.output_cap = cap,
					.straggler_ms = straggler_ms};
	struct error err = ERROR_INIT;

	memset(r, 0, sizeof(*r));
	r->rc = child_run(&spec, &r->res, &r->out, &err);
	r->ms = child_now_ms() - start;
	snprintf(r->err, sizeof(r->err), "%s", r->rc ? error_msg(&err) : "");
	error_release(&err);
}

/* 1 while pid runs (a zombie counts as gone). */
static bool running(pid_t pid)
{
	char path[64], stat[256] = "", *close_paren;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(stat, sizeof(stat), f))
		stat[0] = '\0';
	fclose(f);
	close_paren = strrchr(stat, ')');
	return close_paren && close_paren[1] == ' ' && close_paren[2] != 'Z';
}

static bool gone_soon(pid_t pid)
{
	for (int i = 0; i < 200 && running(pid); i++)
		usleep(10000);
	return !running(pid);
}

/* The pid a command wrote to `path`; 0 when there is none. */
static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = 0;

	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

/* ---- the environment ---- */

/* The environments are made up whole (environ is this process's to set), so
 * duplicate names and entries without '=' can be tried too. */
static void test_env_drop(void **state)
{
	static char *const env_a[] = {"PATH=/usr/bin:/bin", "RAPTOR_AUTH=user:hunter2", "KEEP=kept",
				      NULL};
	static char *const env_dup[] = {"PATH=/usr/bin:/bin", "RAPTOR_AUTH=user:hunter2",
					"KEEP=kept", "RAPTOR_AUTH=user:second", NULL};
	static char *const env_bare[] = {"PATH=/usr/bin:/bin", "RAPTOR_AUTH", "KEEP=kept", NULL};
	static char *const env_prefix[] = {"PATH=/usr/bin:/bin", "RAPTOR_AUTH_OTHER=other",
					   "RAPTOR_AUT=short", "KEEP=kept", NULL};
	static const char *const drop_auth[] = {"RAPTOR_AUTH", NULL};
	static const char *const drop_two[] = {"RAPTOR_AUTH", "KEEP", NULL};
	static const char *const drop_none[] = {NULL};
	static const char *const drop_empty[] = {"", NULL};
	const struct {
		const char *name;
		char *const *env;
		const char *const *drop;
		const char *want; /* env's output, sorted */
	} rows[] = {
		{"dropped, others kept", env_a, drop_auth, "KEEP=kept\nPATH=/usr/bin:/bin\n"},
		{"NULL drops nothing", env_a, NULL,
		 "KEEP=kept\nPATH=/usr/bin:/bin\nRAPTOR_AUTH=user:hunter2\n"},
		{"an empty list drops nothing", env_a, drop_none,
		 "KEEP=kept\nPATH=/usr/bin:/bin\nRAPTOR_AUTH=user:hunter2\n"},
		{"an empty name drops nothing", env_a, drop_empty,
		 "KEEP=kept\nPATH=/usr/bin:/bin\nRAPTOR_AUTH=user:hunter2\n"},
		{"two names", env_a, drop_two, "PATH=/usr/bin:/bin\n"},
		{"every copy of a name", env_dup, drop_auth, "KEEP=kept\nPATH=/usr/bin:/bin\n"},
		{"an entry without '='", env_bare, drop_auth, "KEEP=kept\nPATH=/usr/bin:/bin\n"},
		{"whole names only", env_prefix, drop_auth,
		 "KEEP=kept\nPATH=/usr/bin:/bin\nRAPTOR_AUT=short\nRAPTOR_AUTH_OTHER=other\n"},
	};
	char *argv[] = {"/bin/sh", "-c", "env | LC_ALL=C sort", NULL};
	char **saved = environ;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct run r;

		environ = (char **)rows[i].env;
		run(&r, argv, rows[i].drop, 5000, 4096, 0);
		environ = saved;
		if (r.rc || r.res.end != CHILD_EXITED || r.res.code)
			fail_msg("%s: rc %d end %d code %d: %s", rows[i].name, r.rc, r.res.end,
				 r.res.code, r.err);
		/* dash adds PWD (and nothing else) to what it was given */
		{
			char *p = strstr(r.out.ptr ? r.out.ptr : "", "PWD=");

			if (p) {
				char *nl = strchr(p, '\n');

				memmove(p, nl + 1, strlen(nl + 1) + 1);
			}
		}
		if (strcmp(buf_cstr(&r.out), rows[i].want))
			fail_msg("%s: the environment was\n%s\nwant\n%s", rows[i].name,
				 buf_cstr(&r.out), rows[i].want);
		buf_release(&r.out);
	}
	/* and with the real environment: the named variable is absent, the rest there */
	setenv("RAPTOR_CHILD_SECRET", "hunter2", 1);
	setenv("RAPTOR_CHILD_KEEP", "kept", 1);
	{
		static const char *const drop[] = {"RAPTOR_CHILD_SECRET", NULL};
		char *show[] = {"/bin/sh", "-c",
				"echo \"${RAPTOR_CHILD_SECRET-unset} $RAPTOR_CHILD_KEEP\"; env",
				NULL};
		struct run r;

		run(&r, show, drop, 5000, 1 << 20, 0);
		assert_int_equal(r.rc, 0);
		assert_int_equal(r.res.end, CHILD_EXITED);
		assert_true(!strncmp(buf_cstr(&r.out), "unset kept\n", 11));
		assert_null(strstr(buf_cstr(&r.out), "hunter2"));
		assert_non_null(strstr(buf_cstr(&r.out), "\nPATH="));
		buf_release(&r.out);
	}
	/* raptor's own environment is untouched: the next round reads it again */
	assert_string_equal(getenv("RAPTOR_CHILD_SECRET"), "hunter2");
	unsetenv("RAPTOR_CHILD_SECRET");
	unsetenv("RAPTOR_CHILD_KEEP");
}

/* ---- how it ends ---- */

static void test_ends(void **state)
{
	static const struct {
		const char *name;
		char *argv[5];
		enum child_end end;
		int code;
		const char *out;
	} rows[] = {
		{"exit 0", {"/bin/true"}, CHILD_EXITED, 0, ""},
		{"on PATH", {"true"}, CHILD_EXITED, 0, ""},
		{"exit 3",
		 {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"},
		 CHILD_EXITED,
		 3,
		 "out\nerr\n"},
		{"a signal", {"/bin/sh", "-c", "kill -TERM $$"}, CHILD_SIGNALED, SIGTERM, ""},
		{"exits 127 itself", {"/bin/sh", "-c", "exit 127"}, CHILD_EXITED, 127, ""},
		/* exec failures: the errno, nothing retried or guessed */
		{"no such file", {"/nonexistent/cmd"}, CHILD_NOT_RUN, ENOENT, ""},
		{"not on PATH", {"raptor-no-such-command"}, CHILD_NOT_RUN, ENOENT, ""},
		{"not executable", {"/dev/null"}, CHILD_NOT_RUN, EACCES, ""},
		{"a directory", {"/tmp"}, CHILD_NOT_RUN, EACCES, ""},
		{"an empty word", {""}, CHILD_NOT_RUN, ENOENT, ""},
		{"no words", {NULL}, CHILD_NOT_RUN, ENOENT, ""},
		/* stdin is /dev/null: read sees its end at once */
		{"stdin",
		 {"/bin/sh", "-c", "read x; echo \"[$x] $?\"; readlink /proc/self/fd/0"},
		 CHILD_EXITED,
		 0,
		 "[] 1\n/dev/null\n"},
		/* its own process group */
		{"a group of its own",
		 {"/bin/sh", "-c",
		  "read -r pid comm st ppid pgrp rest </proc/$$/stat; "
		  "[ \"$pgrp\" = \"$$\" ] && echo leader"},
		 CHILD_EXITED,
		 0,
		 "leader\n"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct run r;

		run(&r, rows[i].argv, NULL, 5000, 4096, 0);
		if (r.rc || r.res.end != rows[i].end || r.res.code != rows[i].code ||
		    strcmp(buf_cstr(&r.out), rows[i].out))
			fail_msg(
				"%s: rc %d (%s), end %d code %d output '%s'; want end %d code %d output '%s'",
				rows[i].name, r.rc, r.err, r.res.end, r.res.code, buf_cstr(&r.out),
				rows[i].end, rows[i].code, rows[i].out);
		if (r.ms > 2000)
			fail_msg("%s: took %llums", rows[i].name, (unsigned long long)r.ms);
		buf_release(&r.out);
	}
}

/* ---- the deadline and the straggler time ---- */

static void test_deadline_and_group(void **state)
{
	char pidfile[128], script[512];
	const struct {
		const char *name;
		const char *script; /* %s: the pid file */
		uint64_t budget, straggler, min_ms, max_ms;
		enum child_end end;
		int code;
		const char *out;
		bool left_alone; /* the background process survives */
	} rows[] = {
		/* the whole group goes at the deadline, the one in the background too */
		{"deadline", "sleep 30 & echo $! >%s; echo started; sleep 30; echo never", 400, 0,
		 350, 2500, CHILD_TIMED_OUT, 0, "started\n"},
		{"deadline, straggler time", "sleep 30 & echo $! >%s; echo started; sleep 30", 400,
		 1000, 350, 2500, CHILD_TIMED_OUT, 0, "started\n"},
		/* exited, but left a child holding the output: killed at once with 0 */
		{"leftover killed at exit", "sleep 30 & echo $! >%s; echo bye", 10000, 0, 0, 1500,
		 CHILD_EXITED, 0, "bye\n"},
		/* ... or after the straggler time, the exit status kept */
		{"leftover after the straggler time", "sleep 30 & echo $! >%s; echo bye; exit 2",
		 10000, 300, 250, 2500, CHILD_EXITED, 2, "bye\n"},
		/* killed even when it let go of the output, with 0 */
		{"quiet leftover killed at exit", "sleep 30 >/dev/null 2>&1 & echo $! >%s", 10000,
		 0, 0, 1500, CHILD_EXITED, 0, ""},
		/* with a straggler time, one that let go of the output is left alone */
		{"quiet leftover left alone", "sleep 30 >/dev/null 2>&1 & echo $! >%s", 10000, 1000,
		 0, 900, CHILD_EXITED, 0, "", true},
		/* the straggler time does not outlast the deadline */
		{"straggler cut by the deadline", "sleep 30 & echo $! >%s; echo bye", 300, 5000,
		 250, 2000, CHILD_EXITED, 0, "bye\n"},
	};

	(void)state;
	snprintf(pidfile, sizeof(pidfile), "%s/bg.pid", unit_tmpdir());
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		char *argv[] = {"/bin/sh", "-c", script, NULL};
		struct run r;
		pid_t bg;

		unlink(pidfile);
		snprintf(script, sizeof(script), rows[i].script, pidfile);
		run(&r, argv, NULL, rows[i].budget, 4096, rows[i].straggler);
		if (r.rc || r.res.end != rows[i].end || r.res.code != rows[i].code ||
		    strcmp(buf_cstr(&r.out), rows[i].out))
			fail_msg("%s: rc %d (%s), end %d code %d output '%s'", rows[i].name, r.rc,
				 r.err, r.res.end, r.res.code, buf_cstr(&r.out));
		if (r.ms < rows[i].min_ms || r.ms > rows[i].max_ms)
			fail_msg("%s: took %llums, want %llu..%llu", rows[i].name,
				 (unsigned long long)r.ms, (unsigned long long)rows[i].min_ms,
				 (unsigned long long)rows[i].max_ms);
		bg = read_pid(pidfile);
		assert_true(bg > 0);
		if (rows[i].left_alone) {
			bool alive = running(bg);

			kill(bg, SIGKILL);
			if (!alive)
				fail_msg("%s: the background process %d was killed", rows[i].name,
					 (int)bg);
		} else if (!gone_soon(bg)) {
			kill(bg, SIGKILL);
			fail_msg("%s: the background process %d is still running", rows[i].name,
				 (int)bg);
		}
		buf_release(&r.out);
	}
}

/* ---- the output ---- */

static void test_output_cap(void **state)
{
	const struct {
		const char *script;
		size_t cap, want;
	} rows[] = {
		/* far past the cap and the pipe's buffer: it still runs to its end */
		{"head -c 300000 /dev/zero | tr '\\0' x; exit 4", 1000, 1000},
		{"head -c 300000 /dev/zero | tr '\\0' x; exit 4", 65536, 65536},
		{"head -c 300000 /dev/zero | tr '\\0' x; exit 4", 0, 0},
		{"printf 12345; exit 4", 5, 5},
		{"printf 1234; exit 4", 5, 4},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		char *argv[] = {"/bin/sh", "-c", (char *)rows[i].script, NULL};
		struct run r;

		run(&r, argv, NULL, 5000, rows[i].cap, 0);
		assert_int_equal(r.rc, 0);
		assert_int_equal(r.res.end, CHILD_EXITED);
		assert_int_equal(r.res.code, 4);
		assert_int_equal(r.out.len, rows[i].want);
		buf_release(&r.out);
	}
	/* what was there before is kept; the cap counts this run's bytes */
	{
		char *argv[] = {"/bin/sh", "-c", "printf abcdef", NULL};
		const struct child_spec spec = {
			.argv = argv, .deadline_ms = child_now_ms() + 5000, .output_cap = 3};
		struct child_result res;
		struct buf out = BUF_INIT;
		struct error err = ERROR_INIT;

		buf_puts(&out, "before:");
		assert_int_equal(child_run(&spec, &res, &out, &err), 0);
		assert_string_equal(buf_cstr(&out), "before:abc");
		buf_release(&out);
		error_release(&err);
	}
}

/* ---- what the child does not inherit ---- */

static void test_not_inherited(void **state)
{
	int fd = open("/dev/null", O_RDONLY), high = dup2(fd, 200);
	char script[256];
	char *argv[] = {"/bin/sh", "-c", script, NULL};
	sigset_t block, old;
	struct run r;

	(void)state;
	assert_true(fd > 2);
	assert_int_equal(high, 200);
	/* descriptors without close-on-exec (a lock, sockets) above 2 */
	snprintf(script, sizeof(script),
		 "i=0; while [ $i -lt 256 ]; do [ -e /proc/self/fd/$i ] && printf '%%s ' $i; "
		 "i=$((i+1)); done");
	run(&r, argv, NULL, 5000, 4096, 0);
	assert_int_equal(r.res.end, CHILD_EXITED);
	assert_string_equal(buf_cstr(&r.out), "0 1 2 ");
	buf_release(&r.out);
	close(fd);
	close(high);

	/* ignored signals and a blocked mask, as raptor reconcile has them */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	snprintf(script, sizeof(script), "grep -E '^Sig(Blk|Ign)' /proc/self/status");
	run(&r, argv, NULL, 5000, 4096, 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	assert_int_equal(r.res.end, CHILD_EXITED);
	assert_string_equal(buf_cstr(&r.out),
			    "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
	buf_release(&r.out);
}

/* ---- SIGCHLD ignored: the exit is reaped by the kernel ---- */

static void test_sigchld_ignored(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "echo hi; exit 3", NULL};
	char *missing[] = {"/nonexistent/cmd", NULL};
	struct run r;

	(void)state;
	signal(SIGCHLD, SIG_IGN);
	run(&r, argv, NULL, 5000, 4096, 0);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.res.end, CHILD_LOST);
	assert_string_equal(buf_cstr(&r.out), "hi\n");
	assert_true(r.ms < 2000);
	buf_release(&r.out);
	/* an exec failure is still told apart */
	run(&r, missing, NULL, 5000, 4096, 0);
	assert_int_equal(r.res.end, CHILD_NOT_RUN);
	assert_int_equal(r.res.code, ENOENT);
	buf_release(&r.out);
	/* with a straggler time, too */
	run(&r, argv, NULL, 5000, 4096, 500);
	assert_int_equal(r.res.end, CHILD_LOST);
	assert_string_equal(buf_cstr(&r.out), "hi\n");
	buf_release(&r.out);
	signal(SIGCHLD, SIG_DFL);
}

/* ---- several at once, on threads ---- */

#define THREADS 6

struct job {
	int n;
	struct run r;
};

static void *thread_run(void *arg)
{
	struct job *j = arg;
	char n[16];
	/* each sees only its own descriptors and leaves only its own name out */
	char *argv[] = {"/bin/sh",
			"-c",
			"sleep 0.2; i=3; while [ $i -lt 64 ]; do [ -e /proc/self/fd/$i ] && "
			"printf 'fd%s ' $i; i=$((i+1)); done; "
			"echo \"$1 ${RAPTOR_T0-} ${RAPTOR_T1-} ${RAPTOR_T2-}\"; exit $1",
			"sh",
			n,
			NULL};
	static const char *const drops[][2] = {
		{"RAPTOR_T0", NULL}, {"RAPTOR_T1", NULL}, {"RAPTOR_T2", NULL}};

	snprintf(n, sizeof(n), "%d", j->n);
	run(&j->r, argv, drops[j->n % 3], 10000, 4096, j->n % 2 ? 500 : 0);
	return NULL;
}

static void test_threads(void **state)
{
	struct job jobs[THREADS];
	pthread_t th[THREADS];
	uint64_t start = child_now_ms();

	(void)state;
	setenv("RAPTOR_T0", "a", 1);
	setenv("RAPTOR_T1", "b", 1);
	setenv("RAPTOR_T2", "c", 1);
	for (int i = 0; i < THREADS; i++) {
		jobs[i].n = i;
		assert_int_equal(pthread_create(&th[i], NULL, thread_run, &jobs[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < THREADS; i++) {
		static const char *const want[] = {"0  b c\n", "1 a  c\n", "2 a b \n",
						   "3  b c\n", "4 a  c\n", "5 a b \n"};
		struct run *r = &jobs[i].r;

		if (r->rc || r->res.end != CHILD_EXITED || r->res.code != i ||
		    strcmp(buf_cstr(&r->out), want[i]))
			fail_msg("thread %d: rc %d (%s) end %d code %d output '%s', want '%s'", i,
				 r->rc, r->err, r->res.end, r->res.code, buf_cstr(&r->out),
				 want[i]);
		buf_release(&r->out);
	}
	/* they ran side by side, not one after another */
	assert_true(child_now_ms() - start < THREADS * 200);
	unsetenv("RAPTOR_T0");
	unsetenv("RAPTOR_T1");
	unsetenv("RAPTOR_T2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_drop),
		cmocka_unit_test(test_ends),
		cmocka_unit_test(test_deadline_and_group),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_not_inherited),
		cmocka_unit_test(test_sigchld_ignored),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(unit_no_children_left),
	};
	return cmocka_run_group_tests_name("child", tests, unit_tmpdir_make, unit_tmpdir_remove);
}

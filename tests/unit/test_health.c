/*
 * Health checks against real local things, no mocks: listening and closed
 * sockets on the loopback, a tiny HTTP server in a forked child, and
 * uptests that are real programs (/bin/true, /bin/sh -c '...').
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "desired.h"
#include "health.h"
#include "http.h"

/* ---- sockets ---- */

/* A socket bound to `addr` on a port the kernel picks; listening when `backlog` > 0. */
static int bound_socket(int family, const char *addr, int backlog, int *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &in->sin_addr);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &in6->sin6_addr);
		len = sizeof(*in6);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (backlog && listen(fd, backlog) < 0) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* A port nothing listens on: bound, looked at, closed. */
static int closed_port(void)
{
	int port, fd = bound_socket(AF_INET, "127.0.0.1", 0, &port);

	assert_true(fd >= 0);
	close(fd);
	return port;
}

/*
 * The test's own children (servers, a late listener). Whatever happens to a
 * test, they cannot outlive it: each is registered and a teardown kills and
 * reaps what is left; each dies with this process (PR_SET_PDEATHSIG) and
 * after a minute in any case; and none holds this process's stdout or
 * stderr, so a pipeline reading the test's output is never kept open.
 */
static pid_t children[4];

static pid_t fork_child(void)
{
	pid_t parent = getpid(), pid;
	size_t slot = 0;

	while (slot < ARRAY_SIZE(children) && children[slot])
		slot++;
	assert_true(slot < ARRAY_SIZE(children));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null_fd = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		alarm(60);
		dup2(null_fd, 1);
		dup2(null_fd, 2);
		return 0;
	}
	children[slot] = pid;
	return pid;
}

static void stop_child(pid_t pid)
{
	int status;

	for (size_t i = 0; i < ARRAY_SIZE(children); i++)
		if (children[i] == pid)
			children[i] = 0;
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static int stop_children(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(children); i++) {
		if (children[i]) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
	return 0;
}

/* ---- a tiny HTTP server in a forked child ---- */

static const struct route {
	const char *path;
	int status;
	const char *extra; /* more header lines */
	size_t body;	   /* bytes of body */
	size_t claimed;	   /* the Content-Length sent, when not `body` */
} routes[] = {
	{"/ok", 200, "", 0},
	{"/nocontent", 204, "", 0},
	{"/redirect", 302, "Location: /down\r\n", 0}, /* followed, it would be a 503 */
	{"/down", 503, "", 0},
	{"/big", 200, "", 100000},
	{"/truncated", 200, "", 10, 1000}, /* closes 990 bytes short */
	{"/close", 0, "", 0},		   /* closes without a word */
};

static void __attribute__((noreturn)) serve(int lfd)
{
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		char req[8192], head[512], path[256] = "";
		struct timeval tv = {2, 0};
		const struct route *r = NULL;
		size_t got = 0;
		int fd = accept(lfd, NULL, NULL), n;

		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while (got < sizeof(req) - 1) {
			ssize_t k = read(fd, req + got, sizeof(req) - 1 - got);

			if (k <= 0)
				break;
			got += (size_t)k;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[got] = '\0';
		sscanf(req, "GET %255s ", path);
		for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
			if (!strcmp(routes[i].path, path))
				r = &routes[i];
		if (r && !r->status) {
			close(fd);
			continue;
		}
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
			     r ? r->status : 404, r ? "Whatever" : "Not Found",
			     r ? (r->claimed ? r->claimed : r->body) : 0, r ? r->extra : "");
		if (write(fd, head, (size_t)n) == n && r)
			for (size_t left = r->body; left;) {
				char x[4096];
				size_t k = left < sizeof(x) ? left : sizeof(x);

				memset(x, 'x', k);
				if (write(fd, x, k) <= 0)
					break;
				left -= k;
			}
		close(fd);
	}
}

/* The server listens before the fork, so it is ready as soon as this returns. */
static pid_t server_start(int *port)
{
	int lfd = bound_socket(AF_INET, "127.0.0.1", 16, port);
	pid_t pid;

	assert_true(lfd >= 0);
	pid = fork_child();
	if (pid == 0)
		serve(lfd);
	close(lfd);
	return pid;
}

/* ---- running checks ---- */

struct outcome {
	int rc;
	uint64_t ms;
	char msg[2048];
};

static void check(struct outcome *o, const char *address, int port, const struct health *h,
		  uint64_t budget_ms)
{
	struct health_target t = {"web1", address, port, h};
	struct error err = ERROR_INIT;
	uint64_t start = health_now_ms();

	o->rc = health_check(&t, start + budget_ms, &err);
	o->ms = health_now_ms() - start;
	snprintf(o->msg, sizeof(o->msg), "%s", o->rc ? error_msg(&err) : "");
	error_release(&err);
}

/* Every `want` is in the message; `unwanted`, when given, is not in what follows " after ". */
static void expect(const struct outcome *o, const char *what, int rc, const char *const *want,
		   size_t nwant, const char *unwanted)
{
	if (o->rc != rc)
		fail_msg("%s: rc %d, want %d (%s)", what, o->rc, rc, o->msg);
	for (size_t i = 0; i < nwant && want[i]; i++)
		if (!strstr(o->msg, want[i]))
			fail_msg("%s: '%s' is not in: %s", what, want[i], o->msg);
	if (unwanted &&
	    strstr(strstr(o->msg, " after ") ? strstr(o->msg, " after ") : o->msg, unwanted))
		fail_msg("%s: '%s' should not be in: %s", what, unwanted, o->msg);
}

/* ---- tcp ---- */

static void test_tcp(void **state)
{
	int port4, port6 = 0, closed = closed_port();
	int fd4 = bound_socket(AF_INET, "127.0.0.1", 8, &port4);
	int fd6 = bound_socket(AF_INET6, "::1", 8, &port6);
	char refused4[64], refused6[64];
	const struct health h = {.tcp = true};
	const struct {
		const char *address;
		int *port;
		uint64_t budget;
		int rc;
		const char *want[2];
		bool v6;
	} rows[] = {
		{"127.0.0.1", &port4, 2000, 0, {NULL}},
		{"localhost",
		 &port4,
		 2000,
		 0,
		 {NULL}}, /* looked up; ::1 may come first and refuse */
		{"::1", &port6, 2000, 0, {NULL}, true},
		{"127.0.0.1", &closed, 600, -1, {refused4, "connection refused for "}},
		{"::1", &closed, 600, -1, {refused6, "connection refused for "}, true},
		{"no-such-host.invalid",
		 &port4,
		 600,
		 -1,
		 {"tcp no-such-host.invalid:", ": cannot resolve the host name: "}},
	};

	(void)state;
	assert_true(fd4 >= 0);
	snprintf(refused4, sizeof(refused4), "tcp 127.0.0.1:%d: ", closed);
	snprintf(refused6, sizeof(refused6), "tcp [::1]:%d: ", closed);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct outcome o;

		if (rows[i].v6 && fd6 < 0)
			continue; /* no IPv6 loopback here */
		check(&o, rows[i].address, *rows[i].port, &h, rows[i].budget);
		expect(&o, rows[i].address, rows[i].rc, rows[i].want, 2, NULL);
		if (o.ms > 3000)
			fail_msg("%s: took %llums", rows[i].address, (unsigned long long)o.ms);
		/* a failure retries until the deadline, and not much longer */
		if (rows[i].rc && rows[i].address[0] != 'n' && o.ms < rows[i].budget - 50)
			fail_msg("%s: gave up after %llums", rows[i].address,
				 (unsigned long long)o.ms);
	}
	close(fd4);
	if (fd6 >= 0)
		close(fd6);
}

/* A port that starts listening 400 ms late: refused, retried, then healthy. */
static void test_tcp_retries(void **state)
{
	const struct health h = {.tcp = true};
	struct outcome o;
	int port, fd = bound_socket(AF_INET, "127.0.0.1", 0, &port);
	pid_t pid;

	(void)state;
	assert_true(fd >= 0);
	pid = fork_child();
	if (pid == 0) {
		usleep(400 * 1000);
		listen(fd, 8);
		pause();
		_exit(0);
	}
	close(fd); /* the child's copy keeps the port */
	check(&o, "127.0.0.1", port, &h, 5000);
	stop_child(pid);
	expect(&o, "late listener", 0, NULL, 0, NULL);
	assert_true(o.ms >= 300);
	assert_true(o.ms < 3000);
}

/* ---- http ---- */

static void test_http_get_status(void **state)
{
	int port, silent_port, closed = closed_port();
	pid_t pid = server_start(&port);
	int silent = bound_socket(AF_INET, "127.0.0.1", 8, &silent_port); /* never accepts */
	const struct {
		const char *path;
		int *port;
		uint64_t timeout;
		int rc;
		long status;
		const char *reason;
	} rows[] = {
		{"/ok", &port, 2000, 0, 200, NULL},
		{"/nocontent", &port, 2000, 0, 204, NULL},
		{"/redirect", &port, 2000, 0, 302, NULL}, /* not followed */
		{"/down", &port, 2000, 0, 503, NULL},
		{"/nowhere", &port, 2000, 0, 404, NULL},
		{"/big", &port, 2000, 0, 200, NULL},	   /* the body is dropped */
		{"/truncated", &port, 2000, 0, 200, NULL}, /* the status came: an answer */
		{"/close", &port, 2000, -1, 0, "connection closed without an answer"},
		{"/ok", &closed, 2000, -1, 0, "connection refused"},
		{"/ok", &silent_port, 300, -1, 0, "timed out after 300ms"},
	};

	(void)state;
	assert_true(silent >= 0);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct error err = ERROR_INIT;
		char url[128];
		long status = -1;
		uint64_t start = health_now_ms();
		int rc;

		snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", *rows[i].port, rows[i].path);
		rc = http_get_status(url, rows[i].timeout, &status, &err);
		if (rc != rows[i].rc || status != rows[i].status)
			fail_msg("%s: rc %d status %ld (%s)", url, rc, status,
				 rc ? error_msg(&err) : "");
		if (rows[i].reason && !strstr(error_msg(&err), rows[i].reason))
			fail_msg("%s: '%s' is not in: %s", url, rows[i].reason, error_msg(&err));
		assert_true(health_now_ms() - start < 2000);
		error_release(&err);
	}
	close(silent);
	stop_child(pid);
}

static void test_http_check(void **state)
{
	int port, silent_port, closed = closed_port();
	pid_t pid = server_start(&port);
	int silent = bound_socket(AF_INET, "127.0.0.1", 8, &silent_port);
	char down[128], missing[128], refused[128];
	const struct {
		const char *path;
		int *port;
		uint64_t budget;
		int rc;
		const char *want[2];
	} rows[] = {
		{"/ok", &port, 2000, 0, {NULL}},
		{"/nocontent", &port, 2000, 0, {NULL}},
		{"/redirect", &port, 2000, 0, {NULL}}, /* a 3xx is an answer */
		{"/big", &port, 2000, 0, {NULL}},
		{"/down", &port, 600, -1, {down}},
		{"/missing", &port, 300, -1, {missing}},
		{"/ok", &closed, 300, -1, {refused}},
		{"/ok", &silent_port, 600, -1, {": connected, but no answer for "}},
		{"/close", &port, 300, -1, {"connection closed without an answer for "}},
	};

	(void)state;
	assert_true(silent >= 0);
	snprintf(down, sizeof(down), "http GET http://127.0.0.1:%d/down answered 503 for ", port);
	snprintf(missing, sizeof(missing), "http GET http://127.0.0.1:%d/missing answered 404 for ",
		 port);
	snprintf(refused, sizeof(refused),
		 "http GET http://127.0.0.1:%d/ok: connection refused for ", closed);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct health h = {.http = (char *)rows[i].path};
		struct outcome o;

		check(&o, "127.0.0.1", *rows[i].port, &h, rows[i].budget);
		expect(&o, rows[i].path, rows[i].rc, rows[i].want, 2, NULL);
		/* tries until the deadline, then gives up well inside the loose bound */
		if (o.ms > 3000 || (rows[i].rc && o.ms + 50 < rows[i].budget))
			fail_msg("%s: took %llums", rows[i].path, (unsigned long long)o.ms);
	}
	{
		/* tcp, then http, both healthy */
		const struct health both = {.tcp = true, .http = "/ok"};
		struct outcome o;

		check(&o, "127.0.0.1", port, &both, 2000);
		expect(&o, "tcp and http", 0, NULL, 0, NULL);
	}
	close(silent);
	stop_child(pid);
}

/* ---- uptests ---- */

static const struct uptest_row {
	const char *name;
	char *argv[8];
	bool worker;
	uint64_t budget, min_ms, max_ms; /* 0: 300, 0, 3000 */
	int rc;
	const char *want[3];
	const char *unwanted;
} uptest_rows[] = {
	{.name = "true", .argv = {"/bin/true"}, .budget = 2000, .max_ms = 1000},
	{.name = "on PATH", .argv = {"true"}, .budget = 2000, .max_ms = 1000},
	/* fails, so it is tried again until the deadline, and given up right after */
	{.name = "exit 3",
	 .argv = {"/bin/sh", "-c", "echo bad; exit 3", "--"},
	 .budget = 600,
	 .min_ms = 550,
	 .rc = -1,
	 .want = {"uptest /bin/sh -c 'echo bad; exit 3' -- web1 5001 exited 3 after ", "ms: bad"}},
	{.name = "HOST PORT",
	 .argv = {"/bin/sh", "-c", "echo \"got $1 $2\"; exit 1", "sh"},
	 .rc = -1,
	 .want = {"exited 1 after", ": got web1 5001"}},
	{.name = "stdout and stderr",
	 .argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 4", "sh"},
	 .rc = -1,
	 .want = {"exited 4", ": out | err"}},
	{.name = "three lines",
	 .argv = {"/bin/sh", "-c", "printf '  one\\n\\n\\ttwo\\r\\nthree\\nfour\\n'; exit 1", "sh"},
	 .rc = -1,
	 .want = {": one | two | three | ..."},
	 .unwanted = "four"},
	{.name = "no output",
	 .argv = {"/bin/false"},
	 .rc = -1,
	 .want = {"uptest /bin/false web1 5001 exited 1 after ", " (no output)"}},
	{.name = "lots of output", /* far past the cap and the pipe's buffer */
	 .argv = {"/bin/sh", "-c", "yes line | head -n 100000; exit 5", "sh"},
	 .budget = 2000, /* a first try of 100,000 lines must end in it, loaded or not */
	 .rc = -1,
	 .want = {"exited 5", ": line | line | line | ..."}},
	{.name = "environment",
	 .argv = {"/bin/sh", "-c", "echo \"env=$RAPTOR_HEALTH_TEST\"; exit 1", "sh"},
	 .rc = -1,
	 .want = {": env=inherited"}},
	{.name = "signal",
	 .argv = {"/bin/sh", "-c", "kill -TERM $$", "sh"},
	 .rc = -1,
	 .want = {"was killed by signal 15", " after "}},
	{.name = "sleeps forever",
	 .argv = {"/bin/sh", "-c", "echo started; sleep 100; echo never", "sh"},
	 .budget = 600,
	 .min_ms = 550,
	 .rc = -1,
	 .want = {"was still running after ", "ms, killed: started"},
	 .unwanted = "never"},
	/* cannot start: no retries */
	{.name = "missing executable",
	 .argv = {"/nonexistent/uptest"},
	 .budget = 5000,
	 .max_ms = 1000,
	 .rc = -1,
	 .want = {"uptest /nonexistent/uptest web1 5001: cannot run /nonexistent/uptest: No such file or directory"}},
	{.name = "not on PATH",
	 .argv = {"raptor-no-such-uptest"},
	 .budget = 5000,
	 .max_ms = 1000,
	 .rc = -1,
	 .want = {"cannot run raptor-no-such-uptest: No such file"}},
	{.name = "not executable",
	 .argv = {"/dev/null"},
	 .budget = 5000,
	 .max_ms = 1000,
	 .rc = -1,
	 .want = {"cannot run /dev/null: Permission denied"}},
	/* its child holds the pipe, but the uptest is over */
	{.name = "leaves a child behind",
	 .argv = {"/bin/sh", "-c", "sleep 30 & exit 0", "sh"},
	 .budget = 5000,
	 .max_ms = 2000},
	/* a worker: tcp and http are skipped even when set, PORT is 0 */
	{.name = "worker",
	 .argv = {"/bin/sh", "-c", "echo \"got $1 $2\"; exit 1", "sh"},
	 .worker = true,
	 .rc = -1,
	 .want = {"uptest /bin/sh -c 'echo \"got $1 $2\"; exit 1' sh web1 0 exited 1 after ",
		  ": got web1 0"}},
	{.name = "worker passes",
	 .argv = {"/bin/sh", "-c", "[ \"$2\" = 0 ]", "sh"},
	 .worker = true},
};

static void test_uptests(void **state)
{
	(void)state;
	setenv("RAPTOR_HEALTH_TEST", "inherited", 1);
	for (size_t i = 0; i < ARRAY_SIZE(uptest_rows); i++) {
		const struct uptest_row *r = &uptest_rows[i];
		struct strv sv = {(char **)r->argv, 0};
		const struct health h = {.uptests = &sv, .nuptests = 1};
		const struct health worker = {
			.tcp = true, .http = "/ok", .uptests = &sv, .nuptests = 1};
		uint64_t budget = r->budget ? r->budget : 300,
			 max_ms = r->max_ms ? r->max_ms : 3000;
		struct outcome o;

		while (sv.n < ARRAY_SIZE(r->argv) && r->argv[sv.n])
			sv.n++;
		check(&o, "127.0.0.1", r->worker ? 0 : 5001, r->worker ? &worker : &h, budget);
		expect(&o, r->name, r->rc, r->want, 3, r->unwanted);
		if (o.ms < r->min_ms || o.ms > max_ms)
			fail_msg("%s: took %llums, want %llu..%llu", r->name,
				 (unsigned long long)o.ms, (unsigned long long)r->min_ms,
				 (unsigned long long)max_ms);
	}
	unsetenv("RAPTOR_HEALTH_TEST");
}

/* The variable the credentials name is not in an uptest's environment; the rest is. */
static void test_uptest_env_drop(void **state)
{
	static const char *const drop[] = {"RAPTOR_HEALTH_SECRET", NULL};
	char *argv[] = {
		"/bin/sh", "-c",
		"echo \"secret=${RAPTOR_HEALTH_SECRET-unset} env=$RAPTOR_HEALTH_TEST\"; exit 1",
		"sh"};
	struct strv sv = {argv, 4};
	const struct health h = {.uptests = &sv, .nuptests = 1};
	struct health_target t = {"web1", "127.0.0.1", 5001, &h, drop};
	struct error err = ERROR_INIT;

	(void)state;
	setenv("RAPTOR_HEALTH_TEST", "inherited", 1);
	setenv("RAPTOR_HEALTH_SECRET", "user:hunter2", 1);
	assert_int_equal(health_check(&t, health_now_ms() + 300, &err), -1);
	if (!strstr(error_msg(&err), "exited 1 after ") ||
	    !strstr(error_msg(&err), ": secret=unset env=inherited"))
		fail_msg("%s", error_msg(&err));
	/* without the list, it would have been there */
	t.env_drop = NULL;
	assert_int_equal(health_check(&t, health_now_ms() + 300, &err), -1);
	assert_non_null(strstr(error_msg(&err), ": secret=user:hunter2 env=inherited"));
	unsetenv("RAPTOR_HEALTH_SECRET");
	unsetenv("RAPTOR_HEALTH_TEST");
	error_release(&err);
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/*
 * Two uptests: the first passes at once and logs each run; the second fails
 * twice, then passes. The first is not run again while the second retries.
 */
static void test_uptest_retries(void **state)
{
	char once[128], flaky[128];
	char *first[] = {"/bin/sh", "-c", "echo run >> \"$0\"", once};
	char *second[] = {"/bin/sh", "-c", "echo x >> \"$0\"; [ $(wc -l < \"$0\") -ge 3 ]", flaky};
	struct strv sv[] = {{first, 4}, {second, 4}};
	const struct health h = {.uptests = sv, .nuptests = 2};
	struct outcome o;

	(void)state;
	snprintf(once, sizeof(once), "%s/once", unit_tmpdir());
	snprintf(flaky, sizeof(flaky), "%s/flaky", unit_tmpdir());
	check(&o, "127.0.0.1", 5001, &h, 5000);
	expect(&o, "retries", 0, NULL, 0, NULL);
	assert_int_equal(count_lines(once), 1);
	assert_int_equal(count_lines(flaky), 3);
	assert_true(o.ms >= 2 * HEALTH_PAUSE_MS - 50);
	assert_true(o.ms < 3000);
}

/* What an uptest leaves running in its process group is killed when it exits. */
static void test_uptest_leftovers_killed(void **state)
{
	char pidfile[128], proc[64], stat[256] = "";
	char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo $! > \"$0\"", pidfile};
	struct strv sv = {argv, 4};
	const struct health h = {.uptests = &sv, .nuptests = 1};
	struct outcome o;
	FILE *f;
	int pid = 0;
	bool gone = false;

	(void)state;
	snprintf(pidfile, sizeof(pidfile), "%s/leftover", unit_tmpdir());
	check(&o, "127.0.0.1", 5001, &h, 5000);
	expect(&o, "leftover", 0, NULL, 0, NULL);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &pid), 1);
	fclose(f);
	snprintf(proc, sizeof(proc), "/proc/%d/stat", pid);
	/* gone, or a zombie waiting for whoever inherited it */
	for (int i = 0; i < 100 && !gone; i++) {
		f = fopen(proc, "r");
		gone = !f || !fgets(stat, sizeof(stat), f) || strstr(stat, ") Z ");
		if (f)
			fclose(f);
		if (!gone)
			usleep(10 * 1000);
	}
	if (!gone)
		fail_msg("the uptest's child %d is still running: %s", pid, stat);
}

/* A check that failed before the deadline is reported, not the try the deadline cut short. */
static void test_uptest_last_complete_result(void **state)
{
	char mark[128];
	/* fails at once the first time, then hangs until killed */
	char *argv[] = {"/bin/sh", "-c",
			"if [ -e \"$0\" ]; then sleep 100; fi; touch \"$0\"; echo first; exit 7",
			mark};
	struct strv sv = {argv, 4};
	const struct health h = {.uptests = &sv, .nuptests = 1};
	struct outcome o;
	const char *want[] = {"exited 7 after ", ": first"};

	(void)state;
	snprintf(mark, sizeof(mark), "%s/mark", unit_tmpdir());
	check(&o, "127.0.0.1", 5001, &h, 700);
	expect(&o, "cut short", -1, want, 2, "killed");
	assert_true(o.ms < 3000);
}

/* Checks run in order and the first failure ends the run. */
static void test_order(void **state)
{
	char ran[128];
	char *argv[] = {"/bin/sh", "-c", "echo ran >> \"$0\"", ran};
	struct strv sv = {argv, 4};
	int closed = closed_port();
	const struct health h = {.tcp = true, .http = "/ok", .uptests = &sv, .nuptests = 1};
	const struct health none = {0};
	struct outcome o;
	const char *want_tcp[] = {"tcp 127.0.0.1:"};
	const char *want_late[] = {"not tried: no time was left"};
	struct health_target t = {"web1", "127.0.0.1", closed, &none};
	struct error err = ERROR_INIT;

	(void)state;
	snprintf(ran, sizeof(ran), "%s/ran", unit_tmpdir());
	check(&o, "127.0.0.1", closed, &h, 300);
	expect(&o, "tcp first", -1, want_tcp, 1, "http");
	assert_int_equal(count_lines(ran), -1); /* the uptest never ran */

	/* a deadline already gone: nothing is tried, nothing blocks */
	check(&o, "127.0.0.1", closed, &h, 0);
	expect(&o, "no time", -1, want_late, 1, NULL);
	assert_true(o.ms < 100);

	/* no checks at all: healthy */
	assert_int_equal(health_check(&t, health_now_ms() + 100, &err), 0);
	error_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp),
		cmocka_unit_test_teardown(test_tcp_retries, stop_children),
		cmocka_unit_test_teardown(test_http_get_status, stop_children),
		cmocka_unit_test_teardown(test_http_check, stop_children),
		cmocka_unit_test(test_uptests),
		cmocka_unit_test(test_uptest_env_drop),
		cmocka_unit_test(test_uptest_retries),
		cmocka_unit_test(test_uptest_leftovers_killed),
		cmocka_unit_test(test_uptest_last_complete_result),
		cmocka_unit_test(test_order),
		cmocka_unit_test(unit_no_children_left),
	};
	return cmocka_run_group_tests_name("health", tests, unit_tmpdir_make, unit_tmpdir_remove);
}

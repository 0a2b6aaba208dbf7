/* Health checks: tcp, http, uptests; see health.h. */
#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "desired.h"
#include "http.h"
#include "units.h"
#include "xalloc.h"
#include "banned.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Without a pidfd, how often an uptest's exit is looked for. */
#define EXIT_TICK_MS 50

uint64_t health_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t left_ms(uint64_t deadline)
{
	uint64_t now = health_now_ms();

	return now < deadline ? deadline - now : 0;
}

static int poll_timeout(uint64_t ms)
{
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* For messages: whole seconds from 1s on, tens of milliseconds below. */
static void elapsed_format(struct buf *out, uint64_t ms)
{
	if (ms >= 1000)
		duration_format(out, (ms + 500) / 1000 * 1000);
	else
		duration_format(out, (ms + 5) / 10 * 10);
}

/*
 * What one try saw, for the message: the check's name, then `head`, then
 * (when `timed`) how long the check ran, then `tail`.
 */
struct seen {
	struct buf head, tail;
	bool timed;
};

enum try_result {
	TRY_PASS,
	TRY_FAIL,  /* try again while there is time */
	TRY_FATAL, /* trying again cannot help */
};

typedef enum try_result (*try_fn)(void *ctx, uint64_t deadline, struct seen *s);

static void seen_reset(struct seen *s)
{
	buf_reset(&s->head);
	buf_reset(&s->tail);
	s->timed = false;
}

static void seen_release(struct seen *s)
{
	buf_release(&s->head);
	buf_release(&s->tail);
}

static void seen_copy(struct seen *to, const struct seen *from)
{
	seen_reset(to);
	buf_puts(&to->head, buf_cstr(&from->head));
	buf_puts(&to->tail, buf_cstr(&from->tail));
	to->timed = from->timed;
}

/* Tries until a pass, a fatal failure or the deadline; see health.h. */
static int run_check(const char *what, try_fn fn, void *ctx, uint64_t deadline, struct error *err)
{
	struct seen now = {BUF_INIT, BUF_INIT, false}, last = {BUF_INIT, BUF_INIT, false};
	uint64_t start = health_now_ms();
	bool have_last = false;
	int rc = 0;

	if (start >= deadline)
		return error_set(err, "%s: not tried: no time was left before the deadline", what);
	for (;;) {
		enum try_result r;
		bool cut;

		seen_reset(&now);
		r = fn(ctx, deadline, &now);
		if (r == TRY_PASS)
			goto out;
		cut = health_now_ms() >= deadline;
		/* a try the deadline interrupted does not hide a complete one before it */
		if (!cut || !have_last) {
			seen_copy(&last, &now);
			have_last = true;
		}
		if (r == TRY_FATAL || cut)
			break;
		poll(NULL, 0, poll_timeout(min_u64(HEALTH_PAUSE_MS, left_ms(deadline))));
		if (!left_ms(deadline))
			break;
	}
	{
		struct buf msg = BUF_INIT;

		buf_puts(&msg, what);
		buf_puts(&msg, buf_cstr(&last.head));
		if (last.timed)
			elapsed_format(&msg, health_now_ms() - start);
		buf_puts(&msg, buf_cstr(&last.tail));
		rc = error_set(err, "%s", msg.ptr);
		buf_release(&msg);
	}
out:
	seen_release(&now);
	seen_release(&last);
	return rc;
}

/* ---- name lookup, bounded ---- */

/*
 * getaddrinfo() cannot be told to give up, so a host name is looked up on a
 * detached thread; the caller waits on a pipe for as long as it may and then
 * walks away. Whichever of the two lets go last frees the lookup.
 */
struct lookup {
	pthread_mutex_t lock;
	int refs, rc, fds[2];
	struct addrinfo *res;
	char *host, service[16];
};

static void lookup_unref(struct lookup *l)
{
	bool last;

	pthread_mutex_lock(&l->lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->lock);
	if (!last)
		return;
	if (l->res)
		freeaddrinfo(l->res);
	close(l->fds[0]);
	close(l->fds[1]);
	free(l->host);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static const struct addrinfo stream_hints = {.ai_socktype = SOCK_STREAM,
					     .ai_flags = AI_NUMERICSERV};

static void *lookup_run(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(l->host, l->service, &stream_hints, &res);
	ssize_t n;

	pthread_mutex_lock(&l->lock);
	l->rc = rc;
	l->res = rc ? NULL : res;
	pthread_mutex_unlock(&l->lock);
	do
		n = write(l->fds[1], "", 1); /* the read end stays open until the last unref */
	while (n < 0 && errno == EINTR);
	lookup_unref(l);
	return NULL;
}

/* 0 with the addresses, or -1 with the reason in `why`. */
static int resolve(const char *host, int port, uint64_t until, struct addrinfo **out,
		   struct buf *why)
{
	struct addrinfo hints = stream_hints;
	char service[16];
	struct lookup *l;
	pthread_attr_t attr;
	pthread_t th;
	int rc, ready;

	snprintf(service, sizeof(service), "%d", port);
	hints.ai_flags |= AI_NUMERICHOST; /* an address: answered at once, no lookup */
	rc = getaddrinfo(host, service, &hints, out);
	if (rc != EAI_NONAME)
		goto answered;

	l = xcalloc(1, sizeof(*l));
	if (pipe(l->fds) < 0) {
		free(l);
		buf_printf(why, "cannot resolve the host name: pipe: %s", strerror(errno));
		return -1;
	}
	fcntl(l->fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(l->fds[1], F_SETFD, FD_CLOEXEC);
	pthread_mutex_init(&l->lock, NULL);
	l->refs = 2;
	l->host = xstrdup(host);
	memcpy(l->service, service, sizeof(service));
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &attr, lookup_run, l);
	pthread_attr_destroy(&attr);
	if (rc) {
		l->refs = 1;
		lookup_unref(l);
		rc = getaddrinfo(host, service, &stream_hints, out); /* no thread: unbounded */
		goto answered;
	}
	do {
		struct pollfd p = {.fd = l->fds[0], .events = POLLIN};

		ready = poll(&p, 1, poll_timeout(left_ms(until)));
	} while (ready < 0 && errno == EINTR);
	if (ready <= 0) {
		lookup_unref(l);
		buf_puts(why, "cannot resolve the host name: no answer from the resolver");
		return -1;
	}
	pthread_mutex_lock(&l->lock);
	rc = l->rc;
	*out = l->res;
	l->res = NULL;
	pthread_mutex_unlock(&l->lock);
	lookup_unref(l);
answered:
	if (!rc)
		return 0;
	*out = NULL;
	if (rc == EAI_NONAME)
		buf_puts(why, "cannot resolve the host name: no such host");
	else if (rc == EAI_SYSTEM)
		buf_printf(why, "cannot resolve the host name: %s", strerror(errno));
	else
		buf_printf(why, "cannot resolve the host name: %s", gai_strerror(rc));
	return -1;
}

/* ---- tcp ---- */

struct tcp_ctx {
	const char *address;
	int port;
};

/* 0 when connected, or an errno (ETIMEDOUT when `until` passed first). */
static int connect_one(const struct addrinfo *ai, uint64_t until)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	int e = 0;

	if (fd < 0)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		e = errno;
		while (e == EINPROGRESS || e == EINTR) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int n = poll(&p, 1, poll_timeout(left_ms(until)));
			socklen_t len = sizeof(e);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				e = errno;
			else if (n == 0)
				e = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
				e = errno;
		}
	}
	close(fd);
	return e;
}

static void describe_errno(struct buf *out, int e)
{
	switch (e) {
	case ECONNREFUSED:
		buf_puts(out, "connection refused");
		break;
	case ETIMEDOUT:
		buf_puts(out, "connect timed out");
		break;
	case EHOSTUNREACH:
		buf_puts(out, "host unreachable");
		break;
	case ENETUNREACH:
		buf_puts(out, "network unreachable");
		break;
	default:
		buf_printf(out, "cannot connect: %s", strerror(e));
	}
}

static enum try_result tcp_try(void *vctx, uint64_t deadline, struct seen *s)
{
	const struct tcp_ctx *c = vctx;
	uint64_t until = min_u64(deadline, health_now_ms() + HEALTH_TRY_MS);
	struct addrinfo *res, *ai;
	struct buf why = BUF_INIT;
	size_t n = 0, i = 0;
	int e = ETIMEDOUT;

	s->timed = true;
	if (resolve(c->address, c->port, until, &res, &why) < 0) {
		buf_printf(&s->head, ": %s for ", why.ptr);
		buf_release(&why);
		return TRY_FAIL;
	}
	for (ai = res; ai; ai = ai->ai_next)
		n++;
	/* the addresses share the try's time, so a silent first one leaves some for the rest */
	for (ai = res; ai; ai = ai->ai_next, i++) {
		uint64_t left = left_ms(until);

		e = connect_one(ai, health_now_ms() + left / (n - i));
		if (!e)
			break;
	}
	freeaddrinfo(res);
	if (!e)
		return TRY_PASS;
	buf_puts(&s->head, ": ");
	describe_errno(&s->head, e);
	buf_puts(&s->head, " for ");
	return TRY_FAIL;
}

/* ---- http ---- */

struct http_ctx {
	const char *url;
};

static enum try_result http_try(void *vctx, uint64_t deadline, struct seen *s)
{
	const struct http_ctx *c = vctx;
	struct error e = ERROR_INIT;
	long status = 0;

	s->timed = true;
	if (http_get_status(c->url, min_u64(left_ms(deadline), HEALTH_TRY_MS), &status, &e) < 0) {
		const char *why = error_msg(&e);

		/* "for 20s" follows: the length of one try is noise (http.c's wording) */
		if (!strncmp(why, "connect timed out", 17))
			why = "connect timed out";
		else if (!strncmp(why, "timed out", 9))
			why = "connected, but no answer";
		buf_printf(&s->head, ": %s for ", why);
		error_release(&e);
		return TRY_FAIL;
	}
	error_release(&e);
	if (status >= 200 && status < 400)
		return TRY_PASS;
	buf_printf(&s->head, " answered %ld for ", status);
	return TRY_FAIL;
}

/* "host:port", with brackets around an IPv6 address. */
static void host_port(struct buf *out, const char *address, int port)
{
	if (strchr(address, ':'))
		buf_printf(out, "[%s]:%d", address, port);
	else
		buf_printf(out, "%s:%d", address, port);
}

/* ---- uptests ---- */

struct uptest_ctx {
	char **argv; /* the uptest's words, then HOST and PORT, then NULL */
};

/* In the child, between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn)) uptest_child(char **argv, int out, int ex, int null_fd)
{
	struct sigaction dfl;
	sigset_t none;
	int e;

	setpgid(0, 0);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &dfl, NULL); /* an ignored SIGPIPE would outlive exec */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* out of the way of 0, 1 and 2 first, in case any of them was closed in raptor */
	out = fcntl(out, F_DUPFD_CLOEXEC, 3);
	ex = fcntl(ex, F_DUPFD_CLOEXEC, 3);
	null_fd = fcntl(null_fd, F_DUPFD_CLOEXEC, 3);
	if (out < 0 || ex < 0 || null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(out, 2) < 0) {
		e = errno;
		goto fail;
	}
	if (!argv[0]) { /* the loader refuses an empty uptest; never exec nothing */
		e = ENOENT;
		goto fail;
	}
#ifdef SYS_close_range
	/* nothing else of raptor's (sockets, the state lock) reaches the uptest */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
	execvp(argv[0], argv);
	e = errno;
fail:
	if (ex >= 0)
		while (write(ex, &e, sizeof(e)) < 0 && errno == EINTR)
			;
	_exit(127);
}

/* Reads what is there without blocking; keeps up to the cap. 0 at end of file. */
static int drain(int fd, struct buf *out)
{
	char chunk[4096];

	for (int i = 0; i < 64; i++) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		size_t room = HEALTH_OUTPUT_CAP - out->len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1; /* EAGAIN, or an error: stop reading either way */
		if (n == 0)
			return 0;
		buf_add(out, chunk, (size_t)n < room ? (size_t)n : room);
	}
	return 1;
}

/* The first lines of an uptest's output that are not blank, on one line. */
static void output_lines(struct buf *out, const struct buf *text)
{
	const char *p = buf_cstr(text), *end = p + text->len;
	int shown = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *q = p;
		size_t len;

		while (eol > p && (eol[-1] == '\r' || eol[-1] == ' ' || eol[-1] == '\t'))
			eol--;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		len = (size_t)(eol - q);
		if (len) {
			if (shown == HEALTH_OUTPUT_LINES) {
				buf_puts(out, " | ...");
				return;
			}
			buf_puts(out, shown ? " | " : ": ");
			if (len > 200) {
				buf_add_printable(out, q, 200);
				buf_puts(out, "...");
			} else {
				buf_add_printable(out, q, len);
			}
			shown++;
		}
		p = nl ? nl + 1 : end;
	}
	if (!shown)
		buf_puts(out, " (no output)");
}

/*
 * What the child says when exec failed: 1 with the errno; 0 at end of file
 * (exec worked) or on an error; -1 when nothing is there yet.
 */
static int read_exec_errno(int fd, int *exec_errno)
{
	int e;
	ssize_t n;

	do
		n = read(fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(e)) {
		*exec_errno = e;
		return 1;
	}
	return n < 0 && errno == EAGAIN ? -1 : 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static enum try_result uptest_try(void *vctx, uint64_t deadline, struct seen *s)
{
	const struct uptest_ctx *c = vctx;
	int out[2] = {-1, -1}, ex[2] = {-1, -1}, null_fd, pidfd = -1, exec_errno = 0, status = 0;
	struct buf text = BUF_INIT;
	bool killed = false, reaped = false;
	enum try_result r = TRY_FAIL;
	pid_t pid;

	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || pipe(out) < 0 || pipe(ex) < 0) {
		buf_printf(&s->head, ": cannot start it: %s", strerror(errno));
		goto cleanup;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(out[i], F_SETFD, FD_CLOEXEC);
		fcntl(ex[i], F_SETFD, FD_CLOEXEC);
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(ex[0], F_SETFL, O_NONBLOCK);
	pid = fork();
	if (pid < 0) {
		buf_printf(&s->head, ": cannot start it: fork: %s", strerror(errno));
		goto cleanup;
	}
	if (pid == 0)
		uptest_child(c->argv, out[1], ex[1], null_fd);
	close_fd(&out[1]);
	close_fd(&ex[1]);
	close_fd(&null_fd);
	setpgid(pid, pid); /* as the child does: whichever runs first makes the group */
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif

	for (;;) { /* until it exits, or the time is up */
		struct pollfd p[3];
		nfds_t np = 0;
		siginfo_t si;
		uint64_t left;

		/* has it exited? WNOWAIT leaves it a zombie, so its group id stays its own */
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			reaped = true; /* ECHILD: SIGCHLD is ignored and it was reaped */
			break;
		}
		if (si.si_pid == pid)
			break;
		left = left_ms(deadline);
		if (!left) {
			killed = true;
			break;
		}
		if (out[0] >= 0)
			p[np++] = (struct pollfd){.fd = out[0], .events = POLLIN};
		if (ex[0] >= 0)
			p[np++] = (struct pollfd){.fd = ex[0], .events = POLLIN};
		if (pidfd >= 0)
			p[np++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (pidfd < 0)
			left = min_u64(left, EXIT_TICK_MS);
		if (poll(p, np, poll_timeout(left)) <= 0)
			continue;
		for (nfds_t i = 0; i < np; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == out[0] && !drain(out[0], &text))
				close_fd(&out[0]);
			if (p[i].fd == ex[0] && read_exec_errno(ex[0], &exec_errno) >= 0)
				close_fd(&ex[0]);
		}
	}
	/* the deadline, or what it left behind in its group: gone either way */
	if (!reaped)
		kill(-pid, SIGKILL);
	if (killed)
		kill(pid, SIGKILL); /* in case the group was never made */
	if (out[0] >= 0)
		drain(out[0], &text);
	if (ex[0] >= 0)
		read_exec_errno(ex[0], &exec_errno);
	while (!reaped && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;

	if (exec_errno) {
		buf_printf(&s->head, ": cannot run %s: %s", c->argv[0], strerror(exec_errno));
		r = TRY_FATAL;
	} else if (killed) {
		s->timed = true;
		buf_puts(&s->head, " was still running after ");
		buf_puts(&s->tail, ", killed");
		if (text.len)
			output_lines(&s->tail, &text);
	} else if (reaped) {
		s->timed = true;
		buf_puts(&s->head, " ended with an unknown status (SIGCHLD is ignored) after ");
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		r = TRY_PASS;
	} else if (WIFEXITED(status)) {
		s->timed = true;
		buf_printf(&s->head, " exited %d after ", WEXITSTATUS(status));
		output_lines(&s->tail, &text);
	} else {
		s->timed = true;
		buf_printf(&s->head, " was killed by signal %d (%s) after ", WTERMSIG(status),
			   strsignal(WTERMSIG(status)));
		output_lines(&s->tail, &text);
	}
cleanup:
	close_fd(&pidfd);
	close_fd(&null_fd);
	for (int i = 0; i < 2; i++) {
		close_fd(&out[i]);
		close_fd(&ex[i]);
	}
	buf_release(&text);
	return r;
}

/* A word as a person would type it to a shell, for messages only. */
static void quote_word(struct buf *out, const char *w)
{
	const char *safe =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./:=@%+,";

	if (*w && strspn(w, safe) == strlen(w)) {
		buf_puts(out, w);
		return;
	}
	buf_putc(out, '\'');
	for (const char *p = w; *p; p++) {
		if (*p == '\'')
			buf_puts(out, "'\\''");
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			buf_add_printable(out, p, 1);
		else
			buf_putc(out, *p);
	}
	buf_putc(out, '\'');
}

static int run_uptest(const struct health_target *t, const struct strv *sv, uint64_t deadline,
		      struct error *err)
{
	struct uptest_ctx c;
	struct buf what = BUF_INIT;
	char port[16];
	int rc;

	if (!sv->n)
		return error_set(err, "uptest: an empty command");
	snprintf(port, sizeof(port), "%d", t->port > 0 ? t->port : 0);
	c.argv = xcalloc(sv->n + 3, sizeof(*c.argv));
	for (size_t i = 0; i < sv->n; i++)
		c.argv[i] = sv->v[i];
	c.argv[sv->n] = (char *)(t->host ? t->host : t->address);
	c.argv[sv->n + 1] = port;
	buf_puts(&what, "uptest");
	for (size_t i = 0; c.argv[i]; i++) {
		buf_putc(&what, ' ');
		quote_word(&what, c.argv[i]);
	}
	rc = run_check(what.ptr, uptest_try, &c, deadline, err);
	buf_release(&what);
	free(c.argv);
	return rc;
}

int health_check(const struct health_target *t, uint64_t deadline_ms, struct error *err)
{
	const struct health *h = t->h;
	struct buf what = BUF_INIT;
	int rc = 0;

	if (!h)
		return 0;
	if (t->port > 0 && h->tcp) {
		struct tcp_ctx c = {t->address, t->port};

		buf_puts(&what, "tcp ");
		host_port(&what, t->address, t->port);
		rc = run_check(what.ptr, tcp_try, &c, deadline_ms, err);
	}
	if (!rc && t->port > 0 && h->http) {
		struct buf url = BUF_INIT;
		struct http_ctx c;

		buf_puts(&url, "http://");
		host_port(&url, t->address, t->port);
		if (h->http[0] != '/')
			buf_putc(&url, '/');
		buf_puts(&url, h->http);
		c.url = url.ptr;
		buf_reset(&what);
		buf_printf(&what, "http GET %s", url.ptr);
		rc = run_check(what.ptr, http_try, &c, deadline_ms, err);
		buf_release(&url);
	}
	for (size_t i = 0; !rc && i < h->nuptests; i++)
		rc = run_uptest(t, &h->uptests[i], deadline_ms, err);
	buf_release(&what);
	return rc;
}

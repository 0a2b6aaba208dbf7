/* Health checks: tcp, http, uptests; see health.h. */
#define _GNU_SOURCE /* pipe2 */
#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "child.h"
#include "desired.h"
#include "http.h"
#include "units.h"
#include "xalloc.h"
#include "banned.h"

/* the uptests' deadlines are child.c's: one clock */
uint64_t health_now_ms(void)
{
	return child_now_ms();
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
	/* close-on-exec at once: checks run on threads, and another one's fork
	 * between a pipe() and an fcntl() would leak the pipe to its child */
	if (pipe2(l->fds, O_CLOEXEC) < 0) {
		free(l);
		buf_printf(why, "cannot resolve the host name: pipe: %s", strerror(errno));
		return -1;
	}
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
	const char *const *env_drop;
};

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

static enum try_result uptest_try(void *vctx, uint64_t deadline, struct seen *s)
{
	const struct uptest_ctx *c = vctx;
	/* what it leaves running in its group goes when it exits: no straggler time */
	const struct child_spec spec = {.argv = c->argv,
					.env_drop = c->env_drop,
					.deadline_ms = deadline,
					.output_cap = HEALTH_OUTPUT_CAP,
					.straggler_ms = 0};
	struct child_result res;
	struct buf text = BUF_INIT;
	struct error e = ERROR_INIT;
	enum try_result r = TRY_FAIL;

	if (child_run(&spec, &res, &text, &e) < 0) {
		buf_printf(&s->head, ": cannot start it: %s", error_msg(&e));
		goto cleanup;
	}
	switch (res.end) {
	case CHILD_NOT_RUN:
		buf_printf(&s->head, ": cannot run %s: %s", c->argv[0], strerror(res.code));
		r = TRY_FATAL;
		break;
	case CHILD_TIMED_OUT:
		s->timed = true;
		buf_puts(&s->head, " was still running after ");
		buf_puts(&s->tail, ", killed");
		if (text.len)
			output_lines(&s->tail, &text);
		break;
	case CHILD_LOST:
		s->timed = true;
		buf_puts(&s->head, " ended with an unknown status (SIGCHLD is ignored) after ");
		break;
	case CHILD_EXITED:
		if (res.code == 0) {
			r = TRY_PASS;
			break;
		}
		s->timed = true;
		buf_printf(&s->head, " exited %d after ", res.code);
		output_lines(&s->tail, &text);
		break;
	case CHILD_SIGNALED:
		s->timed = true;
		buf_printf(&s->head, " was killed by signal %d (%s) after ", res.code,
			   strsignal(res.code));
		output_lines(&s->tail, &text);
		break;
	}
cleanup:
	buf_release(&text);
	error_release(&e);
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
	c.env_drop = t->env_drop;
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

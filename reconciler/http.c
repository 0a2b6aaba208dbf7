/* The libcurl transport; see http.h. */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "units.h"
#include "vec.h"
#include "xalloc.h"
#include "banned.h"

#ifndef RAPTOR_VERSION
#define RAPTOR_VERSION "unknown"
#endif

struct http_transfer {
	struct http_multi *multi;
	CURL *easy;
	struct curl_slist *headers;
	struct buf request, response, reason;
	char errbuf[CURL_ERROR_SIZE];
	bool too_big;
	uint64_t added_ms; /* when it was handed to curl */
	bool connected;	   /* seen connected */
	bool parked;	   /* still connecting after the grace: it holds no slot */
	long status;	   /* HTTP status, once finished */
	double seconds;	   /* the whole exchange, once finished */
	uint64_t connect_ms, request_ms;
	size_t cap;
	http_done_fn done;
	void *ctx;
};

struct http_multi {
	CURLM *multi;
	size_t concurrency, active, parked, next;
	VEC(struct http_transfer *) queue;
	VEC(struct http_transfer *) running; /* handed to curl, not finished */
};

void http_redact_url(struct buf *out, const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *host = scheme ? scheme + 3 : url;
	const char *slash = strchr(host, '/');
	const char *at = strchr(host, '@');

	if (at && (!slash || at < slash)) {
		buf_add(out, url, (size_t)(host - url));
		buf_puts(out, "***@");
		buf_puts(out, at + 1);
	} else {
		buf_puts(out, url);
	}
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_transfer *t = userp;
	size_t n = size * nmemb;

	if (t->response.len + n > t->cap) {
		t->too_big = true;
		return 0; /* curl stops the transfer with CURLE_WRITE_ERROR */
	}
	if (buf_add(&t->response, data, n) < 0) {
		t->too_big = true;
		return 0;
	}
	return n;
}

struct http_multi *http_multi_new(size_t concurrency)
{
	struct http_multi *m = xcalloc(1, sizeof(*m));

	curl_global_init(CURL_GLOBAL_DEFAULT);
	m->multi = curl_multi_init();
	m->concurrency = concurrency ? concurrency : 1;
	curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)m->concurrency);
	return m;
}

void http_multi_add(struct http_multi *m, const struct http_endpoint *ep, const char *body,
		    size_t len, http_done_fn done, void *ctx)
{
	struct http_transfer *t = xcalloc(1, sizeof(*t));
	const char *url = ep->url;

	t->multi = m;
	t->done = done;
	t->ctx = ctx;
	t->connect_ms = ep->connect_ms;
	t->request_ms = ep->request_ms;
	t->cap = ep->max_response ? ep->max_response : HTTP_MAX_RESPONSE;
	buf_init(&t->response, t->cap + 1);
	buf_add(&t->request, body, len);
	t->easy = curl_easy_init();
	/* medusa never sends 100 Continue: an Expect: header stalls a second */
	t->headers = curl_slist_append(NULL, "Content-Type: text/xml");
	t->headers = curl_slist_append(t->headers, "Expect:");
	t->headers = curl_slist_append(t->headers, "Accept: text/xml");
	curl_easy_setopt(t->easy, CURLOPT_URL, url);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, buf_cstr(&t->request));
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->request.len);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)ep->connect_ms);
	/* `request` bounds the whole exchange, connect included; `connect` its first part */
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS,
			 (long)(ep->request_ms > ep->connect_ms ? ep->request_ms : ep->connect_ms));
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	if (ep->unix_socket)
		curl_easy_setopt(t->easy, CURLOPT_UNIX_SOCKET_PATH, ep->unix_socket);
	if (ep->userpwd) {
		curl_easy_setopt(t->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(t->easy, CURLOPT_USERPWD, ep->userpwd);
	}
	if (ep->ca_file)
		curl_easy_setopt(t->easy, CURLOPT_CAINFO, ep->ca_file);
	vec_push(&m->queue, t);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void start_more(struct http_multi *m)
{
	while (m->active < m->concurrency && m->parked < m->concurrency * HTTP_PARKED_MAX &&
	       m->next < m->queue.n) {
		struct http_transfer *t = m->queue.v[m->next++];

		t->added_ms = now_ms();
		curl_multi_add_handle(m->multi, t->easy);
		vec_push(&m->running, t);
		m->active++;
	}
}

/*
 * A host that has not taken the connection within the grace is most likely
 * down (powered off: its SYNs go unanswered), and waiting out its connect
 * timeout in a slot would hold up the hosts queued behind it. Such a
 * transfer keeps going, but its slot goes to the next host, so a fleet with
 * dead hosts takes about the connect timeout longer, not that timeout once
 * for every `concurrency` dead hosts. Returns how long until the next
 * transfer's grace runs out (UINT64_MAX: none is waiting for it).
 */
static uint64_t park_slow_connects(struct http_multi *m)
{
	uint64_t now = now_ms(), next = UINT64_MAX;

	for (size_t i = 0; i < m->running.n; i++) {
		struct http_transfer *t = m->running.v[i];
		curl_off_t connect_us = 0;

		if (t->connected || t->parked)
			continue;
		curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
		if (connect_us > 0) {
			t->connected = true;
		} else if (now - t->added_ms >= HTTP_CONNECT_GRACE_MS) {
			t->parked = true;
			m->active--;
			m->parked++;
		} else if (t->added_ms + HTTP_CONNECT_GRACE_MS - now < next) {
			next = t->added_ms + HTTP_CONNECT_GRACE_MS - now;
		}
	}
	return next;
}

static void describe_failure(struct http_transfer *t, CURLcode rc)
{
	struct buf *r = &t->reason;
	curl_off_t connect_us = 0;
	long os_errno = 0;

	curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED)
			buf_puts(
				r,
				"connection refused (is supervisord running and listening there?)");
		else if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
			buf_puts(r, "host unreachable");
		else
			buf_printf(r, "cannot connect: %s",
				   t->errbuf[0] ? t->errbuf : strerror((int)os_errno));
		break;
	case CURLE_OPERATION_TIMEDOUT:
		if (!connect_us) {
			buf_puts(r, "connect timed out after ");
			duration_format(r, t->connect_ms);
			buf_puts(r, " (settings.timeouts.connect)");
		} else {
			buf_puts(r, "connected, but no answer within ");
			duration_format(r, t->request_ms);
			buf_puts(r, " (settings.timeouts.request)");
		}
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		buf_puts(r, "cannot resolve the host name");
		break;
	case CURLE_WRITE_ERROR:
		if (t->too_big) {
			buf_puts(r, "response larger than ");
			size_format(r, t->cap);
			buf_puts(r, ": refused");
			break;
		}
		/* fall through */
	default:
		if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
		    rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE)
			buf_puts(r, "TLS: ");
		else if (rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
			 rc == CURLE_SEND_ERROR)
			buf_puts(r, "connection closed: ");
		buf_puts(r, t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
	}
}

/* An HTTP answer that is not an XML-RPC response, in words. */
static void describe_status(struct http_transfer *t, long status, const char *ctype)
{
	struct buf *r = &t->reason;

	if (status == 401)
		buf_puts(r,
			 "HTTP 401: authentication failed (check settings.supervisor.credentials)");
	else if (status == 500)
		buf_puts(r, "HTTP 500: supervisord failed inside the call (see its log)");
	else if (status != 200)
		buf_printf(r, "HTTP %ld", status);
	else
		buf_printf(
			r,
			"not an XML-RPC answer (Content-Type %s): check settings.supervisor.path",
			ctype ? ctype : "missing");
}

/* The transport's side of a finished transfer: its outcome read, its
 * handle out of the multi, its slot free for the next host. */
static void settle(struct http_multi *m, struct http_transfer *t, CURLcode rc)
{
	const char *ctype = NULL;

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
	curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ctype);
	curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME, &t->seconds);
	if (rc != CURLE_OK) {
		describe_failure(t, rc);
	} else if (t->status != 200 || !ctype || !strstr(ctype, "xml")) {
		describe_status(t, t->status, ctype);
	}
	curl_multi_remove_handle(m->multi, t->easy);
	if (t->parked)
		m->parked--;
	else
		m->active--;
	for (size_t i = 0; i < m->running.n; i++) {
		if (m->running.v[i] == t) {
			m->running.v[i] = m->running.v[--m->running.n];
			break;
		}
	}
}

/* The caller's side: its callback reads the answer, which then goes. */
static void deliver(struct http_transfer *t)
{
	struct http_result res = {0};

	res.status = t->status;
	res.failed = t->reason.len ? -1 : 0;
	res.error = t->reason.len ? t->reason.ptr : NULL;
	res.body = &t->response;
	res.seconds = t->seconds;
	t->done(t->ctx, &res);
	/* the answer has been handed over: a large fleet must not hold them all */
	buf_release(&t->response);
	buf_release(&t->request);
}

int http_multi_run(struct http_multi *m, struct error *err)
{
	VEC(struct http_transfer *) done = {0};
	int rc = 0;

	start_more(m);
	for (;;) {
		int running = 0, left, wait_ms;
		CURLMcode mc = curl_multi_perform(m->multi, &running);
		uint64_t grace;
		CURLMsg *msg;

		if (mc != CURLM_OK) {
			rc = error_set(err, "HTTP transport: %s", curl_multi_strerror(mc));
			goto cleanup;
		}
		while ((msg = curl_multi_info_read(m->multi, &left))) {
			struct http_transfer *t = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			settle(m, t, msg->data.result);
			vec_push(&done, t);
		}
		/* the next hosts' requests leave before the answers are read (a
		 * callback decodes XML, the costly part of a large fleet), so their
		 * round trips overlap that work instead of following it */
		if (done.n) {
			start_more(m);
			mc = curl_multi_perform(m->multi, &running);
			if (mc != CURLM_OK) {
				rc = error_set(err, "HTTP transport: %s", curl_multi_strerror(mc));
				goto cleanup;
			}
		}
		for (size_t i = 0; i < done.n; i++)
			deliver(done.v[i]);
		done.n = 0;
		grace = park_slow_connects(m);
		start_more(m);
		if (!m->running.n && m->next >= m->queue.n)
			goto cleanup;
		/* wakes on socket activity, curl's own next timeout, or the end of a
		 * connect's grace, whichever is first */
		wait_ms = grace < 1000 ? (int)grace + 1 : 1000;
		mc = curl_multi_poll(m->multi, NULL, 0, wait_ms, NULL);
		if (mc != CURLM_OK) {
			rc = error_set(err, "HTTP transport: %s", curl_multi_strerror(mc));
			goto cleanup;
		}
	}
cleanup:
	vec_release(&done);
	return rc;
}

void http_multi_free(struct http_multi *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->queue.n; i++) {
		struct http_transfer *t = m->queue.v[i];

		curl_multi_remove_handle(m->multi, t->easy);
		curl_easy_cleanup(t->easy);
		curl_slist_free_all(t->headers);
		buf_release(&t->request);
		buf_release(&t->response);
		buf_release(&t->reason);
		free(t);
	}
	vec_release(&m->queue);
	vec_release(&m->running);
	curl_multi_cleanup(m->multi);
	curl_global_cleanup();
	free(m);
}

/* ---- a plain GET for health checks ---- */

struct get_body {
	size_t seen;
};

static size_t on_get_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct get_body *b = userp;
	size_t n = size * nmemb;

	(void)data;
	if (n > HTTP_GET_BODY_CAP - b->seen)
		return 0; /* enough: the status is known, stop with CURLE_WRITE_ERROR */
	b->seen += n;
	return n;
}

static void describe_get_failure(struct buf *r, CURL *easy, CURLcode rc, const char *errbuf,
				 uint64_t timeout_ms)
{
	curl_off_t connect_us = 0;
	long os_errno = 0;

	curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED)
			buf_puts(r, "connection refused");
		else if (os_errno == EHOSTUNREACH)
			buf_puts(r, "host unreachable");
		else if (os_errno == ENETUNREACH)
			buf_puts(r, "network unreachable");
		else
			buf_printf(r, "cannot connect: %s",
				   errbuf[0] ? errbuf : strerror((int)os_errno));
		break;
	case CURLE_OPERATION_TIMEDOUT:
		buf_puts(r, connect_us ? "timed out after " : "connect timed out after ");
		duration_format(r, timeout_ms);
		if (connect_us)
			buf_puts(r, " waiting for the answer");
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		buf_puts(r, "cannot resolve the host name");
		break;
	case CURLE_GOT_NOTHING:
		buf_puts(r, "connection closed without an answer");
		break;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		buf_puts(r, "connection closed: ");
		/* fall through */
	default:
		buf_puts(r, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
}

int http_get_status(const char *url, uint64_t timeout_ms, long *status, struct error *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct get_body body = {0};
	struct buf reason = BUF_INIT;
	CURLcode rc;
	CURL *easy;
	long code = 0;
	int ret = 0;

	*status = 0;
	if (!timeout_ms)
		timeout_ms = 1;
	if (timeout_ms > LONG_MAX)
		timeout_ms = LONG_MAX;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	easy = curl_easy_init();
	if (!easy) {
		curl_global_cleanup();
		return error_set(err, "HTTP transport: cannot start a transfer");
	}
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(easy, CURLOPT_PROXY, ""); /* "" turns off every proxy, env ones too */
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "raptor/" RAPTOR_VERSION " health check");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_get_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	rc = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	/* a status line is the answer, whatever became of the body after it */
	if (rc == CURLE_OK || code > 0) {
		*status = code;
	} else {
		describe_get_failure(&reason, easy, rc, errbuf, timeout_ms);
		ret = error_set(err, "%s", buf_cstr(&reason));
	}
	buf_release(&reason);
	curl_easy_cleanup(easy);
	curl_global_cleanup();
	return ret;
}

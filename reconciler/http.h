/*
 * The HTTP transport, and the only file that uses libcurl: XML-RPC POSTs to
 * supervisord over http, https or a unix socket, many at once through one
 * multi handle. Each transfer carries its own request, capped response
 * buffer, error buffer and caller context, and ends with a reason a person
 * can read ("connection refused", "no answer within 10s", "HTTP 401: ...").
 * Credentials go in CURLOPT_USERPWD, never in a URL, and any user:password
 * that a URL holds is redacted from every message.
 */
#ifndef RAPTOR_HTTP_H
#define RAPTOR_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define HTTP_MAX_RESPONSE ((size_t)64 << 20)
/* A transfer still connecting after this long gives its slot to the next
 * host and goes on as one of at most HTTP_PARKED_MAX x concurrency such
 * transfers: a powered-off host costs its connect timeout once, not a slot
 * for that long (a reachable host connects within a round trip). */
#define HTTP_CONNECT_GRACE_MS 250
#define HTTP_PARKED_MAX	      4

struct http_endpoint {
	const char *url;	 /* for a unix socket: the path part is used */
	const char *unix_socket; /* or NULL */
	const char *userpwd;	 /* "user:password" or NULL */
	const char *ca_file;	 /* or NULL for the system's CAs */
	uint64_t connect_ms, request_ms;
	size_t max_response; /* 0: HTTP_MAX_RESPONSE */
};

struct http_result {
	int failed;	   /* 0: an HTTP 200 with an XML body arrived */
	long status;	   /* HTTP status, 0 if none */
	const char *error; /* when failed: the reason in words */
	struct buf *body;  /* the response body: the callback may take its bytes (moving the
			    * struct and leaving BUF_INIT behind); what is left is freed after it */
	double seconds;	   /* how long the transfer took */
};

typedef void (*http_done_fn)(void *ctx, const struct http_result *r);

struct http_multi;

struct http_multi *http_multi_new(size_t concurrency);
/* Queues a POST of `body` (copied); `done` runs inside http_multi_run. */
void http_multi_add(struct http_multi *m, const struct http_endpoint *ep, const char *body,
		    size_t len, http_done_fn done, void *ctx);
/* Runs every queued transfer to its end, at most `concurrency` at a time
 * (not counting those parked after HTTP_CONNECT_GRACE_MS of connecting). */
int http_multi_run(struct http_multi *m, struct error *err);
void http_multi_free(struct http_multi *m);

/* `url` with any user:password replaced by "***", for messages. */
void http_redact_url(struct buf *out, const char *url);

/*
 * A plain GET for health checks, on its own easy handle: no auth, no proxy
 * (the environment's *_proxy variables are ignored: a check asks the
 * instance itself), no redirects followed (a 3xx counts as an answer), and
 * no body kept: the first HTTP_GET_BODY_CAP bytes are read and dropped, and
 * a longer body ends the transfer. A status line, once it came, is the
 * answer whatever becomes of the body after it. `timeout_ms` bounds the
 * whole exchange, name lookup and connect included (0 is taken as 1 ms,
 * never as "no limit"). 0 with the status, or -1 with the reason in words
 * ("connection refused", "connect timed out after 5s", "timed out after 5s
 * waiting for the answer", "connection closed without an answer", ...).
 */
#define HTTP_GET_BODY_CAP ((size_t)4 << 10)
int http_get_status(const char *url, uint64_t timeout_ms, long *status, struct error *err);

#endif

/* Fleet fan-out; see fleet.h. */
#include "fleet.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "credentials.h"
#include "http.h"
#include "xalloc.h"
#include "xmlrpc.h"
#include "banned.h"

/* supervisor's fault codes (supervisor/xmlrpc.py) that change the message */
#define FAULT_UNKNOWN_METHOD 1
#define FAULT_SHUTDOWN_STATE 6

/* supervisord's largest real answer here, 1,000 programs, is about 2.4 MiB;
 * a host sending more is refused before its XML is parsed */
#define FLEET_MAX_RESPONSE ((size_t)8 << 20)

void fleet_targets_build(fleet_targets *out, const struct desired *d, const char *const *squads,
			 size_t nsquads, const struct fleet_target *extra, size_t nextra)
{
	for (size_t i = 0; i < d->squads.n; i++) {
		const struct squad *q = &d->squads.v[i];
		bool wanted = !nsquads;

		for (size_t j = 0; j < nsquads; j++)
			wanted |= !strcmp(squads[j], q->name);
		if (!wanted)
			continue;
		for (size_t j = 0; j < q->nhosts; j++) {
			struct fleet_target t = {q->hosts[j].name, q->hosts[j].address, q->name,
						 q->hosts[j].url};
			vec_push(out, t);
		}
	}
	if (nsquads)
		return;
	for (size_t i = 0; i < nextra; i++) {
		bool listed = false;

		for (size_t j = 0; j < out->n && !listed; j++)
			listed = !strcmp(out->v[j].name, extra[i].name);
		if (!listed)
			vec_push(out, extra[i]);
	}
}

void fleet_opts_from_settings(struct fleet_opts *o, const struct settings *s)
{
	memset(o, 0, sizeof(*o));
	o->credentials = s->supervisor.credentials;
	o->ca_file = s->supervisor.ca_file;
	o->unix_socket = s->supervisor.scheme == SCHEME_UNIX ? s->supervisor.socket : NULL;
	o->connect_ms = s->timeouts.connect_ms;
	o->request_ms = s->timeouts.request_ms;
	o->concurrency = (size_t)s->concurrency;
}

static const char *str_or_empty(struct arena *a, const struct xr_value *st, const char *name)
{
	const struct xr_value *v = xr_get(st, name);

	return v && v->type == XR_STRING ? arena_strndup(a, v->u.str.ptr, v->u.str.len) : "";
}

static int64_t int_or_zero(const struct xr_value *st, const char *name)
{
	const struct xr_value *v = xr_get(st, name);

	return v && v->type == XR_INT ? v->u.i : 0;
}

static int read_processes(struct live *l, struct live_host *h, const struct xr_value *v,
			  struct error *err)
{
	size_t n;

	if (xr_as_array(v, "getAllProcessInfo", &n, err) < 0)
		return -1;
	h->procs = arena_alloc(&l->mem, n * sizeof(*h->procs));
	for (size_t i = 0; i < n; i++) {
		const struct xr_value *st = v->u.array.items[i];
		struct live_process *p = &h->procs[i];
		const char *name, *group, *statename;
		int64_t state;

		if (xr_member_string(st, "name", &name, err) < 0 ||
		    xr_member_string(st, "group", &group, err) < 0 ||
		    xr_member_string(st, "statename", &statename, err) < 0 ||
		    xr_member_int(st, "state", &state, err) < 0)
			return error_prefix(err, "getAllProcessInfo: ");
		p->name = arena_strdup(&l->mem, name);
		p->group = arena_strdup(&l->mem, group);
		p->statename = arena_strdup(&l->mem, statename);
		p->state = (int)state;
		p->pid = (int)int_or_zero(st, "pid");
		p->start = int_or_zero(st, "start");
		p->stop = int_or_zero(st, "stop");
		p->now = int_or_zero(st, "now");
		p->exitstatus = (int)int_or_zero(st, "exitstatus");
		p->spawnerr = str_or_empty(&l->mem, st, "spawnerr");
		p->description = str_or_empty(&l->mem, st, "description");
	}
	h->nprocs = n;
	return 0;
}

static int read_programs(struct live *l, struct live_host *h, const struct xr_value *v,
			 struct error *err)
{
	size_t n;

	if (xr_as_array(v, "raptor.listPrograms", &n, err) < 0)
		return -1;
	h->programs = arena_alloc(&l->mem, n * sizeof(*h->programs));
	for (size_t i = 0; i < n; i++) {
		const struct xr_value *st = v->u.array.items[i];
		const struct xr_value *meta = xr_get(st, "meta");
		struct live_program *p = &h->programs[i];
		const char *name;

		if (xr_member_string(st, "name", &name, err) < 0)
			return error_prefix(err, "raptor.listPrograms: ");
		p->name = arena_strdup(&l->mem, name);
		p->file = str_or_empty(&l->mem, st, "file");
		p->mtime = int_or_zero(st, "mtime");
		if (meta && meta->type == XR_STRUCT) {
			p->meta = arena_alloc(&l->mem, meta->u.st.n * sizeof(*p->meta));
			for (size_t j = 0; j < meta->u.st.n; j++) {
				const struct xr_value *mv = meta->u.st.members[j].value;

				if (mv->type != XR_STRING)
					continue;
				p->meta[p->nmeta].key =
					arena_strdup(&l->mem, meta->u.st.members[j].name);
				p->meta[p->nmeta].value =
					arena_strndup(&l->mem, mv->u.str.ptr, mv->u.str.len);
				p->nmeta++;
			}
		}
	}
	h->nprograms = n;
	return 0;
}

static int read_ports(struct live *l, struct live_host *h, const struct xr_value *v,
		      struct error *err)
{
	size_t n;

	if (xr_as_array(v, "raptor.listeningPorts", &n, err) < 0)
		return -1;
	h->ports = arena_alloc(&l->mem, n * sizeof(*h->ports));
	for (size_t i = 0; i < n; i++) {
		int64_t port;

		if (xr_as_int(v->u.array.items[i], "a listening port", &port, err) < 0)
			return error_prefix(err, "raptor.listeningPorts: ");
		h->ports[i] = (int)port;
	}
	h->nports = n;
	return 0;
}

/* A fault inside the multicall, in words; the plugin's absence gets advice. */
static int call_fault(const struct fleet_call *c, struct error *err)
{
	if (c->result)
		return 0;
	if (c->fault_code == FAULT_UNKNOWN_METHOD && !strncmp(c->method, "raptor.", 7))
		return error_set(
			err,
			"the raptor plugin is not installed on this host (%s is unknown; see contrib/README.md)",
			c->method);
	if (c->fault_code == FAULT_SHUTDOWN_STATE)
		return error_set(err, "supervisord is shutting down");
	return error_set(err, "%s failed: fault %d: %s", c->method, c->fault_code,
			 c->fault ? c->fault : "no answer");
}

/* The four calls every host gets, in one round trip: all it has to say. */
static const char *const query_methods[] = {"supervisor.getAllProcessInfo", "raptor.getAPIVersion",
					    "raptor.listPrograms", "raptor.listeningPorts"};

static int decode_host(struct live *l, struct live_host *h, const struct fleet_batch *b,
		       struct error *err)
{
	const struct fleet_call *c = b->calls;
	int64_t api;

	if (b->error)
		return error_set(err, "%s", b->error);
	/* the plugin first: without it, nothing here can be told apart */
	for (size_t i = 1; i < 4; i++)
		if (call_fault(&c[i], err) < 0)
			return -1;
	if (call_fault(&c[0], err) < 0 ||
	    xr_as_int(c[1].result, "raptor.getAPIVersion", &api, err) < 0)
		return -1;
	if (api != RAPTOR_PLUGIN_API)
		return error_set(
			err,
			"the raptor plugin here speaks API version %lld; this raptor needs %d (update contrib/supervisor/raptor_rpc.py on the host)",
			(long long)api, RAPTOR_PLUGIN_API);
	if (read_processes(l, h, c[0].result, err) < 0 ||
	    read_programs(l, h, c[2].result, err) < 0 || read_ports(l, h, c[3].result, err) < 0)
		return -1;
	return 0;
}

struct query_ctx {
	struct live *out;
	const struct fleet_target *targets;
	struct fleet_batch *batches;
};

/* A host's answer into the live model the moment it is in; its XML tree and
 * its batch are freed right away, so memory follows the hosts in flight, not
 * the fleet. */
static void decode_done(struct fleet_batch *b, void *ctx)
{
	struct query_ctx *q = ctx;
	size_t i = (size_t)(b - q->batches);
	const struct fleet_target *t = &q->targets[i];
	struct live_host *h = &q->out->hosts.v[i];
	struct error why = ERROR_INIT;

	h->name = arena_strdup(&q->out->mem, t->name);
	h->address = arena_strdup(&q->out->mem, t->address);
	h->squad = arena_strdup(&q->out->mem, t->squad);
	h->url = arena_strdup(&q->out->mem, t->url);
	h->seconds = b->seconds;
	if (decode_host(q->out, h, b, &why) < 0) {
		h->error = arena_strdup(&q->out->mem, error_msg(&why));
		h->nprocs = h->nprograms = h->nports = 0;
	} else {
		h->reachable = true;
	}
	error_release(&why);
	fleet_batch_release(b);
}

int fleet_query(struct live *out, const struct fleet_target *targets, size_t n,
		const struct fleet_opts *o, struct error *err)
{
	struct fleet_batch *batches = calloc(n ? n : 1, sizeof(*batches));
	struct query_ctx q = {out, targets, batches};
	struct fleet_call *calls;
	struct arena mem = ARENA_INIT;
	int rc = -1;

	live_init(out);
	/* every host asks the same four calls: one array for all of them */
	calls = arena_alloc(&mem, (n ? n : 1) * 4 * sizeof(*calls));
	for (size_t i = 0; i < n; i++) {
		struct fleet_batch *b = &batches[i];

		b->host = targets[i].name;
		b->url = targets[i].url;
		b->calls = calls + 4 * i;
		b->ncalls = 4;
		for (size_t k = 0; k < 4; k++)
			b->calls[k].method = query_methods[k];
		b->done = decode_done;
		b->done_ctx = &q;
		vec_add(&out->hosts);
	}
	if (fleet_call_run(batches, n, o, err) < 0)
		goto cleanup;
	rc = 0;
cleanup:
	for (size_t i = 0; i < n; i++)
		fleet_batch_release(&batches[i]);
	free(batches);
	arena_release(&mem);
	return rc;
}

/* ---- answers decoded beside the transfers ---- */

/*
 * Decoding a host's XML is most of what a large fleet's query costs, and it
 * needs nothing but the answer, so it runs on worker threads, one per core,
 * while the caller's thread keeps the transfers going. Each batch is decoded
 * into its own arena; the batches' `done` callbacks (which write a shared
 * live model) run one at a time, under done_lock. A queue longer than two
 * answers a worker is decoded by the caller's thread itself, so answers
 * waiting in memory stay few however fast the hosts reply.
 */
struct decode_job {
	struct fleet_batch *b;
	struct buf body;
	struct decode_job *next;
};

struct fleet_decoders {
	pthread_mutex_t lock; /* the queue */
	pthread_cond_t work;  /* a job was queued, or the run is over */
	pthread_mutex_t done_lock;
	struct decode_job *head, **tail;
	size_t queued;
	bool closing;
	pthread_t *threads;
	unsigned n;
};

#define FLEET_DECODERS_MAX 8

/* The answer's calls, or the reason the batch failed, in the batch. */
static void decode_answer(struct fleet_batch *b, const struct buf *body)
{
	struct error err = ERROR_INIT;
	size_t n;

	if (xr_parse_response(&b->resp, body->ptr ? body->ptr : "", body->len, &err) < 0) {
		error_prefix(&err, "malformed XML-RPC answer: ");
		b->error = arena_strdup(&b->mem, error_msg(&err));
		goto cleanup;
	}
	if (b->resp.fault) {
		error_set(&err, "system.multicall failed: fault %d: %s", b->resp.fault_code,
			  b->resp.fault_string ? b->resp.fault_string : "");
		b->error = arena_strdup(&b->mem, error_msg(&err));
		goto cleanup;
	}
	if (xr_as_array(b->resp.value, "system.multicall", &n, &err) < 0) {
		b->error = arena_strdup(&b->mem, error_msg(&err));
		goto cleanup;
	}
	if (n != b->ncalls) {
		error_set(&err, "system.multicall answered %zu results for %zu calls", n,
			  b->ncalls);
		b->error = arena_strdup(&b->mem, error_msg(&err));
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		const struct xr_value *v = b->resp.value->u.array.items[i];
		const char *msg;
		int code;

		if (xr_is_fault(v, &code, &msg)) {
			b->calls[i].fault_code = code;
			b->calls[i].fault = msg;
		} else {
			b->calls[i].result = v;
		}
	}
cleanup:
	error_release(&err);
}

static void finish_batch(struct fleet_decoders *d, struct fleet_batch *b)
{
	if (b->error)
		for (size_t i = 0; i < b->ncalls; i++)
			b->calls[i].fault = b->error;
	if (!b->done)
		return;
	pthread_mutex_lock(&d->done_lock);
	b->done(b, b->done_ctx);
	pthread_mutex_unlock(&d->done_lock);
}

static void *decoder(void *arg)
{
	struct fleet_decoders *d = arg;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		struct decode_job *j = d->head;

		if (!j) {
			if (d->closing)
				break;
			pthread_cond_wait(&d->work, &d->lock);
			continue;
		}
		d->head = j->next;
		if (!d->head)
			d->tail = &d->head;
		d->queued--;
		pthread_mutex_unlock(&d->lock);
		decode_answer(j->b, &j->body);
		buf_release(&j->body);
		finish_batch(d, j->b);
		free(j);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static void decoders_start(struct fleet_decoders *d, size_t batches)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = cores > 1 ? (size_t)cores : 0;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->work, NULL);
	pthread_mutex_init(&d->done_lock, NULL);
	d->tail = &d->head;
	if (want > FLEET_DECODERS_MAX)
		want = FLEET_DECODERS_MAX;
	if (want > batches)
		want = batches;
	if (want < 2)
		return; /* the caller's thread decodes as answers come */
	xr_init();	/* libxml2's process-wide set-up, before any thread parses */
	d->threads = xcalloc(want, sizeof(*d->threads));
	for (size_t i = 0; i < want; i++)
		if (!pthread_create(&d->threads[d->n], NULL, decoder, d))
			d->n++;
}

/* Waits for every queued answer to be decoded and its batch finished. */
static void decoders_stop(struct fleet_decoders *d)
{
	pthread_mutex_lock(&d->lock);
	d->closing = true;
	pthread_cond_broadcast(&d->work);
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->n; i++)
		pthread_join(d->threads[i], NULL);
	free(d->threads);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->work);
	pthread_mutex_destroy(&d->done_lock);
}

/* Hands the answer to a worker; false when there is none, or the queue is
 * long enough that the caller had better decode this one itself. */
static bool decoders_take(struct fleet_decoders *d, struct fleet_batch *b, struct buf *body)
{
	struct decode_job *j;

	if (!d->n)
		return false;
	pthread_mutex_lock(&d->lock);
	if (d->queued >= 2 * (size_t)d->n) {
		pthread_mutex_unlock(&d->lock);
		return false;
	}
	j = xcalloc(1, sizeof(*j));
	j->b = b;
	j->body = *body; /* the answer's bytes change hands, not copied */
	*body = (struct buf)BUF_INIT;
	*d->tail = j;
	d->tail = &j->next;
	d->queued++;
	pthread_cond_signal(&d->work);
	pthread_mutex_unlock(&d->lock);
	return true;
}

static void on_batch_done(void *ctx, const struct http_result *res)
{
	struct fleet_batch *b = ctx;

	b->seconds = res->seconds;
	if (res->failed)
		b->error = arena_strdup(&b->mem, res->error);
	else if (decoders_take(b->decoders, b, res->body))
		return;
	else
		decode_answer(b, res->body);
	finish_batch(b->decoders, b);
}

int fleet_call_run(struct fleet_batch *batches, size_t n, const struct fleet_opts *o,
		   struct error *err)
{
	struct buf userpwd = BUF_INIT, body = BUF_INIT;
	struct arena tree = ARENA_INIT;
	struct http_multi *m = NULL;
	struct fleet_decoders dec;
	int rc = -1;

	decoders_start(&dec, n);
	if (o->credentials && credentials_load(&userpwd, o->credentials, err) < 0)
		goto cleanup;
	m = http_multi_new(o->concurrency);
	for (size_t i = 0; i < n; i++) {
		struct fleet_batch *b = &batches[i];
		struct xr_value *calls;
		struct http_endpoint ep = {
			.url = b->url,
			.unix_socket = o->unix_socket,
			.userpwd = o->credentials ? userpwd.ptr : NULL,
			.ca_file = o->ca_file,
			.connect_ms = o->connect_ms,
			.request_ms = o->request_ms,
			.max_response = FLEET_MAX_RESPONSE,
		};

		if (!b->ncalls)
			continue;
		b->decoders = &dec;
		/* the request's tree only lives until it is encoded (the transfer
		 * keeps the bytes): one small arena, reused, not one per host */
		arena_release(&tree);
		calls = xr_array(&tree, b->ncalls);
		for (size_t j = 0; j < b->ncalls; j++) {
			struct xr_value *call = xr_struct(&tree, 2), *params;

			params = xr_array(&tree, b->calls[j].nparams);
			for (size_t k = 0; k < b->calls[j].nparams; k++)
				params->u.array.items[k] = b->calls[j].params[k];
			xr_struct_set(call, 0, &tree, "methodName",
				      xr_string(&tree, b->calls[j].method));
			xr_struct_set(call, 1, &tree, "params", params);
			calls->u.array.items[j] = call;
		}
		buf_reset(&body);
		if (xr_encode_call(&body, "system.multicall", &calls, 1, err) < 0) {
			error_prefix(err, "%s: ", b->host);
			goto cleanup;
		}
		http_multi_add(m, &ep, body.ptr, body.len, on_batch_done, b);
	}
	if (http_multi_run(m, err) < 0)
		goto cleanup;
	rc = 0;
cleanup:
	decoders_stop(&dec);
	http_multi_free(m);
	if (userpwd.ptr)
		explicit_bzero(userpwd.ptr, userpwd.len);
	buf_release(&userpwd);
	buf_release(&body);
	arena_release(&tree);
	return rc;
}

void fleet_batch_release(struct fleet_batch *b)
{
	xr_response_release(&b->resp);
	arena_release(&b->mem);
}

/* The executor; see executor.h for the phases and their rules. */
#include "executor.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "balancer.h"
#include "credentials.h"
#include "health.h"
#include "health_pool.h"
#include "progtext.h"
#include "state.h"
#include "strmap.h"
#include "xalloc.h"
#include "banned.h"

/* supervisor's fault codes (supervisor/xmlrpc.py) that mean "already done" */
#define FAULT_BAD_NAME	      10
#define FAULT_ALREADY_STARTED 60
#define FAULT_NOT_RUNNING     70
#define FAULT_ALREADY_ADDED   90

/* STARTING: waiting for RUNNING in supervisord; CHECKING: RUNNING, its health
 * checks to run; HEALTH: they run (in the health pool) */
enum job_state {
	JOB_PENDING,
	JOB_STARTING,
	JOB_CHECKING,
	JOB_HEALTH,
	JOB_OK,
	JOB_FAILED,
	JOB_SKIPPED
};

struct swarm_run {
	const char *identity;
	const struct swarm *s;
	size_t surge;
	bool failed;
};

struct job {
	const struct plan_action *a;
	struct swarm_run *sw;
	enum job_state st;
	uint64_t started_ms, deadline_ms;
	const char *text;	 /* the program file */
	size_t put, reload, add; /* its calls in the start batch of its host */
	unsigned wave;		 /* the wave that started it (1, 2, ...) */
	bool left_up;		 /* taken back, but not seen stopped: it stays unchecked */
};

/* Where each stop action stands: waiting, leaving with this wave (out of the
 * pools, then stopped), done, or not run because its swarm failed. */
enum stop_state { STOP_PENDING, STOP_NOW, STOP_DONE };

struct run {
	const struct plan *p;
	const struct desired *d;
	const struct live *l;
	const struct apply_opts *o;
	struct apply_result *res;
	VEC(struct job) jobs;
	struct strmap swarms;	/* identity -> struct swarm_run * */
	enum stop_state *stops; /* per plan action; only stop actions use theirs */
	bool *reloaded;		/* per desired balancer: reloaded at least once */
	unsigned wave;
	/* STATE/unchecked.json as it is to be, and whether it is not yet */
	state_instances unchecked;
	bool unchecked_dirty;
	bool halted; /* that record could not be written: nothing more touches a host */
	struct arena mem;
	struct buf b;
	char created[32];
	/* what the uptests and the balancer's commands must not inherit: the
	 * credentials' variable (DESIGN.md §7); NULL-terminated */
	const char *env_drop[2];
};

static void progress(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void progress(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->o->progress)
		return;
	va_start(ap, fmt);
	vfprintf(r->o->progress, fmt, ap);
	va_end(ap);
	fputc('\n', r->o->progress);
	fflush(r->o->progress);
}

static void failure(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void failure(struct run *r, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&r->b);
	va_start(ap, fmt);
	buf_vprintf(&r->b, fmt, ap);
	va_end(ap);
	vec_push(&r->res->failures, arena_strndup(&r->res->mem, r->b.ptr, r->b.len));
	r->res->failed_actions++;
	progress(r, "raptor apply: %s", r->b.ptr);
}

static void journal_detail(struct run *r, const char *op, const struct plan_action *a,
			   const char *result, const char *error, double secs, const char *detail)
{
	struct journal_entry e = {
		.op = op,
		.host = a ? a->host : NULL,
		.program = a ? a->program : NULL,
		.swarm = a ? a->swarm : NULL,
		.pool = a ? a->pool : NULL,
		.result = result,
		.error = error,
		.commit = r->o->commit,
		.seconds = secs,
		.detail = detail,
	};
	struct error err = ERROR_INIT;

	apply_result_count(r->res, op, result);
	/* a journal that cannot be written is reported, and the apply goes on:
	 * the hosts hold the truth, the journal is its history */
	if (state_journal(r->o->state_dir, &e, &err) < 0) {
		r->res->journal_errors++;
		progress(r, "raptor apply: journal: %s", error_msg(&err));
	}
	error_release(&err);
}

static void journal(struct run *r, const char *op, const struct plan_action *a, const char *result,
		    const char *error, double secs)
{
	journal_detail(r, op, a, result, error, secs, NULL);
}

static struct swarm_run *swarm_of(struct run *r, const char *identity)
{
	return identity ? strmap_get(&r->swarms, identity) : NULL;
}

static size_t surge_of(const struct swarm *s)
{
	const struct amount *a = &s->rollout.max_surge;
	size_t n = a->percent ? ((size_t)s->size * (size_t)a->value + 99) / 100 : (size_t)a->value;

	return n ? n : 1;
}

static const struct live_host *host_of(const struct run *r, const char *name)
{
	for (size_t i = 0; i < r->l->hosts.n; i++)
		if (!strcmp(r->l->hosts.v[i].name, name))
			return &r->l->hosts.v[i];
	return NULL;
}

/* A program started again where it is after a stop by hand: it was checked
 * before and served, so it is no new instance (it stays in its pool unless
 * it fails, replaces nothing, and a failure only stops it again). A recheck
 * is a new instance in all but its start, whether it is started again or
 * runs already. */
static bool in_place(const struct plan_action *a)
{
	return a->restart && !a->recheck;
}

/* An unchecked instance that runs: nothing to start, only its check. */
static bool runs_already(const struct plan_action *a)
{
	return a->recheck && !a->restart;
}

/* ---- batches: one multicall per host ---- */

struct batches {
	VEC(struct fleet_batch) v;
};

static struct fleet_batch *batch_for(struct run *r, struct batches *bs, const char *host)
{
	const struct live_host *h = host_of(r, host);
	struct fleet_batch *b;

	for (size_t i = 0; i < bs->v.n; i++)
		if (!strcmp(bs->v.v[i].host, host))
			return &bs->v.v[i];
	b = vec_add(&bs->v);
	b->host = host;
	b->url = h ? h->url : "";
	return b;
}

/* Calls are collected per batch in a vector kept in the batch's arena. */
static struct fleet_call *add_call(struct fleet_batch *b, const char *method, size_t nparams)
{
	struct fleet_call *calls = arena_alloc(&b->mem, (b->ncalls + 1) * sizeof(*calls));

	if (b->ncalls)
		memcpy(calls, b->calls, b->ncalls * sizeof(*calls));
	b->calls = calls;
	calls[b->ncalls].method = method;
	calls[b->ncalls].nparams = nparams;
	calls[b->ncalls].params =
		arena_alloc(&b->mem, (nparams ? nparams : 1) * sizeof(struct xr_value *));
	return &calls[b->ncalls++];
}

static void name_call(struct fleet_batch *b, const char *method, const char *name)
{
	struct fleet_call *c = add_call(b, method, 1);

	c->params[0] = xr_string(&b->mem, name);
}

static int send_batches(struct run *r, struct batches *bs)
{
	struct error err = ERROR_INIT;
	int rc = fleet_call_run(bs->v.v, bs->v.n, r->o->fleet, &err);

	if (rc < 0)
		failure(r, "%s", error_msg(&err));
	error_release(&err);
	return rc;
}

static void batches_release(struct batches *bs)
{
	for (size_t i = 0; i < bs->v.n; i++)
		fleet_batch_release(&bs->v.v[i]);
	vec_release(&bs->v);
}

/* A call's outcome in words, or NULL when it did what was asked (or it was
 * already done: `ok_code`). */
static const char *call_error(struct run *r, const struct fleet_call *c, int ok1, int ok2)
{
	if (c->result || (c->fault_code && (c->fault_code == ok1 || c->fault_code == ok2)))
		return NULL;
	buf_reset(&r->b);
	buf_printf(&r->b, "%s: %s", c->method, c->fault ? c->fault : "no answer");
	return arena_strndup(&r->mem, r->b.ptr, r->b.len);
}

/* ---- taking instances down (rollback and the stop phase) ---- */

/* A stop asked of supervisord ends within the program's stopwaitsecs (10,
 * progtext.c), then SIGKILL; this is how long raptor waits to see it. */
#define STOP_WAIT_MS 15000

static bool stopped_state(const char *statename)
{
	return !strcmp(statename, "STOPPED") || !strcmp(statename, "EXITED") ||
	       !strcmp(statename, "FATAL") || !strcmp(statename, "UNKNOWN");
}

/* Waits until every program of `acts` without an error has stopped (or is
 * not loaded at all), one getProcessInfo per program and look, batched. */
static void wait_stopped(struct run *r, const struct plan_action *const *acts, size_t n,
			 const char **errs)
{
	uint64_t poll = r->o->poll_ms ? r->o->poll_ms : 500;
	uint64_t deadline = health_now_ms() + STOP_WAIT_MS;
	bool *down = xcalloc(n ? n : 1, sizeof(*down));

	for (;;) {
		struct batches bs = {0};
		bool waiting = false;

		for (size_t j = 0; j < n; j++)
			if (!errs[j] && !down[j])
				name_call(batch_for(r, &bs, acts[j]->host),
					  "supervisor.getProcessInfo", acts[j]->program);
		if (!bs.v.n) {
			batches_release(&bs);
			break;
		}
		send_batches(r, &bs);
		for (size_t i = 0; i < bs.v.n; i++) {
			struct fleet_batch *b = &bs.v.v[i];
			size_t k = 0;

			for (size_t j = 0; j < n; j++) {
				const struct fleet_call *c;
				const char *state = NULL;
				struct error err = ERROR_INIT;

				if (errs[j] || down[j] || strcmp(acts[j]->host, b->host))
					continue;
				c = &b->calls[k++];
				if (c->fault_code == FAULT_BAD_NAME)
					down[j] = true;
				else if (c->result &&
					 xr_member_string(c->result, "statename", &state, &err) ==
						 0 &&
					 stopped_state(state))
					down[j] = true;
				else if (!c->result)
					errs[j] = call_error(r, c, 0, 0);
				else
					waiting = true;
				error_release(&err);
			}
		}
		batches_release(&bs);
		if (!waiting)
			break;
		if (health_now_ms() >= deadline) {
			for (size_t j = 0; j < n; j++)
				if (!errs[j] && !down[j])
					errs[j] = "it did not stop within 15s";
			break;
		}
		struct timespec ts = {(time_t)(poll / 1000), (long)(poll % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	free(down);
}

/* Stops, removes and deletes the programs of `acts` (stop actions, or the
 * start actions of failed instances): every stop asked at once without
 * waiting (supervisord's waiting stop is deferred, about a second a program
 * in a multicall), then a look until all have stopped, then one round trip
 * per host that removes the groups and deletes (or, adopted, moves aside)
 * the files. A program started again after drift is only stopped again.
 * `down` (NULL, or one per action) says which went as asked. */
static void take_down(struct run *r, const struct plan_action *const *acts, size_t n,
		      const char *op, bool count, bool *down)
{
	struct batches bs = {0};
	uint64_t t0 = health_now_ms();
	const char **errs;

	if (!n)
		return;
	errs = xcalloc(n, sizeof(*errs));
	for (size_t i = 0; i < n; i++) {
		struct fleet_batch *b = batch_for(r, &bs, acts[i]->host);
		struct fleet_call *c = add_call(b, "supervisor.stopProcess", 2);

		c->params[0] = xr_string(&b->mem, acts[i]->program);
		c->params[1] = xr_bool(&b->mem, false);
	}
	send_batches(r, &bs);
	for (size_t i = 0; i < bs.v.n; i++) {
		struct fleet_batch *b = &bs.v.v[i];
		size_t k = 0;

		for (size_t j = 0; j < n; j++)
			if (!strcmp(acts[j]->host, b->host))
				errs[j] = call_error(r, &b->calls[k++], FAULT_NOT_RUNNING,
						     FAULT_BAD_NAME);
	}
	batches_release(&bs);
	wait_stopped(r, acts, n, errs);

	memset(&bs, 0, sizeof(bs));
	for (size_t i = 0; i < n; i++) {
		struct fleet_batch *b;

		if (errs[i] || in_place(acts[i]))
			continue;
		b = batch_for(r, &bs, acts[i]->host);
		name_call(b, "supervisor.removeProcessGroup", acts[i]->program);
		/* a program raptor did not create keeps its file, moved aside */
		name_call(b, acts[i]->adopted ? "raptor.retireProgram" : "raptor.deleteProgram",
			  acts[i]->program);
	}
	if (bs.v.n)
		send_batches(r, &bs);
	for (size_t j = 0; j < n; j++) {
		const struct plan_action *a = acts[j];
		const char *e = errs[j], *moved = NULL;
		double secs = (double)(health_now_ms() - t0) / 1000.0;

		if (!e && !in_place(a)) {
			struct fleet_batch *b = NULL;
			size_t k = 0;

			/* its two calls: after those of the earlier actions on its host */
			for (size_t i = 0; i < bs.v.n && !b; i++)
				if (!strcmp(bs.v.v[i].host, a->host))
					b = &bs.v.v[i];
			for (size_t i = 0; i < j; i++)
				k += !errs[i] && !in_place(acts[i]) &&
						     !strcmp(acts[i]->host, a->host)
					     ? 2
					     : 0;
			e = call_error(r, &b->calls[k], FAULT_BAD_NAME, FAULT_BAD_NAME);
			/* an adopted program no included file defines: nothing to move */
			if (!e)
				e = call_error(r, &b->calls[k + 1], a->adopted ? FAULT_BAD_NAME : 0,
					       0);
			if (!e && a->adopted && b->calls[k + 1].result) {
				struct error xe = ERROR_INIT;

				if (xr_as_string(b->calls[k + 1].result, "retireProgram", &moved,
						 &xe) == 0) {
					buf_reset(&r->b);
					buf_printf(&r->b, "its file moved aside to %s", moved);
					moved = arena_strndup(&r->mem, r->b.ptr, r->b.len);
				} else {
					moved = NULL;
				}
				error_release(&xe);
			}
		}
		if (e) {
			failure(r, "%s %s on %s failed: %s", op, a->program, a->host, e);
			journal(r, op, a, "failed", e, secs);
		} else {
			progress(r, "%s %s on %s: ok (%.1fs)%s%s", op, a->program, a->host, secs,
				 moved ? "; " : "", moved ? moved : "");
			journal_detail(r, op, a, "ok", NULL, secs, moved);
			if (count)
				r->res->stopped++;
		}
		if (down)
			down[j] = !e;
	}
	batches_release(&bs);
	free(errs);
}

static void fail_job(struct run *r, struct job *j, const char *why)
{
	j->st = JOB_FAILED;
	j->sw->failed = true;
	failure(r, "swarm %s: %s on %s failed: %s; its old instances keep serving", j->sw->identity,
		j->a->program, j->a->host, why);
	journal(r, "check", j->a, "failed", why,
		(double)(health_now_ms() - j->started_ms) / 1000.0);
}

/* ---- 1. start ---- */

/* An instance an interrupted apply started: it runs (or is on its way), so
 * nothing is sent; from now on it is checked as a new one is. */
static void recheck_job(struct run *r, struct job *j)
{
	j->started_ms = health_now_ms();
	j->deadline_ms = j->started_ms + j->sw->s->health.timeout_ms;
	j->st = JOB_STARTING;
	journal(r, "recheck", j->a, "ok", NULL, 0);
	progress(r,
		 "recheck %s on %s %s %d: started by an apply that did not finish, never checked",
		 j->a->program, j->a->host, j->a->port ? "port" : "slot",
		 j->a->port ? j->a->port : j->a->slot);
}

static void start_wave(struct run *r, struct job **wave, size_t n)
{
	struct batches bs = {0};

	/* per host: every program file, one reloadConfig (it is slow on a busy
	 * host), every group added; restarts of stopped programs need none of
	 * that, just startProcess; an unchecked instance that runs needs no call
	 * at all, only its check */
	for (size_t i = 0; i < n; i++) {
		struct job *j = wave[i];
		struct fleet_batch *b;
		struct fleet_call *c;

		if (runs_already(j->a)) {
			recheck_job(r, j);
			continue;
		}
		b = batch_for(r, &bs, j->a->host);
		if (j->a->restart)
			continue;
		c = add_call(b, "raptor.putProgram", 2);
		c->params[0] = xr_string(&b->mem, j->a->program);
		c->params[1] = xr_string(&b->mem, j->text);
		j->put = b->ncalls - 1;
	}
	for (size_t i = 0; i < bs.v.n; i++) {
		struct fleet_batch *b = &bs.v.v[i];
		size_t reload = b->ncalls;

		if (b->ncalls)
			add_call(b, "supervisor.reloadConfig", 0);
		for (size_t k = 0; k < n; k++) {
			struct job *j = wave[k];

			if (runs_already(j->a) || strcmp(j->a->host, b->host))
				continue;
			j->reload = reload;
			if (j->a->restart) {
				struct fleet_call *c = add_call(b, "supervisor.startProcess", 2);

				c->params[0] = xr_string(&b->mem, j->a->program);
				c->params[1] = xr_bool(&b->mem, false);
			} else {
				name_call(b, "supervisor.addProcessGroup", j->a->program);
			}
			j->add = b->ncalls - 1;
		}
	}
	send_batches(r, &bs);
	for (size_t i = 0; i < bs.v.n; i++) {
		struct fleet_batch *b = &bs.v.v[i];

		for (size_t q = 0; q < n; q++) {
			struct job *j = wave[q];
			const char *e = NULL;

			if (runs_already(j->a) || strcmp(j->a->host, b->host))
				continue;
			if (!j->a->restart) {
				e = call_error(r, &b->calls[j->put], 0, 0);
				if (!e)
					e = call_error(r, &b->calls[j->reload], 0, 0);
			}
			if (!e)
				e = call_error(r, &b->calls[j->add],
					       j->a->restart ? FAULT_ALREADY_STARTED
							     : FAULT_ALREADY_ADDED,
					       0);
			j->started_ms = health_now_ms();
			j->deadline_ms = j->started_ms + j->sw->s->health.timeout_ms;
			journal(r, j->a->restart ? "restart" : "start", j->a, e ? "failed" : "ok",
				e, b->seconds);
			if (e) {
				fail_job(r, j, e);
			} else {
				j->st = JOB_STARTING;
				progress(r, "%s %s on %s %s %d: ok (%.1fs)",
					 j->a->restart ? "restart" : "start", j->a->program,
					 j->a->host, j->a->port ? "port" : "slot",
					 j->a->port ? j->a->port : j->a->slot, b->seconds);
			}
		}
	}
	batches_release(&bs);
}

/* ---- 2. check ---- */

static bool failed_state(const char *statename)
{
	return !strcmp(statename, "FATAL") || !strcmp(statename, "BACKOFF") ||
	       !strcmp(statename, "EXITED") || !strcmp(statename, "UNKNOWN");
}

static void poll_starting(struct run *r, struct job **wave, size_t n)
{
	struct batches bs = {0};

	for (size_t i = 0; i < n; i++)
		if (wave[i]->st == JOB_STARTING)
			name_call(batch_for(r, &bs, wave[i]->a->host), "supervisor.getProcessInfo",
				  wave[i]->a->program);
	send_batches(r, &bs);
	for (size_t i = 0; i < bs.v.n; i++) {
		struct fleet_batch *b = &bs.v.v[i];
		size_t k = 0;

		for (size_t q = 0; q < n; q++) {
			struct job *j = wave[q];
			const struct fleet_call *c;
			const char *state = NULL, *spawnerr = NULL, *desc = NULL;
			struct error err = ERROR_INIT;

			if (j->st != JOB_STARTING || strcmp(j->a->host, b->host))
				continue;
			c = &b->calls[k++];
			if (c->result) {
				xr_member_string(c->result, "statename", &state, &err);
				xr_member_string(c->result, "spawnerr", &spawnerr, &err);
				xr_member_string(c->result, "description", &desc, &err);
			}
			if (state && !strcmp(state, "RUNNING")) {
				j->st = JOB_CHECKING;
			} else if (state && failed_state(state)) {
				buf_reset(&r->b);
				buf_printf(&r->b, "%s: %s", state,
					   spawnerr && *spawnerr ? spawnerr
					   : desc		 ? desc
								 : "");
				fail_job(r, j, arena_strndup(&r->mem, r->b.ptr, r->b.len));
			} else if (!c->result && c->fault_code != FAULT_BAD_NAME && b->error) {
				fail_job(r, j, b->error);
			}
			error_release(&err);
		}
	}
	batches_release(&bs);
}

/* What a finished health check means for its job. */
static void checked(struct run *r, struct job *j, int rc, const struct error *err)
{
	double secs = (double)(health_now_ms() - j->started_ms) / 1000.0;

	if (rc < 0) {
		fail_job(r, j, error_msg(err));
		return;
	}
	j->st = JOB_OK;
	r->res->started++;
	progress(r, "check %s on %s: healthy (%.1fs)", j->a->program, j->a->host, secs);
	journal(r, "check", j->a, "ok", NULL, secs);
}

/*
 * Polls supervisord until every instance of the wave is RUNNING or failed,
 * handing each RUNNING one to the health pool at once, and takes the
 * results between polls: the checks of a wave run side by side, so a wave
 * costs its slowest instance.
 */
static void check_wave(struct run *r, struct job **wave, size_t n)
{
	uint64_t poll = r->o->poll_ms ? r->o->poll_ms : 500;
	unsigned threads = r->d->settings.concurrency > 0 ? (unsigned)r->d->settings.concurrency
							  : HEALTH_THREADS;
	struct health_pool *hp = health_pool_new(threads);

	for (;;) {
		bool starting = false;
		struct error err = ERROR_INIT;
		uint64_t until;
		void *tag;
		int rc;

		poll_starting(r, wave, n);
		for (size_t i = 0; i < n; i++) {
			struct job *j = wave[i];
			const struct live_host *h = host_of(r, j->a->host);

			if (j->st == JOB_CHECKING) {
				struct health_target t = {
					j->a->host, h ? h->address : j->a->address, j->a->port,
					&j->sw->s->health, r->env_drop};

				j->st = JOB_HEALTH;
				health_pool_submit(hp, &t, j->deadline_ms, j);
			} else if (j->st == JOB_STARTING) {
				if (health_now_ms() >= j->deadline_ms)
					fail_job(
						r, j,
						"did not reach RUNNING in supervisord before health.timeout");
				else
					starting = true;
			}
		}
		if (!starting && !health_pool_pending(hp))
			break;
		/* results as they come, until the next poll of the hosts is due */
		until = starting ? health_now_ms() + poll : UINT64_MAX;
		while (health_pool_wait(hp, until, &tag, &rc, &err) == 1)
			checked(r, tag, rc, &err);
		error_release(&err);
		if (starting && health_now_ms() < until) {
			uint64_t ms = until - health_now_ms();
			struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

			nanosleep(&ts, NULL);
		}
	}
	health_pool_free(hp);
}

/* Takes back the new instances of swarms that failed (the wave's failures
 * and, after a failed route, the healthy ones too). */
static void roll_back(struct run *r, bool healthy_too)
{
	VEC(const struct plan_action *) acts = {0};
	VEC(struct job *) jobs = {0};
	bool *down;

	for (size_t i = 0; i < r->jobs.n; i++) {
		struct job *j = &r->jobs.v[i];

		/* a program started again after a stop by hand is no new instance:
		 * healthy, it stays; failed, it is stopped again, its file kept */
		if (in_place(j->a) && j->st == JOB_OK)
			continue;
		/* a healthy instance of an earlier wave already replaced one that
		 * stopped: it stays, whatever happens to its swarm now */
		if (j->st == JOB_FAILED ||
		    (healthy_too && j->st == JOB_OK && j->sw->failed && j->wave == r->wave)) {
			vec_push(&acts, j->a);
			vec_push(&jobs, j);
			if (j->st == JOB_OK)
				r->res->started--;
			j->st = JOB_SKIPPED; /* taken back: not in any pool */
		}
	}
	down = xcalloc(acts.n ? acts.n : 1, sizeof(*down));
	take_down(r, acts.v, acts.n, "roll back", false, down);
	for (size_t i = 0; i < jobs.n; i++)
		jobs.v[i]->left_up = !down[i];
	free(down);
	vec_release(&jobs);
	vec_release(&acts);
}

/* ---- 3. route ---- */

static bool job_ok_at(struct run *r, const char *node, const char *balancer, const char *pool)
{
	for (size_t i = 0; i < r->jobs.n; i++) {
		const struct plan_action *a = r->jobs.v[i].a;

		if (!a->port || !a->pool || strcmp(a->pool, pool) || strcmp(a->balancer, balancer))
			continue;
		buf_reset(&r->b);
		buf_printf(&r->b, "%s:%d", a->address, a->port);
		if (!strcmp(r->b.ptr, node)) {
			const struct job *j = &r->jobs.v[i];

			/* a restarted program was in the pool: it leaves if it failed,
			 * or was taken back (stopped again) after failing */
			if (in_place(a))
				return j->st != JOB_FAILED && j->st != JOB_SKIPPED;
			/* this wave's instances of a swarm that failed are taken back, so
			 * they never enter a pool; an earlier wave's already replaced one */
			return j->st == JOB_OK && !(j->sw->failed && j->wave == r->wave);
		}
	}
	return true; /* not a new instance: one that stays */
}

/* Whether a stop action will really run: its swarm (or, for an orphan, the
 * swarm it was renamed to) did not fail. */
static bool stop_goes_ahead(struct run *r, const struct plan_action *a)
{
	const struct swarm_run *sw = swarm_of(r, a->renamed_to ? a->renamed_to : a->swarm);

	return !sw || !sw->failed;
}

typedef VEC(const char *) node_vec;

/* Whether `node` of that pool is an instance leaving now or gone already. */
static bool leaving(struct run *r, const char *node, const struct plan_pool *pp)
{
	for (size_t i = 0; i < r->p->actions.n; i++) {
		const struct plan_action *a = &r->p->actions.v[i];

		if (a->op != PLAN_STOP || r->stops[i] == STOP_PENDING || !a->port || !a->pool ||
		    strcmp(a->pool, pp->pool) || strcmp(a->balancer, pp->balancer))
			continue;
		buf_reset(&r->b);
		buf_printf(&r->b, "%s:%d", a->address, a->port);
		if (!strcmp(r->b.ptr, node))
			return true;
	}
	return false;
}

static void pool_nodes(struct run *r, const struct plan_pool *pp, node_vec *out)
{
	for (size_t i = 0; i < pp->after.n; i++)
		if (job_ok_at(r, pp->after.v[i], pp->balancer, pp->pool) &&
		    (!pp->frozen || !leaving(r, pp->after.v[i], pp)))
			vec_push(out, pp->after.v[i]);
	/* what is to stop stays in its pool until its turn to leave comes (or
	 * for good, when the swarm replacing it failed) */
	for (size_t i = 0; i < r->p->actions.n; i++) {
		const struct plan_action *a = &r->p->actions.v[i];

		if (a->op != PLAN_STOP || !a->port || !a->pool || r->stops[i] != STOP_PENDING ||
		    strcmp(a->pool, pp->pool) || strcmp(a->balancer, pp->balancer))
			continue;
		buf_reset(&r->b);
		buf_printf(&r->b, "%s:%d", a->address, a->port);
		vec_push(out, arena_strndup(&r->mem, r->b.ptr, r->b.len));
	}
}

static void route(struct run *r)
{
	uint64_t drain = 0;

	for (size_t bi = 0; bi < r->d->balancers.n; bi++) {
		const struct balancer *bal = &r->d->balancers.v[bi];
		VEC(struct pool_update) ups = {0};
		node_vec *nodes = calloc(r->p->pools.n ? r->p->pools.n : 1, sizeof(*nodes));
		size_t nn = 0;
		struct error err = ERROR_INIT;
		int changed = 0;
		double t0 = (double)health_now_ms();

		for (size_t i = 0; i < r->p->pools.n; i++) {
			const struct plan_pool *pp = &r->p->pools.v[i];
			struct pool_update *u;

			if (strcmp(pp->balancer, bal->name))
				continue;
			pool_nodes(r, pp, &nodes[nn]);
			u = vec_add(&ups);
			u->pool = pp->pool;
			u->nodes = nodes[nn].v;
			u->n = nodes[nn].n;
			nn++;
		}
		/* a pool file no swarm routes to any more (and no instance says it is
		 * in) is removed: include_dir is raptor's */
		{
			char **names = NULL;
			size_t nnames = 0;

			if (balancer_list_pools(bal, &names, &nnames, &err) == 0) {
				for (size_t k = 0; k < nnames; k++) {
					bool known = false;

					for (size_t q = 0; q < ups.n && !known; q++)
						known = !strcmp(ups.v[q].pool, names[k]);
					if (!known) {
						struct pool_update *u = vec_add(&ups);

						u->pool = arena_strdup(&r->mem, names[k]);
					}
				}
				balancer_free_list(names, nnames);
			}
			buf_reset(&err.msg);
		}
		if (ups.n && balancer_apply(bal, ups.v, ups.n, r->env_drop, &changed, &err) < 0) {
			/* the old files are back: the swarms routed here failed */
			for (size_t i = 0; i < r->d->swarms.n; i++) {
				const struct swarm *s = &r->d->swarms.v[i];
				struct swarm_run *sw = swarm_of(r, s->identity);

				if (s->routed && !strcmp(s->routing.balancer, bal->name) && sw)
					sw->failed = true;
			}
			failure(r, "balancer %s: %s; the old routing stays", bal->name,
				error_msg(&err));
			journal(r, "route", NULL, "failed", error_msg(&err),
				((double)health_now_ms() - t0) / 1000.0);
		} else if (changed) {
			r->res->reloads++;
			if (!r->reloaded[bi]) {
				r->reloaded[bi] = true;
				r->res->routed++;
			}
			progress(r, "route %s: %zu pool%s written, tested and reloaded (%.1fs)",
				 bal->name, ups.n, ups.n == 1 ? "" : "s",
				 ((double)health_now_ms() - t0) / 1000.0);
			journal(r, "route", NULL, "ok", NULL,
				((double)health_now_ms() - t0) / 1000.0);
			if (bal->drain_ms > drain)
				drain = bal->drain_ms;
		}
		for (size_t i = 0; i < nn; i++)
			vec_release(&nodes[i]);
		free(nodes);
		vec_release(&ups);
		error_release(&err);
	}
	for (size_t i = 0; drain && i < r->p->actions.n; i++)
		if (r->p->actions.v[i].op == PLAN_STOP && r->p->actions.v[i].port &&
		    r->stops[i] == STOP_NOW)
			goto wait;
	return; /* nothing leaves a pool: nothing to drain */
wait:
	if (drain) {
		struct timespec ts = {(time_t)(drain / 1000), (long)(drain % 1000) * 1000000L};

		/* requests in flight on the nodes about to stop finish first */
		progress(r, "drain: waiting %.1fs before stopping what left the pools",
			 drain / 1000.0);
		nanosleep(&ts, NULL);
	}
}

/* ---- 4. stop ---- */

static bool is_orphan(const struct plan_action *a)
{
	return a->reason >= REASON_ORPHAN_APP && a->reason <= REASON_ORPHAN_UNIDENTIFIED;
}

/* Each healthy new instance of this wave lets one instance it replaces go:
 * a stale, not-loaded, FATAL or excess one of the same swarm. So a rollout
 * with max_surge 1 is start one, check it, route it in and the old one out,
 * stop the old one, and again; never fewer than size healthy. Orphans wait
 * for the end: they are another identity's, replaced only as a whole. */
static void pair_stops(struct run *r, struct job **wave, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct job *j = wave[i];

		/* a swarm that failed in this wave keeps its old instances */
		if (j->st != JOB_OK || in_place(j->a) || j->sw->failed)
			continue;
		for (size_t k = 0; k < r->p->actions.n; k++) {
			const struct plan_action *a = &r->p->actions.v[k];

			if (a->op == PLAN_STOP && r->stops[k] == STOP_PENDING && !is_orphan(a) &&
			    a->swarm && !strcmp(a->swarm, j->a->swarm)) {
				r->stops[k] = STOP_NOW;
				break;
			}
		}
	}
}

/* Stops what is leaving now (out of its pool already), stale and excess
 * before orphans; a stop whose replacement failed waits for the end, where
 * it is skipped. */
static void stop_now(struct run *r)
{
	VEC(const struct plan_action *) acts = {0};

	for (int orphans = 0; orphans < 2; orphans++) {
		acts.n = 0;
		for (size_t i = 0; i < r->p->actions.n; i++) {
			const struct plan_action *a = &r->p->actions.v[i];

			if (a->op != PLAN_STOP || r->stops[i] != STOP_NOW ||
			    is_orphan(a) != (bool)orphans)
				continue;
			if (stop_goes_ahead(r, a)) {
				vec_push(&acts, a);
				r->stops[i] = STOP_DONE;
			} else {
				r->stops[i] = STOP_PENDING;
			}
		}
		take_down(r, acts.v, acts.n, "stop", true, NULL);
	}
	vec_release(&acts);
}

/* After the last wave: everything left to stop goes, unless its swarm failed. */
static void stop_rest(struct run *r)
{
	for (size_t i = 0; i < r->p->actions.n; i++) {
		const struct plan_action *a = &r->p->actions.v[i];

		if (a->op != PLAN_STOP || r->stops[i] != STOP_PENDING)
			continue;
		if (stop_goes_ahead(r, a))
			r->stops[i] = STOP_NOW;
	}
}

static void report_skipped(struct run *r)
{
	for (size_t i = 0; i < r->p->actions.n; i++) {
		const struct plan_action *a = &r->p->actions.v[i];
		const char *why;

		if (a->op != PLAN_STOP || r->stops[i] != STOP_PENDING)
			continue;
		why = r->halted ? "the state directory cannot be written"
				: "its replacement failed";
		progress(r, "stop %s on %s: skipped (%s)", a->program, a->host, why);
		journal(r, "stop", a, "skipped", why, 0);
	}
}

/* ---- the instances not yet seen healthy (STATE/unchecked.json) ---- */

static bool unchecked_find(const struct run *r, const char *host, const char *program, size_t *at)
{
	for (size_t i = 0; i < r->unchecked.n; i++)
		if (!strcmp(r->unchecked.v[i].host, host) &&
		    !strcmp(r->unchecked.v[i].program, program)) {
			if (at)
				*at = i;
			return true;
		}
	return false;
}

/* The record as the fleet was asked, less what is gone: a program no longer
 * on a host that answered (taken back, or removed since). What is on a host
 * not asked now (another --squad) or not answering stays unchecked. */
static void unchecked_init(struct run *r)
{
	for (size_t i = 0; i < r->l->unchecked.n; i++) {
		const struct live_unchecked *u = &r->l->unchecked.v[i];
		const struct live_host *h = host_of(r, u->host);

		if ((h && h->reachable && !live_program(h, u->program)) ||
		    unchecked_find(r, u->host, u->program, NULL)) {
			r->unchecked_dirty = true;
			continue;
		}
		*vec_add(&r->unchecked) = (struct state_instance){u->host, u->program};
	}
}

/* Writes the record when it changed; a failure fails the apply, `then` says
 * what it means. */
static int unchecked_save(struct run *r, const char *then)
{
	struct error err = ERROR_INIT;
	int rc = 0;

	if (r->unchecked_dirty) {
		rc = state_unchecked_write(r->o->state_dir, r->unchecked.v, r->unchecked.n, &err);
		if (rc < 0)
			failure(r, "%s; %s", error_msg(&err), then);
		else
			r->unchecked_dirty = false;
	}
	error_release(&err);
	return rc;
}

/* Before a wave touches a host, its instances go into the record: an apply
 * killed before their checks end leaves them marked, and the rerun checks
 * them again instead of routing them. */
static int unchecked_add(struct run *r, struct job **wave, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct plan_action *a = wave[i]->a;

		if (!unchecked_find(r, a->host, a->program, NULL)) {
			*vec_add(&r->unchecked) = (struct state_instance){a->host, a->program};
			r->unchecked_dirty = true;
		}
	}
	return unchecked_save(
		r,
		"nothing more is started or stopped: a crash could not tell the new instances from checked ones");
}

/* After a wave's checks: what passed leaves the record, and what was taken
 * back; what could not be taken back stays, to be checked again. */
static void unchecked_settle(struct run *r, struct job **wave, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct job *j = wave[i];
		size_t at;

		if ((j->st == JOB_OK || (j->st == JOB_SKIPPED && !j->left_up)) &&
		    unchecked_find(r, j->a->host, j->a->program, &at)) {
			r->unchecked.v[at] = r->unchecked.v[--r->unchecked.n];
			r->unchecked_dirty = true;
		}
	}
	unchecked_save(r, "the next apply checks its instances again");
}

/* The record cannot be written: nothing more touches a host. What waits is
 * not started and its swarm fails (its old instances keep serving, none of
 * their stops runs). */
static void halt(struct run *r)
{
	r->halted = true;
	for (size_t i = 0; i < r->jobs.n; i++) {
		struct job *j = &r->jobs.v[i];

		if (j->st == JOB_PENDING) {
			j->st = JOB_SKIPPED;
			j->sw->failed = true;
		}
	}
}

int apply_run(struct apply_result *res, const struct plan *p, const struct desired *d,
	      const struct live *l, const struct apply_opts *o)
{
	struct run r = {.p = p, .d = d, .l = l, .o = o, .res = res};
	time_t now = time(NULL);
	struct tm tm;

	memset(res, 0, sizeof(*res));
	r.stops = xcalloc(p->actions.n ? p->actions.n : 1, sizeof(*r.stops));
	r.reloaded = xcalloc(d->balancers.n ? d->balancers.n : 1, sizeof(*r.reloaded));
	gmtime_r(&now, &tm);
	strftime(r.created, sizeof(r.created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	r.env_drop[0] = credentials_env_name(o->fleet ? o->fleet->credentials : NULL);
	for (size_t i = 0; i < d->swarms.n; i++) {
		struct swarm_run *sw = arena_alloc(&r.mem, sizeof(*sw));

		sw->identity = d->swarms.v[i].identity;
		sw->s = &d->swarms.v[i];
		sw->surge = surge_of(sw->s);
		strmap_put(&r.swarms, sw->identity, sw);
	}
	unchecked_init(&r);
	for (size_t i = 0; i < p->actions.n; i++) {
		const struct plan_action *a = &p->actions.v[i];
		struct instance_spec spec;
		struct job *j;
		struct error err = ERROR_INIT;
		struct buf pool = BUF_INIT;

		if (a->op != PLAN_START)
			continue;
		j = vec_add(&r.jobs);
		j->a = a;
		j->sw = swarm_of(&r, a->swarm);
		if (a->pool)
			buf_printf(&pool, "%s/%s", a->balancer, a->pool);
		spec = (struct instance_spec){
			.swarm = a->desired,
			.release = a->release,
			.host = a->host,
			.address = a->address,
			.port = a->port,
			.slot = a->slot,
			.pool = a->pool ? pool.ptr : NULL,
			.commit = o->commit,
			.created = r.created,
		};
		buf_reset(&r.b);
		if (a->restart || a->recheck) {
			/* its program file is on the host already */
		} else if (progtext_render(&r.b, &spec, &err) < 0) {
			fail_job(&r, j, error_msg(&err));
		} else {
			j->text = arena_strndup(&r.mem, r.b.ptr, r.b.len);
		}
		error_release(&err);
		buf_release(&pool);
	}

	/* 1 and 2: waves of at most max_surge new instances per swarm */
	for (;;) {
		VEC(struct job *) wave = {0};
		struct strmap taken = STRMAP_INIT;

		for (size_t i = 0; i < r.jobs.n; i++) {
			struct job *j = &r.jobs.v[i];
			size_t *n;

			if (j->st != JOB_PENDING)
				continue;
			if (j->sw->failed) {
				j->st = JOB_SKIPPED;
				continue;
			}
			n = strmap_get(&taken, j->sw->identity);
			if (!n) {
				n = arena_alloc(&r.mem, sizeof(*n));
				strmap_put(&taken, j->sw->identity, n);
			}
			if (*n < j->sw->surge) {
				(*n)++;
				vec_push(&wave, j);
			}
		}
		strmap_release(&taken);
		if (!wave.n) {
			vec_release(&wave);
			break;
		}
		r.wave++;
		for (size_t i = 0; i < wave.n; i++)
			wave.v[i]->wave = r.wave;
		if (unchecked_add(&r, wave.v, wave.n) < 0) {
			halt(&r);
			vec_release(&wave);
			break;
		}
		start_wave(&r, wave.v, wave.n);
		check_wave(&r, wave.v, wave.n);
		roll_back(&r, false);
		unchecked_settle(&r, wave.v, wave.n);
		/* 3 and 4 for what this wave replaces */
		pair_stops(&r, wave.v, wave.n);
		route(&r);
		roll_back(&r, true);
		stop_now(&r);
		vec_release(&wave);
	}
	/* 3 and 4 for the rest: excess, orphans, and everything of a plan with
	 * no starts */
	r.wave++;
	if (!r.halted) {
		stop_rest(&r);
		route(&r);
		stop_now(&r);
		/* what was pruned, when no wave wrote the record */
		unchecked_save(&r, "the next apply prunes it again");
	}
	report_skipped(&r);

	for (size_t i = 0; i < d->swarms.n; i++) {
		const struct swarm_run *sw = swarm_of(&r, d->swarms.v[i].identity);
		res->failed_swarms += sw && sw->failed;
	}
	vec_release(&r.jobs);
	vec_release(&r.unchecked);
	free(r.stops);
	free(r.reloaded);
	strmap_release(&r.swarms);
	arena_release(&r.mem);
	buf_release(&r.b);
	return res->failed_actions || res->failed_swarms || res->journal_errors ? -1 : 0;
}

void apply_result_count(struct apply_result *r, const char *op, const char *result)
{
	for (size_t i = 0; i < r->counts.n; i++)
		if (!strcmp(r->counts.v[i].op, op) && !strcmp(r->counts.v[i].result, result)) {
			r->counts.v[i].n++;
			return;
		}
	*vec_add(&r->counts) = (struct action_count){op, result, 1};
}

void apply_result_release(struct apply_result *r)
{
	vec_release(&r->counts);
	vec_release(&r->failures);
	arena_release(&r->mem);
}

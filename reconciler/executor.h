/*
 * The executor (DESIGN.md §5): a plan made real, make before break, in waves.
 * Each wave, per swarm at most max_surge new instances:
 *  1. start: per host one round trip puts every program file, reloads the
 *     config once and adds every group (a program stopped by hand is just
 *     started again);
 *  2. check: each new instance RUNNING in supervisord, then its health
 *     checks, within the swarm's timeout; FATAL, BACKOFF or an exit fails at
 *     once. A failed instance is stopped and removed; its swarm is failed:
 *     no more waves, its old instances keep serving and none of their stops
 *     run;
 *  3. route: each healthy new instance takes the place of one instance it
 *     replaces (stale, excess, not loaded, FATAL) of its swarm: the pools are
 *     rewritten with the new node in and that one out (test, reload; a
 *     failure restores the files and fails the swarms routed there, whose
 *     new instances of this wave are taken back); then the drain time;
 *  4. stop: the replaced instances.
 * So max_surge 1 replaces one instance at a time and never leaves fewer than
 * size healthy. After the last wave, what is left to stop (excess, orphans:
 * another identity's, replaced as a whole) leaves the pools and stops,
 * orphans last, unless the swarm replacing it failed. Every action is
 * journaled; swarms are independent, so one failing stops neither the others
 * nor their cleanup.
 * Before a wave touches a host its instances are added to
 * STATE/unchecked.json, and after its checks those that passed (or were
 * taken back) leave it: what a crash leaves there was never seen healthy,
 * and the next plan checks it again (a `recheck` start: nothing is sent, it
 * is waited for and checked, and from then on it is a new instance like any
 * other). A record that cannot be written stops the apply there.
 */
#ifndef RAPTOR_EXECUTOR_H
#define RAPTOR_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "desired.h"
#include "error.h"
#include "fleet.h"
#include "live.h"
#include "planner.h"

struct apply_opts {
	const char *state_dir;
	const char *commit; /* the desired state's, for the journal and the files */
	const struct fleet_opts *fleet;
	FILE *progress;	  /* one line per action; NULL for none */
	uint64_t poll_ms; /* between looks at a starting process (default 500) */
};

/* How many actions of one op ended one way (the journal's op and result). */
struct action_count {
	const char *op, *result;
	size_t n;
};

struct apply_result {
	size_t started, stopped, failed_actions;
	size_t routed;	       /* balancers reloaded (each counted once) */
	size_t reloads;	       /* reloads in all: one per wave that changed a pool */
	size_t journal_errors; /* lines the journal could not take */
	size_t failed_swarms;
	VEC(struct action_count) counts; /* ops and results as journaled */
	VEC(const char *) failures;	 /* one line each, in the result's arena */
	struct arena mem;
};

/* Runs the plan; 0 when everything converged, -1 when something failed (the
 * result says what). The caller holds the state lock. */
int apply_run(struct apply_result *res, const struct plan *p, const struct desired *d,
	      const struct live *l, const struct apply_opts *o);
void apply_result_release(struct apply_result *r);
/* Adds one to the count of (op, result); both strings must be static. */
void apply_result_count(struct apply_result *r, const char *op, const char *result);

#endif

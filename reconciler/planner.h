/*
 * The planner (DESIGN.md §5): desired state and live state in, a plan out,
 * with no I/O at all, so that every scenario is a cheap table-driven test.
 * It is relayd's merge_config in miniature: mark what the desired state
 * still wants, then sweep the rest. Every managed program on every reachable
 * host is classified (current, stale, excess, orphan, unmanaged); each
 * swarm gets its starts (placed on the least-loaded reachable hosts of its
 * squad, on the lowest free port), and everything stale, excess or orphaned
 * is stopped, orphans with the cause of their orphanhood named. An
 * instance of the desired release that an interrupted apply started and
 * never saw healthy (live->unchecked) counts toward its swarm's size but is
 * not trusted: it gets a start that only checks it (`recheck`).
 */
#ifndef RAPTOR_PLANNER_H
#define RAPTOR_PLANNER_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "desired.h"
#include "live.h"
#include "vec.h"

enum plan_op { PLAN_START, PLAN_STOP, PLAN_ROUTE };

/* The fixed vocabulary of reasons (plan_reason_text gives the words). */
enum plan_reason {
	REASON_NEW_SWARM,
	REASON_SCALE_UP,
	REASON_NEW_RELEASE,
	REASON_REPLACE_UNREACHABLE,
	REASON_RESTART,
	REASON_UNCHECKED,
	REASON_SCALE_DOWN,
	REASON_STALE_RELEASE,
	REASON_NOT_LOADED,
	REASON_FATAL,
	REASON_ADOPTED,
	REASON_ORPHAN_APP,
	REASON_ORPHAN_PROC,
	REASON_ORPHAN_CONFIG,
	REASON_ORPHAN_SQUAD,
	REASON_ORPHAN_REMOVED,
	REASON_ORPHAN_HOST_LEFT,
	REASON_ORPHAN_UNIDENTIFIED,
	REASON_POOL_CHANGED,
	REASON_COUNT
};

enum plan_class { CLASS_CURRENT, CLASS_STALE, CLASS_EXCESS, CLASS_ORPHAN, CLASS_UNMANAGED };

struct plan_action {
	enum plan_op op;
	enum plan_reason reason;
	const char *swarm; /* app/config/proc@squad; NULL for a pool change */
	const char *host, *address, *program;
	int port, slot; /* one of them, or neither for a pool change */
	const char *release;
	const char *balancer, *pool; /* the pool a start joins, a stop leaves, a route rewrites */
	const char *hint;	     /* orphans: the likely rename, in words */
	const char *renamed_to;	     /* orphans: that swarm's identity, or NULL */
	const struct swarm *desired; /* starts: what to render */
	bool restart;		     /* a start of the existing program (drift: stopped by hand) */
	bool recheck;		     /* an existing program never seen healthy (an apply that
					did not finish started it): checked like a new
					instance, routed and replacing only when it passes,
					taken back when it fails; without `restart` its
					process is not started, it runs already */
	bool adopted;		     /* a stop of a program raptor did not create: its file
					is moved aside, not deleted */
};

struct plan_pool {
	const char *balancer, *pool;
	VEC(const char *) before, after; /* sorted address:port */
	bool changed;
	bool frozen; /* a swarm routed here may not change now: the pool stays as it is */
};

/* How the planner saw one program on one reachable host. */
struct plan_entry {
	const char *host, *program;
	enum plan_class klass;
	enum plan_reason cause; /* stale, excess and orphan: why */
	const char *swarm;	/* NULL when unknown */
};

struct plan_note {
	const char *swarm;
	const char *text;
	bool error; /* the swarm could not be planned (nothing is planned for it) */
};

struct plan {
	VEC(struct plan_action) actions;
	VEC(struct plan_pool) pools;
	VEC(struct plan_entry) entries;
	VEC(struct plan_note) notes;
	size_t starts, stops, routes, errors;
	size_t managed, unmanaged;
	bool guard_tripped; /* apply refuses without --allow-mass-stop */
	const char *guard_reason;
	struct arena mem;
};

void plan_build(struct plan *out, const struct desired *d, const struct live *l);
void plan_release(struct plan *p);
const char *plan_reason_text(enum plan_reason r);
const char *plan_class_text(enum plan_class c);
const char *plan_op_text(enum plan_op op);

#endif

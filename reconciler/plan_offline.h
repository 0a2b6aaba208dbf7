/*
 * `raptor plan --offline --against REF` (DESIGN.md §6): the desired state at
 * REF ("before") diffed against this one ("after") with no host contacted,
 * the CI view of a pull request. The diff itself (plan_offline.c) is pure:
 * two loaded models in, a list of swarm-level changes out, so every case is
 * a table row in tests/unit/test_plan_offline.c. Reading both sides and
 * rendering text or JSON (schema/plan-offline.schema.json) is
 * cmd_plan_offline.c's.
 *
 * What the diff reports, per swarm identity (app/config/proc@squad):
 *   added     a new identity: start its size
 *   removed   an identity gone: tear its instances down
 *   renamed   a removed and an added identity that differ in exactly one of
 *             app, config, proc, squad: one change that starts the new size
 *             and tears down every instance of the old identity
 *   resized   same identity and release, another size: start or stop the gap
 *   released  same identity, another release (release.h's hash): start the
 *             new size, stop the old
 *   routing   same identity, routed to another pool, or no longer / newly
 *   plus balancers and pools (balancer/pool as routed to) appearing or
 *   disappearing, and the mass-stop guard of DESIGN.md §5 as apply would see
 *   it if the fleet ran exactly the "before" state.
 */
#ifndef RAPTOR_PLAN_OFFLINE_H
#define RAPTOR_PLAN_OFFLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "arena.h"
#include "cli.h"
#include "desired.h"
#include "vec.h"

enum oplan_kind {
	OPLAN_RENAMED,
	OPLAN_ADDED,
	OPLAN_REMOVED,
	OPLAN_RESIZED,
	OPLAN_RELEASED,
	OPLAN_ROUTING,
	OPLAN_BALANCER_ADDED,
	OPLAN_BALANCER_REMOVED,
	OPLAN_POOL_ADDED,
	OPLAN_POOL_REMOVED,
};

struct oplan_change {
	enum oplan_kind kind;
	/* The swarm on each side, pointing into the two models (NULL where the
	 * side has none, and for balancer and pool changes). */
	const struct swarm *before, *after;
	/* The changed field: app/config/proc/squad (renamed), size (resized),
	 * the first of `fields` (released), routing; NULL otherwise. */
	const char *field;
	const char *fields;	     /* every changed field, comma-separated; "" when none */
	const char *balancer, *pool; /* balancer and pool changes */
	int start, stop;	     /* instances started and torn down */
	const char *reason;	     /* the words, e.g. "size 2 -> 4: start 2" */
	char release_before[9], release_after[9]; /* "" where the side has no swarm */
};

struct offline_plan {
	VEC(struct oplan_change) changes; /* in display order; one swarm's are adjacent */
	long start, stop;
	size_t swarms_changed; /* distinct swarms with a change; a rename counts once */
	size_t other_changes;  /* balancers and pools */
	long instances_before, vanished;
	bool guard_tripped; /* apply would refuse without --allow-mass-stop */
	const char *guard_reason;
	struct arena mem; /* every string above */
};

/* Diffs two loaded, valid models. The plan points into both: keep them until
 * offline_plan_release. Pure: no I/O, and the same models give the same plan. */
void offline_plan_build(struct offline_plan *p, const struct desired *before,
			const struct desired *after);
void offline_plan_release(struct offline_plan *p);
const char *oplan_kind_text(enum oplan_kind k);

/* One side as the renderers name it. */
struct oplan_side {
	const char *path;   /* the repository or directory read */
	const char *ref;    /* the ref asked for; NULL for a working tree */
	const char *commit; /* the full commit id; NULL for a working tree */
	const char *subdir; /* the directory read within the commit; NULL or "" for all */
	bool absent;	    /* the commit has no desired state there: read as empty */
};

/* The renderers (cmd_plan_offline.c): text for people, and the JSON document
 * of schema/plan-offline.schema.json. Both return 0, or -1 on a write error. */
int oplan_print_text(FILE *f, const struct offline_plan *p, const struct oplan_side *before,
		     const struct oplan_side *after);
int oplan_print_json(FILE *f, const struct offline_plan *p, const struct oplan_side *before,
		     const struct oplan_side *after);

/* plan --offline --against REF: no host contacted. Prints the plan; returns the exit code
 * (0 nothing to do, 2 changes pending with --detailed-exitcode else 0, 1 error). */
int plan_offline_run(const struct cli_opts *o);

#endif

/*
 * One round of reconciliation: read the desired state, ask the fleet, plan,
 * refuse what the mass-stop guard forbids, apply under the state lock, and
 * record what happened (hosts.json, last.json, the journal). `raptor apply`
 * runs one round (with a PLANFILE and a confirmation when asked);
 * `raptor reconcile` runs them in a loop, and its metrics come from the
 * round's report.
 */
#ifndef RAPTOR_ROUND_H
#define RAPTOR_ROUND_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "executor.h"
#include "planner.h"

enum round_outcome {
	ROUND_NOTHING,	 /* the fleet already matched */
	ROUND_CONVERGED, /* applied, and everything converged */
	ROUND_FAILED,	 /* applied, and something did not converge */
	ROUND_REFUSED,	 /* the guard, a stale PLANFILE or no confirmation: nothing applied */
	ROUND_ERROR,	 /* the desired state, the lock or the fleet could not be had */
	ROUND_OUTCOMES
};

struct round_opts {
	const char *cmd;      /* "apply" or "reconcile", for messages */
	const char *planfile; /* apply exactly this plan (apply only) */
	bool ask;	      /* confirm on a terminal unless --yes (apply only) */
	bool loop;	      /* reconcile: journal every round, show only plans with changes */
};

struct round_report {
	enum round_outcome outcome;
	char *commit; /* of the desired state read, or NULL */
	double seconds;
	bool planned; /* the fleet was asked: the counts below mean something */
	size_t hosts, unreachable;
	size_t instances[CLASS_UNMANAGED + 1]; /* by planner class */
	struct apply_result res;	       /* what apply did (zero when nothing ran) */
};

/* Runs one round; the report says how it went (everything is also printed:
 * the plan and progress on stderr, the result line on stdout). Returns the
 * command's exit status: 0 nothing to do or converged, 1 otherwise. */
int round_run(struct round_report *out, struct cli_opts *o, const struct round_opts *ro);
void round_report_release(struct round_report *r);
const char *round_outcome_text(enum round_outcome o);

#endif

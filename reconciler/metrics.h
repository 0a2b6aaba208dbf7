/*
 * The reconcile loop's metrics, as a Prometheus text file for node_exporter's
 * textfile collector: written after every round, atomically (a scrape never
 * reads half a file). The names are listed in README.md ("Metrics"); each
 * carries HELP and TYPE lines. Formatting is pure, so it is unit-tested.
 */
#ifndef RAPTOR_METRICS_H
#define RAPTOR_METRICS_H

#include "buf.h"
#include "error.h"
#include "round.h"

/* What the loop remembers between rounds. */
struct metrics_loop {
	size_t rounds[ROUND_OUTCOMES];
	double last_success;  /* Unix time a round last ended converged or with nothing to
				 do; 0 before one has */
	char *applied_commit; /* the commit the fleet last matched; NULL before */
};

/* Counts the round into the loop's memory; `now` is when it ended. */
void metrics_note_round(struct metrics_loop *m, const struct round_report *r, double now);
/* The text file for the last round `r`, which ended at `now`. */
void metrics_format(struct buf *out, const struct round_report *r, double now,
		    const struct metrics_loop *m);
int metrics_write(const char *path, const struct buf *text, struct error *err);
void metrics_loop_release(struct metrics_loop *m);

#endif

/*
 * The health checks of one wave, side by side (DESIGN.md §5, apply's check
 * phase). A check blocks for as long as its instance takes to come up
 * (health.c), so checks run on worker threads: the executor hands one over
 * as soon as supervisord says its instance is RUNNING, and collects the
 * results between its polls of the hosts. A wave of N instances then costs
 * its slowest check, not the sum of all of them. Workers run health_check
 * and nothing else; messages, the journal and every arena stay on the
 * caller's thread.
 */
#ifndef RAPTOR_HEALTH_POOL_H
#define RAPTOR_HEALTH_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "health.h"

struct health_pool;

#define HEALTH_THREADS 64 /* workers at most, when the settings say nothing */

/* A pool of at most `threads` workers (at least 1), started as needed. */
struct health_pool *health_pool_new(unsigned threads);

/*
 * Queues a check of `t` (copied; what it points to must outlive the check)
 * until `deadline_ms` (health_now_ms's clock). `tag` comes back with its result.
 */
void health_pool_submit(struct health_pool *p, const struct health_target *t, uint64_t deadline_ms,
			void *tag);

/*
 * Waits for a finished check until `until_ms` (health_now_ms's clock):
 * 1 with its tag and `*rc` (0 healthy, -1 with the reason in `err`); 0 when
 * none finished by then, or at once when none is queued or running.
 */
int health_pool_wait(struct health_pool *p, uint64_t until_ms, void **tag, int *rc,
		     struct error *err);

/* Checks queued or running whose results have not been taken. */
size_t health_pool_pending(struct health_pool *p);

/* Waits for the checks still running (each ends by its deadline), then frees. */
void health_pool_free(struct health_pool *p);

#endif

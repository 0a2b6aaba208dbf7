/*
 * A command raptor runs and does not trust to finish: a health check's uptest
 * (health.c) and a balancer's test and reload (balancer_nginx.c). No shell:
 * argv[0] is looked up on PATH and exec'd. The command gets its own process
 * group, stdin from /dev/null, stdout and stderr together into one pipe (a
 * capped part of it kept), an environment that is raptor's minus the
 * variables the caller names (the supervisor credentials' env: variable,
 * DESIGN.md §7), its signal dispositions and mask reset, and no descriptor of
 * raptor's above 2 (the state lock, sockets). At an absolute deadline its
 * whole group is killed; it is always reaped.
 *
 * Safe to run from several threads at once: no static or global mutable
 * state, every descriptor is close-on-exec from the moment it exists (so
 * another thread's fork cannot leak it), the environment is copied before
 * fork, the child does only async-signal-safe things before exec, and only
 * its own pid is waited for.
 */
#ifndef RAPTOR_CHILD_H
#define RAPTOR_CHILD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

struct child_spec {
	char *const *argv; /* NULL-terminated; argv[0] looked up on PATH */
	/* NULL-terminated names left out of the child's environment; NULL for none */
	const char *const *env_drop;
	uint64_t deadline_ms; /* absolute, CLOCK_MONOTONIC (child_now_ms) */
	size_t output_cap;    /* of its output, the bytes kept; the rest is read and dropped */
	/*
	 * After the command exits, what happens to the rest of its process
	 * group. 0: it is killed at once. N: it may hold the output open for up
	 * to N ms more (a command's output is only complete when every writer
	 * is gone); whatever still holds it then is killed with the group, and
	 * members that let go of it are left alone.
	 */
	uint64_t straggler_ms;
};

enum child_end {
	CHILD_EXITED,	 /* `code`: its exit status */
	CHILD_SIGNALED,	 /* `code`: the signal that ended it */
	CHILD_TIMED_OUT, /* still running at the deadline: its group was killed */
	CHILD_NOT_RUN,	 /* it could not be exec'd (or argv is empty); `code`: the errno */
	CHILD_LOST,	 /* reaped by someone else (SIGCHLD is ignored): its end is unknown */
};

struct child_result {
	enum child_end end;
	int code;
};

/*
 * Runs spec->argv to its end or the deadline, whichever comes first, and
 * appends what it wrote (at most spec->output_cap bytes) to `output`. 0 when
 * the command's end is in `res` (any end, a failed exec included); -1 when it
 * could not be started at all, with the call that failed in `err`
 * ("fork: Resource temporarily unavailable").
 */
int child_run(const struct child_spec *spec, struct child_result *res, struct buf *output,
	      struct error *err);

/* CLOCK_MONOTONIC in milliseconds, the clock of deadline_ms. */
uint64_t child_now_ms(void);

#endif

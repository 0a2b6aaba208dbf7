/*
 * A swarm's health checks against one instance (DESIGN.md §3 `health:`, §5
 * apply's check phase): tcp, then http, then each uptest, each retried until
 * it passes or an absolute deadline passes. No shell anywhere, and nothing
 * blocks past the deadline: connects and GETs are bounded by it, a host name
 * is looked up on a thread that is abandoned when time runs out, and an
 * uptest still running then is killed with its whole process group.
 */
#ifndef RAPTOR_HEALTH_H
#define RAPTOR_HEALTH_H

#include <stdint.h>

#include "error.h"

struct health;

#define HEALTH_PAUSE_MS	    200		      /* between two tries of one check */
#define HEALTH_TRY_MS	    5000	      /* one tcp connect or http GET at most */
#define HEALTH_OUTPUT_CAP   ((size_t)4 << 10) /* of an uptest's output, the part kept */
#define HEALTH_OUTPUT_LINES 3		      /* of that, the lines a message shows */

struct health_target {
	const char *host;    /* host name: the first argument given to an uptest */
	const char *address; /* where to connect: an IPv4 or IPv6 address, or a host name */
	int port; /* 0 for a worker (port: none): tcp/http are skipped (the loader forbids them) */
	const struct health *h;
	/* NULL-terminated names left out of an uptest's environment (the
	 * supervisor credentials' env: variable), or NULL */
	const char *const *env_drop;
};

/*
 * Runs the swarm's checks in order — tcp (connect to address:port), http
 * (GET http://address:port/PATH; 2xx and 3xx are healthy, redirects are not
 * followed), each uptest (argv + HOST PORT appended, PORT "0" for a worker;
 * exit 0 is healthy; run by child.h: stdin is /dev/null, stdout and stderr
 * are read together, the environment is raptor's without t->env_drop) —
 * retrying each until it passes or `deadline_ms` (CLOCK_MONOTONIC
 * milliseconds, absolute) passes, with HEALTH_PAUSE_MS between tries; a
 * check that passed is not repeated, and the first that fails ends the run.
 * An uptest that cannot be started (no such file, not executable) fails at
 * once: retrying cannot help. Whatever an uptest leaves running in its
 * process group is killed when it exits.
 *
 * 0 when all pass (or there are none); -1 with a message naming the check,
 * what it saw last and for how long it tried:
 *   http GET http://10.0.0.1:5001/healthz answered 503 for 20s
 *   tcp 10.0.0.1:5001: connection refused for 20s
 *   uptest /apps/x/uptest web1 5001 exited 2 after 20s: <first 3 lines of its output>
 * A try cut short by the deadline does not hide what an earlier, complete
 * try saw (a 503 before a GET that the deadline interrupted is reported).
 */
int health_check(const struct health_target *t, uint64_t deadline_ms, struct error *err);

/* CLOCK_MONOTONIC in milliseconds, the clock of `deadline_ms`. */
uint64_t health_now_ms(void);

#endif

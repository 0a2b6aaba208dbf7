/*
 * `raptor reconcile`: rounds of plan and apply (round.c), one every DURATION,
 * so the fleet heals its drift and follows the repository by itself. Each
 * round reads the desired state afresh (a --repo URL is fetched first), runs
 * with apply's guards (never an implicit --allow-mass-stop), is journaled,
 * and leaves a metrics file. A round that fails is retried sooner, 1 s then
 * doubling, never later than DURATION.
 *
 * Signals are never handled asynchronously: SIGTERM, SIGINT and SIGHUP stay
 * blocked, so a round is never cut short, and the wait between rounds is a
 * sigtimedwait() for them. SIGTERM or SIGINT ends the loop (exit 0) once the
 * round in flight is done; SIGHUP starts a round at once. The children raptor
 * runs (health checks, balancer commands) get a clean signal mask.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "metrics.h"
#include "round.h"
#include "state.h"
#include "units.h"
#include "banned.h"

#define BACKOFF_FIRST_MS 1000

static double now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_metrics(const struct cli_opts *o, const struct round_report *r, double now,
			  const struct metrics_loop *m)
{
	struct buf text = BUF_INIT;
	struct error err = ERROR_INIT;

	metrics_format(&text, r, now, m);
	if (metrics_write(o->metrics_file, &text, &err) < 0)
		fprintf(stderr, "raptor reconcile: metrics: %s\n", error_msg(&err));
	buf_release(&text);
	error_release(&err);
}

/* Waits up to `ms` for a signal of `set`: 0 when the time is up, else the
 * signal. */
static int wait_signal(const sigset_t *set, uint64_t ms)
{
	struct timespec ts;
	uint64_t end;
	int sig;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + ms;
	for (;;) {
		uint64_t now, left;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		left = now < end ? end - now : 0;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		sig = sigtimedwait(set, NULL, &ts);
		if (sig > 0)
			return sig;
		if (errno == EAGAIN)
			return 0;
		/* EINTR: another signal (SIGCHLD, SIGSTOP/SIGCONT) came; wait on */
	}
}

int cmd_reconcile(struct cli_opts *o)
{
	struct metrics_loop m = {0};
	struct error err = ERROR_INIT;
	sigset_t set, old;
	uint64_t every = 0, backoff = 0;
	unsigned long round = 0;
	int rc = 1;

	if (!o->every && !o->once) {
		fprintf(stderr,
			"raptor reconcile: give --every DURATION (or --once for one round)\n");
		return 1;
	}
	if (o->every && duration_parse(&every, o->every, &err) < 0) {
		fprintf(stderr, "raptor reconcile: --every %s: %s\n", o->every, error_msg(&err));
		error_release(&err);
		return 1;
	}
	if (o->every && !every) {
		fprintf(stderr, "raptor reconcile: --every must be longer than 0\n");
		return 1;
	}
	/* a one-shot round (a timer's) knows what the last one applied */
	state_last_converged(&m.applied_commit, o->state_dir);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	for (;;) {
		struct round_opts ro = {.cmd = "reconcile", .loop = true};
		struct round_report rep;
		double ended;
		int sig;

		round++;
		rc = round_run(&rep, o, &ro);
		ended = now_unix();
		metrics_note_round(&m, &rep, ended);
		if (o->metrics_file)
			write_metrics(o, &rep, ended, &m);
		if (!o->quiet)
			fprintf(stderr, "raptor reconcile: round %lu%s%.12s: %s (%.2fs)\n", round,
				rep.commit ? " at " : "", rep.commit ? rep.commit : "",
				round_outcome_text(rep.outcome), rep.seconds);
		backoff = rc == 0 ? 0 : backoff ? backoff * 2 : BACKOFF_FIRST_MS;
		if (backoff > every)
			backoff = every;
		round_report_release(&rep);
		if (o->once)
			break;
		sig = wait_signal(&set, backoff ? backoff : every);
		if (sig == SIGHUP) {
			if (!o->quiet)
				fprintf(stderr, "raptor reconcile: SIGHUP: a round now\n");
			continue;
		}
		if (sig) {
			if (!o->quiet)
				fprintf(stderr, "raptor reconcile: %s: stopping\n", strsignal(sig));
			rc = 0;
			break;
		}
	}
	{
		/* a signal that came during a last round (--once) is answered by
		 * this exit, not by dying of it when the mask is restored */
		struct timespec zero = {0, 0};

		while (sigtimedwait(&set, NULL, &zero) > 0)
			;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	metrics_loop_release(&m);
	return rc;
}

/* One round of plan and apply; see round.h. */
#include "round.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "fleet.h"
#include "fileio.h"
#include "health.h"
#include "planfile.h"
#include "render_plan.h"
#include "state.h"
#include "xalloc.h"
#include "banned.h"

const char *round_outcome_text(enum round_outcome o)
{
	static const char *const words[ROUND_OUTCOMES] = {"nothing", "converged", "failed",
							  "refused", "error"};

	return o < ROUND_OUTCOMES ? words[o] : "?";
}

/* A PLANFILE is applied only as it was made (planfile.c). */
static int check_planfile(const char *path, const struct plan *p, const struct live *l)
{
	struct error err = ERROR_INIT;
	struct buf text = BUF_INIT;
	int rc = -1;

	if (file_read_capped(&text, path, PLANFILE_MAX, &err) == 0 &&
	    planfile_check(text.ptr ? text.ptr : "", text.len, path, p, l, &err) == 0)
		rc = 0;
	else
		fprintf(stderr, "raptor apply: %s\n", error_msg(&err));
	buf_release(&text);
	error_release(&err);
	return rc;
}

static int confirm(const struct cli_opts *o)
{
	char line[16];

	if (o->yes)
		return 0;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr,
			"raptor apply: not a terminal, so nobody can confirm: pass --yes to apply without asking\n");
		return -1;
	}
	fprintf(stderr, "Apply this plan? Only 'yes' is accepted: ");
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n")) {
		fprintf(stderr, "raptor apply: not applied\n");
		return -1;
	}
	return 0;
}

/* The hosts raptor manages after this apply: every reachable host with a
 * managed program left, and every recorded host that did not answer. */
static int record_hosts(const struct cli_opts *o, const struct live *l, const struct plan *p,
			const struct apply_result *res, struct error *err)
{
	struct arena mem = ARENA_INIT;
	state_hosts old = {0}, now = {0};
	int rc = -1;

	(void)res;
	if (state_hosts_read(&old, &mem, o->state_dir, err) < 0)
		goto cleanup;
	for (size_t i = 0; i < l->hosts.n; i++) {
		const struct live_host *h = &l->hosts.v[i];
		long managed = (long)h->nprograms;
		bool recorded = false;

		for (size_t j = 0; j < old.n; j++)
			recorded |= !strcmp(old.v[j].name, h->name);
		for (size_t j = 0; j < p->actions.n; j++) {
			const struct plan_action *a = &p->actions.v[j];

			if (a->host && !strcmp(a->host, h->name))
				managed += a->op == PLAN_START ? 1 : a->op == PLAN_STOP ? -1 : 0;
		}
		if ((h->reachable && managed > 0) || (!h->reachable && recorded))
			*vec_add(&now) = (struct state_host){h->name, h->address, h->url};
	}
	rc = state_hosts_write(o->state_dir, now.v, now.n, err);
cleanup:
	vec_release(&old);
	vec_release(&now);
	arena_release(&mem);
	return rc;
}

static void journal_round(const struct cli_opts *o, const char *cmd, const struct round_report *r,
			  const char *why)
{
	struct journal_entry e = {
		.op = cmd,
		.result = round_outcome_text(r->outcome),
		.error = why,
		.commit = r->commit,
		.seconds = r->seconds,
	};
	struct error err = ERROR_INIT;

	if (state_journal(o->state_dir, &e, &err) < 0)
		fprintf(stderr, "raptor %s: journal: %s\n", cmd, error_msg(&err));
	error_release(&err);
}

int round_run(struct round_report *out, struct cli_opts *o, const struct round_opts *ro)
{
	struct error err = ERROR_INIT;
	struct state_lock lock = {.fd = -1};
	struct apply_result *res = &out->res;
	struct plan plan = {0};
	struct fleet_opts fo;
	struct source src;
	struct desired d;
	struct live live;
	uint64_t t0 = health_now_ms();
	const char *why = NULL;

	memset(out, 0, sizeof(*out));
	out->outcome = ROUND_ERROR;
	live_init(&live);
	if (load_desired(&d, &src, o, ro->cmd) < 0) {
		/* the commit that was read, when it was the YAML that failed */
		if (src.commit)
			out->commit = xstrdup(src.commit);
		why = "the desired state could not be read";
		goto cleanup;
	}
	if (src.commit)
		out->commit = xstrdup(src.commit);
	desired_releases(&d);
	if (state_lock(&lock, o->state_dir, &err) < 0) {
		fprintf(stderr, "raptor %s: %s\n", ro->cmd, error_msg(&err));
		why = "the state lock is held";
		goto cleanup;
	}
	if (gather_live(&live, &d, o, ro->cmd) < 0) {
		why = "the fleet could not be asked";
		goto cleanup;
	}
	plan_build(&plan, &d, &live);
	out->planned = true;
	out->hosts = live.hosts.n;
	out->unreachable = live_unreachable(&live);
	for (size_t i = 0; i < plan.entries.n; i++)
		out->instances[plan.entries.v[i].klass]++;
	out->outcome = ROUND_REFUSED;
	if (ro->planfile && check_planfile(ro->planfile, &plan, &live) < 0) {
		why = "the PLANFILE does not match";
		goto cleanup;
	}
	/* a loop shows a plan only when it has something in it */
	if (!o->quiet &&
	    (!ro->loop || plan.starts || plan.stops || plan.routes || plan.errors || o->verbose))
		render_plan_text(stderr, &plan, &d, &live);
	if (plan.errors)
		fprintf(stderr,
			"raptor %s: %zu swarm%s cannot be planned (see the notes); the others are applied\n",
			ro->cmd, plan.errors, plan.errors == 1 ? "" : "s");
	if (plan.guard_tripped && o->allow_mass_stop)
		fprintf(stderr,
			"raptor %s: the mass-stop guard trips, and --allow-mass-stop overrides it: going ahead\n",
			ro->cmd);
	if (plan.guard_tripped && !o->allow_mass_stop) {
		fprintf(stderr, "raptor %s: refused: %s. If that is what you want, %s.\n", ro->cmd,
			plan.guard_reason,
			ro->loop ? "run `raptor apply --allow-mass-stop` once; this loop never will"
				 : "run again with --allow-mass-stop");
		why = plan.guard_reason;
		goto cleanup;
	}
	if (!plan.starts && !plan.stops && !plan.routes) {
		size_t waiting = plan.notes.n - plan.errors;

		if (plan.errors)
			printf("Nothing applied: %zu swarm%s cannot be planned (see the notes).\n",
			       plan.errors, plan.errors == 1 ? "" : "s");
		else if (waiting)
			printf("Nothing to do now: %zu swarm%s wait%s for unreachable hosts (see the notes).\n",
			       waiting, waiting == 1 ? "" : "s", waiting == 1 ? "s" : "");
		else
			printf("Nothing to do: the fleet matches the desired state%s%s.\n",
			       src.commit ? " at " : "", src.commit ? src.commit : "");
		out->outcome = plan.errors ? ROUND_FAILED : ROUND_NOTHING;
		if (plan.errors)
			why = "some swarms cannot be planned";
		else if (waiting)
			why = "some swarms wait for unreachable hosts";
		goto cleanup;
	}
	if (ro->ask && confirm(o) < 0) {
		why = "not confirmed";
		goto cleanup;
	}
	/* the journal takes the plan before any host is touched: a state
	 * directory that cannot be written (read-only, full) stops the round
	 * here, with nothing changed */
	{
		struct journal_entry e = {.op = "plan", .result = "applying", .commit = src.commit};
		char what[96];

		snprintf(what, sizeof(what), "%zu to start, %zu to stop, %zu pool%s to change",
			 plan.starts, plan.stops, plan.routes, plan.routes == 1 ? "" : "s");
		e.detail = what;
		if (state_journal(o->state_dir, &e, &err) < 0) {
			fprintf(stderr, "raptor %s: %s; nothing was applied\n", ro->cmd,
				error_msg(&err));
			out->outcome = ROUND_ERROR;
			why = "the state directory cannot be written";
			goto cleanup;
		}
	}
	fleet_opts_from_settings(&fo, &d.settings);
	{
		struct apply_opts ao = {
			.state_dir = o->state_dir,
			.commit = src.commit,
			.fleet = &fo,
			.progress = o->quiet ? NULL : stderr,
		};
		bool failed = apply_run(res, &plan, &d, &live, &ao) < 0 || plan.errors;

		/* what the hosts now run is done; a state directory that could not
		 * record it fails the round, so that nobody trusts a record with holes */
		if (record_hosts(o, &live, &plan, res, &err) < 0) {
			fprintf(stderr, "raptor %s: %s\n", ro->cmd, error_msg(&err));
			vec_push(&res->failures, arena_strdup(&res->mem, error_msg(&err)));
			failed = true;
		}
		if (state_last_write(o->state_dir, src.commit, failed ? "failed" : "converged",
				     res->started, res->stopped, res->failed_actions, &err) < 0) {
			fprintf(stderr, "raptor %s: %s\n", ro->cmd, error_msg(&err));
			vec_push(&res->failures, arena_strdup(&res->mem, error_msg(&err)));
			failed = true;
		}
		if (res->journal_errors) {
			char what[96];

			snprintf(what, sizeof(what), "%zu journal line%s could not be written",
				 res->journal_errors, res->journal_errors == 1 ? "" : "s");
			vec_push(&res->failures, arena_strdup(&res->mem, what));
		}
		printf("Applied: %zu started, %zu stopped, %zu balancer%s reloaded.", res->started,
		       res->stopped, res->routed, res->routed == 1 ? "" : "s");
		if (failed && res->failed_swarms) {
			printf(" %zu swarm%s did not converge:\n", res->failed_swarms,
			       res->failed_swarms == 1 ? "" : "s");
			for (size_t i = 0; i < res->failures.n; i++)
				printf("  %s\n", res->failures.v[i]);
		} else if (failed && !res->failures.n) {
			printf(" %zu swarm%s could not be planned (see the notes).\n", plan.errors,
			       plan.errors == 1 ? "" : "s");
		} else if (failed) {
			printf(" %zu action%s failed:\n", res->failures.n,
			       res->failures.n == 1 ? "" : "s");
			for (size_t i = 0; i < res->failures.n; i++)
				printf("  %s\n", res->failures.v[i]);
		} else {
			printf(" Converged.\n");
		}
		fflush(stdout);
		out->outcome = failed ? ROUND_FAILED : ROUND_CONVERGED;
		if (failed)
			why = res->failures.n ? res->failures.v[0]
					      : "some swarms cannot be planned";
	}
cleanup:
	out->seconds = (double)(health_now_ms() - t0) / 1000.0;
	/* the journal is the loop's history: every round of it is there; an
	 * apply that never reached the lock (bad input) writes nothing at all */
	if (ro->loop || lock.path)
		journal_round(o, ro->cmd, out, why);
	plan_release(&plan);
	live_release(&live);
	desired_release(&d);
	source_release(&src);
	state_unlock(&lock);
	error_release(&err);
	return out->outcome == ROUND_NOTHING || out->outcome == ROUND_CONVERGED ? 0 : 1;
}

void round_report_release(struct round_report *r)
{
	free(r->commit);
	apply_result_release(&r->res);
}

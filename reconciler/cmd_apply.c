/*
 * `raptor apply`: the plan, made real. Reads the desired state, asks the
 * fleet, plans (or takes a PLANFILE and refuses it if the fleet changed since),
 * shows the plan, refuses what the mass-stop guard forbids, asks for a yes
 * on a terminal, takes the state lock and runs the executor. Everything it
 * does goes to STATE/journal.jsonl; STATE/hosts.json keeps every host raptor
 * manages until it is clean; STATE/last.json the last outcome.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "executor.h"
#include "fleet.h"
#include "planner.h"
#include "render_plan.h"
#include "state.h"
#include "banned.h"

/* A PLANFILE is applied only as it was made: the same live state (its
 * fingerprint) and, planned again from it, the same actions. */
static int check_planfile(const char *path, const struct plan *p, const struct live *l)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	json_t *actions;
	char fp[17];
	int rc = -1;

	if (!doc) {
		fprintf(stderr, "raptor apply: %s:%d:%d: %s\n", path, jerr.line, jerr.column,
			jerr.text);
		return -1;
	}
	live_fingerprint(fp, l);
	if (!json_is_string(json_object_get(doc, "fingerprint")) ||
	    strcmp(json_string_value(json_object_get(doc, "fingerprint")), fp)) {
		fprintf(stderr,
			"raptor apply: %s was made from another live state (the fleet changed since: hosts, programs or ports); make a new plan\n",
			path);
		goto cleanup;
	}
	actions = json_object_get(doc, "actions");
	if (!json_is_array(actions) || json_array_size(actions) != p->actions.n) {
		fprintf(stderr,
			"raptor apply: %s does not match the plan made now (the desired state changed since); make a new plan\n",
			path);
		goto cleanup;
	}
	for (size_t i = 0; i < p->actions.n; i++) {
		const struct plan_action *a = &p->actions.v[i];
		json_t *o = json_array_get(actions, i);
		const char *op = json_string_value(json_object_get(o, "op"));
		const char *prog = json_string_value(json_object_get(o, "program"));

		if (!op || strcmp(op, plan_op_text(a->op)) ||
		    (a->program && (!prog || strcmp(prog, a->program)))) {
			fprintf(stderr,
				"raptor apply: %s does not match the plan made now (action %zu differs); make a new plan\n",
				path, i + 1);
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	json_decref(doc);
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

int cmd_apply(struct cli_opts *o)
{
	struct error err = ERROR_INIT;
	struct state_lock lock = {.fd = -1};
	struct apply_result res = {0};
	struct plan plan = {0};
	struct fleet_opts fo;
	struct source src;
	struct desired d;
	struct live live;
	const char *planfile = o->planfile;
	struct stat st;
	int rc = 1;

	live_init(&live);
	/* one positional that is a file, not a directory, is the PLANFILE */
	if (!planfile && o->path && stat(o->path, &st) == 0 && S_ISREG(st.st_mode)) {
		planfile = o->path;
		o->path = NULL;
	}
	if (load_desired(&d, &src, o, "apply") < 0)
		goto cleanup;
	desired_releases(&d);
	if (state_lock(&lock, o->state_dir, &err) < 0) {
		fprintf(stderr, "raptor apply: %s\n", error_msg(&err));
		goto cleanup;
	}
	if (gather_live(&live, &d, o, "apply") < 0)
		goto cleanup;
	plan_build(&plan, &d, &live);
	if (planfile && check_planfile(planfile, &plan, &live) < 0)
		goto cleanup;
	if (!o->quiet)
		render_plan_text(stderr, &plan, &d, &live);
	if (plan.errors)
		fprintf(stderr,
			"raptor apply: %zu swarm%s cannot be planned (see the notes); the others are applied\n",
			plan.errors, plan.errors == 1 ? "" : "s");
	if (plan.guard_tripped && !o->allow_mass_stop) {
		fprintf(stderr,
			"raptor apply: refused: %s. If that is what you want, run again with --allow-mass-stop.\n",
			plan.guard_reason);
		goto cleanup;
	}
	if (!plan.starts && !plan.stops && !plan.routes) {
		printf("Nothing to do: the fleet matches the desired state%s%s.\n",
		       src.commit ? " at " : "", src.commit ? src.commit : "");
		rc = plan.errors ? 1 : 0;
		goto cleanup;
	}
	if (confirm(o) < 0)
		goto cleanup;
	fleet_opts_from_settings(&fo, &d.settings);
	{
		struct apply_opts ao = {
			.state_dir = o->state_dir,
			.commit = src.commit,
			.fleet = &fo,
			.progress = o->quiet ? NULL : stderr,
		};
		int failed = apply_run(&res, &plan, &d, &live, &ao) < 0;

		if (record_hosts(o, &live, &plan, &res, &err) < 0)
			fprintf(stderr, "raptor apply: %s\n", error_msg(&err));
		if (state_last_write(o->state_dir, src.commit,
				     failed || plan.errors ? "failed" : "converged", res.started,
				     res.stopped, res.failed_actions, &err) < 0)
			fprintf(stderr, "raptor apply: %s\n", error_msg(&err));
		printf("Applied: %zu started, %zu stopped, %zu balancer%s reloaded.", res.started,
		       res.stopped, res.routed, res.routed == 1 ? "" : "s");
		if (failed) {
			printf(" %zu swarm%s did not converge:\n", res.failed_swarms,
			       res.failed_swarms == 1 ? "" : "s");
			for (size_t i = 0; i < res.failures.n; i++)
				printf("  %s\n", res.failures.v[i]);
		} else {
			printf(" Converged.\n");
		}
		rc = failed || plan.errors ? 1 : 0;
	}
cleanup:
	apply_result_release(&res);
	plan_release(&plan);
	live_release(&live);
	desired_release(&d);
	source_release(&src);
	state_unlock(&lock);
	error_release(&err);
	return rc;
}

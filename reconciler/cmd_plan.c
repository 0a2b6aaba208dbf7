/*
 * `raptor plan`: what apply would do, and nothing else. Reads the desired
 * state, asks the fleet, runs the pure planner, and prints the plan for
 * people or as JSON; --out also writes it, with the fingerprint of the live
 * state it was made from, for `raptor apply PLANFILE`. --offline compares two
 * desired states without asking any host (cmd_plan_offline.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "fileio.h"
#include "plan_offline.h"
#include "planner.h"
#include "render_plan.h"
#include "banned.h"

#define PLAN_CHANGES_PENDING 2

/* Written atomically: a reader (apply PLANFILE) never sees half a plan. */
static int write_planfile(const char *path, json_t *doc)
{
	struct error err = ERROR_INIT;
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int rc = -1;

	if (!text) {
		fprintf(stderr, "raptor plan: cannot encode the plan\n");
		return -1;
	}
	if (file_write_atomic(path, text, strlen(text), 0644, &err) < 0)
		fprintf(stderr, "raptor plan: %s\n", error_msg(&err));
	else
		rc = 0;
	free(text);
	error_release(&err);
	return rc;
}

int cmd_plan(struct cli_opts *o)
{
	struct plan plan = {0};
	struct source src;
	struct desired d;
	struct live live;
	json_t *doc = NULL;
	int rc = 1;

	if (o->offline)
		return plan_offline_run(o);
	live_init(&live);
	if (load_desired(&d, &src, o, "plan") < 0 || gather_live(&live, &d, o, "plan") < 0)
		goto cleanup;
	desired_releases(&d);
	plan_build(&plan, &d, &live);
	if (o->json || o->out)
		doc = render_plan_json(&plan, &live, &src);
	if (o->json) {
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
	} else {
		render_plan_text(stdout, &plan, &d, &live);
	}
	if (o->out && write_planfile(o->out, doc) < 0)
		goto cleanup;
	if (plan.errors)
		goto cleanup;
	rc = o->detailed_exitcode && plan.starts + plan.stops + plan.routes ? PLAN_CHANGES_PENDING
									    : 0;
cleanup:
	json_decref(doc);
	plan_release(&plan);
	live_release(&live);
	desired_release(&d);
	source_release(&src);
	return rc;
}

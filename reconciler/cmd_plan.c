/*
 * `raptor plan`: what apply would do, and nothing else. Reads the desired
 * state, asks the fleet, runs the pure planner, and prints the plan for
 * people or as JSON; --out also writes it, with the fingerprint of the live
 * state it was made from, for `raptor apply PLANFILE`. --offline compares two
 * desired states without asking any host (cmd_plan_offline.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "plan_offline.h"
#include "planner.h"
#include "render_plan.h"
#include "banned.h"

#define PLAN_CHANGES_PENDING 2

/* Written to a temporary name beside it and renamed, so a reader never sees
 * half a plan. */
static int write_planfile(const char *path, json_t *doc)
{
	size_t len = strlen(path) + 32;
	char *tmp = malloc(len);
	int rc = -1;

	snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
	if (json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
		fprintf(stderr, "raptor plan: cannot write %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	if (rename(tmp, path) < 0) {
		fprintf(stderr, "raptor plan: cannot write %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (rc < 0)
		unlink(tmp);
	free(tmp);
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

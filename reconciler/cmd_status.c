/*
 * `raptor status`: every host of the desired squads (and every host in the
 * state's record that no squad lists) asked at once what it runs; each
 * program shown with its state and whether raptor owns it. Exit 0 when
 * every host answered, 3 when some did not, 1 when the command could not
 * run (a desired state with errors, unreadable credentials).
 */
#include <stdio.h>

#include "commands.h"
#include "desired_load.h"
#include "status_view.h"
#include "banned.h"

#define STATUS_SOME_UNREACHABLE 3

int cmd_status(struct cli_opts *o)
{
	struct status_view view = {0};
	struct plan plan = {0};
	struct source src;
	struct desired d;
	struct live live;
	int rc = 1;

	live_init(&live);
	if (load_desired(&d, &src, o, "status") < 0 || gather_live(&live, &d, o, "status") < 0)
		goto cleanup;
	/* the planner's view gives each managed program its class */
	desired_releases(&d);
	plan_build(&plan, &d, &live);
	status_view_build(&view, &live, &plan);
	if (o->json)
		render_status_json(stdout, &view, &src);
	else
		render_status_text(stdout, &view);
	rc = live_unreachable(&live) ? STATUS_SOME_UNREACHABLE : 0;
cleanup:
	status_view_release(&view);
	plan_release(&plan);
	live_release(&live);
	desired_release(&d);
	source_release(&src);
	return rc;
}

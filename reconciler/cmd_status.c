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
#include "fleet.h"
#include "state.h"
#include "status_view.h"
#include "banned.h"

#define STATUS_SOME_UNREACHABLE 3

int cmd_status(struct cli_opts *o)
{
	struct error err = ERROR_INIT;
	struct arena mem = ARENA_INIT;
	fleet_targets targets = {0};
	state_hosts recorded = {0};
	struct fleet_target *extra = NULL;
	struct fleet_opts fo;
	struct status_view view = {0};
	struct source src;
	struct desired d;
	struct live live;
	int rc = 1;

	live_init(&live);
	if (load_desired(&d, &src, o, "status") < 0)
		goto cleanup;
	if (state_hosts_read(&recorded, &mem, o->state_dir, &err) < 0) {
		fprintf(stderr, "raptor status: %s\n", error_msg(&err));
		goto cleanup;
	}
	extra = arena_alloc(&mem, (recorded.n ? recorded.n : 1) * sizeof(*extra));
	for (size_t i = 0; i < recorded.n; i++) {
		extra[i].name = recorded.v[i].name;
		extra[i].address = recorded.v[i].address;
		extra[i].url = recorded.v[i].url;
	}
	fleet_targets_build(&targets, &d, o->squads.v, o->squads.n, extra, recorded.n);
	if (o->squads.n && !targets.n) {
		fprintf(stderr, "raptor status: no squad of that name in the desired state\n");
		goto cleanup;
	}
	fleet_opts_from_settings(&fo, &d.settings);
	if (!o->quiet && o->verbose)
		fprintf(stderr, "raptor status: asking %zu host%s, %zu at a time\n", targets.n,
			targets.n == 1 ? "" : "s", fo.concurrency);
	if (fleet_query(&live, targets.v, targets.n, &fo, &err) < 0) {
		fprintf(stderr, "raptor status: %s\n", error_msg(&err));
		goto cleanup;
	}
	status_view_build(&view, &live);
	if (o->json)
		render_status_json(stdout, &view, &src);
	else
		render_status_text(stdout, &view);
	rc = live_unreachable(&live) ? STATUS_SOME_UNREACHABLE : 0;
cleanup:
	status_view_release(&view);
	live_release(&live);
	vec_release(&targets);
	vec_release(&recorded);
	arena_release(&mem);
	desired_release(&d);
	source_release(&src);
	error_release(&err);
	return rc;
}

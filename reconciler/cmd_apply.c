/*
 * `raptor apply`: the plan, made real, once. One round (round.c): read the
 * desired state, ask the fleet, plan (or take a PLANFILE and refuse it if the
 * fleet changed since), show the plan, refuse what the mass-stop guard
 * forbids, ask for a yes on a terminal, then run the executor under the
 * state lock. Everything it does goes to STATE/journal.jsonl; STATE/hosts.json
 * keeps every host raptor manages until it is clean; STATE/last.json the
 * last outcome.
 */
#include <sys/stat.h>

#include "commands.h"
#include "round.h"
#include "banned.h"

int cmd_apply(struct cli_opts *o)
{
	struct round_opts ro = {.cmd = "apply", .planfile = o->planfile, .ask = true};
	struct round_report rep;
	struct stat st;
	int rc;

	/* one positional that is a file, not a directory, is the PLANFILE */
	if (!ro.planfile && o->path && stat(o->path, &st) == 0 && S_ISREG(st.st_mode)) {
		ro.planfile = o->path;
		o->path = NULL;
	}
	rc = round_run(&rep, o, &ro);
	round_report_release(&rep);
	return rc;
}

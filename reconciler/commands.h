/* The subcommands: one file each (cmd_*.c), listed in raptor.c's table. */
#ifndef RAPTOR_COMMANDS_H
#define RAPTOR_COMMANDS_H

#include "cli.h"

#include "desired.h"
#include "live.h"
#include "source.h"

int cmd_validate(struct cli_opts *o);
int cmd_status(struct cli_opts *o);
int cmd_plan(struct cli_opts *o);
int cmd_apply(struct cli_opts *o);
int cmd_reconcile(struct cli_opts *o);

/* cmd_common.c: reads the desired state the command line names and checks
 * it, printing every error; 0, or -1 when the command must stop. Release
 * both whatever the result. */
int load_desired(struct desired *d, struct source *src, const struct cli_opts *o, const char *cmd);
/* Asks every host of the desired squads (or the --squad ones) and of the
 * state record what it runs; 0, or -1 (printed) when it cannot ask at all.
 * Release `out` whatever the result. */
int gather_live(struct live *out, const struct desired *d, const struct cli_opts *o,
		const char *cmd);

#endif

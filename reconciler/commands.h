/* The subcommands: one file each (cmd_*.c), listed in raptor.c's table. */
#ifndef RAPTOR_COMMANDS_H
#define RAPTOR_COMMANDS_H

#include "cli.h"

#include "desired.h"
#include "source.h"

int cmd_validate(struct cli_opts *o);
int cmd_status(struct cli_opts *o);

/* Reads the desired state the command line names and checks it, printing
 * every error (cli.c); 0, or -1 when the command must stop. Release both
 * whatever the result. */
int load_desired(struct desired *d, struct source *src, const struct cli_opts *o, const char *cmd);

#endif

/* The subcommands: one file each (cmd_*.c), listed in raptor.c's table. */
#ifndef RAPTOR_COMMANDS_H
#define RAPTOR_COMMANDS_H

#include "cli.h"

int cmd_validate(struct cli_opts *o);

#endif

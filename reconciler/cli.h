/*
 * The command line: the command table's entry type and the one option
 * parser every subcommand shares (DESIGN.md §6), so a flag means the same
 * thing everywhere and a command only declares which flags it takes.
 */
#ifndef RAPTOR_CLI_H
#define RAPTOR_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "vec.h"

enum cli_flags {
	CLI_SOURCE = 1 << 0, /* [PATH] [--repo REPO [--ref REF]] */
	CLI_JSON = 1 << 1,   /* --json */
	CLI_PLAN = 1 << 2,   /* --detailed-exitcode --out PLANFILE --offline --against REF */
	CLI_APPLY = 1 << 3,  /* --yes --allow-mass-stop [PLANFILE] */
	CLI_LOOP = 1 << 4,   /* --every DURATION --once --metrics-file PATH */
};

struct cli_opts {
	const char *path, *repo, *ref, *state_dir;
	VEC(const char *) squads;
	int verbose, quiet;
	bool json;
	bool detailed_exitcode, offline;
	const char *out, *against;
	bool yes, allow_mass_stop;
	const char *planfile;
	const char *every, *metrics_file;
	bool once;
};

struct command {
	const char *name;
	int (*run)(struct cli_opts *o);
	unsigned flags;
	const char *args;    /* the synopsis after the name */
	const char *summary; /* one line for `raptor --help` */
	const char *help;    /* paragraphs for `raptor help CMD` */
};

/* Parses argv (argv[0] is the command name). Returns 0 to run, 1 when help
 * was printed, -1 on a usage error (already printed). */
int cli_parse(struct cli_opts *o, const struct command *cmd, int argc, char **argv);
void cli_help(FILE *f, const struct command *cmd);
void cli_release(struct cli_opts *o);

#endif

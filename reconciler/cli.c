/* The shared option parser; see cli.h. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

enum {
	OPT_REPO = 256,
	OPT_REF,
	OPT_JSON,
	OPT_STATE_DIR,
	OPT_SQUAD,
	OPT_HELP,
	OPT_DETAILED,
	OPT_OUT,
	OPT_OFFLINE,
	OPT_AGAINST,
	OPT_YES,
	OPT_ALLOW_MASS_STOP,
	OPT_EVERY,
	OPT_ONCE,
	OPT_METRICS_FILE,
};

static const struct option long_options[] = {
	{"repo", required_argument, NULL, OPT_REPO},
	{"ref", required_argument, NULL, OPT_REF},
	{"json", no_argument, NULL, OPT_JSON},
	{"state-dir", required_argument, NULL, OPT_STATE_DIR},
	{"squad", required_argument, NULL, OPT_SQUAD},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, OPT_HELP},
	{"detailed-exitcode", no_argument, NULL, OPT_DETAILED},
	{"out", required_argument, NULL, OPT_OUT},
	{"offline", no_argument, NULL, OPT_OFFLINE},
	{"against", required_argument, NULL, OPT_AGAINST},
	{"yes", no_argument, NULL, OPT_YES},
	{"allow-mass-stop", no_argument, NULL, OPT_ALLOW_MASS_STOP},
	{"every", required_argument, NULL, OPT_EVERY},
	{"once", no_argument, NULL, OPT_ONCE},
	{"metrics-file", required_argument, NULL, OPT_METRICS_FILE},
	{NULL, 0, NULL, 0},
};

static const char common_help[] =
	"common options:\n"
	"  --state-dir DIR   the state directory (default ./state, or $RAPTOR_STATE_DIR)\n"
	"  --squad NAME      only this squad (repeatable)\n"
	"  -v, --verbose     more progress on stderr\n"
	"  -q, --quiet       no progress on stderr\n";

void cli_help(FILE *f, const struct command *cmd)
{
	fprintf(f, "usage: raptor %s %s\n\n%s\n", cmd->name, cmd->args, cmd->summary);
	if (cmd->help)
		fprintf(f, "\n%s", cmd->help);
	fprintf(f, "\n%s", common_help);
}

static int refuse(const struct command *cmd, const char *flag)
{
	fprintf(stderr, "raptor %s: %s does not apply to this command (see raptor help %s)\n",
		cmd->name, flag, cmd->name);
	return -1;
}

int cli_parse(struct cli_opts *o, const struct command *cmd, int argc, char **argv)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->state_dir = getenv("RAPTOR_STATE_DIR");
	if (!o->state_dir || !*o->state_dir)
		o->state_dir = "state";
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vqh", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_REPO:
			if (!(cmd->flags & CLI_SOURCE))
				return refuse(cmd, "--repo");
			o->repo = optarg;
			break;
		case OPT_REF:
			if (!(cmd->flags & CLI_SOURCE))
				return refuse(cmd, "--ref");
			o->ref = optarg;
			break;
		case OPT_JSON:
			if (!(cmd->flags & CLI_JSON))
				return refuse(cmd, "--json");
			o->json = true;
			break;
		case OPT_DETAILED:
		case OPT_OUT:
		case OPT_OFFLINE:
		case OPT_AGAINST:
			if (!(cmd->flags & CLI_PLAN))
				return refuse(cmd, c == OPT_DETAILED  ? "--detailed-exitcode"
						   : c == OPT_OUT     ? "--out"
						   : c == OPT_OFFLINE ? "--offline"
								      : "--against");
			if (c == OPT_DETAILED)
				o->detailed_exitcode = true;
			else if (c == OPT_OUT)
				o->out = optarg;
			else if (c == OPT_OFFLINE)
				o->offline = true;
			else
				o->against = optarg;
			break;
		case OPT_YES:
		case OPT_ALLOW_MASS_STOP:
			if (!(cmd->flags & CLI_APPLY))
				return refuse(cmd, c == OPT_YES ? "--yes" : "--allow-mass-stop");
			if (c == OPT_YES)
				o->yes = true;
			else
				o->allow_mass_stop = true;
			break;
		case OPT_EVERY:
		case OPT_ONCE:
		case OPT_METRICS_FILE:
			if (!(cmd->flags & CLI_LOOP))
				return refuse(cmd, c == OPT_EVERY  ? "--every"
						   : c == OPT_ONCE ? "--once"
								   : "--metrics-file");
			if (c == OPT_EVERY)
				o->every = optarg;
			else if (c == OPT_ONCE)
				o->once = true;
			else
				o->metrics_file = optarg;
			break;
		case OPT_STATE_DIR:
			o->state_dir = optarg;
			break;
		case OPT_SQUAD:
			vec_push(&o->squads, optarg);
			break;
		case 'v':
			o->verbose++;
			break;
		case 'q':
			o->quiet++;
			break;
		case 'h':
		case OPT_HELP:
			cli_help(stdout, cmd);
			return 1;
		default:
			if (optopt)
				fprintf(stderr,
					"raptor %s: option -%c is unknown or lacks its value\n",
					cmd->name, optopt);
			else
				fprintf(stderr, "raptor %s: unknown option or missing value: %s\n",
					cmd->name, argv[optind - 1]);
			fprintf(stderr, "usage: raptor %s %s\n", cmd->name, cmd->args);
			return -1;
		}
	}
	for (; optind < argc; optind++) {
		if ((cmd->flags & CLI_APPLY) && (o->path || o->repo) && !o->planfile) {
			o->planfile = argv[optind];
			continue;
		}
		if (!(cmd->flags & CLI_SOURCE) || o->path) {
			fprintf(stderr,
				"raptor %s: unexpected argument '%s'\nusage: raptor %s %s\n",
				cmd->name, argv[optind], cmd->name, cmd->args);
			return -1;
		}
		o->path = argv[optind];
	}
	if (o->ref && !o->repo) {
		fprintf(stderr, "raptor %s: --ref needs --repo\n", cmd->name);
		return -1;
	}
	if (o->offline != (o->against != NULL)) {
		fprintf(stderr, "raptor %s: --offline and --against REF go together\n", cmd->name);
		return -1;
	}
	if (o->repo && o->path) {
		fprintf(stderr, "raptor %s: give a PATH or --repo, not both\n", cmd->name);
		return -1;
	}
	return 0;
}

void cli_release(struct cli_opts *o)
{
	vec_release(&o->squads);
}

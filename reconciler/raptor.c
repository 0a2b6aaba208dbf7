/*
 * raptor's entry point and its command table, in the manner of git.c: one
 * row per subcommand with its synopsis and help, so `raptor --help`,
 * `raptor help CMD` and dispatch all read the same place.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "commands.h"
#include "banned.h"

#ifndef RAPTOR_VERSION
#define RAPTOR_VERSION "unknown"
#endif

static const struct command commands[] = {
	{"validate", cmd_validate, CLI_SOURCE, "[PATH] [--repo REPO [--ref REF]]",
	 "Check a desired state and summarise it; changes nothing.",
	 "Reads every *.yaml and *.yml below PATH (default .), or the tree of REF (default HEAD)\n"
	 "of the git repository REPO (bare ones too, without a checkout), and checks it\n"
	 "against the rules of schema/desired-state.md. Prints a one-line summary on stdout\n"
	 "and exits 0, or prints every error as path:line:col: message on stderr and exits 1.\n"},
	{"status", cmd_status, CLI_SOURCE | CLI_JSON, "[PATH] [--repo REPO [--ref REF]] [--json]",
	 "Show what every host of the fleet is running.",
	 "Asks every host of the desired squads (or of the --squad ones), and every host in\n"
	 "the state directory's record that no squad lists, what its supervisord runs: all at\n"
	 "once, one round trip each, never waiting on a host past the configured timeouts.\n"
	 "Shows each program with its state, whether raptor manages it, its swarm and port,\n"
	 "and each unreachable host with the reason. --json prints the document of\n"
	 "schema/status.schema.json.\n\n"
	 "exit status: 0 every host answered, 3 some hosts did not, 1 an error stopped it.\n"},
	{"plan", cmd_plan, CLI_SOURCE | CLI_JSON | CLI_PLAN,
	 "[PATH] [--repo REPO [--ref REF]] [--json] [--detailed-exitcode] [--out PLANFILE]\n"
	 "                   [--offline --against REF]",
	 "Show what apply would start, route and stop.",
	 "Reads the desired state, asks every host (as status does) and prints what apply would\n"
	 "do: per swarm, + a start and - a stop with its reason, ~ a pool whose members change;\n"
	 "unreachable hosts and unmanaged programs are called out. Changes nothing.\n\n"
	 "  --json               the plan as the document of schema/plan.schema.json\n"
	 "  --out PLANFILE       also write that document, with the fingerprint of the live\n"
	 "                       state it was made from, for `raptor apply PLANFILE`\n"
	 "  --detailed-exitcode  exit 2 when changes are pending (0: nothing to do)\n"
	 "  --offline --against REF\n"
	 "                       ask no host: compare the desired state at REF with this one\n"
	 "                       (swarms added, removed, resized, re-released, renamed)\n\n"
	 "exit status: 0 nothing to do (or changes, without --detailed-exitcode), 2 changes\n"
	 "pending, 1 an error (including a swarm that cannot be placed).\n"},
	{"apply", cmd_apply, CLI_SOURCE | CLI_APPLY,
	 "[PATH] [--repo REPO [--ref REF]] [--yes] [--allow-mass-stop] [PLANFILE]",
	 "Bring the fleet to the desired state, make-before-break.",
	 "Plans as `raptor plan` does, shows the plan on stderr and, after a yes (asked on a\n"
	 "terminal; --yes otherwise), runs it: start the new instances (at most max_surge per\n"
	 "swarm at a time), check each (RUNNING, then its health checks), route the pools to\n"
	 "the healthy ones (nginx -t, then reload), wait the drain time, then stop what is\n"
	 "stale, excess or orphaned. A swarm whose new instance fails keeps its old ones and\n"
	 "none of its stops run. Holds an exclusive lock on the state directory; writes every\n"
	 "action to STATE/journal.jsonl.\n\n"
	 "  --yes              do not ask\n"
	 "  --allow-mass-stop  apply a plan the mass-stop guard refuses (vanished swarms)\n"
	 "  PLANFILE           apply exactly that plan (from plan --out); refused if the\n"
	 "                     fleet or the desired state changed since it was made\n\n"
	 "exit status: 0 converged (or nothing to do), 1 something failed or was refused.\n"},
	{"reconcile", cmd_reconcile, CLI_SOURCE | CLI_LOOP,
	 "[PATH] [--repo REPO [--ref REF]] --every DURATION [--once] [--metrics-file PATH]",
	 "Plan and apply in a loop: follow the repository, heal drift.",
	 "Runs a round of `raptor apply --yes` every DURATION (500ms, 30s, 5m, ...): read the\n"
	 "desired state afresh (REPO may be a git URL such as https://... or file://...: it is\n"
	 "fetched into STATE/repos/ first), ask the fleet, plan, apply. A round with nothing\n"
	 "to do costs one query per host and writes nothing to them. Drift is healed: a\n"
	 "managed program stopped by hand is started again, one removed by hand is\n"
	 "recreated, an orphan brought back by hand is torn down; unmanaged programs are\n"
	 "never touched. The mass-stop guard refuses as in apply, and this loop never\n"
	 "overrides it. Every round is journaled; a failed round is retried after 1s,\n"
	 "then 2s, 4s, ... never later than DURATION.\n\n"
	 "  --every DURATION     the pause between rounds\n"
	 "  --once               one round, then exit with its status\n"
	 "  --metrics-file PATH  after each round, write Prometheus metrics there (for\n"
	 "                       node_exporter's textfile collector: name it *.prom)\n\n"
	 "signals: SIGTERM or SIGINT end the loop after the round in flight (exit 0);\n"
	 "SIGHUP starts a round at once.\n\n"
	 "exit status: 0 stopped by a signal, or --once converged; 1 an error, or --once\n"
	 "did not converge.\n"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: raptor COMMAND [OPTIONS]\n\n"
		"raptor keeps a fleet of supervisord hosts in line with a desired state kept in git.\n\n"
		"commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\nraptor help COMMAND shows a command's options; raptor --version its version.\n");
}

static int help(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "raptor help: no command '%s'\n", argv[1]);
		return 1;
	}
	cli_help(stdout, cmd);
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *cmd;
	struct cli_opts o;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return help(1, argv + 1);
	if (!strcmp(argv[1], "help"))
		return help(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("raptor %s\n", RAPTOR_VERSION);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "raptor: '%s' is not a command; see raptor --help\n", argv[1]);
		return 1;
	}
	rc = cli_parse(&o, cmd, argc - 1, argv + 1);
	if (rc) {
		cli_release(&o);
		return rc > 0 ? 0 : 1;
	}
	/* once, before any thread: the health checks of a wave run on threads,
	 * each with its own transfers, and libcurl's global set-up is only safe
	 * to repeat there while this first reference holds it */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmd->run(&o);
	curl_global_cleanup();
	cli_release(&o);
	return rc;
}

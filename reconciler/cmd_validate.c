/*
 * `raptor validate`: read a desired state from a directory or a git ref,
 * check it, and say so in one line — or list every error with its place.
 * The same code path serves git hooks and CI, so it never touches a host.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "desired_load.h"
#include "term.h"
#include "banned.h"

static void print_summary(FILE *f, const struct desired *d, const struct source *src)
{
	struct desired_counts c;

	desired_count(d, &c);
	const struct {
		size_t n;
		const char *one, *many, *after;
	} parts[] = {
		{c.squads, "squad", "squads", ", "},
		{c.hosts, "host", "hosts", ", "},
		{c.swarms, "swarm", "swarms", " ("},
		{c.instances, "instance", "instances", "), "},
		{c.pools, "pool", "pools", " on "},
		{c.balancers, "balancer", "balancers", ", from "},
		{d->files, "file", "files", ""},
	};

	fprintf(f, "%svalid%s: ", term_color(f, TERM_GREEN), term_color(f, TERM_RESET));
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		fprintf(f, "%zu %s%s", parts[i].n, parts[i].n == 1 ? parts[i].one : parts[i].many,
			parts[i].after);
	/* a ref that is the commit id itself (as a hook passes it) is not repeated */
	if (src->commit && src->ref && !strncmp(src->commit, src->ref, strlen(src->ref)))
		fprintf(f, " at commit %s (%s)", src->commit, src->root);
	else if (src->commit)
		fprintf(f, " at commit %s (%s %s)", src->commit, src->root, src->ref);
	else
		fprintf(f, " in %s", src->root);
	fputc('\n', f);
}

int cmd_validate(struct cli_opts *o)
{
	struct source src;
	struct desired d;
	int rc = 1;

	if (load_desired(&d, &src, o, "validate") == 0) {
		print_summary(stdout, &d, &src);
		rc = 0;
	}
	desired_release(&d);
	source_release(&src);
	return rc;
}

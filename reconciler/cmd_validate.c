/*
 * `raptor validate`: read a desired state from a directory or a git ref,
 * check it, and say so in one line — or list every error with its place.
 * The same code path serves git hooks and CI, so it never touches a host.
 */
#include <stdio.h>

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
	if (src->commit)
		fprintf(f, " at commit %s (%s %s)", src->commit, src->root, src->ref);
	else
		fprintf(f, " in %s", src->root);
	fputc('\n', f);
}

int cmd_validate(struct cli_opts *o)
{
	struct error err = ERROR_INIT;
	struct source src;
	struct desired d;
	struct diags diags;
	int rc = 1;

	diags_init(&diags, 0);
	desired_init(&d);
	if (source_open(&src, o->path, o->repo, o->ref, &err) < 0) {
		fprintf(stderr, "raptor validate: %s\n", error_msg(&err));
		goto cleanup;
	}
	if (o->verbose) {
		for (size_t i = 0; i < src.files.n; i++)
			fprintf(stderr, "raptor validate: reading %s (%zu bytes)\n",
				src.files.v[i].path, src.files.v[i].len);
	}
	desired_release(&d);
	if (desired_load(&d, &src, &diags) < 0) {
		diags_sort(&diags);
		diags_print(&diags, stderr);
		fprintf(stderr, "raptor validate: %s%zu error%s%s in %s\n",
			term_color(stderr, TERM_RED), diags_count(&diags),
			diags_count(&diags) == 1 ? "" : "s", term_color(stderr, TERM_RESET),
			src.root);
		goto cleanup;
	}
	print_summary(stdout, &d, &src);
	rc = 0;
cleanup:
	desired_release(&d);
	diags_release(&diags);
	source_release(&src);
	error_release(&err);
	return rc;
}

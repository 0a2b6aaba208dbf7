/*
 * What several commands share between parsing their options and doing their
 * work: reading and checking the desired state, and asking the fleet
 * (the desired squads' hosts and the state record's) what it runs.
 */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "balancer.h"
#include "desired_load.h"
#include "fleet.h"
#include "http.h"
#include "state.h"
#include "term.h"
#include "banned.h"

int load_desired(struct desired *d, struct source *src, const struct cli_opts *o, const char *cmd)
{
	struct error err = ERROR_INIT;
	struct diags diags;
	char *mirror = NULL;
	int rc = -1;

	diags_init(&diags, 0);
	desired_init(d);
	if (source_is_remote(o->repo)) {
		/* a git server: read its mirror in the state directory, and name
		 * the server (without credentials) wherever the source is named */
		struct buf shown = BUF_INIT;

		if (source_fetch(&mirror, o->repo, o->state_dir, &err) < 0)
			source_init(src);
		if (!mirror || source_open(src, NULL, mirror, o->ref, &err) < 0) {
			fprintf(stderr, "raptor %s: %s\n", cmd, error_msg(&err));
			goto cleanup;
		}
		http_redact_url(&shown, o->repo);
		free(src->root);
		src->root = buf_detach(&shown);
	} else if (source_open(src, o->path, o->repo, o->ref, &err) < 0) {
		fprintf(stderr, "raptor %s: %s\n", cmd, error_msg(&err));
		goto cleanup;
	}
	if (o->verbose) {
		for (size_t i = 0; i < src->files.n; i++)
			fprintf(stderr, "raptor %s: reading %s (%zu bytes)\n", cmd,
				src->files.v[i].path, src->files.v[i].len);
	}
	desired_release(d);
	if (desired_load(d, src, &diags) < 0) {
		diags_sort(&diags);
		diags_print(&diags, stderr);
		fprintf(stderr, "raptor %s: %s%zu error%s%s in %s\n", cmd,
			term_color(stderr, TERM_RED), diags_count(&diags),
			diags_count(&diags) == 1 ? "" : "s", term_color(stderr, TERM_RESET),
			src->root);
		goto cleanup;
	}
	rc = 0;
cleanup:
	free(mirror);
	diags_release(&diags);
	error_release(&err);
	return rc;
}

/* The pool files of every balancer as they are now, so that a pool's plan
 * starts from what the balancer really routes to: a node of a dead host, a
 * line or a file removed by hand, a stray pool are all seen and repaired. */
static int read_pools(struct live *l, const struct desired *d, struct error *err)
{
	for (size_t i = 0; i < d->balancers.n; i++) {
		const struct balancer *b = &d->balancers.v[i];
		char **names = NULL, **nodes = NULL;
		size_t nnames = 0, nnodes = 0;
		int rc = 0;

		/* not readable here (a plan made away from the balancer's machine):
		 * its pools are known only from the instances' metadata */
		if (balancer_list_pools(b, &names, &nnames, err) < 0) {
			buf_reset(&err->msg);
			continue;
		}
		for (size_t k = 0; k < nnames && rc == 0; k++) {
			struct live_pool *lp;

			rc = balancer_pool_nodes(b, names[k], &nodes, &nnodes, err);
			if (rc < 0)
				break;
			lp = vec_add(&l->pools);
			lp->balancer = arena_strdup(&l->mem, b->name);
			lp->pool = arena_strdup(&l->mem, names[k]);
			lp->nodes =
				arena_alloc(&l->mem, (nnodes ? nnodes : 1) * sizeof(*lp->nodes));
			for (size_t j = 0; j < nnodes; j++)
				lp->nodes[j] = arena_strdup(&l->mem, nodes[j]);
			lp->n = nnodes;
			balancer_free_list(nodes, nnodes);
		}
		balancer_free_list(names, nnames);
		if (rc < 0)
			return -1;
		vec_push(&l->pool_balancers, arena_strdup(&l->mem, b->name));
	}
	return 0;
}

int gather_live(struct live *out, const struct desired *d, const struct cli_opts *o,
		const char *cmd)
{
	struct error err = ERROR_INIT;
	struct arena mem = ARENA_INIT;
	fleet_targets targets = {0};
	state_hosts recorded = {0};
	state_instances unchecked = {0};
	struct fleet_target *extra;
	struct fleet_opts fo;
	int rc = -1;

	live_init(out);
	if (state_hosts_read(&recorded, &mem, o->state_dir, &err) < 0) {
		fprintf(stderr, "raptor %s: %s\n", cmd, error_msg(&err));
		goto cleanup;
	}
	/* read before the fleet is asked: a record that cannot be read stops the
	 * command at once, and an unchecked instance must never pass for a
	 * current one */
	if (state_unchecked_read(&unchecked, &mem, o->state_dir, &err) < 0) {
		fprintf(stderr, "raptor %s: %s\n", cmd, error_msg(&err));
		goto cleanup;
	}
	extra = arena_alloc(&mem, (recorded.n ? recorded.n : 1) * sizeof(*extra));
	for (size_t i = 0; i < recorded.n; i++) {
		extra[i].name = recorded.v[i].name;
		extra[i].address = recorded.v[i].address;
		extra[i].url = recorded.v[i].url;
	}
	fleet_targets_build(&targets, d, o->squads.v, o->squads.n, extra, recorded.n);
	if (o->squads.n && !targets.n) {
		fprintf(stderr, "raptor %s: no squad of that name in the desired state\n", cmd);
		goto cleanup;
	}
	fleet_opts_from_settings(&fo, &d->settings);
	if (!o->quiet && o->verbose)
		fprintf(stderr, "raptor %s: asking %zu host%s, %zu at a time\n", cmd, targets.n,
			targets.n == 1 ? "" : "s", fo.concurrency);
	if (fleet_query(out, targets.v, targets.n, &fo, &err) < 0) {
		fprintf(stderr, "raptor %s: %s\n", cmd, error_msg(&err));
		goto cleanup;
	}
	if (read_pools(out, d, &err) < 0) {
		fprintf(stderr, "raptor %s: %s\n", cmd, error_msg(&err));
		goto cleanup;
	}
	/* into the model only now: fleet_query starts it afresh */
	for (size_t i = 0; i < unchecked.n; i++)
		*vec_add(&out->unchecked) =
			(struct live_unchecked){arena_strdup(&out->mem, unchecked.v[i].host),
						arena_strdup(&out->mem, unchecked.v[i].program)};
	rc = 0;
cleanup:
	vec_release(&targets);
	vec_release(&recorded);
	vec_release(&unchecked);
	arena_release(&mem);
	error_release(&err);
	return rc;
}

/*
 * `raptor plan --offline --against REF`, the command's offline branch
 * (cmd_plan.c calls plan_offline_run when --offline is given): read the
 * desired state at REF and this one, check both, diff them with the pure
 * offline_plan_build, and say what would appear, change and be torn down,
 * as text for people or the JSON of schema/plan-offline.schema.json. No
 * host is contacted, so it runs in CI on a pull request.
 *
 *   --repo R [--ref X]  before = R at REF, after = R at X (default HEAD)
 *   [PATH]              after = the directory as it is; before = the same
 *                       directory of REF in the git repository holding it
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desired_load.h"
#include "plan_offline.h"
#include "source.h"
#include "term.h"
#include "banned.h"

/* Exit codes (DESIGN.md §6). */
#define EXIT_PENDING 2
#define EXIT_ERROR   1

/* A label for a side wider than this is not padded to: it would push every
 * other line's reason far right. */
#define LABEL_WIDTH_MAX 48

/* One side of the comparison: where it is read from and what it says. */
struct side {
	const char *which; /* "before" or "after", for messages */
	struct source src;
	struct desired d;
	struct oplan_side label;
};

/* ---- text ---- */

static void side_text(struct buf *b, const struct oplan_side *s)
{
	if (s->ref)
		buf_printf(b, "%s (%.7s)", s->ref, s->commit ? s->commit : "?");
	else
		buf_printf(b, "%s (working tree)", s->path ? s->path : ".");
}

static const char *change_symbol(enum oplan_kind k)
{
	switch (k) {
	case OPLAN_ADDED:
	case OPLAN_BALANCER_ADDED:
	case OPLAN_POOL_ADDED:
		return "+";
	case OPLAN_REMOVED:
	case OPLAN_BALANCER_REMOVED:
	case OPLAN_POOL_REMOVED:
		return "-";
	default:
		return "~";
	}
}

static enum term_color change_color(enum oplan_kind k)
{
	const char *s = change_symbol(k);

	return *s == '+' ? TERM_GREEN : *s == '-' ? TERM_RED : TERM_YELLOW;
}

/* What names a change on its line: the swarm, "old -> new", the pool. */
static void change_label(struct buf *b, const struct oplan_change *ch)
{
	buf_reset(b);
	switch (ch->kind) {
	case OPLAN_RENAMED:
		buf_printf(b, "%s -> %s", ch->before->identity, ch->after->identity);
		break;
	case OPLAN_BALANCER_ADDED:
	case OPLAN_BALANCER_REMOVED:
		buf_printf(b, "balancer %s", ch->balancer);
		break;
	case OPLAN_POOL_ADDED:
	case OPLAN_POOL_REMOVED:
		buf_printf(b, "pool %s/%s", ch->balancer, ch->pool);
		break;
	default:
		buf_puts(b, (ch->after ? ch->after : ch->before)->identity);
	}
}

static bool same_swarm(const struct oplan_change *a, const struct oplan_change *b)
{
	return (a->before || a->after) && a->before == b->before && a->after == b->after;
}

/* The column reasons start at: the widest label, renames aside (theirs hold
 * two identities and get the reason after them). */
static int label_width(const struct offline_plan *p)
{
	struct buf label = BUF_INIT;
	size_t w = 0;

	for (size_t i = 0; i < p->changes.n; i++) {
		if (p->changes.v[i].kind == OPLAN_RENAMED)
			continue;
		change_label(&label, &p->changes.v[i]);
		if (label.len > w && label.len <= LABEL_WIDTH_MAX)
			w = label.len;
	}
	buf_release(&label);
	return (int)w;
}

static void print_rename_steps(FILE *f, const struct oplan_change *ch)
{
	const char *green = term_color(f, TERM_GREEN), *red = term_color(f, TERM_RED);
	const char *reset = term_color(f, TERM_RESET);

	if (ch->start)
		fprintf(f, "    %s+%s start %d instance%s of %s\n", green, reset, ch->start,
			ch->start == 1 ? "" : "s", ch->after->identity);
	else
		fprintf(f, "    %s+%s start nothing: %s is at size 0\n", green, reset,
			ch->after->identity);
	fprintf(f, "    %s-%s tear down every instance of %s (%d)\n", red, reset,
		ch->before->identity, ch->stop);
}

int oplan_print_text(FILE *f, const struct offline_plan *p, const struct oplan_side *before,
		     const struct oplan_side *after)
{
	struct buf b = BUF_INIT, a = BUF_INIT, label = BUF_INIT;
	const char *reset = term_color(f, TERM_RESET);
	int w = label_width(p);

	side_text(&b, before);
	side_text(&a, after);
	fprintf(f, "Offline plan: desired state at %s -> %s; no host contacted.\n", b.ptr, a.ptr);
	if (before->absent)
		fprintf(f, "(%s%s does not exist at %s: read as an empty desired state.)\n",
			before->subdir && *before->subdir ? before->subdir : "the desired state",
			before->subdir && *before->subdir ? "/" : "", before->ref);
	fputc('\n', f);
	for (size_t i = 0; i < p->changes.n; i++) {
		const struct oplan_change *ch = &p->changes.v[i];
		bool more = i && same_swarm(&p->changes.v[i - 1], ch);

		change_label(&label, ch);
		if (more)
			/* the same swarm again: its reason under the first one's */
			fprintf(f, "  %*s   %s\n", w, "", ch->reason);
		else
			fprintf(f, "%s%s%s %-*s   %s\n", term_color(f, change_color(ch->kind)),
				change_symbol(ch->kind), reset, w, label.ptr, ch->reason);
		if (ch->kind == OPLAN_RENAMED)
			print_rename_steps(f, ch);
	}
	if (p->changes.n)
		fputc('\n', f);
	if (p->guard_tripped)
		fprintf(f,
			"%s! mass-stop guard:%s apply would refuse this without --allow-mass-stop: %s.\n\n",
			term_color(f, TERM_RED), reset, p->guard_reason);
	if (!p->changes.n) {
		fprintf(f, "No changes: both run the same swarms. Plan: nothing to do.\n");
	} else {
		fprintf(f, "Plan: %ld to start, %ld to tear down, %zu swarm%s changed", p->start,
			p->stop, p->swarms_changed, p->swarms_changed == 1 ? "" : "s");
		if (p->other_changes)
			fprintf(f, ", %zu balancer or pool change%s", p->other_changes,
				p->other_changes == 1 ? "" : "s");
		fprintf(f, ".\n");
	}
	buf_release(&b);
	buf_release(&a);
	buf_release(&label);
	return ferror(f) ? -1 : 0;
}

/* ---- JSON ---- */

/* A JSON string, or null for NULL (and for bytes that are not UTF-8, which
 * jansson refuses: only a path from the command line can hold those). */
static json_t *jstr(const char *s)
{
	json_t *v = s ? json_string(s) : NULL;

	return v ? v : json_null();
}

static json_t *side_json(const struct oplan_side *s)
{
	json_t *o = json_object();

	json_object_set_new(o, "path", jstr(s->path ? s->path : "."));
	json_object_set_new(o, "ref", jstr(s->ref));
	json_object_set_new(o, "commit", jstr(s->commit));
	json_object_set_new(o, "subdir", jstr(s->ref ? (s->subdir ? s->subdir : "") : NULL));
	json_object_set_new(o, "absent", json_boolean(s->absent));
	return o;
}

static json_t *fields_json(const char *fields)
{
	json_t *a = json_array();

	while (*fields) {
		const char *comma = strchr(fields, ',');
		size_t n = comma ? (size_t)(comma - fields) : strlen(fields);

		json_array_append_new(a, json_stringn(fields, n));
		fields += n + (comma ? 1 : 0);
	}
	return a;
}

static json_t *change_json(const struct oplan_change *ch)
{
	json_t *o = json_object(), *rel = json_object();
	const struct swarm *s = ch->after ? ch->after : ch->before;

	json_object_set_new(o, "kind", json_string(oplan_kind_text(ch->kind)));
	json_object_set_new(o, "swarm", jstr(s ? s->identity : NULL));
	json_object_set_new(o, "from",
			    jstr(ch->kind == OPLAN_RENAMED ? ch->before->identity : NULL));
	json_object_set_new(o, "field", jstr(ch->field));
	json_object_set_new(o, "fields", fields_json(ch->fields));
	json_object_set_new(o, "start", json_integer(ch->start));
	json_object_set_new(o, "stop", json_integer(ch->stop));
	json_object_set_new(o, "reason", jstr(ch->reason));
	json_object_set_new(rel, "before", jstr(ch->before ? ch->release_before : NULL));
	json_object_set_new(rel, "after", jstr(ch->after ? ch->release_after : NULL));
	json_object_set_new(o, "release", rel);
	json_object_set_new(o, "balancer", jstr(ch->balancer));
	json_object_set_new(o, "pool", jstr(ch->pool));
	return o;
}

int oplan_print_json(FILE *f, const struct offline_plan *p, const struct oplan_side *before,
		     const struct oplan_side *after)
{
	json_t *doc = json_object(), *changes = json_array(), *summary = json_object();
	json_t *guard = json_object();
	int rc;

	json_object_set_new(doc, "format_version", json_integer(1));
	json_object_set_new(doc, "offline", json_true());
	json_object_set_new(doc, "before", side_json(before));
	json_object_set_new(doc, "after", side_json(after));
	for (size_t i = 0; i < p->changes.n; i++)
		json_array_append_new(changes, change_json(&p->changes.v[i]));
	json_object_set_new(doc, "changes", changes);
	json_object_set_new(summary, "start", json_integer(p->start));
	json_object_set_new(summary, "stop", json_integer(p->stop));
	json_object_set_new(summary, "changed", json_integer((json_int_t)p->swarms_changed));
	json_object_set_new(summary, "balancers_and_pools",
			    json_integer((json_int_t)p->other_changes));
	json_object_set_new(doc, "summary", summary);
	json_object_set_new(guard, "tripped", json_boolean(p->guard_tripped));
	json_object_set_new(guard, "reason", jstr(p->guard_tripped ? p->guard_reason : NULL));
	json_object_set_new(doc, "guard", guard);
	rc = json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	json_decref(doc);
	return rc < 0 || ferror(f) ? -1 : 0;
}

/* ---- reading both sides ---- */

static void side_init(struct side *s, const char *which)
{
	memset(s, 0, sizeof(*s));
	s->which = which;
	source_init(&s->src);
	desired_init(&s->d);
}

static void side_release(struct side *s)
{
	desired_release(&s->d);
	source_release(&s->src);
}

static void print_side_name(FILE *f, const struct side *s)
{
	struct buf b = BUF_INIT;

	side_text(&b, &s->label);
	fprintf(f, "the desired state %s the change, %s", s->which, b.ptr);
	buf_release(&b);
}

/* Reads both sides' files; the labels point into the sources read. */
static int read_sides(struct side *before, struct side *after, const struct cli_opts *o,
		      char **workdir, char **subdir)
{
	struct error err = ERROR_INIT;
	const char *path = o->path ? o->path : ".", *hint = "";
	int rc = -1, got;

	if (o->repo) {
		source_release(&before->src);
		if (source_read_git(&before->src, o->repo, o->against, &err) < 0)
			goto cleanup;
		before->label.path = o->repo;
		source_release(&after->src);
		if (source_read_git(&after->src, o->repo, o->ref, &err) < 0)
			goto cleanup;
		after->label.path = o->repo;
		after->label.ref = after->src.ref;
		after->label.commit = after->src.commit;
	} else {
		if (source_git_discover(workdir, subdir, path, &err) < 0) {
			hint = "; --offline compares PATH with the same directory at REF of the "
			       "git repository that holds it (or give --repo)";
			goto cleanup;
		}
		source_release(&before->src);
		got = source_read_git_at(&before->src, *workdir, o->against, *subdir, &err);
		if (got < 0)
			goto cleanup;
		before->label.path = *workdir;
		before->label.subdir = *subdir;
		before->label.absent = got == 1;
		source_release(&after->src);
		if (source_read_dir(&after->src, path, &err) < 0)
			goto cleanup;
		after->label.path = path;
	}
	before->label.ref = before->src.ref;
	before->label.commit = before->src.commit;
	rc = 0;
cleanup:
	if (rc < 0)
		fprintf(stderr, "raptor plan: %s%s\n", error_msg(&err), hint);
	error_release(&err);
	return rc;
}

/* Loads and checks one side, printing its errors. A "before" with no YAML
 * at all is the state before a change that adds the desired state: empty,
 * not an error; an "after" without any is an error, as for validate. */
static int load_side(struct side *s, const struct cli_opts *o)
{
	struct diags diags;
	int rc = -1;

	diags_init(&diags, 0);
	if (o->verbose)
		for (size_t i = 0; i < s->src.files.n; i++)
			fprintf(stderr, "raptor plan: %s: reading %s (%zu bytes)\n", s->which,
				s->src.files.v[i].path, s->src.files.v[i].len);
	if (!strcmp(s->which, "before") && !s->src.files.n) {
		s->label.absent = true;
		rc = 0;
		goto cleanup;
	}
	desired_release(&s->d);
	if (desired_load(&s->d, &s->src, &diags) < 0) {
		diags_sort(&diags);
		diags_print(&diags, stderr);
		fprintf(stderr, "raptor plan: %s%zu error%s%s in ", term_color(stderr, TERM_RED),
			diags_count(&diags), diags_count(&diags) == 1 ? "" : "s",
			term_color(stderr, TERM_RESET));
		print_side_name(stderr, s);
		fputc('\n', stderr);
		goto cleanup;
	}
	rc = 0;
cleanup:
	diags_release(&diags);
	return rc;
}

int plan_offline_run(const struct cli_opts *o)
{
	struct side before, after;
	struct offline_plan plan = {0};
	char *workdir = NULL, *subdir = NULL;
	int rc = EXIT_ERROR, printed;
	bool bad;

	side_init(&before, "before");
	side_init(&after, "after");
	if (!o->against) {
		fprintf(stderr, "raptor plan: --offline needs --against REF\n");
		goto cleanup;
	}
	if (o->out) {
		fprintf(stderr, "raptor plan: --out does not apply to --offline: an offline plan "
				"names no host and cannot be applied\n");
		goto cleanup;
	}
	if (o->squads.n) {
		fprintf(stderr, "raptor plan: --squad does not apply to --offline: it compares "
				"whole desired states\n");
		goto cleanup;
	}
	if (read_sides(&before, &after, o, &workdir, &subdir) < 0)
		goto cleanup;
	/* both sides, so one run shows every error */
	bad = load_side(&before, o) < 0;
	bad |= load_side(&after, o) < 0;
	if (bad)
		goto cleanup;
	offline_plan_build(&plan, &before.d, &after.d);
	if (o->json)
		printed = oplan_print_json(stdout, &plan, &before.label, &after.label);
	else
		printed = oplan_print_text(stdout, &plan, &before.label, &after.label);
	if (printed < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "raptor plan: cannot write the plan to stdout\n");
		goto cleanup;
	}
	rc = plan.changes.n && o->detailed_exitcode ? EXIT_PENDING : 0;
cleanup:
	offline_plan_release(&plan);
	side_release(&before);
	side_release(&after);
	free(workdir);
	free(subdir);
	return rc;
}

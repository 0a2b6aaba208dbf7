/* Rendering a plan; see render_plan.h. */
#include "render_plan.h"

#include <string.h>

#include "release.h"
#include "term.h"
#include "banned.h"

static void action_line(FILE *f, const struct plan_action *a)
{
	const char *sign = a->op == PLAN_START ? "+" : "-";
	enum term_color col = a->op == PLAN_START ? TERM_GREEN : TERM_RED;

	fprintf(f, "  %s%s %s%s on %s", term_color(f, col), sign, a->program,
		term_color(f, TERM_RESET), a->host);
	if (a->port)
		fprintf(f, " port %d", a->port);
	else if (a->slot)
		fprintf(f, " slot %d", a->slot);
	fprintf(f, "   %s", plan_reason_text(a->reason));
	if (a->hint)
		fprintf(f, " (%s)", a->hint);
	fputc('\n', f);
}

static bool same_swarm(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void swarm_header(FILE *f, const char *identity, const struct desired *d)
{
	const struct swarm *s = identity ? desired_has(d, identity) : NULL;

	fputc('\n', f);
	if (s) {
		char rel[RELEASE_HEX + 1];

		/* the commands that plan filled it; hash only when they did not */
		if (s->release[0])
			memcpy(rel, s->release, sizeof(rel));
		else
			release_hash(rel, s);
		fprintf(f, "%s%s%s  (release %s, version %s, size %d)\n", term_color(f, TERM_BOLD),
			identity, term_color(f, TERM_RESET), rel, s->version, s->size);
	} else {
		fprintf(f, "%s%s%s  (not in the desired state)\n", term_color(f, TERM_BOLD),
			identity ? identity : "(unidentified)", term_color(f, TERM_RESET));
	}
}

static void pool_lines(FILE *f, const struct plan *p)
{
	bool any = false;

	for (size_t i = 0; i < p->pools.n; i++) {
		const struct plan_pool *pp = &p->pools.v[i];
		size_t bi = 0, ai = 0;

		if (!pp->changed)
			continue;
		if (!any)
			fprintf(f, "\n%spools%s\n", term_color(f, TERM_BOLD),
				term_color(f, TERM_RESET));
		any = true;
		fprintf(f, "  %s~%s %s/%s:", term_color(f, TERM_YELLOW), term_color(f, TERM_RESET),
			pp->balancer, pp->pool);
		/* both lists are sorted: a merge shows what joins and what leaves */
		while (bi < pp->before.n || ai < pp->after.n) {
			int c = bi == pp->before.n  ? 1
				: ai == pp->after.n ? -1
						    : strcmp(pp->before.v[bi], pp->after.v[ai]);

			if (c < 0)
				fprintf(f, " -%s", pp->before.v[bi++]);
			else if (c > 0)
				fprintf(f, " +%s", pp->after.v[ai++]);
			else
				bi++, ai++;
		}
		fprintf(f, "  (%zu node%s after%s)\n", pp->after.n, pp->after.n == 1 ? "" : "s",
			pp->after.n ? "" : ": the pool is removed");
	}
}

void render_plan_text(FILE *f, const struct plan *p, const struct desired *d, const struct live *l)
{
	const char *current = NULL;
	bool first = true, any;

	/* a swarm's actions are contiguous: print each group starts first, as
	 * apply runs them (make before break) */
	for (size_t i = 0; i < p->actions.n;) {
		const struct plan_action *a = &p->actions.v[i];
		size_t end = i + 1;

		if (a->op == PLAN_ROUTE) {
			i++;
			continue;
		}
		while (end < p->actions.n && p->actions.v[end].op != PLAN_ROUTE &&
		       same_swarm(p->actions.v[end].swarm, a->swarm))
			end++;
		if (first || !same_swarm(a->swarm, current))
			swarm_header(f, a->swarm, d);
		first = false;
		current = a->swarm;
		for (int pass = 0; pass < 2; pass++)
			for (size_t j = i; j < end; j++)
				if ((p->actions.v[j].op == PLAN_START) == (pass == 0))
					action_line(f, &p->actions.v[j]);
		i = end;
	}
	pool_lines(f, p);
	any = false;
	for (size_t i = 0; i < p->notes.n; i++) {
		const struct plan_note *n = &p->notes.v[i];

		if (!any)
			fprintf(f, "\n%snotes%s\n", term_color(f, TERM_BOLD),
				term_color(f, TERM_RESET));
		any = true;
		fprintf(f, "  %s%s%s %s: %s\n", term_color(f, n->error ? TERM_RED : TERM_YELLOW),
			n->error ? "error" : "waiting", term_color(f, TERM_RESET),
			n->swarm ? n->swarm : "", n->text);
	}
	any = false;
	for (size_t i = 0; i < l->hosts.n; i++) {
		const struct live_host *h = &l->hosts.v[i];

		if (h->reachable)
			continue;
		if (!any)
			fprintf(f, "\n%sunreachable hosts%s (their instances are not counted)\n",
				term_color(f, TERM_BOLD), term_color(f, TERM_RESET));
		any = true;
		fprintf(f, "  %s: %s\n", h->name, h->error ? h->error : "");
	}
	any = false;
	for (size_t i = 0; i < p->entries.n; i++) {
		const struct plan_entry *e = &p->entries.v[i];

		if (e->klass != CLASS_UNMANAGED)
			continue;
		if (!any)
			fprintf(f, "\n%sunmanaged programs%s (raptor leaves them alone)\n",
				term_color(f, TERM_BOLD), term_color(f, TERM_RESET));
		any = true;
		fprintf(f, "  %s: %s\n", e->host, e->program);
	}
	if (p->guard_tripped)
		fprintf(f,
			"\n%sguard%s: apply would refuse this plan: %s (if that is what you want, apply with --allow-mass-stop)\n",
			term_color(f, TERM_RED), term_color(f, TERM_RESET), p->guard_reason);
	fprintf(f, "\nPlan: %zu to start, %zu to stop, %zu pool%s to change.%s\n", p->starts,
		p->stops, p->routes, p->routes == 1 ? "" : "s",
		p->starts + p->stops + p->routes ? "" : " Nothing to do.");
	if (p->errors)
		fprintf(f, "%zu swarm%s could not be planned (see notes).\n", p->errors,
			p->errors == 1 ? "" : "s");
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *strings(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *render_plan_json(const struct plan *p, const struct live *l, const struct source *src)
{
	json_t *doc = json_object(), *source = json_object(), *hosts = json_array();
	json_t *actions = json_array(), *pools = json_array(), *notes = json_array();
	json_t *unmanaged = json_array(), *summary = json_object(), *guard = json_object();
	char fp[17];

	json_object_set_new(doc, "format_version", json_integer(1));
	json_object_set_new(source, "path", json_string(src->root ? src->root : "."));
	json_object_set_new(source, "commit", str_or_null(src->commit));
	json_object_set_new(doc, "source", source);
	for (size_t i = 0; i < l->hosts.n; i++) {
		const struct live_host *h = &l->hosts.v[i];
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(h->name));
		json_object_set_new(o, "squad", str_or_null(h->squad));
		json_object_set_new(o, "reachable", json_boolean(h->reachable));
		json_object_set_new(o, "error", str_or_null(h->error));
		json_array_append_new(hosts, o);
	}
	json_object_set_new(doc, "hosts", hosts);
	for (size_t i = 0; i < p->actions.n; i++) {
		const struct plan_action *a = &p->actions.v[i];
		json_t *o = json_object();

		json_object_set_new(o, "op", json_string(plan_op_text(a->op)));
		json_object_set_new(o, "host", str_or_null(a->host));
		json_object_set_new(o, "program", str_or_null(a->program));
		json_object_set_new(o, "swarm", str_or_null(a->swarm));
		json_object_set_new(o, "balancer", str_or_null(a->balancer));
		json_object_set_new(o, "pool", str_or_null(a->pool));
		json_object_set_new(o, "reason", json_string(plan_reason_text(a->reason)));
		json_object_set_new(o, "hint", str_or_null(a->hint));
		json_object_set_new(o, "address", str_or_null(a->address));
		json_object_set_new(o, "port", a->port ? json_integer(a->port) : json_null());
		json_object_set_new(o, "slot", a->slot ? json_integer(a->slot) : json_null());
		json_object_set_new(o, "release", str_or_null(a->release));
		json_array_append_new(actions, o);
	}
	json_object_set_new(doc, "actions", actions);
	for (size_t i = 0; i < p->pools.n; i++) {
		const struct plan_pool *pp = &p->pools.v[i];
		json_t *o = json_object();

		json_object_set_new(o, "balancer", json_string(pp->balancer));
		json_object_set_new(o, "pool", json_string(pp->pool));
		json_object_set_new(o, "changed", json_boolean(pp->changed));
		json_object_set_new(o, "before", strings(pp->before.v, pp->before.n));
		json_object_set_new(o, "after", strings(pp->after.v, pp->after.n));
		json_array_append_new(pools, o);
	}
	json_object_set_new(doc, "pools", pools);
	for (size_t i = 0; i < p->notes.n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "swarm", str_or_null(p->notes.v[i].swarm));
		json_object_set_new(o, "text", json_string(p->notes.v[i].text));
		json_object_set_new(o, "error", json_boolean(p->notes.v[i].error));
		json_array_append_new(notes, o);
	}
	json_object_set_new(doc, "notes", notes);
	for (size_t i = 0; i < p->entries.n; i++) {
		json_t *o;

		if (p->entries.v[i].klass != CLASS_UNMANAGED)
			continue;
		o = json_object();
		json_object_set_new(o, "host", json_string(p->entries.v[i].host));
		json_object_set_new(o, "program", json_string(p->entries.v[i].program));
		json_array_append_new(unmanaged, o);
	}
	json_object_set_new(doc, "unmanaged", unmanaged);
	json_object_set_new(guard, "tripped", json_boolean(p->guard_tripped));
	json_object_set_new(guard, "reason", str_or_null(p->guard_reason));
	json_object_set_new(doc, "guard", guard);
	json_object_set_new(summary, "start", json_integer((json_int_t)p->starts));
	json_object_set_new(summary, "stop", json_integer((json_int_t)p->stops));
	json_object_set_new(summary, "route", json_integer((json_int_t)p->routes));
	json_object_set_new(summary, "errors", json_integer((json_int_t)p->errors));
	json_object_set_new(doc, "summary", summary);
	live_fingerprint(fp, l);
	json_object_set_new(doc, "fingerprint", json_string(fp));
	return doc;
}

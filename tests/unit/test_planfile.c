/*
 * Plan files, one case a row: the document `plan --out` writes for a plan
 * (render_plan_json) is accepted against the same plan and live state, and
 * each way it can stop matching — not JSON, another fingerprint, other
 * actions, an action changed — is refused with its own reason. A plan that
 * checks an unchecked instance again is accepted as written too.
 */
#include "unit.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "desired_load.h"
#include "planfile.h"
#include "planner.h"
#include "render_plan.h"

static const char yaml[] = "squads:\n  web:\n    hosts: [web1, web2]\n"
			   "swarms:\n  - {app: hello, version: '1', config: prod, proc: web,"
			   " squad: web, size: 2, command: /x}\n";

struct fixture {
	struct desired d;
	struct live l;
	struct plan p;
	struct source src;
	char *doc; /* what plan --out writes */
};

static void setup(struct fixture *f)
{
	struct diags diags;

	source_init(&f->src);
	source_add(&f->src, "fleet.yaml", yaml, strlen(yaml));
	diags_init(&diags, 0);
	assert_int_equal(desired_load(&f->d, &f->src, &diags), 0);
	diags_release(&diags);
	desired_releases(&f->d);
	live_init(&f->l);
	for (int i = 0; i < 2; i++) {
		struct live_host *h = vec_add(&f->l.hosts);

		h->name = i ? "web2" : "web1";
		h->address = i ? "10.0.0.2" : "10.0.0.1";
		h->squad = "web";
		h->reachable = true;
	}
	plan_build(&f->p, &f->d, &f->l);
	{
		json_t *doc = render_plan_json(&f->p, &f->l, &f->src);

		f->doc = json_dumps(doc, JSON_INDENT(2));
		json_decref(doc);
	}
}

static void teardown(struct fixture *f)
{
	free(f->doc);
	plan_release(&f->p);
	live_release(&f->l);
	desired_release(&f->d);
	source_release(&f->src);
}

/* The document with its first `from` replaced by `to` (or whole). */
static char *edited(const char *doc, const char *from, const char *to)
{
	const char *at = from ? strstr(doc, from) : NULL;
	size_t n = strlen(doc) + (to ? strlen(to) : 0) + 1;
	char *out = calloc(1, n);

	if (!at) {
		memcpy(out, doc, strlen(doc));
		return out;
	}
	memcpy(out, doc, (size_t)(at - doc));
	strcat(out, to);
	strcat(out, at + strlen(from));
	return out;
}

static const struct {
	const char *name, *from, *to; /* from NULL: the document as written */
	const char *want;	      /* NULL: accepted; else a substring of the refusal */
} rows[] = {
	{"as written: accepted", NULL, NULL, NULL},
	{"not JSON", "{", "[", "p.json:"},
	{"another live state", "\"fingerprint\": \"", "\"fingerprint\": \"0", "another live state"},
	{"an action's op changed", "\"op\": \"start\"", "\"op\": \"stop\"", "action 1 differs"},
	{"an action's program changed", "\"program\": \"hello-", "\"program\": \"x-",
	 "action 1 differs"},
	{"an action's host changed (a squad move keeps names and fingerprint)", "\"host\": \"web",
	 "\"host\": \"xweb", "action 1 differs"},
	{"fewer actions", "\"actions\": [", "\"actions\": [], \"was\": [", "desired state changed"},
};

static void test_rows(void **state)
{
	struct fixture f;

	(void)state;
	setup(&f);
	assert_true(f.p.starts == 2);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		char *text = edited(f.doc, rows[i].from, rows[i].to);
		struct error err = ERROR_INIT;
		int rc = planfile_check(text, strlen(text), "p.json", &f.p, &f.l, &err);

		if (!rows[i].want && rc != 0)
			fail_msg("row '%s': refused: %s", rows[i].name, error_msg(&err));
		if (rows[i].want && (rc == 0 || !strstr(error_msg(&err), rows[i].want)))
			fail_msg("row '%s': want a refusal with '%s', got %d '%s'", rows[i].name,
				 rows[i].want, rc, error_msg(&err));
		error_release(&err);
		free(text);
	}
	teardown(&f);
}

/* web1 runs an instance of the release that an apply started and never saw
 * healthy: the plan checks it again (a start of the program that is there). */
static void test_recheck_as_written(void **state)
{
	struct fixture f;
	struct live_host *h;
	struct live_program *p;
	struct live_process *pr;
	const struct swarm *s;
	const struct plan_action *a = NULL;
	struct error err = ERROR_INIT;
	char name[128];
	json_t *doc, *o;
	size_t i;

	(void)state;
	setup(&f);
	plan_release(&f.p);
	free(f.doc);
	s = &f.d.swarms.v[0];
	h = &f.l.hosts.v[0];
	snprintf(name, sizeof(name), "hello-1-prod-%s-web-5000", s->release);
	p = arena_alloc(&f.l.mem, sizeof(*p));
	p->name = arena_strdup(&f.l.mem, name);
	p->meta = arena_alloc(&f.l.mem, 6 * sizeof(*p->meta));
	p->meta[p->nmeta++] = (struct meta_kv){"app", "hello"};
	p->meta[p->nmeta++] = (struct meta_kv){"config", "prod"};
	p->meta[p->nmeta++] = (struct meta_kv){"proc", "web"};
	p->meta[p->nmeta++] = (struct meta_kv){"squad", "web"};
	p->meta[p->nmeta++] = (struct meta_kv){"release", s->release};
	p->meta[p->nmeta++] = (struct meta_kv){"port", "5000"};
	pr = arena_alloc(&f.l.mem, sizeof(*pr));
	pr->name = pr->group = p->name;
	pr->statename = "RUNNING";
	pr->state = PROC_RUNNING;
	h->programs = p;
	h->nprograms = 1;
	h->procs = pr;
	h->nprocs = 1;
	*vec_add(&f.l.unchecked) = (struct live_unchecked){"web1", p->name};
	plan_build(&f.p, &f.d, &f.l);
	for (i = 0; i < f.p.actions.n; i++)
		if (f.p.actions.v[i].recheck)
			a = &f.p.actions.v[i];
	assert_non_null(a);
	assert_int_equal(a->op, PLAN_START);
	assert_false(a->restart);
	assert_string_equal(a->program, name);
	assert_int_equal(f.p.starts, 2); /* it, and one new instance on web2 */
	doc = render_plan_json(&f.p, &f.l, &f.src);
	json_array_foreach(json_object_get(doc, "actions"), i, o)
	{
		/* the new one on web2 has the same name: a name is unique per host */
		if (strcmp(json_string_value(json_object_get(o, "host")), "web1"))
			continue;
		assert_string_equal(json_string_value(json_object_get(o, "program")), name);
		assert_string_equal(json_string_value(json_object_get(o, "op")), "start");
		assert_string_equal(json_string_value(json_object_get(o, "reason")),
				    "unchecked (started by an apply that did not finish)");
	}
	f.doc = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	if (planfile_check(f.doc, strlen(f.doc), "p.json", &f.p, &f.l, &err) < 0)
		fail_msg("refused: %s", error_msg(&err));
	error_release(&err);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_recheck_as_written),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The offline diff (plan_offline.c), one scenario a row: the YAML of the
 * desired state before and after a change, loaded through the real loader,
 * and the changes the diff must report (kind, swarm, the words that matter,
 * what starts and what is torn down) and whether the mass-stop guard trips.
 * Then the two renderers on one plan: the text's lines and the JSON's shape.
 */
#include "unit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desired_load.h"
#include "plan_offline.h"

struct file {
	const char *path, *text;
};

struct want {
	enum oplan_kind kind;
	const char *swarm; /* the after identity (before for removed), balancer/pool, balancer */
	const char *from;  /* renamed: the before identity */
	const char *field; /* NULL: not checked */
	int start, stop;
	const char *reason; /* must appear in the reason; NULL ends the list */
};

struct row {
	const char *name;
	struct file before[2], after[2];
	struct want want[6];
	size_t changed;	   /* swarms changed */
	const char *guard; /* NULL: the guard must not trip; else words of its reason */
};

/* squads and a balancer; PRE adds the swarms key */
#define PRE0                                                                                       \
	"squads:\n"                                                                                \
	"  web: {hosts: [web1, web2]}\n"                                                           \
	"  api: {hosts: [api1]}\n"                                                                 \
	"  batch: {hosts: [batch1]}\n"                                                             \
	"balancers:\n"                                                                             \
	"  edge: {type: nginx, include_dir: /etc/nginx/raptor.d}\n"
#define PRE PRE0 "swarms:\n"

/* one swarm a line: identity, version, size, command, then any further keys */
#define SWC(app, config, proc, squad, version, size, command, more)                                \
	"  - {app: " app ", config: " config ", proc: " proc ", squad: " squad                     \
	", version: '" version "', size: " #size ", command: " command more "}\n"
/* the same command everywhere, so only what a row changes differs */
#define SW(app, config, proc, squad, version, size, more)                                          \
	SWC(app, config, proc, squad, version, size, "/bin/run", more)

#define HELLO	SW("hello", "prod", "web", "web", "1.0", 3, "")
#define API	SW("api", "prod", "web", "web", "1.0", 2, "")
#define WORKER	SW("api", "prod", "worker", "batch", "1.0", 2, ", port: none")
#define REPORTS SW("reports", "prod", "worker", "batch", "1.0", 2, ", port: none")

static const struct row rows[] = {
	{"no change", {{"a.yaml", PRE HELLO API}}, {{"a.yaml", PRE HELLO API}}, {{0}}, 0, NULL},
	{"moving a swarm to another file changes nothing",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE API}, {"more/b.yml", "swarms:\n" HELLO}},
	 {{0}},
	 0,
	 NULL},
	{"a new swarm starts its size",
	 {{"a.yaml", PRE HELLO}},
	 {{"a.yaml", PRE HELLO REPORTS}},
	 {{OPLAN_ADDED, "reports/prod/worker@batch", NULL, NULL, 2, 0, "new swarm: start 2"}},
	 1,
	 NULL},
	{"a removed swarm is torn down",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE HELLO}},
	 {{OPLAN_REMOVED, "api/prod/web@web", NULL, NULL, 0, 2, "swarm removed: tear down 2"}},
	 1,
	 NULL},
	{"a bigger size starts the difference",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE HELLO SW("api", "prod", "web", "web", "1.0", 4, "")}},
	 {{OPLAN_RESIZED, "api/prod/web@web", NULL, "size", 2, 0, "size 2 -> 4: start 2"}},
	 1,
	 NULL},
	{"a smaller size stops the difference",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE SW("hello", "prod", "web", "web", "1.0", 1, "") API}},
	 {{OPLAN_RESIZED, "hello/prod/web@web", NULL, "size", 0, 2, "size 3 -> 1: stop 2"}},
	 1,
	 NULL},
	{"a version bump is a new release of the same swarm",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE HELLO SW("api", "prod", "web", "web", "1.1", 2, "")}},
	 {{OPLAN_RELEASED, "api/prod/web@web", NULL, "version", 2, 2,
	   "new release (version 1.0 -> 1.1): start 2, stop 2"}},
	 1,
	 NULL},
	{"a new release and a new size at once",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE HELLO SW("api", "prod", "web", "web", "1.1", 4, "")}},
	 {{OPLAN_RELEASED, "api/prod/web@web", NULL, "version", 4, 2,
	   "new release (version 1.0 -> 1.1), size 2 -> 4: start 4, stop 2"}},
	 1,
	 NULL},
	{"an env change is a new release, values unshown",
	 {{"a.yaml", PRE SW("hello", "prod", "web", "web", "1.0", 3, ", env: {GREETING: hi}") API}},
	 {{"a.yaml", PRE SW("hello", "prod", "web", "web", "1.0", 3, ", env: {GREETING: yo}") API}},
	 {{OPLAN_RELEASED, "hello/prod/web@web", NULL, "env", 3, 3,
	   "new release (env GREETING changed): start 3, stop 3"}},
	 1,
	 NULL},
	{"user, directory and port mode are the release too",
	 {{"a.yaml", PRE SW("api", "prod", "worker", "batch", "1.0", 2, "") HELLO}},
	 {{"a.yaml",
	   PRE HELLO "  - {app: api, config: prod, proc: worker, squad: batch, version: '1.0',\n"
		     "     size: 2, command: /bin/run, user: nobody}\n"}},
	 {{OPLAN_RELEASED, "api/prod/worker@batch", NULL, "user", 2, 2, "user (none) -> nobody"}},
	 1,
	 NULL},
	{"app renamed: one change that tears the old identity down",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE SW("hello2", "prod", "web", "web", "1.0", 3, "") API}},
	 {{OPLAN_RENAMED, "hello2/prod/web@web", "hello/prod/web@web", "app", 3, 3,
	   "app renamed hello -> hello2"}},
	 1,
	 NULL},
	{"config renamed",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE SW("hello", "europe", "web", "web", "1.0", 3, "") API}},
	 {{OPLAN_RENAMED, "hello/europe/web@web", "hello/prod/web@web", "config", 3, 3,
	   "config renamed prod -> europe"}},
	 1,
	 NULL},
	{"proc renamed",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE SW("hello", "prod", "www", "web", "1.0", 3, "") API}},
	 {{OPLAN_RENAMED, "hello/prod/www@web", "hello/prod/web@web", "proc", 3, 3,
	   "proc renamed web -> www"}},
	 1,
	 NULL},
	{"squad changed",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE SW("hello", "prod", "web", "api", "1.0", 3, "") API}},
	 {{OPLAN_RENAMED, "hello/prod/web@api", "hello/prod/web@web", "squad", 3, 3,
	   "squad changed web -> api"}},
	 1,
	 NULL},
	{"a rename with a new version and size says both after the rename",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE SW("hello2", "prod", "web", "web", "2.0", 5, "") API}},
	 {{OPLAN_RENAMED, "hello2/prod/web@web", "hello/prod/web@web", "app", 5, 3,
	   "app renamed hello -> hello2; also version 1.0 -> 2.0, size 3 -> 5"}},
	 1,
	 NULL},
	{"two identity fields at once are not a rename",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE SW("hello2", "prod", "www", "web", "1.0", 3, "") API}},
	 {{OPLAN_ADDED, "hello2/prod/www@web", NULL, NULL, 3, 0, "new swarm: start 3"},
	  {OPLAN_REMOVED, "hello/prod/web@web", NULL, NULL, 0, 3, "swarm removed: tear down 3"}},
	 2,
	 "3 of 5 instances (60%) belong to swarms that vanished"},
	{"a rename prefers the candidate that keeps its release",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE SW("hello", "prod", "web", "api", "9.9", 3, "")
			     SW("hello2", "prod", "web", "web", "1.0", 3, "") API}},
	 {{OPLAN_RENAMED, "hello2/prod/web@web", "hello/prod/web@web", "app", 3, 3,
	   "app renamed hello -> hello2"},
	  {OPLAN_ADDED, "hello/prod/web@api", NULL, NULL, 3, 0, "new swarm: start 3"}},
	 2,
	 NULL},
	{"renames pair as many as they can",
	 /* a's first choice (same release) is c, b's only one is c: a takes a@api */
	 {{"a.yaml", PRE SW("a", "prod", "web", "web", "1.0", 1, "")
			     SWC("b", "prod", "web", "web", "1.0", 1, "/bin/b", "") API}},
	 {{"a.yaml", PRE SW("a", "prod", "web", "api", "2.0", 1, "")
			     SW("c", "prod", "web", "web", "1.0", 1, "") API}},
	 {{OPLAN_RENAMED, "a/prod/web@api", "a/prod/web@web", "squad", 1, 1,
	   "squad changed web -> api; also version 1.0 -> 2.0"},
	  {OPLAN_RENAMED, "c/prod/web@web", "b/prod/web@web", "app", 1, 1,
	   "app renamed b -> c; also command changed"}},
	 2,
	 NULL},
	{"size 0 is intent: it stops all, and the guard keeps quiet",
	 {{"a.yaml", PRE HELLO}},
	 {{"a.yaml", PRE SW("hello", "prod", "web", "web", "1.0", 0, "")}},
	 {{OPLAN_RESIZED, "hello/prod/web@web", NULL, "size", 0, 3, "size 3 -> 0: stop 3"}},
	 1,
	 NULL},
	{"a swarm added at size 0 starts nothing",
	 {{"a.yaml", PRE HELLO}},
	 {{"a.yaml", PRE HELLO SW("api", "prod", "web", "web", "1.0", 0, "")}},
	 {{OPLAN_ADDED, "api/prod/web@web", NULL, NULL, 0, 0,
	   "new swarm at size 0: starts nothing"}},
	 1,
	 NULL},
	{"a swarm at size 0 removed stops nothing and trips nothing",
	 {{"a.yaml", PRE HELLO SW("api", "prod", "web", "web", "1.0", 0, "")}},
	 {{"a.yaml", PRE HELLO}},
	 {{OPLAN_REMOVED, "api/prod/web@web", NULL, NULL, 0, 0, "it was at size 0"}},
	 1,
	 NULL},
	{"guard: more than half of the instances vanish",
	 {{"a.yaml", PRE HELLO API SW("api", "prod", "www", "web", "1.0", 1, "")}},
	 {{"a.yaml", PRE SW("api", "prod", "www", "web", "1.0", 1, "")}},
	 {{OPLAN_REMOVED, "api/prod/web@web", NULL, NULL, 0, 2, "tear down 2"},
	  {OPLAN_REMOVED, "hello/prod/web@web", NULL, NULL, 0, 3, "tear down 3"}},
	 2,
	 "5 of 6 instances (83%) belong to swarms that vanished"},
	{"guard: exactly half is not more than half",
	 {{"a.yaml", PRE SW("a", "prod", "web", "web", "1.0", 2, "") API}},
	 {{"a.yaml", PRE API}},
	 {{OPLAN_REMOVED, "a/prod/web@web", NULL, NULL, 0, 2, "tear down 2"}},
	 1,
	 NULL},
	{"guard: every instance of a squad vanishes",
	 {{"a.yaml", PRE HELLO API WORKER}},
	 {{"a.yaml", PRE HELLO API}},
	 {{OPLAN_REMOVED, "api/prod/worker@batch", NULL, NULL, 0, 2, "tear down 2"}},
	 1,
	 "every instance of squad batch (2) belongs to swarms that vanished"},
	{"guard: no swarms at all after",
	 {{"a.yaml", PRE HELLO}},
	 {{"a.yaml", PRE0}},
	 {{OPLAN_REMOVED, "hello/prod/web@web", NULL, NULL, 0, 3, "tear down 3"}},
	 1,
	 "has no swarms at all, while the one before had 1 swarm of 3 instances"},
	{"guard: renaming every swarm replaces them all",
	 {{"a.yaml", PRE HELLO WORKER}},
	 {{"a.yaml", PRE SW("hello2", "prod", "web", "web", "1.0", 3, "")
			     SW("api", "prod", "worker", "api", "1.0", 2, ", port: none")}},
	 {{OPLAN_RENAMED, "api/prod/worker@api", "api/prod/worker@batch", "squad", 2, 2,
	   "squad changed batch -> api"},
	  {OPLAN_RENAMED, "hello2/prod/web@web", "hello/prod/web@web", "app", 3, 3, "app renamed"}},
	 2,
	 NULL},
	{"routing: a kept swarm moves pool; pools appear and go",
	 {{"a.yaml", PRE SW("hello", "prod", "web", "web", "1.0", 3,
			    ", routing: {balancer: edge, pool: hello}") API}},
	 {{"a.yaml", PRE SW("hello", "prod", "web", "web", "1.0", 3,
			    ", routing: {balancer: edge, pool: hello2}") API}},
	 {{OPLAN_ROUTING, "hello/prod/web@web", NULL, "routing", 0, 0,
	   "routing edge/hello -> edge/hello2"},
	  {OPLAN_POOL_REMOVED, "edge/hello", NULL, NULL, 0, 0, "pool removed"},
	  {OPLAN_POOL_ADDED, "edge/hello2", NULL, NULL, 0, 0, "new pool: a swarm routes to it"}},
	 1,
	 NULL},
	{"routing: newly routed, and a new release besides",
	 {{"a.yaml", PRE HELLO API}},
	 {{"a.yaml", PRE SW("hello", "prod", "web", "web", "1.1", 3,
			    ", routing: {balancer: edge, pool: hello}") API}},
	 {{OPLAN_RELEASED, "hello/prod/web@web", NULL, "version", 3, 3, "version 1.0 -> 1.1"},
	  {OPLAN_ROUTING, "hello/prod/web@web", NULL, "routing", 0, 0, "now routed to edge/hello"},
	  {OPLAN_POOL_ADDED, "edge/hello", NULL, NULL, 0, 0, "new pool: a swarm routes to it"}},
	 1,
	 NULL},
	{"balancers appear and disappear",
	 {{"a.yaml", PRE HELLO}},
	 {{"a.yaml", "squads:\n  web: {hosts: [web1]}\n  api: {hosts: [a]}\n  batch: {hosts: [b]}\n"
		     "balancers:\n  front: {type: nginx, include_dir: /etc/nginx/front.d}\n"
		     "swarms:\n" HELLO}},
	 {{OPLAN_BALANCER_ADDED, "front", NULL, NULL, 0, 0, "pools in /etc/nginx/front.d"},
	  {OPLAN_BALANCER_REMOVED, "edge", NULL, NULL, 0, 0, "balancer removed"}},
	 0,
	 NULL},
};

static void load_files(struct desired *d, const struct file *files, const char *row)
{
	struct source src;
	struct diags diags;

	source_init(&src);
	src.root = strdup("test");
	for (size_t i = 0; i < 2 && files[i].path; i++)
		source_add(&src, files[i].path, files[i].text, strlen(files[i].text));
	source_sort(&src);
	diags_init(&diags, 0);
	if (desired_load(d, &src, &diags) < 0) {
		print_message("row '%s': the YAML does not load:\n", row);
		diags_print(&diags, stderr);
		fail();
	}
	diags_release(&diags);
	source_release(&src);
}

static size_t count_wants(const struct row *r)
{
	size_t n = 0;

	while (n < ARRAY_SIZE(r->want) && r->want[n].reason)
		n++;
	return n;
}

/* What a change is about: the swarm's identity, else the pool (balancer/pool)
 * or the balancer. */
static const char *change_swarm(const struct oplan_change *ch)
{
	static char name[256];
	const struct swarm *s = ch->after ? ch->after : ch->before;

	if (s)
		return s->identity;
	if (ch->pool)
		snprintf(name, sizeof(name), "%s/%s", ch->balancer, ch->pool);
	else
		snprintf(name, sizeof(name), "%s", ch->balancer ? ch->balancer : "?");
	return name;
}

static void print_plan(const struct offline_plan *p)
{
	for (size_t i = 0; i < p->changes.n; i++) {
		const struct oplan_change *ch = &p->changes.v[i];

		print_message("    got %s %s: %s (start %d, stop %d)\n", oplan_kind_text(ch->kind),
			      change_swarm(ch) ? change_swarm(ch) : "-", ch->reason, ch->start,
			      ch->stop);
	}
	if (p->guard_tripped)
		print_message("    guard: %s\n", p->guard_reason);
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Checks one row's plan; prints what differs and returns false. */
static bool check_row(const struct row *r, const struct offline_plan *p)
{
	size_t nwant = count_wants(r);
	long start = 0, stop = 0;
	bool ok = true;

	if (p->changes.n != nwant) {
		print_message("row '%s': %zu changes, want %zu\n", r->name, p->changes.n, nwant);
		return false;
	}
	for (size_t i = 0; i < nwant; i++) {
		const struct want *w = &r->want[i];
		const struct oplan_change *ch = &p->changes.v[i];

		start += w->start;
		stop += w->stop;
		if (ch->kind != w->kind || (w->swarm && !same(change_swarm(ch), w->swarm)) ||
		    (w->from && !same(ch->before->identity, w->from)) ||
		    (w->field && !same(ch->field, w->field)) || ch->start != w->start ||
		    ch->stop != w->stop || !strstr(ch->reason, w->reason)) {
			print_message("row '%s': change %zu: want %s %s: ...%s... (start %d, "
				      "stop %d)\n",
				      r->name, i, oplan_kind_text(w->kind),
				      w->swarm ? w->swarm : "-", w->reason, w->start, w->stop);
			ok = false;
		}
	}
	if (p->start != start || p->stop != stop || p->swarms_changed != r->changed) {
		print_message("row '%s': totals %ld/%ld/%zu, want %ld/%ld/%zu\n", r->name, p->start,
			      p->stop, p->swarms_changed, start, stop, r->changed);
		ok = false;
	}
	if (p->guard_tripped != (r->guard != NULL) ||
	    (r->guard && !strstr(p->guard_reason, r->guard))) {
		print_message("row '%s': guard %s, want %s\n", r->name,
			      p->guard_tripped ? p->guard_reason : "quiet",
			      r->guard ? r->guard : "quiet");
		ok = false;
	}
	return ok;
}

static void test_rows(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];
		struct desired before, after;
		struct offline_plan p;

		load_files(&before, r->before, r->name);
		load_files(&after, r->after, r->name);
		offline_plan_build(&p, &before, &after);
		if (!check_row(r, &p)) {
			print_plan(&p);
			failures++;
		}
		offline_plan_release(&p);
		desired_release(&before);
		desired_release(&after);
	}
	assert_int_equal(failures, 0);
}

/* The same two models give the same plan, and swapping them reverses it. */
static void test_deterministic_and_reversible(void **state)
{
	const struct file one[2] = {{"a.yaml", PRE HELLO API WORKER}};
	const struct file two[2] = {
		{"a.yaml", PRE SW("hello2", "prod", "web", "web", "1.0", 3, "") API REPORTS}};
	struct desired a, b;
	struct offline_plan p1, p2, back;

	(void)state;
	load_files(&a, one, "deterministic");
	load_files(&b, two, "deterministic");
	offline_plan_build(&p1, &a, &b);
	offline_plan_build(&p2, &a, &b);
	offline_plan_build(&back, &b, &a);
	assert_int_equal(p1.changes.n, p2.changes.n);
	for (size_t i = 0; i < p1.changes.n; i++)
		assert_string_equal(p1.changes.v[i].reason, p2.changes.v[i].reason);
	assert_int_equal(p1.start, back.stop);
	assert_int_equal(p1.stop, back.start);
	assert_string_equal(back.changes.v[0].reason, "app renamed hello2 -> hello");
	offline_plan_release(&p1);
	offline_plan_release(&p2);
	offline_plan_release(&back);
	desired_release(&a);
	desired_release(&b);
}

/* Renders one plan through a memory stream. */
static char *render(int (*fn)(FILE *, const struct offline_plan *, const struct oplan_side *,
			      const struct oplan_side *),
		    const struct offline_plan *p, const struct oplan_side *b,
		    const struct oplan_side *a)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(fn(f, p, b, a), 0);
	fclose(f);
	return text;
}

static const struct file text_before[2] = {
	{"a.yaml", PRE HELLO API WORKER SW("old", "prod", "web", "web", "1.0", 2, "")}};
static const struct file text_after[2] = {
	{"a.yaml", PRE SW("hello2", "prod", "web", "web", "1.0", 3, "") SW("api", "prod", "web",
									   "web", "1.0", 4, "")
			   SW("api", "prod", "worker", "batch", "1.1", 2, ", port: none") REPORTS}};
static const struct oplan_side side_b = {"/src/repo", "main", "1a2b3c4d5e6f", "deploy", false};
static const struct oplan_side side_a = {"deploy/", NULL, NULL, NULL, false};

static void test_text(void **state)
{
	struct desired b, a;
	struct offline_plan p;
	char *text;

	(void)state;
	load_files(&b, text_before, "text");
	load_files(&a, text_after, "text");
	offline_plan_build(&p, &b, &a);
	text = render(oplan_print_text, &p, &side_b, &side_a);
	assert_non_null(strstr(text, "Offline plan: desired state at main (1a2b3c4) -> deploy/ "
				     "(working tree); no host contacted.\n\n"));
	assert_non_null(strstr(text, "~ hello/prod/web@web -> hello2/prod/web@web   app renamed "
				     "hello -> hello2\n"
				     "    + start 3 instances of hello2/prod/web@web\n"
				     "    - tear down every instance of hello/prod/web@web (3)\n"));
	assert_non_null(strstr(text, "+ reports/prod/worker@batch   new swarm: start 2\n"));
	assert_non_null(strstr(text, "- old/prod/web@web            swarm removed: tear down 2\n"));
	assert_non_null(strstr(text, "~ api/prod/web@web            size 2 -> 4: start 2\n"));
	assert_non_null(strstr(text, "~ api/prod/worker@batch       new release (version 1.0 -> "
				     "1.1): start 2, stop 2\n"));
	assert_non_null(strstr(text, "\nPlan: 9 to start, 7 to tear down, 5 swarms changed.\n"));
	assert_null(strstr(text, "guard"));
	assert_null(strstr(text, "\033"));
	free(text);
	offline_plan_release(&p);
	desired_release(&b);
	desired_release(&a);
}

static void test_text_nothing_and_guard(void **state)
{
	const struct file one[2] = {{"a.yaml", PRE HELLO}};
	const struct file none[2] = {{"a.yaml", PRE0}};
	struct oplan_side absent = side_b;
	struct desired b, a, empty;
	struct offline_plan same_plan, gone, fresh;
	char *text;

	(void)state;
	load_files(&b, one, "nothing");
	load_files(&a, one, "nothing");
	load_files(&empty, none, "nothing");
	offline_plan_build(&same_plan, &b, &a);
	text = render(oplan_print_text, &same_plan, &side_b, &side_a);
	assert_non_null(strstr(text, "No changes: both run the same swarms. Plan: nothing to do."));
	free(text);
	offline_plan_build(&gone, &b, &empty);
	text = render(oplan_print_text, &gone, &side_b, &side_a);
	assert_non_null(strstr(text, "! mass-stop guard: apply would refuse this without "
				     "--allow-mass-stop: the desired state after the change has no "
				     "swarms at all"));
	free(text);
	/* a desired state a change adds: before is empty, and says why */
	desired_release(&empty);
	desired_init(&empty);
	absent.absent = true;
	offline_plan_build(&fresh, &empty, &a);
	text = render(oplan_print_text, &fresh, &absent, &side_a);
	assert_non_null(strstr(text, "(deploy/ does not exist at main: read as an empty desired "
				     "state.)"));
	assert_non_null(strstr(text, "+ hello/prod/web@web   new swarm: start 3"));
	assert_non_null(strstr(text, "+ balancer edge"));
	free(text);
	offline_plan_release(&same_plan);
	offline_plan_release(&gone);
	offline_plan_release(&fresh);
	desired_release(&b);
	desired_release(&a);
	desired_release(&empty);
}

static void test_json(void **state)
{
	struct desired b, a;
	struct offline_plan p;
	json_error_t jerr;
	json_t *doc, *changes, *rename, *summary;
	char *text;

	(void)state;
	load_files(&b, text_before, "json");
	load_files(&a, text_after, "json");
	offline_plan_build(&p, &b, &a);
	text = render(oplan_print_json, &p, &side_b, &side_a);
	doc = json_loads(text, 0, &jerr);
	if (!doc)
		fail_msg("not JSON: %s: %s", jerr.text, text);
	assert_int_equal(json_integer_value(json_object_get(doc, "format_version")), 1);
	assert_true(json_is_true(json_object_get(doc, "offline")));
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(doc, "before"), "commit")),
		"1a2b3c4d5e6f");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(doc, "before"), "subdir")),
		"deploy");
	assert_true(json_is_null(json_object_get(json_object_get(doc, "after"), "commit")));
	changes = json_object_get(doc, "changes");
	assert_int_equal(json_array_size(changes), 5);
	rename = json_array_get(changes, 0);
	assert_string_equal(json_string_value(json_object_get(rename, "kind")), "renamed");
	assert_string_equal(json_string_value(json_object_get(rename, "swarm")),
			    "hello2/prod/web@web");
	assert_string_equal(json_string_value(json_object_get(rename, "from")),
			    "hello/prod/web@web");
	assert_string_equal(json_string_value(json_object_get(rename, "field")), "app");
	assert_string_equal(json_string_value(json_array_get(json_object_get(rename, "fields"), 0)),
			    "app");
	assert_int_equal(json_integer_value(json_object_get(rename, "start")), 3);
	assert_int_equal(json_integer_value(json_object_get(rename, "stop")), 3);
	assert_int_equal(strlen(json_string_value(
				 json_object_get(json_object_get(rename, "release"), "before"))),
			 8);
	assert_true(json_is_null(json_object_get(json_array_get(changes, 1), "from")));
	summary = json_object_get(doc, "summary");
	assert_int_equal(json_integer_value(json_object_get(summary, "start")), 9);
	assert_int_equal(json_integer_value(json_object_get(summary, "stop")), 7);
	assert_int_equal(json_integer_value(json_object_get(summary, "changed")), 5);
	assert_true(json_is_false(json_object_get(json_object_get(doc, "guard"), "tripped")));
	assert_true(json_is_null(json_object_get(json_object_get(doc, "guard"), "reason")));
	json_decref(doc);
	free(text);
	offline_plan_release(&p);
	desired_release(&b);
	desired_release(&a);
}

#define SCHEMA_PATH "../../schema/plan-offline.schema.json"

/* Every key of `obj` is a property of `schema` and every required one is
 * there; counts the mismatches. */
static int check_keys(json_t *obj, json_t *schema, const char *where)
{
	json_t *props = json_object_get(schema, "properties");
	json_t *required = json_object_get(schema, "required");
	const char *key;
	json_t *value;
	size_t i;
	int bad = 0;

	json_object_foreach(obj, key, value)
	{
		(void)value;
		if (!json_object_get(props, key)) {
			print_message("%s.%s is printed but not in the schema\n", where, key);
			bad++;
		}
	}
	json_array_foreach(required, i, value)
	{
		if (!json_object_get(obj, json_string_value(value))) {
			print_message("%s.%s is required but not printed\n", where,
				      json_string_value(value));
			bad++;
		}
	}
	return bad;
}

static bool in_enum(json_t *list, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
	{
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	}
	return false;
}

/* The JSON printed and schema/plan-offline.schema.json describe one document:
 * a key added to one and not the other, or a new kind, fails here. */
static void test_json_matches_schema(void **state)
{
	const struct file one[2] = {
		{"a.yaml", PRE SW("hello", "prod", "web", "web", "1.0", 3,
				  ", routing: {balancer: edge, pool: hello}") API WORKER}};
	const struct file two[2] = {
		{"a.yaml", PRE0 "  front: {type: nginx, include_dir: /x}\nswarms:\n" SW(
				   "hello", "prod", "web", "web", "1.1", 3,
				   ", routing: {balancer: front, pool: hello}")
				   SW("api", "prod", "web", "web", "1.0", 5, "") REPORTS}};
	struct desired b, a;
	struct offline_plan p;
	json_error_t jerr;
	json_t *schema, *defs, *doc, *change, *kinds, *fields;
	char *text;
	size_t i;
	int bad = 0;

	(void)state;
	schema = json_load_file(SCHEMA_PATH, 0, &jerr);
	if (!schema)
		fail_msg("%s:%d: %s", SCHEMA_PATH, jerr.line, jerr.text);
	defs = json_object_get(schema, "$defs");
	kinds = json_object_get(
		json_object_get(json_object_get(json_object_get(defs, "change"), "properties"),
				"kind"),
		"enum");
	fields = json_object_get(
		json_object_get(json_object_get(json_object_get(defs, "change"), "properties"),
				"field"),
		"enum");
	for (int k = OPLAN_RENAMED; k <= OPLAN_POOL_REMOVED; k++)
		if (!in_enum(kinds, oplan_kind_text((enum oplan_kind)k))) {
			print_message("kind %s is not in the schema\n",
				      oplan_kind_text((enum oplan_kind)k));
			bad++;
		}
	load_files(&b, one, "schema");
	load_files(&a, two, "schema");
	offline_plan_build(&p, &b, &a);
	text = render(oplan_print_json, &p, &side_b, &side_a);
	doc = json_loads(text, 0, &jerr);
	assert_non_null(doc);
	bad += check_keys(doc, schema, "root");
	bad += check_keys(json_object_get(doc, "before"), json_object_get(defs, "side"), "before");
	bad += check_keys(json_object_get(doc, "after"), json_object_get(defs, "side"), "after");
	bad += check_keys(json_object_get(doc, "summary"),
			  json_object_get(json_object_get(schema, "properties"), "summary"),
			  "summary");
	bad += check_keys(json_object_get(doc, "guard"),
			  json_object_get(json_object_get(schema, "properties"), "guard"), "guard");
	assert_true(json_array_size(json_object_get(doc, "changes")) >= 6);
	json_array_foreach(json_object_get(doc, "changes"), i, change)
	{
		json_t *field = json_object_get(change, "field");

		bad += check_keys(change, json_object_get(defs, "change"), "changes[]");
		if (json_is_string(field) && !in_enum(fields, json_string_value(field))) {
			print_message("field %s is not in the schema\n", json_string_value(field));
			bad++;
		}
	}
	assert_int_equal(bad, 0);
	json_decref(doc);
	json_decref(schema);
	free(text);
	offline_plan_release(&p);
	desired_release(&b);
	desired_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows), cmocka_unit_test(test_deterministic_and_reversible),
		cmocka_unit_test(test_text), cmocka_unit_test(test_text_nothing_and_guard),
		cmocka_unit_test(test_json), cmocka_unit_test(test_json_matches_schema),
	};
	return cmocka_run_group_tests_name("plan_offline", tests, NULL, NULL);
}

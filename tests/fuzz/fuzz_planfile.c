/*
 * Fuzz target: the PLANFILE reader of `raptor apply PLANFILE`. The input is
 * the file's bytes; the plan and live state it is checked against are fixed,
 * built once from a small desired state (through the real loader and
 * planner) and a hand-made fleet that gives starts, stops, a pool rewrite,
 * an unmanaged program and an unreachable host.
 *
 * The check is planfile_check() (planfile.c), the pure function apply runs
 * on the file's bytes: jansson with JSON_REJECT_DUPLICATES, then the
 * fingerprint, the action count and each action's op and program.
 *
 * Run with FUZZ_PLANFILE_SEED=PATH, the target first writes the fixed plan
 * there as `raptor plan --out` writes it (render_plan_json, JSON_INDENT(2) |
 * JSON_PRESERVE_ORDER, no final newline): a PLANFILE that matches, the seed
 * from which the fuzzer reaches the action checks past the fingerprint.
 */
#include "fuzz.h"

#include <jansson.h>

#include "desired_load.h"
#include "live.h"
#include "planfile.h"
#include "planner.h"
#include "render_plan.h"
#include "xalloc.h"
#include "banned.h"

static const char yaml[] =
	"squads:\n"
	"  web:\n"
	"    hosts: [web1, web2]\n"
	"balancers:\n"
	"  edge: {type: nginx, include_dir: /etc/nginx/raptor.d}\n"
	"swarms:\n"
	"  - {app: hello, version: '2', config: prod, proc: web, squad: web, size: 2,\n"
	"     command: '/apps/hello --port ${PORT}', routing: {balancer: edge, pool: hello_prod}}\n"
	"  - {app: hello, version: '2', config: prod, proc: worker, squad: web, size: 1,\n"
	"     command: /apps/hello --worker, port: none}\n";

static struct {
	struct source src;
	struct desired d;
	struct live l;
	struct plan plan;
} fixed;

static void add_meta(struct live_program *p, const char *k, const char *v)
{
	p->meta[p->nmeta].key = arena_strdup(&fixed.l.mem, k);
	p->meta[p->nmeta].value = arena_strdup(&fixed.l.mem, v);
	p->nmeta++;
}

/* A program raptor made (file and metadata) that supervisord runs. */
static void add_managed(struct live_host *h, const char *app, const char *proc,
			const char *release, const char *port, const char *pool)
{
	struct live_program *p = &h->programs[h->nprograms++];
	struct live_process *pr = &h->procs[h->nprocs++];
	char name[128];

	snprintf(name, sizeof(name), "%s-1-prod-%s-%s-%s", app, release, proc, port);
	p->name = arena_strdup(&fixed.l.mem, name);
	p->file = "/etc/supervisor/raptor.d/x.conf";
	p->meta = arena_alloc(&fixed.l.mem, 8 * sizeof(*p->meta));
	add_meta(p, "app", app);
	add_meta(p, "config", "prod");
	add_meta(p, "proc", proc);
	add_meta(p, "squad", "web");
	add_meta(p, "release", release);
	add_meta(p, "port", port);
	if (pool)
		add_meta(p, "pool", pool);
	pr->name = pr->group = p->name;
	pr->statename = "RUNNING";
	pr->state = PROC_RUNNING;
}

static struct live_host *add_host(const char *name, const char *address, const char *squad)
{
	struct live_host *h = vec_add(&fixed.l.hosts);

	h->name = name;
	h->address = address;
	h->squad = squad;
	h->url = "http://x:9001/RPC2";
	h->reachable = true;
	h->programs = arena_alloc(&fixed.l.mem, 4 * sizeof(*h->programs));
	h->procs = arena_alloc(&fixed.l.mem, 4 * sizeof(*h->procs));
	h->ports = arena_alloc(&fixed.l.mem, 4 * sizeof(*h->ports));
	return h;
}

/* web1 runs hello's previous release (routed) and something raptor did not
 * make; web2 runs a swarm that was removed; web3, known only from the state
 * record, does not answer. */
static void build_live(void)
{
	struct live_host *h;
	struct live_pool *pool;

	live_init(&fixed.l);
	h = add_host("web1", "10.0.0.1", "web");
	add_managed(h, "hello", "web", "0badc0de", "5000", "edge/hello_prod");
	h->procs[h->nprocs].name = h->procs[h->nprocs].group = "legacy_cron";
	h->procs[h->nprocs].statename = "RUNNING";
	h->procs[h->nprocs++].state = PROC_RUNNING;
	h->ports[h->nports++] = 5000;
	h->ports[h->nports++] = 22;
	h = add_host("web2", "10.0.0.2", "web");
	add_managed(h, "gone", "web", "12345678", "5001", NULL);
	h->ports[h->nports++] = 5001;
	h = add_host("web3", "10.0.0.3", NULL);
	h->reachable = false;
	h->error = "connection refused";
	vec_push(&fixed.l.pool_balancers, "edge");
	pool = vec_add(&fixed.l.pools);
	pool->balancer = "edge";
	pool->pool = "hello_prod";
	pool->nodes = arena_alloc(&fixed.l.mem, sizeof(*pool->nodes));
	pool->nodes[pool->n++] = "10.0.0.1:5000";
}

static void write_seed(const char *path)
{
	json_t *doc = render_plan_json(&fixed.plan, &fixed.l, &fixed.src);
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	FILE *f = fopen(path, "w");

	if (!text || !f || fputs(text, f) == EOF || fclose(f) == EOF) {
		fprintf(stderr, "fuzz_planfile: cannot write %s\n", path);
		exit(1);
	}
	free(text);
	json_decref(doc);
}

/* The target means something only if a plan written as `plan --out` writes
 * it passes the check; a planner change that broke that would show here. */
static void accepts_own_plan(void)
{
	json_t *doc = render_plan_json(&fixed.plan, &fixed.l, &fixed.src);
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	struct error err = ERROR_INIT;

	if (!text || planfile_check(text, strlen(text), "PLANFILE", &fixed.plan, &fixed.l, &err)) {
		fprintf(stderr, "fuzz_planfile: the fixed plan, as written, is refused: %s\n",
			error_msg(&err));
		exit(1);
	}
	free(text);
	json_decref(doc);
	error_release(&err);
}

static void release_fixed(void)
{
	plan_release(&fixed.plan);
	live_release(&fixed.l);
	desired_release(&fixed.d);
	source_release(&fixed.src);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct diags diags;
	const char *seed = getenv("FUZZ_PLANFILE_SEED");

	(void)argc;
	(void)argv;
	source_init(&fixed.src);
	fixed.src.root = xstrdup("desired");
	source_add(&fixed.src, "desired.yaml", yaml, strlen(yaml));
	diags_init(&diags, 0);
	if (desired_load(&fixed.d, &fixed.src, &diags) < 0) {
		diags_print(&diags, stderr);
		fprintf(stderr, "fuzz_planfile: the fixed desired state does not load\n");
		exit(1);
	}
	diags_release(&diags);
	desired_releases(&fixed.d);
	build_live();
	plan_build(&fixed.plan, &fixed.d, &fixed.l);
	if (!fixed.plan.starts || !fixed.plan.stops || !fixed.plan.routes) {
		fprintf(stderr, "fuzz_planfile: the fixed plan lacks a start, a stop or a route\n");
		exit(1);
	}
	atexit(release_fixed);
	if (seed)
		write_seed(seed);
	accepts_own_plan();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err = ERROR_INIT;

	(void)planfile_check((const char *)data, size, "PLANFILE", &fixed.plan, &fixed.l, &err);
	error_release(&err);
	return 0;
}

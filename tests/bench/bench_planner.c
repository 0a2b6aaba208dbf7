/*
 * The planner's benchmark: 10,000 swarms of size 10 over 100 squads of 10
 * hosts (1,000 hosts, 100,000 instances), desired state loaded through the
 * real loader, live state built in memory, then plan_build timed: the steady
 * state (every instance current: nothing to do), and a rollout where one
 * swarm in ten has a new version. Prints one markdown section on stdout
 * (tests/bench/bench_plan.py puts it into RESULTS.md); exits 1 when a target
 * (100 ms, 128 MB) is missed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "desired_load.h"
#include "planner.h"
#include "release.h"

#define SWARMS		10000
#define SQUADS		100
#define HOSTS_PER_SQUAD 10
#define SIZE		10
#define RUNS		21 /* this shared VM's pace swings by a third from one run to the next */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void gen_yaml(struct buf *y, int bumped)
{
	buf_puts(y, "squads:\n");
	for (int q = 0; q < SQUADS; q++) {
		buf_printf(y, "  sq%03d:\n    hosts:\n", q);
		for (int h = 0; h < HOSTS_PER_SQUAD; h++)
			buf_printf(y, "      - h%03d%02d\n", q, h);
	}
	buf_puts(y,
		 "balancers:\n  edge: {type: nginx, include_dir: /etc/nginx/raptor.d}\nswarms:\n");
	for (int s = 0; s < SWARMS; s++)
		buf_printf(
			y,
			"  - {app: app%05d, version: '%s', config: prod, proc: web, squad: sq%03d,"
			" size: %d, command: '/x --port ${PORT}', routing: {balancer: edge, pool: p%05d}}\n",
			s, bumped && s % 10 == 0 ? "2" : "1", s % SQUADS, SIZE, s);
}

static int load(struct desired *d, const struct buf *y)
{
	struct source src;
	struct diags diags;
	int rc;

	source_init(&src);
	src.files.n = 0;
	/* one file over the loader's 4 MiB cap would be refused: split by lines */
	{
		const char *p = y->ptr;
		size_t part = 0;

		while (*p) {
			const char *end = p;
			size_t n = 0;
			char path[32];

			/* cut at a line that starts a list item, under 3 MiB */
			while (end[n] && n < ((size_t)3 << 20))
				n++;
			while (end[n] && !(end[n] == '\n' && end[n + 1] == ' ' &&
					   end[n + 2] == ' ' && end[n + 3] == '-'))
				n++;
			if (end[n])
				n++;
			snprintf(path, sizeof(path), "part%02zu.yaml", part++);
			if (part > 1) {
				struct buf b = BUF_INIT;

				buf_puts(&b, "swarms:\n");
				buf_add(&b, p, n);
				source_add(&src, path, b.ptr, b.len);
				buf_release(&b);
			} else {
				source_add(&src, path, p, n);
			}
			p += n;
		}
	}
	source_sort(&src);
	diags_init(&diags, 0);
	rc = desired_load(d, &src, &diags);
	if (rc < 0) {
		diags_sort(&diags);
		diags_print(&diags, stderr);
	}
	diags_release(&diags);
	source_release(&src);
	return rc;
}

/* Every swarm at its desired size, one instance per host of its squad, on
 * ports from 5000 up in swarm order. */
static void gen_live(struct live *l, const struct desired *cur)
{
	int *next_port = calloc(SQUADS * HOSTS_PER_SQUAD, sizeof(int));

	for (int q = 0; q < SQUADS; q++) {
		for (int h = 0; h < HOSTS_PER_SQUAD; h++) {
			struct live_host *lh = vec_add(&l->hosts);
			char name[16];

			snprintf(name, sizeof(name), "h%03d%02d", q, h);
			lh->name = lh->address = arena_strdup(&l->mem, name);
			lh->squad = "x";
			lh->reachable = true;
			lh->programs =
				arena_alloc(&l->mem, (SWARMS / SQUADS) * sizeof(*lh->programs));
			lh->procs = arena_alloc(&l->mem, (SWARMS / SQUADS) * sizeof(*lh->procs));
		}
	}
	for (size_t i = 0; i < cur->swarms.n; i++) {
		const struct swarm *s = &cur->swarms.v[i];
		int q = atoi(s->squad + 2);
		char rel[RELEASE_HEX + 1], name[128], port[16], pool[64];

		release_hash(rel, s);
		snprintf(pool, sizeof(pool), "edge/%s", s->routing.pool);
		for (int h = 0; h < HOSTS_PER_SQUAD; h++) {
			struct live_host *lh = &l->hosts.v[q * HOSTS_PER_SQUAD + h];
			struct live_program *p = &lh->programs[lh->nprograms++];
			struct live_process *pr = &lh->procs[lh->nprocs++];
			int po = 5000 + next_port[q * HOSTS_PER_SQUAD + h]++;
			const char *keys[] = {"app",	 "config", "proc", "squad",
					      "release", "port",   "pool"};
			const char *vals[7];

			snprintf(port, sizeof(port), "%d", po);
			snprintf(name, sizeof(name), "%s-%s-%s-%s-%s-%d", s->app, s->version,
				 s->config, rel, s->proc, po);
			vals[0] = s->app, vals[1] = s->config, vals[2] = s->proc,
			vals[3] = s->squad;
			vals[4] = rel, vals[5] = port, vals[6] = pool;
			p->name = arena_strdup(&l->mem, name);
			p->meta = arena_alloc(&l->mem, 7 * sizeof(*p->meta));
			for (int k = 0; k < 7; k++) {
				p->meta[k].key = keys[k];
				p->meta[k].value = arena_strdup(&l->mem, vals[k]);
			}
			p->nmeta = 7;
			pr->name = pr->group = p->name;
			pr->statename = "RUNNING";
			pr->state = PROC_RUNNING; /* the planner reads the state: 0 is STOPPED */
		}
	}
	free(next_port);
}

struct timing {
	double median, min, max;
};

/* One untimed plan (caches, the allocator's first growth), then RUNS timed. */
static struct timing time_plans(const struct desired *d, const struct live *l, size_t *starts,
				size_t *stops)
{
	double ms[RUNS];
	struct plan p;

	plan_build(&p, d, l);
	plan_release(&p);
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ms();

		plan_build(&p, d, l);
		ms[r] = now_ms() - t0;
		*starts = p.starts;
		*stops = p.stops;
		plan_release(&p);
	}
	qsort(ms, RUNS, sizeof(*ms), dbl_cmp);
	return (struct timing){ms[RUNS / 2], ms[0], ms[RUNS - 1]};
}

int main(void)
{
	struct buf y1 = BUF_INIT, y2 = BUF_INIT;
	struct desired steady, bumped;
	struct live live;
	struct rusage ru;
	size_t s1, t1, s2, t2, instances = 0;
	struct timing t_1, t_2;
	double rss_mb;

	gen_yaml(&y1, 0);
	gen_yaml(&y2, 1);
	if (load(&steady, &y1) < 0 || load(&bumped, &y2) < 0)
		return 2;
	desired_releases(&steady);
	desired_releases(&bumped);
	live_init(&live);
	gen_live(&live, &steady);
	for (size_t i = 0; i < live.hosts.n; i++)
		instances += live.hosts.v[i].nprograms;
	t_1 = time_plans(&steady, &live, &s1, &t1);
	t_2 = time_plans(&bumped, &live, &s2, &t2);
	getrusage(RUSAGE_SELF, &ru);
	rss_mb = ru.ru_maxrss / 1024.0;
	printf("## plan: 100,000 instances over 1,000 hosts\n\n"
	       "`plan_build` (the pure planner, no I/O) on %zu swarms and %zu live instances over %zu hosts, built by `tests/bench/bench_planner.c`; one warm-up, then the median of %d runs (wall time).\n\n"
	       "| case | median | min–max | actions | target | result |\n| --- | ---: | ---: | --- | --- | --- |\n"
	       "| steady state (all current) | %.1f ms | %.1f–%.1f ms | %zu starts, %zu stops | < 100 ms | %s |\n"
	       "| rollout (1 swarm in 10 has a new version) | %.1f ms | %.1f–%.1f ms | %zu starts, %zu stops | < 100 ms | %s |\n"
	       "| peak RSS of the whole process (both desired states, the live state, the plans) | %.1f MB | | | < 128 MB | %s |\n",
	       steady.swarms.n, instances, live.hosts.n, RUNS, t_1.median, t_1.min, t_1.max, s1, t1,
	       t_1.median < 100 ? "PASS" : "FAIL", t_2.median, t_2.min, t_2.max, s2, t2,
	       t_2.median < 100 ? "PASS" : "FAIL", rss_mb, rss_mb < 128 ? "PASS" : "FAIL");
	vec_release(&live.hosts);
	live_release(&live);
	desired_release(&steady);
	desired_release(&bumped);
	buf_release(&y1);
	buf_release(&y2);
	return t_1.median < 100 && t_2.median < 100 && rss_mb < 128 ? 0 : 1;
}

/*
 * The planner; see planner.h for its contract. The order of work:
 *  1. index the live state: every managed program on a reachable host with
 *     its identity from its metadata, the ports each host has taken;
 *  2. each desired swarm, in identity order: its instances on the reachable
 *     hosts of its squad are current (release matches) or stale; extra
 *     current ones are excess; instances on hosts that left the squad are
 *     orphans; the shortfall is placed and given ports;
 *  3. every instance no swarm claimed is an orphan, with its likely rename;
 *  4. pools: who is in each before and after;
 *  5. the mass-stop guard.
 * An instance in live->unchecked (an apply started it and was killed before
 * its check ended) is current in every count but gets a start that checks
 * it again: it is not routed, nor does it replace anything, before it passes.
 * A swarm that cannot be placed (no reachable host, ports exhausted) gets
 * an error note and no action at all, so its old instances keep serving.
 */
#include "planner.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "progname.h"
#include "release.h"
#include "strmap.h"
#include "banned.h"

static const char *const reason_words[REASON_COUNT] = {
	[REASON_NEW_SWARM] = "new swarm",
	[REASON_SCALE_UP] = "scale up",
	[REASON_NEW_RELEASE] = "new release",
	[REASON_REPLACE_UNREACHABLE] = "replacement for an unreachable host",
	[REASON_RESTART] = "not running in supervisord (stopped outside raptor): started again",
	[REASON_UNCHECKED] = "unchecked (started by an apply that did not finish)",
	[REASON_SCALE_DOWN] = "scale down",
	[REASON_STALE_RELEASE] = "stale release",
	[REASON_NOT_LOADED] = "never loaded by supervisord (an interrupted start)",
	[REASON_FATAL] = "FATAL in supervisord (it could not start): replaced",
	[REASON_ADOPTED] = "adopted from Velociraptor: replaced by a managed instance",
	[REASON_ORPHAN_APP] = "orphan: app changed",
	[REASON_ORPHAN_PROC] = "orphan: proc changed",
	[REASON_ORPHAN_CONFIG] = "orphan: config changed",
	[REASON_ORPHAN_SQUAD] = "orphan: squad changed",
	[REASON_ORPHAN_REMOVED] = "orphan: swarm removed",
	[REASON_ORPHAN_HOST_LEFT] = "orphan: host no longer in the squad",
	[REASON_ORPHAN_UNIDENTIFIED] = "orphan: no swarm identity in its metadata",
	[REASON_POOL_CHANGED] = "pool membership changes",
};

const char *plan_reason_text(enum plan_reason r)
{
	return r < REASON_COUNT ? reason_words[r] : "?";
}

const char *plan_class_text(enum plan_class c)
{
	static const char *const words[] = {"current", "stale", "excess", "orphan", "unmanaged"};
	return words[c];
}

const char *plan_op_text(enum plan_op op)
{
	static const char *const words[] = {"start", "stop", "route"};
	return words[op];
}

/* One managed program on a reachable host. */
struct inst {
	size_t host;
	const struct live_program *prog;
	const char *identity; /* NULL when the metadata does not say */
	struct range *range;
	const char *app, *config, *proc, *squad, *release, *pool;
	int port, slot;
	const char *node; /* address:port, made once when first needed */
	bool claimed;
	bool unchecked;			    /* started by an apply that never saw it healthy */
	const struct live_process *process; /* NULL: supervisord has not loaded it */
};

struct hstate {
	const struct live_host *live;
	unsigned char *ports; /* bit per port of c->port_first .. c->port_last: taken */
	int scan_first,
		scan_from;  /* in the range starting at scan_first, nothing free below scan_from */
	size_t load;	    /* managed instances, plus the starts planned so far */
	size_t address_len; /* of live->address, which begins each of its nodes (reachable) */
};

/* The instances of one identity: c->order[first .. first + n). */
struct range {
	const char *identity, *squad;
	size_t first, n, filled;
};

struct ctx {
	const struct desired *d;
	const struct live *l;
	struct plan *p;
	struct hstate *hosts;
	struct strmap host_by_name; /* name -> struct hstate * */
	VEC(struct inst) insts;
	size_t *order;		    /* instance indices grouped by identity */
	struct strmap by_identity;  /* identity -> struct range * */
	VEC(struct range *) ranges; /* in order of first appearance */
	struct strmap pools;	    /* "balancer/pool" -> index + 1 */
	struct strmap squads;	    /* squad -> size_t[2]: managed, vanished (the guard) */
	struct strmap squad_hosts;  /* squad -> struct squad_hosts *, built once per squad */
	struct strmap unchecked;    /* "host\nprogram" of live->unchecked */
	/* the span of the desired squads' port ranges: only those ports are
	 * ever looked for free, so a host's bitmap covers no others */
	int port_first, port_last;
	size_t vanished;
	struct arena tmp;
	struct buf b;
};

/* port is in the span: in a desired squad's range */
static bool port_taken(const struct ctx *c, const struct hstate *h, int port)
{
	unsigned bit = (unsigned)(port - c->port_first);

	return h->ports[bit >> 3] & (1u << (bit & 7));
}

static void take_port(const struct ctx *c, struct hstate *h, int port)
{
	unsigned bit = (unsigned)(port - c->port_first);

	if (port >= c->port_first && port <= c->port_last)
		h->ports[bit >> 3] |= (unsigned char)(1u << (bit & 7));
}

/* port is in the span: one a placement took */
static void free_port(const struct ctx *c, struct hstate *h, int port)
{
	unsigned bit = (unsigned)(port - c->port_first);

	h->ports[bit >> 3] &= (unsigned char)~(1u << (bit & 7));
	if (port < h->scan_from)
		h->scan_from = port;
}

static int parse_int(const char *s)
{
	unsigned v = 0;

	if (!s || !*s)
		return 0;
	/* one test a digit: a non-digit wraps to above 9; past 65535 it is no port */
	for (; *s; s++) {
		unsigned digit = (unsigned)(*s - '0');

		if (digit > 9 || (v = v * 10 + digit) > 65535)
			return 0;
	}
	return (int)v;
}

/* Gives the instance its identity string, shared by every instance of it. */
static void intern_identity(struct ctx *c, struct inst *in)
{
	struct range *r;

	if (!in->app || !in->config || !in->proc || !in->squad)
		return;
	buf_reset(&c->b);
	swarm_identity(&c->b, in->app, in->config, in->proc, in->squad);
	r = strmap_get(&c->by_identity, c->b.ptr);
	if (!r) {
		r = arena_alloc(&c->tmp, sizeof(*r));
		r->identity = arena_strndup(&c->p->mem, c->b.ptr, c->b.len);
		r->squad = in->squad;
		strmap_put(&c->by_identity, r->identity, r);
		vec_push(&c->ranges, r);
	}
	r->n++;
	in->identity = r->identity;
	in->range = r;
}

static void add_entry(struct ctx *c, const struct hstate *h, const char *program, enum plan_class k,
		      enum plan_reason cause, const char *swarm)
{
	struct plan_entry *e = vec_add(&c->p->entries);

	e->host = h->live->name;
	e->program = program;
	e->klass = k;
	e->cause = cause;
	e->swarm = swarm;
}

static void read_meta(struct inst *in, const struct live_program *lp)
{
	const char *port = NULL, *slot = NULL;

	/* one pass over the metadata, dispatching on the key's length, then
	 * comparing that many bytes (which the compiler does inline, where
	 * strcmp is a call): this runs for every key of every managed program */
	for (size_t i = 0; i < lp->nmeta; i++) {
		const char *k = lp->meta[i].key, *v = lp->meta[i].value;

		switch (strlen(k)) {
		case 3:
			if (!memcmp(k, "app", 3))
				in->app = v;
			break;
		case 4:
			if (!memcmp(k, "proc", 4))
				in->proc = v;
			else if (!memcmp(k, "port", 4))
				port = v;
			else if (!memcmp(k, "pool", 4))
				in->pool = *v ? v : NULL;
			else if (!memcmp(k, "slot", 4))
				slot = v;
			break;
		case 5:
			if (!memcmp(k, "squad", 5))
				in->squad = v;
			break;
		case 6:
			if (!memcmp(k, "config", 6))
				in->config = v;
			break;
		case 7:
			if (!memcmp(k, "release", 7))
				in->release = v;
			break;
		}
	}
	in->port = parse_int(port);
	in->slot = parse_int(slot);
}

/* A process of the host that is no managed program's. */
static void unmanaged(struct ctx *c, struct hstate *h, const char *group)
{
	/* a Velociraptor-style name holds its port */
	take_port(c, h, progname_port(group));
	add_entry(c, h, group, CLASS_UNMANAGED, REASON_COUNT, NULL);
	c->p->unmanaged++;
}

/* Pairs the host's programs (its instances from c->insts.v[first]) with
 * its processes: a program without one was never loaded by supervisord
 * (an apply interrupted between putProgram and addProcessGroup leaves
 * that), a process without one is unmanaged. supervisord lists processes
 * sorted by group and the plugin lists programs sorted by name, so one
 * merge walk does both; maps serve hosts that answer otherwise. */
static void match_processes(struct ctx *c, struct hstate *h, size_t first)
{
	const struct live_host *lh = h->live;
	struct strmap names = STRMAP_INIT, groups = STRMAP_INIT;
	bool sorted = true;
	size_t i = 0;

	for (size_t k = 1; k < lh->nprograms && sorted; k++)
		sorted = strcmp(lh->programs[k - 1].name, lh->programs[k].name) < 0;
	for (size_t k = 1; k < lh->nprocs && sorted; k++)
		sorted = strcmp(lh->procs[k - 1].group, lh->procs[k].group) <= 0;
	if (!sorted) {
		for (size_t k = 0; k < lh->nprograms; k++)
			strmap_put(&names, lh->programs[k].name, (void *)&lh->programs[k]);
		for (size_t k = 0; k < lh->nprocs; k++)
			strmap_put(&groups, lh->procs[k].group, (void *)&lh->procs[k]);
		for (size_t k = 0; k < lh->nprograms; k++)
			c->insts.v[first + k].process = strmap_get(&groups, lh->programs[k].name);
		for (size_t k = 0; k < lh->nprocs; k++)
			if (!strmap_get(&names, lh->procs[k].group))
				unmanaged(c, h, lh->procs[k].group);
		strmap_release(&names);
		strmap_release(&groups);
		return;
	}
	/* a program paired, the walk moves past it: the next process is most
	 * likely the next program's, one compare */
	for (size_t k = 0; k < lh->nprocs; k++) {
		const char *group = lh->procs[k].group;
		int cmp = -1;

		while (i < lh->nprograms && (cmp = strcmp(lh->programs[i].name, group)) < 0)
			i++;
		if (!cmp)
			c->insts.v[first + i++].process = &lh->procs[k];
		else if (!i || strcmp(lh->programs[i - 1].name, group))
			unmanaged(c, h, group);
		/* else a second process of the group just paired: its program
		 * keeps the first */
	}
}

/* The key of an instance in the map of unchecked ones (in c->b). */
static const char *unchecked_key(struct ctx *c, const char *host, const char *program)
{
	buf_reset(&c->b);
	buf_puts(&c->b, host);
	buf_putc(&c->b, '\n');
	buf_puts(&c->b, program);
	return c->b.ptr;
}

/* 1. The live state, indexed. */
static void index_host(struct ctx *c, size_t hi)
{
	struct hstate *h = &c->hosts[hi];
	const struct live_host *lh = h->live;

	h->ports = arena_alloc(&c->tmp, c->port_first <= c->port_last
						? (size_t)(c->port_last - c->port_first) / 8 + 1
						: 1);
	h->address_len = strlen(lh->address);
	for (size_t i = 0; i < lh->nports; i++)
		take_port(c, h, lh->ports[i]);
	for (size_t i = 0; i < lh->nprograms; i++) {
		const struct live_program *lp = &lh->programs[i];
		struct inst *in = vec_add(&c->insts);

		in->host = hi;
		in->prog = lp;
		in->unchecked = c->unchecked.n &&
				strmap_get(&c->unchecked, unchecked_key(c, lh->name, lp->name));
		read_meta(in, lp);
		intern_identity(c, in);
		take_port(c, h, in->port);
		h->load++;
		c->p->managed++;
	}
	match_processes(c, h, c->insts.n - lh->nprograms);
}

/* Lays the instances out grouped by identity (no sort: each group keeps
 * the live state's order, hosts as asked and programs as listed). */
static void index_identities(struct ctx *c)
{
	size_t n = c->insts.n, next = 0, tail;

	c->order = arena_alloc(&c->tmp, (n ? n : 1) * sizeof(*c->order));
	for (size_t i = 0; i < c->ranges.n; i++) {
		c->ranges.v[i]->first = next;
		next += c->ranges.v[i]->n;
	}
	tail = next;
	/* the guard's count of managed instances per squad, one lookup per identity */
	for (size_t i = 0; i < c->ranges.n; i++) {
		const struct range *r = c->ranges.v[i];
		size_t *counts = strmap_get(&c->squads, r->squad);

		if (!counts) {
			counts = arena_alloc(&c->tmp, 2 * sizeof(*counts));
			strmap_put(&c->squads, r->squad, counts);
		}
		counts[0] += r->n;
	}
	for (size_t i = 0; i < n; i++) {
		struct range *r = c->insts.v[i].range;

		if (r)
			c->order[r->first + r->filled++] = i;
		else
			c->order[tail++] = i; /* unidentified: swept as orphans */
	}
}

/* 4. Pools: the entry for the key "balancer/pool", created on first sight. */
static struct plan_pool *pool_by_key(struct ctx *c, const char *key)
{
	size_t idx = (size_t)(uintptr_t)strmap_get(&c->pools, key);
	const char *slash = strchr(key, '/');
	struct plan_pool *pp;
	char *copy;

	if (idx)
		return &c->p->pools.v[idx - 1];
	copy = arena_strdup(&c->p->mem, key);
	pp = vec_add(&c->p->pools);
	pp->balancer = arena_strndup(&c->p->mem, key, (size_t)(slash - key));
	pp->pool = copy + (slash - key) + 1;
	strmap_put(&c->pools, copy, (void *)(uintptr_t)c->p->pools.n);
	return pp;
}

static struct plan_pool *pool_of(struct ctx *c, const char *balancer, const char *pool)
{
	buf_reset(&c->b);
	buf_puts(&c->b, balancer);
	buf_putc(&c->b, '/');
	buf_puts(&c->b, pool);
	return pool_by_key(c, c->b.ptr);
}

static const char *node(struct ctx *c, const struct hstate *h, int port)
{
	size_t alen = h->address_len, digits = 1;
	unsigned rest = (unsigned)port; /* never negative; unsigned divides by 10 in fewer steps */
	char *out, *p;

	/* address:port, written by hand in its exact size: this runs once per
	 * routed instance */
	for (unsigned v = rest; v >= 10; v /= 10)
		digits++;
	out = arena_alloc_raw(&c->p->mem, alen + 1 + digits + 1);
	memcpy(out, h->live->address, alen);
	out[alen] = ':';
	p = out + alen + 1 + digits;
	*p = '\0';
	do {
		*--p = (char)('0' + rest % 10);
		rest /= 10;
	} while (rest);
	return out;
}

/* The instance's node, made once: a routed one is in its pool's before and
 * after lists, and an excess choice may ask whether it serves. */
static const char *inst_node(struct ctx *c, const struct inst *in)
{
	struct inst *mine = &c->insts.v[in - c->insts.v]; /* the context's own, to cache in */

	if (!mine->node)
		mine->node = node(c, &c->hosts[in->host], in->port);
	return mine->node;
}

static bool pools_read(const struct ctx *c, const char *balancer, size_t len)
{
	for (size_t i = 0; i < c->l->pool_balancers.n; i++)
		if (strlen(c->l->pool_balancers.v[i]) == len &&
		    !strncmp(c->l->pool_balancers.v[i], balancer, len))
			return true;
	return false;
}

/* The pool file of "balancer/pool" as it is, or NULL (none, or not read). */
static const struct live_pool *live_pool_of(const struct ctx *c, const char *key)
{
	const char *slash = strchr(key, '/');

	for (size_t i = 0; slash && i < c->l->pools.n; i++) {
		const struct live_pool *lp = &c->l->pools.v[i];

		if (strlen(lp->balancer) == (size_t)(slash - key) &&
		    !strncmp(lp->balancer, key, (size_t)(slash - key)) &&
		    !strcmp(lp->pool, slash + 1))
			return lp;
	}
	return NULL;
}

/* Whether an instance serves now: its node is in its pool's file. Without
 * the file (unrouted, or a balancer not read here) every instance counts as
 * serving. */
static bool serving(struct ctx *c, const struct inst *in)
{
	const struct live_pool *lp;
	const char *n;

	if (!in->pool || !in->port || !strchr(in->pool, '/') ||
	    !pools_read(c, in->pool, (size_t)(strchr(in->pool, '/') - in->pool)))
		return true;
	lp = live_pool_of(c, in->pool);
	if (!lp)
		return false;
	n = inst_node(c, in);
	for (size_t i = 0; i < lp->n; i++)
		if (!strcmp(lp->nodes[i], n))
			return true;
	return false;
}

static struct plan_action *add_action(struct ctx *c, enum plan_op op, enum plan_reason why,
				      const char *swarm, const struct hstate *h)
{
	struct plan_action *a = vec_add(&c->p->actions);

	a->op = op;
	a->reason = why;
	a->swarm = swarm;
	if (h) {
		a->host = h->live->name;
		a->address = h->live->address;
	}
	return a;
}

static void stop_inst(struct ctx *c, struct inst *in, enum plan_class k, enum plan_reason why,
		      const struct swarm *renamed_to)
{
	const char *hint = NULL;
	const struct hstate *h = &c->hosts[in->host];
	struct plan_action *a = add_action(c, PLAN_STOP, why, in->identity, h);

	a->program = in->prog->name;
	a->port = in->port;
	a->slot = in->slot;
	a->release = in->release;
	if (renamed_to) {
		buf_reset(&c->b);
		buf_puts(&c->b, "likely renamed to ");
		buf_puts(&c->b, renamed_to->identity);
		hint = arena_strndup(&c->p->mem, c->b.ptr, c->b.len);
		a->renamed_to = renamed_to->identity;
	}
	a->hint = hint;
	if (in->pool) {
		const char *slash = strchr(in->pool, '/');

		if (slash) {
			a->balancer =
				arena_strndup(&c->p->mem, in->pool, (size_t)(slash - in->pool));
			a->pool = slash + 1;
		}
	}
	in->claimed = true;
	add_entry(c, h, in->prog->name, k, why, in->identity);
}

/* One placement made for a swarm, kept so that a failure can undo it. */
struct placed {
	struct hstate *h;
	int port;
};

struct swarm_work {
	const struct swarm *s;
	const struct squad *q;
	const char *release;
	struct hstate **hosts; /* the squad's reachable hosts */
	size_t *count;	       /* instances of this swarm per squad host */
	size_t nhosts, unreachable;
	VEC(struct placed) placed;
};

/* Ports are only taken while a plan is made (and freed only to undo a
 * swarm), so the scan resumes where the last one found the range full. */
static int lowest_port(const struct ctx *c, struct hstate *h, const struct port_range *r)
{
	int p = h->scan_first == r->first && h->scan_from > r->first ? h->scan_from : r->first;

	h->scan_first = r->first;
	for (; p <= r->last; p++) {
		if (!port_taken(c, h, p)) {
			h->scan_from = p;
			return p;
		}
	}
	h->scan_from = p;
	return 0;
}

/* The slot a new worker gets: the lowest not held by any instance of the
 * swarm on that host, whatever its release, nor planned. */
static int free_slot(struct ctx *c, const struct range *r, const struct swarm_work *w,
		     const struct hstate *h)
{
	for (int slot = 1;; slot++) {
		bool used = false;

		for (size_t i = 0; r && i < r->n && !used; i++) {
			const struct inst *in = &c->insts.v[c->order[r->first + i]];
			used = &c->hosts[in->host] == h && in->slot == slot;
		}
		for (size_t i = 0; i < w->placed.n && !used; i++)
			used = w->placed.v[i].h == h && w->placed.v[i].port == -slot;
		if (!used)
			return slot;
	}
}

/* Fewest instances of the swarm, then fewest overall, then by name; a
 * host with no free port is passed over. */
static int place(struct ctx *c, struct swarm_work *w, const struct range *r, struct hstate **out,
		 int *port, int *slot)
{
	size_t best = SIZE_MAX;

	for (size_t j = 0; j < w->nhosts; j++) {
		struct hstate *h = w->hosts[j];
		struct hstate *b = best == SIZE_MAX ? NULL : w->hosts[best];

		if (w->s->port == PORT_AUTO && !lowest_port(c, h, &w->q->ports))
			continue;
		if (!b || w->count[j] < w->count[best] ||
		    (w->count[j] == w->count[best] &&
		     (h->load < b->load ||
		      (h->load == b->load && strcmp(h->live->name, b->live->name) < 0))))
			best = j;
	}
	if (best == SIZE_MAX)
		return -1;
	*out = w->hosts[best];
	w->count[best]++;
	(*out)->load++;
	if (w->s->port == PORT_AUTO) {
		*port = lowest_port(c, *out, &w->q->ports);
		*slot = 0;
		take_port(c, *out, *port);
		vec_push(&w->placed, ((struct placed){*out, *port}));
	} else {
		*port = 0;
		*slot = free_slot(c, r, w, *out);
		vec_push(&w->placed, ((struct placed){*out, -*slot}));
	}
	return 0;
}

static void unplace(const struct ctx *c, struct swarm_work *w)
{
	for (size_t i = 0; i < w->placed.n; i++) {
		w->placed.v[i].h->load--;
		if (w->placed.v[i].port > 0)
			free_port(c, w->placed.v[i].h, w->placed.v[i].port);
	}
	w->placed.n = 0;
}

static void note(struct ctx *c, const char *swarm, bool error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void note(struct ctx *c, const char *swarm, bool error, const char *fmt, ...)
{
	struct plan_note *n = vec_add(&c->p->notes);
	va_list ap;

	buf_reset(&c->b);
	va_start(ap, fmt);
	buf_vprintf(&c->b, fmt, ap);
	va_end(ap);
	n->swarm = swarm;
	n->text = arena_strndup(&c->p->mem, c->b.ptr, c->b.len);
	n->error = error;
	c->p->errors += error;
}

static enum plan_reason start_reason(size_t k, size_t cur, size_t stale, size_t unreachable)
{
	if (k < stale)
		return REASON_NEW_RELEASE;
	if (unreachable)
		return REASON_REPLACE_UNREACHABLE;
	return cur || stale ? REASON_SCALE_UP : REASON_NEW_SWARM;
}

static void start_one(struct ctx *c, struct swarm_work *w, struct hstate *h, int port, int slot,
		      enum plan_reason why)
{
	const struct swarm *s = w->s;
	struct plan_action *a = add_action(c, PLAN_START, why, s->identity, h);

	buf_reset(&c->b);
	progname_format(&c->b, s->app, s->version, s->config, w->release, s->proc,
			port ? port : slot);
	a->program = arena_strndup(&c->p->mem, c->b.ptr, c->b.len);
	a->port = port;
	a->slot = slot;
	a->release = w->release;
	a->desired = s;
	if (s->routed) {
		a->balancer = s->routing.balancer;
		a->pool = s->routing.pool;
	}
}

/* Drift (DESIGN.md §5, the reconcile loop heals it): a current instance
 * stopped by hand, or exited for good, is started again where it is, on its
 * own port, so its pool does not change. One supervisord gave up on (FATAL)
 * is replaced instead: its port or its host is the likelier culprit. */
static bool proc_stopped(const struct live_process *p)
{
	return p && (p->state == PROC_STOPPED || p->state == PROC_EXITED);
}

static bool proc_gave_up(const struct live_process *p)
{
	return p && (p->state == PROC_FATAL || p->state == PROC_UNKNOWN);
}

/* A start of an instance that exists: `restart` starts its process again
 * (it is stopped); an unchecked one is checked like a new instance, whether
 * it runs already or is started again here. */
static void start_existing(struct ctx *c, struct swarm_work *w, const struct inst *in, bool restart)
{
	const struct swarm *s = w->s;
	struct plan_action *a =
		add_action(c, PLAN_START, in->unchecked ? REASON_UNCHECKED : REASON_RESTART,
			   s->identity, &c->hosts[in->host]);

	a->program = in->prog->name;
	a->port = in->port;
	a->slot = in->slot;
	a->release = w->release;
	a->desired = s;
	a->restart = restart;
	a->recheck = in->unchecked;
	if (s->routed) {
		a->balancer = s->routing.balancer;
		a->pool = s->routing.pool;
	}
}

/* adopt: velociraptor. The programs Velociraptor deployed for this swarm
 * (its six-field name with the swarm's app, config and proc, on a reachable
 * host of the squad) count as its stale instances: replaced like an old
 * release, then stopped and their files moved aside. Until then they hold
 * their ports and stay in the swarm's pool. */
static size_t adopt(struct ctx *c, struct swarm_work *w)
{
	const struct swarm *s = w->s;
	size_t n = 0, nentries = c->p->entries.n;

	for (size_t i = 0; i < nentries; i++) {
		struct plan_entry *e = &c->p->entries.v[i];
		struct hstate *h;
		struct progname pn;
		struct plan_action *a;
		bool ours;
		size_t j;

		if (e->klass != CLASS_UNMANAGED || !(h = strmap_get(&c->host_by_name, e->host)))
			continue;
		for (j = 0; j < w->nhosts && w->hosts[j] != h; j++)
			;
		if (j == w->nhosts || progname_parse(&pn, e->program) < 0)
			continue;
		ours = !strcmp(pn.app, s->app) && !strcmp(pn.config, s->config) &&
		       !strcmp(pn.proc, s->proc);
		if (ours) {
			a = add_action(c, PLAN_STOP, REASON_ADOPTED, s->identity, h);
			a->program = e->program;
			a->release = arena_strdup(&c->p->mem, pn.release);
			a->adopted = true;
			if (s->port == PORT_AUTO)
				a->port = pn.port;
			if (s->routed && a->port) {
				a->balancer = s->routing.balancer;
				a->pool = s->routing.pool;
			}
			e->klass = CLASS_STALE;
			e->cause = REASON_ADOPTED;
			e->swarm = s->identity;
			c->p->unmanaged--;
			n++;
		}
		progname_release(&pn);
	}
	return n;
}

/* The pool members a swarm has now, kept as they are when nothing may
 * change for it (on_unreachable: wait, or it cannot be placed). */
static void keep_pool(struct ctx *c, const struct range *r, struct plan_pool *pool, size_t from)
{
	const char *key;

	if (!pool)
		return;
	/* with its file read, the pool stays exactly as it is: its members on
	 * unreachable hosts may still be serving */
	pool->frozen = true;
	pool->after.n = from;
	buf_reset(&c->b);
	buf_printf(&c->b, "%s/%s", pool->balancer, pool->pool);
	key = arena_strndup(&c->tmp, c->b.ptr, c->b.len);
	for (size_t i = 0; r && i < r->n; i++) {
		const struct inst *in = &c->insts.v[c->order[r->first + i]];

		/* an unchecked instance is not routed before its check passes */
		if (in->port && in->pool && !in->unchecked && !strcmp(in->pool, key))
			vec_push(&pool->after, inst_node(c, in));
	}
}

/* A squad's hosts as the planner sees them, looked up once per squad. */
struct squad_hosts {
	struct hstate **reachable;
	size_t nreachable, unreachable, listed;
};

static const struct squad_hosts *squad_hosts_of(struct ctx *c, const struct squad *q)
{
	struct squad_hosts *sh = strmap_get(&c->squad_hosts, q->name);

	if (sh)
		return sh;
	sh = arena_alloc(&c->tmp, sizeof(*sh));
	sh->reachable = arena_alloc(&c->tmp, (q->nhosts ? q->nhosts : 1) * sizeof(*sh->reachable));
	for (size_t j = 0; j < q->nhosts; j++) {
		struct hstate *h = strmap_get(&c->host_by_name, q->hosts[j].name);

		if (!h)
			continue; /* not asked: another --squad */
		sh->listed++;
		if (h->live->reachable)
			sh->reachable[sh->nreachable++] = h;
		else
			sh->unreachable++;
	}
	strmap_put(&c->squad_hosts, q->name, sh);
	return sh;
}

enum role { ROLE_OUT, ROLE_STALE, ROLE_KEEP, ROLE_EXCESS, ROLE_NOT_LOADED, ROLE_FATAL };

/* How an instance is classified when its swarm gets no action at all. */
static void entry_as_is(struct ctx *c, const struct inst *in, enum role role, const char *swarm)
{
	static const enum plan_class klass[] = {CLASS_ORPHAN,  CLASS_STALE, CLASS_CURRENT,
						CLASS_CURRENT, CLASS_STALE, CLASS_STALE};
	static const enum plan_reason cause[] = {
		REASON_ORPHAN_HOST_LEFT, REASON_STALE_RELEASE, REASON_COUNT, REASON_COUNT,
		REASON_NOT_LOADED,	 REASON_FATAL};

	add_entry(c, &c->hosts[in->host], in->prog->name, klass[role], cause[role], swarm);
}

/* 2. One desired swarm. */
static void plan_swarm(struct ctx *c, const struct swarm *s)
{
	struct swarm_work w = {.s = s, .q = desired_squad(c->d, s->squad)};
	const struct range *r = strmap_get(&c->by_identity, s->identity);
	size_t actions_before = c->p->actions.n, entries_before = c->p->entries.n;
	size_t cur = 0, stale = 0, deficit, pool_from = 0, n = r ? r->n : 0;
	struct plan_pool *pool = NULL;
	enum role *role;
	size_t *at; /* each instance's index in w.hosts */

	if (!w.q)
		return;
	if (s->release[0]) {
		w.release = s->release;
	} else {
		/* not filled by desired_releases(): hash it here */
		char *rel = arena_alloc(&c->p->mem, RELEASE_HEX + 1);

		release_hash(rel, s);
		w.release = rel;
	}
	{
		const struct squad_hosts *sh = squad_hosts_of(c, w.q);

		if (!sh->listed)
			return;
		w.hosts = sh->reachable;
		w.nhosts = sh->nreachable;
		w.unreachable = sh->unreachable;
		w.count = arena_alloc(&c->tmp, (w.nhosts ? w.nhosts : 1) * sizeof(*w.count));
	}
	if (s->routed) {
		pool = pool_of(c, s->routing.balancer, s->routing.pool);
		pool_from = pool->after.n;
		/* what it keeps and what it starts come to its size */
		vec_reserve(&pool->after, pool_from + (size_t)s->size);
	}

	/* each instance of the identity: out of the squad, stale, or current */
	role = arena_alloc(&c->tmp, (n ? n : 1) * sizeof(*role));
	at = arena_alloc(&c->tmp, (n ? n : 1) * sizeof(*at));
	for (size_t i = 0; i < n; i++) {
		struct inst *in = &c->insts.v[c->order[r->first + i]];
		size_t j;

		in->claimed = true;
		for (j = 0; j < w.nhosts && w.hosts[j] != &c->hosts[in->host]; j++)
			;
		at[i] = j;
		if (j == w.nhosts) {
			role[i] = ROLE_OUT;
		} else if (in->release && !strcmp(in->release, w.release) && !in->process) {
			role[i] = ROLE_NOT_LOADED; /* replaced, not trusted */
			stale++;
		} else if (in->release && !strcmp(in->release, w.release) &&
			   proc_gave_up(in->process)) {
			role[i] = ROLE_FATAL; /* a fresh instance, on a fresh port, may do better */
			stale++;
		} else if (in->release && !strcmp(in->release, w.release)) {
			role[i] = ROLE_KEEP;
			cur++;
			w.count[j]++;
		} else {
			role[i] = ROLE_STALE;
			stale++;
		}
	}
	if (w.unreachable && w.q->on_unreachable == ON_UNREACHABLE_WAIT) {
		note(c, s->identity, false,
		     "%zu host%s of squad %s unreachable and on_unreachable is wait: nothing is planned for this swarm until %s",
		     w.unreachable, w.unreachable == 1 ? "" : "s", w.q->name,
		     w.unreachable == 1 ? "it answers" : "they answer");
		for (size_t i = 0; i < n; i++)
			entry_as_is(c, &c->insts.v[c->order[r->first + i]], role[i], s->identity);
		keep_pool(c, r, pool, pool_from);
		goto cleanup;
	}

	/* too many current: first those never checked or not serving (a host
	 * that came back: its instance left the pool while it was away, and its
	 * replacement has been checked and serves); then on the hosts holding
	 * the most, highest port first */
	for (size_t excess = cur > (size_t)s->size ? cur - (size_t)s->size : 0; excess; excess--) {
		size_t best = SIZE_MAX, victim = SIZE_MAX;

		for (size_t i = 0; i < n && victim == SIZE_MAX; i++)
			if (role[i] == ROLE_KEEP &&
			    (c->insts.v[c->order[r->first + i]].unchecked ||
			     !serving(c, &c->insts.v[c->order[r->first + i]])))
				victim = i;
		if (victim != SIZE_MAX) {
			role[victim] = ROLE_EXCESS;
			w.count[at[victim]]--;
			cur--;
			continue;
		}
		for (size_t j = 0; j < w.nhosts; j++)
			if (w.count[j] && (best == SIZE_MAX || w.count[j] >= w.count[best]))
				best = j;
		for (size_t i = 0; i < n; i++) {
			const struct inst *in = &c->insts.v[c->order[r->first + i]];

			if (role[i] == ROLE_KEEP && at[i] == best &&
			    (victim == SIZE_MAX ||
			     in->port + in->slot >=
				     c->insts.v[c->order[r->first + victim]].port +
					     c->insts.v[c->order[r->first + victim]].slot))
				victim = i;
		}
		role[victim] = ROLE_EXCESS;
		w.count[best]--;
		cur--;
	}
	for (size_t i = 0; i < n; i++) {
		struct inst *in = &c->insts.v[c->order[r->first + i]];
		struct hstate *h = &c->hosts[in->host];

		switch (role[i]) {
		case ROLE_OUT:
			stop_inst(c, in, CLASS_ORPHAN, REASON_ORPHAN_HOST_LEFT, NULL);
			break;
		case ROLE_STALE:
			stop_inst(c, in, CLASS_STALE, REASON_STALE_RELEASE, NULL);
			break;
		case ROLE_NOT_LOADED:
			stop_inst(c, in, CLASS_STALE, REASON_NOT_LOADED, NULL);
			break;
		case ROLE_FATAL:
			stop_inst(c, in, CLASS_STALE, REASON_FATAL, NULL);
			break;
		case ROLE_EXCESS:
			h->load--;
			stop_inst(c, in, CLASS_EXCESS, REASON_SCALE_DOWN, NULL);
			break;
		case ROLE_KEEP:
			add_entry(c, h, in->prog->name, CLASS_CURRENT, REASON_COUNT, s->identity);
			if (pool && in->port)
				vec_push(&pool->after, inst_node(c, in));
			if (proc_stopped(in->process) || in->unchecked)
				start_existing(c, &w, in, proc_stopped(in->process));
			break;
		}
	}
	if (s->adopt == ADOPT_VELOCIRAPTOR)
		stale += adopt(c, &w);
	deficit = (size_t)s->size - cur;
	for (size_t k = 0; k < deficit; k++) {
		struct hstate *h;
		int port, slot;

		if (place(c, &w, r, &h, &port, &slot) < 0) {
			if (!w.nhosts)
				note(c, s->identity, true,
				     "no reachable host in squad %s: %zu instance%s cannot be placed",
				     w.q->name, deficit, deficit == 1 ? "" : "s");
			else
				note(c, s->identity, true,
				     "port range %d-%d is exhausted on every reachable host of squad %s: %zu instance%s cannot be placed",
				     w.q->ports.first, w.q->ports.last, w.q->name, deficit - k,
				     deficit - k == 1 ? "" : "s");
			/* nothing for this swarm: its old instances keep serving */
			unplace(c, &w);
			for (size_t i = 0; i < n; i++)
				if (role[i] == ROLE_EXCESS)
					c->hosts[c->insts.v[c->order[r->first + i]].host].load++;
			c->p->actions.n = actions_before;
			c->p->entries.n = entries_before;
			for (size_t i = 0; i < n; i++)
				entry_as_is(c, &c->insts.v[c->order[r->first + i]], role[i],
					    s->identity);
			keep_pool(c, r, pool, pool_from);
			goto cleanup;
		}
		start_one(c, &w, h, port, slot, start_reason(k, cur, stale, w.unreachable));
		if (pool && port)
			vec_push(&pool->after, node(c, h, port));
	}
cleanup:
	vec_release(&w.placed);
}

/* 3. Orphans: what no desired swarm claimed. The likely rename is a desired
 * swarm still short of its size (new, or half rolled out when a previous
 * apply stopped) that differs from the orphan's identity in exactly one
 * field; a swarm already running at full size is not what an orphan was
 * renamed to, so deleting a swarm beside a similar one reads as a removal. */
static const char *blank_key(struct buf *b, int field, const char *app, const char *config,
			     const char *proc, const char *squad)
{
	buf_reset(b);
	swarm_identity(b, field == 0 ? "*" : app, field == 2 ? "*" : config,
		       field == 1 ? "*" : proc, field == 3 ? "*" : squad);
	return b->ptr;
}

static void sweep_orphans(struct ctx *c)
{
	static const enum plan_reason causes[] = {REASON_ORPHAN_APP, REASON_ORPHAN_PROC,
						  REASON_ORPHAN_CONFIG, REASON_ORPHAN_SQUAD};
	struct strmap near[4] = {STRMAP_INIT, STRMAP_INIT, STRMAP_INIT, STRMAP_INIT};
	struct buf key = BUF_INIT;

	for (size_t i = 0; i < c->d->swarms.n; i++) {
		const struct swarm *s = &c->d->swarms.v[i];

		const struct range *r = strmap_get(&c->by_identity, s->identity);

		if (r && r->n >= (size_t)s->size)
			continue;
		for (int f = 0; f < 4; f++)
			strmap_put(&near[f],
				   arena_strdup(&c->tmp, blank_key(&key, f, s->app, s->config,
								   s->proc, s->squad)),
				   (void *)s);
	}
	for (size_t i = 0; i < c->insts.n; i++) {
		struct inst *in = &c->insts.v[c->order[i]];
		enum plan_reason why = REASON_ORPHAN_REMOVED;
		const struct swarm *renamed = NULL;

		if (in->claimed)
			continue;
		if (!in->identity) {
			stop_inst(c, in, CLASS_ORPHAN, REASON_ORPHAN_UNIDENTIFIED, NULL);
			continue;
		}
		if (desired_has(c->d, in->identity)) {
			/* its swarm was not planned here (another --squad): left alone */
			continue;
		}
		for (int f = 0; f < 4; f++) {
			const struct swarm *s =
				strmap_get(&near[f], blank_key(&key, f, in->app, in->config,
							       in->proc, in->squad));

			if (s) {
				why = causes[f];
				renamed = s;
				break;
			}
		}
		stop_inst(c, in, CLASS_ORPHAN, why, renamed);
		if (why == REASON_ORPHAN_REMOVED) {
			c->vanished++;
			if (in->squad)
				((size_t *)strmap_get(&c->squads, in->squad))[1]++;
		}
	}
	for (int f = 0; f < 4; f++)
		strmap_release(&near[f]);
	buf_release(&key);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A pool's nodes in order. Most pools are small and their nodes come
 * nearly sorted (hosts in order), where an insertion sort is a pass of
 * comparisons; qsort's set-up cost more than the sorting in a big plan. */
static void sort_nodes(const char **v, size_t n)
{
	if (n > 32) {
		qsort(v, n, sizeof(*v), str_cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		const char *x = v[i];
		size_t j = i;

		for (; j && strcmp(v[j - 1], x) > 0; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

static void finish_pools(struct ctx *c)
{
	const char *last_key = NULL;
	struct plan_pool *last = NULL;

	/* who is in each pool now: its file, where it was read; a file that no
	 * swarm routes to any more gets a pool with no one after, so that it goes */
	for (size_t i = 0; i < c->l->pools.n; i++) {
		const struct live_pool *lp = &c->l->pools.v[i];
		struct plan_pool *pp = pool_of(c, lp->balancer, lp->pool);

		vec_reserve(&pp->before, pp->before.n + lp->n);
		for (size_t j = 0; j < lp->n; j++)
			vec_push(&pp->before, lp->nodes[j]);
	}
	/* elsewhere every reachable instance that says so; the instances of one
	 * identity share a pool, so the last one is kept */
	for (size_t i = 0; i < c->insts.n; i++) {
		const struct inst *in = &c->insts.v[c->order[i]];

		if (!in->pool || !strchr(in->pool, '/') || !in->port ||
		    pools_read(c, in->pool, (size_t)(strchr(in->pool, '/') - in->pool)))
			continue;
		if (!last_key || strcmp(last_key, in->pool)) {
			last = pool_by_key(c, in->pool);
			last_key = in->pool;
			/* room for the rest of its identity, which likely follows */
			vec_reserve(&last->before, last->before.n + (in->range ? in->range->n : 1));
		}
		vec_push(&last->before, inst_node(c, in));
	}
	for (size_t i = 0; i < c->p->pools.n; i++) {
		struct plan_pool *pp = &c->p->pools.v[i];
		struct plan_action *a;

		if (pp->frozen && pools_read(c, pp->balancer, strlen(pp->balancer))) {
			pp->after.n = 0;
			for (size_t j = 0; j < pp->before.n; j++)
				vec_push(&pp->after, pp->before.v[j]);
		}
		sort_nodes(pp->before.v, pp->before.n);
		sort_nodes(pp->after.v, pp->after.n);
		pp->changed = pp->before.n != pp->after.n;
		/* an instance's node is one string in both lists: equal pointers
		 * need no compare */
		for (size_t j = 0; !pp->changed && j < pp->after.n; j++)
			pp->changed = pp->before.v[j] != pp->after.v[j] &&
				      strcmp(pp->before.v[j], pp->after.v[j]) != 0;
		if (!pp->changed)
			continue;
		a = add_action(c, PLAN_ROUTE, REASON_POOL_CHANGED, NULL, NULL);
		a->balancer = pp->balancer;
		a->pool = pp->pool;
	}
}

/* 5. The mass-stop guard (DESIGN.md §5): losing instances that nothing
 * replaces and nothing asked to remove by name. */
static void guard(struct ctx *c)
{
	buf_reset(&c->b);
	if (!c->d->swarms.n && c->p->managed) {
		buf_puts(
			&c->b,
			"the desired state has no swarms at all while managed instances run: a wrong path or branch?");
	} else if (c->vanished && c->vanished * 2 > c->p->managed) {
		buf_printf(
			&c->b,
			"%zu of %zu managed instances would stop because their swarms vanished from the desired state",
			c->vanished, c->p->managed);
	} else {
		const char *squad = NULL;
		size_t managed = 0;

		/* the first such squad by name: the map's order is its hash's */
		for (size_t i = 0; i < c->squads.alloc; i++) {
			const char *name = c->squads.slots[i].key;
			const size_t *n = c->squads.slots[i].value;

			if (n && n[0] && n[1] == n[0] && (!squad || strcmp(name, squad) < 0)) {
				squad = name;
				managed = n[0];
			}
		}
		if (squad)
			buf_printf(
				&c->b,
				"every managed instance of squad %s (%zu) would stop because their swarms vanished from the desired state",
				squad, managed);
	}
	if (c->b.len) {
		c->p->guard_tripped = true;
		c->p->guard_reason = arena_strndup(&c->p->mem, c->b.ptr, c->b.len);
	}
}

static void count(struct plan *p)
{
	for (size_t i = 0; i < p->actions.n; i++) {
		p->starts += p->actions.v[i].op == PLAN_START;
		p->stops += p->actions.v[i].op == PLAN_STOP;
		p->routes += p->actions.v[i].op == PLAN_ROUTE;
	}
}

/* What is known before any instance is read: the span of the desired
 * squads' port ranges (the only ports ever looked for free, so the hosts'
 * bitmaps cover no others) and how many instances the reachable hosts hold. */
static void size_up(struct ctx *c)
{
	size_t ninsts = 0;

	c->port_first = 1; /* none: an empty span */
	c->port_last = 0;
	for (size_t i = 0; i < c->d->squads.n; i++) {
		const struct port_range *r = &c->d->squads.v[i].ports;

		if (!i || r->first < c->port_first)
			c->port_first = r->first;
		if (!i || r->last > c->port_last)
			c->port_last = r->last;
	}
	for (size_t i = 0; i < c->l->hosts.n; i++)
		if (c->l->hosts.v[i].reachable)
			ninsts += c->l->hosts.v[i].nprograms;
	vec_reserve(&c->insts, ninsts);
}

void plan_build(struct plan *out, const struct desired *d, const struct live *l)
{
	struct ctx c = {.d = d, .l = l, .p = out};

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < l->unchecked.n; i++)
		strmap_put(&c.unchecked,
			   arena_strdup(&c.tmp, unchecked_key(&c, l->unchecked.v[i].host,
							      l->unchecked.v[i].program)),
			   (void *)&l->unchecked.v[i]);
	c.hosts = arena_alloc(&c.tmp, (l->hosts.n ? l->hosts.n : 1) * sizeof(*c.hosts));
	size_up(&c);
	for (size_t i = 0; i < l->hosts.n; i++) {
		c.hosts[i].live = &l->hosts.v[i];
		strmap_put(&c.host_by_name, l->hosts.v[i].name, &c.hosts[i]);
		if (l->hosts.v[i].reachable)
			index_host(&c, i);
	}
	index_identities(&c);
	vec_reserve(&out->entries, c.insts.n + out->unmanaged);
	for (size_t i = 0; i < d->swarms.n; i++)
		plan_swarm(&c, &d->swarms.v[i]);
	sweep_orphans(&c);
	finish_pools(&c);
	guard(&c);
	count(out);
	vec_release(&c.insts);
	strmap_release(&c.host_by_name);
	strmap_release(&c.by_identity);
	vec_release(&c.ranges);
	strmap_release(&c.pools);
	strmap_release(&c.squads);
	strmap_release(&c.squad_hosts);
	strmap_release(&c.unchecked);
	arena_release(&c.tmp);
	buf_release(&c.b);
}

void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->pools.n; i++) {
		vec_release(&p->pools.v[i].before);
		vec_release(&p->pools.v[i].after);
	}
	vec_release(&p->pools);
	vec_release(&p->actions);
	vec_release(&p->entries);
	vec_release(&p->notes);
	arena_release(&p->mem);
}

/*
 * The offline diff of two desired states; see plan_offline.h. No I/O: two
 * models in, an ordered list of changes out, so the CI view of a change is
 * as testable as the planner. Both models are read through arrays of
 * pointers sorted here by identity, so a hand-built model works as well as
 * a loaded one.
 */
#include "plan_offline.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "release.h"
#include "strmap.h"
#include "xalloc.h"
#include "banned.h"

/* One side's swarms in identity order. */
struct side {
	const struct swarm **v;
	size_t n;
};

/* A pool as routed to: balancer/pool. */
struct pool_ref {
	const char *balancer, *pool, *key;
};

struct pools {
	struct pool_ref *v;
	size_t n, alloc;
};

/* Per squad of "before": its instances and those whose swarm vanished. */
struct squad_count {
	const char *name;
	long total, vanished;
};

struct ctx {
	struct offline_plan *p;
	const struct desired *db, *da;
	struct side before, after;
	long *match_r; /* removed before[i] -> the after index it is renamed to, or -1 */
	long *match_a; /* after[j] -> the before index renamed to it, or -1 */
	bool *kept_b, *kept_a;
	struct buf words, fields, more; /* scratch for the words of one change */
};

static const char *const kind_names[] = {
	[OPLAN_RENAMED] = "renamed",
	[OPLAN_ADDED] = "added",
	[OPLAN_REMOVED] = "removed",
	[OPLAN_RESIZED] = "resized",
	[OPLAN_RELEASED] = "released",
	[OPLAN_ROUTING] = "routing",
	[OPLAN_BALANCER_ADDED] = "balancer_added",
	[OPLAN_BALANCER_REMOVED] = "balancer_removed",
	[OPLAN_POOL_ADDED] = "pool_added",
	[OPLAN_POOL_REMOVED] = "pool_removed",
};

const char *oplan_kind_text(enum oplan_kind k)
{
	return kind_names[k];
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static const char *or_none(const char *s)
{
	return s ? s : "(none)";
}

static int swarm_ptr_cmp(const void *a, const void *b)
{
	const struct swarm *x = *(const struct swarm *const *)a;
	const struct swarm *y = *(const struct swarm *const *)b;

	return strcmp(x->identity ? x->identity : "", y->identity ? y->identity : "");
}

static void side_init(struct side *s, const struct desired *d)
{
	s->n = d->swarms.n;
	s->v = xmalloc(st_mult(s->n ? s->n : 1, sizeof(*s->v)));
	for (size_t i = 0; i < s->n; i++)
		s->v[i] = &d->swarms.v[i];
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), swarm_ptr_cmp);
}

/* ---- identity ---- */

enum { ID_APP, ID_CONFIG, ID_PROC, ID_SQUAD, ID_FIELDS };

static const char *const id_names[ID_FIELDS] = {"app", "config", "proc", "squad"};

static const char *id_field(const struct swarm *s, int f)
{
	switch (f) {
	case ID_APP:
		return s->app;
	case ID_CONFIG:
		return s->config;
	case ID_PROC:
		return s->proc;
	default:
		return s->squad;
	}
}

/* How many identity fields differ; *which is the last that does. */
static int id_diff(const struct swarm *a, const struct swarm *b, int *which)
{
	int n = 0;

	for (int f = 0; f < ID_FIELDS; f++) {
		if (!same_str(id_field(a, f), id_field(b, f))) {
			n++;
			*which = f;
		}
	}
	return n;
}

/* ---- releases ---- */

static bool same_env(const struct swarm *a, const struct swarm *b)
{
	if (a->nenv != b->nenv)
		return false;
	for (size_t i = 0; i < a->nenv; i++)
		if (!same_str(a->env[i].name, b->env[i].name) ||
		    !same_str(a->env[i].value, b->env[i].value))
			return false;
	return true;
}

/* The names of the env variables added, removed or changed, by name (the
 * loader sorts env by name). Values are not shown: they are long, and an
 * operator may keep a token there against advice. */
static void env_words(struct buf *out, const struct swarm *a, const struct swarm *b)
{
	size_t i = 0, j = 0, shown = 0, more = 0;

	buf_puts(out, "env ");
	while (i < a->nenv || j < b->nenv) {
		const char *name;
		int c;

		if (i == a->nenv)
			c = 1;
		else if (j == b->nenv)
			c = -1;
		else
			c = strcmp(a->env[i].name, b->env[j].name);
		if (c < 0) {
			name = a->env[i++].name;
		} else if (c > 0) {
			name = b->env[j++].name;
		} else {
			name = a->env[i].name;
			if (same_str(a->env[i++].value, b->env[j++].value))
				continue;
		}
		if (shown == 3) {
			more++;
			continue;
		}
		buf_printf(out, "%s%s", shown ? ", " : "", name);
		shown++;
	}
	if (more)
		buf_printf(out, " and %zu more", more);
	buf_puts(out, " changed");
}

/* Adds a field's name to the comma-separated list; *first keeps the first. */
static void add_field(struct buf *fields, const char **first, const char *field)
{
	if (!*first)
		*first = field;
	if (fields->len)
		buf_putc(fields, ',');
	buf_puts(fields, field);
}

static void sep(struct buf *b)
{
	if (b->len)
		buf_puts(b, ", ");
}

/* Appends to `w` what differs between two swarms' releases apart from app
 * and config (an identity change names those), and the fields' names to
 * `fields`. Returns the first such field, or NULL when none differs. */
static const char *release_words(struct buf *w, struct buf *fields, const struct swarm *a,
				 const struct swarm *b)
{
	const char *first = NULL;

	if (!same_str(a->version, b->version)) {
		sep(w);
		buf_printf(w, "version %s -> %s", or_none(a->version), or_none(b->version));
		add_field(fields, &first, "version");
	}
	if (!same_str(a->command, b->command)) {
		sep(w);
		buf_puts(w, "command changed");
		add_field(fields, &first, "command");
	}
	if (!same_env(a, b)) {
		sep(w);
		env_words(w, a, b);
		add_field(fields, &first, "env");
	}
	if (!same_str(a->user, b->user)) {
		sep(w);
		buf_printf(w, "user %s -> %s", or_none(a->user), or_none(b->user));
		add_field(fields, &first, "user");
	}
	if (!same_str(a->directory, b->directory)) {
		sep(w);
		buf_printf(w, "directory %s -> %s", or_none(a->directory), or_none(b->directory));
		add_field(fields, &first, "directory");
	}
	if (a->port != b->port) {
		sep(w);
		buf_printf(w, "port %s -> %s", a->port == PORT_NONE ? "none" : "auto",
			   b->port == PORT_NONE ? "none" : "auto");
		add_field(fields, &first, "port");
	}
	return first;
}

static bool same_routing(const struct swarm *a, const struct swarm *b)
{
	if (a->routed != b->routed)
		return false;
	return !a->routed || (same_str(a->routing.balancer, b->routing.balancer) &&
			      same_str(a->routing.pool, b->routing.pool));
}

/* ---- building changes ---- */

static const char *keep(struct ctx *c, const struct buf *b)
{
	return arena_strndup(&c->p->mem, buf_cstr(b), b->len);
}

static struct oplan_change *add_change(struct ctx *c, enum oplan_kind kind,
				       const struct swarm *before, const struct swarm *after)
{
	struct oplan_change *ch = vec_add(&c->p->changes);

	ch->kind = kind;
	ch->before = before;
	ch->after = after;
	ch->fields = "";
	if (before)
		release_hash(ch->release_before, before);
	if (after)
		release_hash(ch->release_after, after);
	return ch;
}

/* "start 2, stop 2", "start 2", "stop 2", or what a size of 0 means. */
static void counts_words(struct buf *b, int start, int stop)
{
	if (start && stop)
		buf_printf(b, "start %d, stop %d", start, stop);
	else if (start)
		buf_printf(b, "start %d", start);
	else if (stop)
		buf_printf(b, "stop %d", stop);
	else
		buf_puts(b, "nothing runs at size 0");
}

/* One change for an identity change: the new identity starts its size and
 * every instance of the old one goes. What else changed follows "also", so
 * the rename stays the headline. */
static void renamed(struct ctx *c, const struct swarm *b, const struct swarm *a)
{
	struct oplan_change *ch;
	const char *first = NULL;
	int f = ID_APP;

	id_diff(b, a, &f);
	buf_reset(&c->words);
	buf_reset(&c->fields);
	buf_reset(&c->more);
	add_field(&c->fields, &first, id_names[f]);
	buf_printf(&c->words, "%s %s %s -> %s", id_names[f], f == ID_SQUAD ? "changed" : "renamed",
		   id_field(b, f), id_field(a, f));
	release_words(&c->more, &c->fields, b, a);
	if (b->size != a->size) {
		sep(&c->more);
		buf_printf(&c->more, "size %d -> %d", b->size, a->size);
		add_field(&c->fields, &first, "size");
	}
	if (c->more.len)
		buf_printf(&c->words, "; also %s", buf_cstr(&c->more));
	ch = add_change(c, OPLAN_RENAMED, b, a);
	ch->field = first;
	ch->fields = keep(c, &c->fields);
	ch->start = a->size;
	ch->stop = b->size;
	ch->reason = keep(c, &c->words);
}

static void added(struct ctx *c, const struct swarm *a)
{
	struct oplan_change *ch = add_change(c, OPLAN_ADDED, NULL, a);

	buf_reset(&c->words);
	if (a->size)
		buf_printf(&c->words, "new swarm: start %d", a->size);
	else
		buf_puts(&c->words, "new swarm at size 0: starts nothing");
	ch->start = a->size;
	ch->reason = keep(c, &c->words);
}

static void removed(struct ctx *c, const struct swarm *b)
{
	struct oplan_change *ch = add_change(c, OPLAN_REMOVED, b, NULL);

	buf_reset(&c->words);
	if (b->size)
		buf_printf(&c->words, "swarm removed: tear down %d", b->size);
	else
		buf_puts(&c->words, "swarm removed: it was at size 0");
	ch->stop = b->size;
	ch->reason = keep(c, &c->words);
}

static void routing_words(struct buf *w, const struct swarm *b, const struct swarm *a)
{
	if (b->routed && a->routed)
		buf_printf(w, "routing %s/%s -> %s/%s", b->routing.balancer, b->routing.pool,
			   a->routing.balancer, a->routing.pool);
	else if (a->routed)
		buf_printf(w, "now routed to %s/%s", a->routing.balancer, a->routing.pool);
	else
		buf_printf(w, "no longer routed (was %s/%s)", b->routing.balancer, b->routing.pool);
}

/* A swarm both sides have: a new release, or a new size, and new routing.
 * A new release replaces every instance, so it says both sizes itself. */
static void kept(struct ctx *c, const struct swarm *b, const struct swarm *a)
{
	struct oplan_change *ch;
	char hb[RELEASE_HEX + 1], ha[RELEASE_HEX + 1];
	const char *first;

	buf_reset(&c->words);
	buf_reset(&c->fields);
	buf_reset(&c->more);
	release_hash(hb, b);
	release_hash(ha, a);
	if (strcmp(hb, ha)) {
		first = release_words(&c->more, &c->fields, b, a);
		if (!first) { /* a field release.h hashes and this file does not name */
			first = "release";
			buf_puts(&c->fields, first);
		}
		buf_printf(&c->words, "new release (%s)",
			   c->more.len ? buf_cstr(&c->more) : "its hash changed");
		if (b->size != a->size) {
			buf_printf(&c->words, ", size %d -> %d", b->size, a->size);
			add_field(&c->fields, &first, "size");
		}
		buf_puts(&c->words, ": ");
		counts_words(&c->words, a->size, b->size);
		ch = add_change(c, OPLAN_RELEASED, b, a);
		ch->field = first;
		ch->fields = keep(c, &c->fields);
		ch->start = a->size;
		ch->stop = b->size;
		ch->reason = keep(c, &c->words);
	} else if (b->size != a->size) {
		int start = a->size > b->size ? a->size - b->size : 0;
		int stop = b->size > a->size ? b->size - a->size : 0;

		buf_printf(&c->words, "size %d -> %d: ", b->size, a->size);
		counts_words(&c->words, start, stop);
		ch = add_change(c, OPLAN_RESIZED, b, a);
		ch->field = "size";
		ch->fields = "size";
		ch->start = start;
		ch->stop = stop;
		ch->reason = keep(c, &c->words);
	}
	if (!same_routing(b, a)) {
		buf_reset(&c->words);
		routing_words(&c->words, b, a);
		ch = add_change(c, OPLAN_ROUTING, b, a);
		ch->field = "routing";
		ch->fields = "routing";
		ch->reason = keep(c, &c->words);
	}
}

/* ---- pairing renames ---- */

/* Added swarms (indexes, ascending) that share a key; `next` skips those
 * the greedy pass has already paired, which stay paired while it runs. */
struct bucket {
	size_t *v;
	size_t n, alloc, next;
};

/* Where removed swarm i finds its candidates: [tier][field], tier 0 holding
 * those that also carry the release over unchanged. */
typedef struct bucket *cand_lists[2][ID_FIELDS];

/* What release_words compares, as one string: equal strings, equal bodies.
 * Values go in with their lengths so no value can pass for two. */
static void body_key(struct buf *b, const struct swarm *s)
{
	const char *v[] = {s->version, s->command, s->user, s->directory};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		buf_printf(b, "%zu:%s|", v[i] ? strlen(v[i]) : 0, v[i] ? v[i] : "");
	for (size_t i = 0; i < s->nenv; i++)
		buf_printf(b, "%zu:%s=%zu:%s|", strlen(s->env[i].name), s->env[i].name,
			   s->env[i].value ? strlen(s->env[i].value) : 0,
			   s->env[i].value ? s->env[i].value : "");
	buf_printf(b, "%d", s->port);
}

/* The key of swarm s's candidates in tier `tier` whose field `skip` differs:
 * the other three identity fields (two swarms one field apart share them;
 * identifiers hold no '/'), and for tier 0 the release body too. */
static void cand_key(struct buf *b, const struct swarm *s, int tier, int skip)
{
	buf_reset(b);
	buf_printf(b, "%d|", tier);
	for (int f = 0; f < ID_FIELDS; f++)
		if (f != skip)
			buf_printf(b, "%s/", id_field(s, f) ? id_field(s, f) : "");
	if (tier == 0)
		body_key(b, s);
}

/* The first added swarm not yet paired among removed i's candidates, in
 * order of preference: tier 0 before tier 1, then identity order. Once all
 * of tier 0 is paired, whatever tier 1 still holds is a tier-1 candidate. */
static long first_free(struct ctx *c, cand_lists lists)
{
	for (int tier = 0; tier < 2; tier++) {
		long best = -1;

		for (int f = 0; f < ID_FIELDS; f++) {
			struct bucket *bk = lists[tier][f];

			if (!bk)
				continue;
			while (bk->next < bk->n && c->match_a[bk->v[bk->next]] >= 0)
				bk->next++;
			if (bk->next < bk->n && (best < 0 || (long)bk->v[bk->next] < best))
				best = (long)bk->v[bk->next];
		}
		if (best >= 0)
			return best;
	}
	return -1;
}

/* Kuhn's augmenting path: finds removed i a partner, moving earlier pairs
 * to another candidate of theirs when that frees one. */
static bool augment(struct ctx *c, cand_lists *lists, size_t i, bool *seen)
{
	for (int tier = 0; tier < 2; tier++) {
		for (int f = 0; f < ID_FIELDS; f++) {
			const struct bucket *bk = lists[i][tier][f];

			for (size_t k = 0; bk && k < bk->n; k++) {
				size_t j = bk->v[k];

				if (seen[j])
					continue;
				seen[j] = true;
				if (c->match_a[j] < 0 ||
				    augment(c, lists, (size_t)c->match_a[j], seen)) {
					c->match_a[j] = (long)i;
					c->match_r[i] = (long)j;
					return true;
				}
			}
		}
	}
	return false;
}

/* Pairs each removed swarm with at most one added swarm that differs from it
 * in exactly one identity field: as many pairs as possible, each removed
 * swarm (in identity order) preferring its first free candidate (see
 * first_free). The buckets index the added swarms by what a candidate
 * shares, so no two swarms are compared in vain: a change that renames
 * thousands of swarms at once stays fast. A greedy pass settles the common
 * case; augmenting paths only fix what it left unpaired, and a failed search
 * keeps its visited marks, which stay dead until a search succeeds. */
static void pair_renames(struct ctx *c)
{
	cand_lists *lists = xcalloc(c->before.n ? c->before.n : 1, sizeof(*lists));
	bool *seen = xcalloc(c->after.n ? c->after.n : 1, sizeof(*seen));
	struct bucket *buckets =
		xcalloc(st_mult(c->after.n ? c->after.n : 1, 2 * ID_FIELDS), sizeof(*buckets));
	struct strmap index = STRMAP_INIT;
	struct arena keys = ARENA_INIT;
	struct buf key = BUF_INIT;
	size_t nbuckets = 0;

	for (size_t j = 0; j < c->after.n; j++) {
		if (c->kept_a[j])
			continue;
		for (int tier = 0; tier < 2; tier++) {
			for (int f = 0; f < ID_FIELDS; f++) {
				struct bucket *bk;

				cand_key(&key, c->after.v[j], tier, f);
				bk = strmap_get(&index, buf_cstr(&key));
				if (!bk) {
					bk = &buckets[nbuckets++];
					strmap_put(&index, arena_strdup(&keys, buf_cstr(&key)), bk);
				}
				vec_push(bk, j);
			}
		}
	}
	for (size_t i = 0; i < c->before.n; i++) {
		long j;

		if (c->kept_b[i])
			continue;
		for (int tier = 0; tier < 2; tier++) {
			for (int f = 0; f < ID_FIELDS; f++) {
				cand_key(&key, c->before.v[i], tier, f);
				lists[i][tier][f] = strmap_get(&index, buf_cstr(&key));
			}
		}
		j = first_free(c, lists[i]);
		if (j >= 0) {
			c->match_a[j] = (long)i;
			c->match_r[i] = j;
		}
	}
	for (size_t i = 0; i < c->before.n; i++) {
		if (c->kept_b[i] || c->match_r[i] >= 0)
			continue;
		if (augment(c, lists, i, seen))
			memset(seen, 0, c->after.n * sizeof(*seen));
	}
	for (size_t k = 0; k < nbuckets; k++)
		vec_release(&buckets[k]);
	free(buckets);
	free(lists);
	free(seen);
	strmap_release(&index);
	arena_release(&keys);
	buf_release(&key);
}

/* ---- balancers and pools ---- */

static int pool_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pool_ref *)a)->key, ((const struct pool_ref *)b)->key);
}

/* The pools a side's swarms route to, sorted and each once. */
static void pools_of(struct ctx *c, struct pools *out, const struct side *s)
{
	struct buf key = BUF_INIT;
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct swarm *w = s->v[i];
		struct pool_ref *r;

		if (!w->routed || !w->routing.balancer || !w->routing.pool)
			continue;
		buf_reset(&key);
		buf_printf(&key, "%s/%s", w->routing.balancer, w->routing.pool);
		r = vec_add(out);
		r->balancer = w->routing.balancer;
		r->pool = w->routing.pool;
		r->key = keep(c, &key);
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), pool_cmp);
	for (size_t i = 0; i < out->n; i++)
		if (!n || strcmp(out->v[n - 1].key, out->v[i].key))
			out->v[n++] = out->v[i];
	out->n = n;
	buf_release(&key);
}

static void pool_change(struct ctx *c, enum oplan_kind kind, const struct pool_ref *r)
{
	struct oplan_change *ch = add_change(c, kind, NULL, NULL);

	buf_reset(&c->words);
	/* the label names the pool; the words say what happens to it */
	buf_puts(&c->words, kind == OPLAN_POOL_ADDED ? "new pool: a swarm routes to it"
						     : "pool removed: no swarm routes to it");
	ch->balancer = r->balancer;
	ch->pool = r->pool;
	ch->reason = keep(c, &c->words);
}

static void diff_pools(struct ctx *c)
{
	struct pools pb = {0}, pa = {0};
	size_t i = 0, j = 0;

	pools_of(c, &pb, &c->before);
	pools_of(c, &pa, &c->after);
	while (i < pb.n || j < pa.n) {
		int cmp = i == pb.n ? 1 : j == pa.n ? -1 : strcmp(pb.v[i].key, pa.v[j].key);

		if (cmp < 0)
			pool_change(c, OPLAN_POOL_REMOVED, &pb.v[i++]);
		else if (cmp > 0)
			pool_change(c, OPLAN_POOL_ADDED, &pa.v[j++]);
		else
			i++, j++;
	}
	vec_release(&pb);
	vec_release(&pa);
}

static bool has_balancer(const struct desired *d, const char *name)
{
	for (size_t i = 0; i < d->balancers.n; i++)
		if (!strcmp(d->balancers.v[i].name, name))
			return true;
	return false;
}

static void balancer_change(struct ctx *c, enum oplan_kind kind, const struct balancer *b)
{
	struct oplan_change *ch = add_change(c, kind, NULL, NULL);

	buf_reset(&c->words);
	if (kind == OPLAN_BALANCER_ADDED)
		buf_printf(&c->words, "new balancer: nginx, pools in %s",
			   b->include_dir ? b->include_dir : "?");
	else
		buf_puts(&c->words, "balancer removed: raptor no longer writes its pools");
	ch->balancer = b->name;
	ch->reason = keep(c, &c->words);
}

/* Balancers are few (a handful per fleet): a linear look-up is enough, and
 * the models' own name order keeps the output stable. */
static void diff_balancers(struct ctx *c)
{
	for (size_t i = 0; i < c->da->balancers.n; i++)
		if (!has_balancer(c->db, c->da->balancers.v[i].name))
			balancer_change(c, OPLAN_BALANCER_ADDED, &c->da->balancers.v[i]);
	for (size_t i = 0; i < c->db->balancers.n; i++)
		if (!has_balancer(c->da, c->db->balancers.v[i].name))
			balancer_change(c, OPLAN_BALANCER_REMOVED, &c->db->balancers.v[i]);
}

/* ---- the guard ---- */

/* DESIGN.md §5 as apply would see it were the fleet running exactly
 * "before": swarms that vanished (removed, not renamed) stop instances that
 * nothing replaces; a rename or a size of 0 is intent and never counts. */
static void guard(struct ctx *c)
{
	struct offline_plan *p = c->p;
	struct strmap index = STRMAP_INIT; /* squad name -> its count + 1 */
	VEC(struct squad_count) squads = {0};
	struct buf why = BUF_INIT;

	for (size_t i = 0; i < c->before.n; i++) {
		const struct swarm *b = c->before.v[i];
		const char *name = b->squad ? b->squad : "?";
		size_t k = (size_t)strmap_get(&index, name);

		p->instances_before += b->size;
		if (!k) {
			struct squad_count *q = vec_add(&squads);

			q->name = name;
			k = squads.n;
			strmap_put(&index, name, (void *)k);
		}
		squads.v[k - 1].total += b->size;
		if (!c->kept_b[i] && c->match_r[i] < 0) {
			squads.v[k - 1].vanished += b->size;
			p->vanished += b->size;
		}
	}
	if (!c->after.n && p->instances_before) {
		buf_printf(
			&why,
			"the desired state after the change has no swarms at all, while the one before had %zu swarm%s of %ld instance%s: a wrong path or branch?",
			c->before.n, c->before.n == 1 ? "" : "s", p->instances_before,
			p->instances_before == 1 ? "" : "s");
	} else {
		if (p->vanished && p->instances_before && p->vanished * 2 > p->instances_before)
			buf_printf(
				&why,
				"%ld of %ld instances (%ld%%) belong to swarms that vanished from the desired state",
				p->vanished, p->instances_before,
				p->vanished * 100 / p->instances_before);
		/* squads in the order the sorted swarms first name them: stable */
		for (size_t k = 0; k < squads.n; k++) {
			const struct squad_count *q = &squads.v[k];

			if (!q->total || q->vanished != q->total)
				continue;
			if (why.len)
				buf_puts(&why, "; ");
			buf_printf(
				&why,
				"every instance of squad %s (%ld) belongs to swarms that vanished",
				q->name, q->total);
		}
	}
	if (why.len) {
		p->guard_tripped = true;
		p->guard_reason = keep(c, &why);
	}
	buf_release(&why);
	vec_release(&squads);
	strmap_release(&index);
}

/* ---- the whole ---- */

/* Matches identities across the sides (both sorted): kept_* marks those on
 * both, paired through match_r/match_a. */
static void match_identities(struct ctx *c)
{
	size_t i = 0, j = 0;

	while (i < c->before.n && j < c->after.n) {
		int cmp = swarm_ptr_cmp(&c->before.v[i], &c->after.v[j]);

		if (cmp < 0) {
			i++;
		} else if (cmp > 0) {
			j++;
		} else {
			c->kept_b[i] = c->kept_a[j] = true;
			c->match_r[i] = (long)j;
			c->match_a[j] = (long)i;
			i++, j++;
		}
	}
}

static void count(struct offline_plan *p)
{
	const struct oplan_change *prev = NULL;

	for (size_t i = 0; i < p->changes.n; i++) {
		const struct oplan_change *ch = &p->changes.v[i];

		p->start += ch->start;
		p->stop += ch->stop;
		if (!ch->before && !ch->after) {
			p->other_changes++;
			continue;
		}
		/* one swarm's changes are adjacent: count it once */
		if (!prev || prev->before != ch->before || prev->after != ch->after)
			p->swarms_changed++;
		prev = ch;
	}
}

void offline_plan_build(struct offline_plan *p, const struct desired *before,
			const struct desired *after)
{
	struct ctx c = {.p = p, .db = before, .da = after};

	memset(p, 0, sizeof(*p));
	side_init(&c.before, before);
	side_init(&c.after, after);
	c.match_r = xmalloc(st_mult(c.before.n ? c.before.n : 1, sizeof(*c.match_r)));
	c.match_a = xmalloc(st_mult(c.after.n ? c.after.n : 1, sizeof(*c.match_a)));
	c.kept_b = xcalloc(c.before.n ? c.before.n : 1, sizeof(*c.kept_b));
	c.kept_a = xcalloc(c.after.n ? c.after.n : 1, sizeof(*c.kept_a));
	for (size_t i = 0; i < c.before.n; i++)
		c.match_r[i] = -1;
	for (size_t j = 0; j < c.after.n; j++)
		c.match_a[j] = -1;

	match_identities(&c);
	pair_renames(&c);
	/* display order: renames, new swarms, removed ones, changed ones, then
	 * balancers and pools; identity order within each */
	for (size_t i = 0; i < c.before.n; i++)
		if (!c.kept_b[i] && c.match_r[i] >= 0)
			renamed(&c, c.before.v[i], c.after.v[c.match_r[i]]);
	for (size_t j = 0; j < c.after.n; j++)
		if (c.match_a[j] < 0)
			added(&c, c.after.v[j]);
	for (size_t i = 0; i < c.before.n; i++)
		if (c.match_r[i] < 0)
			removed(&c, c.before.v[i]);
	for (size_t i = 0; i < c.before.n; i++)
		if (c.kept_b[i])
			kept(&c, c.before.v[i], c.after.v[c.match_r[i]]);
	diff_balancers(&c);
	diff_pools(&c);
	guard(&c);
	count(p);

	free(c.before.v);
	free(c.after.v);
	free(c.match_r);
	free(c.match_a);
	free(c.kept_b);
	free(c.kept_a);
	buf_release(&c.words);
	buf_release(&c.fields);
	buf_release(&c.more);
}

void offline_plan_release(struct offline_plan *p)
{
	vec_release(&p->changes);
	arena_release(&p->mem);
}

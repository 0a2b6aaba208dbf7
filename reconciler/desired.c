/* The desired-state model: defaults, lookups, counts and the canonical dump. */
#include "desired.h"

#include <stdlib.h>
#include <string.h>

#include "release.h"
#include "strmap.h"
#include "units.h"
#include "banned.h"

static const char *const scheme_names[] = {"http", "https", "unix"};
static const char *const on_unreachable_names[] = {"replace", "wait"};
static const char *const port_names[] = {"auto", "none"};

void desired_init(struct desired *d)
{
	memset(d, 0, sizeof(*d));
	d->settings.supervisor.port = 9001;
	d->settings.supervisor.path = arena_strdup(&d->mem, "/RPC2");
	d->settings.supervisor.scheme = SCHEME_HTTP;
	d->settings.ports.first = 5000;
	d->settings.ports.last = 5999;
	d->settings.timeouts.connect_ms = 2000;
	d->settings.timeouts.request_ms = 10000;
	d->settings.concurrency = 64;
}

void desired_release(struct desired *d)
{
	vec_release(&d->squads);
	vec_release(&d->balancers);
	vec_release(&d->swarms);
	arena_release(&d->mem);
}

static int name_cmp(const void *key, const void *elem, size_t off)
{
	return strcmp(key, *(char *const *)((const char *)elem + off));
}

static int squad_key_cmp(const void *key, const void *elem)
{
	return name_cmp(key, elem, offsetof(struct squad, name));
}

static int balancer_key_cmp(const void *key, const void *elem)
{
	return name_cmp(key, elem, offsetof(struct balancer, name));
}

const struct squad *desired_squad(const struct desired *d, const char *name)
{
	return d->squads.n ? bsearch(name, d->squads.v, d->squads.n, sizeof(*d->squads.v),
				     squad_key_cmp)
			   : NULL;
}

const struct balancer *desired_balancer(const struct desired *d, const char *name)
{
	return d->balancers.n ? bsearch(name, d->balancers.v, d->balancers.n,
					sizeof(*d->balancers.v), balancer_key_cmp)
			      : NULL;
}

static int swarm_key_cmp(const void *key, const void *elem)
{
	return name_cmp(key, elem, offsetof(struct swarm, identity));
}

const struct swarm *desired_has(const struct desired *d, const char *identity)
{
	return d->swarms.n ? bsearch(identity, d->swarms.v, d->swarms.n, sizeof(*d->swarms.v),
				     swarm_key_cmp)
			   : NULL;
}

void desired_releases(struct desired *d)
{
	for (size_t i = 0; i < d->swarms.n; i++)
		release_hash(d->swarms.v[i].release, &d->swarms.v[i]);
}

void desired_count(const struct desired *d, struct desired_counts *out)
{
	struct strmap pools = STRMAP_INIT;
	struct buf key = BUF_INIT;
	struct arena keys = ARENA_INIT;

	memset(out, 0, sizeof(*out));
	out->squads = d->squads.n;
	out->balancers = d->balancers.n;
	out->swarms = d->swarms.n;
	for (size_t i = 0; i < d->squads.n; i++)
		out->hosts += d->squads.v[i].nhosts;
	for (size_t i = 0; i < d->swarms.n; i++) {
		const struct swarm *s = &d->swarms.v[i];

		out->instances += (size_t)s->size;
		if (!s->routed || !s->routing.balancer || !s->routing.pool)
			continue;
		buf_reset(&key);
		buf_printf(&key, "%s/%s", s->routing.balancer, s->routing.pool);
		if (!strmap_get(&pools, key.ptr)) {
			strmap_put(&pools, arena_strdup(&keys, key.ptr), (void *)1);
			out->pools++;
		}
	}
	strmap_release(&pools);
	arena_release(&keys);
	buf_release(&key);
}

void swarm_identity(struct buf *out, const char *app, const char *config, const char *proc,
		    const char *squad)
{
	size_t la, lc, lp, lq, total;
	char *p;

	/* written in one piece, each part copied by its length, no loop: the
	 * planner builds one of these per live instance */
	app = app ? app : "?";
	config = config ? config : "?";
	proc = proc ? proc : "?";
	squad = squad ? squad : "?";
	la = strlen(app);
	lc = strlen(config);
	lp = strlen(proc);
	lq = strlen(squad);
	total = la + lc + lp + lq + 3;
	if (buf_reserve(out, total) < 0)
		return;
	p = out->ptr + out->len;
	memcpy(p, app, la);
	p += la;
	*p++ = '/';
	memcpy(p, config, lc);
	p += lc;
	*p++ = '/';
	memcpy(p, proc, lp);
	p += lp;
	*p++ = '@';
	memcpy(p, squad, lq);
	p[lq] = '\0';
	out->len += total;
}

static void dump_strv(struct buf *out, const struct strv *v)
{
	buf_putc(out, '[');
	for (size_t i = 0; i < v->n; i++)
		buf_printf(out, "%s%s", i ? ", " : "", v->v[i]);
	buf_putc(out, ']');
}

static void dump_duration(struct buf *out, const char *key, uint64_t ms)
{
	buf_printf(out, " %s=", key);
	duration_format(out, ms);
}

static void dump_amount(struct buf *out, const char *key, struct amount a)
{
	buf_printf(out, " %s=%d%s", key, a.value, a.percent ? "%" : "");
}

void desired_dump(struct buf *out, const struct desired *d)
{
	const struct settings *st = &d->settings;

	buf_printf(out, "settings supervisor=%s:%d%s", scheme_names[st->supervisor.scheme],
		   st->supervisor.port, st->supervisor.path);
	if (st->supervisor.socket)
		buf_printf(out, " socket=%s", st->supervisor.socket);
	if (st->supervisor.credentials)
		buf_printf(out, " credentials=%s", st->supervisor.credentials);
	if (st->supervisor.ca_file)
		buf_printf(out, " ca_file=%s", st->supervisor.ca_file);
	buf_printf(out, " ports=%d-%d", st->ports.first, st->ports.last);
	dump_duration(out, "connect", st->timeouts.connect_ms);
	dump_duration(out, "request", st->timeouts.request_ms);
	buf_printf(out, " concurrency=%d\n", st->concurrency);
	for (size_t i = 0; i < d->squads.n; i++) {
		const struct squad *q = &d->squads.v[i];

		buf_printf(out, "squad %s ports=%d-%d%s on_unreachable=%s\n", q->name,
			   q->ports.first, q->ports.last, q->own_ports ? "" : "(default)",
			   on_unreachable_names[q->on_unreachable]);
		for (size_t j = 0; j < q->nhosts; j++)
			buf_printf(out, "  host %s address=%s url=%s\n", q->hosts[j].name,
				   q->hosts[j].address, q->hosts[j].url);
	}
	for (size_t i = 0; i < d->balancers.n; i++) {
		const struct balancer *b = &d->balancers.v[i];

		buf_printf(out, "balancer %s type=nginx include_dir=%s test=", b->name,
			   b->include_dir);
		dump_strv(out, &b->test);
		buf_puts(out, " reload=");
		dump_strv(out, &b->reload);
		dump_duration(out, "drain", b->drain_ms);
		buf_putc(out, '\n');
	}
	for (size_t i = 0; i < d->swarms.n; i++) {
		const struct swarm *s = &d->swarms.v[i];

		buf_printf(out, "swarm %s version=%s size=%d port=%s\n  command=%s\n", s->identity,
			   s->version, s->size, port_names[s->port], s->command);
		for (size_t j = 0; j < s->nenv; j++)
			buf_printf(out, "  env %s=%s\n", s->env[j].name, s->env[j].value);
		if (s->user)
			buf_printf(out, "  user=%s\n", s->user);
		if (s->directory)
			buf_printf(out, "  directory=%s\n", s->directory);
		if (s->routed)
			buf_printf(out, "  routing %s/%s\n", s->routing.balancer, s->routing.pool);
		buf_printf(out, "  health tcp=%s http=%s", s->health.tcp ? "true" : "false",
			   s->health.http ? s->health.http : "-");
		for (size_t j = 0; j < s->health.nuptests; j++) {
			buf_puts(out, " uptest=");
			dump_strv(out, &s->health.uptests[j]);
		}
		dump_duration(out, "timeout", s->health.timeout_ms);
		buf_puts(out, "\n  rollout");
		dump_amount(out, "max_surge", s->rollout.max_surge);
		dump_amount(out, "max_unavailable", s->rollout.max_unavailable);
		buf_putc(out, '\n');
	}
}

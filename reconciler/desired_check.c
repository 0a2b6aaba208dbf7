/*
 * The semantic pass over a freshly loaded desired state: what no single
 * value can tell. Squad and balancer references, duplicate swarm
 * identities and hosts across files (both places named), workers that ask
 * for routing or port checks, settings that need each other. Also the
 * defaults that depend on settings from any file, and the canonical order
 * that makes the model independent of how the YAML is split into files.
 */
#include "desired_load.h"

#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "suggest.h"
#include "banned.h"

static void err_pos(struct diags *diags, const struct pos *p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void err_pos(struct diags *diags, const struct pos *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(diags, p->file ? p->file : "", p->line, p->col, fmt, ap);
	va_end(ap);
}

static int pos_cmp(const struct pos *a, const struct pos *b)
{
	int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");

	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return a->col < b->col ? -1 : a->col > b->col;
}

static int squad_cmp(const void *a, const void *b)
{
	return strcmp(((const struct squad *)a)->name, ((const struct squad *)b)->name);
}

static int balancer_cmp(const void *a, const void *b)
{
	return strcmp(((const struct balancer *)a)->name, ((const struct balancer *)b)->name);
}

static int swarm_cmp(const void *pa, const void *pb)
{
	const struct swarm *a = pa, *b = pb;
	int c = strcmp(a->identity, b->identity);

	return c ? c : pos_cmp(&a->pos, &b->pos);
}

static void check_range(struct diags *diags, const struct port_range *r, const char *what)
{
	if (r->first > r->last)
		err_pos(diags, &r->pos, "%s: first (%d) is after last (%d)", what, r->first,
			r->last);
}

static void check_settings(struct desired *d, struct diags *diags)
{
	struct supervisor_settings *sv = &d->settings.supervisor;

	if (sv->scheme == SCHEME_UNIX && !sv->socket)
		err_pos(diags, &sv->scheme_pos,
			"settings.supervisor.scheme is unix but no socket is set: add socket: /path/to/supervisor.sock");
	if (sv->scheme != SCHEME_UNIX && sv->socket)
		err_pos(diags, &sv->socket_pos,
			"settings.supervisor.socket is set but scheme is not unix: set scheme: unix, or remove socket");
	if (d->settings.ports.pos.file)
		check_range(diags, &d->settings.ports, "settings.ports");
}

static void host_url(struct desired *d, struct host *h)
{
	const struct supervisor_settings *sv = &d->settings.supervisor;
	struct buf b = BUF_INIT;

	if (h->supervisor) {
		h->url = h->supervisor;
		return;
	}
	if (sv->scheme == SCHEME_UNIX)
		buf_printf(&b, "unix://%s%s", sv->socket ? sv->socket : "", sv->path);
	else if (strchr(h->address, ':'))
		buf_printf(&b, "%s://[%s]:%d%s", sv->scheme == SCHEME_HTTPS ? "https" : "http",
			   h->address, sv->port, sv->path);
	else
		buf_printf(&b, "%s://%s:%d%s", sv->scheme == SCHEME_HTTPS ? "https" : "http",
			   h->address, sv->port, sv->path);
	h->url = arena_strndup(&d->mem, buf_cstr(&b), b.len);
	buf_release(&b);
}

struct host_seen {
	const struct host *host;
	const struct squad *squad;
};

static void check_squads(struct desired *d, struct diags *diags)
{
	struct strmap hosts = STRMAP_INIT;
	struct arena mem = ARENA_INIT;
	struct buf what = BUF_INIT;

	if (d->squads.n > 1)
		qsort(d->squads.v, d->squads.n, sizeof(*d->squads.v), squad_cmp);
	for (size_t i = 0; i < d->squads.n; i++) {
		struct squad *q = &d->squads.v[i];

		if (q->own_ports) {
			buf_reset(&what);
			buf_printf(&what, "squad '%s' ports", q->name);
			check_range(diags, &q->ports, what.ptr);
		} else {
			q->ports = d->settings.ports;
		}
		for (size_t j = 0; j < q->nhosts; j++) {
			struct host *h = &q->hosts[j];
			struct host_seen *me = arena_alloc(&mem, sizeof(*me));
			const struct host_seen *had;

			me->host = h;
			me->squad = q;
			had = strmap_put(&hosts, h->name, me);
			if (!h->address)
				h->address = h->name;
			host_url(d, h);
			if (had == me)
				continue;
			if (had->squad == q)
				err_pos(diags, &h->pos,
					"host '%s' is listed twice in squad '%s' (also at %s:%u:%u)",
					h->name, q->name, had->host->pos.file, had->host->pos.line,
					had->host->pos.col);
			else
				err_pos(diags, &h->pos,
					"host '%s' is in two squads, '%s' and '%s' (also at %s:%u:%u): a host belongs to one squad",
					h->name, had->squad->name, q->name, had->host->pos.file,
					had->host->pos.line, had->host->pos.col);
		}
	}
	strmap_release(&hosts);
	arena_release(&mem);
	buf_release(&what);
}

static void default_argv(struct desired *d, struct strv *sv, const char *const *words, size_t n)
{
	if (sv->n)
		return;
	sv->v = arena_alloc(&d->mem, n * sizeof(*sv->v));
	for (size_t i = 0; i < n; i++)
		sv->v[i] = arena_strdup(&d->mem, words[i]);
	sv->n = n;
}

static void check_balancers(struct desired *d)
{
	static const char *const test[] = {"nginx", "-t"};
	static const char *const reload[] = {"nginx", "-s", "reload"};

	if (d->balancers.n > 1)
		qsort(d->balancers.v, d->balancers.n, sizeof(*d->balancers.v), balancer_cmp);
	for (size_t i = 0; i < d->balancers.n; i++) {
		default_argv(d, &d->balancers.v[i].test, test, 2);
		default_argv(d, &d->balancers.v[i].reload, reload, 3);
	}
}

/* "did you mean" over the names of a sorted squad or balancer list */
static const char *suggest_name(const char *word, const void *items, size_t n, size_t size,
				size_t name_off)
{
	const char **names = calloc(n ? n : 1, sizeof(*names));
	const char *hint;

	for (size_t i = 0; i < n; i++)
		names[i] = *(char *const *)((const char *)items + i * size + name_off);
	hint = suggest(word, names, n);
	free(names);
	return hint;
}

static void check_swarm(struct desired *d, struct swarm *s, struct diags *diags)
{
	if (!desired_squad(d, s->squad)) {
		const char *hint = suggest_name(s->squad, d->squads.v, d->squads.n,
						sizeof(*d->squads.v), offsetof(struct squad, name));

		err_pos(diags, &s->squad_pos,
			"swarm %s names squad '%s', which is not defined%s%s%s", s->identity,
			s->squad, hint ? " (did you mean '" : "", hint ? hint : "",
			hint ? "'?)" : "");
	}
	if (s->routed && s->routing.balancer && !desired_balancer(d, s->routing.balancer)) {
		const char *hint =
			suggest_name(s->routing.balancer, d->balancers.v, d->balancers.n,
				     sizeof(*d->balancers.v), offsetof(struct balancer, name));

		err_pos(diags, &s->routing.balancer_pos,
			"swarm %s routes to balancer '%s', which is not defined%s%s%s", s->identity,
			s->routing.balancer, hint ? " (did you mean '" : "", hint ? hint : "",
			hint ? "'?)" : "");
	}
	if (s->port != PORT_NONE)
		return;
	if (s->routed)
		err_pos(diags, &s->routing.pos,
			"swarm %s is a worker (port: none) and cannot be routed: remove routing, or set port: auto",
			s->identity);
	if (s->health.tcp)
		err_pos(diags, &s->health.tcp_pos,
			"swarm %s is a worker (port: none): health.tcp has no port to connect to",
			s->identity);
	if (s->health.http)
		err_pos(diags, &s->health.http_pos,
			"swarm %s is a worker (port: none): health.http has no port to ask",
			s->identity);
	if (strstr(s->command, "${PORT}"))
		err_pos(diags, &s->command_pos,
			"swarm %s is a worker (port: none) but its command uses ${PORT}",
			s->identity);
}

static void check_swarms(struct desired *d, struct diags *diags)
{
	if (d->swarms.n > 1)
		qsort(d->swarms.v, d->swarms.n, sizeof(*d->swarms.v), swarm_cmp);
	for (size_t i = 0; i < d->swarms.n; i++) {
		struct swarm *s = &d->swarms.v[i];

		if (i && !strcmp(s->identity, d->swarms.v[i - 1].identity)) {
			const struct pos *first = &d->swarms.v[i - 1].pos;

			err_pos(diags, &s->pos,
				"swarm %s is defined twice: here and at %s:%u:%u (app, config, proc and squad together name a swarm)",
				s->identity, first->file, first->line, first->col);
		}
		check_swarm(d, s, diags);
	}
}

void desired_check(struct desired *d, struct diags *diags)
{
	check_settings(d, diags);
	check_squads(d, diags);
	check_balancers(d);
	check_swarms(d, diags);
}

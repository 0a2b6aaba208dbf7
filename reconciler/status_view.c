/* Building the status view from the live model; see status_view.h. */
#include "status_view.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "desired.h"
#include "progname.h"
#include "strmap.h"
#include "banned.h"

static int meta_port(const struct live_program *p)
{
	const char *s = live_meta(p, "port");
	char *end;
	long n;

	if (!s || !*s)
		return 0;
	n = strtol(s, &end, 10);
	return *end || n < 1 || n > 65535 ? 0 : (int)n;
}

static const char *meta_swarm(struct arena *a, const struct live_program *p)
{
	const char *app = live_meta(p, "app"), *config = live_meta(p, "config");
	const char *proc = live_meta(p, "proc"), *squad = live_meta(p, "squad");
	struct buf b = BUF_INIT;
	const char *s;

	if (!app || !config || !proc || !squad)
		return NULL;
	swarm_identity(&b, app, config, proc, squad);
	s = arena_strndup(a, b.ptr, b.len);
	buf_release(&b);
	return s;
}

static void fill(struct arena *a, struct status_program *sp, const struct live_program *owned,
		 const char *name)
{
	struct progname pn;

	sp->managed = owned != NULL;
	if (owned) {
		sp->swarm = meta_swarm(a, owned);
		sp->port = meta_port(owned);
		return;
	}
	sp->klass = "unmanaged";
	/* a Velociraptor-style name still tells its port */
	if (progname_parse(&pn, name) == 0) {
		sp->port = pn.port;
		progname_release(&pn);
	}
}

static void build_host(struct arena *a, struct status_host *sh, const struct live_host *h)
{
	size_t n = 0;

	sh->live = h;
	sh->programs = arena_alloc(a, (h->nprocs + h->nprograms) * sizeof(*sh->programs));
	for (size_t i = 0; i < h->nprocs; i++) {
		const struct live_process *p = &h->procs[i];
		struct status_program *sp = &sh->programs[n++];
		struct buf name = BUF_INIT;

		if (strcmp(p->group, p->name))
			buf_printf(&name, "%s:%s", p->group, p->name);
		else
			buf_puts(&name, p->name);
		sp->name = arena_strndup(a, name.ptr, name.len);
		sp->state = p->statename;
		sp->pid = p->pid;
		fill(a, sp, live_program(h, p->group), p->group);
		buf_release(&name);
	}
	/* files raptor wrote that supervisord has not loaded */
	for (size_t i = 0; i < h->nprograms; i++) {
		struct status_program *sp;

		if (live_process(h, h->programs[i].name))
			continue;
		sp = &sh->programs[n++];
		sp->name = h->programs[i].name;
		sp->state = "NOT_LOADED";
		fill(a, sp, &h->programs[i], sp->name);
	}
	sh->nprograms = n;
	for (size_t i = 0; i < n; i++) {
		sh->managed += sh->programs[i].managed;
		sh->unmanaged += !sh->programs[i].managed;
	}
}

void status_view_build(struct status_view *v, const struct live *l, const struct plan *p)
{
	struct strmap classes = STRMAP_INIT; /* "host\nprogram" -> class text */
	struct buf key = BUF_INIT;

	memset(v, 0, sizeof(*v));
	for (size_t i = 0; p && i < p->entries.n; i++) {
		const struct plan_entry *e = &p->entries.v[i];

		buf_reset(&key);
		buf_printf(&key, "%s\n%s", e->host, e->program);
		strmap_put(&classes, arena_strndup(&v->mem, key.ptr, key.len),
			   (void *)plan_class_text(e->klass));
	}
	v->hosts = arena_alloc(&v->mem, l->hosts.n * sizeof(*v->hosts));
	v->nhosts = l->hosts.n;
	for (size_t i = 0; i < l->hosts.n; i++) {
		struct status_host *sh = &v->hosts[i];

		build_host(&v->mem, sh, &l->hosts.v[i]);
		for (size_t j = 0; j < sh->nprograms; j++) {
			if (!sh->programs[j].managed)
				continue;
			buf_reset(&key);
			buf_printf(&key, "%s\n%s", l->hosts.v[i].name, sh->programs[j].name);
			sh->programs[j].klass = strmap_get(&classes, key.ptr);
		}
	}
	strmap_release(&classes);
	buf_release(&key);
}

void status_view_release(struct status_view *v)
{
	arena_release(&v->mem);
	v->hosts = NULL;
	v->nhosts = 0;
}

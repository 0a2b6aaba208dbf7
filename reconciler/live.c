/* Lookups over the live-state model; see live.h. */
#include "live.h"

#include <string.h>

#include "banned.h"

void live_init(struct live *l)
{
	memset(l, 0, sizeof(*l));
}

void live_release(struct live *l)
{
	vec_release(&l->hosts);
	arena_release(&l->mem);
}

const char *live_meta(const struct live_program *p, const char *key)
{
	for (size_t i = 0; i < p->nmeta; i++)
		if (!strcmp(p->meta[i].key, key))
			return p->meta[i].value;
	return NULL;
}

const struct live_program *live_program(const struct live_host *h, const char *name)
{
	for (size_t i = 0; i < h->nprograms; i++)
		if (!strcmp(h->programs[i].name, name))
			return &h->programs[i];
	return NULL;
}

const struct live_process *live_process(const struct live_host *h, const char *group)
{
	for (size_t i = 0; i < h->nprocs; i++)
		if (!strcmp(h->procs[i].group, group))
			return &h->procs[i];
	return NULL;
}

size_t live_unreachable(const struct live *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->hosts.n; i++)
		n += !l->hosts.v[i].reachable;
	return n;
}

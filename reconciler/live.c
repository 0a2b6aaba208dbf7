/* Lookups over the live-state model; see live.h. */
#include "live.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

void live_init(struct live *l)
{
	memset(l, 0, sizeof(*l));
}

void live_release(struct live *l)
{
	vec_release(&l->hosts);
	vec_release(&l->pools);
	vec_release(&l->pool_balancers);
	vec_release(&l->unchecked);
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

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	/* the terminating NUL separates fields */
	return fnv(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}

void live_fingerprint(char out[17], const struct live *l)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < l->hosts.n; i++) {
		const struct live_host *lh = &l->hosts.v[i];

		h = fnv_str(h, lh->name);
		h = fnv_str(h, lh->reachable ? "up" : "down");
		for (size_t j = 0; j < lh->nprocs; j++)
			h = fnv_str(h, lh->procs[j].group);
		for (size_t j = 0; j < lh->nprograms; j++)
			h = fnv_str(h, lh->programs[j].name);
		for (size_t j = 0; j < lh->nports; j++)
			h = fnv(h, &lh->ports[j], sizeof(lh->ports[j]));
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

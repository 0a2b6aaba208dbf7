/* The string hash map; see strmap.h. */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "banned.h"

static uint64_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct strmap_slot *find_slot(const struct strmap *m, const char *key, uint64_t h)
{
	size_t mask = m->alloc - 1, i = (size_t)h & mask;

	while (m->slots[i].key && (m->slots[i].hash != h || strcmp(m->slots[i].key, key)))
		i = (i + 1) & mask;
	return &m->slots[i];
}

void *strmap_get(const struct strmap *m, const char *key)
{
	return m->alloc ? find_slot(m, key, hash_str(key))->value : NULL;
}

static void rehash(struct strmap *m, size_t alloc)
{
	struct strmap old = *m;

	m->slots = xcalloc(alloc, sizeof(*m->slots));
	m->alloc = alloc;
	for (size_t i = 0; i < old.alloc; i++) {
		size_t mask = alloc - 1, j;

		if (!old.slots[i].key)
			continue;
		/* the keys are distinct: the first free slot is the one */
		for (j = (size_t)old.slots[i].hash & mask; m->slots[j].key; j = (j + 1) & mask)
			;
		m->slots[j] = old.slots[i];
	}
	free(old.slots);
}

void *strmap_put(struct strmap *m, const char *key, void *value)
{
	uint64_t h = hash_str(key);
	struct strmap_slot *s;

	if ((m->n + 1) * 4 > m->alloc * 3)
		rehash(m, m->alloc ? st_mult(m->alloc, 2) : 16);
	s = find_slot(m, key, h);
	if (s->key)
		return s->value;
	s->key = key;
	s->value = value;
	s->hash = h;
	m->n++;
	return value;
}

void strmap_release(struct strmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->n = m->alloc = 0;
}

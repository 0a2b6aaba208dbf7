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

static struct strmap_slot *find_slot(const struct strmap *m, const char *key)
{
	size_t mask = m->alloc - 1, i = (size_t)hash_str(key) & mask;

	while (m->slots[i].key && strcmp(m->slots[i].key, key))
		i = (i + 1) & mask;
	return &m->slots[i];
}

void *strmap_get(const struct strmap *m, const char *key)
{
	return m->alloc ? find_slot(m, key)->value : NULL;
}

static void rehash(struct strmap *m, size_t alloc)
{
	struct strmap old = *m;

	m->slots = xcalloc(alloc, sizeof(*m->slots));
	m->alloc = alloc;
	for (size_t i = 0; i < old.alloc; i++)
		if (old.slots[i].key)
			*find_slot(m, old.slots[i].key) = old.slots[i];
	free(old.slots);
}

void *strmap_put(struct strmap *m, const char *key, void *value)
{
	struct strmap_slot *s;

	if ((m->n + 1) * 4 > m->alloc * 3)
		rehash(m, m->alloc ? st_mult(m->alloc, 2) : 16);
	s = find_slot(m, key);
	if (s->key)
		return s->value;
	s->key = key;
	s->value = value;
	m->n++;
	return value;
}

void strmap_release(struct strmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->n = m->alloc = 0;
}

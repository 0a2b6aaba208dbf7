/* The string hash map; see strmap.h. */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "banned.h"

static uint64_t load64(const char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

static uint32_t load32(const char *p)
{
	uint32_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* A multiply carries a bit only upwards: the high half is folded into the
 * low half after each, and once more through a second multiply at the end,
 * since the slot index is taken from the low bits. */
static uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 32);
}

static uint64_t finish(uint64_t h)
{
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 32);
}

/* Eight bytes a step, not one (the keys are paths, identities, names of
 * some twenty bytes, hashed once per lookup); a tail shorter than eight is
 * read as two overlapping halves, and the length goes in first. */
static uint64_t hash_str(const char *s)
{
	size_t n = strlen(s);
	uint64_t h = mix(0, n), w;

	if (n >= 8) {
		for (; n > 8; s += 8, n -= 8)
			h = mix(h, load64(s));
		return finish(mix(h, load64(s + n - 8)));
	}
	if (n >= 4)
		w = load32(s) | (uint64_t)load32(s + n - 4) << 32;
	else if (n)
		w = (unsigned char)s[0] | (unsigned)(unsigned char)s[n / 2] << 8 |
		    (unsigned)(unsigned char)s[n - 1] << 16;
	else
		w = 0;
	return finish(mix(h, w));
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

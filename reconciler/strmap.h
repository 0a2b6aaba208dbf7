/*
 * A string-keyed hash map (open addressing, a multiplicative hash eight
 * bytes at a time). Keys are borrowed: the caller keeps them alive as long
 * as the map, which is how the loader uses it (keys live in the model's
 * arena). The slots' order is the hash's: a caller that walks them and shows
 * what it finds picks by something of its own, not by position.
 */
#ifndef RAPTOR_STRMAP_H
#define RAPTOR_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	const char *key;
	void *value;
	uint64_t hash; /* the key's: a probe passes other keys without strcmp, growth
			  moves keys without hashing them again */
};

struct strmap {
	struct strmap_slot *slots;
	size_t n, alloc; /* alloc is 0 or a power of two */
};

#define STRMAP_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void *strmap_get(const struct strmap *m, const char *key);
/* Inserts key -> value unless the key is present; returns the value now held
 * for key, so `strmap_put(m, k, v) != v` means "k was already there". */
void *strmap_put(struct strmap *m, const char *key, void *value);
void strmap_release(struct strmap *m);

#endif

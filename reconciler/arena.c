/* The bump allocator; see arena.h. */
#include "arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "banned.h"

#define ARENA_CHUNK ((size_t)64 << 10)

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, off;
	alignas(max_align_t) unsigned char data[];
};

void *arena_alloc_raw(struct arena *a, size_t size)
{
	const size_t align = alignof(max_align_t);
	struct arena_chunk *c = a->head;
	void *p;

	size = (size + align - 1) & ~(align - 1);
	if (!c || c->size - c->off < size) {
		size_t n = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;

		c = xmalloc(sizeof(*c) + n);
		c->size = n;
		c->off = 0;
		/* a large block gets its own chunk behind the current one, so
		 * the current chunk's free space is not thrown away */
		if (a->head && n != ARENA_CHUNK) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	p = c->data + c->off;
	c->off += size;
	a->used += size;
	return p;
}

void *arena_alloc(struct arena *a, size_t size)
{
	return memset(arena_alloc_raw(a, size), 0, size);
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc_raw(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

void *arena_memdup(struct arena *a, const void *p, size_t size)
{
	void *q = arena_alloc_raw(a, size);

	if (size)
		memcpy(q, p, size);
	return q;
}

void arena_release(struct arena *a)
{
	struct arena_chunk *c = a->head;

	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->used = 0;
}

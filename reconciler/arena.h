/*
 * A bump allocator for things that live and die together: a parsed YAML
 * document's nodes, a desired model's strings. One arena_release frees all,
 * so no path through the loader can leak a node.
 */
#ifndef RAPTOR_ARENA_H
#define RAPTOR_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	size_t used; /* bytes handed out, for figures */
};

#define ARENA_INIT                                                                                 \
	{                                                                                          \
		NULL, 0                                                                            \
	}

void *arena_alloc(struct arena *a, size_t size); /* zeroed, max-aligned */
/* Not zeroed, max-aligned: for bytes the caller writes whole at once (a
 * string copied in), where zeroing first would be wasted work. */
void *arena_alloc_raw(struct arena *a, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
void *arena_memdup(struct arena *a, const void *p, size_t size);
void arena_release(struct arena *a);

#endif

/*
 * A typed growable array: VEC(struct swarm) declares { v, n, alloc }.
 * Growth is geometric; vec_release frees the array, not what it points to.
 */
#ifndef RAPTOR_VEC_H
#define RAPTOR_VEC_H

#include <stddef.h>
#include <string.h>

#define VEC(T)                                                                                     \
	struct {                                                                                   \
		T *v;                                                                              \
		size_t n, alloc;                                                                   \
	}

/* Makes room for at least `want` elements of `size` bytes in *items. */
void vec_grow_(void **items, size_t *alloc, size_t want, size_t size);

/* Inline, so that a push into room already there (nearly every push) costs
 * no call. */
static inline void vec_reserve_(void **items, size_t *alloc, size_t want, size_t size)
{
	if (want > *alloc)
		vec_grow_(items, alloc, want, size);
}

#define vec_reserve(vp, want)                                                                      \
	vec_reserve_((void **)&(vp)->v, &(vp)->alloc, (want), sizeof(*(vp)->v))
#define vec_push(vp, x) (vec_reserve((vp), (vp)->n + 1), (vp)->v[(vp)->n++] = (x))
/* Appends a zeroed element and returns a pointer to it. */
#define vec_add(vp)                                                                                \
	(vec_reserve((vp), (vp)->n + 1), memset((vp)->v + (vp)->n, 0, sizeof(*(vp)->v)),           \
	 &(vp)->v[(vp)->n++])
#define vec_release(vp) (vec_free_((vp)->v), (vp)->v = NULL, (vp)->n = (vp)->alloc = 0)

void vec_free_(void *p);

#endif

/* Growth for VEC(); see vec.h. */
#include "vec.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "banned.h"

void vec_grow_(void **items, size_t *alloc, size_t want, size_t size)
{
	size_t n;

	if (want <= *alloc)
		return;
	n = *alloc ? *alloc : 8;
	while (n < want)
		n = st_mult(n, 2);
	*items = xrealloc(*items, st_mult(n, size));
	*alloc = n;
}

void vec_free_(void *p)
{
	free(p);
}

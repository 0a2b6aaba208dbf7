/*
 * Allocation that cannot fail quietly: raptor has no useful way to go on
 * without memory, so these print one line and exit, as git's xmalloc does.
 */
#ifndef RAPTOR_XALLOC_H
#define RAPTOR_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Multiplies two sizes, exiting on overflow. */
size_t st_mult(size_t a, size_t b);

#endif

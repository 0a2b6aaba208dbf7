/*
 * Positioned diagnostics: every mistake found in the desired state, as
 * `path:line:col: message`, collected (up to a cap) so one run reports them
 * all, as bgpd's parser does. Lines and columns are 1-based.
 */
#ifndef RAPTOR_DIAG_H
#define RAPTOR_DIAG_H

#include <stdarg.h>
#include <stdio.h>

#include "arena.h"
#include "vec.h"

#define DIAGS_MAX_DEFAULT 100

struct diag {
	const char *file;
	unsigned line, col;
	const char *msg;
	size_t seq; /* order of discovery, to keep sorting stable */
};

struct diags {
	VEC(struct diag) items;
	size_t max, dropped;
	struct arena mem;
};

void diags_init(struct diags *d, size_t max);
void diag_add(struct diags *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void diag_vadd(struct diags *d, const char *file, unsigned line, unsigned col, const char *fmt,
	       va_list ap) __attribute__((format(printf, 5, 0)));
/* Every diagnostic found, including those past the cap. */
size_t diags_count(const struct diags *d);
/* Orders by file, line, column, then discovery. */
void diags_sort(struct diags *d);
void diags_print(const struct diags *d, FILE *out);
void diags_release(struct diags *d);

#endif

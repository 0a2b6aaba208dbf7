/* Positioned diagnostics; see diag.h. */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "banned.h"

void diags_init(struct diags *d, size_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max ? max : DIAGS_MAX_DEFAULT;
}

void diag_vadd(struct diags *d, const char *file, unsigned line, unsigned col, const char *fmt,
	       va_list ap)
{
	struct buf b = BUF_INIT;
	struct diag *g;

	if (d->items.n >= d->max) {
		d->dropped++;
		return;
	}
	buf_vprintf(&b, fmt, ap);
	g = vec_add(&d->items);
	g->file = arena_strdup(&d->mem, file ? file : "");
	g->line = line;
	g->col = col;
	g->msg = arena_strndup(&d->mem, buf_cstr(&b), b.len);
	g->seq = d->items.n;
	buf_release(&b);
}

void diag_add(struct diags *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, file, line, col, fmt, ap);
	va_end(ap);
}

size_t diags_count(const struct diags *d)
{
	return d->items.n + d->dropped;
}

static int diag_cmp(const void *pa, const void *pb)
{
	const struct diag *a = pa, *b = pb;
	int c = strcmp(a->file, b->file);

	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void diags_sort(struct diags *d)
{
	if (d->items.n > 1)
		qsort(d->items.v, d->items.n, sizeof(*d->items.v), diag_cmp);
}

void diags_print(const struct diags *d, FILE *out)
{
	for (size_t i = 0; i < d->items.n; i++) {
		const struct diag *g = &d->items.v[i];

		if (g->line)
			fprintf(out, "%s:%u:%u: %s\n", g->file, g->line, g->col, g->msg);
		else
			fprintf(out, "%s: %s\n", g->file, g->msg);
	}
	if (d->dropped)
		fprintf(out, "... and %zu more error%s not shown\n", d->dropped,
			d->dropped == 1 ? "" : "s");
}

void diags_release(struct diags *d)
{
	vec_release(&d->items);
	arena_release(&d->mem);
	d->dropped = 0;
}

/*
 * Files parsed ahead on worker threads come back to the loader as a
 * one-by-one parse would give them: in file order, each tree whole, each
 * syntax error at its own file and line, a file over the size cap not parsed.
 * One scenario a row; each row is run with the workers it names and with
 * none (parsed on the caller's thread), and both must give the row's
 * expected trees and messages. Stopping before the last file frees what the
 * workers parsed ahead (LeakSanitizer and valgrind watch that).
 */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "source.h"
#include "ydoc_ahead.h"

struct row {
	const char *name;
	unsigned threads;
	size_t files;
	size_t bad_every; /* file i is a syntax error when i % bad_every == 1; 0: none */
	size_t too_big;	  /* file i is over the cap when i == too_big; 0: none */
	size_t take;	  /* files taken before the loader stops */
};

static const struct row rows[] = {
	{"two workers, every file fine", 2, 40, 0, 0, 40},
	{"eight workers, more than there are files", 8, 3, 0, 0, 3},
	{"syntax errors keep their file and line", 4, 30, 7, 0, 30},
	{"a file over the cap is not parsed", 3, 12, 0, 5, 12},
	{"the loader stops early: what was parsed ahead is freed", 4, 50, 9, 0, 6},
	{"one file: no worker is started", 4, 1, 0, 0, 1},
	{"no file taken at all", 2, 20, 0, 0, 0},
};

static void make_source(struct source *src, const struct row *r)
{
	source_init(src);
	for (size_t i = 0; i < r->files; i++) {
		char path[32], text[96];

		snprintf(path, sizeof(path), "f%03zu.yaml", i);
		if (r->too_big && i == r->too_big) {
			source_add(src, path, NULL, SOURCE_MAX_FILE + 1);
			continue;
		}
		if (r->bad_every && i % r->bad_every == 1)
			snprintf(text, sizeof(text), "# file %zu\nk%zu: [\n", i, i);
		else
			snprintf(text, sizeof(text), "k%zu: [%zu, x]\nother: {a: 1}\n", i, i);
		source_add(src, path, text, strlen(text));
	}
}

/* What the row says file i gives, written out the way `walk` writes it. */
static void expected(struct buf *out, const struct row *r, size_t i)
{
	if (r->too_big && i == r->too_big)
		buf_printf(out, "%zu: not parsed\n", i);
	else if (r->bad_every && i % r->bad_every == 1)
		buf_printf(out, "%zu: f%03zu.yaml:3:1: YAML syntax error\n", i, i);
	else
		buf_printf(out, "%zu: map of 2, k%zu = seq of 2, first %zu\n", i, i, i);
}

/* Takes the row's files in order and writes down what each gave. */
static void walk(struct buf *out, const struct source *src, const struct row *r, unsigned threads)
{
	struct ydoc_ahead *a = ydoc_ahead_start(src, threads);

	for (size_t i = 0; i < r->take; i++) {
		struct diags diags;
		struct ydoc doc;
		int rc;

		diags_init(&diags, 0);
		rc = ydoc_ahead_take(a, i, &doc, &diags);
		if (rc < 0 && !diags.items.n) {
			buf_printf(out, "%zu: not parsed\n", i);
		} else if (rc < 0) {
			const struct diag *g = &diags.items.v[0];

			assert_int_equal(diags.items.n, 1);
			assert_non_null(strstr(g->msg, "YAML syntax error"));
			buf_printf(out, "%zu: %s:%u:%u: YAML syntax error\n", i, g->file, g->line,
				   g->col);
		} else {
			const struct ynode *root = doc.root, *k = root->items[0],
					   *v = root->items[1];

			assert_int_equal(diags.items.n, 0);
			assert_int_equal(root->kind, YNODE_MAP);
			assert_int_equal(v->kind, YNODE_SEQ);
			buf_printf(out, "%zu: map of %zu, %s = seq of %zu, first %s\n", i, root->n,
				   k->text, v->n, v->items[0]->text);
			ydoc_release(&doc);
		}
		diags_release(&diags);
	}
	ydoc_ahead_free(a);
}

static void test_rows(void **state)
{
	(void)state;
	for (size_t n = 0; n < ARRAY_SIZE(rows); n++) {
		const struct row *r = &rows[n];
		struct buf want = BUF_INIT, ahead = BUF_INIT, inline_ = BUF_INIT;
		struct source src;

		make_source(&src, r);
		for (size_t i = 0; i < r->take; i++)
			expected(&want, r, i);
		walk(&ahead, &src, r, r->threads);
		walk(&inline_, &src, r, 1);
		if (strcmp(buf_cstr(&want), buf_cstr(&ahead)) ||
		    strcmp(buf_cstr(&want), buf_cstr(&inline_)))
			fail_msg("%s:\nwant:\n%s\nahead:\n%s\ninline:\n%s", r->name,
				 buf_cstr(&want), buf_cstr(&ahead), buf_cstr(&inline_));
		buf_release(&want);
		buf_release(&ahead);
		buf_release(&inline_);
		source_release(&src);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The toolkit: capped buffer, vector, arena, string map, units, suggestions. */
#include "unit.h"

#include <string.h>

#include "arena.h"
#include "buf.h"
#include "diag.h"
#include "error.h"
#include "strmap.h"
#include "suggest.h"
#include "units.h"
#include "vec.h"

static void test_buf_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "1234"), 0);
	assert_int_equal(buf_printf(&b, "%d", 567), 0);
	assert_string_equal(buf_cstr(&b), "1234567");
	/* refused whole: nothing of it is appended */
	assert_int_equal(buf_puts(&b, "89"), -1);
	assert_string_equal(buf_cstr(&b), "1234567");
	assert_int_equal(buf_putc(&b, '8'), 0);
	assert_int_equal(buf_putc(&b, '9'), -1);
	assert_int_equal(b.len, 8);
	buf_release(&b);
	assert_null(b.ptr);
}

static void test_buf_printable(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_string_equal(buf_cstr(&b), "");
	buf_add_printable(&b, "a\nb\tc\x01", 6);
	assert_string_equal(b.ptr, "a\\nb\\tc\\x01");
	buf_release(&b);
}

static void test_vec(void **state)
{
	VEC(int) v = {0};

	(void)state;
	for (int i = 0; i < 1000; i++)
		vec_push(&v, i * 2);
	assert_int_equal(v.n, 1000);
	assert_int_equal(v.v[999], 1998);
	*vec_add(&v) = 7;
	assert_int_equal(v.v[1000], 7);
	vec_release(&v);
	assert_null(v.v);
	assert_int_equal(v.n, 0);
}

static void test_arena(void **state)
{
	struct arena a = ARENA_INIT;
	char *big;

	(void)state;
	for (int i = 0; i < 10000; i++)
		assert_string_equal(arena_strdup(&a, "hello"), "hello");
	big = arena_alloc(&a, 1 << 20);
	assert_int_equal(big[12345], 0);
	assert_true(a.used >= (1 << 20));
	arena_release(&a);
}

static void test_strmap(void **state)
{
	struct strmap m = STRMAP_INIT;
	char keys[500][16];
	int vals[500];

	(void)state;
	for (int i = 0; i < 500; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		vals[i] = i;
		assert_ptr_equal(strmap_put(&m, keys[i], &vals[i]), &vals[i]);
	}
	assert_int_equal(m.n, 500);
	assert_ptr_equal(strmap_put(&m, "k7", &vals[0]), &vals[7]);
	assert_ptr_equal(strmap_get(&m, "k499"), &vals[499]);
	assert_null(strmap_get(&m, "k500"));
	strmap_release(&m);
}

struct duration_row {
	const char *in;
	int rc;
	uint64_t ms;
	const char *msg; /* substring of the error */
};

static const struct duration_row duration_rows[] = {
	{"500ms", 0, 500, NULL},
	{"10s", 0, 10000, NULL},
	{"5m", 0, 300000, NULL},
	{"2h", 0, 7200000, NULL},
	{"1m30s", 0, 90000, NULL},
	{"0s", 0, 0, NULL},
	{"", -1, 0, "empty duration"},
	{"10", -1, 0, "has no unit: write 10s"},
	{"1.5s", -1, 0, "has a fraction"},
	{"-1s", -1, 0, "has a sign"},
	{"10x", -1, 0, "unknown unit"},
	{"s", -1, 0, "is not a duration"},
	{"10 s", -1, 0, "unknown unit"},
	{"99999999999999999999s", -1, 0, "too large"},
	{"99999999999999999s", -1, 0, "too large"},
};

static void test_durations(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(duration_rows); i++) {
		const struct duration_row *r = &duration_rows[i];
		struct error err = ERROR_INIT;
		uint64_t ms = 12345;
		int rc = duration_parse(&ms, r->in, &err);

		if (rc != r->rc)
			fail_msg("row %zu '%s': rc %d, want %d (%s)", i, r->in, rc, r->rc,
				 error_msg(&err));
		if (!r->rc)
			assert_int_equal(ms, r->ms);
		else if (!strstr(error_msg(&err), r->msg))
			fail_msg("row %zu '%s': message '%s' lacks '%s'", i, r->in, error_msg(&err),
				 r->msg);
		error_release(&err);
	}
}

static void test_duration_format(void **state)
{
	static const struct {
		uint64_t ms;
		const char *out;
	} rows[] = {{0, "0s"}, {500, "500ms"}, {2000, "2s"}, {90000, "1m30s"}, {3600001, "1h1ms"}};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct buf b = BUF_INIT;
		struct error err = ERROR_INIT;
		uint64_t back;

		duration_format(&b, rows[i].ms);
		assert_string_equal(b.ptr, rows[i].out);
		assert_int_equal(duration_parse(&back, b.ptr, &err), 0);
		assert_int_equal(back, rows[i].ms);
		buf_release(&b);
		error_release(&err);
	}
}

static const struct {
	const char *in;
	int rc;
	uint64_t bytes;
	const char *msg;
} size_rows[] = {
	{"512", 0, 512, NULL},	       {"4MiB", 0, 4 << 20, NULL},
	{"64KiB", 0, 64 << 10, NULL},  {"1G", 0, 1 << 30, NULL},
	{"10B", 0, 10, NULL},	       {"", -1, 0, "empty size"},
	{"1.5MiB", -1, 0, "fraction"}, {"4XB", -1, 0, "unknown unit"},
	{"MiB", -1, 0, "not a size"},  {"99999999999999GiB", -1, 0, "too large"},
};

static void test_sizes(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(size_rows); i++) {
		struct error err = ERROR_INIT;
		uint64_t bytes = 0;
		int rc = size_parse(&bytes, size_rows[i].in, &err);

		if (rc != size_rows[i].rc)
			fail_msg("row %zu '%s': rc %d (%s)", i, size_rows[i].in, rc,
				 error_msg(&err));
		if (!rc)
			assert_int_equal(bytes, size_rows[i].bytes);
		else
			assert_non_null(strstr(error_msg(&err), size_rows[i].msg));
		error_release(&err);
	}
}

static void test_size_format(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	size_format(&b, 4 << 20);
	assert_string_equal(b.ptr, "4 MiB");
	buf_reset(&b);
	size_format(&b, (4 << 20) + (1 << 19));
	assert_string_equal(b.ptr, "4.5 MiB");
	buf_reset(&b);
	size_format(&b, 1);
	assert_string_equal(b.ptr, "1 byte");
	buf_release(&b);
}

static void test_suggest(void **state)
{
	static const char *const keys[] = {"app",   "version", "config", "proc",
					   "squad", "size",    "command"};

	(void)state;
	assert_int_equal(edit_distance("szie", "size", 3), 1);
	assert_int_equal(edit_distance("kitten", "sitting", 5), 3);
	assert_string_equal(suggest("szie", keys, ARRAY_SIZE(keys)), "size");
	assert_string_equal(suggest("comand", keys, ARRAY_SIZE(keys)), "command");
	assert_string_equal(suggest("verison", keys, ARRAY_SIZE(keys)), "version");
	assert_null(suggest("routing", keys, ARRAY_SIZE(keys)));
	assert_null(suggest("x", keys, 0));
}

static void test_error_and_diags(void **state)
{
	struct error err = ERROR_INIT;
	struct diags d;

	(void)state;
	assert_string_equal(error_msg(&err), "unknown error");
	assert_int_equal(error_set(&err, "cannot open %s", "x"), -1);
	error_prefix(&err, "reading %s: ", "repo");
	assert_string_equal(error_msg(&err), "reading repo: cannot open x");
	error_release(&err);

	diags_init(&d, 2);
	diag_add(&d, "b.yaml", 3, 1, "third");
	diag_add(&d, "a.yaml", 9, 2, "first");
	diag_add(&d, "a.yaml", 1, 1, "dropped past the cap");
	assert_int_equal(d.items.n, 2);
	assert_int_equal(diags_count(&d), 3);
	diags_sort(&d);
	assert_string_equal(d.items.v[0].file, "a.yaml");
	assert_string_equal(d.items.v[1].msg, "third");
	diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_printable),
		cmocka_unit_test(test_vec),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_strmap),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_size_format),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_error_and_diags),
	};
	return cmocka_run_group_tests_name("toolkit", tests, NULL, NULL);
}

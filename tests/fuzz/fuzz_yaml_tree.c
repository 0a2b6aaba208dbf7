/*
 * Fuzz target: a small desired-state tree through the real loader, so the
 * rules that span files run (keys merged across files, a settings key set
 * twice, a swarm, squad, balancer or host defined in two places).
 *
 * The input is up to FILES files, each ended by a line "---FILE---" (the last
 * needs none); they get fixed paths at several depths and are sorted as the
 * directory and git readers sort them. An empty piece is an empty file, which
 * the loader reports.
 *
 * One property is checked besides the sanitizers: which file says what
 * changes nothing but positions (desired.h). A tree that loads is loaded
 * again with the paths handed out in reverse, so the files are read in the
 * other order; it must load too, and dump the same model.
 */
#include "fuzz.h"

#include "desired_load.h"
#include "xalloc.h"
#include "banned.h"

#define SEP "\n---FILE---\n"
#define FILES 5

static const char *const paths[FILES] = {"a.yaml", "dir/b.yml", "dir/sub/c.yaml", "e.yaml",
					   "z.yml"};

struct piece {
	const char *p;
	size_t len;
};

static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sink = fopen("/dev/null", "w");
	if (!sink)
		abort();
	return 0;
}

/* memmem is a GNU extension; the project builds as plain POSIX */
static const char *find(const char *p, size_t n, const char *needle, size_t m)
{
	for (size_t i = 0; n >= m && i <= n - m; i++)
		if (p[i] == needle[0] && !memcmp(p + i, needle, m))
			return p + i;
	return NULL;
}

static size_t split(struct piece *out, const char *p, size_t size)
{
	const char *end = p + size;
	size_t n = 0;

	while (n < FILES) {
		const char *cut = n + 1 < FILES ? find(p, (size_t)(end - p), SEP, strlen(SEP)) : NULL;

		out[n].p = p;
		out[n].len = cut ? (size_t)(cut - p) : (size_t)(end - p);
		n++;
		if (!cut)
			break;
		p = cut + strlen(SEP);
	}
	return n;
}

/* Loads the pieces, piece i at paths[i], or at paths[n - 1 - i] when reversed;
 * on success `dump` gets the canonical model. */
static int load(const struct piece *pieces, size_t n, bool reversed, struct buf *dump)
{
	struct source src;
	struct desired d;
	struct diags diags;
	int rc;

	source_init(&src);
	src.root = xstrdup("fuzz");
	for (size_t i = 0; i < n; i++)
		source_add(&src, paths[reversed ? n - 1 - i : i], pieces[i].p, pieces[i].len);
	source_sort(&src);
	diags_init(&diags, 0);
	rc = desired_load(&d, &src, &diags);
	if (rc < 0) {
		diags_sort(&diags);
		diags_print(&diags, sink);
	} else {
		struct desired_counts counts;

		desired_releases(&d);
		desired_count(&d, &counts);
		desired_dump(dump, &d);
	}
	desired_release(&d);
	diags_release(&diags);
	source_release(&src);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct piece pieces[FILES];
	struct buf first = BUF_INIT, again = BUF_INIT;
	size_t n = split(pieces, (const char *)data, size);

	if (load(pieces, n, false, &first) == 0 && n > 1) {
		int rc = load(pieces, n, true, &again);

		FUZZ_CHECK(rc == 0, "the tree loads, but not with its files read in reverse order");
		FUZZ_CHECK(first.len == again.len && !memcmp(first.ptr, again.ptr, first.len),
			   "the model depends on the order of the files:\n%s\n---\n%s",
			   buf_cstr(&first), buf_cstr(&again));
	}
	buf_release(&first);
	buf_release(&again);
	return 0;
}

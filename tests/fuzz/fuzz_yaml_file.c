/*
 * Fuzz target: one desired-state file through the real loader, as `raptor
 * validate` reads it (source -> desired_load -> sorted, printed diagnostics),
 * and, when it loads, what plan does next: every swarm's release hash, the
 * counts and the canonical dump.
 */
#include "fuzz.h"

#include "desired_load.h"
#include "xalloc.h"
#include "banned.h"

/* diagnostics are formatted for real, then thrown away */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct source src;
	struct desired d;
	struct diags diags;

	source_init(&src);
	src.root = xstrdup("fuzz");
	/* no NUL added: the loader gets the bytes and their length, as from a file */
	source_add(&src, "a.yaml", (const char *)data, size);
	diags_init(&diags, 0);
	if (desired_load(&d, &src, &diags) < 0) {
		diags_sort(&diags);
		diags_print(&diags, sink);
	} else {
		struct desired_counts counts;
		struct buf dump = BUF_INIT;

		desired_releases(&d);
		desired_count(&d, &counts);
		desired_dump(&dump, &d);
		buf_release(&dump);
	}
	desired_release(&d);
	diags_release(&diags);
	source_release(&src);
	return 0;
}

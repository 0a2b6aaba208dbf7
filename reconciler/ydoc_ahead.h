/*
 * A source's YAML files parsed ahead on worker threads, handed to the loader
 * in file order. libyaml's scanner is most of what `validate` costs, and the
 * files of a desired-state repository are independent until the loader walks
 * them, so each is parsed on whichever core is free while the loader reads
 * the one before it. The loader still takes the trees one at a time, in
 * order, on its own thread, so its messages and its model are exactly those
 * of a one-by-one load. Parsed trees wait in a bounded window: memory is a
 * few files' trees, not the repository's.
 */
#ifndef RAPTOR_YDOC_AHEAD_H
#define RAPTOR_YDOC_AHEAD_H

#include <stddef.h>

#include "diag.h"
#include "source.h"
#include "ydoc.h"

#define YDOC_AHEAD_THREADS 8 /* workers at most; fewer on a machine with fewer cores */

struct ydoc_ahead;

/* Starts parsing `src`'s files (which must outlive the parse) on up to
 * `threads` workers; 0 means one per online core. With one file, or one
 * core, nothing is started and ydoc_ahead_take parses on the caller's thread. */
struct ydoc_ahead *ydoc_ahead_start(const struct source *src, unsigned threads);

/*
 * The parse of file `i` (taken in order: 0, 1, 2, ...), as ydoc_parse
 * gives it: 0 and the tree in `doc`, or -1 with its diagnostic added to
 * `diags`. A file over the source's size cap is not parsed: -1, nothing added.
 */
int ydoc_ahead_take(struct ydoc_ahead *a, size_t i, struct ydoc *doc, struct diags *diags);

/* Stops the workers (finishing the parses they are in) and frees. */
void ydoc_ahead_free(struct ydoc_ahead *a);

#endif

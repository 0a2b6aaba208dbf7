/*
 * The state directory (DESIGN.md §5): what raptor remembers between runs.
 * Today: the record of every host raptor has managed (`hosts.json`), so a
 * host removed from every squad is still asked, shown and later cleaned.
 * The apply work adds the lock, the journal and the writer of this record.
 */
#ifndef RAPTOR_STATE_H
#define RAPTOR_STATE_H

#include <stddef.h>

#include "arena.h"
#include "error.h"
#include "vec.h"

struct state_host {
	const char *name, *address, *url;
};

typedef VEC(struct state_host) state_hosts;

/* Reads STATE/hosts.json into `out` (strings in `mem`); a missing file or
 * directory is an empty record, a malformed one an error. */
int state_hosts_read(state_hosts *out, struct arena *mem, const char *dir, struct error *err);

#endif

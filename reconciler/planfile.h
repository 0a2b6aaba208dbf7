/*
 * Plan files: `raptor plan --out PLANFILE` writes the plan's JSON document
 * (schema/plan.schema.json) with the fingerprint of the live state it was
 * made from; `raptor apply PLANFILE` applies it only as it was made. The
 * check is pure (text in, verdict out), so it is fuzzed directly.
 */
#ifndef RAPTOR_PLANFILE_H
#define RAPTOR_PLANFILE_H

#include <stddef.h>

#include "error.h"
#include "live.h"
#include "planner.h"

/* A plan file is read whole, and refused beyond this. */
#define PLANFILE_MAX ((size_t)64 << 20)

/* 0 when the document `text` (named `name` in messages) was made from the
 * live state `l` (the same fingerprint) and holds the same actions as `p`,
 * planned again now; -1 with the reason otherwise (not JSON, another live
 * state, another desired state, action N differs). */
int planfile_check(const char *text, size_t len, const char *name, const struct plan *p,
		   const struct live *l, struct error *err);

#endif

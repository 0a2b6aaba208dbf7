/*
 * Loading a desired state: every file of a source parsed into one model
 * (desired_load.c), then the semantic pass over the whole (desired_check.c).
 */
#ifndef RAPTOR_DESIRED_LOAD_H
#define RAPTOR_DESIRED_LOAD_H

#include "desired.h"
#include "diag.h"
#include "source.h"

/* Fills `d` from `src` (d needs no init; release it whatever the result).
 * Returns 0, or -1 when `diags` holds at least one error. */
int desired_load(struct desired *d, const struct source *src, struct diags *diags);
/* The semantic pass: defaults that depend on other files, canonical order,
 * and every rule that spans keys, swarms or files. */
void desired_check(struct desired *d, struct diags *diags);
/* Calls fn for every (table, key) the loader accepts; tables are named as in
 * schema/desired-state.schema.json's $defs ("root" for the top level). */
void desired_schema_walk(void (*fn)(void *ctx, const char *table, const char *key), void *ctx);

#endif

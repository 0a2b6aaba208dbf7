/*
 * `raptor plan` output: text an operator reads at a glance (grouped by
 * swarm: + start, - stop, ~ pool change, each with its reason; unreachable
 * hosts and unmanaged programs called out; a closing summary line) and the
 * JSON document of schema/plan.schema.json for programs and PLANFILEs.
 */
#ifndef RAPTOR_RENDER_PLAN_H
#define RAPTOR_RENDER_PLAN_H

#include <jansson.h>
#include <stdio.h>

#include "desired.h"
#include "live.h"
#include "planner.h"
#include "source.h"

void render_plan_text(FILE *f, const struct plan *p, const struct desired *d, const struct live *l);
/* A new JSON document; the caller json_decref()s it. */
json_t *render_plan_json(const struct plan *p, const struct live *l, const struct source *src);

#endif

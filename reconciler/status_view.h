/*
 * What `raptor status` shows of one program: a supervisord process or a
 * managed program file not loaded yet, with what raptor knows of it (owned
 * or not, swarm, port). Built once from the live model, rendered as text for
 * people or JSON for programs (render_status.c).
 */
#ifndef RAPTOR_STATUS_VIEW_H
#define RAPTOR_STATUS_VIEW_H

#include <stdbool.h>
#include <stdio.h>

#include "arena.h"
#include "live.h"
#include "planner.h"
#include "source.h"

struct status_program {
	const char *name, *state;
	bool managed;
	const char *swarm; /* app/config/proc@squad, or NULL where unknown */
	const char *klass; /* current, stale, excess, orphan, unmanaged; NULL if not classified */
	int port;	   /* 0: none known */
	int pid;
};

struct status_host {
	const struct live_host *live;
	struct status_program *programs;
	size_t nprograms, managed, unmanaged;
};

struct status_view {
	struct status_host *hosts;
	size_t nhosts;
	struct arena mem;
};

/* `p` (may be NULL) is the plan made from the same live state: its entries
 * give each managed program its class. */
void status_view_build(struct status_view *v, const struct live *l, const struct plan *p);
void status_view_release(struct status_view *v);

void render_status_text(FILE *f, const struct status_view *v);
int render_status_json(FILE *f, const struct status_view *v, const struct source *src);

#endif

/*
 * Fleet fan-out: every host asked at once (at most `concurrency` at a time)
 * through one curl multi handle, in one round trip each: a system.multicall
 * of supervisor.getAllProcessInfo, raptor.getAPIVersion, raptor.listPrograms
 * and raptor.listeningPorts. Each host's answer stands alone: reachable with
 * its data, or unreachable with the reason in words. Nothing here waits on
 * a host past its connect and request timeouts.
 */
#ifndef RAPTOR_FLEET_H
#define RAPTOR_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "desired.h"
#include "error.h"
#include "live.h"
#include "vec.h"
#include "xmlrpc.h"

#define RAPTOR_PLUGIN_API 2

struct fleet_decoders;

struct fleet_target {
	const char *name, *address, *squad, *url;
};

typedef VEC(struct fleet_target) fleet_targets;

struct fleet_opts {
	const char *credentials; /* env:/file: reference or NULL */
	const char *ca_file;
	const char *unix_socket;
	uint64_t connect_ms, request_ms;
	size_t concurrency;
};

/* The hosts of the desired squads (all, or those named in `squads`), then
 * the `extra` hosts (the state record's) that no squad lists. */
void fleet_targets_build(fleet_targets *out, const struct desired *d, const char *const *squads,
			 size_t nsquads, const struct fleet_target *extra, size_t nextra);
void fleet_opts_from_settings(struct fleet_opts *o, const struct settings *s);
/* Asks every target; fills `out` in target order. -1 only when the query
 * cannot run at all (credentials unreadable, transport failure). */
int fleet_query(struct live *out, const struct fleet_target *targets, size_t n,
		const struct fleet_opts *o, struct error *err);

/* One host's batch of XML-RPC calls, sent as one system.multicall. */
struct fleet_call {
	const char *method;
	struct xr_value **params;
	size_t nparams;
	/* filled by fleet_call_run: */
	const struct xr_value *result; /* NULL on a fault or a failed batch */
	int fault_code;		       /* 0: none */
	const char *fault;	       /* the fault's text, or the batch's failure */
};

struct fleet_batch {
	const char *host, *url;
	struct fleet_call *calls;
	size_t ncalls;
	/* filled by fleet_call_run: */
	const char *error; /* the whole batch failed (unreachable, malformed answer) */
	double seconds;
	struct xr_response resp; /* holds the results; fleet_batch_release frees it */
	struct arena mem;
	/* optional: called as soon as this batch's answer is in (or it failed),
	 * so that a large fleet's answers need not all be held at once */
	void (*done)(struct fleet_batch *b, void *ctx);
	void *done_ctx;
	struct fleet_decoders *decoders; /* fleet_call_run's own */
};

struct xr_value;
/* Sends every batch at once, one round trip per host; each call's result or
 * fault lands in its fleet_call. -1 only when nothing could be sent. The
 * answers are decoded on worker threads; `done` callbacks run one at a
 * time, on whichever thread decoded, all before this returns. */
int fleet_call_run(struct fleet_batch *batches, size_t n, const struct fleet_opts *o,
		   struct error *err);
void fleet_batch_release(struct fleet_batch *b);

#endif

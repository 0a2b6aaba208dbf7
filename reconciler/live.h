/*
 * The live-state model: what each host's supervisord really runs, as the
 * fleet query found it (fleet.c). Per host: whether it answered and why not,
 * its processes (supervisor.getAllProcessInfo), the program files raptor
 * owns there with their metadata (raptor.listPrograms), and its listening
 * TCP ports (raptor.listeningPorts); the balancers' pool files as they
 * are; and the instances an apply started and never saw healthy (the state
 * directory's unchecked.json), which the planner checks again rather than
 * trusts. Strings live in the model's arena.
 */
#ifndef RAPTOR_LIVE_H
#define RAPTOR_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "vec.h"

/* supervisord's process states (supervisor/states.py) */
enum proc_state {
	PROC_STOPPED = 0,
	PROC_STARTING = 10,
	PROC_RUNNING = 20,
	PROC_BACKOFF = 30,
	PROC_STOPPING = 40,
	PROC_EXITED = 100,
	PROC_FATAL = 200,
	PROC_UNKNOWN = 1000,
};

struct live_process {
	const char *name, *group, *statename, *spawnerr, *description;
	int state, pid, exitstatus;
	int64_t start, stop, now;
};

struct meta_kv {
	const char *key, *value;
};

/* A program file in the plugin's directory: raptor created it. */
struct live_program {
	const char *name, *file;
	int64_t mtime;
	struct meta_kv *meta;
	size_t nmeta;
};

struct live_host {
	const char *name, *address, *url;
	const char *squad; /* NULL: known only from the state record */
	bool reachable;
	const char *error; /* why not, in words */
	struct live_process *procs;
	size_t nprocs;
	struct live_program *programs;
	size_t nprograms;
	int *ports;
	size_t nports;
	double seconds; /* the round trip */
};

/* A balancer pool as its file is now: who really gets the traffic. */
struct live_pool {
	const char *balancer, *pool;
	const char **nodes; /* "address:port", sorted */
	size_t n;
};

/* An instance an apply started (or started again) and never saw healthy:
 * its process may run, but nobody checked it (the apply was killed). */
struct live_unchecked {
	const char *host, *program;
};

struct live {
	VEC(struct live_host) hosts;
	VEC(struct live_pool) pools; /* the pool files of the balancers below */
	VEC(const char *)
	pool_balancers; /* those whose include_dir could be read; for
			   the others the planner goes by metadata */
	/* on any host; an entry for a program not live is ignored */
	VEC(struct live_unchecked) unchecked;
	struct arena mem;
};

void live_init(struct live *l);
void live_release(struct live *l);
/* The value of `key` in a program's metadata, or NULL. */
const char *live_meta(const struct live_program *p, const char *key);
/* The managed program of that name on the host, or NULL (unmanaged). */
const struct live_program *live_program(const struct live_host *h, const char *name);
/* The process of a program (its group), or NULL when supervisord has not loaded it. */
const struct live_process *live_process(const struct live_host *h, const char *group);
size_t live_unreachable(const struct live *l);
/* 16 hex digits over what a plan depends on: each host's reachability, its
 * programs (managed and not) and its listening ports. `apply PLANFILE`
 * refuses a plan whose fingerprint no longer matches the fleet. */
void live_fingerprint(char out[17], const struct live *l);

#endif

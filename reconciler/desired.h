/*
 * The desired-state model (DESIGN.md §3): what the operator's YAML says
 * should run. Built by the loader (desired_load.c), checked by the semantic
 * pass (desired_check.c), read by everything after. All strings and small
 * arrays live in the model's arena; the three top-level lists are vectors.
 * After loading, lists are in a canonical order (squads and balancers by
 * name, swarms by identity, env by name), so which file said what changes
 * nothing but the recorded positions.
 */
#ifndef RAPTOR_DESIRED_H
#define RAPTOR_DESIRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "vec.h"

enum scheme { SCHEME_HTTP, SCHEME_HTTPS, SCHEME_UNIX };
enum on_unreachable { ON_UNREACHABLE_REPLACE, ON_UNREACHABLE_WAIT };
enum port_mode { PORT_AUTO, PORT_NONE };
/* Programs raptor did not create that a swarm counts as its own until it has
 * replaced them (the migration from Velociraptor). */
enum adopt_mode { ADOPT_NONE, ADOPT_VELOCIRAPTOR };
enum balancer_type { BALANCER_NGINX };

/* Where something was written: file relative to the repository root. */
struct pos {
	const char *file;
	unsigned line, col;
};

struct strv {
	char **v;
	size_t n;
};

struct port_range {
	int first, last;
	struct pos pos;
};

/* A count or a percentage of a swarm's size (rollout limits). */
struct amount {
	int value;
	bool percent;
};

struct supervisor_settings {
	int port;
	char *path;
	int scheme; /* enum scheme */
	char *socket;
	char *credentials; /* "env:NAME" or "file:/path", never a secret itself */
	char *ca_file;	   /* CA bundle for https, or NULL for the system's */
	struct pos scheme_pos, socket_pos;
};

struct timeouts {
	uint64_t connect_ms, request_ms;
};

struct settings {
	struct supervisor_settings supervisor;
	struct port_range ports;
	struct timeouts timeouts;
	int concurrency;
};

struct host {
	char *name;
	char *address;	  /* for routing and the supervisor URL; defaults to name */
	char *supervisor; /* the operator's full URL override, or NULL */
	char *url;	  /* the supervisor URL raptor will use */
	struct pos pos;
};

struct squad {
	char *name;
	struct host *hosts;
	size_t nhosts;
	struct port_range ports; /* the squad's own, or the settings' */
	bool own_ports;
	int on_unreachable; /* enum on_unreachable */
	struct pos pos;
};

struct balancer {
	char *name;
	int type; /* enum balancer_type */
	char *include_dir;
	struct strv test, reload;
	uint64_t drain_ms;
	struct pos pos;
};

struct env_var {
	char *name, *value;
};

struct routing {
	char *balancer, *pool;
	struct pos pos, balancer_pos;
};

struct health {
	bool tcp;
	char *http;
	struct strv *uptests; /* each an argv; HOST PORT are appended when run */
	size_t nuptests;
	uint64_t timeout_ms;
	struct pos tcp_pos, http_pos;
};

struct rollout {
	struct amount max_surge, max_unavailable;
	struct pos pos;
};

struct swarm {
	char *app, *version, *config, *proc, *squad;
	int size;
	char *command;
	struct env_var *env;
	size_t nenv;
	char *user, *directory;
	int port; /* enum port_mode */
	bool routed;
	struct routing routing;
	struct health health;
	struct rollout rollout;
	int adopt;	 /* enum adopt_mode */
	char *identity;	 /* app/config/proc@squad */
	char release[9]; /* release_hash(), once desired_releases() ran; "" before */
	struct pos pos, squad_pos, command_pos, port_pos;
};

struct desired {
	struct settings settings;
	VEC(struct squad) squads;
	VEC(struct balancer) balancers;
	VEC(struct swarm) swarms;
	char *source; /* the directory or repository it was read from */
	char *commit; /* the commit id when read from git, else NULL */
	size_t files; /* how many YAML files were read */
	struct arena mem;
};

/* Fills every swarm's release hash: the commands that plan call it once
 * after loading (validate has no use for it, and it is most of the cost of
 * a large desired state after parsing). */
void desired_releases(struct desired *d);

/* Counts for the one-line summary of `validate`. */
struct desired_counts {
	size_t squads, hosts, balancers, swarms, pools, instances;
};

void desired_init(struct desired *d);
void desired_release(struct desired *d);
const struct squad *desired_squad(const struct desired *d, const char *name);
const struct balancer *desired_balancer(const struct desired *d, const char *name);
/* The swarm of that identity (app/config/proc@squad), or NULL. */
const struct swarm *desired_has(const struct desired *d, const char *identity);
void desired_count(const struct desired *d, struct desired_counts *out);
/* A canonical text form of the model without positions: two loads of the
 * same desired state, however it is split into files, dump the same. */
void desired_dump(struct buf *out, const struct desired *d);
/* Builds "app/config/proc@squad" in `out` (fields may be NULL: shown as ?). */
void swarm_identity(struct buf *out, const char *app, const char *config, const char *proc,
		    const char *squad);

#endif

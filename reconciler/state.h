/*
 * The state directory (DESIGN.md §5): what raptor remembers between runs.
 *   hosts.json     every host raptor has managed, so a host removed from every
 *                  squad is still asked, shown and later cleaned;
 *   lock           held by the one apply that may run on this directory;
 *   journal.jsonl  one JSON line for everything apply did, appended;
 *   last.json      the outcome of the last apply;
 *   unchecked.json the instances an apply started and has not yet seen
 *                  healthy, so that a rerun after a crash checks them again
 *                  instead of trusting them.
 * Whole files are only ever replaced atomically, the journal only appended to,
 * so a crash at any instant leaves each file either old or new, never half.
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

/* Every file of the state directory is written this way: a temporary file in
 * the same directory, write, fsync, rename over the target, fsync the
 * directory. A reader never sees half a file; a full disk or a read-only
 * directory is an error naming the path, and leaves the old file as it was
 * and no temporary file behind. A file that exists keeps its permission bits;
 * a new one gets 0640. */
int state_write_atomic(const char *path, const void *data, size_t len, struct error *err);

/* A held state lock; `path` is NULL when none is held. */
struct state_lock {
	int fd;
	char *path;
};

/* Creates DIR (and missing parents, mode 0750) and takes an exclusive
 * flock(2) on DIR/lock without waiting, so the lock can never outlive its
 * holder: the kernel drops it when the process exits or dies. The holder
 * writes "pid PID host HOSTNAME started ISO8601-UTC" into the lock file. When
 * another process (or another state_lock in this one) holds it: -1 and
 * "another raptor apply holds the state lock DIR/lock: pid 123 on host web1
 * since 2026-...; wait for it to finish". The holder also removes the
 * temporary files of records that a writer killed half-way left behind. */
int state_lock(struct state_lock *out, const char *dir, struct error *err);
/* Releases and closes; the file stays (its content is harmless). Safe on a
 * lock that state_lock failed to take, and twice. */
void state_unlock(struct state_lock *l);

struct journal_entry {
	const char *op; /* "start", "stop", "route", "check", "apply" ... */
	const char *host, *program, *swarm, *pool; /* may be NULL */
	const char *result;			   /* "ok", "failed", "skipped" */
	const char *error;			   /* NULL when ok */
	const char *commit;			   /* desired-state commit or NULL */
	const char *detail; /* what else happened, in words (written only when set) */
	double seconds;
};

/* Appends one JSON line to DIR/journal.jsonl: {"time" (ISO 8601 UTC with
 * milliseconds), "op", "host", "program", "swarm", "pool", "result", "error",
 * "commit", "seconds"} and "detail" when set, null for NULL fields, with one write(2), then fsync.
 * Text that is not UTF-8 (a host's error message) is kept with U+FFFD in
 * place of the bad bytes rather than lost. */
int state_journal(const char *dir, const struct journal_entry *e, struct error *err);

/* Writes DIR/hosts.json (format_version 1, as state_hosts_read reads it)
 * atomically, sorted by name; of hosts with the same name the first given
 * wins, so put the fresh ones before the recorded ones. */
int state_hosts_write(const char *dir, const struct state_host *hosts, size_t n, struct error *err);

/* Writes DIR/last.json atomically: {"format_version": 1, "commit": commit or
 * null, "outcome": outcome, "time": ISO 8601 UTC, "summary": {"started": N,
 * "stopped": N, "failed": N}}. */
int state_last_write(const char *dir, const char *commit, const char *outcome, size_t started,
		     size_t stopped, size_t failed, struct error *err);
/* The commit of DIR/last.json when its outcome is "converged" (free it): 0;
 * -1 and NULL when there is none. */
int state_last_converged(char **commit, const char *dir);

/* One instance on one host, by its program name. */
struct state_instance {
	const char *host, *program;
};

typedef VEC(struct state_instance) state_instances;

/* STATE/unchecked.json: {"format_version": 1, "instances": [{"host",
 * "program"}]}. apply adds a wave's instances before it touches a host and
 * takes out those that passed their checks (or were taken back) after:
 * whatever a crash leaves in it was started and never seen healthy.
 * Reading appends to `out` (strings in `mem`); a missing file or directory
 * is an empty set, a malformed one an error naming the file (and `out` as it
 * was). */
int state_unchecked_read(state_instances *out, struct arena *mem, const char *dir,
			 struct error *err);
/* Writes the set atomically, sorted by host and program, each once. */
int state_unchecked_write(const char *dir, const struct state_instance *v, size_t n,
			  struct error *err);

#endif

/*
 * Balancers (DESIGN.md §3, §5 route phase): one nginx pool is one file,
 * include_dir/POOL.conf, holding `upstream POOL { server ADDR:PORT; ... }`.
 * A pool is brought to a set of nodes by rewriting its file atomically, then
 * running the balancer's `test` and `reload` commands; a failure puts every
 * file back as it was, so nginx keeps serving the old pools.
 *
 * Commands run through child.h: without a shell, in their own process group,
 * with stdin from /dev/null, stdout+stderr captured and raptor's environment
 * without the variables the caller names (the supervisor credentials'); at
 * the time limit the whole group is killed. They are always reaped.
 */
#ifndef RAPTOR_BALANCER_H
#define RAPTOR_BALANCER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "desired.h"
#include "error.h"

/* How long `test` and `reload` may take before their process group is killed. */
#define BALANCER_COMMAND_TIMEOUT_MS 30000

struct pool_update {
	const char *pool;	  /* identifier: [A-Za-z0-9_.]+ */
	const char *const *nodes; /* "address:port" ("[v6]:port" or "v6:port"), any order */
	size_t n; /* 0: the pool's file is removed (nginx refuses an empty upstream) */
};

/*
 * Brings the pool files of one balancer to `updates`. Every name and node is
 * checked first: a bad one, a pool given twice, a missing include_dir or a
 * POOL.conf that is not a regular file is an error and nothing is written.
 *
 * A file's content is
 *     upstream POOL {\n    server ADDR:PORT;\n    ...}\n
 * with the nodes sorted (by address, then port as a number), duplicates
 * dropped and IPv6 addresses in brackets. Only files whose content changes are
 * touched: each is written to a temporary file in include_dir (named
 * .raptor-POOL.XXXXXX, which nginx's *.conf does not match), fsynced and
 * renamed over POOL.conf, its old content kept in memory; an emptied pool's
 * file is removed. Then `test` runs; if it fails every touched file is
 * restored byte for byte (or removed if it did not exist) and -1 is returned
 * with "nginx test failed (exit 1): <first lines of its output>". Then
 * `reload` runs; if it fails the files are restored and `reload` runs once
 * more to bring nginx back to them, and -1 is returned.
 *
 * `env_drop` (NULL-terminated, or NULL) names the variables left out of the
 * environment of test and reload.
 *
 * `changed` (may be NULL) is set to 1 when files changed and the reload
 * succeeded, else 0; when nothing changes neither test nor reload runs.
 * Note that nginx applies a reload asynchronously: success means the master
 * accepted the signal; `test` beforehand is what catches a bad config.
 */
int balancer_apply(const struct balancer *b, const struct pool_update *updates, size_t n,
		   const char *const *env_drop, int *changed, struct error *err);

/* The pools that have a file in include_dir now (names without .conf, sorted;
 * only names that are valid pool identifiers), for sweeping pools no swarm
 * routes to any more. Free with balancer_free_list. */
int balancer_list_pools(const struct balancer *b, char ***names, size_t *n, struct error *err);
void balancer_free_list(char **names, size_t n);
/* The nodes of include_dir/POOL.conf as it is now ("address:port" as the file
 * writes them, sorted); none when there is no file. Free with
 * balancer_free_list. */
int balancer_pool_nodes(const struct balancer *b, const char *pool, char ***nodes, size_t *n,
			struct error *err);

/* The file content for a pool (as balancer_apply would write it) in `out`;
 * -1 with a message for a bad pool name or node. n == 0 gives "". */
int balancer_render_pool(struct buf *out, const char *pool, const char *const *nodes, size_t n,
			 struct error *err);

/* 1 when `name` is a valid pool identifier, else 0. */
int balancer_valid_pool(const char *name);

/* Runs argv (no shell, child.h) in its own process group with stdin from
 * /dev/null, stdout and stderr together in `output` (at most 64 KiB kept)
 * and the environment without `env_drop`, killing the group after
 * timeout_ms. After it exits, what it left holding its output has a second
 * to let go before the group is killed. Returns 0 when it exited 0; else -1
 * with a short reason in `err`: "exit 3", "killed by signal 9", "timed out
 * after 30s", "cannot run 'x': No such file or directory". Always reaps the
 * child. */
int balancer_run_command(const struct strv *argv, const char *const *env_drop, uint64_t timeout_ms,
			 struct buf *output, struct error *err);

#endif

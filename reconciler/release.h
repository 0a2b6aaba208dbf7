/*
 * The release hash (DESIGN.md §1): 8 hex digits that name everything which
 * shapes one swarm's processes. A new hash is a new release, which rolls
 * out; the same hash means the running instances are already right.
 *
 * What goes in: app, version, config, command, env (names and values, in
 * name order whatever order they were given), user, directory and the port
 * mode. What stays out: size, squad, routing, health and rollout, which say
 * how many run where and how they are checked, not what runs; and proc,
 * which with app, config and squad names the swarm (a new proc is a new
 * swarm, not a new release) and has its own field in the program name.
 *
 * The hash is the first 8 hex digits of the SHA-256 of release_text(), so an
 * operator can recompute one with `sha256sum | cut -c1-8`. Changing the
 * text's format changes every release name and so redeploys every swarm.
 */
#ifndef RAPTOR_RELEASE_H
#define RAPTOR_RELEASE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "desired.h"

#define RELEASE_HEX 8

/* 8 lowercase hex digits and a NUL: the same on every run and machine and
 * whatever the YAML key order; see above for what changes it. */
void release_hash(char out[RELEASE_HEX + 1], const struct swarm *s);

/* The canonical text release_hash hashes, appended to `out`. One record a
 * line: a tag, then each value as LENGTH:BYTES (or '-' when not set):
 *   raptor-release 1
 *   app 5:hello
 *   version 5:1.4.2
 *   config 4:prod
 *   command 34:/apps/hello/bin/web --port ${PORT}
 *   env 8:GREETING 2:hi          (one line per variable, by name)
 *   user 6:nobody                (user -  when not set)
 *   directory 11:/apps/hello
 *   port 4:auto                  (or 4:none)
 * The lengths make it unambiguous whatever the values hold. */
void release_text(struct buf *out, const struct swarm *s);

/* SHA-256 (FIPS 180-4) of `len` bytes. */
void release_sha256(uint8_t digest[32], const void *data, size_t len);

#endif

/*
 * Supervisor credentials from their reference (DESIGN.md §7): `env:NAME`
 * or `file:/path` holding `user:password`. The secret is only ever copied
 * into the caller's buffer, never into a message; a file that group or
 * others can read is refused, as ssh refuses a readable private key.
 */
#ifndef RAPTOR_CREDENTIALS_H
#define RAPTOR_CREDENTIALS_H

#include "buf.h"
#include "error.h"

#define CREDENTIALS_MAX 4096

int credentials_load(struct buf *userpwd, const char *ref, struct error *err);

/* NAME of an `env:NAME` reference (a pointer into `ref`), or NULL for a
 * file: reference, none or anything else: the variable that holds the
 * secret, which the commands raptor runs must not inherit (child.h). */
const char *credentials_env_name(const char *ref);

#endif

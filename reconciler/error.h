/*
 * The error type, libgit2-style: functions return 0 or a negative number and
 * leave a sentence a person can act on in a `struct error` the caller passed.
 */
#ifndef RAPTOR_ERROR_H
#define RAPTOR_ERROR_H

#include "buf.h"

struct error {
	struct buf msg;
};

#define ERROR_INIT                                                                                 \
	{                                                                                          \
		BUF_INIT                                                                           \
	}

/* Replaces the message; returns -1 so callers can `return error_set(...)`. */
int error_set(struct error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Puts context in front of the message already there ("reading x: ..."). */
int error_prefix(struct error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *error_msg(const struct error *e);
void error_release(struct error *e);

#endif

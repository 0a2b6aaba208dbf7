/*
 * Durations (`500ms`, `10s`, `5m`, `1h`, and sums such as `1m30s`) and sizes
 * (`512`, `64KiB`, `4MiB`, `1G`; every unit is a power of 1024) as written in
 * the desired state, parsed strictly: a missing unit, a fraction, a sign or
 * an overflow is an error that says what to write instead.
 */
#ifndef RAPTOR_UNITS_H
#define RAPTOR_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

int duration_parse(uint64_t *out_ms, const char *s, struct error *err);
/* The shortest exact spelling: 2000 -> "2s", 90000 -> "1m30s", 0 -> "0s". */
void duration_format(struct buf *out, uint64_t ms);
int size_parse(uint64_t *out_bytes, const char *s, struct error *err);
/* For messages: "4 MiB", "1.5 KiB", "12 bytes". */
void size_format(struct buf *out, uint64_t bytes);

#endif

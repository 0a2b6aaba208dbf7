/*
 * How output looks on a terminal: colour only when the stream is a TTY,
 * TERM is not "dumb" and NO_COLOR is unset (no-color.org).
 */
#ifndef RAPTOR_TERM_H
#define RAPTOR_TERM_H

#include <stdbool.h>
#include <stdio.h>

enum term_color { TERM_RESET, TERM_RED, TERM_GREEN, TERM_YELLOW, TERM_BOLD };

bool term_wants_color(FILE *f);
/* The escape sequence for `c`, or "" when `f` gets no colour. */
const char *term_color(FILE *f, enum term_color c);

#endif

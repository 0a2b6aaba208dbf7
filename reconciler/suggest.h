/*
 * "Did you mean" for a misspelt key or name: the closest candidate by
 * optimal-string-alignment distance (a swap of two letters counts once),
 * if it is close enough to be a likely typo.
 */
#ifndef RAPTOR_SUGGEST_H
#define RAPTOR_SUGGEST_H

#include <stddef.h>

/* Distance between a and b; stops counting past `limit` and returns limit+1. */
size_t edit_distance(const char *a, const char *b, size_t limit);
/* The best of `n` candidates for `word`, or NULL when none is close. */
const char *suggest(const char *word, const char *const *candidates, size_t n);

#endif

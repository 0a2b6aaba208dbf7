/*
 * What every libFuzzer target here shares: the entry points libFuzzer calls
 * (declared, since the project builds with -Wmissing-prototypes), a property
 * check that fails as a crash, and the input as a C string.
 */
#ifndef RAPTOR_FUZZ_H
#define RAPTOR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken property is a finding like a crash: abort() makes libFuzzer save
 * the input and print the stack, under the same name as any other crash. */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz: %s:%d: property '%s' broken: ", __FILE__, __LINE__, \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The input as a NUL-terminated string, or NULL when it holds a NUL: the
 * functions fuzzed this way take a C string, so bytes after a NUL could never
 * reach them, and returning -1 for such an input keeps it out of the corpus. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s;

	if (memchr(data, '\0', size))
		return NULL;
	s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif

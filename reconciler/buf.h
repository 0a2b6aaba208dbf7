/*
 * A growable byte string with a hard cap, in the spirit of git's strbuf and
 * curl's dynbuf: data from outside (a host's reply, a file) can never grow it
 * past `cap`, and an append that would is refused whole and returns -1.
 * `ptr` is NUL-terminated whenever it is not NULL.
 */
#ifndef RAPTOR_BUF_H
#define RAPTOR_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define BUF_DEFAULT_CAP ((size_t)64 << 20)

struct buf {
	char *ptr;
	size_t len, alloc, cap; /* cap 0 means BUF_DEFAULT_CAP */
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

void buf_init(struct buf *b, size_t cap);
int buf_add(struct buf *b, const void *data, size_t len);
/* Makes room for `extra` more bytes (and the NUL) without adding them; -1
 * over the cap. Then ptr + len has that much room to write into. */
int buf_reserve(struct buf *b, size_t extra);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends s with control characters shown as \n, \t or \xHH, for messages. */
int buf_add_printable(struct buf *b, const char *s, size_t len);
void buf_reset(struct buf *b);
/* Returns the string (never NULL) and leaves the buffer empty. */
char *buf_detach(struct buf *b);
void buf_release(struct buf *b);
/* The contents as a C string, "" when nothing was added. */
const char *buf_cstr(const struct buf *b);

#endif

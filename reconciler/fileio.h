/* Files: atomic writes (the one way raptor replaces a file), bounded reads;
 * see fileio.c. */
#ifndef RAPTOR_FILEIO_H
#define RAPTOR_FILEIO_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

/* Replaces `path` with `data`. An existing file keeps its permission bits;
 * a new one gets `mode_if_new`. */
int file_write_atomic(const char *path, const void *data, size_t len, unsigned mode_if_new,
		      struct error *err);
/* write(2) until all of it is written (EINTR retried); -1 with errno set. */
int file_write_all(int fd, const char *p, size_t len);
/* fsyncs a directory so that renames and unlinks in it survive a power cut;
 * -1 (errno set) when it cannot. */
int file_sync_dir(const char *dir);
/* mkdir -p, mode 0750 for what it creates; `what` names the directory in
 * the error ("the state directory"). */
int file_mkdirs(const char *dir, const char *what, struct error *err);
/* Reads the whole file into `out` (initialised here with `cap`); a file over
 * `cap` bytes is an error, so that input from outside is bounded. */
int file_read_capped(struct buf *out, const char *path, size_t cap, struct error *err);

#endif

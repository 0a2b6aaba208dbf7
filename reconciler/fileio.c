/*
 * Writing a file so that a reader never sees half of it: a temporary file
 * beside it, written, fsynced, renamed over the target, and the directory
 * fsynced. Used for every file raptor writes: state records, plan files,
 * balancer pool files. A full disk or a read-only directory is an error that
 * names the path and leaves the old file and no temporary file behind.
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "banned.h"

int file_write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, unsigned mode_if_new,
		      struct error *err)
{
	struct buf dir = BUF_INIT, tmp = BUF_INIT;
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	mode_t mode = (mode_t)mode_if_new;
	struct stat st;
	int fd = -1, made = 0, rc = -1;

	if (!*base) {
		error_set(err, "cannot write %s: that names a directory, not a file", path);
		goto cleanup;
	}
	if (!slash)
		buf_puts(&dir, ".");
	else if (slash == path)
		buf_puts(&dir, "/");
	else
		buf_add(&dir, path, (size_t)(slash - path));
	/* an operator who tightened a file's mode keeps it */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		mode = st.st_mode & 07777;

	buf_printf(&tmp, "%s/.%s.XXXXXX", dir.ptr, base);
	fd = mkstemp(tmp.ptr);
	if (fd < 0) {
		error_set(err, "cannot write %s: cannot create a file in %s: %s", path, dir.ptr,
			  strerror(errno));
		goto cleanup;
	}
	made = 1;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (fchmod(fd, mode) < 0 || file_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		error_set(err, "cannot write %s: %s", path, strerror(errno));
		goto cleanup;
	}
	/* close can be where a network filesystem reports the failed write */
	if (close(fd) < 0) {
		fd = -1;
		error_set(err, "cannot write %s: %s", path, strerror(errno));
		goto cleanup;
	}
	fd = -1;
	if (rename(tmp.ptr, path) < 0) {
		error_set(err, "cannot replace %s: %s", path, strerror(errno));
		goto cleanup;
	}
	made = 0;
	/* Without this the rename itself may not survive a power cut. A
	 * filesystem that cannot fsync a directory says EINVAL: nothing to do. */
	if (file_sync_dir(dir.ptr) < 0) {
		error_set(err, "wrote %s, but cannot make its directory %s durable: %s", path,
			  dir.ptr, strerror(errno));
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp.ptr);
	buf_release(&tmp);
	buf_release(&dir);
	return rc;
}

int file_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -1;
	/* a filesystem that cannot fsync a directory says EINVAL: nothing to do */
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = -1;
	close(fd);
	return rc;
}

int file_mkdirs(const char *dir, const char *what, struct error *err)
{
	struct buf p = BUF_INIT;
	int rc = -1;

	buf_puts(&p, dir);
	for (size_t i = 1; i <= p.len; i++) {
		if (i < p.len && p.ptr[i] != '/')
			continue;
		p.ptr[i] = '\0';
		if (mkdir(p.ptr, 0750) < 0 && errno != EEXIST) {
			if (i == p.len)
				error_set(err, "cannot create %s %s: %s", what, dir,
					  strerror(errno));
			else
				error_set(err, "cannot create %s for %s %s: %s", p.ptr, what, dir,
					  strerror(errno));
			goto cleanup;
		}
		if (i < p.len)
			p.ptr[i] = '/';
	}
	rc = 0;
cleanup:
	buf_release(&p);
	return rc;
}

int file_read_capped(struct buf *out, const char *path, size_t cap, struct error *err)
{
	char chunk[16384];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = -1;

	buf_init(out, cap);
	if (fd < 0)
		return error_set(err, "cannot read %s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set(err, "cannot read %s: %s", path, strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break;
		if (buf_add(out, chunk, (size_t)n) < 0) {
			error_set(err, "%s is larger than %zu MiB", path, cap >> 20);
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	close(fd);
	return rc;
}

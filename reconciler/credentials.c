/* Loading supervisor credentials; see credentials.h. */
#include "credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

static int read_secret_file(struct buf *out, const char *path, struct error *err)
{
	char chunk[512];
	struct stat st;
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return error_set(err, "credentials file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		error_set(err, "credentials file %s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, "credentials file %s is not a regular file", path);
		goto cleanup;
	}
	if (st.st_mode & 077) {
		error_set(
			err,
			"credentials file %s is readable by group or others (mode %04o): chmod 600 it",
			path, (unsigned)(st.st_mode & 07777));
		goto cleanup;
	}
	out->cap = CREDENTIALS_MAX; /* keeps what the buffer holds */
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (buf_add(out, chunk, (size_t)n) < 0) {
			error_set(err, "credentials file %s is larger than %d bytes", path,
				  CREDENTIALS_MAX);
			goto cleanup;
		}
	}
	if (n < 0) {
		error_set(err, "credentials file %s: %s", path, strerror(errno));
		goto cleanup;
	}
	rc = 0;
cleanup:
	explicit_bzero(chunk, sizeof(chunk));
	close(fd);
	return rc;
}

int credentials_load(struct buf *userpwd, const char *ref, struct error *err)
{
	buf_reset(userpwd);
	if (!strncmp(ref, "env:", 4)) {
		const char *v = getenv(ref + 4);

		if (!v || !*v)
			return error_set(err,
					 "credentials %s: the environment variable %s is not set",
					 ref, ref + 4);
		buf_puts(userpwd, v);
	} else if (!strncmp(ref, "file:", 5)) {
		if (read_secret_file(userpwd, ref + 5, err) < 0)
			return -1;
	} else {
		return error_set(err, "credentials must be env:NAME or file:/path");
	}
	while (userpwd->len &&
	       (userpwd->ptr[userpwd->len - 1] == '\n' || userpwd->ptr[userpwd->len - 1] == '\r'))
		userpwd->ptr[--userpwd->len] = '\0';
	if (!strchr(buf_cstr(userpwd), ':')) {
		explicit_bzero(userpwd->ptr, userpwd->len);
		buf_reset(userpwd);
		return error_set(err, "credentials %s do not have the form user:password", ref);
	}
	return 0;
}

const char *credentials_env_name(const char *ref)
{
	if (!ref || strncmp(ref, "env:", 4) || !ref[4])
		return NULL;
	return ref + 4;
}

/*
 * A desired state read from a directory tree: every *.yaml and *.yml below the
 * root, hidden entries (.git, .github, ...) skipped. A symlink is followed
 * only when its target stays inside the tree — a repository must not make
 * raptor read /etc — and a directory is entered once, so a link loop ends.
 */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "xalloc.h"
#include "banned.h"

struct walk {
	struct source *src;
	char *root_real; /* realpath of the root */
	VEC(struct stat) seen_dirs;
	struct error *err;
};

static bool inside_root(const struct walk *w, const char *real)
{
	size_t n = strlen(w->root_real);

	if (!strcmp(w->root_real, "/"))
		return true;
	return !strncmp(real, w->root_real, n) && (real[n] == '/' || real[n] == '\0');
}

static bool seen_dir(struct walk *w, const struct stat *st)
{
	for (size_t i = 0; i < w->seen_dirs.n; i++)
		if (w->seen_dirs.v[i].st_dev == st->st_dev &&
		    w->seen_dirs.v[i].st_ino == st->st_ino)
			return true;
	vec_push(&w->seen_dirs, *st);
	return false;
}

static int read_file(struct walk *w, const char *full, const char *rel, const struct stat *st)
{
	struct buf data = BUF_INIT;
	char chunk[65536];
	ssize_t n;
	int fd, rc = -1;

	if (w->src->files.n >= SOURCE_MAX_FILES)
		return error_set(w->err, "%s: more than %d YAML files in the tree", w->src->root,
				 SOURCE_MAX_FILES);
	if ((size_t)st->st_size > SOURCE_MAX_FILE) {
		source_add(w->src, rel, NULL, (size_t)st->st_size);
		return 0;
	}
	buf_init(&data, SOURCE_MAX_FILE);
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(w->err, "%s: cannot open: %s", rel, strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (buf_add(&data, chunk, (size_t)n) < 0) {
			/* it grew while we read it */
			source_add(w->src, rel, NULL, SOURCE_MAX_FILE + 1);
			rc = 0;
			goto cleanup;
		}
	}
	if (n < 0) {
		error_set(w->err, "%s: cannot read: %s", rel, strerror(errno));
		goto cleanup;
	}
	source_add(w->src, rel, buf_cstr(&data), data.len);
	rc = 0;
cleanup:
	close(fd);
	buf_release(&data);
	return rc;
}

static int walk_dir(struct walk *w, const char *full, const char *rel, int depth)
{
	struct buf child_full = BUF_INIT, child_rel = BUF_INIT;
	struct dirent *de;
	DIR *dir;
	int rc = 0;

	if (depth > SOURCE_MAX_DEPTH)
		return error_set(w->err, "%s: directories nested deeper than %d levels", rel,
				 SOURCE_MAX_DEPTH);
	dir = opendir(full);
	if (!dir)
		return error_set(w->err, "%s: cannot read directory: %s", *rel ? rel : full,
				 strerror(errno));
	while (!rc && (de = readdir(dir))) {
		struct stat st, lst;
		char *real = NULL;

		if (de->d_name[0] == '.')
			continue;
		buf_reset(&child_full);
		buf_reset(&child_rel);
		buf_printf(&child_full, "%s/%s", full, de->d_name);
		buf_printf(&child_rel, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		if (lstat(child_full.ptr, &lst) < 0) {
			rc = error_set(w->err, "%s: %s", child_rel.ptr, strerror(errno));
			break;
		}
		if (S_ISLNK(lst.st_mode)) {
			real = realpath(child_full.ptr, NULL);
			if (!real) {
				if (!source_wants(de->d_name))
					continue; /* a dangling link to something we would not read
						   */
				rc = error_set(w->err, "%s: symlink cannot be followed: %s",
					       child_rel.ptr, strerror(errno));
				break;
			}
			if (stat(real, &st) < 0 ||
			    (!S_ISDIR(st.st_mode) && !source_wants(de->d_name))) {
				free(real);
				continue;
			}
			if (!inside_root(w, real)) {
				rc = error_set(
					w->err,
					"%s: symlink leads outside the desired-state tree (to %s); refusing to read it",
					child_rel.ptr, real);
				free(real);
				break;
			}
			free(real);
		} else {
			st = lst;
		}
		if (S_ISDIR(st.st_mode)) {
			if (!seen_dir(w, &st))
				rc = walk_dir(w, child_full.ptr, child_rel.ptr, depth + 1);
		} else if (S_ISREG(st.st_mode) && source_wants(de->d_name)) {
			rc = read_file(w, child_full.ptr, child_rel.ptr, &st);
		}
	}
	closedir(dir);
	buf_release(&child_full);
	buf_release(&child_rel);
	return rc;
}

int source_read_dir(struct source *out, const char *dir, struct error *err)
{
	struct walk w = {.src = out, .err = err};
	struct stat st;
	int rc = -1;

	source_init(out);
	out->root = xstrdup(dir);
	w.root_real = realpath(dir, NULL);
	if (!w.root_real || stat(w.root_real, &st) < 0) {
		error_set(err, "%s: %s", dir, strerror(errno));
		goto cleanup;
	}
	if (!S_ISDIR(st.st_mode)) {
		error_set(
			err,
			"%s: not a directory (give the desired-state directory, or --repo for a git repository)",
			dir);
		goto cleanup;
	}
	seen_dir(&w, &st);
	if (walk_dir(&w, dir, "", 0) < 0)
		goto cleanup;
	source_sort(out);
	rc = 0;
cleanup:
	free(w.root_real);
	vec_release(&w.seen_dirs);
	return rc;
}

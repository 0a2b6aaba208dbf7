/*
 * A desired state read from a git commit with libgit2, without a checkout:
 * the blobs of the commit's tree are read directly, so a bare repository on
 * a git server works as well as a clone. Hidden directories are skipped as
 * in a directory source. A symlink in the tree is followed when it points to
 * another blob of the same tree; one that leaves the tree is refused.
 * A subdirectory of the tree can be read as the root (source_read_git_at),
 * and the repository holding a directory found (source_git_discover), so
 * `plan --offline` can read "this directory as it was at REF".
 */
#include "source.h"

#include <errno.h>
#include <git2.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "xalloc.h"
#include "banned.h"

struct gwalk {
	git_repository *repo;
	git_tree *tree;
	struct source *src;
	struct error *err;
	int failed;
};

static const char *git_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

/* Joins a link's directory and its target, resolving . and ..; -1 when the
 * result would leave the tree. */
static int resolve_link(struct buf *out, const char *dir, const char *target, size_t tlen)
{
	struct buf in = BUF_INIT;
	const char *p;
	int rc = 0;

	if (tlen && target[0] == '/')
		return -1;
	buf_printf(&in, "%s%s", dir, *dir ? "/" : "");
	buf_add(&in, target, tlen);
	buf_reset(out);
	p = in.ptr;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if ((n == 2 && !strncmp(p, "..", 2))) {
			char *last = out->len ? strrchr(out->ptr, '/') : NULL;

			if (!out->len) {
				rc = -1;
				break;
			}
			out->len = last ? (size_t)(last - out->ptr) : 0;
			out->ptr[out->len] = '\0';
		} else if (n && !(n == 1 && p[0] == '.')) {
			if (out->len)
				buf_putc(out, '/');
			buf_add(out, p, n);
		}
		p += n + (slash ? 1 : 0);
	}
	buf_release(&in);
	return rc;
}

static int add_blob(struct gwalk *w, const char *path, const git_oid *oid)
{
	git_blob *blob = NULL;
	git_object_size_t size;

	if (w->src->files.n >= SOURCE_MAX_FILES) {
		error_set(w->err, "more than %d YAML files in the tree", SOURCE_MAX_FILES);
		return -1;
	}
	if (git_blob_lookup(&blob, w->repo, oid) < 0) {
		error_set(w->err, "%s: cannot read blob: %s", path, git_msg());
		return -1;
	}
	size = git_blob_rawsize(blob);
	if (size > SOURCE_MAX_FILE)
		source_add(w->src, path, NULL, (size_t)size);
	else
		source_add(w->src, path, git_blob_rawcontent(blob), (size_t)size);
	git_blob_free(blob);
	return 0;
}

static int follow_link(struct gwalk *w, const char *root, const char *path,
		       const git_tree_entry *entry)
{
	git_blob *link = NULL;
	git_tree_entry *target = NULL;
	struct buf resolved = BUF_INIT;
	int rc = -1;

	if (git_blob_lookup(&link, w->repo, git_tree_entry_id(entry)) < 0) {
		error_set(w->err, "%s: cannot read symlink: %s", path, git_msg());
		goto cleanup;
	}
	if (resolve_link(&resolved, root, git_blob_rawcontent(link),
			 (size_t)git_blob_rawsize(link)) < 0) {
		error_set(w->err,
			  "%s: symlink leads outside the desired-state tree; refusing to read it",
			  path);
		goto cleanup;
	}
	if (git_tree_entry_bypath(&target, w->tree, resolved.ptr) < 0 ||
	    git_tree_entry_type(target) != GIT_OBJECT_BLOB ||
	    git_tree_entry_filemode(target) == GIT_FILEMODE_LINK) {
		error_set(w->err, "%s: symlink to '%s', which is not a file of the same commit",
			  path, resolved.ptr);
		goto cleanup;
	}
	rc = add_blob(w, path, git_tree_entry_id(target));
cleanup:
	git_tree_entry_free(target);
	git_blob_free(link);
	buf_release(&resolved);
	return rc;
}

static int walk_cb(const char *root, const git_tree_entry *entry, void *payload)
{
	struct gwalk *w = payload;
	const char *name = git_tree_entry_name(entry);
	struct buf path = BUF_INIT;
	int rc = 0;

	if (name[0] == '.')
		return 1; /* skips a hidden directory's subtree; a hidden file is skipped too */
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB || !source_wants(name))
		return 0;
	/* root is "" or "dir/sub/" */
	buf_printf(&path, "%s%s", root, name);
	if (git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK) {
		struct buf dir = BUF_INIT;

		buf_add(&dir, root, strlen(root) ? strlen(root) - 1 : 0);
		rc = follow_link(w, buf_cstr(&dir), path.ptr, entry);
		buf_release(&dir);
	} else {
		rc = add_blob(w, path.ptr, git_tree_entry_id(entry));
	}
	buf_release(&path);
	if (rc < 0) {
		w->failed = 1;
		return -1;
	}
	return 0;
}

/* Inside a git hook (pre-receive), the pushed objects are still in a
 * quarantine directory that git names in GIT_OBJECT_DIRECTORY and
 * GIT_ALTERNATE_OBJECT_DIRECTORIES; libgit2 looks there only when asked to
 * honour the environment. Elsewhere the repository is exactly the path. */
static unsigned open_flags(void)
{
	const char *quarantine = getenv("GIT_QUARANTINE_PATH");
	const char *objects = getenv("GIT_OBJECT_DIRECTORY");

	if ((quarantine && *quarantine) || (objects && *objects))
		return GIT_REPOSITORY_OPEN_FROM_ENV;
	return GIT_REPOSITORY_OPEN_NO_SEARCH;
}

/* Moves `*tree` to its subdirectory `subdir`; 1 when the tree has none. */
static int enter_subdir(struct gwalk *w, const char *repo_path, const char *subdir)
{
	git_tree_entry *entry = NULL;
	git_tree *sub = NULL;
	int rc = -1, found;

	found = git_tree_entry_bypath(&entry, w->tree, subdir);
	if (found == GIT_ENOTFOUND) {
		rc = 1;
		goto cleanup;
	}
	if (found < 0) {
		error_set(w->err, "%s: cannot find '%s' in %s (%s)", repo_path, subdir, w->src->ref,
			  git_msg());
		goto cleanup;
	}
	if (git_tree_entry_type(entry) != GIT_OBJECT_TREE) {
		error_set(w->err, "%s: '%s' is not a directory at %s", repo_path, subdir,
			  w->src->ref);
		goto cleanup;
	}
	if (git_tree_lookup(&sub, w->repo, git_tree_entry_id(entry)) < 0) {
		error_set(w->err, "%s: cannot read the tree of '%s' at %s (%s)", repo_path, subdir,
			  w->src->ref, git_msg());
		goto cleanup;
	}
	git_tree_free(w->tree);
	w->tree = sub;
	rc = 0;
cleanup:
	git_tree_entry_free(entry);
	return rc;
}

int source_read_git(struct source *out, const char *repo_path, const char *ref, struct error *err)
{
	return source_read_git_at(out, repo_path, ref, NULL, err) == 0 ? 0 : -1;
}

int source_read_git_at(struct source *out, const char *repo_path, const char *ref,
		       const char *subdir, struct error *err)
{
	struct gwalk w = {.src = out, .err = err};
	git_object *obj = NULL;
	git_commit *commit = NULL;
	char oid[GIT_OID_HEXSZ + 1];
	int rc = -1;

	source_init(out);
	out->root = xstrdup(repo_path);
	out->ref = xstrdup(ref ? ref : "HEAD");
	git_libgit2_init();
	if (git_repository_open_ext(&w.repo, repo_path, open_flags(), NULL) < 0) {
		error_set(err, "%s: not a git repository (%s)", repo_path, git_msg());
		goto cleanup;
	}
	if (git_revparse_single(&obj, w.repo, out->ref) < 0) {
		error_set(err, "%s: unknown ref '%s' (%s)", repo_path, out->ref, git_msg());
		goto cleanup;
	}
	if (git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) < 0) {
		error_set(err, "%s: '%s' does not name a commit (%s)", repo_path, out->ref,
			  git_msg());
		goto cleanup;
	}
	git_oid_tostr(oid, sizeof(oid), git_commit_id(commit));
	out->commit = xstrdup(oid);
	if (git_commit_tree(&w.tree, commit) < 0) {
		error_set(err, "%s: cannot read the tree of %s (%s)", repo_path, oid, git_msg());
		goto cleanup;
	}
	if (subdir && *subdir) {
		int entered = enter_subdir(&w, repo_path, subdir);

		if (entered) {
			rc = entered; /* 1: no such directory at that commit */
			goto cleanup;
		}
	}
	if (git_tree_walk(w.tree, GIT_TREEWALK_PRE, walk_cb, &w) < 0) {
		if (!w.failed)
			error_set(err, "%s: cannot walk the tree of %s (%s)", repo_path, oid,
				  git_msg());
		goto cleanup;
	}
	source_sort(out);
	rc = 0;
cleanup:
	git_tree_free(w.tree);
	git_commit_free(commit);
	git_object_free(obj);
	git_repository_free(w.repo);
	git_libgit2_shutdown();
	return rc;
}

/* Discovery searches upward from the path, as git itself does, unless git's
 * hook environment names the repository (see open_flags). */
static unsigned discover_flags(void)
{
	return open_flags() == GIT_REPOSITORY_OPEN_FROM_ENV ? GIT_REPOSITORY_OPEN_FROM_ENV : 0;
}

int source_git_discover(char **workdir, char **subdir, const char *path, struct error *err)
{
	git_repository *repo = NULL;
	char *real = NULL, *top = NULL;
	const char *wd;
	struct stat st;
	size_t n;
	int rc = -1;

	*workdir = *subdir = NULL;
	git_libgit2_init();
	real = realpath(path, NULL);
	if (!real || stat(real, &st) < 0) {
		error_set(err, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (!S_ISDIR(st.st_mode)) {
		error_set(err, "%s: not a directory (give the desired-state directory)", path);
		goto cleanup;
	}
	if (git_repository_open_ext(&repo, real, discover_flags(), NULL) < 0) {
		error_set(err, "%s: not inside a git repository (%s)", path, git_msg());
		goto cleanup;
	}
	wd = git_repository_workdir(repo);
	if (!wd) {
		error_set(err, "%s: the repository found there is bare and has no work tree", path);
		goto cleanup;
	}
	/* both sides resolved, so a symlinked checkout still yields its relative place */
	top = realpath(wd, NULL);
	if (!top) {
		error_set(err, "%s: %s", wd, strerror(errno));
		goto cleanup;
	}
	n = strlen(top);
	if (!strcmp(top, "/"))
		n = 0;
	if (strncmp(real, top, n) || (real[n] != '/' && real[n] != '\0')) {
		error_set(err, "%s: not inside the work tree of the repository at %s", path, top);
		goto cleanup;
	}
	*subdir = xstrdup(real[n] == '/' ? real + n + 1 : "");
	*workdir = top;
	top = NULL;
	rc = 0;
cleanup:
	free(top);
	free(real);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

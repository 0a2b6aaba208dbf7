/*
 * Where a desired state is read from: a directory tree or the tree of a git
 * commit. Both yield the same thing, the list of *.yaml and *.yml files (path
 * relative to the root, bytes), sorted by path, so the loader never knows
 * which it was. Bounds are enforced here: a file over SOURCE_MAX_FILE is
 * listed without its bytes and reported by the loader at its path.
 */
#ifndef RAPTOR_SOURCE_H
#define RAPTOR_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "vec.h"

#define SOURCE_MAX_FILE	 ((size_t)4 << 20)
#define SOURCE_MAX_FILES 10000
#define SOURCE_MAX_DEPTH 32

struct source_file {
	char *path; /* relative to the root, '/'-separated */
	char *data; /* NULL when too_big */
	size_t len;
	bool too_big;
};

struct source {
	char *root;   /* the directory or repository, as given */
	char *ref;    /* the ref asked for (git only) */
	char *commit; /* the full commit id (git only) */
	VEC(struct source_file) files;
};

void source_init(struct source *src);
/* Adds a file, copying its bytes (or only its size when over the cap). */
void source_add(struct source *src, const char *path, const char *data, size_t len);
/* Orders the files by path; the readers call it, tests building a source by hand may too. */
void source_sort(struct source *src);
void source_release(struct source *src);
/* True for *.yaml and *.yml. */
bool source_wants(const char *name);

int source_read_dir(struct source *out, const char *dir, struct error *err);
/* The tree of `ref` (default HEAD) of a repository, bare or not. */
int source_read_git(struct source *out, const char *repo, const char *ref, struct error *err);
/* As source_read_git, but only the directory `subdir` of the commit's tree
 * ("a/b"; NULL or "" is the whole tree), read as if it were the root: file
 * paths are relative to it and a symlink may not leave it, exactly as a
 * directory source at that place of a checkout. Returns 0; 1 when the commit
 * has no such directory (`out` is then empty but names the commit: a
 * directory a change adds did not exist before it); -1 on an error. */
int source_read_git_at(struct source *out, const char *repo, const char *ref, const char *subdir,
		       struct error *err);
/* Finds the git repository whose work tree holds the directory `path`,
 * searching upward as git does: the work tree's root (a real path) goes to
 * *workdir and path's place below it ("" at the root, else "a/b") to *subdir.
 * Free both after a 0 return; on -1 both are NULL. */
int source_git_discover(char **workdir, char **subdir, const char *path, struct error *err);
/* Whether `repo` names a git server (a URL, or git's user@host:path) rather
 * than a repository on this machine. */
bool source_is_remote(const char *repo);
/* Fetches every branch and tag of the repository at `url` into its mirror
 * under `cache_dir` (created when missing) and sets *local (free it) to the
 * mirror's path, to read with source_read_git. */
int source_fetch(char **local, const char *url, const char *cache_dir, struct error *err);

/* The command line's choice: `repo` set means git, else the directory `path`
 * (default "."). `out` needs no init; release it whatever the result. */
int source_open(struct source *out, const char *path, const char *repo, const char *ref,
		struct error *err);

#endif

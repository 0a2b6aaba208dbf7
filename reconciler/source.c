/* The file list shared by both sources; see source.h. */
#include "source.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "banned.h"

void source_init(struct source *src)
{
	memset(src, 0, sizeof(*src));
}

void source_add(struct source *src, const char *path, const char *data, size_t len)
{
	struct source_file *f = vec_add(&src->files);

	f->path = xstrdup(path);
	f->len = len;
	/* without bytes (a reader that saw the size only) it is over the cap */
	if (!data || len > SOURCE_MAX_FILE)
		f->too_big = true;
	else
		f->data = xstrndup(data, len);
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct source_file *)a)->path, ((const struct source_file *)b)->path);
}

void source_sort(struct source *src)
{
	if (src->files.n > 1)
		qsort(src->files.v, src->files.n, sizeof(*src->files.v), file_cmp);
}

void source_release(struct source *src)
{
	for (size_t i = 0; i < src->files.n; i++) {
		free(src->files.v[i].path);
		free(src->files.v[i].data);
	}
	vec_release(&src->files);
	free(src->root);
	free(src->ref);
	free(src->commit);
	src->root = src->ref = src->commit = NULL;
}

bool source_wants(const char *name)
{
	size_t n = strlen(name);

	return (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
	       (n > 4 && !strcmp(name + n - 4, ".yml"));
}

int source_open(struct source *out, const char *path, const char *repo, const char *ref,
		struct error *err)
{
	if (repo)
		return source_read_git(out, repo, ref, err);
	return source_read_dir(out, path ? path : ".", err);
}

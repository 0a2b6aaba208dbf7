/* The state directory's host record; see state.h. */
#include "state.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "banned.h"

#define STATE_MAX_FILE ((size_t)16 << 20)

int state_hosts_read(state_hosts *out, struct arena *mem, const char *dir, struct error *err)
{
	struct buf path = BUF_INIT;
	json_error_t jerr;
	json_t *root = NULL, *hosts;
	struct stat st;
	size_t i;
	json_t *h;
	int rc = -1;

	buf_printf(&path, "%s/hosts.json", dir);
	if (stat(path.ptr, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			rc = 0;
			goto cleanup;
		}
		error_set(err, "%s: %s", path.ptr, strerror(errno));
		goto cleanup;
	}
	if ((size_t)st.st_size > STATE_MAX_FILE) {
		error_set(err, "%s: larger than 16 MiB; is it a state record?", path.ptr);
		goto cleanup;
	}
	root = json_load_file(path.ptr, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		error_set(err, "%s:%d:%d: %s", path.ptr, jerr.line, jerr.column, jerr.text);
		goto cleanup;
	}
	hosts = json_object_get(root, "hosts");
	if (json_integer_value(json_object_get(root, "format_version")) != 1 ||
	    !json_is_array(hosts)) {
		error_set(err, "%s: not a raptor host record of format_version 1", path.ptr);
		goto cleanup;
	}
	json_array_foreach(hosts, i, h)
	{
		const char *name = json_string_value(json_object_get(h, "name"));
		const char *url = json_string_value(json_object_get(h, "url"));
		const char *address = json_string_value(json_object_get(h, "address"));
		struct state_host *sh;

		if (!name || !url) {
			error_set(err, "%s: host #%zu lacks a name or url", path.ptr, i + 1);
			goto cleanup;
		}
		sh = vec_add(out);
		sh->name = arena_strdup(mem, name);
		sh->url = arena_strdup(mem, url);
		sh->address = arena_strdup(mem, address ? address : name);
	}
	rc = 0;
cleanup:
	json_decref(root);
	buf_release(&path);
	return rc;
}

/*
 * A desired state kept on a git server: `--repo URL` is fetched with libgit2
 * into a bare mirror under the state directory (STATE/repos/HASH.git, HASH
 * from the URL), which is then read like any local repository. Each fetch
 * updates every branch and tag to the server's, drops the ones it deleted,
 * and points the mirror's HEAD at the server's default branch, so `--ref`
 * means there what it means on the server. The URL is never printed with
 * its user or password.
 */
#include "source.h"

#include <git2.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "fileio.h"
#include "http.h"
#include "release.h"
#include "xalloc.h"
#include "banned.h"

bool source_is_remote(const char *repo)
{
	struct stat st;
	const char *colon;

	if (!repo || strstr(repo, "://"))
		return repo != NULL;
	/* git's scp-like form, user@host:path, unless that is a local path */
	colon = strchr(repo, ':');
	return colon && colon != repo && !memchr(repo, '/', (size_t)(colon - repo)) &&
	       stat(repo, &st) != 0;
}

static const char *git_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

int source_fetch(char **local, const char *url, const char *cache_dir, struct error *err)
{
	static char heads[] = "+refs/heads/*:refs/heads/*", tags[] = "+refs/tags/*:refs/tags/*";
	char *specs[] = {heads, tags};
	git_strarray refspecs = {specs, 2};
	git_fetch_options fo;
	git_remote_create_options ro;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_buf head = {0};
	struct buf dir = BUF_INIT, shown = BUF_INIT;
	uint8_t digest[32];
	struct stat st;
	int rc = -1;

	*local = NULL;
	git_libgit2_init();
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	http_redact_url(&shown, url);
	release_sha256(digest, url, strlen(url));
	buf_printf(&dir, "%s/repos", cache_dir);
	if (file_mkdirs(dir.ptr, "the repository cache", err) < 0)
		goto cleanup;
	buf_puts(&dir, "/");
	for (int i = 0; i < 8; i++)
		buf_printf(&dir, "%02x", digest[i]);
	buf_puts(&dir, ".git");
	if (stat(dir.ptr, &st) == 0 ? git_repository_open_bare(&repo, dir.ptr) < 0
				    : git_repository_init(&repo, dir.ptr, 1) < 0) {
		error_set(err, "the mirror %s of %s: %s", dir.ptr, shown.ptr, git_msg());
		goto cleanup;
	}
	/* anonymous: the mirror's config never holds the URL. url.*.insteadOf
	 * is not applied: it would be the config of whoever runs raptor, and
	 * libgit2 1.5 leaks in the regexp it matches that config with. */
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, url, &ro) < 0 ||
	    git_remote_connect(remote, GIT_DIRECTION_FETCH, &fo.callbacks, NULL, NULL) < 0) {
		error_set(err, "cannot fetch %s: %s", shown.ptr, git_msg());
		goto cleanup;
	}
	fo.prune = GIT_FETCH_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE; /* the refspec has them */
	if (git_remote_download(remote, &refspecs, &fo) < 0 ||
	    git_remote_update_tips(remote, &fo.callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE,
				   "raptor fetch") < 0 ||
	    git_remote_prune(remote, &fo.callbacks) < 0) {
		error_set(err, "cannot fetch %s: %s", shown.ptr, git_msg());
		goto cleanup;
	}
	/* a server without a HEAD (an empty repository) leaves ours as it is */
	if (git_remote_default_branch(&head, remote) == 0 &&
	    git_repository_set_head(repo, head.ptr) < 0) {
		error_set(err, "the mirror of %s: cannot point HEAD at %s: %s", shown.ptr, head.ptr,
			  git_msg());
		goto cleanup;
	}
	*local = xstrdup(dir.ptr);
	rc = 0;
cleanup:
	git_buf_dispose(&head);
	if (remote)
		git_remote_disconnect(remote);
	git_remote_free(remote);
	git_repository_free(repo);
	git_libgit2_shutdown();
	buf_release(&dir);
	buf_release(&shown);
	return rc;
}

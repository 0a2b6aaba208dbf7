/* YAML files parsed ahead on worker threads; see ydoc_ahead.h. */
#include "ydoc_ahead.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "xalloc.h"
#include "banned.h"

struct parsed {
	struct ydoc doc;
	struct diags diags; /* the worker's own: a diags is not shared between threads */
	int rc;
	bool ready;
};

struct ydoc_ahead {
	const struct source *src;
	pthread_mutex_t lock;
	pthread_cond_t ready; /* a file was parsed */
	pthread_cond_t room;  /* the loader took a file, or the parse is closing */
	size_t next;	      /* the next file a worker claims */
	size_t taken;	      /* files handed to the loader */
	size_t window;	      /* files claimed but not taken, at most */
	bool closing;
	struct parsed *files;
	pthread_t *workers;
	unsigned nworkers;
};

static int parse_file(const struct source_file *sf, struct ydoc *doc, struct diags *diags)
{
	if (sf->too_big)
		return -1; /* the loader reports it, with the sizes */
	return ydoc_parse(doc, sf->path, sf->data, sf->len, diags);
}

static void *worker(void *arg)
{
	struct ydoc_ahead *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct parsed *p;
		size_t i;

		while (!a->closing && a->next < a->src->files.n && a->next >= a->taken + a->window)
			pthread_cond_wait(&a->room, &a->lock);
		if (a->closing || a->next >= a->src->files.n)
			break;
		i = a->next++;
		p = &a->files[i];
		pthread_mutex_unlock(&a->lock);
		diags_init(&p->diags, 0);
		p->rc = parse_file(&a->src->files.v[i], &p->doc, &p->diags);
		pthread_mutex_lock(&a->lock);
		p->ready = true;
		pthread_cond_broadcast(&a->ready);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static unsigned online_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

struct ydoc_ahead *ydoc_ahead_start(const struct source *src, unsigned threads)
{
	struct ydoc_ahead *a = xcalloc(1, sizeof(*a));

	a->src = src;
	if (!threads)
		threads = online_cores();
	if (threads > YDOC_AHEAD_THREADS)
		threads = YDOC_AHEAD_THREADS;
	if (threads > src->files.n)
		threads = (unsigned)src->files.n;
	if (threads < 2)
		return a; /* no one to work beside the loader: it parses as it goes */
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->ready, NULL);
	pthread_cond_init(&a->room, NULL);
	a->window = 2 * (size_t)threads;
	a->files = xcalloc(src->files.n, sizeof(*a->files));
	a->workers = xcalloc(threads, sizeof(*a->workers));
	for (unsigned t = 0; t < threads; t++)
		if (!pthread_create(&a->workers[a->nworkers], NULL, worker, a))
			a->nworkers++;
	/* none started (out of threads): the loader parses as it goes, and the
	 * files nobody claims are never waited for */
	return a;
}

int ydoc_ahead_take(struct ydoc_ahead *a, size_t i, struct ydoc *doc, struct diags *diags)
{
	struct parsed *p;

	if (!a->nworkers)
		return parse_file(&a->src->files.v[i], doc, diags);
	p = &a->files[i];
	pthread_mutex_lock(&a->lock);
	while (!p->ready)
		pthread_cond_wait(&a->ready, &a->lock);
	a->taken = i + 1;
	pthread_cond_broadcast(&a->room);
	pthread_mutex_unlock(&a->lock);

	*doc = p->doc;
	for (size_t k = 0; k < p->diags.items.n; k++) {
		const struct diag *g = &p->diags.items.v[k];

		diag_add(diags, g->file, g->line, g->col, "%s", g->msg);
	}
	diags_release(&p->diags);
	return p->rc;
}

void ydoc_ahead_free(struct ydoc_ahead *a)
{
	if (!a)
		return;
	if (a->nworkers) {
		pthread_mutex_lock(&a->lock);
		a->closing = true;
		pthread_cond_broadcast(&a->room);
		pthread_mutex_unlock(&a->lock);
	}
	for (unsigned t = 0; t < a->nworkers; t++)
		pthread_join(a->workers[t], NULL);
	/* files parsed but never taken (the loader stopped early) */
	for (size_t i = a->taken; a->nworkers && i < a->next; i++) {
		if (!a->files[i].rc)
			ydoc_release(&a->files[i].doc);
		diags_release(&a->files[i].diags);
	}
	if (a->files) {
		pthread_mutex_destroy(&a->lock);
		pthread_cond_destroy(&a->ready);
		pthread_cond_destroy(&a->room);
	}
	free(a->files);
	free(a->workers);
	free(a);
}

/* Health checks on worker threads; see health_pool.h. */
#include "health_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "vec.h"
#include "xalloc.h"
#include "banned.h"

struct hp_job {
	struct health_target t;
	uint64_t deadline_ms;
	void *tag;
	int rc;
	struct error err;
	struct hp_job *next;
};

/* A first-in, first-out list of jobs. */
struct hp_list {
	struct hp_job *head, **tail;
};

struct health_pool {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or the pool is closing */
	pthread_cond_t done; /* a job finished */
	struct hp_list todo, finished;
	size_t pending; /* queued + running + finished but not taken */
	unsigned idle, max;
	bool closing;
	VEC(pthread_t) workers;
};

static void list_push(struct hp_list *l, struct hp_job *j)
{
	j->next = NULL;
	*l->tail = j;
	l->tail = &j->next;
}

static struct hp_job *list_pop(struct hp_list *l)
{
	struct hp_job *j = l->head;

	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = &l->head;
	}
	return j;
}

static void *worker(void *arg)
{
	struct health_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct hp_job *j = list_pop(&p->todo);

		if (!j) {
			if (p->closing)
				break;
			p->idle++;
			pthread_cond_wait(&p->work, &p->lock);
			p->idle--;
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		j->rc = health_check(&j->t, j->deadline_ms, &j->err);
		pthread_mutex_lock(&p->lock);
		list_push(&p->finished, j);
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct health_pool *health_pool_new(unsigned threads)
{
	struct health_pool *p = xcalloc(1, sizeof(*p));
	pthread_condattr_t ca;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	/* deadlines are CLOCK_MONOTONIC: a clock change must not stretch a wait */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->done, &ca);
	pthread_condattr_destroy(&ca);
	p->todo.tail = &p->todo.head;
	p->finished.tail = &p->finished.head;
	p->max = threads ? threads : 1;
	return p;
}

void health_pool_submit(struct health_pool *p, const struct health_target *t, uint64_t deadline_ms,
			void *tag)
{
	struct hp_job *j = xcalloc(1, sizeof(*j));
	pthread_t th;

	j->t = *t;
	j->deadline_ms = deadline_ms;
	j->tag = tag;
	j->err = (struct error)ERROR_INIT;
	pthread_mutex_lock(&p->lock);
	list_push(&p->todo, j);
	p->pending++;
	if (p->idle) {
		pthread_cond_signal(&p->work);
	} else if (p->workers.n < p->max) {
		if (pthread_create(&th, NULL, worker, p) == 0)
			vec_push(&p->workers, th);
	}
	/* with no worker at all (the system refused every thread), the caller's
	 * thread runs the check: slower, never lost */
	if (!p->workers.n) {
		list_pop(&p->todo);
		pthread_mutex_unlock(&p->lock);
		j->rc = health_check(&j->t, j->deadline_ms, &j->err);
		pthread_mutex_lock(&p->lock);
		list_push(&p->finished, j);
	}
	pthread_mutex_unlock(&p->lock);
}

int health_pool_wait(struct health_pool *p, uint64_t until_ms, void **tag, int *rc,
		     struct error *err)
{
	struct timespec ts = {(time_t)(until_ms / 1000), (long)(until_ms % 1000) * 1000000L};
	struct hp_job *j;

	pthread_mutex_lock(&p->lock);
	while (!p->finished.head && p->pending && health_now_ms() < until_ms)
		if (pthread_cond_timedwait(&p->done, &p->lock, &ts) == ETIMEDOUT)
			break;
	j = list_pop(&p->finished);
	if (j)
		p->pending--;
	pthread_mutex_unlock(&p->lock);
	if (!j)
		return 0;
	*tag = j->tag;
	*rc = j->rc;
	if (j->rc < 0)
		error_set(err, "%s", error_msg(&j->err));
	error_release(&j->err);
	free(j);
	return 1;
}

size_t health_pool_pending(struct health_pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = p->pending;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void health_pool_free(struct health_pool *p)
{
	struct hp_job *j;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->closing = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	/* workers finish what is queued first: every check ends by its deadline */
	for (size_t i = 0; i < p->workers.n; i++)
		pthread_join(p->workers.v[i], NULL);
	while ((j = list_pop(&p->finished))) {
		error_release(&j->err);
		free(j);
	}
	vec_release(&p->workers);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

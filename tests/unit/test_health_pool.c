/*
 * The health pool with real uptests (bash -c '...'). That checks run
 * side by side is shown without a clock: each uptest of a group waits for
 * every other one of its group to have started, so run one after another
 * the first would give up and fail.
 */
#include "unit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "desired.h"
#include "health.h"
#include "health_pool.h"

/* $1 is the directory (HOST), $2 the instance (PORT): healthy once $0
 * instances have been seen in the directory, its own among them. A failed
 * uptest is tried again until the deadline, so a check that runs alone
 * fails only when its deadline comes. */
static const char *rendezvous =
	"touch \"$1/$2\"; shopt -s nullglob; f=(\"$1\"/*); "
	"[ ${#f[@]} -ge \"$0\" ] || { echo \"alone: ${#f[@]} of $0\"; exit 1; }";

struct row {
	const char *name;
	unsigned threads;    /* the pool's workers */
	int checks;	     /* submitted at once */
	const char *want;    /* how many must meet (rendezvous's $0) */
	uint64_t timeout_ms; /* each check's deadline, from the submission */
	int healthy;	     /* results with rc 0 */
	const char *msg;     /* a substring of some failure's message, or NULL */
};

static const struct row rows[] = {
	{"four checks on four workers meet", 4, 4, "4", 20000, 4, NULL},
	{"workers are started as needed, at most as many as checks", 64, 5, "5", 20000, 5, NULL},
	/* the fourth is not tried before a worker is free, and none is before
	 * the deadline */
	{"one check more than the workers: three wait in vain", 3, 4, "4", 1500, 0,
	 "alone: 3 of 4"},
	{"a single worker runs them one after another: the first waits alone", 1, 2, "2", 1500, 0,
	 "alone: 1 of 2"},
};

static void run_row(const struct row *r)
{
	char dir[] = "/tmp/raptor-test-pool-XXXXXX";
	char *argv[] = {"/bin/bash", "-c", (char *)rendezvous, (char *)r->want};
	struct strv sv = {argv, 4};
	const struct health h = {.uptests = &sv, .nuptests = 1};
	struct health_target t = {dir, "127.0.0.1", 0, &h};
	struct health_pool *p = health_pool_new(r->threads);
	int seen[64] = {0}, healthy = 0, got = 0, ids[64];
	uint64_t deadline = health_now_ms() + r->timeout_ms;
	bool msg_seen = !r->msg;
	struct error err = ERROR_INIT;
	void *tag;
	int rc;

	assert_non_null(mkdtemp(dir));
	for (int i = 0; i < r->checks; i++) {
		ids[i] = i;
		/* the port tells the instances apart: 1, 2, ... */
		t.port = i + 1;
		health_pool_submit(p, &t, deadline, &ids[i]);
	}
	assert_int_equal(health_pool_pending(p), r->checks);
	while (health_pool_wait(p, deadline + 5000, &tag, &rc, &err) == 1) {
		int i = *(int *)tag;

		assert_true(i >= 0 && i < r->checks);
		assert_int_equal(seen[i], 0);
		seen[i] = 1;
		got++;
		if (rc == 0) {
			healthy++;
		} else {
			assert_int_equal(rc, -1);
			if (r->msg && strstr(error_msg(&err), r->msg))
				msg_seen = true;
		}
	}
	if (got != r->checks || healthy != r->healthy)
		fail_msg("%s: %d results, %d healthy; want %d and %d", r->name, got, healthy,
			 r->checks, r->healthy);
	if (!msg_seen)
		fail_msg("%s: no failure said '%s'", r->name, r->msg);
	assert_int_equal(health_pool_pending(p), 0);
	health_pool_free(p);
	error_release(&err);
	for (int i = 0; i < r->checks; i++) {
		char f[64];

		snprintf(f, sizeof(f), "%s/%d", dir, i + 1);
		unlink(f);
	}
	assert_int_equal(rmdir(dir), 0);
}

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		run_row(&rows[i]);
}

/* Nothing queued: a wait answers at once, however far its deadline. */
static void test_empty(void **state)
{
	struct health_pool *p = health_pool_new(2);
	struct error err = ERROR_INIT;
	void *tag = NULL;
	int rc = 7;

	(void)state;
	assert_int_equal(health_pool_wait(p, UINT64_MAX, &tag, &rc, &err), 0);
	assert_null(tag);
	assert_int_equal(rc, 7);
	health_pool_free(p);
	error_release(&err);
}

/* Freed with checks still running: it waits for them and loses nothing. */
static void test_free_while_running(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "sleep 0.2", "--"};
	struct strv sv = {argv, 4};
	const struct health h = {.uptests = &sv, .nuptests = 1};
	struct health_target t = {"h", "127.0.0.1", 0, &h};
	struct health_pool *p = health_pool_new(2);
	int tags[3];

	(void)state;
	for (int i = 0; i < 3; i++)
		health_pool_submit(p, &t, health_now_ms() + 10000, &tags[i]);
	health_pool_free(p); /* ASan/LSan and valgrind see the rest */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_free_while_running),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

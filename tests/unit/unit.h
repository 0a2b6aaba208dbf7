/* What every cmocka test file needs, in the order cmocka needs it. */
#ifndef RAPTOR_UNIT_H
#define RAPTOR_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * A scratch directory for a group of tests: pass unit_tmpdir_make and
 * unit_tmpdir_remove as the group's setup and teardown, and find it at
 * unit_tmpdir(). Inline, so a file that has no use for it pays nothing.
 */
static inline char *unit_tmpdir(void)
{
	static char dir[64];

	return dir;
}

static inline int unit_tmpdir_make(void **state)
{
	(void)state;
	snprintf(unit_tmpdir(), 64, "/tmp/raptor-unit-XXXXXX");
	return mkdtemp(unit_tmpdir()) ? 0 : -1;
}

static inline int unit_tmpdir_remove(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", unit_tmpdir());
	return system(cmd) == 0 ? 0 : -1;
}

/* Every child the tests started was reaped: put last in a group that forks. */
static inline void unit_no_children_left(void **state)
{
	(void)state;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

#endif

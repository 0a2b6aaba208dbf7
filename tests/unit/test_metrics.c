/*
 * The reconcile loop's Prometheus text file, one round a row: which lines it
 * must hold and which it must not, and that every sample line belongs to a
 * family announced by HELP and TYPE (what node_exporter's textfile collector
 * checks before it accepts a file).
 */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "metrics.h"

struct row {
	const char *name;
	enum round_outcome outcome;
	const char *commit;
	bool planned;
	size_t current, unmanaged, unreachable;
	const char *op, *result;    /* one action count, or NULL */
	const char *earlier_commit; /* the loop's applied commit before this round */
	const char *want[6];
	const char *not_want[3];
};

static const struct row rows[] = {
	{"a converged round",
	 ROUND_CONVERGED,
	 "abc123",
	 true,
	 3,
	 1,
	 0,
	 "start",
	 "ok",
	 NULL,
	 {"raptor_last_round_success 1\n", "raptor_last_round_outcome{outcome=\"converged\"} 1\n",
	  "raptor_instances{class=\"current\"} 3\n", "raptor_instances{class=\"unmanaged\"} 1\n",
	  "raptor_last_round_actions{op=\"start\",result=\"ok\"} 1\n",
	  "raptor_applied_commit_info{commit=\"abc123\"} 1\n"},
	 {"raptor_last_round_outcome{outcome=\"converged\"} 0"}},
	{"nothing to do counts as success",
	 ROUND_NOTHING,
	 "abc123",
	 true,
	 3,
	 0,
	 1,
	 NULL,
	 NULL,
	 NULL,
	 {"raptor_last_round_success 1\n", "raptor_hosts_unreachable 1\n",
	  "raptor_rounds_total{outcome=\"nothing\"} 1\n",
	  "raptor_last_success_timestamp_seconds 1000.000\n"},
	 {"raptor_last_round_actions{"}},
	{"a failed round keeps the commit applied before",
	 ROUND_FAILED,
	 "def456",
	 true,
	 2,
	 0,
	 0,
	 "check",
	 "failed",
	 "abc123",
	 {"raptor_last_round_success 0\n", "raptor_applied_commit_info{commit=\"abc123\"} 1\n",
	  "raptor_desired_commit_info{commit=\"def456\"} 1\n",
	  "raptor_last_round_actions{op=\"check\",result=\"failed\"} 1\n",
	  "raptor_last_success_timestamp_seconds 500.000\n"},
	 {"raptor_last_round_timestamp_seconds 500"}},
	{"an error before the fleet was asked shows no fleet figures",
	 ROUND_ERROR,
	 NULL,
	 false,
	 0,
	 0,
	 0,
	 NULL,
	 NULL,
	 NULL,
	 {"raptor_last_round_success 0\n", "raptor_last_round_outcome{outcome=\"error\"} 1\n",
	  "raptor_last_round_duration_seconds 0.250\n"},
	 {"raptor_instances{", "raptor_hosts ", "raptor_applied_commit_info"}},
	{"a label value is escaped",
	 ROUND_CONVERGED,
	 "a\"b\\c",
	 true,
	 0,
	 0,
	 0,
	 NULL,
	 NULL,
	 NULL,
	 {"raptor_applied_commit_info{commit=\"a\\\"b\\\\c\"} 1\n"},
	 {NULL}},
};

/* Every sample's metric name has HELP and TYPE lines before it. */
static void check_families(const char *text)
{
	const char *line = text;

	while (*line) {
		const char *end = strchr(line, '\n');
		char name[128], help[160], type[160];
		size_t n = strcspn(line, "{ ");

		assert_non_null(end);
		if (line[0] != '#') {
			assert_true(n < sizeof(name));
			memcpy(name, line, n);
			name[n] = '\0';
			snprintf(help, sizeof(help), "# HELP %s ", name);
			snprintf(type, sizeof(type), "# TYPE %s ", name);
			if (!strstr(text, help) || !strstr(text, type))
				fail_msg("%s has no HELP or TYPE line", name);
		}
		line = end + 1;
	}
}

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];
		struct round_report rep = {0};
		struct metrics_loop m = {0};
		struct buf text = BUF_INIT;

		rep.outcome = r->outcome;
		rep.commit = (char *)r->commit;
		rep.planned = r->planned;
		rep.seconds = 0.25;
		rep.hosts = 3;
		rep.unreachable = r->unreachable;
		rep.instances[CLASS_CURRENT] = r->current;
		rep.instances[CLASS_UNMANAGED] = r->unmanaged;
		if (r->op)
			apply_result_count(&rep.res, r->op, r->result);
		if (r->earlier_commit) {
			struct round_report before = {.outcome = ROUND_CONVERGED,
						      .commit = (char *)r->earlier_commit};

			metrics_note_round(&m, &before, 500);
			m.rounds[ROUND_CONVERGED] = 0;
		}
		metrics_note_round(&m, &rep, 1000);
		metrics_format(&text, &rep, 1000, &m);
		for (size_t k = 0; k < ARRAY_SIZE(r->want) && r->want[k]; k++)
			if (!strstr(text.ptr, r->want[k]))
				fail_msg("row '%s': missing %s in:\n%s", r->name, r->want[k],
					 text.ptr);
		for (size_t k = 0; k < ARRAY_SIZE(r->not_want) && r->not_want[k]; k++)
			if (strstr(text.ptr, r->not_want[k]))
				fail_msg("row '%s': should not hold %s", r->name, r->not_want[k]);
		check_families(text.ptr);
		buf_release(&text);
		metrics_loop_release(&m);
		apply_result_release(&rep.res);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

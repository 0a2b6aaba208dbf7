/* The reconcile loop's Prometheus text file; see metrics.h. */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "xalloc.h"
#include "banned.h"

void metrics_note_round(struct metrics_loop *m, const struct round_report *r, double now)
{
	m->rounds[r->outcome]++;
	if (r->outcome != ROUND_NOTHING && r->outcome != ROUND_CONVERGED)
		return;
	m->last_success = now;
	if (r->commit) {
		free(m->applied_commit);
		m->applied_commit = xstrdup(r->commit);
	}
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the exposition format wants it: \, " and newline escaped. */
static void label_value(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_putc(b, '\\');
		if (*v == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *v);
	}
}

void metrics_format(struct buf *b, const struct round_report *r, double now,
		    const struct metrics_loop *m)
{
	bool ok = r->outcome == ROUND_NOTHING || r->outcome == ROUND_CONVERGED;

	family(b, "raptor_last_round_success", "gauge",
	       "1 when the last round converged or found nothing to do, else 0.");
	buf_printf(b, "raptor_last_round_success %d\n", ok);
	family(b, "raptor_last_round_timestamp_seconds", "gauge",
	       "When the last round ended, in seconds since the epoch.");
	buf_printf(b, "raptor_last_round_timestamp_seconds %.3f\n", now);
	family(b, "raptor_last_round_duration_seconds", "gauge", "How long the last round took.");
	buf_printf(b, "raptor_last_round_duration_seconds %.3f\n", r->seconds);
	family(b, "raptor_last_round_outcome", "gauge",
	       "The last round's outcome: 1 for the one it had, 0 for the others.");
	for (int o = 0; o < ROUND_OUTCOMES; o++)
		buf_printf(b, "raptor_last_round_outcome{outcome=\"%s\"} %d\n",
			   round_outcome_text((enum round_outcome)o), (int)r->outcome == o);
	family(b, "raptor_rounds_total", "counter", "Rounds this process ran, by outcome.");
	for (int o = 0; o < ROUND_OUTCOMES; o++)
		buf_printf(b, "raptor_rounds_total{outcome=\"%s\"} %zu\n",
			   round_outcome_text((enum round_outcome)o), m->rounds[o]);
	if (m->last_success > 0) {
		family(b, "raptor_last_success_timestamp_seconds", "gauge",
		       "When a round last converged or found nothing to do, in seconds since the epoch.");
		buf_printf(b, "raptor_last_success_timestamp_seconds %.3f\n", m->last_success);
	}
	/* what the fleet looked like: only from a round that asked it */
	if (r->planned) {
		family(b, "raptor_instances", "gauge",
		       "Programs on the reachable hosts in the last round, by class.");
		for (int k = 0; k <= CLASS_UNMANAGED; k++)
			buf_printf(b, "raptor_instances{class=\"%s\"} %zu\n",
				   plan_class_text((enum plan_class)k), r->instances[k]);
		family(b, "raptor_hosts", "gauge", "Hosts asked in the last round.");
		buf_printf(b, "raptor_hosts %zu\n", r->hosts);
		family(b, "raptor_hosts_unreachable", "gauge",
		       "Hosts that did not answer in the last round.");
		buf_printf(b, "raptor_hosts_unreachable %zu\n", r->unreachable);
	}
	family(b, "raptor_last_round_actions", "gauge",
	       "Actions of the last round (as journaled), by op and result.");
	for (size_t i = 0; i < r->res.counts.n; i++) {
		buf_printf(b, "raptor_last_round_actions{op=\"");
		label_value(b, r->res.counts.v[i].op);
		buf_puts(b, "\",result=\"");
		label_value(b, r->res.counts.v[i].result);
		buf_printf(b, "\"} %zu\n", r->res.counts.v[i].n);
	}
	if (r->commit) {
		family(b, "raptor_desired_commit_info", "gauge",
		       "The desired-state commit the last round read, as a label.");
		buf_puts(b, "raptor_desired_commit_info{commit=\"");
		label_value(b, r->commit);
		buf_puts(b, "\"} 1\n");
	}
	if (m->applied_commit) {
		family(b, "raptor_applied_commit_info", "gauge",
		       "The desired-state commit the fleet last matched, as a label.");
		buf_puts(b, "raptor_applied_commit_info{commit=\"");
		label_value(b, m->applied_commit);
		buf_puts(b, "\"} 1\n");
	}
}

int metrics_write(const char *path, const struct buf *text, struct error *err)
{
	/* world-readable: node_exporter usually runs as its own user */
	return file_write_atomic(path, text->ptr ? text->ptr : "", text->len, 0644, err);
}

void metrics_loop_release(struct metrics_loop *m)
{
	free(m->applied_commit);
	m->applied_commit = NULL;
}

/*
 * `raptor status` output: text for people (grouped by squad, colour only on
 * a terminal) and the JSON document of DESIGN.md §6 for programs.
 */
#include <jansson.h>
#include <string.h>

#include "status_view.h"
#include "term.h"
#include "banned.h"

static enum term_color state_color(const char *state)
{
	if (!strcmp(state, "RUNNING"))
		return TERM_GREEN;
	if (!strcmp(state, "FATAL") || !strcmp(state, "BACKOFF") || !strcmp(state, "EXITED") ||
	    !strcmp(state, "UNKNOWN"))
		return TERM_RED;
	return TERM_YELLOW;
}

static size_t name_width(const struct status_host *h)
{
	size_t w = 4;

	for (size_t i = 0; i < h->nprograms; i++)
		if (strlen(h->programs[i].name) > w)
			w = strlen(h->programs[i].name);
	return w;
}

static void host_text(FILE *f, const struct status_host *sh)
{
	const struct live_host *h = sh->live;
	int w = (int)name_width(sh);

	if (!h->reachable) {
		fprintf(f, "  %s  %sUNREACHABLE%s  %s\n", h->name, term_color(f, TERM_RED),
			term_color(f, TERM_RESET), h->error ? h->error : "");
		return;
	}
	fprintf(f, "  %s  up, %zu program%s (%.0f ms)\n", h->name, sh->nprograms,
		sh->nprograms == 1 ? "" : "s", h->seconds * 1000.0);
	for (size_t i = 0; i < sh->nprograms; i++) {
		const struct status_program *p = &sh->programs[i];

		fprintf(f, "    %s%-10s%s %-*s  %-9s", term_color(f, state_color(p->state)),
			p->state, term_color(f, TERM_RESET), w, p->name,
			p->managed ? "managed" : "unmanaged");
		if (p->swarm)
			fprintf(f, "  %s", p->swarm);
		if (p->port)
			fprintf(f, "  port %d", p->port);
		if (p->managed && p->klass)
			fprintf(f, "  (%s)", p->klass);
		fputc('\n', f);
	}
}

void render_status_text(FILE *f, const struct status_view *v)
{
	const char *squad = NULL;
	size_t up = 0, managed = 0, unmanaged = 0;
	bool outsiders = false;

	for (size_t i = 0; i < v->nhosts; i++) {
		const struct status_host *sh = &v->hosts[i];
		const char *s = sh->live->squad;

		if (s && (!squad || strcmp(s, squad))) {
			fprintf(f, "%ssquad %s%s\n", term_color(f, TERM_BOLD), s,
				term_color(f, TERM_RESET));
			squad = s;
		} else if (!s && !outsiders) {
			fprintf(f, "%sin no squad (from the state record)%s\n",
				term_color(f, TERM_BOLD), term_color(f, TERM_RESET));
			outsiders = true;
		}
		host_text(f, sh);
		up += sh->live->reachable;
		managed += sh->managed;
		unmanaged += sh->unmanaged;
	}
	fprintf(f,
		"%zu host%s: %zu answered, %zu unreachable; %zu managed and %zu unmanaged program%s\n",
		v->nhosts, v->nhosts == 1 ? "" : "s", up, v->nhosts - up, managed, unmanaged,
		managed + unmanaged == 1 ? "" : "s");
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *program_json(const struct status_program *p)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "state", json_string(p->state));
	json_object_set_new(o, "managed", json_boolean(p->managed));
	json_object_set_new(o, "swarm", str_or_null(p->swarm));
	json_object_set_new(o, "class", str_or_null(p->klass));
	json_object_set_new(o, "port", p->port ? json_integer(p->port) : json_null());
	json_object_set_new(o, "pid", p->pid ? json_integer(p->pid) : json_null());
	return o;
}

static json_t *host_json(const struct status_host *sh)
{
	const struct live_host *h = sh->live;
	json_t *o = json_object(), *programs = json_array(), *ports = json_array();

	json_object_set_new(o, "name", json_string(h->name));
	json_object_set_new(o, "address", json_string(h->address));
	json_object_set_new(o, "squad", str_or_null(h->squad));
	json_object_set_new(o, "reachable", json_boolean(h->reachable));
	json_object_set_new(o, "error", str_or_null(h->error));
	for (size_t i = 0; i < sh->nprograms; i++)
		json_array_append_new(programs, program_json(&sh->programs[i]));
	for (size_t i = 0; i < h->nports; i++)
		json_array_append_new(ports, json_integer(h->ports[i]));
	json_object_set_new(o, "programs", programs);
	json_object_set_new(o, "listening_ports", ports);
	return o;
}

int render_status_json(FILE *f, const struct status_view *v, const struct source *src)
{
	json_t *doc = json_object(), *source = json_object(), *hosts = json_array();
	int rc;

	json_object_set_new(doc, "format_version", json_integer(1));
	json_object_set_new(source, "path", json_string(src->root ? src->root : "."));
	json_object_set_new(source, "commit", str_or_null(src->commit));
	json_object_set_new(doc, "source", source);
	for (size_t i = 0; i < v->nhosts; i++)
		json_array_append_new(hosts, host_json(&v->hosts[i]));
	json_object_set_new(doc, "hosts", hosts);
	rc = json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	json_decref(doc);
	return rc;
}

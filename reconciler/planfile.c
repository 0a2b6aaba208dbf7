/* Plan files; see planfile.h. */
#include "planfile.h"

#include <jansson.h>
#include <string.h>

#include "banned.h"

int planfile_check(const char *text, size_t len, const char *name, const struct plan *p,
		   const struct live *l, struct error *err)
{
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *actions;
	const char *fp_file;
	char fp[17];
	int rc = -1;

	if (!doc)
		return error_set(err, "%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
	live_fingerprint(fp, l);
	fp_file = json_string_value(json_object_get(doc, "fingerprint"));
	if (!fp_file || strcmp(fp_file, fp)) {
		error_set(
			err,
			"%s was made from another live state (the fleet changed since: hosts, programs or ports); make a new plan",
			name);
		goto cleanup;
	}
	actions = json_object_get(doc, "actions");
	if (!json_is_array(actions) || json_array_size(actions) != p->actions.n) {
		error_set(
			err,
			"%s does not match the plan made now (the desired state changed since); make a new plan",
			name);
		goto cleanup;
	}
	for (size_t i = 0; i < p->actions.n; i++) {
		const struct plan_action *a = &p->actions.v[i];
		json_t *o = json_array_get(actions, i);
		const char *op = json_string_value(json_object_get(o, "op"));
		const char *prog = json_string_value(json_object_get(o, "program"));
		const char *host = json_string_value(json_object_get(o, "host"));

		/* the host too: a program's name does not say where it runs, and a
		 * squad move changes neither the names nor the live fingerprint */
		if (!op || strcmp(op, plan_op_text(a->op)) ||
		    (a->program && (!prog || strcmp(prog, a->program))) ||
		    (a->host && (!host || strcmp(host, a->host)))) {
			error_set(
				err,
				"%s does not match the plan made now (action %zu differs); make a new plan",
				name, i + 1);
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	json_decref(doc);
	return rc;
}

/*
 * The loader and schema/desired-state.schema.json describe one format: every
 * key the loader's tables accept is a property of the matching $defs entry
 * (or of the top level), and every property there is a key the loader
 * accepts. A key added to one and not the other fails here. Likewise every
 * reason the planner gives is one schema/plan.schema.json allows.
 */
#include "unit.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "desired_load.h"
#include "planner.h"

#define SCHEMA_PATH	 "../../schema/desired-state.schema.json"
#define PLAN_SCHEMA_PATH "../../schema/plan.schema.json"

struct walk {
	json_t *schema;
	json_t *seen; /* table -> {key: true} as the loader reports them */
	int missing;
};

static json_t *table_props(json_t *schema, const char *table)
{
	if (!strcmp(table, "root"))
		return json_object_get(schema, "properties");
	return json_object_get(json_object_get(json_object_get(schema, "$defs"), table),
			       "properties");
}

static void on_key(void *ctx, const char *table, const char *key)
{
	struct walk *w = ctx;
	json_t *props = table_props(w->schema, table);
	json_t *keys = json_object_get(w->seen, table);

	if (!keys) {
		keys = json_object();
		json_object_set_new(w->seen, table, keys);
	}
	json_object_set_new(keys, key, json_true());
	if (!props || !json_object_get(props, key)) {
		print_message("the loader accepts %s.%s; the JSON Schema does not\n", table, key);
		w->missing++;
	}
}

static void test_loader_and_schema_agree(void **state)
{
	struct walk w = {0};
	json_error_t jerr;
	json_t *defs, *def;
	const char *name, *key;
	json_t *value;
	int extra = 0;

	(void)state;
	w.schema = json_load_file(SCHEMA_PATH, 0, &jerr);
	if (!w.schema)
		fail_msg("%s:%d: %s", SCHEMA_PATH, jerr.line, jerr.text);
	assert_string_equal(json_string_value(json_object_get(w.schema, "$schema")),
			    "https://json-schema.org/draft/2020-12/schema");
	w.seen = json_object();
	desired_schema_walk(on_key, &w);
	assert_int_equal(w.missing, 0);

	/* the reverse: every object the schema defines is a loader table */
	defs = json_object_get(w.schema, "$defs");
	assert_non_null(defs);
	json_object_foreach(defs, name, def)
	{
		json_t *props = json_object_get(def, "properties");
		json_t *keys = json_object_get(w.seen, name);

		if (!props)
			continue;
		if (!keys) {
			print_message(
				"the JSON Schema defines object '%s'; the loader has no such table\n",
				name);
			extra++;
			continue;
		}
		if (!json_is_false(json_object_get(def, "additionalProperties"))) {
			print_message(
				"$defs.%s allows additional properties; the loader does not\n",
				name);
			extra++;
		}
		json_object_foreach(props, key, value)
		{
			if (!json_object_get(keys, key)) {
				print_message(
					"the JSON Schema has %s.%s; the loader does not accept it\n",
					name, key);
				extra++;
			}
		}
	}
	json_object_foreach(table_props(w.schema, "root"), key, value)
	{
		if (!json_object_get(json_object_get(w.seen, "root"), key)) {
			print_message("the JSON Schema has top-level %s; the loader does not\n",
				      key);
			extra++;
		}
	}
	assert_int_equal(json_object_size(w.seen), 12);
	assert_int_equal(extra, 0);
	json_decref(w.seen);
	json_decref(w.schema);
}

static void test_plan_reasons_in_schema(void **state)
{
	static const char *const path[] = {"properties", "actions", "items",
					   "properties", "reason",  "enum"};
	json_error_t jerr;
	json_t *schema = json_load_file(PLAN_SCHEMA_PATH, 0, &jerr), *reasons = schema;
	int missing = 0;

	(void)state;
	if (!schema)
		fail_msg("%s:%d: %s", PLAN_SCHEMA_PATH, jerr.line, jerr.text);
	for (size_t i = 0; i < ARRAY_SIZE(path); i++)
		reasons = json_object_get(reasons, path[i]);
	assert_true(json_is_array(reasons));
	for (int r = 0; r < REASON_COUNT; r++) {
		const char *text = plan_reason_text((enum plan_reason)r);
		bool found = false;
		size_t i;
		json_t *v;

		json_array_foreach(reasons, i, v)
		{
			found |= !strcmp(json_string_value(v), text);
		}
		if (!found) {
			print_message("the planner's reason '%s' is not in %s\n", text,
				      PLAN_SCHEMA_PATH);
			missing++;
		}
	}
	assert_int_equal(missing, 0);
	assert_int_equal(json_array_size(reasons), REASON_COUNT);
	json_decref(schema);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loader_and_schema_agree),
		cmocka_unit_test(test_plan_reasons_in_schema),
	};
	return cmocka_run_group_tests_name("schema", tests, NULL, NULL);
}

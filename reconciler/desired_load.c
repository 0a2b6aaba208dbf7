/*
 * The desired-state loader: every YAML file of a source, parsed into one
 * fresh model. The grammar is declarative — one table of fields per mapping
 * kind, in the spirit of relayd's parse.y tables — and one generic walker
 * applies it: unknown keys (with a suggestion), duplicate keys, wrong types,
 * ranges and value rules are all reported at the value's position, and the
 * walk goes on so that one run reports every mistake. Cross-references and
 * cross-file rules are the semantic pass's (desired_check.c).
 */
#include "desired_load.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "progname.h"
#include "strmap.h"
#include "suggest.h"
#include "units.h"
#include "xalloc.h"
#include "ydoc.h"
#include "ydoc_ahead.h"
#include "banned.h"

#define MAX_FIELDS 16

enum ftype { F_STRING, F_INT, F_BOOL, F_DURATION, F_ENUM, F_ARGV, F_AMOUNT, F_TABLE, F_CUSTOM };

struct loader;
struct field;

/* A value rule: 0 if `s` is fine, else -1 with the whole message in `why`. */
typedef int (*check_fn)(struct buf *why, const char *key, const char *s);
typedef void (*custom_fn)(struct loader *lc, const struct ynode *v, void *target,
			  const struct field *f);

struct field {
	const char *key;
	enum ftype type;
	size_t off;
	bool required;
	bool merge; /* settings: each key may be set by one file only */
	long min, max;
	const char *const *choices;
	check_fn check;
	const struct table *sub;
	custom_fn custom;
	size_t pos_off; /* 0: no position kept */
};

struct table {
	const char *name; /* as in schema/desired-state.schema.json's $defs */
	const char *what; /* for messages */
	const struct field *fields;
	size_t n;
	size_t pos_off;
	int merge_id; /* index into loader.settings_at, or -1 */
};

enum { MERGE_SETTINGS, MERGE_SUPERVISOR, MERGE_PORTS, MERGE_TIMEOUTS, MERGE_TABLES };
static const char *const merge_names[MERGE_TABLES] = {"settings", "settings.supervisor",
						      "settings.ports", "settings.timeouts"};

struct loader {
	struct desired *d;
	struct diags *diags;
	const char *file; /* in d->mem */
	struct pos settings_at[MERGE_TABLES][MAX_FIELDS];
	struct strmap squad_at, balancer_at; /* name -> struct pos * */
};

/* ---- positions and messages ---- */

static struct pos pos_of(const struct loader *lc, const struct ynode *n)
{
	struct pos p = {lc->file, n->line, n->col};
	return p;
}

static void err_at(struct loader *lc, const struct ynode *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void err_at(struct loader *lc, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(lc->diags, lc->file, n->line, n->col, fmt, ap);
	va_end(ap);
}

static void err_type(struct loader *lc, const struct ynode *n, const char *key, const char *expect)
{
	struct buf got = BUF_INIT;

	ynode_describe(&got, n);
	err_at(lc, n, "'%s' must be %s, not %s", key, expect, got.ptr);
	buf_release(&got);
}

/* Names the first character that breaks a [allowed] rule, for messages. */
static void describe_char(struct buf *out, unsigned char c)
{
	if (c == ' ')
		buf_puts(out, "a space");
	else if (c == '\n')
		buf_puts(out, "a newline");
	else if (c == '\t')
		buf_puts(out, "a tab");
	else if (c < 0x20 || c == 0x7f)
		buf_printf(out, "the control character 0x%02x", c);
	else if (c >= 0x80)
		buf_puts(out, "a non-ASCII character");
	else
		buf_printf(out, "'%c'", c);
}

static void quote_value(struct buf *out, const char *s)
{
	buf_putc(out, '\'');
	buf_add_printable(out, s, strlen(s));
	buf_putc(out, '\'');
}

/* ---- value rules ---- */

static int check_charset(struct buf *why, const char *key, const char *s, const char *noun,
			 bool (*ok)(unsigned char c), const char *allowed)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!*s) {
		buf_printf(why, "%s must not be empty: %s", key, allowed);
		return -1;
	}
	for (; *p; p++) {
		if (ok(*p))
			continue;
		buf_printf(why, "%s ", key);
		quote_value(why, s);
		buf_printf(why, " is not %s: ", noun);
		describe_char(why, *p);
		buf_printf(why, " is not allowed; %s", allowed);
		if (*p == '-')
			buf_puts(why, " ('-' separates the fields of program names)");
		return -1;
	}
	return 0;
}

static int check_ident(struct buf *why, const char *key, const char *s)
{
	return check_charset(why, key, s, "a valid identifier", progname_ident_char,
			     "use letters, digits, '_' and '.'");
}

static int check_version(struct buf *why, const char *key, const char *s)
{
	return check_charset(why, key, s, "a valid version", progname_version_char,
			     "use letters, digits, '_', '.' and '+'");
}

static bool env_name_char(unsigned char c)
{
	return isalnum(c) || c == '_';
}

static int check_env_name(struct buf *why, const char *key, const char *s)
{
	if (check_charset(why, key, s, "a valid environment variable name", env_name_char,
			  "use letters, digits and '_'") < 0)
		return -1;
	if (isdigit((unsigned char)s[0])) {
		buf_printf(why, "%s '%s' starts with a digit", key, s);
		return -1;
	}
	return 0;
}

static bool user_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '.' || c == '-';
}

static int check_user(struct buf *why, const char *key, const char *s)
{
	if (check_charset(why, key, s, "a valid user name", user_char,
			  "use letters, digits, '_', '.' and '-'") < 0)
		return -1;
	if (s[0] == '-' || strlen(s) > 32) {
		buf_printf(why, "%s '%s' is not a valid user name", key, s);
		return -1;
	}
	return 0;
}

static bool host_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

static int check_hostname(struct buf *why, const char *key, const char *s)
{
	if (check_charset(why, key, s, "a valid host name", host_char,
			  "use letters, digits, '-' and '.'") < 0)
		return -1;
	if (strlen(s) > 253 || s[0] == '-' || s[0] == '.') {
		buf_printf(why, "%s '%s' is not a valid host name", key, s);
		return -1;
	}
	return 0;
}

static int check_address(struct buf *why, const char *key, const char *s)
{
	unsigned char addr[16];

	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, addr) == 1)
			return 0;
		buf_printf(why, "%s ", key);
		quote_value(why, s);
		buf_puts(why, " is not a valid IPv6 address");
		return -1;
	}
	return check_hostname(why, key, s);
}

/* supervisord cuts a value at whitespace followed by ';' or '#' (there is no
 * escape, even in quotes), and a newline would start a new line of the file. */
/* The length of the whitespace character at p, as Python's str.isspace()
 * (which supervisord's parser uses) sees it in UTF-8, or 0. */
static size_t space_len(const unsigned char *p)
{
	if (*p == ' ' || *p == '\t')
		return 1;
	if (p[0] == 0xc2 && (p[1] == 0xa0 || p[1] == 0x85))
		return 2;
	if ((p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80) ||
	    (p[0] == 0xe2 && p[1] == 0x80 &&
	     ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf)) ||
	    (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) ||
	    (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80))
		return 3;
	return 0;
}

/* supervisord cuts a value at whitespace followed by ';' or '#' (there is no
 * escape, even in quotes), a newline would start a new line of the file, and
 * it expands %(here)s in every value before any other %-formatting, so not
 * even %%(here)s survives. */
static int check_ini_safe(struct buf *why, const char *key, const char *s)
{
	for (const char *p = s; *p; p++) {
		size_t sp = space_len((const unsigned char *)p);

		if (*p == '\n' || *p == '\r' || (unsigned char)*p < 0x20) {
			buf_printf(why, "%s contains ", key);
			describe_char(why, (unsigned char)*p);
			buf_puts(why, ": supervisord's config format cannot hold it");
			return -1;
		}
		if (sp && (p[sp] == ';' || p[sp] == '#')) {
			buf_printf(
				why,
				"%s contains whitespace followed by '%c', which supervisord reads as the start of a comment and cuts off the rest",
				key, p[sp]);
			return -1;
		}
		if (!strncmp(p, "%(here)s", 8)) {
			buf_printf(
				why,
				"%s contains %%(here)s, which supervisord replaces with a directory in every value before anything else (no escape keeps it)",
				key);
			return -1;
		}
	}
	return 0;
}

static int check_abs_path(struct buf *why, const char *key, const char *s)
{
	if (s[0] != '/') {
		buf_printf(why, "%s ", key);
		quote_value(why, s);
		buf_puts(why, " must be an absolute path (starting with '/')");
		return -1;
	}
	return check_ini_safe(why, key, s);
}

static int check_url_path(struct buf *why, const char *key, const char *s)
{
	if (s[0] != '/') {
		buf_printf(why, "%s ", key);
		quote_value(why, s);
		buf_puts(why, " must start with '/'");
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			buf_printf(why, "%s contains ", key);
			describe_char(why, (unsigned char)*p);
			buf_puts(why, ": a URL path cannot");
			return -1;
		}
	}
	return 0;
}

static const char *const placeholders[] = {"PORT", "HOST", "ADDRESS"};

static int check_command(struct buf *why, const char *key, const char *s)
{
	const char *p = s;

	while (isspace((unsigned char)*p))
		p++;
	if (!*p) {
		buf_printf(why, "%s is empty", key);
		return -1;
	}
	if (check_ini_safe(why, key, s) < 0)
		return -1;
	while ((p = strstr(p, "${"))) {
		const char *end = strchr(p, '}');
		size_t len = end ? (size_t)(end - p - 2) : 0;
		bool known = false;

		for (size_t i = 0; end && i < sizeof(placeholders) / sizeof(*placeholders); i++)
			if (strlen(placeholders[i]) == len && !strncmp(p + 2, placeholders[i], len))
				known = true;
		if (!known) {
			char *name = end ? xstrndup(p + 2, len) : NULL;
			const char *hint = name ? suggest(name, placeholders, 3) : NULL;

			buf_printf(why, "%s uses ", key);
			if (name)
				buf_printf(why, "${%s}", name);
			else
				buf_puts(why, "an unclosed '${'");
			buf_puts(why,
				 ": the only placeholders are ${PORT}, ${HOST} and ${ADDRESS}");
			if (hint)
				buf_printf(why, " (did you mean ${%s}?)", hint);
			free(name);
			return -1;
		}
		p = end + 1;
	}
	return 0;
}

/* The subset of values that supervisord 4.2's non-POSIX shlex parse of
 * environment= and a POSIX parse both read back unchanged, once quoted. */
static int check_env_value(struct buf *why, const char *key, const char *s)
{
	size_t len = strlen(s);

	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			buf_printf(
				why,
				"%s contains '%c', which supervisord's environment= parser would silently mangle",
				key, *p);
			return -1;
		}
	}
	if (len && (s[0] == '\'' || s[len - 1] == '\'')) {
		buf_printf(
			why,
			"%s starts or ends with a single quote, which supervisord's environment= parser would strip",
			key);
		return -1;
	}
	return check_ini_safe(why, key, s);
}

static int check_arg(struct buf *why, const char *key, const char *s)
{
	if (!*s) {
		buf_printf(why, "%s has an empty word", key);
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if (*p == '\n' || *p == '\r') {
			buf_printf(why, "%s contains a newline", key);
			return -1;
		}
	}
	return 0;
}

static int check_credentials(struct buf *why, const char *key, const char *s)
{
	if (!strncmp(s, "env:", 4)) {
		if (check_env_name(why, key, s + 4) < 0)
			return -1;
		return 0;
	}
	if (!strncmp(s, "file:", 5)) {
		if (s[5] != '/') {
			buf_printf(why, "%s: the file in file:PATH must be an absolute path", key);
			return -1;
		}
		return check_arg(why, key, s + 5);
	}
	/* never echo the value: it may be the very secret that must not be here */
	buf_printf(
		why,
		"%s must be a reference, env:VARIABLE or file:/path/to/file, never the secret itself",
		key);
	return -1;
}

static int check_url(struct buf *why, const char *key, const char *s)
{
	const char *rest, *slash, *at;

	if (!strncmp(s, "http://", 7))
		rest = s + 7;
	else if (!strncmp(s, "https://", 8))
		rest = s + 8;
	else {
		buf_printf(why, "%s must be an http:// or https:// URL", key);
		return -1;
	}
	slash = strchr(rest, '/');
	at = strchr(rest, '@');
	if (at && (!slash || at < slash)) {
		/* the URL is not repeated: it holds a user or password */
		buf_printf(
			why,
			"%s holds a user name or password: put credentials in settings.supervisor.credentials (env: or file:), never in a URL",
			key);
		return -1;
	}
	if (rest[0] == '/' || !rest[0]) {
		buf_printf(why, "%s has no host", key);
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			buf_printf(why, "%s contains ", key);
			describe_char(why, (unsigned char)*p);
			return -1;
		}
	}
	return 0;
}

/* ---- scalars ---- */

static const char *scalar_text(struct loader *lc, const struct ynode *v, const char *key,
			       const char *expect)
{
	if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
		err_type(lc, v, key, expect);
		return NULL;
	}
	if (memchr(v->text, '\0', v->len)) {
		err_at(lc, v, "'%s' contains a NUL character", key);
		return NULL;
	}
	return v->text;
}

static int read_string(struct loader *lc, const struct ynode *v, const char *key, check_fn check,
		       char **out)
{
	const char *s = scalar_text(lc, v, key, "a string");
	struct buf why = BUF_INIT;
	int rc = 0;

	if (!s)
		return -1;
	if (check && check(&why, key, s) < 0) {
		err_at(lc, v, "%s", why.ptr);
		rc = -1;
	}
	/* kept even when a rule failed, so later checks see what was written */
	*out = arena_strndup(&lc->d->mem, s, v->len);
	buf_release(&why);
	return rc;
}

static bool parse_long(const char *s, long *out)
{
	char *end;

	if (!*s || !(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
		return false;
	errno = 0;
	*out = strtol(s, &end, 10);
	return !*end && errno != ERANGE;
}

static void describe_int_range(struct buf *out, const struct field *f)
{
	buf_printf(out, "a whole number from %ld to %ld", f->min, f->max);
}

static int read_int(struct loader *lc, const struct ynode *v, const struct field *f, int *out)
{
	struct buf expect = BUF_INIT;
	long n;

	if (v->kind == YNODE_SCALAR && v->plain && parse_long(v->text, &n) && n >= f->min &&
	    n <= f->max) {
		*out = (int)n;
		return 0;
	}
	/* the slow path builds the message only when there is one to give */
	describe_int_range(&expect, f);
	if (v->kind != YNODE_SCALAR || !v->plain || !parse_long(v->text, &n)) {
		err_type(lc, v, f->key, expect.ptr);
		if (v->kind == YNODE_SCALAR && !v->plain && parse_long(v->text, &n))
			diag_add(lc->diags, lc->file, v->line, v->col,
				 "note: '%s' is quoted; write %s without quotes", f->key, v->text);
	} else {
		err_at(lc, v, "'%s' must be %s, not %ld", f->key, expect.ptr, n);
	}
	buf_release(&expect);
	return -1;
}

static int read_bool(struct loader *lc, const struct ynode *v, const char *key, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE"};
	static const char *const no[] = {"false", "False", "FALSE"};

	if (v->kind == YNODE_SCALAR && v->plain) {
		for (size_t i = 0; i < 3; i++) {
			if (!strcmp(v->text, yes[i]))
				return *out = true, 0;
			if (!strcmp(v->text, no[i]))
				return *out = false, 0;
		}
	}
	err_type(lc, v, key, "true or false");
	return -1;
}

static int read_duration(struct loader *lc, const struct ynode *v, const struct field *f,
			 uint64_t *out)
{
	struct error err = ERROR_INIT;
	const char *s = scalar_text(lc, v, f->key, "a duration such as 500ms, 10s or 5m");
	uint64_t ms;
	int rc = -1;

	if (!s)
		return -1;
	if (duration_parse(&ms, s, &err) < 0) {
		err_at(lc, v, "'%s': %s", f->key, error_msg(&err));
		goto cleanup;
	}
	if (ms < (uint64_t)f->min || ms > (uint64_t)f->max) {
		struct buf lo = BUF_INIT, hi = BUF_INIT;

		duration_format(&lo, (uint64_t)f->min);
		duration_format(&hi, (uint64_t)f->max);
		err_at(lc, v, "'%s' must be from %s to %s, not %s", f->key, lo.ptr, hi.ptr, s);
		buf_release(&lo);
		buf_release(&hi);
		goto cleanup;
	}
	*out = ms;
	rc = 0;
cleanup:
	error_release(&err);
	return rc;
}

static size_t count_choices(const char *const *choices)
{
	size_t n = 0;

	while (choices[n])
		n++;
	return n;
}

static int read_enum(struct loader *lc, const struct ynode *v, const struct field *f, int *out)
{
	size_t n = count_choices(f->choices);
	struct buf expect = BUF_INIT;
	const char *s;
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		buf_printf(&expect, "%s%s", i ? (i + 1 == n ? " or " : ", ") : "one of ",
			   f->choices[i]);
	s = scalar_text(lc, v, f->key, expect.ptr);
	if (s) {
		for (size_t i = 0; i < n; i++) {
			if (!strcmp(s, f->choices[i])) {
				*out = (int)i;
				rc = 0;
				goto cleanup;
			}
		}
		{
			const char *hint = suggest(s, f->choices, n);
			struct buf got = BUF_INIT;

			ynode_describe(&got, v);
			err_at(lc, v, "'%s' must be %s, not %s%s%s%s", f->key, expect.ptr, got.ptr,
			       hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
			buf_release(&got);
		}
	}
cleanup:
	buf_release(&expect);
	return rc;
}

static int read_argv(struct loader *lc, const struct ynode *v, const char *key, struct strv *out)
{
	struct strv sv;
	int rc = 0;

	if (v->kind != YNODE_SEQ || !v->n) {
		err_type(lc, v, key, "a non-empty list of strings (a command and its arguments)");
		return -1;
	}
	sv.n = v->n;
	sv.v = arena_alloc(&lc->d->mem, sv.n * sizeof(*sv.v));
	for (size_t i = 0; i < v->n; i++)
		if (read_string(lc, v->items[i], key, check_arg, &sv.v[i]) < 0)
			rc = -1;
	if (!rc)
		*out = sv;
	return rc;
}

static int read_amount(struct loader *lc, const struct ynode *v, const struct field *f,
		       struct amount *out)
{
	struct buf expect = BUF_INIT;
	long n;
	int rc = -1;

	buf_printf(&expect, "a count from %ld or a percentage from %ld%% to 100%%", f->min, f->min);
	if (v->kind == YNODE_SCALAR && v->plain && parse_long(v->text, &n)) {
		if (n < f->min || n > f->max) {
			err_at(lc, v, "'%s' must be %s, not %ld", f->key, expect.ptr, n);
			goto cleanup;
		}
		out->value = (int)n;
		out->percent = false;
		rc = 0;
	} else if (v->kind == YNODE_SCALAR && v->len > 1 && v->text[v->len - 1] == '%') {
		char *num = xstrndup(v->text, v->len - 1);

		if (parse_long(num, &n) && n >= f->min && n <= 100) {
			out->value = (int)n;
			out->percent = true;
			rc = 0;
		} else {
			err_type(lc, v, f->key, expect.ptr);
		}
		free(num);
	} else {
		err_type(lc, v, f->key, expect.ptr);
	}
cleanup:
	buf_release(&expect);
	return rc;
}

/* ---- the generic walker ---- */

static const struct field *find_field(const struct table *t, const char *key, size_t *idx)
{
	for (size_t i = 0; i < t->n; i++) {
		if (!strcmp(t->fields[i].key, key)) {
			*idx = i;
			return &t->fields[i];
		}
	}
	return NULL;
}

static void unknown_key(struct loader *lc, const struct ynode *k, const struct table *t)
{
	const char *names[MAX_FIELDS];
	const char *hint;
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < t->n; i++)
		names[i] = t->fields[i].key;
	hint = suggest(k->text, names, t->n);
	buf_puts(&b, "unknown key ");
	quote_value(&b, k->text);
	buf_printf(&b, " in %s", t->what);
	if (!strcmp(k->text, "<<"))
		buf_puts(&b, " (YAML merge keys are not supported)");
	else if (hint)
		buf_printf(&b, " (did you mean '%s'?)", hint);
	else {
		buf_puts(&b, "; known keys: ");
		for (size_t i = 0; i < t->n; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
	}
	err_at(lc, k, "%s", b.ptr);
	buf_release(&b);
}

static void parse_map(struct loader *lc, const struct ynode *node, const struct table *t, void *obj,
		      const struct ynode **seen, bool merge);

static void check_required(struct loader *lc, const struct ynode *node, const struct table *t,
			   const struct ynode *const *seen, const char *what)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->fields[i].required && !seen[i])
			err_at(lc, node, "%s is missing the required key '%s'", what,
			       t->fields[i].key);
}

/* Whether a parse_map() of table `t` saw `key`. */
static bool was_set(const struct table *t, const struct ynode *const *seen, const char *key)
{
	size_t idx;

	return find_field(t, key, &idx) && seen[idx];
}

static void parse_value(struct loader *lc, const struct field *f, const struct ynode *v, void *obj,
			bool merge)
{
	void *target = (char *)obj + f->off;

	switch (f->type) {
	case F_STRING:
		read_string(lc, v, f->key, f->check, target);
		break;
	case F_INT:
		read_int(lc, v, f, target);
		break;
	case F_BOOL:
		read_bool(lc, v, f->key, target);
		break;
	case F_DURATION:
		read_duration(lc, v, f, target);
		break;
	case F_ENUM:
		read_enum(lc, v, f, target);
		break;
	case F_ARGV:
		read_argv(lc, v, f->key, target);
		break;
	case F_AMOUNT:
		read_amount(lc, v, f, target);
		break;
	case F_TABLE: {
		const struct ynode *seen[MAX_FIELDS] = {0};

		if (v->kind != YNODE_MAP) {
			err_type(lc, v, f->key, "a mapping");
			break;
		}
		parse_map(lc, v, f->sub, target, seen, merge);
		check_required(lc, v, f->sub, seen, f->sub->what);
		break;
	}
	case F_CUSTOM:
		f->custom(lc, v, target, f);
		break;
	}
}

static void parse_map(struct loader *lc, const struct ynode *node, const struct table *t, void *obj,
		      const struct ynode **seen, bool merge)
{
	if (node->kind != YNODE_MAP) {
		struct buf got = BUF_INIT;

		ynode_describe(&got, node);
		err_at(lc, node, "%s must be a mapping, not %s", t->what, got.ptr);
		buf_release(&got);
		return;
	}
	if (t->pos_off)
		*(struct pos *)((char *)obj + t->pos_off) = pos_of(lc, node);
	for (size_t i = 0; i < node->n; i++) {
		const struct ynode *k = node->items[2 * i], *v = node->items[2 * i + 1];
		const struct field *f;
		size_t idx;

		if (k->kind != YNODE_SCALAR || ynode_is_null(k)) {
			err_at(lc, k, "keys in %s must be plain names", t->what);
			continue;
		}
		f = find_field(t, k->text, &idx);
		if (!f) {
			unknown_key(lc, k, t);
			continue;
		}
		if (seen[idx]) {
			err_at(lc, k, "duplicate key '%s' in %s (first at line %u, column %u)",
			       f->key, t->what, seen[idx]->line, seen[idx]->col);
			continue;
		}
		seen[idx] = k;
		if (merge && t->merge_id >= 0 && f->type != F_TABLE) {
			struct pos *at = &lc->settings_at[t->merge_id][idx];

			if (at->file) {
				err_at(lc, k,
				       "%s '%s' is already set at %s:%u:%u: one file at most sets each settings key",
				       merge_names[t->merge_id], f->key, at->file, at->line,
				       at->col);
				continue;
			}
			*at = pos_of(lc, k);
		}
		parse_value(lc, f, v, obj, merge || f->merge);
		if (f->pos_off)
			*(struct pos *)((char *)obj + f->pos_off) = pos_of(lc, v);
	}
}

/* ---- the grammar ---- */

#define OFF(T, m) .off = offsetof(T, m)
#define POS(T, m) .pos_off = offsetof(T, m)
#define N(a)	  (sizeof(a) / sizeof((a)[0]))

static const char *const scheme_choices[] = {"http", "https", "unix", NULL};
static const char *const unreachable_choices[] = {"replace", "wait", NULL};
static const char *const port_choices[] = {"auto", "none", NULL};
static const char *const adopt_choices[] = {"none", "velociraptor", NULL};
static const char *const balancer_choices[] = {"nginx", NULL};

static const struct field supervisor_fields[] = {
	{"port", F_INT, OFF(struct supervisor_settings, port), .min = 1, .max = 65535},
	{"path", F_STRING, OFF(struct supervisor_settings, path), .check = check_url_path},
	{"scheme", F_ENUM, OFF(struct supervisor_settings, scheme), .choices = scheme_choices,
	 POS(struct supervisor_settings, scheme_pos)},
	{"socket", F_STRING, OFF(struct supervisor_settings, socket), .check = check_abs_path,
	 POS(struct supervisor_settings, socket_pos)},
	{"credentials", F_STRING, OFF(struct supervisor_settings, credentials),
	 .check = check_credentials},
	{"ca_file", F_STRING, OFF(struct supervisor_settings, ca_file), .check = check_abs_path},
};
static const struct table supervisor_table = {
	"supervisor",	 "settings.supervisor", supervisor_fields, N(supervisor_fields), 0,
	MERGE_SUPERVISOR};

static const struct field port_range_fields[] = {
	{"first", F_INT, OFF(struct port_range, first), .required = true, .min = 1, .max = 65535},
	{"last", F_INT, OFF(struct port_range, last), .required = true, .min = 1, .max = 65535},
};
static const struct table port_range_table = {"port_range",
					      "a port range",
					      port_range_fields,
					      N(port_range_fields),
					      offsetof(struct port_range, pos),
					      MERGE_PORTS};

static const struct field timeouts_fields[] = {
	{"connect", F_DURATION, OFF(struct timeouts, connect_ms), .min = 1, .max = 3600000},
	{"request", F_DURATION, OFF(struct timeouts, request_ms), .min = 1, .max = 3600000},
};
static const struct table timeouts_table = {
	"timeouts", "settings.timeouts", timeouts_fields, N(timeouts_fields), 0, MERGE_TIMEOUTS};

static const struct field settings_fields[] = {
	{"supervisor", F_TABLE, OFF(struct settings, supervisor), .sub = &supervisor_table,
	 .merge = true},
	{"ports", F_TABLE, OFF(struct settings, ports), .sub = &port_range_table, .merge = true},
	{"timeouts", F_TABLE, OFF(struct settings, timeouts), .sub = &timeouts_table,
	 .merge = true},
	{"concurrency", F_INT, OFF(struct settings, concurrency), .min = 1, .max = 1024},
};
static const struct table settings_table = {"settings",		"settings", settings_fields,
					    N(settings_fields), 0,	    MERGE_SETTINGS};

static const struct field host_fields[] = {
	{"name", F_STRING, OFF(struct host, name), .required = true, .check = check_hostname},
	{"address", F_STRING, OFF(struct host, address), .check = check_address},
	{"supervisor", F_STRING, OFF(struct host, supervisor), .check = check_url},
};
static const struct table host_table = {
	"host", "a host", host_fields, N(host_fields), offsetof(struct host, pos), -1};

static void read_hosts(struct loader *lc, const struct ynode *v, void *target,
		       const struct field *f);

static const struct field squad_fields[] = {
	{"hosts", F_CUSTOM, OFF(struct squad, hosts), .required = true, .custom = read_hosts},
	{"ports", F_TABLE, OFF(struct squad, ports), .sub = &port_range_table},
	{"on_unreachable", F_ENUM, OFF(struct squad, on_unreachable),
	 .choices = unreachable_choices},
};
static const struct table squad_table = {"squad", "a squad", squad_fields, N(squad_fields), 0, -1};

static const struct field balancer_fields[] = {
	{"type", F_ENUM, OFF(struct balancer, type), .required = true, .choices = balancer_choices},
	{"include_dir", F_STRING, OFF(struct balancer, include_dir), .required = true,
	 .check = check_abs_path},
	{"test", F_ARGV, OFF(struct balancer, test)},
	{"reload", F_ARGV, OFF(struct balancer, reload)},
	{"drain", F_DURATION, OFF(struct balancer, drain_ms), .min = 0, .max = 3600000},
};
static const struct table balancer_table = {
	"balancer", "a balancer", balancer_fields, N(balancer_fields), 0, -1};

static const struct field routing_fields[] = {
	{"balancer", F_STRING, OFF(struct routing, balancer), .required = true,
	 .check = check_ident, POS(struct routing, balancer_pos)},
	{"pool", F_STRING, OFF(struct routing, pool), .required = true, .check = check_ident},
};
static const struct table routing_table = {
	"routing", "routing", routing_fields, N(routing_fields), offsetof(struct routing, pos), -1};

static void read_uptests(struct loader *lc, const struct ynode *v, void *target,
			 const struct field *f);

static const struct field health_fields[] = {
	{"tcp", F_BOOL, OFF(struct health, tcp), POS(struct health, tcp_pos)},
	{"http", F_STRING, OFF(struct health, http), .check = check_url_path,
	 POS(struct health, http_pos)},
	{"uptest", F_CUSTOM, OFF(struct health, uptests), .custom = read_uptests},
	{"timeout", F_DURATION, OFF(struct health, timeout_ms), .min = 1, .max = 3600000},
};
static const struct table health_table = {"health",	    "health", health_fields,
					  N(health_fields), 0,	      -1};

static const struct field rollout_fields[] = {
	{"max_surge", F_AMOUNT, OFF(struct rollout, max_surge), .min = 1, .max = 10000},
	{"max_unavailable", F_AMOUNT, OFF(struct rollout, max_unavailable), .min = 0, .max = 10000},
};
static const struct table rollout_table = {
	"rollout", "rollout", rollout_fields, N(rollout_fields), offsetof(struct rollout, pos), -1};

static void read_env(struct loader *lc, const struct ynode *v, void *target, const struct field *f);

static const struct field swarm_fields[] = {
	{"app", F_STRING, OFF(struct swarm, app), .required = true, .check = check_ident},
	{"version", F_STRING, OFF(struct swarm, version), .required = true, .check = check_version},
	{"config", F_STRING, OFF(struct swarm, config), .required = true, .check = check_ident},
	{"proc", F_STRING, OFF(struct swarm, proc), .required = true, .check = check_ident},
	{"squad", F_STRING, OFF(struct swarm, squad), .required = true, .check = check_ident,
	 POS(struct swarm, squad_pos)},
	{"size", F_INT, OFF(struct swarm, size), .required = true, .min = 0, .max = 10000},
	{"command", F_STRING, OFF(struct swarm, command), .required = true, .check = check_command,
	 POS(struct swarm, command_pos)},
	{"env", F_CUSTOM, OFF(struct swarm, env), .custom = read_env},
	{"user", F_STRING, OFF(struct swarm, user), .check = check_user},
	{"directory", F_STRING, OFF(struct swarm, directory), .check = check_abs_path},
	{"port", F_ENUM, OFF(struct swarm, port), .choices = port_choices,
	 POS(struct swarm, port_pos)},
	{"routing", F_TABLE, OFF(struct swarm, routing), .sub = &routing_table},
	{"health", F_TABLE, OFF(struct swarm, health), .sub = &health_table},
	{"rollout", F_TABLE, OFF(struct swarm, rollout), .sub = &rollout_table},
	{"adopt", F_ENUM, OFF(struct swarm, adopt), .choices = adopt_choices},
};
static const struct table swarm_table = {
	"swarm", "a swarm", swarm_fields, N(swarm_fields), offsetof(struct swarm, pos), -1};

static void read_squads(struct loader *lc, const struct ynode *v, void *target,
			const struct field *f);
static void read_balancers(struct loader *lc, const struct ynode *v, void *target,
			   const struct field *f);
static void read_swarms(struct loader *lc, const struct ynode *v, void *target,
			const struct field *f);

static const struct field root_fields[] = {
	{"settings", F_TABLE, OFF(struct desired, settings), .sub = &settings_table, .merge = true},
	{"squads", F_CUSTOM, 0, .custom = read_squads},
	{"balancers", F_CUSTOM, 0, .custom = read_balancers},
	{"swarms", F_CUSTOM, 0, .custom = read_swarms},
};
static const struct table root_table = {"root", "the top level", root_fields, N(root_fields), 0,
					-1};

static const struct table *const all_tables[] = {
	&root_table,	 &settings_table, &supervisor_table, &port_range_table,
	&timeouts_table, &squad_table,	  &host_table,	     &balancer_table,
	&swarm_table,	 &routing_table,  &health_table,     &rollout_table,
};

/* ---- custom fields ---- */

static void read_hosts(struct loader *lc, const struct ynode *v, void *target,
		       const struct field *f)
{
	struct squad *q = (struct squad *)((char *)target - offsetof(struct squad, hosts));

	(void)f;
	if (v->kind == YNODE_SEQ && !v->n) {
		err_at(lc, v, "'hosts' is empty: a squad needs at least one host");
		return;
	}
	if (v->kind != YNODE_SEQ) {
		err_type(lc, v, "hosts", "a list of hosts");
		return;
	}
	q->hosts = arena_alloc(&lc->d->mem, v->n * sizeof(*q->hosts));
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *item = v->items[i];
		struct host *h = &q->hosts[q->nhosts];

		if (item->kind == YNODE_MAP) {
			const struct ynode *seen[MAX_FIELDS] = {0};

			parse_map(lc, item, &host_table, h, seen, false);
			check_required(lc, item, &host_table, seen, "a host");
			if (!h->name)
				continue;
		} else if (read_string(lc, item, "host", check_hostname, &h->name) < 0) {
			continue;
		}
		h->pos = pos_of(lc, item);
		q->nhosts++;
	}
}

static const char *const reserved_env[] = {"PORT",    "HOST",	"ADDRESS", "APP",
					   "VERSION", "CONFIG", "PROC",	   "RELEASE"};

static int env_cmp(const void *a, const void *b)
{
	return strcmp(((const struct env_var *)a)->name, ((const struct env_var *)b)->name);
}

static void read_env(struct loader *lc, const struct ynode *v, void *target, const struct field *f)
{
	struct swarm *s = (struct swarm *)((char *)target - offsetof(struct swarm, env));
	struct buf key = BUF_INIT;

	(void)f;
	if (v->kind != YNODE_MAP) {
		err_type(lc, v, "env", "a mapping of NAME: value");
		return;
	}
	s->env = arena_alloc(&lc->d->mem, v->n * sizeof(*s->env));
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->items[2 * i], *val = v->items[2 * i + 1];
		struct env_var *e = &s->env[s->nenv];
		bool bad = false;

		if (read_string(lc, k, "env name", check_env_name, &e->name) < 0)
			continue;
		for (size_t j = 0; j < N(reserved_env); j++) {
			if (!strcmp(e->name, reserved_env[j])) {
				err_at(lc, k,
				       "env '%s' is set by raptor for every instance and cannot be set here",
				       e->name);
				bad = true;
			}
		}
		for (size_t j = 0; j < s->nenv; j++) {
			if (!strcmp(e->name, s->env[j].name)) {
				err_at(lc, k, "duplicate key '%s' in env", e->name);
				bad = true;
			}
		}
		buf_reset(&key);
		buf_puts(&key, "env ");
		buf_puts(&key, e->name);
		if (ynode_is_null(val)) {
			err_at(lc, val, "env '%s' has no value (write \"\" for an empty one)",
			       e->name);
			bad = true;
		} else if (read_string(lc, val, key.ptr, check_env_value, &e->value) < 0) {
			bad = true;
		}
		if (!bad)
			s->nenv++;
	}
	if (s->nenv > 1)
		qsort(s->env, s->nenv, sizeof(*s->env), env_cmp);
	buf_release(&key);
}

static void read_uptests(struct loader *lc, const struct ynode *v, void *target,
			 const struct field *f)
{
	struct health *h = (struct health *)((char *)target - offsetof(struct health, uptests));

	(void)f;
	if (v->kind != YNODE_SEQ || !v->n) {
		err_type(lc, v, "uptest",
			 "a non-empty list of commands (each a path, or a list of arguments)");
		return;
	}
	h->uptests = arena_alloc(&lc->d->mem, v->n * sizeof(*h->uptests));
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *item = v->items[i];
		struct strv *sv = &h->uptests[h->nuptests];

		if (item->kind == YNODE_SEQ) {
			if (read_argv(lc, item, "uptest", sv) < 0)
				continue;
		} else {
			sv->v = arena_alloc(&lc->d->mem, sizeof(*sv->v));
			if (read_string(lc, item, "uptest", check_arg, &sv->v[0]) < 0)
				continue;
			sv->n = 1;
		}
		h->nuptests++;
	}
}

/* A name defined once across all files: the second place names the first. */
static bool claim_name(struct loader *lc, struct strmap *m, const struct ynode *k, const char *name,
		       const char *what)
{
	struct pos *p = arena_alloc(&lc->d->mem, sizeof(*p));
	struct pos *had;

	*p = pos_of(lc, k);
	had = strmap_put(m, name, p);
	if (had == p)
		return true;
	err_at(lc, k, "%s '%s' is defined twice: here and at %s:%u:%u", what, name, had->file,
	       had->line, had->col);
	return false;
}

/* The head of a `name: {...}` entry of squads or balancers: a valid name,
 * defined nowhere else. Fills `what` ("squad 'web'") for messages. */
static bool read_entry_name(struct loader *lc, const struct ynode *k, struct strmap *claimed,
			    const char *noun, char **name, struct pos *pos, struct buf *what)
{
	struct buf key = BUF_INIT;
	bool ok;

	buf_printf(&key, "%s name", noun);
	ok = read_string(lc, k, key.ptr, check_ident, name) == 0 &&
	     claim_name(lc, claimed, k, *name, noun);
	buf_release(&key);
	if (!ok)
		return false;
	*pos = pos_of(lc, k);
	buf_reset(what);
	buf_printf(what, "%s '%s'", noun, *name);
	return true;
}

static void read_squads(struct loader *lc, const struct ynode *v, void *target,
			const struct field *f)
{
	struct buf what = BUF_INIT;

	(void)target;
	(void)f;
	if (v->kind != YNODE_MAP) {
		err_type(lc, v, "squads", "a mapping of squad name to squad");
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->items[2 * i], *val = v->items[2 * i + 1];
		const struct ynode *seen[MAX_FIELDS] = {0};
		struct squad q = {0};

		if (!read_entry_name(lc, k, &lc->squad_at, "squad", &q.name, &q.pos, &what))
			continue;
		parse_map(lc, val, &squad_table, &q, seen, false);
		if (val->kind == YNODE_MAP)
			check_required(lc, val, &squad_table, seen, what.ptr);
		q.own_ports = was_set(&squad_table, seen, "ports");
		vec_push(&lc->d->squads, q);
	}
	buf_release(&what);
}

static void read_balancers(struct loader *lc, const struct ynode *v, void *target,
			   const struct field *f)
{
	struct buf what = BUF_INIT;

	(void)target;
	(void)f;
	if (v->kind != YNODE_MAP) {
		err_type(lc, v, "balancers", "a mapping of balancer name to balancer");
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->items[2 * i], *val = v->items[2 * i + 1];
		const struct ynode *seen[MAX_FIELDS] = {0};
		struct balancer b = {.drain_ms = 2000};

		if (!read_entry_name(lc, k, &lc->balancer_at, "balancer", &b.name, &b.pos, &what))
			continue;
		parse_map(lc, val, &balancer_table, &b, seen, false);
		if (val->kind == YNODE_MAP)
			check_required(lc, val, &balancer_table, seen, what.ptr);
		vec_push(&lc->d->balancers, b);
	}
	buf_release(&what);
}

static void read_swarms(struct loader *lc, const struct ynode *v, void *target,
			const struct field *f)
{
	struct buf what = BUF_INIT;

	(void)target;
	(void)f;
	if (v->kind != YNODE_SEQ) {
		err_type(lc, v, "swarms", "a list of swarms");
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *item = v->items[i];
		const struct ynode *seen[MAX_FIELDS] = {0};
		struct swarm s = {0};

		s.health.timeout_ms = 60000;
		s.rollout.max_surge.value = 100;
		s.rollout.max_surge.percent = true;
		parse_map(lc, item, &swarm_table, &s, seen, false);
		if (item->kind != YNODE_MAP)
			continue;
		s.routed = was_set(&swarm_table, seen, "routing");
		buf_reset(&what);
		buf_puts(&what, "swarm ");
		swarm_identity(&what, s.app, s.config, s.proc, s.squad);
		check_required(lc, item, &swarm_table, seen, what.ptr);
		/* a swarm without its identity or command cannot be checked further */
		if (!s.app || !s.version || !s.config || !s.proc || !s.squad || !s.command ||
		    !was_set(&swarm_table, seen, "size"))
			continue;
		s.identity = arena_strndup(&lc->d->mem, what.ptr + 6, what.len - 6);
		vec_push(&lc->d->swarms, s);
	}
	buf_release(&what);
}

/* ---- files ---- */

static void load_file(struct loader *lc, struct ydoc_ahead *ahead, const struct source *src,
		      size_t i)
{
	const struct source_file *sf = &src->files.v[i];
	const struct ynode *seen[MAX_FIELDS] = {0};
	struct ydoc doc;
	int parsed = ydoc_ahead_take(ahead, i, &doc, lc->diags);

	lc->file = arena_strdup(&lc->d->mem, sf->path);
	if (sf->too_big) {
		struct buf size = BUF_INIT, cap = BUF_INIT;

		size_format(&size, sf->len);
		size_format(&cap, SOURCE_MAX_FILE);
		diag_add(lc->diags, lc->file, 1, 1,
			 "file is %s: desired-state files are limited to %s", size.ptr, cap.ptr);
		buf_release(&size);
		buf_release(&cap);
		return;
	}
	if (parsed < 0)
		return;
	if (!doc.root || ynode_is_null(doc.root)) {
		diag_add(
			lc->diags, lc->file, 1, 1,
			"file is empty: a desired-state file holds a mapping with settings, squads, balancers or swarms");
	} else if (doc.root->kind != YNODE_MAP) {
		struct buf got = BUF_INIT;

		ynode_describe(&got, doc.root);
		err_at(lc, doc.root,
		       "the top level must be a mapping with settings, squads, balancers or swarms, not %s",
		       got.ptr);
		buf_release(&got);
	} else {
		parse_map(lc, doc.root, &root_table, lc->d, seen, false);
	}
	lc->d->files++;
	ydoc_release(&doc);
}

int desired_load(struct desired *d, const struct source *src, struct diags *diags)
{
	struct loader lc = {.d = d, .diags = diags};
	struct ydoc_ahead *ahead;

	desired_init(d);
	d->source = arena_strdup(&d->mem, src->root ? src->root : ".");
	d->commit = arena_strdup(&d->mem, src->commit);
	ahead = ydoc_ahead_start(src, 0);

	for (size_t i = 0; i < src->files.n; i++)
		load_file(&lc, ahead, src, i);
	ydoc_ahead_free(ahead);
	if (!src->files.n)
		diag_add(diags, d->source, 0, 0, "no *.yaml or *.yml files found");
	strmap_release(&lc.squad_at);
	strmap_release(&lc.balancer_at);
	desired_check(d, diags);
	return diags_count(diags) ? -1 : 0;
}

void desired_schema_walk(void (*fn)(void *ctx, const char *table, const char *key), void *ctx)
{
	for (size_t i = 0; i < N(all_tables); i++)
		for (size_t j = 0; j < all_tables[i]->n; j++)
			fn(ctx, all_tables[i]->name, all_tables[i]->fields[j].key);
}

/*
 * Rendering one instance's program file; see progtext.h.
 *
 * Everything is checked before anything is written, and the text is built in
 * a buffer of its own, so a refusal leaves the caller's buffer as it was.
 * The checks repeat the loader's (desired_load.c) on principle, since the
 * spec may come from elsewhere, and add what supervisord 4.2 does to a file
 * that the loader cannot see from one value alone: Python's configparser
 * reads the file as UTF-8, cuts a line at any Unicode whitespace followed by
 * ';' or '#' (a no-break space too, not just ' ' and tab), strips
 * Unicode whitespace from both ends of a value, and replaces the text
 * %(here)s before %-formatting (see no_here).
 */
#include "progtext.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progname.h"
#include "release.h"
#include "xalloc.h"
#include "banned.h"

/* ---- characters as supervisord's Python sees them ---- */

/* The length of a well-formed UTF-8 character at p (1 to 4), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned c = p[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* The length of a character Python's str.isspace() is true for at p, or 0:
 * ASCII space and controls 0x09-0x0d, 0x1c-0x1f, and U+0085, U+00A0,
 * U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. */
static size_t space_len(const unsigned char *p)
{
	if (p[0] == ' ' || (p[0] >= 0x09 && p[0] <= 0x0d) || (p[0] >= 0x1c && p[0] <= 0x1f))
		return 1;
	if (p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
		return 2;
	if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)
		return 3;
	if (p[0] == 0xe2 && p[1] == 0x80 &&
	    ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
		return 3;
	if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)
		return 3;
	if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
		return 3;
	return 0;
}

static void describe_byte(struct buf *why, unsigned char c)
{
	if (c == '\n')
		buf_puts(why, "a newline");
	else if (c == '\r')
		buf_puts(why, "a carriage return");
	else if (c == '\t')
		buf_puts(why, "a tab");
	else if (c == ' ')
		buf_puts(why, "a space");
	else if (c < 0x20)
		buf_printf(why, "the control character 0x%02x", c);
	else
		buf_printf(why, "'%c'", c);
}

/* What check_value refuses besides control characters, bytes that are not
 * UTF-8 and whitespace followed by ';' or '#', which it always refuses:
 *   V_TRIM          whitespace at either end (supervisord strips it);
 *   V_TRIM_UNICODE  non-ASCII whitespace at either end (for a command: its
 *                   ASCII spaces go harmlessly, but shlex keeps U+00A0 in an
 *                   argument that supervisord's strip would have cut);
 *   V_TOKEN         whitespace anywhere (the plugin splits metadata on it);
 *   V_ENV           " or \ anywhere, ' at either end (environment= parsing);
 *   V_FORMATTED     the text %(here)s (a value supervisord %-formats; see
 *                   no_here). */
enum { V_TRIM = 1, V_TRIM_UNICODE = 2, V_TOKEN = 4, V_ENV = 8, V_FORMATTED = 16 };

/* supervisord 4.2 replaces the text "%(here)s" in every value of an included
 * file with the file's directory (options.py expand_here) BEFORE it
 * %-formats the value, so doubling does not protect it: "%%(here)s" becomes
 * "%/etc/..." and the format fails, and every reloadConfig on the host with
 * it. There is no way to write it literally, so it is refused. Doubling
 * makes "%(here)s" appear in the written value exactly when it is in the
 * value itself. */
static int no_here(struct buf *why, const char *field, const char *s)
{
	if (!strstr(s, "%(here)s"))
		return 0;
	buf_printf(
		why,
		"%s contains '%%(here)s', which supervisord replaces with the program file's directory before anything else, so it cannot be written literally",
		field);
	return -1;
}

/* 0, or -1 with why it cannot go into a program file as `field`. */
static int check_value(struct buf *why, const char *field, const char *s, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), sp;

	for (size_t i = 0; i < len; i += sp ? sp : utf8_len(p + i)) {
		sp = space_len(p + i);
		if (p[i] < 0x20) {
			buf_printf(why, "%s contains ", field);
			describe_byte(why, p[i]);
			buf_puts(why, ": supervisord's config format cannot hold it");
			return -1;
		}
		if (!sp && !utf8_len(p + i)) {
			buf_printf(
				why,
				"%s contains bytes that are not UTF-8, which supervisord cannot read",
				field);
			return -1;
		}
		if (sp && (p[i + sp] == ';' || p[i + sp] == '#')) {
			buf_printf(
				why,
				"%s contains whitespace followed by '%c', which supervisord reads as the start of a comment and cuts off the rest",
				field, p[i + sp]);
			return -1;
		}
		if (sp && (flags & V_TOKEN)) {
			buf_printf(why, "%s '", field);
			buf_add_printable(why, s, len);
			buf_puts(why, "' contains whitespace, which the metadata line cannot hold");
			return -1;
		}
		if (sp && (i == 0 || i + sp == len) &&
		    ((flags & V_TRIM) || ((flags & V_TRIM_UNICODE) && sp > 1))) {
			buf_printf(why, "%s %s with whitespace, which supervisord strips", field,
				   i == 0 ? "starts" : "ends");
			return -1;
		}
		if ((flags & V_ENV) && (p[i] == '"' || p[i] == '\\')) {
			buf_printf(
				why,
				"%s contains '%c', which supervisord's environment= parser would silently mangle",
				field, p[i]);
			return -1;
		}
	}
	if ((flags & V_FORMATTED) && no_here(why, field, s) < 0)
		return -1;
	if ((flags & V_ENV) && len && (s[0] == '\'' || s[len - 1] == '\'')) {
		buf_printf(
			why,
			"%s starts or ends with a single quote, which supervisord's environment= parser would strip",
			field);
		return -1;
	}
	return 0;
}

/* Fields of the program name: [A-Za-z0-9_.]+, and '+' too in a version. */
static int check_ident(struct buf *why, const char *field, const char *s, bool version)
{
	const char *p = s ? s : "";

	if (!*p) {
		buf_printf(why, "%s is empty", field);
		return -1;
	}
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (!(version ? progname_version_char(c) : progname_ident_char(c))) {
			buf_printf(why, "%s '", field);
			buf_add_printable(why, s, strlen(s));
			buf_printf(why, "' is not %s: it may hold only letters, digits, '_', '.'%s",
				   version ? "a version" : "an identifier",
				   version ? " and '+'" : "");
			return -1;
		}
	}
	return 0;
}

/* A host name or address, as the loader allows: [A-Za-z0-9._:-]+. */
static int check_host(struct buf *why, const char *field, const char *s)
{
	const char *p = s ? s : "";

	if (!*p) {
		buf_printf(why, "%s is empty", field);
		return -1;
	}
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == ':')) {
			buf_printf(why, "%s '", field);
			buf_add_printable(why, s, strlen(s));
			buf_puts(why, "' is not a host name or address");
			return -1;
		}
	}
	return 0;
}

static int check_release(struct buf *why, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	bool ok = n == RELEASE_HEX;

	for (size_t i = 0; ok && i < n; i++)
		ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
	if (ok)
		return 0;
	buf_puts(why, "release '");
	if (s)
		buf_add_printable(why, s, n);
	buf_printf(why, "' is not %d lowercase hex digits", RELEASE_HEX);
	return -1;
}

static bool env_name_ok(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

/* ---- the pieces of the text ---- */

static const char *const reserved_env[] = {"ADDRESS", "APP",  "CONFIG",	 "HOST",
					   "PORT",    "PROC", "RELEASE", "VERSION"};

struct kv {
	const char *name, *value;
};

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->name, ((const struct kv *)b)->name);
}

/* Appends s with every '%' doubled, for a value supervisord %-formats. */
static int put_pct(struct buf *b, const char *s)
{
	int rc = 0;

	for (const char *pct; (pct = strchr(s, '%')); s = pct + 1)
		rc |= buf_add(b, s, (size_t)(pct - s + 1)) | buf_putc(b, '%');
	return rc | buf_puts(b, s);
}

/* The command with ${PORT}, ${HOST} and ${ADDRESS} filled in, into `out`. */
static int fill_command(struct buf *out, struct buf *why, const struct instance_spec *in,
			const char *port)
{
	const char *s = in->swarm->command, *p;
	const struct kv fills[] = {{"PORT", port}, {"HOST", in->host}, {"ADDRESS", in->address}};

	while ((p = strstr(s, "${"))) {
		const char *end = strchr(p + 2, '}');
		size_t n = end ? (size_t)(end - p - 2) : 0;
		const struct kv *f = NULL;

		for (size_t i = 0; end && i < sizeof(fills) / sizeof(*fills); i++)
			if (strlen(fills[i].name) == n && !strncmp(p + 2, fills[i].name, n))
				f = &fills[i];
		if (!f) {
			buf_puts(why, "command uses ");
			if (end)
				buf_add_printable(why, p, n + 3);
			else
				buf_puts(why, "an unclosed '${'");
			buf_puts(why,
				 ": the only placeholders are ${PORT}, ${HOST} and ${ADDRESS}");
			return -1;
		}
		if (!f->value) {
			buf_puts(
				why,
				"command uses ${PORT}, but the swarm is a worker (port: none): there is no port to fill it with");
			return -1;
		}
		buf_add(out, s, (size_t)(p - s));
		buf_puts(out, f->value);
		s = end + 1;
	}
	buf_puts(out, s);
	/* what was filled in cannot hold '%' or '(', but check what is written */
	return no_here(why, "command", buf_cstr(out));
}

/* directory= and user=: left out when NULL, never empty. */
static int check_optional(struct buf *why, const char *field, const char *s)
{
	if (s && !*s) {
		buf_printf(why, "%s is empty: leave it out instead", field);
		return -1;
	}
	return s ? check_value(why, field, s, V_TRIM | V_FORMATTED) : 0;
}

/* Every check on the spec's own values; 0, or -1 with `why`. */
static int check_spec(struct buf *why, const struct instance_spec *in)
{
	const struct swarm *s = in->swarm;
	const char *opt[] = {in->pool, in->commit, in->created};
	const char *opt_name[] = {"pool", "commit", "created"};

	if (check_ident(why, "app", s->app, false) < 0 ||
	    check_ident(why, "version", s->version, true) < 0 ||
	    check_ident(why, "config", s->config, false) < 0 ||
	    check_ident(why, "proc", s->proc, false) < 0 ||
	    check_ident(why, "squad", s->squad, false) < 0 || check_release(why, in->release) < 0 ||
	    check_host(why, "host", in->host) < 0 || check_host(why, "address", in->address) < 0)
		return -1;
	if (s->port == PORT_NONE) {
		if (in->port) {
			buf_printf(why, "the swarm is a worker (port: none) but was given port %d",
				   in->port);
			return -1;
		}
		if (in->slot < 1 || in->slot > 65535) {
			buf_printf(why, "a worker's slot must be 1 to 65535, not %d", in->slot);
			return -1;
		}
	} else if (in->port < 1 || in->port > 65535) {
		buf_printf(why, "port must be 1 to 65535, not %d", in->port);
		return -1;
	}
	for (size_t i = 0; i < 3; i++)
		if (opt[i] && check_value(why, opt_name[i], opt[i], V_TOKEN) < 0)
			return -1;
	if (!s->command || !s->command[strspn(s->command, " \t")]) {
		buf_puts(why, "command is empty");
		return -1;
	}
	if (check_value(why, "command", s->command, V_TRIM_UNICODE | V_FORMATTED) < 0)
		return -1;
	if (check_optional(why, "directory", s->directory) < 0 ||
	    check_optional(why, "user", s->user) < 0)
		return -1;
	for (size_t i = 0; i < s->nenv; i++) {
		const struct env_var *e = &s->env[i];
		struct buf field = BUF_INIT;
		int rc;

		if (!env_name_ok(e->name)) {
			buf_puts(why, "env name '");
			if (e->name)
				buf_add_printable(why, e->name, strlen(e->name));
			buf_puts(why, "' is not a valid environment variable name");
			return -1;
		}
		for (size_t j = 0; j < sizeof(reserved_env) / sizeof(*reserved_env); j++) {
			if (!strcmp(e->name, reserved_env[j])) {
				buf_printf(
					why,
					"env %s is set by raptor for every instance and cannot be set here",
					e->name);
				return -1;
			}
		}
		buf_printf(&field, "env %s", e->name);
		rc = e->value ? check_value(why, field.ptr, e->value, V_ENV | V_FORMATTED) : -1;
		if (!e->value)
			buf_printf(why, "env %s has no value", e->name);
		buf_release(&field);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int render(struct buf *t, struct buf *why, const struct instance_spec *in)
{
	const struct swarm *s = in->swarm;
	char port[16] = "";
	struct buf cmd = BUF_INIT, name = BUF_INIT;
	struct kv *env;
	size_t n = 0;
	int rc = 0;

	if (check_spec(why, in) < 0)
		return -1;
	if (s->port != PORT_NONE)
		snprintf(port, sizeof(port), "%d", in->port);
	if (fill_command(&cmd, why, in, s->port != PORT_NONE ? port : NULL) < 0) {
		buf_release(&cmd);
		return -1;
	}

	env = xmalloc(st_mult(s->nenv + 8, sizeof(*env)));
	for (size_t i = 0; i < s->nenv; i++)
		env[n++] = (struct kv){s->env[i].name, s->env[i].value};
	if (s->port != PORT_NONE)
		env[n++] = (struct kv){"PORT", port};
	env[n++] = (struct kv){"HOST", in->host};
	env[n++] = (struct kv){"ADDRESS", in->address};
	env[n++] = (struct kv){"APP", s->app};
	env[n++] = (struct kv){"VERSION", s->version};
	env[n++] = (struct kv){"CONFIG", s->config};
	env[n++] = (struct kv){"PROC", s->proc};
	env[n++] = (struct kv){"RELEASE", in->release};
	qsort(env, n, sizeof(*env), kv_cmp);
	/* raptor's own names are refused above; this catches a repeated one */
	for (size_t i = 1; i < n && !rc; i++) {
		if (!strcmp(env[i - 1].name, env[i].name)) {
			buf_printf(why, "env %s is given twice", env[i].name);
			rc = -1;
		}
	}

	if (!rc) {
		rc |= buf_printf(t,
				 ";raptor: app=%s version=%s config=%s proc=%s squad=%s release=%s",
				 s->app, s->version, s->config, s->proc, s->squad, in->release);
		if (s->port != PORT_NONE)
			rc |= buf_printf(t, " port=%d slot=", in->port);
		else
			rc |= buf_printf(t, " port= slot=%d", in->slot);
		rc |= buf_printf(t, " host=%s pool=%s commit=%s created=%s\n", in->host,
				 in->pool ? in->pool : "", in->commit ? in->commit : "",
				 in->created ? in->created : "");
		progtext_name(&name, in);
		rc |= buf_printf(t, "[program:%s]\ncommand=", name.ptr) |
		      put_pct(t, buf_cstr(&cmd)) | buf_putc(t, '\n');
		if (s->directory)
			rc |= buf_puts(t, "directory=") | put_pct(t, s->directory) |
			      buf_putc(t, '\n');
		if (s->user)
			rc |= buf_puts(t, "user=") | put_pct(t, s->user) | buf_putc(t, '\n');
		rc |= buf_puts(t, "environment=");
		for (size_t i = 0; i < n; i++)
			rc |= buf_printf(t, "%s%s=\"", i ? "," : "", env[i].name) |
			      put_pct(t, env[i].value) | buf_putc(t, '"');
		rc |= buf_puts(t, "\n"
				  "autostart=true\n"
				  "autorestart=true\n"
				  "startsecs=1\n"
				  "startretries=3\n"
				  "stopasgroup=true\n"
				  "killasgroup=true\n"
				  "stopwaitsecs=10\n"
				  "stdout_logfile=AUTO\n"
				  "stderr_logfile=AUTO\n");
		if (rc)
			buf_printf(
				why,
				"the program text would be longer than %zu bytes, the most the host plugin accepts",
				(size_t)PROGTEXT_MAX);
	}
	free(env);
	buf_release(&cmd);
	buf_release(&name);
	return rc ? -1 : 0;
}

void progtext_name(struct buf *out, const struct instance_spec *in)
{
	const struct swarm *s = in->swarm;

	progname_format(out, s->app, s->version, s->config, in->release, s->proc,
			s->port == PORT_NONE ? in->slot : in->port);
}

int progtext_render(struct buf *out, const struct instance_spec *in, struct error *err)
{
	struct buf t, why = BUF_INIT, who = BUF_INIT, scratch = BUF_INIT;
	const struct swarm *s = in->swarm;
	int rc;

	if (!s)
		return error_set(err, "rendering a program file: no swarm given");
	buf_init(&t, PROGTEXT_MAX);
	rc = render(&t, &why, in);
	if (rc == 0 && buf_add(out, t.ptr, t.len) < 0) {
		buf_puts(&why, "the program text does not fit in the output buffer");
		rc = -1;
	}
	if (rc < 0) {
		if (s->identity)
			buf_puts(&who, s->identity);
		else
			swarm_identity(&who, s->app, s->config, s->proc, s->squad);
		buf_puts(&who, " on host ");
		/* the host goes into the message only when it is a plain name */
		buf_puts(&who, check_host(&scratch, "host", in->host) == 0 ? in->host : "?");
		error_set(err, "swarm %s: %s", who.ptr, why.ptr);
	}
	buf_release(&t);
	buf_release(&why);
	buf_release(&who);
	buf_release(&scratch);
	return rc;
}

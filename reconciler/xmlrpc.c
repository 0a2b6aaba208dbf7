/* The XML-RPC codec; see xmlrpc.h. */
#include "xmlrpc.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "strmap.h"
#include "xalloc.h"
#include "banned.h"

/* libxml2 2.12 made the structured error handler take a const pointer */
#if LIBXML_VERSION >= 21200
#define XR_XML_ERROR const xmlError
#else
#define XR_XML_ERROR xmlError
#endif

/* how much of an offending string a message shows */
#define SNIPPET 40

/* below this many members a struct's names are checked for repeats pairwise */
#define STRUCT_LINEAR_CHECK 16

/* ---- values ---- */

static struct xr_value *new_value(struct arena *a, enum xr_type t)
{
	struct xr_value *v = arena_alloc(a, sizeof(*v));

	v->type = t;
	return v;
}

struct xr_value *xr_nil(struct arena *a)
{
	return new_value(a, XR_NIL);
}

struct xr_value *xr_int(struct arena *a, int64_t i)
{
	struct xr_value *v = new_value(a, XR_INT);

	v->u.i = i;
	return v;
}

struct xr_value *xr_bool(struct arena *a, bool b)
{
	struct xr_value *v = new_value(a, XR_BOOL);

	v->u.b = b;
	return v;
}

struct xr_value *xr_double(struct arena *a, double d)
{
	struct xr_value *v = new_value(a, XR_DOUBLE);

	v->u.d = d;
	return v;
}

struct xr_value *xr_stringn(struct arena *a, const char *s, size_t n)
{
	struct xr_value *v = new_value(a, XR_STRING);

	v->u.str.ptr = arena_strndup(a, s, n);
	v->u.str.len = n;
	return v;
}

struct xr_value *xr_string(struct arena *a, const char *s)
{
	return xr_stringn(a, s, strlen(s));
}

struct xr_value *xr_base64(struct arena *a, const void *data, size_t n)
{
	struct xr_value *v = new_value(a, XR_BASE64);

	/* NUL-terminated like a string, so text that came as base64 reads as one */
	v->u.str.ptr = arena_strndup(a, n ? data : "", n);
	v->u.str.len = n;
	return v;
}

struct xr_value *xr_array(struct arena *a, size_t n)
{
	struct xr_value *v = new_value(a, XR_ARRAY);

	v->u.array.items = arena_alloc(a, st_mult(n, sizeof(*v->u.array.items)));
	v->u.array.n = n;
	return v;
}

struct xr_value *xr_struct(struct arena *a, size_t n)
{
	struct xr_value *v = new_value(a, XR_STRUCT);

	v->u.st.members = arena_alloc(a, st_mult(n, sizeof(*v->u.st.members)));
	v->u.st.n = n;
	return v;
}

void xr_struct_set(struct xr_value *st, size_t i, struct arena *a, const char *name,
		   struct xr_value *v)
{
	/* a slot past the end is a bug in the caller, not bad input */
	if (st->type != XR_STRUCT || i >= st->u.st.n) {
		fprintf(stderr, "raptor: xr_struct_set: slot %zu of a %zu-member struct\n", i,
			st->type == XR_STRUCT ? st->u.st.n : 0);
		abort();
	}
	st->u.st.members[i].name = arena_strdup(a, name);
	st->u.st.members[i].value = v;
}

const char *xr_type_name(enum xr_type t)
{
	switch (t) {
	case XR_NIL:
		return "nil";
	case XR_INT:
		return "int";
	case XR_BOOL:
		return "boolean";
	case XR_DOUBLE:
		return "double";
	case XR_STRING:
		return "string";
	case XR_BASE64:
		return "base64";
	case XR_DATETIME:
		return "dateTime.iso8601";
	case XR_ARRAY:
		return "array";
	case XR_STRUCT:
		return "struct";
	}
	return "unknown type";
}

/* The type with its article, for messages. */
static const char *type_phrase(enum xr_type t)
{
	switch (t) {
	case XR_NIL:
		return "nil";
	case XR_INT:
		return "an int";
	case XR_BOOL:
		return "a boolean";
	case XR_DOUBLE:
		return "a double";
	case XR_STRING:
		return "a string";
	case XR_BASE64:
		return "base64 data";
	case XR_DATETIME:
		return "a dateTime";
	case XR_ARRAY:
		return "an array";
	case XR_STRUCT:
		return "a struct";
	}
	return "a value of unknown type";
}

/* Shows the start of untrusted or odd text in quotes, control bytes escaped. */
static void add_snippet(struct buf *b, const char *s, size_t len)
{
	buf_putc(b, '\'');
	buf_add_printable(b, s, len > SNIPPET ? SNIPPET : len);
	buf_puts(b, len > SNIPPET ? "...'" : "'");
}

/*
 * Decodes one UTF-8 sequence of s[0..len) into *cp and returns its length, or
 * 0 if it is not well-formed (overlong, a surrogate, past U+10FFFF, cut short).
 */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t need;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		need = 1;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 2;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 3;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (need >= len)
		return 0;
	for (size_t k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[k] & 0x3f);
	}
	if ((need == 1 && c < 0x80) || (need == 2 && c < 0x800) ||
	    (need == 3 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return need + 1;
}

/* ---- encoding ---- */

/*
 * Errors about one value get its path put in front on the way out ("member
 * 'env': item 2: ..."); those about the whole message (past the cap, nested
 * too deep) return PLACELESS and pass up as they are, not with 33 "item 1:"s.
 */
#define PLACELESS (-2)

static size_t cap_of(const struct buf *b)
{
	return b->cap ? b->cap : BUF_DEFAULT_CAP;
}

static int emit_n(struct buf *out, struct error *err, const char *s, size_t len)
{
	if (buf_add(out, s, len) < 0) {
		error_set(err, "the XML-RPC message would grow past its cap of %zu bytes",
			  cap_of(out));
		return PLACELESS;
	}
	return 0;
}

static int emit(struct buf *out, struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int emit(struct buf *out, struct error *err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(out, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		error_set(err, "the XML-RPC message would grow past its cap of %zu bytes",
			  cap_of(out));
		return PLACELESS;
	}
	return 0;
}

static int bad_text(struct error *err, const char *s, size_t len, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int bad_text(struct error *err, const char *s, size_t len, size_t at, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	add_snippet(&b, s, len);
	buf_printf(&b, ": byte %zu ", at + 1);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	error_set(err, "string %s", buf_cstr(&b));
	buf_release(&b);
	return -1;
}

/*
 * Appends s as XML character data. Only & < > need escaping in content; CR
 * goes as a character reference because XML parsers turn a raw CR into LF.
 * What XML 1.0 cannot hold at all (C0 controls but tab and newline, U+FFFE,
 * U+FFFF) and invalid UTF-8 are refused here rather than by the server.
 */
static int emit_text(struct buf *out, struct error *err, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0, i = 0;

	while (i < len) {
		const char *esc = NULL;
		uint32_t cp;
		size_t n;

		switch (u[i]) {
		case '&':
			esc = "&amp;";
			break;
		case '<':
			esc = "&lt;";
			break;
		case '>':
			esc = "&gt;";
			break;
		case '\r':
			esc = "&#13;";
			break;
		case '\t':
		case '\n':
			break;
		default:
			if (u[i] < 0x20)
				return bad_text(
					err, s, len, i,
					"is control character 0x%02x, which XML 1.0 cannot carry (send such data as base64)",
					u[i]);
		}
		if (esc) {
			int rc;

			if ((rc = emit_n(out, err, s + run, i - run)) < 0 ||
			    (rc = emit(out, err, "%s", esc)) < 0)
				return rc;
			run = ++i;
			continue;
		}
		n = utf8_next(u + i, len - i, &cp);
		if (!n)
			return bad_text(err, s, len, i, "%s", "is not valid UTF-8");
		if (cp == 0xfffe || cp == 0xffff)
			return bad_text(
				err, s, len, i, "%s",
				"is a noncharacter (U+FFFE or U+FFFF), which XML 1.0 cannot carry");
		i += n;
	}
	return emit_n(out, err, s + run, len - run);
}

static int emit_base64(struct buf *out, struct error *err, const unsigned char *p, size_t len)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		uint32_t w = (uint32_t)p[i] << 16;
		char q[4];
		int rc;

		if (i + 1 < len)
			w |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			w |= p[i + 2];
		q[0] = digits[(w >> 18) & 63];
		q[1] = digits[(w >> 12) & 63];
		q[2] = i + 1 < len ? digits[(w >> 6) & 63] : '=';
		q[3] = i + 2 < len ? digits[w & 63] : '=';
		if ((rc = emit_n(out, err, q, 4)) < 0)
			return rc;
	}
	return 0;
}

/* The shortest %g that reads back as the same double: "0.1", not "0.10000000000000001". */
static int emit_double(struct buf *out, struct error *err, double d)
{
	char s[40]; /* %.17g of a finite double takes at most 24 */

	if (!isfinite(d))
		return error_set(err, "double %g cannot be sent: XML-RPC has no NaN or infinity",
				 d);
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	return emit(out, err, "<value><double>%s</double></value>\n", s);
}

static int emit_tagged_text(struct buf *out, struct error *err, const char *tag, const char *s,
			    size_t len)
{
	int rc;

	if ((rc = emit(out, err, "<value><%s>", tag)) < 0 || (rc = emit_text(out, err, s, len)) < 0)
		return rc;
	return emit(out, err, "</%s></value>\n", tag);
}

static int emit_value(struct buf *out, const struct xr_value *v, unsigned depth, struct error *err);

static int emit_array(struct buf *out, const struct xr_value *v, unsigned depth, struct error *err)
{
	int rc;

	if ((rc = emit(out, err, "<value><array><data>\n")) < 0)
		return rc;
	for (size_t i = 0; i < v->u.array.n; i++)
		if ((rc = emit_value(out, v->u.array.items[i], depth + 1, err)) < 0)
			return rc == PLACELESS ? rc : error_prefix(err, "item %zu: ", i + 1);
	return emit(out, err, "</data></array></value>\n");
}

static int emit_struct(struct buf *out, const struct xr_value *v, unsigned depth, struct error *err)
{
	int rc;

	if ((rc = emit(out, err, "<value><struct>\n")) < 0)
		return rc;
	for (size_t i = 0; i < v->u.st.n; i++) {
		const struct xr_member *m = &v->u.st.members[i];

		if (!m->name)
			return error_set(err, "struct member %zu was never set", i + 1);
		if ((rc = emit(out, err, "<member>\n<name>")) < 0 ||
		    (rc = emit_text(out, err, m->name, strlen(m->name))) < 0 ||
		    (rc = emit(out, err, "</name>\n")) < 0 ||
		    (rc = emit_value(out, m->value, depth + 1, err)) < 0 ||
		    (rc = emit(out, err, "</member>\n")) < 0)
			return rc == PLACELESS ? rc : error_prefix(err, "member '%s': ", m->name);
	}
	return emit(out, err, "</struct></value>\n");
}

/* One <value>, in the layout of Python's xmlrpc.client (what supervisord sends). */
static int emit_value(struct buf *out, const struct xr_value *v, unsigned depth, struct error *err)
{
	int rc;

	if (!v)
		return error_set(err, "a value that was never set");
	/* the caller builds these, but a cycle must not recurse forever */
	if (depth > XR_MAX_DEPTH) {
		error_set(err, "values nested deeper than %d", XR_MAX_DEPTH);
		return PLACELESS;
	}
	switch (v->type) {
	case XR_NIL:
		return emit(out, err, "<value><nil/></value>\n");
	case XR_INT:
		/* supervisord reads no <i8>, and its answers cap ints at 32 bits too */
		if (v->u.i < INT32_MIN || v->u.i > INT32_MAX)
			return error_set(
				err,
				"int %" PRId64
				" does not fit XML-RPC's 32-bit <int> (supervisord accepts no <i8>)",
				v->u.i);
		return emit(out, err, "<value><int>%" PRId64 "</int></value>\n", v->u.i);
	case XR_BOOL:
		return emit(out, err, "<value><boolean>%d</boolean></value>\n", v->u.b ? 1 : 0);
	case XR_DOUBLE:
		return emit_double(out, err, v->u.d);
	case XR_STRING:
		return emit_tagged_text(out, err, "string", v->u.str.ptr, v->u.str.len);
	case XR_BASE64:
		if ((rc = emit(out, err, "<value><base64>")) < 0 ||
		    (rc = emit_base64(out, err, (const unsigned char *)v->u.str.ptr,
				      v->u.str.len)) < 0)
			return rc;
		return emit(out, err, "</base64></value>\n");
	case XR_DATETIME:
		return emit_tagged_text(out, err, "dateTime.iso8601", v->u.str.ptr, v->u.str.len);
	case XR_ARRAY:
		return emit_array(out, v, depth, err);
	case XR_STRUCT:
		return emit_struct(out, v, depth, err);
	}
	return error_set(err, "a value of unknown type %d", (int)v->type);
}

/* Method names as the XML-RPC spec allows them; ours are literals, so this
 * catches a bug rather than bad input. */
static int check_method(const char *method, struct error *err)
{
	const char *p = method;

	if (!*p)
		return error_set(err, "an empty XML-RPC method name");
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_.:/", *p)))
			return error_set(
				err, "XML-RPC method name '%s' has '%c', outside [A-Za-z0-9_.:/]",
				method, *p);
	return 0;
}

/* A failed encoding leaves nothing half-written behind. */
static void truncate_to(struct buf *out, size_t len)
{
	out->len = len;
	if (out->ptr)
		out->ptr[len] = '\0';
}

int xr_encode_call(struct buf *out, const char *method, struct xr_value *const *params,
		   size_t nparams, struct error *err)
{
	size_t start = out->len;
	int rc = -1;

	if (check_method(method, err) < 0 ||
	    emit(out, err,
		 "<?xml version=\"1.0\"?>\n<methodCall>\n<methodName>%s</methodName>\n<params>\n",
		 method) < 0)
		goto cleanup;
	for (size_t i = 0; i < nparams; i++) {
		if (emit(out, err, "<param>\n") < 0 || emit_value(out, params[i], 1, err) < 0 ||
		    emit(out, err, "</param>\n") < 0) {
			error_prefix(err, "param %zu: ", i + 1);
			goto cleanup;
		}
	}
	if (emit(out, err, "</params>\n</methodCall>\n") < 0)
		goto cleanup;
	rc = 0;
cleanup:
	if (rc < 0)
		truncate_to(out, start);
	return rc;
}

int xr_encode_response(struct buf *out, const struct xr_value *v, struct error *err)
{
	size_t start = out->len;
	int rc = -1;

	if (emit(out, err, "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n") < 0 ||
	    emit_value(out, v, 1, err) < 0 ||
	    emit(out, err, "</param>\n</params>\n</methodResponse>\n") < 0)
		goto cleanup;
	rc = 0;
cleanup:
	if (rc < 0)
		truncate_to(out, start);
	return rc;
}

int xr_encode_fault(struct buf *out, int code, const char *msg, struct error *err)
{
	struct arena a = ARENA_INIT;
	struct xr_value *st = xr_struct(&a, 2);
	size_t start = out->len;
	int rc = -1;

	xr_struct_set(st, 0, &a, "faultCode", xr_int(&a, code));
	xr_struct_set(st, 1, &a, "faultString", xr_string(&a, msg));
	if (emit(out, err, "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n") < 0 ||
	    emit_value(out, st, 1, err) < 0 || emit(out, err, "</fault>\n</methodResponse>\n") < 0)
		goto cleanup;
	rc = 0;
cleanup:
	if (rc < 0)
		truncate_to(out, start);
	arena_release(&a);
	return rc;
}

/* ---- decoding ---- */

struct decoder {
	struct arena *mem;
	struct error *err;
	/* set from libxml2's callbacks while it parses */
	bool doctype;
	long doctype_line;
	bool xml_error;
	int xml_error_level;
	struct buf xml_msg;
};

/* Fails at a node, with its line: "line 12: <int> holds ...". */
static int fail(struct decoder *d, const xmlNode *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct decoder *d, const xmlNode *n, const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	error_set(d->err, "line %ld: %s", xmlGetLineNo(n), buf_cstr(&msg));
	buf_release(&msg);
	return -1;
}

/* A quoted, printable, shortened copy of text for a message; lives in the arena. */
static const char *show(struct decoder *d, const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	const char *p;

	add_snippet(&b, s, len);
	p = arena_strndup(d->mem, buf_cstr(&b), b.len);
	buf_release(&b);
	return p;
}

static const char *name_of(const xmlNode *n)
{
	return (const char *)n->name;
}

static bool is_elem(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !n->ns && !strcmp(name_of(n), name);
}

static bool is_blank(const xmlChar *s)
{
	for (; s && *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

static bool is_text(const xmlNode *n)
{
	return n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE;
}

static bool is_ignored(const xmlNode *n)
{
	return n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE;
}

/*
 * The next element among parent's children after `after` (the first if NULL),
 * or NULL at the end. Whitespace between elements is layout and is skipped,
 * as are comments; any other text there is an error.
 */
static int next_elem(struct decoder *d, const xmlNode *parent, const xmlNode *after, xmlNode **out)
{
	for (xmlNode *n = after ? after->next : parent->children; n; n = n->next) {
		if (n->type == XML_ELEMENT_NODE) {
			*out = n;
			return 0;
		}
		if (is_text(n) && !is_blank(n->content)) {
			const char *t = (const char *)n->content;

			return fail(d, n, "text %s inside <%s>, where only elements belong",
				    show(d, t, strlen(t)), name_of(parent));
		}
		if (!is_text(n) && !is_ignored(n))
			return fail(d, n, "unexpected XML node (type %d) inside <%s>", (int)n->type,
				    name_of(parent));
	}
	*out = NULL;
	return 0;
}

/* Exactly one element inside parent, and it must be `name`. */
static int only_child(struct decoder *d, const xmlNode *parent, const char *name, xmlNode **out)
{
	xmlNode *second;

	if (next_elem(d, parent, NULL, out) < 0)
		return -1;
	if (!*out)
		return fail(d, parent, "<%s> is empty: expected a <%s> inside", name_of(parent),
			    name);
	if (!is_elem(*out, name))
		return fail(d, *out, "unexpected <%s> inside <%s>: expected <%s>", name_of(*out),
			    name_of(parent), name);
	if (next_elem(d, parent, *out, &second) < 0)
		return -1;
	if (second)
		return fail(d, second, "<%s> after the <%s> inside <%s>: expected only one",
			    name_of(second), name, name_of(parent));
	return 0;
}

/* All the text inside n (text and CDATA, comments skipped), kept as is,
 * NUL-terminated in the arena. An element inside is an error. */
static int text_of(struct decoder *d, const xmlNode *n, const char **ptr, size_t *len)
{
	size_t total = 0, off = 0;
	char *p;

	for (const xmlNode *c = n->children; c; c = c->next) {
		if (is_text(c))
			total += strlen((const char *)c->content);
		else if (c->type == XML_ELEMENT_NODE)
			return fail(d, c, "<%s> inside <%s>, which holds only text", name_of(c),
				    name_of(n));
		else if (!is_ignored(c))
			return fail(d, c, "unexpected XML node (type %d) inside <%s>", (int)c->type,
				    name_of(n));
	}
	p = arena_alloc(d->mem, total + 1);
	for (const xmlNode *c = n->children; c; c = c->next) {
		if (is_text(c)) {
			size_t k = strlen((const char *)c->content);

			memcpy(p + off, c->content, k);
			off += k;
		}
	}
	*ptr = p;
	*len = total;
	return 0;
}

/* A whole optionally signed decimal; 1 if it does not fit int64, -1 if it is not one. */
static int parse_int(const char *s, size_t len, int64_t *out)
{
	bool neg = false;
	uint64_t acc = 0, lim;
	size_t i = 0;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	/* all digits first, so "99999999999999999999x" is not called merely too big */
	if (i == len || strspn(s + i, "0123456789") != len - i)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		unsigned digit = (unsigned)(s[i] - '0');

		if (acc > (lim - digit) / 10)
			return 1;
		acc = acc * 10 + digit;
	}
	if (neg)
		*out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	else
		*out = (int64_t)acc;
	return 0;
}

/* A decimal double, read whole by strtod; hex, "inf" and "nan" are not XML-RPC. */
static int parse_double(const char *s, size_t len, double *out)
{
	char *end;

	if (!len || strspn(s, "0123456789+-.eE") != len)
		return -1;
	*out = strtod(s, &end);
	if (end != s + len || !isfinite(*out))
		return -1;
	return 0;
}

static int b64_digit(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64 with its padding; whitespace anywhere is layout (Python
 * breaks lines every 76 characters). Returns NULL with *why set on bad input. */
static char *decode_base64(struct arena *a, const char *s, size_t len, size_t *outlen,
			   const char **why)
{
	char *out = arena_alloc(a, len / 4 * 3 + 4);
	size_t n = 0, syms = 0, pad = 0;
	uint32_t w = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == '=') {
			pad++;
			v = 0;
		} else if (pad) {
			*why = "data after the '=' padding";
			return NULL;
		} else if ((v = b64_digit(c)) < 0) {
			*why = "a character outside the base64 alphabet";
			return NULL;
		}
		w = (w << 6) | (uint32_t)v;
		if (++syms % 4 == 0) {
			out[n++] = (char)(w >> 16);
			out[n++] = (char)(w >> 8);
			out[n++] = (char)w;
			w = 0;
		}
	}
	if (syms % 4 || pad > 2) {
		*why = "its length is not a whole number of 4-character groups";
		return NULL;
	}
	n -= pad;
	out[n] = '\0';
	*outlen = n;
	return out;
}

static int decode_value(struct decoder *d, const xmlNode *value, unsigned depth,
			struct xr_value **out);

static int decode_array(struct decoder *d, const xmlNode *arr, unsigned depth,
			struct xr_value **out)
{
	xmlNode *data, *n;
	size_t count = 0, i = 0;
	struct xr_value *v;

	if (only_child(d, arr, "data", &data) < 0)
		return -1;
	if (next_elem(d, data, NULL, &n) < 0)
		return -1;
	for (; n; count++) {
		if (!is_elem(n, "value"))
			return fail(d, n,
				    "unexpected <%s> inside an array's <data>: expected <value>",
				    name_of(n));
		if (next_elem(d, data, n, &n) < 0)
			return -1;
	}
	v = xr_array(d->mem, count);
	if (next_elem(d, data, NULL, &n) < 0)
		return -1;
	for (; n; i++) {
		if (decode_value(d, n, depth + 1, &v->u.array.items[i]) < 0 ||
		    next_elem(d, data, n, &n) < 0)
			return -1;
	}
	*out = v;
	return 0;
}

/* One <member>: its <name> and <value>, in either order, each exactly once. */
static int decode_member(struct decoder *d, const xmlNode *member, unsigned depth,
			 struct xr_member *m)
{
	xmlNode *name = NULL, *value = NULL, *c;
	size_t len;

	if (next_elem(d, member, NULL, &c) < 0)
		return -1;
	while (c) {
		xmlNode **slot = is_elem(c, "name") ? &name : is_elem(c, "value") ? &value : NULL;

		if (!slot)
			return fail(
				d, c,
				"unexpected <%s> inside a struct <member>: expected <name> and <value>",
				name_of(c));
		if (*slot)
			return fail(d, c, "a struct <member> with two <%s>s", name_of(c));
		*slot = c;
		if (next_elem(d, member, c, &c) < 0)
			return -1;
	}
	if (!name)
		return fail(d, member, "a struct <member> without a <name>");
	if (text_of(d, name, &m->name, &len) < 0)
		return -1;
	if (!value)
		return fail(d, member, "struct member %s has no <value>", show(d, m->name, len));
	return decode_value(d, value, depth + 1, &m->value);
}

/*
 * A struct. A name given twice is refused: Python keeps the last, a lookup
 * here would find the first, and a reply that could be read two ways is not
 * one to act on.
 */
static int decode_struct(struct decoder *d, const xmlNode *st, unsigned depth,
			 struct xr_value **out)
{
	struct strmap seen = STRMAP_INIT;
	size_t count = 0, i = 0;
	struct xr_value *v;
	xmlNode *n;
	int rc = -1;

	if (next_elem(d, st, NULL, &n) < 0)
		goto cleanup;
	for (; n; count++) {
		if (!is_elem(n, "member")) {
			fail(d, n, "unexpected <%s> inside <struct>: expected <member>",
			     name_of(n));
			goto cleanup;
		}
		if (next_elem(d, st, n, &n) < 0)
			goto cleanup;
	}
	v = xr_struct(d->mem, count);
	if (next_elem(d, st, NULL, &n) < 0)
		goto cleanup;
	for (; n; i++) {
		struct xr_member *m = &v->u.st.members[i];
		bool dup = false;

		if (decode_member(d, n, depth, m) < 0)
			goto cleanup;
		/* pairwise is cheapest for the usual dozen members; a map keeps a
		 * huge hostile struct from costing n^2 */
		if (count <= STRUCT_LINEAR_CHECK) {
			for (size_t k = 0; k < i && !dup; k++)
				dup = !strcmp(v->u.st.members[k].name, m->name);
		} else {
			dup = strmap_put(&seen, m->name, m) != m;
		}
		if (dup) {
			fail(d, n, "struct member %s appears twice",
			     show(d, m->name, strlen(m->name)));
			goto cleanup;
		}
		if (next_elem(d, st, n, &n) < 0)
			goto cleanup;
	}
	*out = v;
	rc = 0;
cleanup:
	strmap_release(&seen);
	return rc;
}

/* A scalar type's text, parsed. */
static int decode_scalar(struct decoder *d, const xmlNode *t, struct xr_value **out)
{
	const char *name = name_of(t), *s, *why = NULL;
	struct xr_value *v;
	size_t len;
	int prc;

	if (text_of(d, t, &s, &len) < 0)
		return -1;
	if (!strcmp(name, "int") || !strcmp(name, "i4") || !strcmp(name, "i8")) {
		v = new_value(d->mem, XR_INT);
		prc = parse_int(s, len, &v->u.i);
		if (prc < 0)
			return fail(d, t, "<%s> holds %s, not a decimal integer", name,
				    show(d, s, len));
		if (prc > 0)
			return fail(d, t, "<%s> holds %s, which does not fit 64 bits", name,
				    show(d, s, len));
	} else if (!strcmp(name, "boolean")) {
		if (len != 1 || (s[0] != '0' && s[0] != '1'))
			return fail(d, t, "<boolean> holds %s: it must be 0 or 1", show(d, s, len));
		v = xr_bool(d->mem, s[0] == '1');
	} else if (!strcmp(name, "double")) {
		v = new_value(d->mem, XR_DOUBLE);
		if (parse_double(s, len, &v->u.d) < 0)
			return fail(d, t, "<double> holds %s, not a finite decimal number",
				    show(d, s, len));
	} else if (!strcmp(name, "string") || !strcmp(name, "dateTime.iso8601")) {
		v = new_value(d->mem, !strcmp(name, "string") ? XR_STRING : XR_DATETIME);
		v->u.str.ptr = s;
		v->u.str.len = len;
	} else if (!strcmp(name, "base64")) {
		v = new_value(d->mem, XR_BASE64);
		v->u.str.ptr = decode_base64(d->mem, s, len, &v->u.str.len, &why);
		if (!v->u.str.ptr)
			return fail(d, t, "<base64> is not valid base64: %s", why);
	} else { /* nil */
		if (!is_blank((const xmlChar *)s))
			return fail(d, t, "<nil> holds %s: it must be empty", show(d, s, len));
		v = xr_nil(d->mem);
	}
	*out = v;
	return 0;
}

static bool is_scalar_tag(const char *name)
{
	static const char *const tags[] = {"int",    "i4",     "i8",	 "boolean",
					   "double", "string", "base64", "dateTime.iso8601"};

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (!strcmp(name, tags[i]))
			return true;
	return false;
}

/* One <value>: a typed element, or bare text, which XML-RPC reads as a string. */
static int decode_value(struct decoder *d, const xmlNode *value, unsigned depth,
			struct xr_value **out)
{
	const xmlNode *typed = NULL;
	const char *name;

	if (depth > XR_MAX_DEPTH)
		return fail(d, value, "values nested deeper than %d", XR_MAX_DEPTH);
	for (const xmlNode *n = value->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (typed)
			return fail(d, n, "a <value> holding both <%s> and <%s>", name_of(typed),
				    name_of(n));
		typed = n;
	}
	if (!typed) {
		struct xr_value *v = new_value(d->mem, XR_STRING);

		if (text_of(d, value, &v->u.str.ptr, &v->u.str.len) < 0)
			return -1;
		*out = v;
		return 0;
	}
	for (const xmlNode *n = value->children; n; n = n->next) {
		if (is_text(n) && !is_blank(n->content)) {
			const char *t = (const char *)n->content;

			return fail(d, n, "text %s beside <%s> in a <value>", show(d, t, strlen(t)),
				    name_of(typed));
		}
		if (!is_text(n) && !is_ignored(n) && n != typed)
			return fail(d, n, "unexpected XML node (type %d) inside <value>",
				    (int)n->type);
	}
	name = name_of(typed);
	/* Apache's extension writes <ex:nil/>; the namespace says nothing else */
	if (!strcmp(name, "nil"))
		return decode_scalar(d, typed, out);
	if (typed->ns)
		return fail(d, typed, "unknown XML-RPC type <%s:%s>",
			    (const char *)typed->ns->prefix, name);
	if (!strcmp(name, "array"))
		return decode_array(d, typed, depth, out);
	if (!strcmp(name, "struct"))
		return decode_struct(d, typed, depth, out);
	if (is_scalar_tag(name))
		return decode_scalar(d, typed, out);
	return fail(d, typed, "unknown XML-RPC type <%s>", name);
}

static int decode_fault(struct decoder *d, const xmlNode *fault, struct xr_response *out)
{
	const struct xr_value *code, *msg;
	struct xr_value *v;
	xmlNode *value;

	if (only_child(d, fault, "value", &value) < 0 || decode_value(d, value, 1, &v) < 0)
		return -1;
	if (v->type != XR_STRUCT)
		return fail(d, fault, "a <fault> holding %s, not a struct", type_phrase(v->type));
	code = xr_get(v, "faultCode");
	msg = xr_get(v, "faultString");
	if (!code || code->type != XR_INT || code->u.i < INT32_MIN || code->u.i > INT32_MAX)
		return fail(d, fault, "a <fault> without an int faultCode");
	if (!msg || msg->type != XR_STRING)
		return fail(d, fault, "a <fault> without a string faultString");
	out->fault = true;
	out->fault_code = (int)code->u.i;
	out->fault_string = msg->u.str.ptr;
	return 0;
}

static int decode_response(struct decoder *d, xmlDoc *doc, struct xr_response *out)
{
	xmlNode *root = xmlDocGetRootElement(doc), *body, *second, *param, *value;

	if (!root)
		return error_set(d->err, "no XML element at all: expected a <methodResponse>");
	if (!is_elem(root, "methodResponse"))
		return fail(d, root, "the document is <%s>, not an XML-RPC <methodResponse>",
			    name_of(root));
	if (next_elem(d, root, NULL, &body) < 0)
		return -1;
	if (!body)
		return fail(d, root, "a <methodResponse> with neither <params> nor <fault>");
	if (next_elem(d, root, body, &second) < 0)
		return -1;
	if (second)
		return fail(
			d, second,
			"<%s> after <%s> in a <methodResponse>: expected one <params> or one <fault>",
			name_of(second), name_of(body));
	if (is_elem(body, "fault"))
		return decode_fault(d, body, out);
	if (!is_elem(body, "params"))
		return fail(d, body,
			    "unexpected <%s> in a <methodResponse>: expected <params> or <fault>",
			    name_of(body));
	if (next_elem(d, body, NULL, &param) < 0)
		return -1;
	if (!param)
		return fail(d, body, "a <params> with no <param>: a response holds exactly one");
	if (!is_elem(param, "param"))
		return fail(d, param, "unexpected <%s> in <params>: expected <param>",
			    name_of(param));
	if (next_elem(d, body, param, &second) < 0)
		return -1;
	if (second)
		return fail(d, second,
			    "a second <%s> in <params>: a response holds exactly one <param>",
			    name_of(second));
	if (only_child(d, param, "value", &value) < 0)
		return -1;
	return decode_value(d, value, 1, &out->value);
}

/*
 * libxml2 calls this as soon as it reads <!DOCTYPE name ...>, before any
 * declaration in it: stopping here means no entity is ever defined, so none
 * can be expanded (billion laughs) or fetched (file:///etc/passwd).
 */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
		       const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct decoder *d = ctxt->_private;

	(void)name;
	(void)external_id;
	(void)system_id;
	d->doctype = true;
	d->doctype_line = ctxt->input ? ctxt->input->line : 0;
	xmlStopParser(ctxt);
}

/* Keeps the first fatal error (else the first error): later ones are
 * usually its echoes. Nothing goes to stderr. */
static void on_xml_error(void *ctx, XR_XML_ERROR *e)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct decoder *d = ctxt->_private;
	const char *msg = e->message ? e->message : "unreadable input";
	size_t n = strlen(msg);

	if (e->level == XML_ERR_WARNING ||
	    (d->xml_error && (d->xml_error_level == XML_ERR_FATAL || e->level != XML_ERR_FATAL)))
		return;
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	d->xml_error = true;
	d->xml_error_level = e->level;
	buf_reset(&d->xml_msg);
	buf_printf(&d->xml_msg, "not well-formed XML at %d:%d: ", e->line, e->int2);
	/* some messages run over two lines ("...encoding !\nBytes: 0xE9") */
	for (size_t i = 0; i < n; i++)
		buf_add_printable(&d->xml_msg, msg[i] == '\n' ? " " : msg + i, 1);
}

int xr_parse_response(struct xr_response *out, const char *body, size_t len, struct error *err)
{
	struct decoder d = {.mem = &out->mem, .err = err, .xml_msg = BUF_INIT};
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!len) {
		error_set(err, "an empty body where an XML-RPC <methodResponse> was expected");
		goto cleanup;
	}
	if (len > XR_MAX_BODY) {
		error_set(err, "a %zu-byte response, over the %zu-byte limit", len, XR_MAX_BODY);
		goto cleanup;
	}
	xmlInitParser();
	ctxt = xmlCreateMemoryParserCtxt(body, (int)len);
	if (!ctxt) {
		error_set(err, "libxml2 could not start a parser (out of memory?)");
		goto cleanup;
	}
	/* NONET: nothing is fetched. No NOENT, DTDLOAD or DTDATTR, so entities
	 * stay unexpanded and no external subset is read; COMPACT and keeping
	 * blanks: whitespace inside <string> is data. */
	xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
					XML_PARSE_BIG_LINES | XML_PARSE_COMPACT);
	/* process-wide libxml2 defaults could have turned these on */
	ctxt->replaceEntities = 0;
	ctxt->loadsubset = 0;
	ctxt->validate = 0;
	ctxt->_private = &d;
	ctxt->sax->internalSubset = on_doctype;
	ctxt->sax->serror = on_xml_error;
	xmlParseDocument(ctxt);
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	if (d.doctype || (doc && (doc->intSubset || doc->extSubset))) {
		error_set(
			err,
			"line %ld: a DOCTYPE, which is refused: a DTD can define entities that expand without bound or read local files",
			d.doctype ? d.doctype_line : 1);
		goto cleanup;
	}
	if (!ctxt->wellFormed || !doc) {
		error_set(err, "%s", d.xml_error ? buf_cstr(&d.xml_msg) : "not well-formed XML");
		goto cleanup;
	}
	if (decode_response(&d, doc, out) < 0)
		goto cleanup;
	rc = 0;
cleanup:
	if (doc)
		xmlFreeDoc(doc);
	if (ctxt)
		xmlFreeParserCtxt(ctxt);
	buf_release(&d.xml_msg);
	if (rc < 0)
		xr_response_release(out);
	return rc;
}

void xr_response_release(struct xr_response *r)
{
	arena_release(&r->mem);
	r->value = NULL;
	r->fault = false;
	r->fault_code = 0;
	r->fault_string = NULL;
}

/* ---- accessors ---- */

const struct xr_value *xr_get(const struct xr_value *st, const char *name)
{
	if (!st || st->type != XR_STRUCT)
		return NULL;
	for (size_t i = 0; i < st->u.st.n; i++)
		if (st->u.st.members[i].name && !strcmp(st->u.st.members[i].name, name))
			return st->u.st.members[i].value;
	return NULL;
}

static int expect(const struct xr_value *v, enum xr_type t, const char *what, struct error *err)
{
	if (v && v->type == t)
		return 0;
	return error_set(err, "'%s': expected %s, got %s", what, type_phrase(t),
			 v ? type_phrase(v->type) : "nothing");
}

int xr_as_int(const struct xr_value *v, const char *what, int64_t *out, struct error *err)
{
	if (expect(v, XR_INT, what, err) < 0)
		return -1;
	*out = v->u.i;
	return 0;
}

int xr_as_bool(const struct xr_value *v, const char *what, bool *out, struct error *err)
{
	if (expect(v, XR_BOOL, what, err) < 0)
		return -1;
	*out = v->u.b;
	return 0;
}

int xr_as_string(const struct xr_value *v, const char *what, const char **out, struct error *err)
{
	if (expect(v, XR_STRING, what, err) < 0)
		return -1;
	*out = v->u.str.ptr;
	return 0;
}

int xr_as_array(const struct xr_value *v, const char *what, size_t *n, struct error *err)
{
	if (expect(v, XR_ARRAY, what, err) < 0)
		return -1;
	*n = v->u.array.n;
	return 0;
}

/* The member, or a message saying why there is none. */
static const struct xr_value *member(const struct xr_value *st, const char *name, struct error *err)
{
	const struct xr_value *v;

	if (!st || st->type != XR_STRUCT) {
		error_set(err, "expected a struct with member '%s', got %s", name,
			  st ? type_phrase(st->type) : "nothing");
		return NULL;
	}
	v = xr_get(st, name);
	if (!v)
		error_set(err, "missing member '%s'", name);
	return v;
}

int xr_member_int(const struct xr_value *st, const char *name, int64_t *out, struct error *err)
{
	const struct xr_value *v = member(st, name, err);

	return v ? xr_as_int(v, name, out, err) : -1;
}

int xr_member_string(const struct xr_value *st, const char *name, const char **out,
		     struct error *err)
{
	const struct xr_value *v = member(st, name, err);

	return v ? xr_as_string(v, name, out, err) : -1;
}

bool xr_is_fault(const struct xr_value *v, int *code, const char **msg)
{
	const struct xr_value *c = xr_get(v, "faultCode"), *m = xr_get(v, "faultString");

	/* exactly these two, so a data struct that happens to carry one is not
	 * mistaken for a fault */
	if (!c || !m || v->u.st.n != 2 || c->type != XR_INT || m->type != XR_STRING ||
	    c->u.i < INT32_MIN || c->u.i > INT32_MAX)
		return false;
	if (code)
		*code = (int)c->u.i;
	if (msg)
		*msg = m->u.str.ptr;
	return true;
}

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
#include <libxml/xmlerror.h>

#include "strmap.h"
#include "vec.h"
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

/*
 * libxml2 checks the bytes (well-formedness, the encoding, references) and
 * hands elements and text over through SAX2 callbacks; no tree is built.
 * Each open element has a frame on an explicit stack, and each value is built
 * into the response's arena as its element closes.
 *
 * Bytes that are not well-formed XML get libxml2's message even when a
 * decoding error comes first, as when the whole document was parsed before
 * it was decoded: the first decoding error is kept, the callbacks do nothing
 * more, and libxml2 reads on to the end.
 */

/* The elements of a methodResponse, each with its own rules. */
enum frame_kind {
	F_RESPONSE,
	F_PARAMS,
	F_PARAM,
	F_FAULT,
	F_VALUE,
	F_SCALAR, /* int, i4, i8, boolean, double, string, dateTime.iso8601, base64, nil */
	F_ARRAY,
	F_DATA,
	F_STRUCT,
	F_MEMBER,
	F_NAME
};

/* An open element. */
struct frame {
	enum frame_kind kind;
	enum xr_type type; /* F_SCALAR's */
	const char *tag;   /* its local name, for messages */
	long line;	   /* of its start tag */
	unsigned depth;	   /* the values it is in, itself included: 1 for the param's */
	size_t nelems;	   /* elements seen directly inside it so far */
	const char *first; /* the first of them */
	/* what it holds once decoded: a value's, an array's or a struct's
	 * value, or the value of a param, a fault or a member */
	struct xr_value *v;
	const char *name; /* F_MEMBER's, once its <name> has closed */
	size_t namelen;
	size_t base; /* F_DATA's first item, F_STRUCT's first member, in the scratch */
};

/*
 * A frame is pushed only for an element expected where it is (anything else
 * is an error, after which nothing is pushed), and a <value> past
 * XR_MAX_DEPTH is refused before it is pushed. The deepest stack is then
 * methodResponse, params and param, three frames a level (value, struct,
 * member), and a member's name.
 */
#define MAX_FRAMES (3 + 3 * XR_MAX_DEPTH + 1)

/* A decoded struct member, and its <member>'s line for a repeat's message. */
struct member_at {
	struct xr_member m;
	size_t len; /* of the name */
	long line;
};

struct decoder {
	xmlParserCtxtPtr ctxt;
	struct arena *mem;
	struct error *err;
	struct xr_response *out;
	bool failed;	    /* a decoding error is in err: the callbacks do nothing more */
	size_t fail_frames; /* the frames open when it failed */
	size_t level;	    /* elements open, failed or not */
	bool done;	    /* </methodResponse> closed, with its param or fault */
	struct frame stack[MAX_FRAMES];
	size_t nframes;
	/*
	 * The text since the last tag: all of it where text is the value (a
	 * scalar, a <name>, a <value> with no type in it yet); elsewhere only
	 * from its first non-blank character, and only a message's worth.
	 */
	struct buf text;
	bool nonblank;	   /* it has a non-blank character (not tracked in a scalar or name) */
	size_t text_start; /* the first one */
	long text_line;	   /* and its line */
	/* the items of the arrays and the members of the structs still open */
	VEC(struct xr_value *) items;
	VEC(struct member_at) members;
	/* set from libxml2's callbacks on the document itself */
	bool doctype;
	long doctype_line;
	bool xml_error;
	int xml_error_level;
	struct buf xml_msg;
};

/* Fails at a line ("line 12: <int> holds ..."), and decoding stops. */
static int fail(struct decoder *d, long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct decoder *d, long line, const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	error_set(d->err, "line %ld: %s", line, buf_cstr(&msg));
	buf_release(&msg);
	if (!d->failed)
		d->fail_frames = d->nframes;
	d->failed = true;
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

static bool is_blank_char(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_blank_char(s[i]))
			return false;
	return true;
}

/* The elements XML-RPC has, so that each start tag is looked up once. */
enum tag {
	T_OTHER,
	T_VALUE,
	T_NAME,
	T_MEMBER,
	T_STRING,
	T_INT,
	T_STRUCT,
	T_BOOLEAN,
	T_I4,
	T_I8,
	T_DOUBLE,
	T_BASE64,
	T_DATETIME,
	T_NIL,
	T_ARRAY,
	T_DATA,
	T_METHOD_RESPONSE,
	T_PARAMS,
	T_PARAM,
	T_FAULT
};

/* By enum tag, the most frequent first; a scalar's with its value's type. */
static const struct {
	const char *name;
	enum xr_type type;
} tags[] = {
	[T_OTHER] = {"", XR_NIL},
	[T_VALUE] = {"value", XR_NIL},
	[T_NAME] = {"name", XR_NIL},
	[T_MEMBER] = {"member", XR_NIL},
	[T_STRING] = {"string", XR_STRING},
	[T_INT] = {"int", XR_INT},
	[T_STRUCT] = {"struct", XR_STRUCT},
	[T_BOOLEAN] = {"boolean", XR_BOOL},
	[T_I4] = {"i4", XR_INT},
	[T_I8] = {"i8", XR_INT},
	[T_DOUBLE] = {"double", XR_DOUBLE},
	[T_BASE64] = {"base64", XR_BASE64},
	[T_DATETIME] = {"dateTime.iso8601", XR_DATETIME},
	[T_NIL] = {"nil", XR_NIL},
	[T_ARRAY] = {"array", XR_ARRAY},
	[T_DATA] = {"data", XR_NIL},
	[T_METHOD_RESPONSE] = {"methodResponse", XR_NIL},
	[T_PARAMS] = {"params", XR_NIL},
	[T_PARAM] = {"param", XR_NIL},
	[T_FAULT] = {"fault", XR_NIL},
};

static enum tag tag_of(const char *name)
{
	for (size_t i = T_OTHER + 1; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (name[0] == tags[i].name[0] && !strcmp(name, tags[i].name))
			return (enum tag)i;
	return T_OTHER;
}

/* A start tag. */
struct elem {
	const char *name; /* the local name */
	const xmlChar *prefix, *uri;
	enum tag tag; /* by the local name, whatever the namespace */
	long line;
};

/* That element of XML-RPC's, in no namespace. */
static bool is_elem(const struct elem *e, enum tag t)
{
	return e->tag == t && !e->uri;
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

static long line_now(const struct decoder *d)
{
	return d->ctxt->input ? d->ctxt->input->line : 0;
}

/* The line of s[0] in text libxml2 has just handed over: its line count has
 * gone past the last of the n bytes. */
static long line_of(const struct decoder *d, const char *s, size_t n)
{
	long line = line_now(d);

	for (size_t i = 0; i < n; i++)
		line -= s[i] == '\n';
	return line;
}

static struct frame *top(struct decoder *d)
{
	return &d->stack[d->nframes - 1];
}

/* Where the text is (or may yet be) the value itself. */
static bool holds_text(const struct frame *f)
{
	return f->kind == F_SCALAR || f->kind == F_NAME || (f->kind == F_VALUE && !f->nelems);
}

static void text_reset(struct decoder *d)
{
	buf_reset(&d->text);
	d->nonblank = false;
}

static struct frame *push(struct decoder *d, enum frame_kind kind, const struct elem *e)
{
	struct frame *f;

	/* never so deep (see MAX_FRAMES), but the array is not to be overrun */
	if (d->nframes == MAX_FRAMES) {
		fail(d, e->line, "elements nested deeper than %d", MAX_FRAMES);
		return NULL;
	}
	f = &d->stack[d->nframes];
	*f = (struct frame){.kind = kind, .tag = e->name, .line = e->line};
	f->depth = d->nframes ? f[-1].depth : 0;
	d->nframes++;
	return f;
}

static void push_value(struct decoder *d, const struct elem *e)
{
	struct frame *f;

	if (top(d)->depth + 1 > XR_MAX_DEPTH) {
		fail(d, e->line, "values nested deeper than %d", XR_MAX_DEPTH);
		return;
	}
	f = push(d, F_VALUE, e);
	if (f)
		f->depth++;
}

/* Text where only elements belong (inside a <value>, beside its type) is an
 * error; blanks there are layout. */
static int check_no_text(struct decoder *d, const struct frame *f)
{
	const char *t;
	size_t len;

	if (!d->nonblank)
		return 0;
	t = buf_cstr(&d->text) + d->text_start;
	len = d->text.len - d->text_start;
	if (f->kind == F_VALUE)
		return fail(d, d->text_line, "text %s beside <%s> in a <value>", show(d, t, len),
			    f->first);
	return fail(d, d->text_line, "text %s inside <%s>, where only elements belong",
		    show(d, t, len), f->tag);
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct decoder *d = ctxt->_private;
	const char *s = (const char *)ch;
	size_t n = len > 0 ? (size_t)len : 0;
	const struct frame *f;
	bool whole;

	if (d->failed || !d->nframes)
		return;
	f = top(d);
	whole = holds_text(f);
	/* a scalar's or a name's text is all data; elsewhere where it starts
	 * matters, for a message or as text beside a type */
	if (f->kind != F_SCALAR && f->kind != F_NAME && !d->nonblank) {
		size_t skip = 0;

		while (skip < n && is_blank_char(s[skip]))
			skip++;
		if (skip < n) {
			d->nonblank = true;
			d->text_line = line_of(d, s + skip, n - skip);
			d->text_start = whole ? d->text.len + skip : 0;
		}
		if (!whole) {
			s += skip;
			n -= skip;
		}
	}
	if (!whole) {
		size_t room = d->text.len < SNIPPET + 1 ? SNIPPET + 1 - d->text.len : 0;

		n = n < room ? n : room;
	}
	if (n && buf_add(&d->text, s, n) < 0)
		fail(d, f->line, "more than %zu bytes of text inside <%s>", BUF_DEFAULT_CAP,
		     f->tag);
}

/* The element inside a <value>: its type. */
static void start_type(struct decoder *d, struct frame *f, const struct elem *e)
{
	struct frame *t;

	if (f->nelems) {
		fail(d, e->line, "a <value> holding both <%s> and <%s>", f->first, e->name);
		return;
	}
	f->nelems = 1;
	f->first = e->name;
	if (check_no_text(d, f) < 0)
		return;
	/* Apache's extension writes <ex:nil/>; the namespace says nothing else */
	if (e->uri && e->tag != T_NIL) {
		if (e->prefix)
			fail(d, e->line, "unknown XML-RPC type <%s:%s>", (const char *)e->prefix,
			     e->name);
		else
			fail(d, e->line, "unknown XML-RPC type <%s> in namespace %s", e->name,
			     show(d, (const char *)e->uri, strlen((const char *)e->uri)));
		return;
	}
	switch (e->tag) {
	case T_ARRAY:
		push(d, F_ARRAY, e);
		return;
	case T_STRUCT:
		if ((t = push(d, F_STRUCT, e)))
			t->base = d->members.n;
		return;
	case T_STRING:
	case T_INT:
	case T_BOOLEAN:
	case T_I4:
	case T_I8:
	case T_DOUBLE:
	case T_BASE64:
	case T_DATETIME:
	case T_NIL:
		if ((t = push(d, F_SCALAR, e)))
			t->type = tags[e->tag].type;
		return;
	default:
		fail(d, e->line, "unknown XML-RPC type <%s>", e->name);
		return;
	}
}

/* A <name> or a <value> inside a struct <member>, in either order, each once. */
static void start_in_member(struct decoder *d, const struct frame *f, const struct elem *e)
{
	if (!is_elem(e, T_NAME) && !is_elem(e, T_VALUE))
		fail(d, e->line,
		     "unexpected <%s> inside a struct <member>: expected <name> and <value>",
		     e->name);
	else if (e->tag == T_NAME ? f->name != NULL : f->v != NULL)
		fail(d, e->line, "a struct <member> with two <%s>s", e->name);
	else if (e->tag == T_NAME)
		push(d, F_NAME, e);
	else
		push_value(d, e);
}

/* Exactly one element inside: a param's or a fault's <value>, an array's <data>. */
static void start_in_single(struct decoder *d, struct frame *f, const struct elem *e)
{
	enum tag want = f->kind == F_ARRAY ? T_DATA : T_VALUE;

	if (f->nelems > 1)
		fail(d, e->line, "<%s> after the <%s> inside <%s>: expected only one", e->name,
		     tags[want].name, f->tag);
	else if (!is_elem(e, want))
		fail(d, e->line, "unexpected <%s> inside <%s>: expected <%s>", e->name, f->tag,
		     tags[want].name);
	else if (want == T_VALUE)
		push_value(d, e);
	else if ((f = push(d, F_DATA, e)))
		f->base = d->items.n;
}

static void fail_second_body(struct decoder *d, const struct elem *e)
{
	fail(d, e->line,
	     "<%s> after <%s> in a <methodResponse>: expected one <params> or one <fault>", e->name,
	     d->stack[0].first);
}

/*
 * Two elements in a <methodResponse> are what is wrong with it, whatever is
 * wrong inside the first; so once decoding has failed inside the first, an
 * element after it takes the message over.
 */
static void start_after_failure(struct decoder *d, const struct elem *e)
{
	if (d->level == 2 && d->fail_frames >= 2 && d->stack[0].nelems++ == 1)
		fail_second_body(d, e);
}

static void on_start_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
			     const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
			     int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct decoder *d = ctxt->_private;
	struct elem e = {(const char *)localname, prefix, uri, T_OTHER, line_now(d)};
	struct frame *f;

	/* attributes and namespace declarations say nothing in XML-RPC */
	(void)nb_namespaces;
	(void)namespaces;
	(void)nb_attributes;
	(void)nb_defaulted;
	(void)attributes;
	d->level++;
	e.tag = tag_of(e.name);
	if (d->failed) {
		start_after_failure(d, &e);
		return;
	}
	if (!d->nframes) {
		if (!is_elem(&e, T_METHOD_RESPONSE))
			fail(d, e.line, "the document is <%s>, not an XML-RPC <methodResponse>",
			     e.name);
		else
			push(d, F_RESPONSE, &e);
		return;
	}
	f = top(d);
	switch (f->kind) {
	case F_SCALAR:
	case F_NAME:
		fail(d, e.line, "<%s> inside <%s>, which holds only text", e.name, f->tag);
		return;
	case F_VALUE:
		start_type(d, f, &e);
		text_reset(d);
		return;
	default:
		break;
	}
	if (check_no_text(d, f) < 0)
		return;
	text_reset(d);
	if (f->nelems++ == 0)
		f->first = e.name;
	switch (f->kind) {
	case F_RESPONSE:
		if (f->nelems > 1)
			fail_second_body(d, &e);
		else if (is_elem(&e, T_PARAMS))
			push(d, F_PARAMS, &e);
		else if (is_elem(&e, T_FAULT))
			push(d, F_FAULT, &e);
		else
			fail(d, e.line,
			     "unexpected <%s> in a <methodResponse>: expected <params> or <fault>",
			     e.name);
		break;
	case F_PARAMS:
		if (f->nelems > 1)
			fail(d, e.line,
			     "a second <%s> in <params>: a response holds exactly one <param>",
			     e.name);
		else if (is_elem(&e, T_PARAM))
			push(d, F_PARAM, &e);
		else
			fail(d, e.line, "unexpected <%s> in <params>: expected <param>", e.name);
		break;
	case F_PARAM:
	case F_FAULT:
	case F_ARRAY:
		start_in_single(d, f, &e);
		break;
	case F_DATA:
		if (is_elem(&e, T_VALUE))
			push_value(d, &e);
		else
			fail(d, e.line,
			     "unexpected <%s> inside an array's <data>: expected <value>", e.name);
		break;
	case F_STRUCT:
		if (is_elem(&e, T_MEMBER))
			push(d, F_MEMBER, &e);
		else
			fail(d, e.line, "unexpected <%s> inside <struct>: expected <member>",
			     e.name);
		break;
	case F_MEMBER:
		start_in_member(d, f, &e);
		break;
	case F_VALUE:
	case F_SCALAR:
	case F_NAME:
		break; /* above */
	}
}

/* A scalar type's text, parsed. */
static int decode_scalar(struct decoder *d, const struct frame *f, struct xr_value **out)
{
	const char *s = buf_cstr(&d->text), *why = NULL;
	size_t len = d->text.len;
	struct xr_value *v = new_value(d->mem, f->type);
	int prc;

	switch (f->type) {
	case XR_INT:
		prc = parse_int(s, len, &v->u.i);
		if (prc < 0)
			return fail(d, f->line, "<%s> holds %s, not a decimal integer", f->tag,
				    show(d, s, len));
		if (prc > 0)
			return fail(d, f->line, "<%s> holds %s, which does not fit 64 bits", f->tag,
				    show(d, s, len));
		break;
	case XR_BOOL:
		if (len != 1 || (s[0] != '0' && s[0] != '1'))
			return fail(d, f->line, "<boolean> holds %s: it must be 0 or 1",
				    show(d, s, len));
		v->u.b = s[0] == '1';
		break;
	case XR_DOUBLE:
		if (parse_double(s, len, &v->u.d) < 0)
			return fail(d, f->line, "<double> holds %s, not a finite decimal number",
				    show(d, s, len));
		break;
	case XR_STRING:
	case XR_DATETIME:
		v->u.str.ptr = arena_strndup(d->mem, s, len);
		v->u.str.len = len;
		break;
	case XR_BASE64:
		v->u.str.ptr = decode_base64(d->mem, s, len, &v->u.str.len, &why);
		if (!v->u.str.ptr)
			return fail(d, f->line, "<base64> is not valid base64: %s", why);
		break;
	case XR_NIL:
		if (!is_blank(s, len))
			return fail(d, f->line, "<nil> holds %s: it must be empty",
				    show(d, s, len));
		break;
	case XR_ARRAY:
	case XR_STRUCT:
		break; /* not scalars: start_type gives no scalar frame these */
	}
	*out = v;
	return 0;
}

/*
 * A struct, from the members its <member>s left in the scratch. A name given
 * twice is refused: Python keeps the last, a lookup here would find the
 * first, and a reply that could be read two ways is not one to act on.
 */
static int end_struct(struct decoder *d, const struct frame *f, struct xr_value **out)
{
	struct strmap seen = STRMAP_INIT;
	size_t count = d->members.n - f->base;
	/* no offset from the NULL of a scratch never grown */
	const struct member_at *m = count ? d->members.v + f->base : NULL;
	struct xr_value *v = xr_struct(d->mem, count);
	int rc = -1;

	for (size_t i = 0; i < count; i++) {
		bool dup = false;

		v->u.st.members[i] = m[i].m;
		/* pairwise is cheapest for the usual dozen members; a map keeps a
		 * huge hostile struct from costing n^2 */
		if (count <= STRUCT_LINEAR_CHECK) {
			for (size_t k = 0; k < i && !dup; k++)
				dup = m[k].len == m[i].len &&
				      !memcmp(m[k].m.name, m[i].m.name, m[i].len);
		} else {
			dup = strmap_put(&seen, m[i].m.name, &v->u.st.members[i]) !=
			      &v->u.st.members[i];
		}
		if (dup) {
			fail(d, m[i].line, "struct member %s appears twice",
			     show(d, m[i].m.name, m[i].len));
			goto cleanup;
		}
	}
	d->members.n = f->base;
	*out = v;
	rc = 0;
cleanup:
	strmap_release(&seen);
	return rc;
}

static int end_fault(struct decoder *d, const struct frame *f)
{
	const struct xr_value *v = f->v, *code, *msg;

	if (v->type != XR_STRUCT)
		return fail(d, f->line, "a <fault> holding %s, not a struct", type_phrase(v->type));
	code = xr_get(v, "faultCode");
	msg = xr_get(v, "faultString");
	if (!code || code->type != XR_INT || code->u.i < INT32_MIN || code->u.i > INT32_MAX)
		return fail(d, f->line, "a <fault> without an int faultCode");
	if (!msg || msg->type != XR_STRING)
		return fail(d, f->line, "a <fault> without a string faultString");
	d->out->fault = true;
	d->out->fault_code = (int)code->u.i;
	d->out->fault_string = msg->u.str.ptr;
	return 0;
}

/* Frame f closes: what it holds goes to `up`, the frame it is in (NULL for
 * the methodResponse). */
static int end_frame(struct decoder *d, struct frame *f, struct frame *up)
{
	struct xr_value *v;
	size_t n;

	if (!holds_text(f) && check_no_text(d, f) < 0)
		return -1;
	switch (f->kind) {
	case F_SCALAR:
		return decode_scalar(d, f, &up->v);
	case F_NAME:
		up->name = arena_strndup(d->mem, buf_cstr(&d->text), d->text.len);
		up->namelen = d->text.len;
		return 0;
	case F_VALUE:
		/* no type inside: XML-RPC reads bare text as a string */
		if (!f->nelems) {
			v = new_value(d->mem, XR_STRING);
			v->u.str.ptr = arena_strndup(d->mem, buf_cstr(&d->text), d->text.len);
			v->u.str.len = d->text.len;
		} else {
			v = f->v;
		}
		if (up->kind == F_DATA)
			vec_push(&d->items, v);
		else
			up->v = v;
		return 0;
	case F_ARRAY:
		if (!f->nelems)
			return fail(d, f->line, "<array> is empty: expected a <data> inside");
		up->v = f->v;
		return 0;
	case F_DATA:
		n = d->items.n - f->base;
		v = xr_array(d->mem, n);
		if (n)
			memcpy(v->u.array.items, d->items.v + f->base, n * sizeof(*d->items.v));
		d->items.n = f->base;
		up->v = v;
		return 0;
	case F_STRUCT:
		return end_struct(d, f, &up->v);
	case F_MEMBER: {
		struct member_at *m;

		if (!f->name)
			return fail(d, f->line, "a struct <member> without a <name>");
		if (!f->v)
			return fail(d, f->line, "struct member %s has no <value>",
				    show(d, f->name, f->namelen));
		m = vec_add(&d->members);
		m->m.name = f->name;
		m->m.value = f->v;
		m->len = f->namelen;
		m->line = f->line;
		return 0;
	}
	case F_PARAM:
	case F_FAULT:
		if (!f->nelems)
			return fail(d, f->line, "<%s> is empty: expected a <value> inside", f->tag);
		if (f->kind == F_FAULT)
			return end_fault(d, f);
		d->out->value = f->v;
		return 0;
	case F_PARAMS:
		if (!f->nelems)
			return fail(d, f->line,
				    "a <params> with no <param>: a response holds exactly one");
		return 0;
	case F_RESPONSE:
		if (!f->nelems)
			return fail(d, f->line,
				    "a <methodResponse> with neither <params> nor <fault>");
		d->done = true;
		return 0;
	}
	return 0;
}

static void on_end_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
			   const xmlChar *uri)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct decoder *d = ctxt->_private;
	struct frame *f;

	/* libxml2 has matched it with its start tag */
	(void)localname;
	(void)prefix;
	(void)uri;
	d->level--;
	if (d->failed || !d->nframes)
		return;
	f = top(d);
	if (end_frame(d, f, d->nframes > 1 ? f - 1 : NULL) < 0)
		return;
	d->nframes--;
	/* the text of the element it was in starts again */
	text_reset(d);
}

/*
 * libxml2 reports here a reference to an entity it knows but does not
 * expand. None is ever declared (see on_doctype), and undeclared ones are
 * fatal errors, so this is not reached; were it, a reference is refused
 * rather than dropped from the text.
 */
static void on_reference(void *ctx, const xmlChar *name)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct decoder *d = ctxt->_private;

	if (!d->failed)
		fail(d, line_now(d), "a reference to entity %s, which is refused",
		     show(d, (const char *)name, strlen((const char *)name)));
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
	/* Only these callbacks: none builds a tree, declares an entity or
	 * reads an external subset. characters and ignorableWhitespace are
	 * the same function, so libxml2 never judges blanks ignorable:
	 * whitespace inside <string> is data. */
	static const xmlSAXHandler handler = {
		.internalSubset = on_doctype,
		.reference = on_reference,
		.characters = on_text,
		.ignorableWhitespace = on_text,
		.cdataBlock = on_text,
		.initialized = XML_SAX2_MAGIC,
		.startElementNs = on_start_element,
		.endElementNs = on_end_element,
		.serror = on_xml_error,
	};
	struct decoder d = {
		.mem = &out->mem, .err = err, .out = out, .text = BUF_INIT, .xml_msg = BUF_INIT};
	xmlParserCtxtPtr ctxt = NULL;
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
	 * stay unexpanded and no external subset is read. */
	xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	/* process-wide libxml2 defaults could have turned these on */
	ctxt->replaceEntities = 0;
	ctxt->loadsubset = 0;
	ctxt->validate = 0;
	/* after the options, which edit the handler */
	*ctxt->sax = handler;
	ctxt->_private = &d;
	d.ctxt = ctxt;
	xmlParseDocument(ctxt);
	if (d.doctype) {
		error_set(
			err,
			"line %ld: a DOCTYPE, which is refused: a DTD can define entities that expand without bound or read local files",
			d.doctype_line);
		goto cleanup;
	}
	if (!ctxt->wellFormed) {
		error_set(err, "%s", d.xml_error ? buf_cstr(&d.xml_msg) : "not well-formed XML");
		goto cleanup;
	}
	if (d.failed)
		goto cleanup;
	/* Well-formed as far as it went, yet not read to the end: libxml2
	 * gives up so on running out of memory. What was decoded may be cut
	 * short, so nothing of it is kept. */
	if (!d.done) {
		error_set(err, "libxml2 stopped before the end of the <methodResponse>%s%s",
			  d.xml_error ? ": " : "", buf_cstr(&d.xml_msg));
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (ctxt)
		xmlFreeParserCtxt(ctxt);
	buf_release(&d.text);
	buf_release(&d.xml_msg);
	vec_release(&d.items);
	vec_release(&d.members);
	if (rc < 0)
		xr_response_release(out);
	return rc;
}

void xr_init(void)
{
	xmlInitParser();
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

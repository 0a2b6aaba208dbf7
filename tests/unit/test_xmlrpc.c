/*
 * The XML-RPC codec, one scenario a row: values in, exact XML out; XML in
 * (hand-written, hostile, or captured from a real supervisord 4.2.5 under
 * data/xmlrpc/), the decoded value or the words of the error out.
 */
#include "unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "xmlrpc.h"

/* ---- helpers ---- */

/* A value as one line: 5, true, 2.5d, "text", b64:00ff, dt:..., nil, [..], {k:v}. */
static void dump(struct buf *b, const struct xr_value *v)
{
	if (!v) {
		buf_puts(b, "NULL");
		return;
	}
	switch (v->type) {
	case XR_NIL:
		buf_puts(b, "nil");
		break;
	case XR_INT:
		buf_printf(b, "%lld", (long long)v->u.i);
		break;
	case XR_BOOL:
		buf_puts(b, v->u.b ? "true" : "false");
		break;
	case XR_DOUBLE:
		buf_printf(b, "%gd", v->u.d);
		break;
	case XR_STRING:
		buf_putc(b, '"');
		buf_add_printable(b, v->u.str.ptr, v->u.str.len);
		buf_putc(b, '"');
		break;
	case XR_BASE64:
		buf_puts(b, "b64:");
		for (size_t i = 0; i < v->u.str.len; i++)
			buf_printf(b, "%02x", (unsigned char)v->u.str.ptr[i]);
		break;
	case XR_DATETIME:
		buf_printf(b, "dt:%s", v->u.str.ptr);
		break;
	case XR_ARRAY:
		buf_putc(b, '[');
		for (size_t i = 0; i < v->u.array.n; i++) {
			if (i)
				buf_putc(b, ',');
			dump(b, v->u.array.items[i]);
		}
		buf_putc(b, ']');
		break;
	case XR_STRUCT:
		buf_putc(b, '{');
		for (size_t i = 0; i < v->u.st.n; i++) {
			if (i)
				buf_putc(b, ',');
			buf_printf(b, "%s:", v->u.st.members[i].name);
			dump(b, v->u.st.members[i].value);
		}
		buf_putc(b, '}');
		break;
	}
}

static void dump_response(struct buf *b, const struct xr_response *r)
{
	if (r->fault)
		buf_printf(b, "fault %d \"%s\"", r->fault_code, r->fault_string);
	else
		dump(b, r->value);
}

/* A captured body, read from data/xmlrpc/ (the tests run in tests/unit). */
static void read_data(struct buf *out, const char *name)
{
	char path[256], chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "data/xmlrpc/%s", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (run from tests/unit)", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(buf_add(out, chunk, n), 0);
	fclose(f);
}

static void assert_contains(const char *row, const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("%s: '%s' lacks '%s'", row, haystack, needle);
}

/* ---- encoding ---- */

static struct xr_value *deep_array(struct arena *a, int levels)
{
	struct xr_value *v = xr_int(a, 1);

	for (int i = 0; i < levels; i++) {
		struct xr_value *arr = xr_array(a, 1);

		arr->u.array.items[0] = v;
		v = arr;
	}
	return v;
}

static struct xr_value *b_nil(struct arena *a)
{
	return xr_nil(a);
}
static struct xr_value *b_int(struct arena *a)
{
	return xr_int(a, 42);
}
static struct xr_value *b_int_neg(struct arena *a)
{
	return xr_int(a, -7);
}
static struct xr_value *b_int_max(struct arena *a)
{
	return xr_int(a, INT32_MAX);
}
static struct xr_value *b_int_min(struct arena *a)
{
	return xr_int(a, INT32_MIN);
}
static struct xr_value *b_int_over(struct arena *a)
{
	return xr_int(a, (int64_t)INT32_MAX + 1);
}
static struct xr_value *b_int_under(struct arena *a)
{
	return xr_int(a, (int64_t)INT32_MIN - 1);
}
static struct xr_value *b_true(struct arena *a)
{
	return xr_bool(a, true);
}
static struct xr_value *b_false(struct arena *a)
{
	return xr_bool(a, false);
}
static struct xr_value *b_double(struct arena *a)
{
	return xr_double(a, 2.5);
}
static struct xr_value *b_double_tenth(struct arena *a)
{
	return xr_double(a, 0.1);
}
static struct xr_value *b_double_big(struct arena *a)
{
	return xr_double(a, 1e300);
}
static struct xr_value *b_double_nan(struct arena *a)
{
	return xr_double(a, NAN);
}
static struct xr_value *b_double_inf(struct arena *a)
{
	return xr_double(a, -INFINITY);
}
static struct xr_value *b_string(struct arena *a)
{
	return xr_string(a, "hello world");
}
static struct xr_value *b_string_empty(struct arena *a)
{
	return xr_string(a, "");
}
static struct xr_value *b_string_escapes(struct arena *a)
{
	return xr_string(a, "a & b < c > d \"q\" 'q'");
}
static struct xr_value *b_string_cr(struct arena *a)
{
	return xr_string(a, "line\r\nnext\ttab");
}
static struct xr_value *b_string_utf8(struct arena *a)
{
	return xr_string(a, "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80");
}
static struct xr_value *b_string_esc(struct arena *a)
{
	return xr_string(a, "red \x1b[31m");
}
static struct xr_value *b_string_nul(struct arena *a)
{
	return xr_stringn(a, "a\0b", 3);
}
static struct xr_value *b_string_bad_utf8(struct arena *a)
{
	return xr_string(a, "caf\xe9");
}
static struct xr_value *b_string_overlong(struct arena *a)
{
	return xr_string(a, "\xc0\xaf");
}
static struct xr_value *b_string_fffe(struct arena *a)
{
	return xr_string(a, "x\xef\xbf\xbe");
}
static struct xr_value *b_base64(struct arena *a)
{
	return xr_base64(a, "hello", 5);
}
static struct xr_value *b_base64_bin(struct arena *a)
{
	return xr_base64(a, "\x00\xff\x10\x1b", 4);
}
static struct xr_value *b_base64_empty(struct arena *a)
{
	return xr_base64(a, NULL, 0);
}
static struct xr_value *b_datetime(struct arena *a)
{
	struct xr_value *v = xr_string(a, "20261126T10:15:17");

	v->type = XR_DATETIME;
	return v;
}
static struct xr_value *b_array_empty(struct arena *a)
{
	return xr_array(a, 0);
}
static struct xr_value *b_nested(struct arena *a)
{
	struct xr_value *outer = xr_array(a, 2), *inner = xr_array(a, 2);

	inner->u.array.items[0] = xr_string(a, "a");
	inner->u.array.items[1] = xr_array(a, 0);
	outer->u.array.items[0] = xr_int(a, 1);
	outer->u.array.items[1] = inner;
	return outer;
}
static struct xr_value *b_struct(struct arena *a)
{
	struct xr_value *st = xr_struct(a, 2), *sub = xr_struct(a, 1), *list = xr_array(a, 1);

	list->u.array.items[0] = xr_bool(a, true);
	xr_struct_set(sub, 0, a, "k", list);
	xr_struct_set(st, 0, a, "name", xr_string(a, "x"));
	xr_struct_set(st, 1, a, "sub", sub);
	return st;
}
static struct xr_value *b_struct_escaped_name(struct arena *a)
{
	struct xr_value *st = xr_struct(a, 1);

	xr_struct_set(st, 0, a, "a<b&c", xr_int(a, 1));
	return st;
}
static struct xr_value *b_unset_item(struct arena *a)
{
	struct xr_value *arr = xr_array(a, 2);

	arr->u.array.items[0] = xr_int(a, 1);
	return arr;
}
static struct xr_value *b_unset_member(struct arena *a)
{
	struct xr_value *st = xr_struct(a, 2);

	xr_struct_set(st, 0, a, "a", xr_int(a, 1));
	return st;
}
static struct xr_value *b_bad_member_value(struct arena *a)
{
	struct xr_value *st = xr_struct(a, 1), *arr = xr_array(a, 2);

	arr->u.array.items[0] = xr_string(a, "ok");
	arr->u.array.items[1] = xr_string(a, "bell\a");
	xr_struct_set(st, 0, a, "env", arr);
	return st;
}
static struct xr_value *b_bad_member_name(struct arena *a)
{
	struct xr_value *st = xr_struct(a, 1);

	xr_struct_set(st, 0, a, "new\x0bline", xr_int(a, 1));
	return st;
}
static struct xr_value *b_deep_ok(struct arena *a)
{
	return deep_array(a, XR_MAX_DEPTH - 1); /* 31 arrays and the int: 32 values deep */
}
static struct xr_value *b_deep_over(struct arena *a)
{
	return deep_array(a, XR_MAX_DEPTH);
}
static struct xr_value *b_cycle(struct arena *a)
{
	struct xr_value *arr = xr_array(a, 1);

	arr->u.array.items[0] = arr;
	return arr;
}
static struct xr_value *b_unknown_type(struct arena *a)
{
	struct xr_value *v = xr_int(a, 1);

	v->type = (enum xr_type)99;
	return v;
}
static struct xr_value *b_null(struct arena *a)
{
	(void)a;
	return NULL;
}

struct encode_row {
	const char *name;
	struct xr_value *(*build)(struct arena *a);
	const char *xml; /* the param's <value>...</value>\n, or NULL for an error */
	const char *msg; /* in the error */
};

#define EMPTY_ARRAY "<value><array><data>\n</data></array></value>\n"

static const struct encode_row encode_rows[] = {
	{"nil", b_nil, "<value><nil/></value>\n", NULL},
	{"int", b_int, "<value><int>42</int></value>\n", NULL},
	{"negative int", b_int_neg, "<value><int>-7</int></value>\n", NULL},
	{"int32 max", b_int_max, "<value><int>2147483647</int></value>\n", NULL},
	{"int32 min", b_int_min, "<value><int>-2147483648</int></value>\n", NULL},
	{"int over 2^31-1", b_int_over, NULL,
	 "param 1: int 2147483648 does not fit XML-RPC's 32-bit <int> (supervisord accepts no <i8>)"},
	{"int under -2^31", b_int_under, NULL, "int -2147483649 does not fit"},
	{"true", b_true, "<value><boolean>1</boolean></value>\n", NULL},
	{"false", b_false, "<value><boolean>0</boolean></value>\n", NULL},
	{"double", b_double, "<value><double>2.5</double></value>\n", NULL},
	{"double, shortest form", b_double_tenth, "<value><double>0.1</double></value>\n", NULL},
	{"double with exponent", b_double_big, "<value><double>1e+300</double></value>\n", NULL},
	{"NaN", b_double_nan, NULL, "XML-RPC has no NaN or infinity"},
	{"infinity", b_double_inf, NULL, "double -inf cannot be sent"},
	{"string", b_string, "<value><string>hello world</string></value>\n", NULL},
	{"empty string", b_string_empty, "<value><string></string></value>\n", NULL},
	{"& < > escaped, quotes not", b_string_escapes,
	 "<value><string>a &amp; b &lt; c &gt; d \"q\" 'q'</string></value>\n", NULL},
	{"CR as a reference, LF and tab raw", b_string_cr,
	 "<value><string>line&#13;\nnext\ttab</string></value>\n", NULL},
	{"UTF-8 kept", b_string_utf8,
	 "<value><string>h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80</string></value>\n", NULL},
	{"control character refused", b_string_esc, NULL,
	 "param 1: string 'red \\x1b[31m': byte 5 is control character 0x1b, which XML 1.0 cannot carry"},
	{"NUL refused", b_string_nul, NULL, "byte 2 is control character 0x00"},
	{"invalid UTF-8 refused", b_string_bad_utf8, NULL, "byte 4 is not valid UTF-8"},
	{"overlong UTF-8 refused", b_string_overlong, NULL, "byte 1 is not valid UTF-8"},
	{"U+FFFE refused", b_string_fffe, NULL, "byte 2 is a noncharacter"},
	{"base64", b_base64, "<value><base64>aGVsbG8=</base64></value>\n", NULL},
	{"base64 of binary", b_base64_bin, "<value><base64>AP8QGw==</base64></value>\n", NULL},
	{"empty base64", b_base64_empty, "<value><base64></base64></value>\n", NULL},
	{"dateTime", b_datetime,
	 "<value><dateTime.iso8601>20261126T10:15:17</dateTime.iso8601></value>\n", NULL},
	{"empty array", b_array_empty, EMPTY_ARRAY, NULL},
	{"nested arrays", b_nested,
	 "<value><array><data>\n<value><int>1</int></value>\n<value><array><data>\n"
	 "<value><string>a</string></value>\n" EMPTY_ARRAY "</data></array></value>\n"
	 "</data></array></value>\n",
	 NULL},
	{"nested structs", b_struct,
	 "<value><struct>\n<member>\n<name>name</name>\n<value><string>x</string></value>\n"
	 "</member>\n<member>\n<name>sub</name>\n<value><struct>\n<member>\n<name>k</name>\n"
	 "<value><array><data>\n<value><boolean>1</boolean></value>\n</data></array></value>\n"
	 "</member>\n</struct></value>\n</member>\n</struct></value>\n",
	 NULL},
	{"member name escaped", b_struct_escaped_name,
	 "<value><struct>\n<member>\n<name>a&lt;b&amp;c</name>\n<value><int>1</int></value>\n"
	 "</member>\n</struct></value>\n",
	 NULL},
	{"unset array slot", b_unset_item, NULL, "param 1: item 2: a value that was never set"},
	{"unset struct slot", b_unset_member, NULL, "param 1: struct member 2 was never set"},
	{"bad text deep inside names its path", b_bad_member_value, NULL,
	 "param 1: member 'env': item 2: string 'bell\\x07': byte 5 is control character 0x07"},
	{"bad member name", b_bad_member_name, NULL, "byte 4 is control character 0x0b"},
	{"32 values deep", b_deep_ok, NULL, NULL},
	{"33 values deep", b_deep_over, NULL, "param 1: values nested deeper than 32"},
	{"a cycle ends at the depth limit", b_cycle, NULL, "param 1: values nested deeper than 32"},
	{"unknown type", b_unknown_type, NULL, "a value of unknown type 99"},
	{"NULL param", b_null, NULL, "param 1: a value that was never set"},
};

static void test_encode_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(encode_rows); i++) {
		const struct encode_row *r = &encode_rows[i];
		struct arena a = ARENA_INIT;
		struct buf out = BUF_INIT, want = BUF_INIT;
		struct error err = ERROR_INIT;
		struct xr_value *v = r->build(&a);
		int rc;

		buf_puts(&out, "before|");
		rc = xr_encode_call(&out, "supervisor.test", &v, 1, &err);
		if (r->msg) {
			if (rc != -1)
				fail_msg("%s: encoded, want an error with '%s'", r->name, r->msg);
			assert_contains(r->name, error_msg(&err), r->msg);
			/* nothing half-written */
			assert_string_equal(buf_cstr(&out), "before|");
		} else {
			if (rc != 0)
				fail_msg("%s: %s", r->name, error_msg(&err));
			if (r->xml) {
				buf_printf(&want,
					   "before|<?xml version=\"1.0\"?>\n<methodCall>\n"
					   "<methodName>supervisor.test</methodName>\n<params>\n"
					   "<param>\n%s</param>\n</params>\n</methodCall>\n",
					   r->xml);
				if (strcmp(buf_cstr(&out), buf_cstr(&want)))
					fail_msg("%s: got\n%s\nwant\n%s", r->name, buf_cstr(&out),
						 buf_cstr(&want));
			}
		}
		buf_release(&out);
		buf_release(&want);
		error_release(&err);
		arena_release(&a);
	}
}

static void test_encode_call(void **state)
{
	static const struct {
		const char *method;
		const char *msg;
	} names[] = {
		{"system.multicall", NULL},
		{"raptor.put_program:v2/x", NULL},
		{"", "an empty XML-RPC method name"},
		{"a b", "method name 'a b' has ' '"},
		{"x<y>", "has '<'"},
	};
	struct arena a = ARENA_INIT;
	struct xr_value *params[2] = {xr_string(&a, "web:web_1"), xr_int(&a, 0)};
	struct buf out = BUF_INIT;
	struct error err = ERROR_INIT;
	struct xr_value *big;
	char text[500];

	(void)state;
	assert_int_equal(xr_encode_call(&out, "supervisor.readProcessStdoutLog", params, 2, &err),
			 0);
	assert_string_equal(out.ptr,
			    "<?xml version=\"1.0\"?>\n<methodCall>\n"
			    "<methodName>supervisor.readProcessStdoutLog</methodName>\n"
			    "<params>\n"
			    "<param>\n<value><string>web:web_1</string></value>\n</param>\n"
			    "<param>\n<value><int>0</int></value>\n</param>\n"
			    "</params>\n</methodCall>\n");
	buf_reset(&out);
	assert_int_equal(xr_encode_call(&out, "supervisor.getState", NULL, 0, &err), 0);
	assert_string_equal(out.ptr, "<?xml version=\"1.0\"?>\n<methodCall>\n"
				     "<methodName>supervisor.getState</methodName>\n"
				     "<params>\n</params>\n</methodCall>\n");
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int rc;

		buf_reset(&out);
		rc = xr_encode_call(&out, names[i].method, NULL, 0, &err);
		if (!names[i].msg) {
			assert_int_equal(rc, 0);
			continue;
		}
		assert_int_equal(rc, -1);
		assert_contains(names[i].method, error_msg(&err), names[i].msg);
		assert_int_equal(out.len, 0);
	}
	buf_release(&out);

	/* the buffer's cap holds: refused whole, nothing left behind */
	buf_init(&out, 100);
	buf_puts(&out, "kept");
	assert_int_equal(xr_encode_call(&out, "supervisor.getState", params, 2, &err), -1);
	assert_string_equal(error_msg(&err),
			    "param 1: the XML-RPC message would grow past its cap of 100 bytes");
	assert_string_equal(buf_cstr(&out), "kept");
	buf_release(&out);

	/* overflowing deep inside says so once, without the path to where */
	buf_init(&out, 200);
	big = xr_array(&a, 1);
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	big->u.array.items[0] = xr_string(&a, text);
	assert_int_equal(xr_encode_call(&out, "supervisor.getState", &big, 1, &err), -1);
	assert_string_equal(error_msg(&err),
			    "param 1: the XML-RPC message would grow past its cap of 200 bytes");
	assert_int_equal(out.len, 0);
	buf_release(&out);
	error_release(&err);
	arena_release(&a);
}

/* ---- decoding ---- */

#define RESP(v)                                                                                    \
	"<?xml version='1.0'?>\n<methodResponse><params><param>" v                                 \
	"</param></params></methodResponse>"
#define VAL(v) RESP("<value>" v "</value>")

struct decode_row {
	const char *name;
	const char *body;
	const char *want; /* dump of the result, or NULL for an error */
	const char *msg;  /* in the error */
};

static const struct decode_row decode_rows[] = {
	/* every type, and the forms other servers send */
	{"int", VAL("<int>42</int>"), "42", NULL},
	{"i4", VAL("<i4>-7</i4>"), "-7", NULL},
	{"i8 past 32 bits", VAL("<i8>9223372036854775807</i8>"), "9223372036854775807", NULL},
	{"int64 min", VAL("<int>-9223372036854775808</int>"), "-9223372036854775808", NULL},
	{"explicit plus, leading zeros", VAL("<int>+007</int>"), "7", NULL},
	{"boolean 1", VAL("<boolean>1</boolean>"), "true", NULL},
	{"boolean 0", VAL("<boolean>0</boolean>"), "false", NULL},
	{"double", VAL("<double>2.5</double>"), "2.5d", NULL},
	{"double with exponent", VAL("<double>-1.5E3</double>"), "-1500d", NULL},
	{"string", VAL("<string>hello</string>"), "\"hello\"", NULL},
	{"whitespace inside <string> is data", VAL("<string>  two\n lines \t</string>"),
	 "\"  two\\n lines \\t\"", NULL},
	{"empty <string/>", VAL("<string/>"), "\"\"", NULL},
	{"untyped value is a string", VAL(" bare text "), "\" bare text \"", NULL},
	{"untyped blank value keeps its blanks", VAL("\n  "), "\"\\n  \"", NULL},
	{"empty <value/>", RESP("<value/>"), "\"\"", NULL},
	{"escapes and character references",
	 VAL("<string>&lt;&amp;&gt;&quot;&#65;&#x263A;</string>"), "\"<&>\"A\xe2\x98\xba\"", NULL},
	{"CR reference survives, raw CR becomes LF", VAL("<string>a&#13;b\r\nc\rd</string>"),
	 "\"a\\x0db\\nc\\nd\"", NULL},
	{"CDATA", VAL("<string><![CDATA[<a & b>]]> tail</string>"), "\"<a & b> tail\"", NULL},
	{"comments inside text are dropped", VAL("<string>a<!-- x -->b</string>"), "\"ab\"", NULL},
	{"base64 with line breaks", VAL("<base64>\naGVs\n bG8=\n</base64>"), "b64:68656c6c6f",
	 NULL},
	{"base64 of binary", VAL("<base64>AP8QGw==</base64>"), "b64:00ff101b", NULL},
	{"empty base64", VAL("<base64></base64>"), "b64:", NULL},
	{"dateTime kept as text", VAL("<dateTime.iso8601>20261126T10:15:17</dateTime.iso8601>"),
	 "dt:20261126T10:15:17", NULL},
	{"nil", VAL("<nil/>"), "nil", NULL},
	{"Apache's ex:nil",
	 VAL("<ex:nil xmlns:ex=\"http://ws.apache.org/xmlrpc/namespaces/extensions\"/>"), "nil",
	 NULL},
	{"empty array", VAL("<array><data/></array>"), "[]", NULL},
	{"nested arrays and structs",
	 VAL("<array><data><value><int>1</int></value><value><struct>"
	     "<member><name>k</name><value><array><data><value>s</value></data></array></value>"
	     "</member><member><value><boolean>0</boolean></value><name>reversed</name></member>"
	     "</struct></value></data></array>"),
	 "[1,{k:[\"s\"],reversed:false}]", NULL},
	{"empty struct", VAL("<struct></struct>"), "{}", NULL},
	{"items and members around nested ones",
	 VAL("<array><data><value><int>1</int></value><value><array><data><value><int>2</int>"
	     "</value><value><array><data/></array></value></data></array></value><value><struct>"
	     "<member><name>a</name><value><struct><member><name>a</name><value>x</value></member>"
	     "</struct></value></member><member><name>b</name><value><struct/></value></member>"
	     "</struct></value><value><int>3</int></value></data></array>"),
	 "[1,[2,[]],{a:{a:\"x\"},b:{}},3]", NULL},
	{"empty member name", VAL("<struct><member><name/><value>x</value></member></struct>"),
	 "{:\"x\"}", NULL},
	{"layout, comments and PIs between elements",
	 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->\n<methodResponse>\n <params>\n"
	 "  <?pi x?><param>\n   <value>\n    <int>3</int>\n   </value>\n  </param>\n </params>\n"
	 "</methodResponse>\n<!-- after -->\n",
	 "3", NULL},
	{"Latin-1 declared, UTF-8 out",
	 "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><methodResponse><params><param><value>"
	 "caf\xe9</value></param></params></methodResponse>",
	 "\"caf\xc3\xa9\"", NULL},
	{"a fault",
	 "<?xml version='1.0'?><methodResponse><fault><value><struct><member><name>faultCode</name>"
	 "<value><int>4</int></value></member><member><name>faultString</name><value><string>"
	 "Too many parameters</string></value></member></struct></value></fault></methodResponse>",
	 "fault 4 \"Too many parameters\"", NULL},

	/* malformed and hostile */
	{"empty body", "", NULL, "an empty body where an XML-RPC <methodResponse> was expected"},
	{"blank body", " \n", NULL,
	 "not well-formed XML at 2:1: Start tag expected, '<' not found"},
	{"unclosed", "<methodResponse><params>", NULL, "not well-formed XML at 1:"},
	{"mismatched tags", "<methodResponse>\n<params></param>\n</methodResponse>", NULL,
	 "not well-formed XML at 2:17: Opening and ending tag mismatch: params line 2 and param"},
	{"invalid UTF-8", VAL("<string>caf\xe9</string>"), NULL,
	 "Input is not proper UTF-8, indicate encoding ! Bytes: 0xE9"},
	{"control character reference", VAL("<string>&#27;</string>"), NULL, "not well-formed XML"},
	{"raw control character", VAL("<string>\x1b[0m</string>"), NULL, "PCDATA invalid Char"},
	{"undeclared entity", VAL("<string>&xxe;</string>"), NULL, "Entity 'xxe' not defined"},
	{"billion laughs",
	 "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
	 " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	 " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	 " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	 " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	 " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
	 " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
	 " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
	 " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
	 " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
	 "]>\n"
	 "<methodResponse><params><param><value><string>&lol9;</string></value></param>"
	 "</params></methodResponse>",
	 NULL, "line 2: a DOCTYPE, which is refused"},
	{"external entity",
	 "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
	 "<methodResponse><params><param><value><string>&xxe;</string></value></param></params>"
	 "</methodResponse>",
	 NULL, "a DOCTYPE, which is refused"},
	{"external DTD", "<!DOCTYPE methodResponse SYSTEM \"file:///etc/passwd\"><methodResponse/>",
	 NULL, "a DOCTYPE, which is refused"},
	{"HTML, well-formed", "<html><body>Error</body></html>", NULL,
	 "line 1: the document is <html>, not an XML-RPC <methodResponse>"},
	{"a methodCall", "<methodCall><methodName>x</methodName></methodCall>", NULL,
	 "not an XML-RPC <methodResponse>"},
	{"neither params nor fault", "<methodResponse>\n</methodResponse>", NULL,
	 "line 1: a <methodResponse> with neither <params> nor <fault>"},
	{"something else in methodResponse", "<methodResponse><result/></methodResponse>", NULL,
	 "unexpected <result> in a <methodResponse>: expected <params> or <fault>"},
	{"params and fault", "<methodResponse><params/><fault/></methodResponse>", NULL,
	 "<fault> after <params> in a <methodResponse>"},
	{"params and fault, whatever is wrong in the params",
	 "<methodResponse><params><param><value><int>x</int></value></param></params>\n<fault/>"
	 "</methodResponse>",
	 NULL, "line 2: <fault> after <params> in a <methodResponse>"},
	{"no param", "<methodResponse><params>\n</params></methodResponse>", NULL,
	 "a <params> with no <param>"},
	{"two params",
	 RESP("<value><int>1</int></value></param>\n<param><value><int>2</int></value>"), NULL,
	 "line 3: a second <param> in <params>: a response holds exactly one <param>"},
	{"param without value", RESP(""), NULL, "<param> is empty: expected a <value> inside"},
	{"param with two values", RESP("<value>a</value><value>b</value>"), NULL,
	 "<value> after the <value> inside <param>: expected only one"},
	{"text between elements", "<methodResponse>junk<params/></methodResponse>", NULL,
	 "text 'junk' inside <methodResponse>, where only elements belong"},
	{"text between elements, at the line it starts",
	 "<methodResponse>\n<params>\n\n junk &amp; more\n\n<param/></params></methodResponse>",
	 NULL, "line 4: text 'junk & more\\n\\n' inside <params>, where only elements belong"},
	{"unknown type", VAL("<float>1.5</float>"), NULL, "unknown XML-RPC type <float>"},
	{"namespaced type", VAL("<x:int xmlns:x=\"urn:x\">1</x:int>"), NULL,
	 "unknown XML-RPC type <x:int>"},
	{"type in a default namespace", VAL("<int xmlns=\"urn:x\">1</int>"), NULL,
	 "unknown XML-RPC type <int> in namespace 'urn:x'"},
	{"two types in a value", VAL("<int>1</int><string>a</string>"), NULL,
	 "a <value> holding both <int> and <string>"},
	{"text beside a type", VAL("x<int>1</int>"), NULL, "text 'x' beside <int> in a <value>"},
	{"element inside a string", VAL("<string>a<b>c</b></string>"), NULL,
	 "<b> inside <string>, which holds only text"},
	{"boolean 2", VAL("<boolean>2</boolean>"), NULL, "<boolean> holds '2': it must be 0 or 1"},
	{"boolean true", VAL("<boolean>true</boolean>"), NULL, "<boolean> holds 'true'"},
	{"boolean with blanks", VAL("<boolean> 1</boolean>"), NULL, "<boolean> holds ' 1'"},
	{"int 12x", VAL("<int>12x</int>"), NULL, "<int> holds '12x', not a decimal integer"},
	{"empty int", VAL("<int></int>"), NULL, "<int> holds '', not a decimal integer"},
	{"bare sign", VAL("<i4>-</i4>"), NULL, "not a decimal integer"},
	{"int with blanks", VAL("<int> 5</int>"), NULL, "not a decimal integer"},
	{"hex int", VAL("<int>0x10</int>"), NULL, "not a decimal integer"},
	{"int past int64", VAL("<i8>9223372036854775808</i8>"), NULL,
	 "<i8> holds '9223372036854775808', which does not fit 64 bits"},
	{"int below int64", VAL("<int>-9223372036854775809</int>"), NULL, "does not fit 64 bits"},
	{"huge int", VAL("<int>99999999999999999999999999</int>"), NULL, "does not fit 64 bits"},
	{"huge int with junk", VAL("<int>99999999999999999999999999x</int>"), NULL,
	 "not a decimal integer"},
	{"double 1.5x", VAL("<double>1.5x</double>"), NULL,
	 "<double> holds '1.5x', not a finite decimal number"},
	{"double nan", VAL("<double>nan</double>"), NULL, "not a finite decimal number"},
	{"double overflow", VAL("<double>1e999</double>"), NULL, "not a finite decimal number"},
	{"hex double", VAL("<double>0x1p3</double>"), NULL, "not a finite decimal number"},
	{"empty double", VAL("<double/>"), NULL, "not a finite decimal number"},
	{"bad base64 character", VAL("<base64>aGVs*G8=</base64>"), NULL,
	 "<base64> is not valid base64: a character outside the base64 alphabet"},
	{"base64 without padding", VAL("<base64>aGVsbG8</base64>"), NULL,
	 "not a whole number of 4-character groups"},
	{"base64 data after padding", VAL("<base64>aG==bG8=</base64>"), NULL,
	 "data after the '=' padding"},
	{"base64 three pads", VAL("<base64>a===</base64>"), NULL, "4-character groups"},
	{"nil with content", VAL("<nil>x</nil>"), NULL, "<nil> holds 'x': it must be empty"},
	{"array without data", VAL("<array></array>"), NULL, "<array> is empty"},
	{"array with two data", VAL("<array><data/><data/></array>"), NULL,
	 "<data> after the <data> inside <array>"},
	{"array item not a value", VAL("<array><data><int>1</int></data></array>"), NULL,
	 "unexpected <int> inside an array's <data>: expected <value>"},
	{"struct child not a member", VAL("<struct><name>a</name></struct>"), NULL,
	 "unexpected <name> inside <struct>: expected <member>"},
	{"struct member without value", VAL("<struct>\n<member><name>pid</name></member></struct>"),
	 NULL, "line 3: struct member 'pid' has no <value>"},
	{"struct member without name", VAL("<struct><member><value>1</value></member></struct>"),
	 NULL, "a struct <member> without a <name>"},
	{"struct member with two names",
	 VAL("<struct><member><name>a</name><name>b</name><value>1</value></member></struct>"),
	 NULL, "a struct <member> with two <name>s"},
	{"struct member with junk",
	 VAL("<struct><member><name>a</name><value>1</value><extra/></member></struct>"), NULL,
	 "unexpected <extra> inside a struct <member>"},
	{"element in a member name",
	 VAL("<struct><member><name><b>a</b></name><value>1</value></member></struct>"), NULL,
	 "<b> inside <name>"},
	{"a member twice",
	 VAL("<struct><member><name>pid</name><value><int>1</int></value></member>"
	     "<member><name>pid</name><value><int>2</int></value></member></struct>"),
	 NULL, "struct member 'pid' appears twice"},
	{"fault holding a string",
	 "<methodResponse><fault><value>oops</value></fault></methodResponse>", NULL,
	 "a <fault> holding a string, not a struct"},
	{"fault without faultCode",
	 "<methodResponse><fault><value><struct><member><name>faultString</name><value>x</value>"
	 "</member></struct></value></fault></methodResponse>",
	 NULL, "a <fault> without an int faultCode"},
	{"fault with a string code",
	 "<methodResponse><fault><value><struct><member><name>faultCode</name><value>10</value>"
	 "</member><member><name>faultString</name><value>x</value></member></struct></value>"
	 "</fault></methodResponse>",
	 NULL, "a <fault> without an int faultCode"},
	{"fault without faultString",
	 "<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int>"
	 "</value></member></struct></value></fault></methodResponse>",
	 NULL, "a <fault> without a string faultString"},
};

static void check_decode(const char *name, const char *body, size_t len, const char *want,
			 const char *msg)
{
	struct xr_response r;
	struct error err = ERROR_INIT;
	struct buf got = BUF_INIT;
	int rc = xr_parse_response(&r, body, len, &err);

	if (want) {
		if (rc != 0)
			fail_msg("%s: %s", name, error_msg(&err));
		dump_response(&got, &r);
		if (strcmp(buf_cstr(&got), want))
			fail_msg("%s: got %s, want %s", name, buf_cstr(&got), want);
	} else {
		if (rc != -1) {
			dump_response(&got, &r);
			fail_msg("%s: decoded %s, want an error with '%s'", name, buf_cstr(&got),
				 msg);
		}
		assert_contains(name, error_msg(&err), msg);
		/* left empty: nothing to free, nothing to misread */
		assert_null(r.value);
		assert_false(r.fault);
		assert_null(r.fault_string);
		assert_null(r.mem.head);
	}
	xr_response_release(&r);
	xr_response_release(&r); /* twice is harmless */
	buf_release(&got);
	error_release(&err);
}

static void test_decode(void **state)
{
	static const char nul[] = VAL("a\0b");

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(decode_rows); i++)
		check_decode(decode_rows[i].name, decode_rows[i].body, strlen(decode_rows[i].body),
			     decode_rows[i].want, decode_rows[i].msg);
	/* the one row strlen cannot carry */
	check_decode("NUL in the body", nul, sizeof(nul) - 1, NULL,
		     "Char 0x0 out of allowed range");
}

/* Generated bodies: nesting at and past the limit, a big struct, a body over the cap. */
static void nested(struct buf *b, int arrays)
{
	buf_puts(b, "<methodResponse><params><param>");
	for (int i = 0; i < arrays; i++)
		buf_puts(b, "<value><array><data>");
	buf_puts(b, "<value><int>1</int></value>");
	for (int i = 0; i < arrays; i++)
		buf_puts(b, "</data></array></value>");
	buf_puts(b, "</param></params></methodResponse>");
}

static void big_struct(struct buf *b, int members, const char *last)
{
	buf_puts(b, "<methodResponse><params><param><value><struct>");
	for (int i = 0; i < members; i++)
		buf_printf(b, "<member><name>m%d</name><value><int>%d</int></value></member>", i,
			   i);
	buf_printf(b, "<member><name>%s</name><value/></member>", last);
	buf_puts(b, "</struct></value></param></params></methodResponse>");
}

static void test_decode_generated(void **state)
{
	static const struct {
		const char *name;
		int arrays;  /* nested() depth, or -1 for big_struct */
		int members; /* big_struct */
		const char *last;
		const char *want, *msg;
	} rows[] = {
		{"32 values deep", XR_MAX_DEPTH - 1, 0, NULL,
		 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", NULL},
		{"33 values deep", XR_MAX_DEPTH, 0, NULL, NULL,
		 "line 1: values nested deeper than 32"},
		{"300 deep: libxml2's own limit first", 300, 0, NULL, NULL, "not well-formed XML"},
		{"a big struct", -1, 40, "other", "", NULL},
		{"a big struct naming a member twice", -1, 40, "m7", NULL,
		 "struct member 'm7' appears twice"},
	};
	struct buf body = BUF_INIT;
	char *huge;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		buf_reset(&body);
		if (rows[i].arrays >= 0)
			nested(&body, rows[i].arrays);
		else
			big_struct(&body, rows[i].members, rows[i].last);
		if (rows[i].want && !*rows[i].want) {
			struct xr_response r;
			struct error err = ERROR_INIT;
			int64_t n;

			assert_int_equal(xr_parse_response(&r, body.ptr, body.len, &err), 0);
			assert_int_equal(r.value->u.st.n, 41);
			assert_int_equal(xr_member_int(r.value, "m39", &n, &err), 0);
			assert_int_equal(n, 39);
			assert_non_null(xr_get(r.value, "other"));
			xr_response_release(&r);
			error_release(&err);
			continue;
		}
		check_decode(rows[i].name, body.ptr, body.len, rows[i].want, rows[i].msg);
	}
	buf_release(&body);

	/* over the cap: refused before libxml2 sees a byte */
	huge = malloc(XR_MAX_BODY + 1);
	assert_non_null(huge);
	memset(huge, ' ', XR_MAX_BODY + 1);
	check_decode("a body over the cap", huge, XR_MAX_BODY + 1, NULL,
		     "a 67108865-byte response, over the 67108864-byte limit");
	free(huge);
}

/* ---- entities are never loaded ---- */

static int loads;

static xmlParserInputPtr counting_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	loads++;
	return NULL;
}

static void test_no_entity_loading(void **state)
{
	static const char *const bodies[] = {
		"<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
		"<methodResponse><params><param><value>&xxe;</value></param></params></methodResponse>",
		"<!DOCTYPE r [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>"
		"<methodResponse><params><param><value>x</value></param></params></methodResponse>",
		"<!DOCTYPE methodResponse SYSTEM \"http://127.0.0.1:1/evil.dtd\">"
		"<methodResponse><params><param><value>x</value></param></params></methodResponse>",
		"<?xml version=\"1.0\"?>\n<!DOCTYPE r PUBLIC \"-//x//y\" \"file:///etc/passwd\">\n"
		"<methodResponse><params><param><value>x</value></param></params></methodResponse>",
	};
	xmlExternalEntityLoader saved = xmlGetExternalEntityLoader();
	xmlDocPtr doc;

	(void)state;
	xmlInitParser();
	xmlSetExternalEntityLoader(counting_loader);
	/* the check is live: libxml2 told to load entities does call the loader */
	loads = 0;
	doc = xmlReadMemory(bodies[0], (int)strlen(bodies[0]), NULL, NULL,
			    XML_PARSE_NOENT | XML_PARSE_DTDLOAD | XML_PARSE_NOERROR |
				    XML_PARSE_NOWARNING);
	xmlFreeDoc(doc);
	assert_true(loads > 0);

	loads = 0;
	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		struct xr_response r;
		struct error err = ERROR_INIT;

		assert_int_equal(xr_parse_response(&r, bodies[i], strlen(bodies[i]), &err), -1);
		assert_contains("xxe", error_msg(&err), "a DOCTYPE, which is refused");
		assert_null(strstr(error_msg(&err), "root:"));
		error_release(&err);
	}
	assert_int_equal(loads, 0);
	xmlSetExternalEntityLoader(saved);
}

/* ---- captured from a real supervisord 4.2.5 (data/xmlrpc/README.md) ---- */

static void check_process(const struct xr_value *p, const char *name, const char *statename,
			  int64_t state, bool running)
{
	struct error err = ERROR_INIT;
	const char *s;
	int64_t i, start, now;

	assert_int_equal(xr_member_string(p, "name", &s, &err), 0);
	assert_string_equal(s, name);
	assert_int_equal(xr_member_string(p, "group", &s, &err), 0);
	assert_string_equal(s, name);
	assert_int_equal(xr_member_string(p, "statename", &s, &err), 0);
	assert_string_equal(s, statename);
	assert_int_equal(xr_member_int(p, "state", &i, &err), 0);
	assert_int_equal(i, state);
	assert_int_equal(xr_member_int(p, "pid", &i, &err), 0);
	if (running)
		assert_true(i > 0);
	else
		assert_int_equal(i, 0);
	assert_int_equal(xr_member_int(p, "start", &start, &err), 0);
	assert_int_equal(xr_member_int(p, "now", &now, &err), 0);
	assert_true(start > 0 && start <= now);
	assert_int_equal(xr_member_string(p, "description", &s, &err), 0);
	if (running)
		assert_true(!strncmp(s, "pid ", 4));
	assert_int_equal(xr_member_string(p, "spawnerr", &s, &err), 0);
	assert_string_equal(s, running ? "" : "Exited too quickly (process log may have details)");
	assert_int_equal(p->u.st.n, 14);
	error_release(&err);
}

/* failer, noisy and sleeper, sorted by name as supervisord sends them */
static void check_processes(const struct xr_value *v)
{
	struct error err = ERROR_INIT;
	size_t n;

	assert_int_equal(xr_as_array(v, "getAllProcessInfo", &n, &err), 0);
	assert_int_equal(n, 3);
	check_process(v->u.array.items[0], "failer", "FATAL", 200, false);
	check_process(v->u.array.items[1], "noisy", "RUNNING", 20, true);
	check_process(v->u.array.items[2], "sleeper", "RUNNING", 20, true);
	assert_false(xr_is_fault(v->u.array.items[0], NULL, NULL));
	error_release(&err);
}

static void check_get_all_process_info(const struct xr_response *r)
{
	check_processes(r->value);
}

static void check_get_state(const struct xr_response *r)
{
	struct error err = ERROR_INIT;
	const char *s;
	int64_t code;

	assert_int_equal(xr_member_int(r->value, "statecode", &code, &err), 0);
	assert_int_equal(code, 1);
	assert_int_equal(xr_member_string(r->value, "statename", &s, &err), 0);
	assert_string_equal(s, "RUNNING");
	error_release(&err);
}

static void check_multicall(const struct xr_response *r)
{
	struct error err = ERROR_INIT;
	const char *msg, *s;
	size_t n;
	int code;

	assert_int_equal(xr_as_array(r->value, "system.multicall", &n, &err), 0);
	assert_int_equal(n, 3);
	/* unwrapped: the process list itself, not a one-element array */
	check_processes(r->value->u.array.items[0]);
	assert_true(xr_is_fault(r->value->u.array.items[1], &code, &msg));
	assert_int_equal(code, 10); /* BAD_NAME */
	assert_string_equal(msg, "BAD_NAME: nosuch");
	assert_false(xr_is_fault(r->value->u.array.items[2], &code, &msg));
	assert_int_equal(xr_as_string(r->value->u.array.items[2], "getAPIVersion", &s, &err), 0);
	assert_string_equal(s, "3.0");
	error_release(&err);
}

static void check_multicall_no_plugin(const struct xr_response *r)
{
	struct error err = ERROR_INIT;
	const char *msg;
	size_t n;
	int code;

	assert_int_equal(xr_as_array(r->value, "system.multicall", &n, &err), 0);
	assert_int_equal(n, 4);
	check_processes(r->value->u.array.items[0]);
	for (size_t i = 1; i < 4; i++) {
		assert_true(xr_is_fault(r->value->u.array.items[i], &code, &msg));
		assert_int_equal(code, 1); /* UNKNOWN_METHOD */
		assert_string_equal(msg, "UNKNOWN_METHOD");
	}
	error_release(&err);
}

static void check_config_info(const struct xr_response *r)
{
	struct error err = ERROR_INIT;
	const struct xr_value *failer, *codes;
	const char *s;
	int64_t i;
	size_t n;
	bool b;

	assert_int_equal(xr_as_array(r->value, "getAllConfigInfo", &n, &err), 0);
	assert_int_equal(n, 3);
	failer = r->value->u.array.items[0];
	assert_int_equal(failer->u.st.n, 29);
	assert_int_equal(xr_member_string(failer, "command", &s, &err), 0);
	assert_string_equal(s, "/bin/false");
	assert_int_equal(xr_as_bool(xr_get(failer, "autostart"), "autostart", &b, &err), 0);
	assert_true(b);
	assert_int_equal(xr_as_bool(xr_get(failer, "killasgroup"), "killasgroup", &b, &err), 0);
	assert_false(b);
	assert_int_equal(xr_member_int(failer, "startretries", &i, &err), 0);
	assert_int_equal(i, 0);
	assert_int_equal(xr_member_string(failer, "uid", &s, &err), 0);
	assert_string_equal(s, "none"); /* None goes as the string 'none' */
	codes = xr_get(failer, "exitcodes");
	assert_int_equal(xr_as_array(codes, "exitcodes", &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(xr_as_int(codes->u.array.items[0], "exit code", &i, &err), 0);
	assert_int_equal(i, 0);
	assert_null(xr_get(failer, "autorestart")); /* not in 4.2.5 */
	error_release(&err);
}

static void check_reload(const struct xr_response *r)
{
	struct buf b = BUF_INIT;

	dump(&b, r->value);
	assert_string_equal(b.ptr, "[[[],[],[]]]");
	buf_release(&b);
}

static void check_bad_name(const struct xr_response *r)
{
	assert_true(r->fault);
	assert_null(r->value);
	assert_int_equal(r->fault_code, 10);
	assert_string_equal(r->fault_string, "BAD_NAME: nosuch");
}

static void check_escaped_name(const struct xr_response *r)
{
	assert_true(r->fault);
	assert_int_equal(r->fault_code, 10);
	/* escaped back by supervisord; its raw CR reads as LF, as XML says */
	assert_string_equal(r->fault_string, "BAD_NAME: no<such>&name\n\t");
}

static void check_incorrect_parameters(const struct xr_response *r)
{
	assert_true(r->fault);
	assert_int_equal(r->fault_code, 2);
	assert_string_equal(r->fault_string, "INCORRECT_PARAMETERS");
}

struct captured_row {
	const char *file;
	void (*check)(const struct xr_response *r);
	bool same_bytes; /* re-encoding gives the file back byte for byte */
	const char *msg; /* decoding fails with this */
};

static const struct captured_row captured_rows[] = {
	{"getAllProcessInfo.xml", check_get_all_process_info, true, NULL},
	{"getState.xml", check_get_state, true, NULL},
	{"getAllConfigInfo.xml", check_config_info, true, NULL},
	{"reloadConfig.xml", check_reload, true, NULL},
	{"multicall.xml", check_multicall, true, NULL},
	{"multicall_no_plugin.xml", check_multicall_no_plugin, true, NULL},
	{"fault_bad_name.xml", check_bad_name, true, NULL},
	{"fault_incorrect_parameters.xml", check_incorrect_parameters, true, NULL},
	{"fault_escaped_name.xml", check_escaped_name, false, NULL},
	/* supervisord passes a log's ESC through; XML 1.0 cannot hold it */
	{"log_with_esc.xml", NULL, false,
	 "not well-formed XML at 5:20: PCDATA invalid Char value 27"},
	/* a 500 carries the medusa HTML page, not XML-RPC */
	{"http500.html", NULL, false, "not well-formed XML at"},
};

static void test_captured(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(captured_rows); i++) {
		const struct captured_row *c = &captured_rows[i];
		struct buf body = BUF_INIT, again = BUF_INIT;
		struct error err = ERROR_INIT;
		struct xr_response r;
		int rc;

		read_data(&body, c->file);
		assert_true(body.len > 0);
		rc = xr_parse_response(&r, body.ptr, body.len, &err);
		if (c->msg) {
			assert_int_equal(rc, -1);
			assert_contains(c->file, error_msg(&err), c->msg);
		} else {
			if (rc != 0)
				fail_msg("%s: %s", c->file, error_msg(&err));
			c->check(&r);
			if (r.fault)
				rc = xr_encode_fault(&again, r.fault_code, r.fault_string, &err);
			else
				rc = xr_encode_response(&again, r.value, &err);
			assert_int_equal(rc, 0);
			if (c->same_bytes && strcmp(buf_cstr(&again), buf_cstr(&body)))
				fail_msg("%s: re-encoded as\n%s", c->file, buf_cstr(&again));
		}
		xr_response_release(&r);
		buf_release(&body);
		buf_release(&again);
		error_release(&err);
	}
}

/* Everything the encoder can say, read back unchanged (a CR included). */
static void test_round_trip(void **state)
{
	struct arena a = ARENA_INIT;
	struct xr_value *st = xr_struct(&a, 9), *list = xr_array(&a, 3);
	struct buf out = BUF_INIT, got = BUF_INIT, want = BUF_INIT;
	struct error err = ERROR_INIT;
	struct xr_response r;

	(void)state;
	list->u.array.items[0] = xr_nil(&a);
	list->u.array.items[1] = xr_array(&a, 0);
	list->u.array.items[2] = xr_struct(&a, 0);
	xr_struct_set(st, 0, &a, "int", xr_int(&a, INT32_MIN));
	xr_struct_set(st, 1, &a, "bool", xr_bool(&a, true));
	xr_struct_set(st, 2, &a, "double", xr_double(&a, -0.125));
	xr_struct_set(st, 3, &a, "text", xr_string(&a, " <a href=\"x\">&amp;</a>\r\n\t\xc3\xa9 "));
	xr_struct_set(st, 4, &a, "bytes", xr_base64(&a, "\x00\x01\xfe\xff", 4));
	xr_struct_set(st, 5, &a, "when", b_datetime(&a));
	xr_struct_set(st, 6, &a, "list", list);
	xr_struct_set(st, 7, &a, "", xr_string(&a, ""));
	xr_struct_set(st, 8, &a, "a&b", xr_int(&a, 0));
	dump(&want, st);
	assert_int_equal(xr_encode_response(&out, st, &err), 0);
	assert_int_equal(xr_parse_response(&r, out.ptr, out.len, &err), 0);
	dump(&got, r.value);
	assert_string_equal(got.ptr, want.ptr);
	assert_string_equal(xr_get(r.value, "text")->u.str.ptr,
			    " <a href=\"x\">&amp;</a>\r\n\t\xc3\xa9 ");
	xr_response_release(&r);

	/* a fault encoded for a simulated host reads back as one */
	buf_reset(&out);
	assert_int_equal(xr_encode_fault(&out, 70, "NOT_RUNNING: web <1>", &err), 0);
	assert_int_equal(xr_parse_response(&r, out.ptr, out.len, &err), 0);
	assert_true(r.fault);
	assert_int_equal(r.fault_code, 70);
	assert_string_equal(r.fault_string, "NOT_RUNNING: web <1>");
	xr_response_release(&r);

	/* and an encoder refusal leaves the buffer as it was */
	buf_reset(&out);
	assert_int_equal(xr_encode_fault(&out, 1, "bad\x01", &err), -1);
	assert_contains("fault", error_msg(&err), "member 'faultString': string");
	assert_int_equal(out.len, 0);
	assert_int_equal(xr_encode_response(&out, xr_int(&a, INT64_MAX), &err), -1);
	assert_int_equal(out.len, 0);

	buf_release(&out);
	buf_release(&got);
	buf_release(&want);
	error_release(&err);
	arena_release(&a);
}

/* ---- accessors ---- */

enum op { AS_INT, AS_BOOL, AS_STRING, AS_ARRAY, MEMBER_INT, MEMBER_STRING };

struct accessor_row {
	const char *name;
	enum op op;
	const char *path; /* member of the sample struct, "" for the struct, NULL for nothing */
	const char *arg;  /* `what` for AS_*, the member name for MEMBER_* */
	const char *want; /* dump of the result, or NULL for an error */
	const char *msg;
};

static const struct accessor_row accessor_rows[] = {
	{"int", AS_INT, "pid", "pid", "5", NULL},
	{"bool", AS_BOOL, "flag", "flag", "true", NULL},
	{"string", AS_STRING, "name", "name", "\"web\"", NULL},
	{"array", AS_ARRAY, "list", "list", "2", NULL},
	{"member int", MEMBER_INT, "", "pid", "5", NULL},
	{"member string", MEMBER_STRING, "", "name", "\"web\"", NULL},
	{"int from a string", AS_INT, "name", "pid", NULL, "'pid': expected an int, got a string"},
	{"bool from an int", AS_BOOL, "pid", "autostart", NULL,
	 "'autostart': expected a boolean, got an int"},
	{"string from base64", AS_STRING, "blob", "text", NULL,
	 "'text': expected a string, got base64 data"},
	{"array from a struct", AS_ARRAY, "", "getAllProcessInfo", NULL,
	 "'getAllProcessInfo': expected an array, got a struct"},
	{"string from nil", AS_STRING, "none", "spawnerr", NULL,
	 "'spawnerr': expected a string, got nil"},
	{"int from a double", AS_INT, "ratio", "pid", NULL, "'pid': expected an int, got a double"},
	{"int from nothing", AS_INT, NULL, "pid", NULL, "'pid': expected an int, got nothing"},
	{"member int of the wrong type", MEMBER_INT, "", "name", NULL,
	 "'name': expected an int, got a string"},
	{"missing member", MEMBER_INT, "", "stop", NULL, "missing member 'stop'"},
	{"missing string member", MEMBER_STRING, "", "group", NULL, "missing member 'group'"},
	{"member of an array", MEMBER_STRING, "list", "name", NULL,
	 "expected a struct with member 'name', got an array"},
	{"member of nothing", MEMBER_INT, NULL, "pid", NULL,
	 "expected a struct with member 'pid', got nothing"},
};

static struct xr_value *sample(struct arena *a)
{
	struct xr_value *st = xr_struct(a, 7), *list = xr_array(a, 2);

	list->u.array.items[0] = xr_int(a, 1);
	list->u.array.items[1] = xr_int(a, 2);
	xr_struct_set(st, 0, a, "pid", xr_int(a, 5));
	xr_struct_set(st, 1, a, "name", xr_string(a, "web"));
	xr_struct_set(st, 2, a, "flag", xr_bool(a, true));
	xr_struct_set(st, 3, a, "list", list);
	xr_struct_set(st, 4, a, "blob", xr_base64(a, "x", 1));
	xr_struct_set(st, 5, a, "none", xr_nil(a));
	xr_struct_set(st, 6, a, "ratio", xr_double(a, 0.5));
	return st;
}

static void test_accessors(void **state)
{
	struct arena a = ARENA_INIT;
	struct xr_value *st = sample(&a);

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(accessor_rows); i++) {
		const struct accessor_row *r = &accessor_rows[i];
		const struct xr_value *v = !r->path ? NULL : *r->path ? xr_get(st, r->path) : st;
		struct error err = ERROR_INIT;
		struct buf got = BUF_INIT;
		const char *s = NULL;
		int64_t n = 0;
		size_t len = 0;
		bool b = false;
		int rc = -1;

		if (r->path && *r->path)
			assert_non_null(v);
		switch (r->op) {
		case AS_INT:
			rc = xr_as_int(v, r->arg, &n, &err);
			buf_printf(&got, "%lld", (long long)n);
			break;
		case AS_BOOL:
			rc = xr_as_bool(v, r->arg, &b, &err);
			buf_puts(&got, b ? "true" : "false");
			break;
		case AS_STRING:
			rc = xr_as_string(v, r->arg, &s, &err);
			buf_printf(&got, "\"%s\"", s ? s : "");
			break;
		case AS_ARRAY:
			rc = xr_as_array(v, r->arg, &len, &err);
			buf_printf(&got, "%zu", len);
			break;
		case MEMBER_INT:
			rc = xr_member_int(v, r->arg, &n, &err);
			buf_printf(&got, "%lld", (long long)n);
			break;
		case MEMBER_STRING:
			rc = xr_member_string(v, r->arg, &s, &err);
			buf_printf(&got, "\"%s\"", s ? s : "");
			break;
		}
		if (r->want) {
			if (rc != 0)
				fail_msg("%s: %s", r->name, error_msg(&err));
			assert_string_equal(got.ptr, r->want);
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(error_msg(&err), r->msg);
		}
		buf_release(&got);
		error_release(&err);
	}
	assert_null(xr_get(st, "absent"));
	assert_null(xr_get(xr_get(st, "list"), "pid"));
	assert_null(xr_get(NULL, "pid"));
	arena_release(&a);
}

static void test_is_fault(void **state)
{
	static const struct {
		const char *name;
		const char *body; /* the response's one value */
		bool fault;
		int code;
	} rows[] = {
		{"a fault",
		 VAL("<struct><member><name>faultCode</name><value><int>10</int></value>"
		     "</member><member><name>faultString</name><value>BAD_NAME: x</value>"
		     "</member></struct>"),
		 true, 10},
		{"members the other way round",
		 VAL("<struct><member><name>faultString</name><value>FAILED</value></member>"
		     "<member><name>faultCode</name><value><i4>30</i4></value></member></struct>"),
		 true, 30},
		{"a third member",
		 VAL("<struct><member><name>faultCode</name><value><int>10</int>"
		     "</value></member><member><name>faultString</name><value>x"
		     "</value></member><member><name>pid</name><value><int>1</int>"
		     "</value></member></struct>"),
		 false, 0},
		{"a string code",
		 VAL("<struct><member><name>faultCode</name><value>10</value>"
		     "</member><member><name>faultString</name><value>x</value>"
		     "</member></struct>"),
		 false, 0},
		{"a code past int",
		 VAL("<struct><member><name>faultCode</name><value><i8>4294967296"
		     "</i8></value></member><member><name>faultString</name>"
		     "<value>x</value></member></struct>"),
		 false, 0},
		{"only a code",
		 VAL("<struct><member><name>faultCode</name><value><int>1</int></value>"
		     "</member><member><name>faultStrin</name><value>x</value>"
		     "</member></struct>"),
		 false, 0},
		{"a string", VAL("<string>FAILED</string>"), false, 0},
		{"an array", VAL("<array><data/></array>"), false, 0},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct xr_response r;
		struct error err = ERROR_INIT;
		const char *msg = NULL;
		int code = -1;

		if (xr_parse_response(&r, rows[i].body, strlen(rows[i].body), &err) < 0)
			fail_msg("%s: %s", rows[i].name, error_msg(&err));
		if (xr_is_fault(r.value, &code, &msg) != rows[i].fault)
			fail_msg("%s: xr_is_fault is %d", rows[i].name, !rows[i].fault);
		if (rows[i].fault) {
			assert_int_equal(code, rows[i].code);
			assert_non_null(msg);
			/* code and msg are optional */
			assert_true(xr_is_fault(r.value, NULL, NULL));
		} else {
			assert_int_equal(code, -1);
			assert_null(msg);
		}
		xr_response_release(&r);
		error_release(&err);
	}
	assert_false(xr_is_fault(NULL, NULL, NULL));
}

static void test_constructors(void **state)
{
	static const struct {
		enum xr_type t;
		const char *name;
	} names[] = {
		{XR_NIL, "nil"},
		{XR_INT, "int"},
		{XR_BOOL, "boolean"},
		{XR_DOUBLE, "double"},
		{XR_STRING, "string"},
		{XR_BASE64, "base64"},
		{XR_DATETIME, "dateTime.iso8601"},
		{XR_ARRAY, "array"},
		{XR_STRUCT, "struct"},
	};
	struct arena a = ARENA_INIT;
	char src[] = "copied";
	struct xr_value *s = xr_string(&a, src), *n = xr_stringn(&a, "a\0b", 3);
	struct xr_value *b = xr_base64(&a, "\x00z", 2), *arr = xr_array(&a, 3),
			*st = xr_struct(&a, 2);

	(void)state;
	src[0] = 'X';
	assert_string_equal(s->u.str.ptr, "copied");
	assert_int_equal(s->u.str.len, 6);
	assert_int_equal(n->u.str.len, 3);
	assert_memory_equal(n->u.str.ptr, "a\0b", 4);
	assert_int_equal(b->type, XR_BASE64);
	assert_memory_equal(b->u.str.ptr, "\x00z\0", 3);
	assert_int_equal(arr->u.array.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_null(arr->u.array.items[i]);
	assert_int_equal(st->u.st.n, 2);
	assert_null(st->u.st.members[1].name);
	assert_null(st->u.st.members[1].value);
	xr_struct_set(st, 1, &a, src, xr_nil(&a));
	src[0] = 'Y';
	assert_string_equal(st->u.st.members[1].name, "Xopied");
	assert_int_equal(xr_int(&a, INT64_MIN)->u.i, INT64_MIN);
	assert_true(xr_bool(&a, true)->u.b);
	assert_true(xr_double(&a, 0.25)->u.d == 0.25);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		assert_string_equal(xr_type_name(names[i].t), names[i].name);
	arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constructors),	 cmocka_unit_test(test_encode_values),
		cmocka_unit_test(test_encode_call),	 cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_generated), cmocka_unit_test(test_no_entity_loading),
		cmocka_unit_test(test_captured),	 cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_accessors),	 cmocka_unit_test(test_is_fault),
	};
	return cmocka_run_group_tests_name("xmlrpc", tests, NULL, NULL);
}

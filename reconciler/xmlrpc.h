/*
 * XML-RPC values, and the codec between them and the bytes supervisord sends
 * and accepts (supervisor-notes.md §1-§2). The only user of libxml2.
 *
 * Encoding writes what supervisord's own parser reads: <int> only (it has no
 * <i8>, so an int outside 32 bits is an error rather than a silent cap), and
 * text that XML 1.0 can carry (a control character or invalid UTF-8 is an
 * error, not a request the server would choke on). The layout is Python's
 * xmlrpc.client layout, so a response encoded here for a simulated host is
 * byte-for-byte what a real supervisord sends.
 *
 * Decoding treats the body as hostile: no DTD (a DOCTYPE is refused before its
 * declarations are read, so no entity is ever expanded or fetched), no
 * network, bounded size and nesting, and every value checked against its
 * type. It accepts what other servers send too: <nil/>, <i4>, <i8>, an
 * untyped <value> (a string), CDATA, comments, <dateTime.iso8601> (kept as
 * text) and <base64> (decoded).
 */
#ifndef RAPTOR_XMLRPC_H
#define RAPTOR_XMLRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "error.h"

enum xr_type {
	XR_NIL,
	XR_INT,
	XR_BOOL,
	XR_DOUBLE,
	XR_STRING,
	XR_BASE64,
	XR_DATETIME,
	XR_ARRAY,
	XR_STRUCT
};

struct xr_value;

struct xr_member {
	const char *name;
	struct xr_value *value;
};

struct xr_value {
	enum xr_type type;
	union {
		int64_t i;
		bool b;
		double d;
		/* STRING, BASE64 (the decoded bytes), DATETIME (the text as sent);
		 * ptr is NUL-terminated, and len counts bytes without the NUL */
		struct {
			const char *ptr;
			size_t len;
		} str;
		struct {
			struct xr_value **items;
			size_t n;
		} array;
		struct {
			struct xr_member *members;
			size_t n;
		} st;
	} u;
};

/* Values live in an arena, whether built for a call or decoded from a response. */
struct xr_value *xr_nil(struct arena *a);
struct xr_value *xr_int(struct arena *a, int64_t i);
struct xr_value *xr_bool(struct arena *a, bool b);
struct xr_value *xr_double(struct arena *a, double d);
struct xr_value *xr_string(struct arena *a, const char *s); /* copies */
struct xr_value *xr_stringn(struct arena *a, const char *s, size_t n);
struct xr_value *xr_base64(struct arena *a, const void *data, size_t n);
struct xr_value *xr_array(struct arena *a, size_t n);  /* n NULL slots to fill */
struct xr_value *xr_struct(struct arena *a, size_t n); /* n member slots */
/* Fills member slot i (the name is copied); aborts if i is out of range. */
void xr_struct_set(struct xr_value *st, size_t i, struct arena *a, const char *name,
		   struct xr_value *v);

/*
 * Appends <?xml version="1.0"?><methodCall>... to `out`. Refused, with a
 * message naming where ("param 1: item 2: member 'name': ..."), and `out` left
 * as it was: an int outside int32, a NaN or infinite double, a string with a
 * control character XML 1.0 cannot hold or with invalid UTF-8, an unfilled
 * slot, nesting deeper than XR_MAX_DEPTH, a method name outside
 * [A-Za-z0-9_.:/], and growing `out` past its cap. A CR is sent as &#13;, since
 * a raw one would arrive as LF.
 */
int xr_encode_call(struct buf *out, const char *method, struct xr_value *const *params,
		   size_t nparams, struct error *err);
/* For the test fleet simulator: a methodResponse with one value, or a fault,
 * laid out as supervisord lays them out; the same refusals as above. */
int xr_encode_response(struct buf *out, const struct xr_value *v, struct error *err);
int xr_encode_fault(struct buf *out, int code, const char *msg, struct error *err);

struct xr_response {
	struct arena mem;
	struct xr_value *value; /* the one param, NULL on a fault */
	bool fault;
	int fault_code;
	const char *fault_string;
};

#define XR_MAX_DEPTH 32
#define XR_MAX_BODY  ((size_t)64 << 20)

/*
 * Decodes a methodResponse from untrusted bytes. Refused with a message (the
 * line, and libxml2's line:col for XML that is not well-formed): an empty
 * body, one over XR_MAX_BODY, a DOCTYPE, nesting past XR_MAX_DEPTH values, an
 * unknown type, an int that is not a whole decimal fitting int64, a boolean
 * other than 0 or 1, a double strtod does not read whole, bad base64, a
 * struct member without name or value, a struct naming a member twice, a
 * response with no param, two params, or neither params nor fault, and a fault
 * without an int faultCode and string faultString. On error *out is left empty
 * (xr_response_release is safe and does nothing).
 */
int xr_parse_response(struct xr_response *out, const char *body, size_t len, struct error *err);
/* libxml2's process-wide set-up: once, before responses are parsed on threads. */
void xr_init(void);
void xr_response_release(struct xr_response *r);

/* Typed accessors: each returns 0, or -1 with a message naming `what` and
 * what was found instead ("'pid': expected an int, got a string"). A NULL
 * value is "nothing", so xr_get's result can be passed straight in. */
const struct xr_value *xr_get(const struct xr_value *st, const char *name); /* NULL if absent or
									       not a struct */
int xr_as_int(const struct xr_value *v, const char *what, int64_t *out, struct error *err);
int xr_as_bool(const struct xr_value *v, const char *what, bool *out, struct error *err);
int xr_as_string(const struct xr_value *v, const char *what, const char **out, struct error *err);
int xr_as_array(const struct xr_value *v, const char *what, size_t *n, struct error *err);
/* "missing member 'pid'", or the accessor's message with `name` as what */
int xr_member_int(const struct xr_value *st, const char *name, int64_t *out, struct error *err);
int xr_member_string(const struct xr_value *st, const char *name, const char **out,
		     struct error *err);
/* A multicall element that is a fault: a struct of exactly an int faultCode
 * (fitting an int) and a string faultString. code and msg may be NULL. */
bool xr_is_fault(const struct xr_value *v, int *code, const char **msg);
/* "int", "boolean", "double", "string", "base64", "dateTime.iso8601",
 * "array", "struct", "nil": the XML-RPC tag names */
const char *xr_type_name(enum xr_type t);

#endif

/*
 * Fuzz target: the XML-RPC response decoder (xr_parse_response) on hostile
 * bytes, then what raptor does with an answer: the system.multicall
 * unwrapping of fleet.c (an array, each element a result or a fault) and the
 * typed accessors its readers use on getAllProcessInfo, listPrograms and
 * listeningPorts elements.
 *
 * Properties besides the sanitizers: every decoded string, base64 and
 * dateTime is NUL-terminated at its length; and a decoded value (or fault)
 * that the encoder accepts decodes back from the encoder's bytes to the same
 * value, since the fleet simulator answers through that encoder.
 *
 * fleet.c's own decoding of an answer (on_batch_done, decode_host and the
 * read_* functions) is static, so its steps are replayed here with the same
 * public calls in the same order.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "xmlrpc.h"
#include "banned.h"

static void walk(const struct xr_value *v, unsigned depth)
{
	FUZZ_CHECK(v != NULL, "a decoded value is NULL");
	FUZZ_CHECK(depth <= XR_MAX_DEPTH, "a value %u deep was decoded", depth);
	switch (v->type) {
	case XR_STRING:
	case XR_BASE64:
	case XR_DATETIME:
		FUZZ_CHECK(v->u.str.ptr && v->u.str.ptr[v->u.str.len] == '\0',
			   "a %s is not NUL-terminated at its length %zu", xr_type_name(v->type),
			   v->u.str.len);
		if (v->type != XR_BASE64)
			FUZZ_CHECK(strlen(v->u.str.ptr) == v->u.str.len,
				   "a %s holds a NUL before its length", xr_type_name(v->type));
		break;
	case XR_ARRAY:
		for (size_t i = 0; i < v->u.array.n; i++)
			walk(v->u.array.items[i], depth + 1);
		break;
	case XR_STRUCT:
		for (size_t i = 0; i < v->u.st.n; i++) {
			FUZZ_CHECK(v->u.st.members[i].name, "a struct member has no name");
			FUZZ_CHECK(xr_get(v, v->u.st.members[i].name) == v->u.st.members[i].value,
				   "member '%s' is there twice", v->u.st.members[i].name);
			walk(v->u.st.members[i].value, depth + 1);
		}
		break;
	case XR_NIL:
	case XR_INT:
	case XR_BOOL:
	case XR_DOUBLE:
		break;
	default:
		FUZZ_CHECK(0, "a value of unknown type %d", (int)v->type);
	}
}

static bool same(const struct xr_value *a, const struct xr_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case XR_NIL:
		return true;
	case XR_INT:
		return a->u.i == b->u.i;
	case XR_BOOL:
		return a->u.b == b->u.b;
	case XR_DOUBLE:
		return a->u.d == b->u.d;
	case XR_STRING:
	case XR_BASE64:
	case XR_DATETIME:
		return a->u.str.len == b->u.str.len &&
		       !memcmp(a->u.str.ptr, b->u.str.ptr, a->u.str.len);
	case XR_ARRAY:
		if (a->u.array.n != b->u.array.n)
			return false;
		for (size_t i = 0; i < a->u.array.n; i++)
			if (!same(a->u.array.items[i], b->u.array.items[i]))
				return false;
		return true;
	case XR_STRUCT:
		if (a->u.st.n != b->u.st.n)
			return false;
		for (size_t i = 0; i < a->u.st.n; i++)
			if (strcmp(a->u.st.members[i].name, b->u.st.members[i].name) ||
			    !same(a->u.st.members[i].value, b->u.st.members[i].value))
				return false;
		return true;
	}
	return false;
}

/* What fleet.c's readers ask of one element of a multicall answer. */
static void read_like_fleet(const struct xr_value *v)
{
	struct error err = ERROR_INIT;
	const char *s;
	int64_t n64;
	size_t n;
	bool b;

	if (xr_as_array(v, "getAllProcessInfo", &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			const struct xr_value *st = v->u.array.items[i], *meta = xr_get(st, "meta");

			/* read_processes, read_programs, read_ports */
			(void)(xr_member_string(st, "name", &s, &err) < 0 ||
			       xr_member_string(st, "group", &s, &err) < 0 ||
			       xr_member_string(st, "statename", &s, &err) < 0 ||
			       xr_member_int(st, "state", &n64, &err) < 0);
			(void)xr_get(st, "pid");
			(void)xr_get(st, "spawnerr");
			(void)xr_as_int(st, "a listening port", &n64, &err);
			if (meta && meta->type == XR_STRUCT)
				for (size_t j = 0; j < meta->u.st.n; j++)
					(void)xr_as_string(meta->u.st.members[j].value, "meta", &s,
							   &err);
		}
	}
	(void)xr_as_int(v, "raptor.getAPIVersion", &n64, &err);
	(void)xr_as_bool(v, "a boolean", &b, &err);
	(void)xr_as_string(v, "a string", &s, &err);
	error_release(&err);
}

/* Encodes `r` again (as the simulator would answer) and decodes that. */
static void round_trip(const struct xr_response *r)
{
	struct buf out = BUF_INIT;
	struct error err = ERROR_INIT;
	struct xr_response again;
	int rc;

	if (r->fault)
		rc = xr_encode_fault(&out, r->fault_code, r->fault_string, &err);
	else
		rc = xr_encode_response(&out, r->value, &err);
	if (rc == 0) {
		rc = xr_parse_response(&again, out.ptr, out.len, &err);
		FUZZ_CHECK(rc == 0, "the encoder's own bytes do not decode: %s\n%s",
			   error_msg(&err), buf_cstr(&out));
		FUZZ_CHECK(again.fault == r->fault, "a fault came back as a value or the reverse");
		if (r->fault)
			FUZZ_CHECK(again.fault_code == r->fault_code &&
					   !strcmp(again.fault_string, r->fault_string),
				   "fault %d '%s' came back as fault %d '%s'", r->fault_code,
				   r->fault_string, again.fault_code, again.fault_string);
		else
			FUZZ_CHECK(same(r->value, again.value),
				   "a value changed through the encoder:\n%s", buf_cstr(&out));
		xr_response_release(&again);
	}
	buf_release(&out);
	error_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xr_response r;
	struct error err = ERROR_INIT;
	size_t n;

	if (xr_parse_response(&r, (const char *)data, size, &err) < 0) {
		FUZZ_CHECK(!r.value && !r.fault, "a refused response left a value behind");
		FUZZ_CHECK(error_msg(&err)[0], "a refused response without a message");
		error_release(&err);
		xr_response_release(&r);
		return 0;
	}
	if (r.fault) {
		FUZZ_CHECK(r.fault_string && !r.value, "a fault without its string");
	} else {
		walk(r.value, 1);
		/* on_batch_done: a multicall answer is an array of results and faults */
		if (xr_as_array(r.value, "system.multicall", &n, &err) == 0) {
			for (size_t i = 0; i < n; i++) {
				const struct xr_value *v = r.value->u.array.items[i];
				const char *msg = NULL;
				int code = 0;

				if (xr_is_fault(v, &code, &msg))
					FUZZ_CHECK(msg != NULL, "a multicall fault without its text");
				else
					read_like_fleet(v);
			}
		}
		read_like_fleet(r.value);
	}
	round_trip(&r);
	error_release(&err);
	xr_response_release(&r);
	return 0;
}

/* The error type; see error.h. */
#include "error.h"

#include "banned.h"

int error_set(struct error *e, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&e->msg);
	va_start(ap, fmt);
	buf_vprintf(&e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int error_prefix(struct error *e, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, buf_cstr(&e->msg));
	buf_release(&e->msg);
	e->msg = b;
	return -1;
}

const char *error_msg(const struct error *e)
{
	return e->msg.len ? e->msg.ptr : "unknown error";
}

void error_release(struct error *e)
{
	buf_release(&e->msg);
}

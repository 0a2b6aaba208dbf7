/* Parsing and formatting program names; see progname.h. */
#include "progname.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "banned.h"

bool progname_ident_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.';
}

bool progname_version_char(unsigned char c)
{
	return progname_ident_char(c) || c == '+';
}

static bool field_ok(const char *s, size_t n, bool version)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(version ? progname_version_char(c) : progname_ident_char(c)))
			return false;
	}
	return true;
}

int progname_parse(struct progname *out, const char *name)
{
	const char *start[6];
	size_t len[6];
	const char *p = name;
	long port;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 6; i++) {
		const char *dash = strchr(p, '-');

		if ((i < 5) != (dash != NULL))
			return -1;
		start[i] = p;
		len[i] = dash ? (size_t)(dash - p) : strlen(p);
		p = dash ? dash + 1 : p + len[i];
	}
	for (int i = 0; i < 5; i++)
		if (!field_ok(start[i], len[i], i == 1))
			return -1;
	if (!len[5] || len[5] > 5)
		return -1;
	port = 0;
	for (size_t i = 0; i < len[5]; i++) {
		if (!isdigit((unsigned char)start[5][i]))
			return -1;
		port = port * 10 + (start[5][i] - '0');
	}
	if (port > 65535)
		return -1;
	out->app = xstrndup(start[0], len[0]);
	out->version = xstrndup(start[1], len[1]);
	out->config = xstrndup(start[2], len[2]);
	out->release = xstrndup(start[3], len[3]);
	out->proc = xstrndup(start[4], len[4]);
	out->port = (int)port;
	return 0;
}

void progname_release(struct progname *p)
{
	free(p->app);
	free(p->version);
	free(p->config);
	free(p->release);
	free(p->proc);
	memset(p, 0, sizeof(*p));
}

void progname_format(struct buf *out, const char *app, const char *version, const char *config,
		     const char *release, const char *proc, int port)
{
	const char *const part[] = {app, version, config, release, proc};
	char digits[12], *d = digits + sizeof(digits);
	unsigned n = port < 0 ? 0U - (unsigned)port : (unsigned)port;

	/* by hand, not printf: a rollout plan names every instance it starts,
	 * and vsnprintf was most of the planner's cost of naming one */
	for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++) {
		buf_puts(out, part[i]);
		buf_putc(out, '-');
	}
	do
		*--d = (char)('0' + n % 10);
	while ((n /= 10));
	if (port < 0)
		*--d = '-';
	buf_add(out, d, (size_t)(digits + sizeof(digits) - d));
}

int progname_port(const char *name)
{
	const char *p = name, *last = NULL;
	int dashes = 0;
	long port = 0;

	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '-') {
			if (p == name || p[-1] == '-')
				return -1;
			dashes++;
			last = p + 1;
		} else if (!(isalnum(c) || c == '_' || c == '.' || c == '+')) {
			return -1;
		}
	}
	if (dashes != 5 || !*last || strlen(last) > 5)
		return -1;
	for (p = last; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		port = port * 10 + (*p - '0');
	}
	return port > 65535 ? -1 : (int)port;
}

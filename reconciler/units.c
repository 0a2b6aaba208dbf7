/* Duration and size parsing; see units.h. */
#include "units.h"

#include <ctype.h>
#include <string.h>

#include "banned.h"

/* Reads the decimal digits at *p; -1 if there are none or they overflow. */
static int read_number(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return 0;
}

int duration_parse(uint64_t *out_ms, const char *s, struct error *err)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	const char *p = s;
	uint64_t total = 0;

	if (!*s)
		return error_set(err, "empty duration: write e.g. 500ms, 10s or 5m");
	if (*s == '-' || *s == '+')
		return error_set(err, "duration '%s' has a sign: durations are never negative", s);
	while (*p) {
		uint64_t n, mult = 0;
		size_t ulen = 0;
		int rc = read_number(&p, &n);

		if (rc == -2)
			return error_set(err, "duration '%s' is too large", s);
		if (rc < 0)
			return error_set(err, "'%s' is not a duration: write e.g. 500ms, 10s or 5m",
					 s);
		if (*p == '.')
			return error_set(
				err,
				"duration '%s' has a fraction: use a smaller unit (1500ms, not 1.5s)",
				s);
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].name);
			if (!strncmp(p, units[i].name, l) && l > ulen &&
			    !isalpha((unsigned char)p[l])) {
				mult = units[i].ms;
				ulen = l;
			}
		}
		if (!ulen) {
			if (!*p)
				return error_set(
					err, "duration '%s' has no unit: write %ss, %sms or %sm", s,
					s, s, s);
			return error_set(err,
					 "duration '%s' has an unknown unit: use ms, s, m or h", s);
		}
		if (n > (UINT64_MAX - total) / mult)
			return error_set(err, "duration '%s' is too large", s);
		total += n * mult;
		p += ulen;
	}
	*out_ms = total;
	return 0;
}

void duration_format(struct buf *out, uint64_t ms)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};

	if (!ms) {
		buf_puts(out, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms >= units[i].ms) {
			buf_printf(out, "%llu%s", (unsigned long long)(ms / units[i].ms),
				   units[i].name);
			ms %= units[i].ms;
		}
	}
}

int size_parse(uint64_t *out_bytes, const char *s, struct error *err)
{
	static const struct {
		const char *name;
		unsigned shift;
	} units[] = {{"", 0},	 {"B", 0},    {"K", 10}, {"KB", 10}, {"KiB", 10}, {"M", 20},
		     {"MB", 20}, {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}};
	const char *p = s;
	uint64_t n;
	int rc;

	if (!*s)
		return error_set(err, "empty size: write e.g. 512KiB or 4MiB");
	rc = read_number(&p, &n);
	if (rc == -2)
		return error_set(err, "size '%s' is too large", s);
	if (rc < 0)
		return error_set(err, "'%s' is not a size: write e.g. 512KiB or 4MiB", s);
	if (*p == '.')
		return error_set(err, "size '%s' has a fraction: use a smaller unit", s);
	while (*p == ' ')
		p++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(p, units[i].name)) {
			if (units[i].shift && n > (UINT64_MAX >> units[i].shift))
				return error_set(err, "size '%s' is too large", s);
			*out_bytes = n << units[i].shift;
			return 0;
		}
	}
	return error_set(err, "size '%s' has an unknown unit: use B, KiB, MiB or GiB", s);
}

void size_format(struct buf *out, uint64_t bytes)
{
	static const char *const names[] = {"KiB", "MiB", "GiB"};
	uint64_t unit = 1024;
	size_t i = 0;

	if (bytes < 1024) {
		buf_printf(out, "%llu byte%s", (unsigned long long)bytes, bytes == 1 ? "" : "s");
		return;
	}
	while (i + 1 < sizeof(names) / sizeof(names[0]) && bytes >= unit * 1024) {
		unit *= 1024;
		i++;
	}
	if (bytes % unit == 0)
		buf_printf(out, "%llu %s", (unsigned long long)(bytes / unit), names[i]);
	else
		buf_printf(out, "%.1f %s", (double)bytes / (double)unit, names[i]);
}

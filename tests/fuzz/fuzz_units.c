/*
 * Fuzz target: the duration and size parsers (units.h), both on every input,
 * as the loader hands them a YAML scalar; one target, since each is a few
 * lines and coverage feedback steers the input toward either.
 *
 * Properties besides the sanitizers: a refusal always says why; a parsed
 * duration formats to its shortest spelling, which parses back to the same
 * number of milliseconds, and is a fixed point of format(parse(.)); a parsed
 * size formats for messages without trouble.
 */
#include "fuzz.h"

#include "units.h"
#include "banned.h"

static void check_duration(const char *s)
{
	struct error err = ERROR_INIT;
	struct buf text = BUF_INIT, again = BUF_INIT;
	uint64_t ms = 0, ms2 = 0;

	if (duration_parse(&ms, s, &err) < 0) {
		FUZZ_CHECK(error_msg(&err)[0], "duration '%s' refused without a message", s);
	} else {
		duration_format(&text, ms);
		FUZZ_CHECK(duration_parse(&ms2, buf_cstr(&text), &err) == 0,
			   "'%s' is %llu ms, formatted '%s', which does not parse: %s", s,
			   (unsigned long long)ms, buf_cstr(&text), error_msg(&err));
		FUZZ_CHECK(ms == ms2, "'%s' is %llu ms, but its spelling '%s' is %llu ms", s,
			   (unsigned long long)ms, buf_cstr(&text), (unsigned long long)ms2);
		duration_format(&again, ms2);
		FUZZ_CHECK(!strcmp(buf_cstr(&text), buf_cstr(&again)),
			   "'%s' formats as '%s', and that as '%s'", s, buf_cstr(&text),
			   buf_cstr(&again));
	}
	buf_release(&text);
	buf_release(&again);
	error_release(&err);
}

static void check_size(const char *s)
{
	struct error err = ERROR_INIT;
	struct buf text = BUF_INIT;
	uint64_t bytes = 0;

	if (size_parse(&bytes, s, &err) < 0) {
		FUZZ_CHECK(error_msg(&err)[0], "size '%s' refused without a message", s);
	} else {
		size_format(&text, bytes);
		FUZZ_CHECK(text.len > 0, "size %llu formats as nothing", (unsigned long long)bytes);
	}
	buf_release(&text);
	error_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char *s = fuzz_cstr(data, n);

	if (!s)
		return -1;
	check_duration(s);
	check_size(s);
	free(s);
	return 0;
}

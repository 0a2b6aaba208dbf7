/* Terminal colour; see term.h. */
#include "term.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

bool term_wants_color(FILE *f)
{
	const char *term = getenv("TERM");
	const char *no = getenv("NO_COLOR");

	if (no && *no)
		return false;
	if (term && !strcmp(term, "dumb"))
		return false;
	return isatty(fileno(f));
}

const char *term_color(FILE *f, enum term_color c)
{
	static const char *const seq[] = {"\033[0m", "\033[31m", "\033[32m", "\033[33m", "\033[1m"};

	return term_wants_color(f) ? seq[c] : "";
}

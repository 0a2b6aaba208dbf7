/*
 * Fuzz target: the six-field program-name parser (progname_parse) and its
 * allocation-free twin (progname_port), on names as supervisord reports
 * them, which any program file on a host can set.
 *
 * Properties besides the sanitizers: the two agree on every name the full
 * parser accepts; every field it returns holds only its allowed characters;
 * and formatting the fields back gives a name that parses to the same
 * fields (the same text, but for leading zeros in the port).
 */
#include "fuzz.h"

#include "progname.h"
#include "banned.h"

static void check_field(const char *what, const char *s, bool version)
{
	FUZZ_CHECK(*s, "an empty %s", what);
	for (const char *p = s; *p; p++)
		FUZZ_CHECK(version ? progname_version_char((unsigned char)*p)
				   : progname_ident_char((unsigned char)*p),
			   "%s '%s' holds '%c'", what, s, *p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = fuzz_cstr(data, size);
	struct progname p, again;
	struct buf text = BUF_INIT;
	int port;

	if (!name)
		return -1;
	port = progname_port(name);
	FUZZ_CHECK(port >= -1 && port <= 65535, "progname_port gave %d", port);
	if (progname_parse(&p, name) == 0) {
		FUZZ_CHECK(p.port == port, "'%s': progname_parse reads port %d, progname_port %d",
			   name, p.port, port);
		check_field("app", p.app, false);
		check_field("version", p.version, true);
		check_field("config", p.config, false);
		check_field("release", p.release, false);
		check_field("proc", p.proc, false);
		progname_format(&text, p.app, p.version, p.config, p.release, p.proc, p.port);
		FUZZ_CHECK(progname_parse(&again, buf_cstr(&text)) == 0,
			   "'%s' parsed, but its fields formatted back, '%s', do not", name,
			   buf_cstr(&text));
		FUZZ_CHECK(!strcmp(p.app, again.app) && !strcmp(p.version, again.version) &&
				   !strcmp(p.config, again.config) &&
				   !strcmp(p.release, again.release) &&
				   !strcmp(p.proc, again.proc) && p.port == again.port,
			   "'%s' and '%s' parse differently", name, buf_cstr(&text));
		progname_release(&again);
		progname_release(&p);
	} else {
		FUZZ_CHECK(!p.app && !p.version && !p.config && !p.release && !p.proc,
			   "a refused name left fields allocated");
	}
	buf_release(&text);
	free(name);
	return 0;
}

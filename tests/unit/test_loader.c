/*
 * The desired-state loader and its semantic pass, one scenario a row: the
 * files of a repository in, the exact diagnostics out (file, line, column
 * and the words that matter). A row with no expected diagnostics must load.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desired_load.h"

struct want {
	const char *file;
	unsigned line, col;
	const char *text;  /* must appear in the message */
	const char *never; /* must not appear in any message (secrets) */
};

struct file {
	const char *path, *text;
};

struct row {
	const char *name;
	struct file files[3];
	struct want want[4];
};

/* lines 1-6 of most rows: a squad, a balancer, and the swarms key */
#define PRE                                                                                        \
	"squads:\n"                                                                                \
	"  web:\n"                                                                                 \
	"    hosts: [web1, web2]\n"                                                                \
	"balancers:\n"                                                                             \
	"  edge: {type: nginx, include_dir: /etc/nginx/raptor.d}\n"                                \
	"swarms:\n"
/* lines 7-11: a swarm's identity and version */
#define HEAD                                                                                       \
	"  - app: hello\n"                                                                         \
	"    version: \"1.0\"\n"                                                                   \
	"    config: prod\n"                                                                       \
	"    proc: web\n"                                                                          \
	"    squad: web\n"
#define SIZE "    size: 2\n"
#define CMD  "    command: /bin/hello --port ${PORT}\n"
/* lines 8-13 after an `app:` line of the row's own */
#define AFTER_APP "    version: \"1.0\"\n    config: prod\n    proc: web\n    squad: web\n" SIZE CMD

static const struct row rows[] = {
	{"valid", {{"a.yaml", PRE HEAD SIZE CMD}}, {{0}}},
	{"valid with every key",
	 {{"a.yaml",
	   "settings:\n"
	   "  supervisor: {port: 9002, path: /RPC2, scheme: https, credentials: env:SUP_AUTH}\n"
	   "  ports: {first: 6000, last: 6100}\n"
	   "  timeouts: {connect: 500ms, request: 1m30s}\n"
	   "  concurrency: 8\n"
	   "squads:\n"
	   "  web:\n"
	   "    hosts:\n"
	   "      - web1\n"
	   "      - {name: web2, address: 10.0.0.2, supervisor: https://web2:9443/RPC2}\n"
	   "      - {name: web3, address: 'fd00::3'}\n"
	   "    ports: {first: 7000, last: 7010}\n"
	   "    on_unreachable: wait\n"
	   "balancers:\n"
	   "  edge: {type: nginx, include_dir: /etc/nginx/raptor.d, test: [nginx, -t],\n"
	   "         reload: [nginx, -s, reload], drain: 500ms}\n"
	   "swarms:\n" HEAD SIZE CMD "    env: {GREETING: hi, URL: 'http://x/y?q=1&r=%7'}\n"
	   "    user: nobody\n"
	   "    directory: /apps/hello\n"
	   "    port: auto\n"
	   "    routing: {balancer: edge, pool: hello_prod}\n"
	   "    health: {tcp: true, http: /healthz, uptest: [/bin/true, [/bin/sh, -c, 'exit 0']],\n"
	   "             timeout: 30s}\n"
	   "    rollout: {max_surge: 1, max_unavailable: 50%}\n"}},
	 {{0}}},
	{"unknown key with a suggestion",
	 {{"a.yaml", PRE HEAD "    szie: 2\n" CMD}},
	 {{"a.yaml", 12, 5, "unknown key 'szie' in a swarm (did you mean 'size'?)"},
	  {"a.yaml", 7, 5, "swarm hello/prod/web@web is missing the required key 'size'"}}},
	{"unknown key without a close one lists the keys",
	 {{"a.yaml", PRE HEAD SIZE CMD "    replicas: 2\n"}},
	 {{"a.yaml", 14, 5, "unknown key 'replicas' in a swarm; known keys: app, version"}}},
	{"unknown top-level key",
	 {{"a.yaml", "swarm: []\n"}},
	 {{"a.yaml", 1, 1, "unknown key 'swarm' in the top level (did you mean 'swarms'?)"}}},
	{"a string for size",
	 {{"a.yaml", PRE HEAD "    size: three\n" CMD}},
	 {{"a.yaml", 12, 11,
	   "'size' must be a whole number from 0 to 10000, not the value 'three'"}}},
	{"a quoted number for size",
	 {{"a.yaml", PRE HEAD "    size: \"3\"\n" CMD}},
	 {{"a.yaml", 12, 11, "not the quoted string '3'"},
	  {"a.yaml", 12, 11, "write 3 without quotes"}}},
	{"negative size",
	 {{"a.yaml", PRE HEAD "    size: -1\n" CMD}},
	 {{"a.yaml", 12, 11, "'size' must be a whole number from 0 to 10000, not -1"}}},
	{"a mapping for size",
	 {{"a.yaml", PRE HEAD "    size: {n: 1}\n" CMD}},
	 {{"a.yaml", 12, 11, "not a mapping"}}},
	{"missing command names the field and the swarm",
	 {{"a.yaml", PRE HEAD SIZE}},
	 {{"a.yaml", 7, 5, "swarm hello/prod/web@web is missing the required key 'command'"}}},
	{"missing identity fields show as ?",
	 {{"a.yaml", PRE "  - app: hello\n    version: \"1\"\n    size: 1\n    command: /x\n"}},
	 {{"a.yaml", 7, 5, "swarm hello/?/?@? is missing the required key 'config'"},
	  {"a.yaml", 7, 5, "missing the required key 'proc'"},
	  {"a.yaml", 7, 5, "missing the required key 'squad'"}}},
	{"identifier with '-'",
	 {{"a.yaml", PRE "  - app: he-llo\n" AFTER_APP}},
	 {{"a.yaml", 7, 10,
	   "app 'he-llo' is not a valid identifier: '-' is not allowed; use letters, digits, '_' and '.' ('-' separates the fields of program names)"}}},
	{"identifier with a space",
	 {{"a.yaml", PRE "  - app: \"he llo\"\n" AFTER_APP}},
	 {{"a.yaml", 7, 10, "app 'he llo' is not a valid identifier: a space is not allowed"}}},
	{"identifier with '%'",
	 {{"a.yaml", PRE "  - app: he%llo\n" AFTER_APP}},
	 {{"a.yaml", 7, 10, "app 'he%llo' is not a valid identifier: '%' is not allowed"}}},
	{"identifier with a newline",
	 {{"a.yaml", PRE "  - app: \"he\\nllo\"\n" AFTER_APP}},
	 {{"a.yaml", 7, 10, "app 'he\\nllo' is not a valid identifier: a newline is not allowed"}}},
	{"identifier with ']'",
	 {{"a.yaml", PRE "  - app: \"he]llo\"\n" AFTER_APP}},
	 {{"a.yaml", 7, 10, "app 'he]llo' is not a valid identifier: ']' is not allowed"}}},
	{"squad name with '-'",
	 {{"a.yaml", "squads:\n  web-1:\n    hosts: [a]\n"}},
	 {{"a.yaml", 2, 3, "squad name 'web-1' is not a valid identifier: '-' is not allowed"}}},
	{"version with '-'",
	 {{"a.yaml", PRE "  - app: hello\n    version: 1.0-rc1\n    config: prod\n    proc: web\n"
			 "    squad: web\n" SIZE CMD}},
	 {{"a.yaml", 8, 14, "version '1.0-rc1' is not a valid version: '-' is not allowed"}}},
	{"duplicate swarm identity across two files names both places",
	 {{"a.yaml", PRE HEAD SIZE CMD},
	  {"sub/b.yaml", "swarms:\n  - app: hello\n    version: \"2.0\"\n    config: prod\n"
			 "    proc: web\n    squad: web\n    size: 1\n    command: /x\n"}},
	 {{"sub/b.yaml", 2, 5,
	   "swarm hello/prod/web@web is defined twice: here and at a.yaml:7:5"}}},
	{"a different proc is a different swarm",
	 {{"a.yaml", PRE HEAD SIZE CMD},
	  {"b.yaml",
	   "swarms:\n  - app: hello\n    version: \"2.0\"\n    config: prod\n"
	   "    proc: worker\n    squad: web\n    size: 1\n    command: /x\n    port: none\n"}},
	 {{0}}},
	{"unknown squad",
	 {{"a.yaml", PRE "  - app: hello\n    version: \"1.0\"\n    config: prod\n    proc: web\n"
			 "    squad: wbe\n" SIZE CMD}},
	 {{"a.yaml", 11, 12,
	   "swarm hello/prod/web@wbe names squad 'wbe', which is not defined (did you mean 'web'?)"}}},
	{"unknown balancer",
	 {{"a.yaml", PRE HEAD SIZE CMD "    routing: {balancer: edgy, pool: hello}\n"}},
	 {{"a.yaml", 14, 25,
	   "swarm hello/prod/web@web routes to balancer 'edgy', which is not defined (did you mean 'edge'?)"}}},
	{"a pool with no balancer",
	 {{"a.yaml", PRE HEAD SIZE CMD "    routing: {pool: hello}\n"}},
	 {{"a.yaml", 14, 14, "routing is missing the required key 'balancer'"}}},
	{"a worker cannot be routed",
	 {{"a.yaml", PRE HEAD SIZE "    command: /bin/worker\n    port: none\n"
				   "    routing: {balancer: edge, pool: hello}\n"}},
	 {{"a.yaml", 15, 14,
	   "swarm hello/prod/web@web is a worker (port: none) and cannot be routed"}}},
	{"a worker has no port to check or fill in",
	 {{"a.yaml", PRE HEAD SIZE CMD "    port: none\n    health: {tcp: true, http: /h}\n"}},
	 {{"a.yaml", 15, 19, "health.tcp has no port to connect to"},
	  {"a.yaml", 15, 31, "health.http has no port to ask"},
	  {"a.yaml", 13, 14, "is a worker (port: none) but its command uses ${PORT}"}}},
	{"one host in two squads",
	 {{"a.yaml",
	   "squads:\n  web:\n    hosts: [web1, web2]\n  api:\n    hosts:\n      - web2\n"}},
	 {{"a.yaml", 3, 19,
	   "host 'web2' is in two squads, 'api' and 'web' (also at a.yaml:6:9): a host belongs to one squad"}}},
	{"one host twice in a squad",
	 {{"a.yaml", "squads:\n  web:\n    hosts: [web1, web1]\n"}},
	 {{"a.yaml", 3, 19, "host 'web1' is listed twice in squad 'web' (also at a.yaml:3:13)"}}},
	{"a squad defined in two files",
	 {{"a.yaml", "squads:\n  web:\n    hosts: [web1]\n"},
	  {"b.yaml", "squads:\n  web:\n    hosts: [web2]\n"}},
	 {{"b.yaml", 2, 3, "squad 'web' is defined twice: here and at a.yaml:2:3"}}},
	{"a squad without hosts",
	 {{"a.yaml", "squads:\n  web:\n    hosts: []\n"}},
	 {{"a.yaml", 3, 12, "'hosts' is empty: a squad needs at least one host"}}},
	{"a squad that is not a mapping",
	 {{"a.yaml", "squads:\n  web: [a, b]\n"}},
	 {{"a.yaml", 2, 8, "a squad must be a mapping, not a list"}}},
	{"explicit tags decide the type",
	 {{"a.yaml", PRE HEAD "    size: !!int \"2\"\n    command: !!str 42\n"
			      "    health: {tcp: !!bool \"true\"}\n"}},
	 {{0}}},
	{"empty words in a command list",
	 {{"a.yaml", "balancers:\n  e: {type: nginx, include_dir: /x, test: [nginx, '']}\n"}},
	 {{"a.yaml", 2, 51, "test has an empty word"}}},
	{"settings.ports set by two files",
	 {{"a.yaml", "settings:\n  ports: {first: 1, last: 2}\n"},
	  {"b.yaml", "settings:\n  ports: {first: 1, last: 2}\n"}},
	 {{"b.yaml", 2, 11, "settings.ports 'first' is already set at a.yaml:2:11"},
	  {"b.yaml", 2, 21, "settings.ports 'last' is already set at a.yaml:2:21"}}},
	{"an empty file", {{"a.yaml", ""}}, {{"a.yaml", 1, 1, "file is empty"}}},
	{"a file of comments is empty",
	 {{"a.yaml", "# nothing yet\n"}},
	 {{"a.yaml", 1, 1, "file is empty"}}},
	{"a top level that is not a mapping",
	 {{"a.yaml", "- squads\n- swarms\n"}},
	 {{"a.yaml", 1, 1,
	   "the top level must be a mapping with settings, squads, balancers or swarms, not a list"}}},
	{"a scalar top level",
	 {{"a.yaml", "hello\n"}},
	 {{"a.yaml", 1, 1, "not the value 'hello'"}}},
	{"invalid UTF-8",
	 {{"a.yaml", "squads:\n  w\xff"
		     "b:\n    hosts: [a]\n"}},
	 {{"a.yaml", 2, 4, "invalid UTF-8 (byte 0xff): desired-state files must be UTF-8"}}},
	{"a YAML syntax error has libyaml's position",
	 {{"a.yaml", "squads:\n  web:\n    hosts: [a, b\n  api: {}\n"}},
	 {{"a.yaml", 4, 6,
	   "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at 3:12)"}}},
	{"a tab for indentation",
	 {{"a.yaml", "squads:\n\tweb:\n"}},
	 {{"a.yaml", 2, 1, "YAML syntax error: found character that cannot start any token"}}},
	{"a second document",
	 {{"a.yaml", "squads: {}\n---\nswarms: []\n"}},
	 {{"a.yaml", 2, 1, "a second YAML document"}}},
	{"billion laughs is refused at once",
	 {{"a.yaml", "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		     "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		     "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		     "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n"}},
	 {{"a.yaml", 4, 36,
	   "alias '*c' expands to 1111 nodes: at most 10000 nodes may come from aliases in one file"}}},
	{"an alias to an unknown anchor",
	 {{"a.yaml", "squads: *nope\n"}},
	 {{"a.yaml", 1, 9, "alias '*nope' names no anchor defined before it"}}},
	{"aliases within bounds are fine",
	 {{"a.yaml", "squads:\n  web:\n    hosts: &h [web1, web2]\n"
		     "balancers:\n  edge: {type: nginx, include_dir: /etc/x}\n"
		     "swarms:\n" HEAD SIZE CMD "    env: &env {A: b}\n"
		     "  - app: hello\n    version: \"1.0\"\n    config: prod\n    proc: api\n"
		     "    squad: web\n    size: 1\n    command: /x\n    env: *env\n"}},
	 {{0}}},
	{"YAML merge keys are refused",
	 {{"a.yaml", PRE HEAD SIZE CMD "    <<: {user: nobody}\n"}},
	 {{"a.yaml", 14, 5, "unknown key '<<' in a swarm (YAML merge keys are not supported)"}}},
	{"bad durations",
	 {{"a.yaml", PRE HEAD SIZE CMD "    health: {timeout: 10}\n"},
	  {"b.yaml", "balancers:\n  e2: {type: nginx, include_dir: /x, drain: 1.5s}\n"
		     "settings:\n  timeouts: {connect: -1s, request: 0s}\n"}},
	 {{"a.yaml", 14, 23, "'timeout': duration '10' has no unit: write 10s, 10ms or 10m"},
	  {"b.yaml", 2, 45, "'drain': duration '1.5s' has a fraction: use a smaller unit"},
	  {"b.yaml", 4, 23, "'connect': duration '-1s' has a sign"},
	  {"b.yaml", 4, 37, "'request' must be from 1ms to 1h, not 0s"}}},
	{"good durations",
	 {{"a.yaml", PRE HEAD SIZE CMD "    health: {timeout: 1m30s}\n"},
	  {"b.yaml", "balancers:\n  e2: {type: nginx, include_dir: /x, drain: 0s}\n"
		     "settings:\n  timeouts: {connect: 500ms, request: 1h}\n"}},
	 {{0}}},
	{"a settings key set by two files",
	 {{"a.yaml", "settings:\n  concurrency: 8\n  supervisor: {port: 9001}\n"},
	  {"b.yaml", "settings:\n  concurrency: 9\n  supervisor: {path: /RPC2}\n"}},
	 {{"b.yaml", 2, 3,
	   "settings 'concurrency' is already set at a.yaml:2:3: one file at most sets each settings key"}}},
	{"a nested settings key set by two files",
	 {{"a.yaml", "settings:\n  supervisor: {port: 9001}\n"},
	  {"b.yaml", "settings:\n  supervisor:\n    port: 9002\n"}},
	 {{"b.yaml", 3, 5, "settings.supervisor 'port' is already set at a.yaml:2:16"}}},
	{"duplicate key in one mapping",
	 {{"a.yaml", PRE HEAD SIZE CMD "    size: 3\n"}},
	 {{"a.yaml", 14, 5, "duplicate key 'size' in a swarm (first at line 12, column 5)"}}},
	{"env values supervisord would mangle",
	 {{"a.yaml",
	   PRE HEAD SIZE CMD "    env: {PORT: '1', A: 'x\"y', B: 'a #b', C: 'back\\slash'}\n"}},
	 {{"a.yaml", 14, 11, "env 'PORT' is set by raptor for every instance"},
	  {"a.yaml", 14, 25, "env A contains '\"'"},
	  {"a.yaml", 14, 35, "env B contains whitespace followed by '#'"},
	  {"a.yaml", 14, 46, "env C contains '\\'"}}},
	{"more env values",
	 {{"a.yaml", PRE HEAD SIZE CMD "    env: {D: \"'q'\", E: , 1X: y}\n"}},
	 {{"a.yaml", 14, 14, "env D starts or ends with a single quote"},
	  {"a.yaml", 14, 24, "env 'E' has no value"},
	  {"a.yaml", 14, 26, "env name '1X' starts with a digit"}}},
	{"commands supervisord would mangle",
	 {{"a.yaml", PRE HEAD SIZE "    command: /bin/hello --port ${PROT}\n"},
	  {"b.yaml",
	   "swarms:\n  - {app: a, version: '1', config: c, proc: p, squad: web, size: 1,\n"
	   "     command: \"/bin/x ;y\"}\n"}},
	 {{"a.yaml", 13, 14,
	   "command uses ${PROT}: the only placeholders are ${PORT}, ${HOST} and ${ADDRESS} (did you mean ${PORT}?)"},
	  {"b.yaml", 3, 15, "command contains whitespace followed by ';'"}}},
	{"what supervisord would cut or expand",
	 {{"a.yaml",
	   PRE HEAD SIZE "    command: \"/bin/x \\u00a0;y\"\n"
			 "    env: {A: 'p %(here)s q'}\n    directory: \"/srv/a\\u3000#b\"\n"}},
	 {{"a.yaml", 13, 14, "command contains whitespace followed by ';'"},
	  {"a.yaml", 14, 14, "env A contains %(here)s"},
	  {"a.yaml", 15, 16, "directory contains whitespace followed by '#'"}}},
	{"credentials are references, never secrets",
	 {{"a.yaml", "settings:\n  supervisor:\n    credentials: hunter2\n"
		     "squads:\n  web:\n    hosts:\n"
		     "      - {name: w1, supervisor: 'http://admin:s3cret@w1:9001/RPC2'}\n"}},
	 {{"a.yaml", 3, 18, "credentials must be a reference, env:VARIABLE or file:/path/to/file",
	   "hunter2"},
	  {"a.yaml", 7, 32, "supervisor holds a user name or password", "s3cret"}}},
	{"unix scheme needs a socket",
	 {{"a.yaml", "settings:\n  supervisor: {scheme: unix}\n"}},
	 {{"a.yaml", 2, 24, "scheme is unix but no socket is set"}}},
	{"a socket needs the unix scheme",
	 {{"a.yaml", "settings:\n  supervisor: {socket: /run/s.sock}\n"}},
	 {{"a.yaml", 2, 24, "socket is set but scheme is not unix"}}},
	{"enums suggest",
	 {{"a.yaml", "squads:\n  web: {hosts: [a], on_unreachable: replce}\n"
		     "balancers:\n  e: {type: haproxy, include_dir: /x}\n"}},
	 {{"a.yaml", 2, 37,
	   "'on_unreachable' must be one of replace or wait, not the value 'replce' (did you mean 'replace'?)"},
	  {"a.yaml", 4, 13, "'type' must be one of nginx, not the value 'haproxy'"}}},
	{"port ranges",
	 {{"a.yaml", "settings:\n  ports: {first: 6000, last: 5000}\n"
		     "squads:\n  web: {hosts: [a], ports: {first: 70000, last: 1}}\n"}},
	 {{"a.yaml", 2, 10, "settings.ports: first (6000) is after last (5000)"},
	  {"a.yaml", 4, 36, "'first' must be a whole number from 1 to 65535, not 70000"}}},
	{"rollout amounts",
	 {{"a.yaml", PRE HEAD SIZE CMD "    rollout: {max_surge: 0, max_unavailable: 150%}\n"}},
	 {{"a.yaml", 14, 26,
	   "'max_surge' must be a count from 1 or a percentage from 1% to 100%, not 0"},
	  {"a.yaml", 14, 46,
	   "'max_unavailable' must be a count from 0 or a percentage from 0% to 100%, not the value '150%'"}}},
	{"booleans are true or false",
	 {{"a.yaml", PRE HEAD SIZE CMD "    health: {tcp: yes}\n"}},
	 {{"a.yaml", 14, 19, "'tcp' must be true or false, not the value 'yes'"}}},
	{"hosts and addresses",
	 {{"a.yaml", "squads:\n  web:\n    hosts:\n      - 'bad host'\n"
		     "      - {name: ok1, address: 'fd00::zz'}\n      - {address: 10.0.0.1}\n"
		     "      - {name: ok2, supervisor: 'ftp://x'}\n"}},
	 {{"a.yaml", 4, 9, "host 'bad host' is not a valid host name: a space is not allowed"},
	  {"a.yaml", 5, 30, "address 'fd00::zz' is not a valid IPv6 address"},
	  {"a.yaml", 6, 9, "a host is missing the required key 'name'"},
	  {"a.yaml", 7, 33, "supervisor must be an http:// or https:// URL"}}},
	{"placeholders other than PORT, HOST and ADDRESS",
	 {{"a.yaml", PRE HEAD SIZE "    command: /bin/x --host ${HOST} --at ${ADDRESS} ${WHAT}\n"}},
	 {{"a.yaml", 13, 14, "command uses ${WHAT}: the only placeholders are"}}},
	{"every error of a run is reported",
	 {{"a.yaml", PRE "  - app: he-llo\n    version: \"1\"\n    config: prod\n    proc: web\n"
			 "    squad: nope\n    size: -3\n    command: /x\n"},
	  {"b.yaml", "settings: {concurrency: 0}\n"}},
	 {{"a.yaml", 7, 10, "app 'he-llo'"},
	  {"a.yaml", 11, 12, "names squad 'nope'"},
	  {"a.yaml", 12, 11, "not -3"},
	  {"b.yaml", 1, 25, "'concurrency' must be a whole number from 1 to 1024, not 0"}}},
};

static void load_files(struct desired *d, struct diags *diags, const struct file *files)
{
	struct source src;

	source_init(&src);
	src.root = strdup("test");
	for (size_t i = 0; i < 3 && files[i].path; i++)
		source_add(&src, files[i].path, files[i].text, strlen(files[i].text));
	source_sort(&src);
	diags_init(diags, 0);
	desired_load(d, &src, diags);
	source_release(&src);
}

/* Loads one file of `len` bytes (data may be NULL past the size cap). */
static int load_text(struct desired *d, struct diags *diags, const char *path, const char *data,
		     size_t len)
{
	struct source src;
	int rc;

	source_init(&src);
	src.root = strdup("test");
	source_add(&src, path, data, len);
	diags_init(diags, 0);
	rc = desired_load(d, &src, diags);
	source_release(&src);
	return rc;
}

static size_t count_wants(const struct row *r)
{
	size_t n = 0;

	while (n < ARRAY_SIZE(r->want) && r->want[n].file)
		n++;
	return n;
}

static void print_diags(const struct diags *diags)
{
	for (size_t i = 0; i < diags->items.n; i++)
		print_message("    got %s:%u:%u: %s\n", diags->items.v[i].file,
			      diags->items.v[i].line, diags->items.v[i].col, diags->items.v[i].msg);
}

static void test_rows(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];
		size_t nwant = count_wants(r);
		struct desired d;
		struct diags diags;
		bool ok = true;

		load_files(&d, &diags, r->files);
		if (diags_count(&diags) != nwant) {
			print_message("row '%s': %zu diagnostics, want %zu\n", r->name,
				      diags_count(&diags), nwant);
			ok = false;
		}
		for (size_t w = 0; w < nwant; w++) {
			const struct want *want = &r->want[w];
			bool found = false;

			for (size_t g = 0; g < diags.items.n; g++) {
				const struct diag *got = &diags.items.v[g];

				if (want->never && strstr(got->msg, want->never)) {
					print_message("row '%s': a message shows '%s': %s\n",
						      r->name, want->never, got->msg);
					ok = false;
				}
				if (!strcmp(got->file, want->file) && got->line == want->line &&
				    got->col == want->col && strstr(got->msg, want->text))
					found = true;
			}
			if (!found) {
				print_message("row '%s': missing %s:%u:%u: ...%s...\n", r->name,
					      want->file, want->line, want->col, want->text);
				ok = false;
			}
		}
		if (!ok) {
			print_diags(&diags);
			failures++;
		}
		diags_release(&diags);
		desired_release(&d);
	}
	assert_int_equal(failures, 0);
}

static void dump_files(struct buf *out, const struct file *files)
{
	struct desired d;
	struct diags diags;

	load_files(&d, &diags, files);
	if (diags_count(&diags))
		print_diags(&diags);
	assert_int_equal(diags_count(&diags), 0);
	desired_dump(out, &d);
	diags_release(&diags);
	desired_release(&d);
}

#define SWARM_X                                                                                    \
	"  - {app: x, version: '1', config: c, proc: web, squad: web, size: 2, command: /x}\n"
#define SWARM_Y                                                                                    \
	"  - app: y\n    version: '2'\n    config: c\n    proc: worker\n    squad: web\n"          \
	"    size: 1\n    command: /y\n    port: none\n    env: {B: '2', A: '1'}\n"
#define SWARM_Y_REORDERED                                                                          \
	"  - env: {A: '1', B: '2'}\n    port: none\n    command: /y\n    size: 1\n"                \
	"    squad: web\n    proc: worker\n    config: c\n    version: '2'\n    app: y\n"

static void test_moving_a_swarm_changes_nothing(void **state)
{
	const struct file one[3] = {{"a.yaml", PRE SWARM_X SWARM_Y}};
	const struct file two[3] = {{"a.yaml", PRE SWARM_Y_REORDERED},
				    {"z/b.yml", "swarms:\n" SWARM_X}};
	struct buf a = BUF_INIT, b = BUF_INIT;

	(void)state;
	dump_files(&a, one);
	dump_files(&b, two);
	assert_non_null(strstr(a.ptr, "swarm x/c/web@web"));
	assert_non_null(strstr(a.ptr, "env A=1\n  env B=2"));
	assert_string_equal(a.ptr, b.ptr);
	buf_release(&a);
	buf_release(&b);
}

static void test_defaults(void **state)
{
	const struct file files[3] = {{"a.yaml", PRE HEAD SIZE CMD}};
	struct desired d;
	struct diags diags;
	const struct swarm *s;
	const struct squad *q;

	(void)state;
	load_files(&d, &diags, files);
	assert_int_equal(diags_count(&diags), 0);
	assert_int_equal(d.settings.supervisor.port, 9001);
	assert_string_equal(d.settings.supervisor.path, "/RPC2");
	assert_int_equal(d.settings.timeouts.connect_ms, 2000);
	assert_int_equal(d.settings.timeouts.request_ms, 10000);
	assert_int_equal(d.settings.concurrency, 64);
	q = desired_squad(&d, "web");
	assert_non_null(q);
	assert_int_equal(q->ports.first, 5000);
	assert_int_equal(q->ports.last, 5999);
	assert_int_equal(q->on_unreachable, ON_UNREACHABLE_REPLACE);
	assert_string_equal(q->hosts[1].address, "web2");
	assert_string_equal(q->hosts[1].url, "http://web2:9001/RPC2");
	assert_int_equal(d.balancers.v[0].drain_ms, 2000);
	assert_string_equal(d.balancers.v[0].reload.v[1], "-s");
	s = &d.swarms.v[0];
	assert_string_equal(s->identity, "hello/prod/web@web");
	assert_int_equal(s->port, PORT_AUTO);
	assert_false(s->routed);
	assert_int_equal(s->health.timeout_ms, 60000);
	assert_int_equal(s->rollout.max_surge.value, 100);
	assert_true(s->rollout.max_surge.percent);
	assert_int_equal(s->rollout.max_unavailable.value, 0);
	diags_release(&diags);
	desired_release(&d);
}

static void test_oversized_file(void **state)
{
	struct desired d;
	struct diags diags;

	(void)state;
	assert_int_equal(
		load_text(&d, &diags, "big.yaml", NULL, SOURCE_MAX_FILE + (SOURCE_MAX_FILE / 8)),
		-1);
	assert_int_equal(diags_count(&diags), 1);
	assert_string_equal(diags.items.v[0].file, "big.yaml");
	assert_int_equal(diags.items.v[0].line, 1);
	assert_string_equal(diags.items.v[0].msg,
			    "file is 4.5 MiB: desired-state files are limited to 4 MiB");
	diags_release(&diags);
	desired_release(&d);
}

/* Loads generated YAML that must fail with exactly one diagnostic. */
static void expect_one(struct buf *yaml, unsigned line, const char *text)
{
	struct desired d;
	struct diags diags;

	assert_int_equal(load_text(&d, &diags, "a.yaml", yaml->ptr, yaml->len), -1);
	assert_int_equal(diags_count(&diags), 1);
	if (!strstr(diags.items.v[0].msg, text))
		fail_msg("got '%s', want '%s'", diags.items.v[0].msg, text);
	assert_int_equal(diags.items.v[0].line, line);
	diags_release(&diags);
	desired_release(&d);
	buf_release(yaml);
}

static void test_error_cap(void **state)
{
	struct buf yaml = BUF_INIT;
	struct desired d;
	struct diags diags;

	(void)state;
	buf_puts(&yaml, "swarms:\n");
	for (int i = 0; i < 150; i++)
		buf_printf(&yaml,
			   "  - {app: a%d, version: '1', config: c, proc: p, squad: s,"
			   " size: 1, command: /x, szie: 1}\n",
			   i);
	assert_int_equal(load_text(&d, &diags, "many.yaml", yaml.ptr, yaml.len), -1);
	/* 150 unknown keys and 150 unknown squads: the first 100 kept, all counted */
	assert_int_equal(diags.items.n, DIAGS_MAX_DEFAULT);
	assert_int_equal(diags_count(&diags), 300);
	diags_release(&diags);
	desired_release(&d);
	buf_release(&yaml);
}

static void test_too_many_aliases(void **state)
{
	struct buf yaml = BUF_INIT;

	(void)state;
	buf_puts(&yaml, "x: &a v\nl: [");
	for (int i = 0; i < 101; i++)
		buf_printf(&yaml, "%s*a", i ? ", " : "");
	buf_puts(&yaml, "]\n");
	expect_one(&yaml, 2, "more than 100 aliases in one file");
}

static void test_deep_nesting(void **state)
{
	struct buf yaml = BUF_INIT;

	(void)state;
	buf_puts(&yaml, "squads: ");
	for (int i = 0; i < 100; i++)
		buf_putc(&yaml, '[');
	expect_one(&yaml, 1, "nesting deeper than 64 levels");
}

static void test_no_files(void **state)
{
	struct source src;
	struct desired d;
	struct diags diags;

	(void)state;
	source_init(&src);
	src.root = strdup("empty-dir");
	diags_init(&diags, 0);
	assert_int_equal(desired_load(&d, &src, &diags), -1);
	assert_string_equal(diags.items.v[0].msg, "no *.yaml or *.yml files found");
	assert_string_equal(diags.items.v[0].file, "empty-dir");
	diags_release(&diags);
	desired_release(&d);
	source_release(&src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_moving_a_swarm_changes_nothing),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_oversized_file),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_too_many_aliases),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_no_files),
	};
	return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}

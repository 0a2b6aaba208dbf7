/*
 * The release hash and the program file text (release.c, progtext.c): what
 * a release is made of, and that no value can reach supervisord changed,
 * cut short, %-interpolated or spilling into a line of its own.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progtext.h"
#include "release.h"

/* ---- fixtures: built by hand, as the loader would ---- */

static struct env_var web_env[] = {{(char *)"GREETING", (char *)"hi"}};

static struct swarm web_swarm(void)
{
	struct swarm s = {
		.app = (char *)"hello",
		.version = (char *)"1.4.2",
		.config = (char *)"prod",
		.proc = (char *)"web",
		.squad = (char *)"web",
		.size = 3,
		.command = (char *)"/apps/hello/bin/web --port ${PORT}",
		.env = web_env,
		.nenv = 1,
		.user = (char *)"nobody",
		.directory = (char *)"/apps/hello",
		.port = PORT_AUTO,
		.routed = true,
		.routing = {.balancer = (char *)"edge", .pool = (char *)"hello_prod"},
		.health = {.tcp = true, .http = (char *)"/healthz", .timeout_ms = 60000},
		.rollout = {.max_surge = {100, true}, .max_unavailable = {0, false}},
		.identity = (char *)"hello/prod/web@web",
	};
	return s;
}

static struct swarm worker_swarm(void)
{
	struct swarm s = {
		.app = (char *)"hello",
		.version = (char *)"1.4.2",
		.config = (char *)"prod",
		.proc = (char *)"worker",
		.squad = (char *)"jobs",
		.size = 2,
		.command = (char *)"/apps/hello/bin/worker --host ${HOST} --address ${ADDRESS} -q",
		.port = PORT_NONE,
		.identity = (char *)"hello/prod/worker@jobs",
	};
	return s;
}

static struct instance_spec web_spec(const struct swarm *s)
{
	struct instance_spec in = {
		.swarm = s,
		.release = "1a2b3c4d",
		.host = "web1",
		.address = "10.0.0.1",
		.port = 5001,
		.pool = "edge/hello_prod",
		.commit = "abc",
		.created = "2026-11-26T10:00:00Z",
	};
	return in;
}

static struct instance_spec worker_spec(const struct swarm *s)
{
	struct instance_spec in = {
		.swarm = s,
		.release = "deadbeef",
		.host = "job1.example.com",
		.address = "10.0.1.7",
		.slot = 2,
		.created = "2026-11-26T10:00:00Z",
	};
	return in;
}

static void hash_of(char out[RELEASE_HEX + 1], const struct swarm *s)
{
	release_hash(out, s);
	assert_int_equal(strlen(out), RELEASE_HEX);
	assert_int_equal(strspn(out, "0123456789abcdef"), RELEASE_HEX);
}

/* Renders, checks what every good text has, and returns it (free it). */
static char *render_ok(const struct instance_spec *in)
{
	struct buf out = BUF_INIT;
	struct error err = ERROR_INIT;
	size_t brackets = 0;

	if (progtext_render(&out, in, &err) != 0) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", error_msg(&err));
		error_release(&err);
		buf_release(&out);
		fail_msg("render failed: %s", msg);
	}
	error_release(&err);
	assert_int_equal(strlen(out.ptr), out.len); /* no NUL inside */
	assert_true(out.len > 0 && out.ptr[out.len - 1] == '\n');
	assert_null(strchr(out.ptr, '\r'));
	for (const char *line = out.ptr; *line; line = strchr(line, '\n') + 1)
		brackets += *line == '[';
	assert_int_equal(brackets, 1); /* exactly one section */
	return buf_detach(&out);
}

/* ---- SHA-256 ---- */

static void test_sha256(void **state)
{
	static const struct {
		const char *in;
		size_t repeat; /* `in` is one byte repeated this often when > 0 */
		const char *hex;
	} rows[] = {
		{"", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", 0, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		/* the padding's edges: 55 bytes fit one block, 56 need two */
		{"a", 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
		{"a", 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
		{"a", 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
		{"a", 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
		{"a", 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
		{"a", 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
		{"a", 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
		{"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		size_t len = rows[i].repeat ? rows[i].repeat : strlen(rows[i].in);
		char *data = malloc(len + 1), hex[65];
		uint8_t d[32];

		if (rows[i].repeat)
			memset(data, rows[i].in[0], len);
		else
			memcpy(data, rows[i].in, len);
		release_sha256(d, data, len);
		for (int j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", d[j]);
		if (strcmp(hex, rows[i].hex))
			fail_msg("row %zu (%zu bytes): %s", i, len, hex);
		free(data);
	}
}

/* ---- the release hash ---- */

static void test_release_text(void **state)
{
	struct swarm s = web_swarm(), w = worker_swarm();
	struct buf b = BUF_INIT;

	(void)state;
	release_text(&b, &s);
	assert_string_equal(b.ptr, "raptor-release 1\n"
				   "app 5:hello\n"
				   "version 5:1.4.2\n"
				   "config 4:prod\n"
				   "command 34:/apps/hello/bin/web --port ${PORT}\n"
				   "env 8:GREETING 2:hi\n"
				   "user 6:nobody\n"
				   "directory 11:/apps/hello\n"
				   "port 4:auto\n");
	buf_reset(&b);
	release_text(&b, &w);
	assert_string_equal(
		b.ptr, "raptor-release 1\n"
		       "app 5:hello\n"
		       "version 5:1.4.2\n"
		       "config 4:prod\n"
		       "command 61:/apps/hello/bin/worker --host ${HOST} --address ${ADDRESS} -q\n"
		       "user -\n"
		       "directory -\n"
		       "port 4:none\n");
	buf_release(&b);
}

/* Fixed values, so a change of algorithm or serialization shows (it would
 * rename every release and redeploy every swarm). Each is the first 8 hex
 * digits of `sha256sum` of the text in test_release_text. */
static void test_release_fixed(void **state)
{
	struct swarm s = web_swarm(), w = worker_swarm();
	char h[RELEASE_HEX + 1];

	(void)state;
	hash_of(h, &s);
	assert_string_equal(h, "71986005");
	hash_of(h, &w);
	assert_string_equal(h, "467135fd");
}

static void test_release_env_order(void **state)
{
	struct env_var sorted[] = {
		{(char *)"A", (char *)"1"}, {(char *)"B", (char *)"2"}, {(char *)"C", (char *)"3"}};
	struct env_var shuffled[] = {
		{(char *)"C", (char *)"3"}, {(char *)"A", (char *)"1"}, {(char *)"B", (char *)"2"}};
	struct swarm s = web_swarm(), t = web_swarm();
	char h1[RELEASE_HEX + 1], h2[RELEASE_HEX + 1];

	(void)state;
	s.env = sorted;
	s.nenv = 3;
	t.env = shuffled;
	t.nenv = 3;
	hash_of(h1, &s);
	hash_of(h2, &t);
	assert_string_equal(h1, h2);
	/* a copy was sorted, not the model */
	assert_string_equal(shuffled[0].name, "C");
	assert_string_equal(shuffled[1].name, "A");
}

static struct env_var env_b[] = {{(char *)"GREETING", (char *)"hello"}};
static struct env_var env_c[] = {{(char *)"GREETINGS", (char *)"hi"}};
static struct env_var env_d[] = {{(char *)"GREETING", (char *)"hi"}, {(char *)"X", (char *)""}};
/* a name and value that run together the same way as GREETING=hi */
static struct env_var env_e[] = {{(char *)"GREETIN", (char *)"Ghi"}};
static struct uptest_argv {
	char *v[1];
} uptest_argv = {{(char *)"/bin/true"}};
static struct strv uptests[] = {{uptest_argv.v, 1}};

static void m_app(struct swarm *s)
{
	s->app = (char *)"hallo";
}
static void m_version(struct swarm *s)
{
	s->version = (char *)"1.4.3";
}
static void m_config(struct swarm *s)
{
	s->config = (char *)"europe";
}
static void m_command(struct swarm *s)
{
	s->command = (char *)"/apps/hello/bin/web --port ${PORT} -v";
}
static void m_env_value(struct swarm *s)
{
	s->env = env_b;
}
static void m_env_name(struct swarm *s)
{
	s->env = env_c;
}
static void m_env_added(struct swarm *s)
{
	s->env = env_d;
	s->nenv = 2;
}
static void m_env_removed(struct swarm *s)
{
	s->nenv = 0;
}
static void m_env_boundary(struct swarm *s)
{
	s->env = env_e;
}
static void m_user(struct swarm *s)
{
	s->user = (char *)"www";
}
static void m_user_unset(struct swarm *s)
{
	s->user = NULL;
}
static void m_user_empty(struct swarm *s)
{
	s->user = (char *)"";
}
static void m_directory(struct swarm *s)
{
	s->directory = (char *)"/apps/hello2";
}
static void m_directory_unset(struct swarm *s)
{
	s->directory = NULL;
}
static void m_port_mode(struct swarm *s)
{
	s->port = PORT_NONE;
	s->command = (char *)"/apps/hello/bin/web";
}
static void m_command_same_as_port_none(struct swarm *s)
{
	s->command = (char *)"/apps/hello/bin/web";
}
static void m_size(struct swarm *s)
{
	s->size = 0;
}
static void m_squad(struct swarm *s)
{
	s->squad = (char *)"edge";
	s->identity = (char *)"hello/prod/web@edge";
}
static void m_routing(struct swarm *s)
{
	s->routing.pool = (char *)"other";
	s->routing.balancer = (char *)"lb2";
}
static void m_unrouted(struct swarm *s)
{
	s->routed = false;
	s->routing.balancer = s->routing.pool = NULL;
}
static void m_health(struct swarm *s)
{
	s->health.tcp = false;
	s->health.http = (char *)"/ready";
	s->health.uptests = uptests;
	s->health.nuptests = 1;
	s->health.timeout_ms = 5000;
}
static void m_rollout(struct swarm *s)
{
	s->rollout.max_surge = (struct amount){1, false};
	s->rollout.max_unavailable = (struct amount){25, true};
}
static void m_positions(struct swarm *s)
{
	s->pos = (struct pos){"other.yaml", 7, 3};
	s->command_pos = (struct pos){"other.yaml", 9, 5};
}

static void test_release_changes(void **state)
{
	static const struct {
		const char *what;
		void (*mutate)(struct swarm *s);
		bool changes;
	} rows[] = {
		{"app", m_app, true},
		{"version", m_version, true},
		{"config", m_config, true},
		{"command", m_command, true},
		{"env value", m_env_value, true},
		{"env name", m_env_name, true},
		{"env added", m_env_added, true},
		{"env removed", m_env_removed, true},
		{"env name/value boundary", m_env_boundary, true},
		{"user", m_user, true},
		{"user unset", m_user_unset, true},
		{"user empty", m_user_empty, true},
		{"directory", m_directory, true},
		{"directory unset", m_directory_unset, true},
		{"size", m_size, false},
		{"squad", m_squad, false},
		{"routing", m_routing, false},
		{"routing removed", m_unrouted, false},
		{"health", m_health, false},
		{"rollout", m_rollout, false},
		{"positions", m_positions, false},
	};
	struct swarm base = web_swarm(), s, t;
	char h0[RELEASE_HEX + 1], h[RELEASE_HEX + 1];

	(void)state;
	hash_of(h0, &base);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		s = web_swarm();
		rows[i].mutate(&s);
		hash_of(h, &s);
		if (rows[i].changes != (strcmp(h, h0) != 0))
			fail_msg("%s: release %s, was %s", rows[i].what, h, h0);
	}
	/* the port mode alone: same command, auto vs none */
	s = web_swarm();
	m_command_same_as_port_none(&s);
	t = web_swarm();
	m_port_mode(&t);
	hash_of(h0, &s);
	hash_of(h, &t);
	assert_string_not_equal(h, h0);
	/* user unset and user empty differ from each other too */
	s = web_swarm();
	m_user_unset(&s);
	t = web_swarm();
	m_user_empty(&t);
	hash_of(h0, &s);
	hash_of(h, &t);
	assert_string_not_equal(h, h0);
}

/* ---- names ---- */

static void test_names(void **state)
{
	struct swarm s = web_swarm(), w = worker_swarm();
	struct instance_spec a = web_spec(&s), b = worker_spec(&w);
	struct buf n = BUF_INIT;

	(void)state;
	progtext_name(&n, &a);
	assert_string_equal(n.ptr, "hello-1.4.2-prod-1a2b3c4d-web-5001");
	buf_reset(&n);
	progtext_name(&n, &b);
	assert_string_equal(n.ptr, "hello-1.4.2-prod-deadbeef-worker-2");
	buf_release(&n);
}

/* ---- whole texts ---- */

static void test_render_web(void **state)
{
	struct swarm s = web_swarm();
	struct instance_spec in = web_spec(&s);
	char *text;

	(void)state;
	text = render_ok(&in);
	assert_string_equal(
		text,
		";raptor: app=hello version=1.4.2 config=prod proc=web squad=web release=1a2b3c4d port=5001 slot= host=web1 pool=edge/hello_prod commit=abc created=2026-11-26T10:00:00Z\n"
		"[program:hello-1.4.2-prod-1a2b3c4d-web-5001]\n"
		"command=/apps/hello/bin/web --port 5001\n"
		"directory=/apps/hello\n"
		"user=nobody\n"
		"environment=ADDRESS=\"10.0.0.1\",APP=\"hello\",CONFIG=\"prod\",GREETING=\"hi\",HOST=\"web1\",PORT=\"5001\",PROC=\"web\",RELEASE=\"1a2b3c4d\",VERSION=\"1.4.2\"\n"
		"autostart=true\n"
		"autorestart=true\n"
		"startsecs=1\n"
		"startretries=3\n"
		"stopasgroup=true\n"
		"killasgroup=true\n"
		"stopwaitsecs=10\n"
		"stdout_logfile=AUTO\n"
		"stderr_logfile=AUTO\n");
	free(text);
}

static void test_render_worker(void **state)
{
	struct swarm w = worker_swarm();
	struct instance_spec in = worker_spec(&w);
	struct buf out = BUF_INIT;
	struct error err = ERROR_INIT;
	char *text;

	(void)state;
	text = render_ok(&in);
	assert_string_equal(
		text,
		";raptor: app=hello version=1.4.2 config=prod proc=worker squad=jobs release=deadbeef port= slot=2 host=job1.example.com pool= commit= created=2026-11-26T10:00:00Z\n"
		"[program:hello-1.4.2-prod-deadbeef-worker-2]\n"
		"command=/apps/hello/bin/worker --host job1.example.com --address 10.0.1.7 -q\n"
		"environment=ADDRESS=\"10.0.1.7\",APP=\"hello\",CONFIG=\"prod\",HOST=\"job1.example.com\",PROC=\"worker\",RELEASE=\"deadbeef\",VERSION=\"1.4.2\"\n"
		"autostart=true\n"
		"autorestart=true\n"
		"startsecs=1\n"
		"startretries=3\n"
		"stopasgroup=true\n"
		"killasgroup=true\n"
		"stopwaitsecs=10\n"
		"stdout_logfile=AUTO\n"
		"stderr_logfile=AUTO\n");
	/* it appends to what the buffer holds */
	buf_puts(&out, "before\n");
	assert_int_equal(progtext_render(&out, &in, &err), 0);
	assert_int_equal(strncmp(out.ptr, "before\n;raptor: ", 16), 0);
	assert_string_equal(out.ptr + 7, text);
	free(text);
	buf_release(&out);
	error_release(&err);
}

/* ---- hostile values ---- */

enum field {
	F_COMMAND,
	F_DIRECTORY,
	F_USER,
	F_ENV_NAME,
	F_ENV_VALUE,
	F_APP,
	F_VERSION,
	F_RELEASE,
	F_HOST,
	F_ADDRESS,
	F_POOL,
	F_COMMIT,
	F_CREATED,
};

struct fixture {
	struct swarm s;
	struct env_var env[1];
	struct instance_spec in;
};

static void setup(struct fixture *f, enum field field, const char *value)
{
	f->s = web_swarm();
	f->env[0] = web_env[0];
	f->s.env = f->env;
	f->in = web_spec(&f->s);
	switch (field) {
	case F_COMMAND:
		f->s.command = (char *)value;
		break;
	case F_DIRECTORY:
		f->s.directory = (char *)value;
		break;
	case F_USER:
		f->s.user = (char *)value;
		break;
	case F_ENV_NAME:
		f->env[0].name = (char *)value;
		break;
	case F_ENV_VALUE:
		f->env[0].value = (char *)value;
		break;
	case F_APP:
		f->s.app = (char *)value;
		break;
	case F_VERSION:
		f->s.version = (char *)value;
		break;
	case F_RELEASE:
		f->in.release = value;
		break;
	case F_HOST:
		f->in.host = value;
		break;
	case F_ADDRESS:
		f->in.address = value;
		break;
	case F_POOL:
		f->in.pool = value;
		break;
	case F_COMMIT:
		f->in.commit = value;
		break;
	case F_CREATED:
		f->in.created = value;
		break;
	}
}

/* Values that must reach supervisord exactly: each row's `want` must be in
 * the text (whole lines are written with their newlines). */
static void test_hostile_written(void **state)
{
	static const struct {
		enum field field;
		const char *value, *want;
	} rows[] = {
		{F_COMMAND, "/bin/x --rate 100% --port ${PORT}",
		 "\ncommand=/bin/x --rate 100%% --port 5001\n"},
		{F_COMMAND, "/bin/x %(ENV_HOME)s %(here)x %s %d %",
		 "\ncommand=/bin/x %%(ENV_HOME)s %%(here)x %%s %%d %%\n"},
		{F_COMMAND, "/bin/x ${PORT} --also=${PORT}", "\ncommand=/bin/x 5001 --also=5001\n"},
		{F_COMMAND, "/bin/x ${HOST}:${PORT}@${ADDRESS} $PORT",
		 "\ncommand=/bin/x web1:5001@10.0.0.1 $PORT\n"},
		{F_COMMAND, "/bin/x [program:evil] command=/bin/evil",
		 "\ncommand=/bin/x [program:evil] command=/bin/evil\n"},
		{F_COMMAND, "/bin/x a;b c#d 'q u o t e d' \"dq\" back\\slash",
		 "\ncommand=/bin/x a;b c#d 'q u o t e d' \"dq\" back\\slash\n"},
		{F_COMMAND, "  /bin/x caf\xc3\xa9 \xe2\x82\xac  ",
		 "\ncommand=  /bin/x caf\xc3\xa9 \xe2\x82\xac  \n"},
		/* a NUL ends a C string: nothing after it can reach the file */
		{F_COMMAND, "/bin/run\0\n[program:evil]\ncommand=/bin/evil",
		 "\ncommand=/bin/run\n"},
		{F_DIRECTORY, "/srv/100%", "\ndirectory=/srv/100%%\n"},
		{F_DIRECTORY, "/srv/%(ENV_HOME)s", "\ndirectory=/srv/%%(ENV_HOME)s\n"},
		{F_USER, "a%b", "\nuser=a%%b\n"},
		{F_ENV_VALUE, "50%",
		 "\nenvironment=ADDRESS=\"10.0.0.1\",APP=\"hello\",CONFIG=\"prod\",GREETING=\"50%%\",HOST=\"web1\",PORT=\"5001\",PROC=\"web\",RELEASE=\"1a2b3c4d\",VERSION=\"1.4.2\"\n"},
		{F_ENV_VALUE, "%(ENV_HOME)s", ",GREETING=\"%%(ENV_HOME)s\","},
		{F_ENV_VALUE, "a=b,c=d&e f;g#h 'mid' caf\xc3\xa9",
		 ",GREETING=\"a=b,c=d&e f;g#h 'mid' caf\xc3\xa9\","},
		{F_ENV_VALUE, "", ",GREETING=\"\","},
		{F_ENV_NAME, "_lower_1", ",_lower_1=\"hi\"\n"},
		{F_POOL, NULL, " pool= commit=abc "},
		{F_COMMIT, NULL, " commit= created="},
		/* the metadata line is a comment: supervisord does not %-format it */
		{F_CREATED, "100%", " created=100%\n"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct fixture f;
		char *text;

		setup(&f, rows[i].field, rows[i].value);
		text = render_ok(&f.in);
		if (!strstr(text, rows[i].want))
			fail_msg("row %zu: '%s' not in:\n%s", i, rows[i].want, text);
		assert_null(strstr(text, "\ncommand=/bin/evil"));
		free(text);
	}
}

/* Values that must be refused, each with a message naming the field, and
 * the output buffer left as it was. */
static void test_hostile_refused(void **state)
{
	static const struct {
		enum field field;
		const char *value, *message;
	} rows[] = {
		{F_COMMAND, "/bin/x\n[program:evil]", "command contains a newline"},
		{F_COMMAND, "/bin/x\rcommand=/bin/evil", "command contains a carriage return"},
		{F_COMMAND, "/bin/x\t-v", "command contains a tab"},
		{F_COMMAND, "/bin/x \x1b[31m", "command contains the control character 0x1b"},
		{F_COMMAND, "/bin/x ;x", "command contains whitespace followed by ';'"},
		{F_COMMAND, "/bin/x #x", "command contains whitespace followed by '#'"},
		{F_COMMAND, "/bin/x \xc2\xa0;x", "command contains whitespace followed by ';'"},
		{F_COMMAND, "/bin/x\xe3\x80\x80#x", "command contains whitespace followed by '#'"},
		{F_COMMAND, "/bin/x \xe2\x80\xa8;x", "command contains whitespace followed by ';'"},
		{F_COMMAND, "/bin/x --sep=\xc2\xa0", "command ends with whitespace"},
		{F_COMMAND, "/bin/x \xff", "command contains bytes that are not UTF-8"},
		{F_COMMAND, "/bin/x \xc0\xaf", "command contains bytes that are not UTF-8"},
		{F_COMMAND, "/bin/x \xed\xa0\x80", "command contains bytes that are not UTF-8"},
		{F_COMMAND, "/bin/x ${FOO}", "command uses ${FOO}: the only placeholders are"},
		{F_COMMAND, "/bin/x ${PORT", "command uses an unclosed '${'"},
		{F_COMMAND, "/bin/x %(here)s",
		 "command contains '%(here)s', which supervisord replaces"},
		{F_COMMAND, "/bin/x %%(here)s", "command contains '%(here)s'"},
		{F_COMMAND, "  ", "command is empty"},
		{F_COMMAND, NULL, "command is empty"},
		{F_DIRECTORY, "/srv/a\nuser=root", "directory contains a newline"},
		{F_DIRECTORY, "/srv/a\r", "directory contains a carriage return"},
		{F_DIRECTORY, "/srv/a ;x", "directory contains whitespace followed by ';'"},
		{F_DIRECTORY, "/srv/a #x", "directory contains whitespace followed by '#'"},
		{F_DIRECTORY, "/srv/a ",
		 "directory ends with whitespace, which supervisord strips"},
		{F_DIRECTORY, "\xc2\xa0/srv", "directory starts with whitespace"},
		{F_DIRECTORY, "", "directory is empty"},
		{F_DIRECTORY, "%(here)s/x", "directory contains '%(here)s'"},
		{F_USER, "nobody\nuser=root", "user contains a newline"},
		{F_USER, "nobody\r", "user contains a carriage return"},
		{F_USER, "nobody ;x", "user contains whitespace followed by ';'"},
		{F_USER, "nobody #x", "user contains whitespace followed by '#'"},
		{F_USER, "", "user is empty"},
		{F_USER, "u%(here)s", "user contains '%(here)s'"},
		{F_ENV_VALUE, "a\nb", "env GREETING contains a newline"},
		{F_ENV_VALUE, "a\rb", "env GREETING contains a carriage return"},
		{F_ENV_VALUE, "a ;x", "env GREETING contains whitespace followed by ';'"},
		{F_ENV_VALUE, "a #x", "env GREETING contains whitespace followed by '#'"},
		{F_ENV_VALUE, "say \"hi\"", "env GREETING contains '\"'"},
		{F_ENV_VALUE, "C:\\temp", "env GREETING contains '\\'"},
		{F_ENV_VALUE, "'quoted'", "env GREETING starts or ends with a single quote"},
		{F_ENV_VALUE, NULL, "env GREETING has no value"},
		{F_ENV_VALUE, "at %(here)s", "env GREETING contains '%(here)s'"},
		{F_ENV_NAME, "PORT", "env PORT is set by raptor for every instance"},
		{F_ENV_NAME, "RELEASE", "env RELEASE is set by raptor"},
		{F_ENV_NAME, "1X", "env name '1X' is not a valid environment variable name"},
		{F_ENV_NAME, "A-B", "env name 'A-B' is not a valid"},
		{F_ENV_NAME, "A=\"x\",B", "is not a valid environment variable name"},
		{F_APP, "hel-lo", "app 'hel-lo' is not an identifier"},
		{F_APP, "x]\n[program:evil", "app 'x]\\n[program:evil' is not an identifier"},
		{F_APP, "", "app is empty"},
		{F_VERSION, "1.0 beta", "version '1.0 beta' is not a version"},
		{F_RELEASE, "1A2B3C4D", "release '1A2B3C4D' is not 8 lowercase hex digits"},
		{F_RELEASE, "1a2b3c4", "release '1a2b3c4' is not 8"},
		{F_RELEASE, NULL, "release '' is not 8"},
		{F_HOST, "web1 x", "host 'web1 x' is not a host name or address"},
		{F_HOST, NULL, "host is empty"},
		{F_ADDRESS, "10.0.0.1\"", "address '10.0.0.1\"' is not a host name or address"},
		{F_ADDRESS, "", "address is empty"},
		{F_POOL, "edge/hello prod", "pool 'edge/hello prod' contains whitespace"},
		{F_COMMIT, "abc def", "commit 'abc def' contains whitespace"},
		{F_COMMIT, "abc\ncommand=/bin/evil", "commit contains a newline"},
		{F_CREATED, "2026-11-26 10:00:00",
		 "created '2026-11-26 10:00:00' contains whitespace"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct fixture f;
		struct buf out = BUF_INIT;
		struct error err = ERROR_INIT;
		int rc;

		setup(&f, rows[i].field, rows[i].value);
		buf_puts(&out, "keep");
		rc = progtext_render(&out, &f.in, &err);
		if (rc != -1 || !strstr(error_msg(&err), rows[i].message))
			fail_msg("row %zu: rc %d, message '%s', wanted '%s'", i, rc,
				 error_msg(&err), rows[i].message);
		assert_non_null(strstr(error_msg(&err), "swarm hello/prod/web@web on host "));
		assert_string_equal(out.ptr, "keep");
		buf_release(&out);
		error_release(&err);
	}
}

/* The port, slot and port mode must agree; ${PORT} is for port instances. */
static void test_port_modes(void **state)
{
	static const struct {
		bool worker;
		int port, slot;
		const char *command, *message; /* message NULL: renders */
	} rows[] = {
		{false, 5001, 0, NULL, NULL},
		{false, 65535, 7, NULL, NULL}, /* a slot is ignored for a port instance */
		{false, 0, 1, NULL, "port must be 1 to 65535, not 0"},
		{false, 65536, 0, NULL, "port must be 1 to 65535, not 65536"},
		{true, 0, 1, NULL, NULL},
		{true, 0, 65535, NULL, NULL},
		{true, 0, 0, NULL, "a worker's slot must be 1 to 65535, not 0"},
		{true, 5001, 1, NULL, "the swarm is a worker (port: none) but was given port 5001"},
		{true, 0, 1, "/bin/w --port ${PORT}",
		 "command uses ${PORT}, but the swarm is a worker (port: none)"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct swarm s = rows[i].worker ? worker_swarm() : web_swarm();
		struct instance_spec in = rows[i].worker ? worker_spec(&s) : web_spec(&s);
		struct buf out = BUF_INIT;
		struct error err = ERROR_INIT;
		int rc;

		in.port = rows[i].port;
		in.slot = rows[i].slot;
		if (rows[i].command)
			s.command = (char *)rows[i].command;
		rc = progtext_render(&out, &in, &err);
		if (rows[i].message ? (rc != -1 || !strstr(error_msg(&err), rows[i].message))
				    : rc != 0)
			fail_msg("row %zu: rc %d, message '%s'", i, rc, error_msg(&err));
		if (!rc && rows[i].worker)
			assert_null(strstr(out.ptr, "PORT="));
		buf_release(&out);
		error_release(&err);
	}
}

/* Env given out of order comes out sorted, with raptor's names among them. */
static void test_env_sorted(void **state)
{
	struct env_var env[] = {{(char *)"ZED", (char *)"z"},
				{(char *)"ALPHA", (char *)"a"},
				{(char *)"PATH_X", (char *)"p"}};
	struct swarm s = web_swarm();
	struct instance_spec in = web_spec(&s);
	char *text;

	(void)state;
	s.env = env;
	s.nenv = 3;
	text = render_ok(&in);
	assert_non_null(strstr(
		text,
		"\nenvironment=ADDRESS=\"10.0.0.1\",ALPHA=\"a\",APP=\"hello\",CONFIG=\"prod\",HOST=\"web1\",PATH_X=\"p\",PORT=\"5001\",PROC=\"web\",RELEASE=\"1a2b3c4d\",VERSION=\"1.4.2\",ZED=\"z\"\n"));
	free(text);
	/* two of the same name (the loader refuses them) */
	env[1].name = (char *)"ZED";
	{
		struct buf out = BUF_INIT;
		struct error err = ERROR_INIT;

		assert_int_equal(progtext_render(&out, &in, &err), -1);
		assert_non_null(strstr(error_msg(&err), "env ZED is given twice"));
		buf_release(&out);
		error_release(&err);
	}
}

/* Longer than the plugin accepts: refused here, not by the host. */
static void test_too_long(void **state)
{
	struct swarm s = web_swarm();
	struct instance_spec in = web_spec(&s);
	struct buf out = BUF_INIT;
	struct error err = ERROR_INIT;
	size_t n = PROGTEXT_MAX;
	char *cmd = malloc(n + 1);

	(void)state;
	memset(cmd, 'x', n);
	cmd[0] = '/';
	cmd[n] = '\0';
	s.command = cmd;
	assert_int_equal(progtext_render(&out, &in, &err), -1);
	assert_non_null(strstr(error_msg(&err), "longer than 65536 bytes"));
	assert_int_equal(out.len, 0);
	free(cmd);
	buf_release(&out);
	error_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),		cmocka_unit_test(test_release_text),
		cmocka_unit_test(test_release_fixed),	cmocka_unit_test(test_release_env_order),
		cmocka_unit_test(test_release_changes), cmocka_unit_test(test_names),
		cmocka_unit_test(test_render_web),	cmocka_unit_test(test_render_worker),
		cmocka_unit_test(test_hostile_written), cmocka_unit_test(test_hostile_refused),
		cmocka_unit_test(test_port_modes),	cmocka_unit_test(test_env_sorted),
		cmocka_unit_test(test_too_long),
	};
	return cmocka_run_group_tests_name("progtext", tests, NULL, NULL);
}

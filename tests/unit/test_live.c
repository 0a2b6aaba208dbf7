/*
 * The pure pieces of the live-state work: program names parsed back into
 * their six fields, URL redaction, credential references, and the status
 * view built from a live model (managed, unmanaged, not loaded).
 */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "credentials.h"
#include "http.h"
#include "progname.h"
#include "status_view.h"

static const struct {
	const char *name;
	int rc;
	const char *app, *version, *config, *release, *proc;
	int port;
} progname_rows[] = {
	{"hello-1.4.2-prod-1a2b3c4d-web-5001", 0, "hello", "1.4.2", "prod", "1a2b3c4d", "web",
	 5001},
	{"hello-2.0+build.7-europe-deadbeef-worker-0", 0, "hello", "2.0+build.7", "europe",
	 "deadbeef", "worker", 0},
	{"my_app-1-c.d-abc-p-65535", 0, "my_app", "1", "c.d", "abc", "p", 65535},
	{"hello-1.4.2-prod-1a2b3c4d-web", -1},
	{"hello-1.4.2-prod-1a2b3c4d-web-5001-x", -1},
	{"hello-1.4.2-prod-1a2b3c4d-web-65536", -1},
	{"hello-1.4.2-prod-1a2b3c4d-web-50a1", -1},
	{"hello-1.4.2-prod-1a2b3c4d-web-", -1},
	{"hello--prod-1a2b3c4d-web-5001", -1},
	{"hel lo-1-prod-1a2b3c4d-web-5001", -1},
	{"hello-1+x-pr+od-1a2b3c4d-web-5001", -1},
	{"sleeper", -1},
	{"", -1},
	{"-----", -1},
};

static void test_progname(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(progname_rows); i++) {
		struct progname p;
		int rc = progname_parse(&p, progname_rows[i].name);

		if (rc != progname_rows[i].rc)
			fail_msg("'%s': rc %d", progname_rows[i].name, rc);
		if (rc == 0) {
			struct buf back = BUF_INIT;

			assert_string_equal(p.app, progname_rows[i].app);
			assert_string_equal(p.version, progname_rows[i].version);
			assert_string_equal(p.config, progname_rows[i].config);
			assert_string_equal(p.release, progname_rows[i].release);
			assert_string_equal(p.proc, progname_rows[i].proc);
			assert_int_equal(p.port, progname_rows[i].port);
			progname_format(&back, p.app, p.version, p.config, p.release, p.proc,
					p.port);
			assert_string_equal(back.ptr, progname_rows[i].name);
			buf_release(&back);
			progname_release(&p);
		}
	}
}

static void test_redact(void **state)
{
	static const struct {
		const char *in, *out;
	} rows[] = {
		{"http://web1:9001/RPC2", "http://web1:9001/RPC2"},
		{"http://admin:s3cret@web1:9001/RPC2", "http://***@web1:9001/RPC2"},
		{"https://u@h/RPC2", "https://***@h/RPC2"},
		{"http://h/RPC2?x=a@b", "http://h/RPC2?x=a@b"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct buf b = BUF_INIT;

		http_redact_url(&b, rows[i].in);
		assert_string_equal(b.ptr, rows[i].out);
		buf_release(&b);
	}
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static void test_credentials(void **state)
{
	char dir[] = "/tmp/raptor-cred.XXXXXX";
	struct buf path = BUF_INIT, ref = BUF_INIT, up = BUF_INIT;
	struct error err = ERROR_INIT;

	(void)state;
	assert_non_null(mkdtemp(dir));
	buf_printf(&path, "%s/auth", dir);
	buf_printf(&ref, "file:%s", path.ptr);

	write_file(path.ptr, "admin:s3cret\n", 0600);
	assert_int_equal(credentials_load(&up, ref.ptr, &err), 0);
	assert_string_equal(up.ptr, "admin:s3cret");

	write_file(path.ptr, "admin:s3cret\n", 0640);
	assert_int_equal(credentials_load(&up, ref.ptr, &err), -1);
	assert_non_null(strstr(error_msg(&err),
			       "is readable by group or others (mode 0640): chmod 600 it"));
	assert_null(strstr(error_msg(&err), "s3cret"));

	write_file(path.ptr, "no-colon-here", 0600);
	assert_int_equal(credentials_load(&up, ref.ptr, &err), -1);
	assert_non_null(strstr(error_msg(&err), "do not have the form user:password"));
	assert_null(strstr(error_msg(&err), "no-colon-here"));

	setenv("RAPTOR_TEST_AUTH", "u:p", 1);
	assert_int_equal(credentials_load(&up, "env:RAPTOR_TEST_AUTH", &err), 0);
	assert_string_equal(up.ptr, "u:p");
	unsetenv("RAPTOR_TEST_AUTH");
	assert_int_equal(credentials_load(&up, "env:RAPTOR_TEST_AUTH", &err), -1);
	assert_non_null(strstr(error_msg(&err), "RAPTOR_TEST_AUTH is not set"));

	buf_reset(&ref);
	buf_printf(&ref, "file:%s/missing", dir);
	assert_int_equal(credentials_load(&up, ref.ptr, &err), -1);
	assert_non_null(strstr(error_msg(&err), "No such file"));

	unlink(path.ptr);
	rmdir(dir);
	buf_release(&path);
	buf_release(&ref);
	buf_release(&up);
	error_release(&err);
}

static void test_status_view(void **state)
{
	struct live_process procs[] = {
		{.name = "hello-1-c-abcd1234-web-5001",
		 .group = "hello-1-c-abcd1234-web-5001",
		 .statename = "RUNNING",
		 .pid = 42},
		{.name = "old-2-c-00000000-web-6000",
		 .group = "old-2-c-00000000-web-6000",
		 .statename = "RUNNING",
		 .pid = 43},
		{.name = "0", .group = "pool", .statename = "STOPPED"},
	};
	struct meta_kv meta[] = {{"app", "hello"},
				 {"config", "c"},
				 {"proc", "web"},
				 {"squad", "web"},
				 {"port", "5001"}};
	struct live_program programs[] = {
		{.name = "hello-1-c-abcd1234-web-5001", .meta = meta, .nmeta = 5},
		{.name = "hello-1-c-abcd1234-web-5002"},
	};
	struct live l;
	struct status_view v;
	const struct status_host *h;

	(void)state;
	live_init(&l);
	*vec_add(&l.hosts) = (struct live_host){.name = "web1",
						.reachable = true,
						.procs = procs,
						.nprocs = 3,
						.programs = programs,
						.nprograms = 2};
	*vec_add(&l.hosts) = (struct live_host){.name = "web2", .error = "connection refused"};
	status_view_build(&v, &l, NULL);
	assert_int_equal(v.nhosts, 2);
	h = &v.hosts[0];
	assert_int_equal(h->nprograms, 4);
	assert_int_equal(h->managed, 2);
	assert_int_equal(h->unmanaged, 2);
	assert_true(h->programs[0].managed);
	assert_string_equal(h->programs[0].swarm, "hello/c/web@web");
	assert_int_equal(h->programs[0].port, 5001);
	assert_null(h->programs[0].klass);
	/* unmanaged, but a Velociraptor-style name still tells its port */
	assert_false(h->programs[1].managed);
	assert_string_equal(h->programs[1].klass, "unmanaged");
	assert_null(h->programs[1].swarm);
	assert_int_equal(h->programs[1].port, 6000);
	assert_string_equal(h->programs[2].name, "pool:0");
	assert_int_equal(h->programs[2].port, 0);
	assert_string_equal(h->programs[3].name, "hello-1-c-abcd1234-web-5002");
	assert_string_equal(h->programs[3].state, "NOT_LOADED");
	assert_true(h->programs[3].managed);
	assert_int_equal(v.hosts[1].nprograms, 0);
	assert_int_equal(live_unreachable(&l), 1);
	status_view_release(&v);
	vec_release(&l.hosts);
	live_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progname),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_status_view),
	};
	return cmocka_run_group_tests_name("live", tests, NULL, NULL);
}

/*
 * The parse time of one host's answer in raptor's XML-RPC codec, for the
 * fleet benchmark's physical limit (tests/bench/bench_fleet.py):
 *
 *   bench_xmlparse FILE [PARSES_PER_BATCH [BATCHES]]
 *
 * FILE is the body of one host's answer to raptor's query (fleet-sim --dump
 * HOST writes it). xr_parse_response (libxml2's SAX2 parse, decoding into xr
 * values as it goes), then xr_response_release, is run 20 times as a
 * warm-up, then BATCHES (default 7) batches of PARSES_PER_BATCH (default
 * 200). Each batch is timed in this thread's CPU time, so time the scheduler
 * gives to other processes does not count. Prints one JSON line:
 * {"bytes": N, "median_us": M, "min_us": m, "batches_us": [...]}, the time
 * of one parse. Exits 1 when the answer does not parse as a 4-element
 * multicall result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "error.h"
#include "xmlrpc.h"

static double cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int parse_once(const struct buf *body, struct error *err)
{
	struct xr_response r;
	size_t n = 0;
	int rc = xr_parse_response(&r, body->ptr, body->len, err);

	if (rc < 0)
		return -1;
	if (r.fault)
		rc = error_set(err, "a fault: %s", r.fault_string ? r.fault_string : "");
	else if (xr_as_array(r.value, "system.multicall", &n, err) < 0)
		rc = -1;
	else if (n != 4)
		rc = error_set(err, "expected 4 results, got %zu", n);
	xr_response_release(&r);
	return rc;
}

int main(int argc, char **argv)
{
	struct buf body = BUF_INIT;
	struct error err = ERROR_INIT;
	long per = argc > 2 ? atol(argv[2]) : 200, batches = argc > 3 ? atol(argv[3]) : 7;
	double *us;
	char chunk[65536];
	size_t got;
	FILE *f;

	if (argc < 2 || per < 1 || batches < 1 || batches > 1000) {
		fprintf(stderr, "usage: bench_xmlparse FILE [PARSES_PER_BATCH [BATCHES]]\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	buf_init(&body, (size_t)64 << 20);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&body, chunk, got) < 0) {
			fprintf(stderr, "%s: too big\n", argv[1]);
			fclose(f);
			return 2;
		}
	fclose(f);
	for (int i = 0; i < 20; i++)
		if (parse_once(&body, &err) < 0) {
			fprintf(stderr, "%s: %s\n", argv[1], error_msg(&err));
			return 1;
		}
	us = calloc((size_t)batches, sizeof(*us));
	if (!us)
		return 2;
	for (long b = 0; b < batches; b++) {
		double t0 = cpu_us();

		for (long i = 0; i < per; i++)
			parse_once(&body, &err);
		us[b] = (cpu_us() - t0) / (double)per;
	}
	printf("{\"bytes\": %zu, \"parses_per_batch\": %ld, \"batches_us\": [", body.len, per);
	for (long b = 0; b < batches; b++)
		printf("%s%.2f", b ? ", " : "", us[b]);
	qsort(us, (size_t)batches, sizeof(*us), dbl_cmp);
	printf("], \"median_us\": %.2f, \"min_us\": %.2f}\n", us[batches / 2], us[0]);
	free(us);
	buf_release(&body);
	error_release(&err);
	return 0;
}

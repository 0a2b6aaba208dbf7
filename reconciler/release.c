/*
 * The release hash; see release.h.
 *
 * Why SHA-256 and not something smaller such as FNV-1a: the hash is part of
 * every program name on every host, so it must never change by accident and
 * should be checkable without raptor. SHA-256 is fixed by a standard, has
 * test vectors, and every machine has `sha256sum`; its bits are all well
 * mixed, so the 32 we keep are as good as any 32 (FNV's low bits are weak).
 * It costs about 100 lines and no library.
 */
#include "release.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "banned.h"

/* ---- SHA-256, FIPS 180-4 §6.2 ---- */

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t p[64])
{
	uint32_t w[64], v[8];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(v, h, sizeof(v));
	for (int i = 0; i < 64; i++) {
		uint32_t s1 = ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25);
		uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
		uint32_t t1 = v[7] + s1 + ch + sha256_k[i] + w[i];
		uint32_t s0 = ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22);
		uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);

		memmove(v + 1, v, 7 * sizeof(*v));
		v[4] += t1;
		v[0] = t1 + s0 + maj;
	}
	for (int i = 0; i < 8; i++)
		h[i] += v[i];
}

void release_sha256(uint8_t digest[32], const void *data, size_t len)
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	const uint8_t *p = data;
	uint8_t last[128] = {0};
	size_t rest = len % 64, tail = rest < 56 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;

	for (size_t off = 0; off + 64 <= len; off += 64)
		sha256_block(h, p + off);
	/* the message ends with 0x80, zeros, and its length in bits (big-endian) */
	if (rest)
		memcpy(last, p + (len - rest), rest);
	last[rest] = 0x80;
	for (int i = 0; i < 8; i++)
		last[tail - 1 - i] = (uint8_t)(bits >> (8 * i));
	sha256_block(h, last);
	if (tail == 128)
		sha256_block(h, last + 64);
	for (int i = 0; i < 8; i++) {
		digest[4 * i] = (uint8_t)(h[i] >> 24);
		digest[4 * i + 1] = (uint8_t)(h[i] >> 16);
		digest[4 * i + 2] = (uint8_t)(h[i] >> 8);
		digest[4 * i + 3] = (uint8_t)h[i];
	}
}

/* ---- the canonical text ---- */

static void put_value(struct buf *out, const char *s)
{
	if (s)
		buf_printf(out, " %zu:%s", strlen(s), s);
	else
		buf_puts(out, " -");
}

static void put_record(struct buf *out, const char *tag, const char *value)
{
	buf_puts(out, tag);
	put_value(out, value);
	buf_putc(out, '\n');
}

static int env_ptr_cmp(const void *a, const void *b)
{
	const struct env_var *x = *(const struct env_var *const *)a;
	const struct env_var *y = *(const struct env_var *const *)b;
	int c = strcmp(x->name ? x->name : "", y->name ? y->name : "");

	/* the loader refuses duplicate names; were there any, the values decide */
	return c ? c : strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

void release_text(struct buf *out, const struct swarm *s)
{
	const struct env_var **env = NULL;

	buf_puts(out, "raptor-release 1\n");
	put_record(out, "app", s->app);
	put_record(out, "version", s->version);
	put_record(out, "config", s->config);
	put_record(out, "command", s->command);
	/* sorted here, whatever order the model holds them in */
	if (s->nenv) {
		env = xmalloc(st_mult(s->nenv, sizeof(*env)));
		for (size_t i = 0; i < s->nenv; i++)
			env[i] = &s->env[i];
		qsort(env, s->nenv, sizeof(*env), env_ptr_cmp);
	}
	for (size_t i = 0; i < s->nenv; i++) {
		buf_puts(out, "env");
		put_value(out, env[i]->name);
		put_value(out, env[i]->value);
		buf_putc(out, '\n');
	}
	free(env);
	put_record(out, "user", s->user);
	put_record(out, "directory", s->directory);
	put_record(out, "port", s->port == PORT_NONE ? "none" : "auto");
}

void release_hash(char out[RELEASE_HEX + 1], const struct swarm *s)
{
	static const char hex[] = "0123456789abcdef";
	struct buf text = BUF_INIT;
	uint8_t digest[32];

	/* no cap: a swarm's fields are bounded by the loader, not by this buffer */
	buf_init(&text, SIZE_MAX);
	release_text(&text, s);
	release_sha256(digest, buf_cstr(&text), text.len);
	buf_release(&text);
	for (int i = 0; i < RELEASE_HEX / 2; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[RELEASE_HEX] = '\0';
}

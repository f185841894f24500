#include "sha256.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#define SHA256_NI 1

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define SHA256_NI_TARGET __attribute__((target("sha,ssse3,sse4.1")))

/*
 * The 64 rounds over nblocks blocks, four rounds a step. The hardware keeps the state as ABEF and
 * CDGH (not ABCD, EFGH), two rounds an instruction. The message schedule: for step i >= 4,
 * W[i] = msg2(msg1(W[i-4], W[i-3]) + (W[i-2]:W[i-1] shifted by one word), W[i-1]).
 */
SHA256_NI_TARGET static void sha256_ni_blocks(uint32_t state[8], const unsigned char *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i t = _mm_loadu_si128((const __m128i *)&state[0]);
	__m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);
	__m128i s0;

	t = _mm_shuffle_epi32(t, 0xb1);            /* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1b);          /* EFGH */
	s0 = _mm_alignr_epi8(t, s1, 8);            /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xf0);         /* CDGH */
	for (; nblocks; nblocks--, p += 64) {
		__m128i abef = s0, cdgh = s1, w[4];

		for (int i = 0; i < 16; i++) {
			__m128i m;

			if (i < 4) {
				w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
			} else {
				m = _mm_sha256msg1_epu32(w[i % 4], w[(i + 1) % 4]);
				m = _mm_add_epi32(m, _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4));
				w[i % 4] = _mm_sha256msg2_epu32(m, w[(i + 3) % 4]);
			}
			m = _mm_add_epi32(w[i % 4], _mm_loadu_si128((const __m128i *)&sha256_k[4 * i]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, m);
			s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0e));
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
	}
	t = _mm_shuffle_epi32(s0, 0x1b);           /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xb1);          /* DCHG */
	s0 = _mm_blend_epi16(t, s1, 0xf0);         /* DCBA */
	s1 = _mm_alignr_epi8(s1, t, 8);            /* HGFE */
	_mm_storeu_si128((__m128i *)&state[0], s0);
	_mm_storeu_si128((__m128i *)&state[4], s1);
}

static const uint32_t sha256_iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

/* The tail of a message (rest < 64 bytes) with the padding and the length in bits (one block, or
 * two when the tail leaves no room for the length), then the digest. */
static void sha256_ni_finish(uint32_t state[8], const unsigned char *rest, size_t nrest, uint64_t len,
			     unsigned char out[32])
{
	unsigned char tail[128] = { 0 };
	size_t ntail = nrest < 56 ? 1 : 2;
	uint64_t bits = len * 8;

	if (nrest)
		memcpy(tail, rest, nrest);
	tail[nrest] = 0x80;
	for (int i = 0; i < 8; i++)
		tail[ntail * 64 - 1 - i] = (unsigned char)(bits >> (8 * i));
	sha256_ni_blocks(state, tail, ntail);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(state[i] >> 24);
		out[4 * i + 1] = (unsigned char)(state[i] >> 16);
		out[4 * i + 2] = (unsigned char)(state[i] >> 8);
		out[4 * i + 3] = (unsigned char)state[i];
	}
}

/* The whole message: its full blocks in place, then the tail. */
static void sha256_ni(unsigned char out[32], const unsigned char *data, size_t len)
{
	uint32_t state[8];
	size_t full = len / 64;

	memcpy(state, sha256_iv, sizeof(state));
	sha256_ni_blocks(state, data, full);
	sha256_ni_finish(state, data + full * 64, len % 64, len, out);
}

/* CPUID: SHA (leaf 7, EBX bit 29), SSSE3 and SSE4.1 (leaf 1, ECX bits 9 and 19). */
static bool sha256_cpu_has_ni(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
		return false;
	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}
#endif

static bool sha256_ni_ok;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_detect(void)
{
#ifdef SHA256_NI
	sha256_ni_ok = sha256_cpu_has_ni();
#endif
}

bool sha256_accelerated(void)
{
	pthread_once(&sha256_once, sha256_detect);
	return sha256_ni_ok;
}

void sha256(unsigned char out[32], const void *data, size_t len)
{
#ifdef SHA256_NI
	if (sha256_accelerated()) {
		sha256_ni(out, data, len);
		return;
	}
#endif
	crypto_hash_sha256(out, data, len);
}

void sha256_init(struct sha256_ctx *c)
{
	c->nblock = 0;
	c->total = 0;
#ifdef SHA256_NI
	if (sha256_accelerated()) {
		memcpy(c->state, sha256_iv, sizeof(c->state));
		return;
	}
#endif
	crypto_hash_sha256_init(&c->sodium);
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
#ifdef SHA256_NI
	if (sha256_accelerated()) {
		const unsigned char *p = data;

		c->total += len;
		if (c->nblock) {
			size_t n = len < 64 - c->nblock ? len : 64 - c->nblock;

			memcpy(c->block + c->nblock, p, n);
			c->nblock += n;
			p += n;
			len -= n;
			if (c->nblock < 64)
				return;
			sha256_ni_blocks(c->state, c->block, 1);
			c->nblock = 0;
		}
		sha256_ni_blocks(c->state, p, len / 64);
		memcpy(c->block, p + len / 64 * 64, len % 64);
		c->nblock = len % 64;
		return;
	}
#endif
	crypto_hash_sha256_update(&c->sodium, data, len);
}

void sha256_final(struct sha256_ctx *c, unsigned char out[32])
{
#ifdef SHA256_NI
	if (sha256_accelerated()) {
		sha256_ni_finish(c->state, c->block, c->nblock, c->total, out);
		return;
	}
#endif
	crypto_hash_sha256_final(&c->sodium, out);
}

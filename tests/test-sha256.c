/*
 * common/sha256.c against FIPS 180-2's examples and against libsodium's SHA-256 on every length
 * from 0 to 1,100 bytes (each padding case: tails of 0-55 bytes take one final block, 56-63 two)
 * and on a 1 MB buffer; the same digests given in pieces (sha256_update) of every size from 1 to
 * 130 bytes, which cross the 64-byte blocks at every offset. On a CPU without the SHA extensions
 * both sides are libsodium; the test says which it ran.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "tap.h"

static void hex(const unsigned char h[32], char out[65])
{
	sodium_bin2hex(out, 65, h, 32);
}

static void check_vector(const char *msg, const char *want)
{
	unsigned char h[32];
	char got[65];

	sha256(h, msg, strlen(msg));
	hex(h, got);
	is_str(got, want, "FIPS 180-2: \"%.20s%s\"", msg, strlen(msg) > 20 ? "…" : "");
}

static bool same_as_sodium(const unsigned char *data, size_t len)
{
	unsigned char a[32], b[32];

	sha256(a, data, len);
	crypto_hash_sha256(b, data, len);
	return memcmp(a, b, 32) == 0;
}

/* data fed to sha256_update in pieces of step bytes (the last shorter). */
static bool pieces_alike(const unsigned char *data, size_t len, size_t step)
{
	unsigned char a[32], b[32];
	struct sha256_ctx c;

	sha256_init(&c);
	for (size_t at = 0; at < len; at += step)
		sha256_update(&c, data + at, len - at < step ? len - at : step);
	sha256_update(&c, data, 0);
	sha256_final(&c, a);
	crypto_hash_sha256(b, data, len);
	return memcmp(a, b, 32) == 0;
}

int main(void)
{
	size_t big = 1 << 20, bad = 0, first_bad = 0;
	unsigned char *data;

	if (sodium_init() < 0)
		return 1;
	printf("# the CPU's SHA extensions: %s\n", sha256_accelerated() ? "used" : "absent, libsodium only");
	check_vector("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_vector("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_vector("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	data = malloc(big);
	randombytes_buf(data, big);
	for (size_t len = 0; len <= 1100; len++) {
		if (!same_as_sodium(data + len % 7, len) && bad++ == 0)
			first_bad = len;
	}
	ok(bad == 0, "the same digest as libsodium for every length 0-1100, at odd offsets (%zu differ, first at %zu)",
	   bad, first_bad);
	ok(same_as_sodium(data, big), "the same digest as libsodium for 1 MB");
	bad = 0;
	for (size_t step = 1; step <= 130; step++)
		for (size_t len = 0; len <= 700; len += 37)
			if (!pieces_alike(data + step % 5, len, step) && bad++ == 0)
				first_bad = step;
	ok(bad == 0, "in pieces of 1-130 bytes, the same digest as libsodium in one (%zu differ, first at step %zu)",
	   bad, first_bad);
	ok(pieces_alike(data, big, 4099), "1 MB in pieces of 4099 bytes");
	free(data);
	return done_testing();
}

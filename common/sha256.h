/*
 * SHA-256, of one buffer or in pieces. Every object of a snapshot is hashed (model.c obj_hash):
 * 245,000 of them for 10,000 tables, then the snapshot as a whole. libsodium's SHA-256 is portable
 * C; on a CPU with the SHA extensions (x86-64: Intel since Goldmont and Ice Lake, AMD since Zen)
 * the rounds run in hardware instead, several times faster. Same digest either way.
 */
#pragma once

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void sha256(unsigned char out[32], const void *data, size_t len);

/* The same digest over data given in pieces: a snapshot's root hash (every key and object hash)
 * and its observations' hash. libsodium's state when the CPU has no SHA extensions. */
struct sha256_ctx {
	crypto_hash_sha256_state sodium;
	uint32_t state[8];
	unsigned char block[64];
	size_t nblock;  /* bytes in block */
	uint64_t total; /* bytes in all */
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
void sha256_final(struct sha256_ctx *c, unsigned char out[32]);
/* Whether sha256 uses the CPU's SHA extensions (for tests and benchmarks). */
bool sha256_accelerated(void);

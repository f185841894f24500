/*
 * SHA-256 of one buffer. Every object of a snapshot is hashed (model.c obj_hash): 245,000 of them
 * for 10,000 tables. libsodium's SHA-256 is portable C; on a CPU with the SHA extensions (x86-64:
 * Intel since Goldmont and Ice Lake, AMD since Zen) the rounds run in hardware instead, several
 * times faster. Same digest either way.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

void sha256(unsigned char out[32], const void *data, size_t len);
/* Whether sha256 uses the CPU's SHA extensions (for tests and benchmarks). */
bool sha256_accelerated(void);

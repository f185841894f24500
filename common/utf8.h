/*
 * UTF-8 validation. Everything Prospector stores and sends is UTF-8; drivers convert at the edge and
 * the wire layer refuses anything else.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at p (1-4), or 0 if it is malformed. p is NUL-terminated. */
size_t utf8_seqlen(const unsigned char *p);
bool utf8_valid(const char *s);

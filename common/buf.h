/*
 * A growable byte buffer, always NUL-terminated so that text can be read from it directly. Used for
 * the canonical encoding, JSON output and SQL text. Owns its memory; buf_steal hands it over.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
char *buf_steal(struct buf *b);
void buf_add(struct buf *b, const void *data, size_t len);
/* Where the next n bytes go, with room for them and the NUL after; the caller writes them, adds n to
 * len and puts the NUL back. */
char *buf_room(struct buf *b, size_t n);
void buf_addc(struct buf *b, char c);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
void buf_add_varint(struct buf *b, uint64_t v);
/* A length-prefixed string: varint length, then the bytes. NULL is encoded as length 0 with a 0xff marker byte before it. */
void buf_add_lstr(struct buf *b, const char *s);
/* s as a JSON string literal with quotes; invalid UTF-8 bytes become U+FFFD. NULL gives null. */
void buf_add_json_str(struct buf *b, const char *s);

/* A cursor over encoded bytes; every reader returns 0 or -EBADMSG on truncated or malformed input. */
struct cursor {
	const unsigned char *p;
	const unsigned char *end;
};

int cursor_varint(struct cursor *c, uint64_t *ret_v);
/* Reads a buf_add_lstr string into a fresh allocation (*ret_s is NULL for an encoded NULL). */
int cursor_lstr(struct cursor *c, char **ret_s);
/* The same string, not copied: *ret_s points into the data (NULL for a null string), *ret_len bytes. */
int cursor_lstr_view(struct cursor *c, const char **ret_s, size_t *ret_len);

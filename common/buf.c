#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "xmalloc.h"

#define LSTR_NULL 0xff

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *buf_steal(struct buf *b)
{
	char *s = b->data ? b->data : xstrdup("");

	buf_init(b);
	return s;
}

/* The encoders call this for every field of hundreds of thousands of objects, nearly always with
 * room to spare: xgrow is only called when there is none. */
char *buf_room(struct buf *b, size_t n)
{
	if (b->cap - b->len <= n)
		xgrow(&b->data, &b->cap, b->len + n + 1, 1);
	return b->data + b->len;
}

void buf_add(struct buf *b, const void *data, size_t len)
{
	char *p = buf_room(b, len);

	if (len)
		memcpy(p, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return;
	vsnprintf(buf_room(b, (size_t)n), (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

/* Writes v as a varint at p, which has room for 10 bytes; returns the end. */
static unsigned char *varint_put(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

void buf_add_varint(struct buf *b, uint64_t v)
{
	unsigned char *p = (unsigned char *)buf_room(b, 10);

	b->len = (size_t)((char *)varint_put(p, v) - b->data);
	b->data[b->len] = '\0';
}

void buf_add_lstr(struct buf *b, const char *s)
{
	unsigned char *p;
	size_t n;

	if (!s) {
		buf_addc(b, (char)LSTR_NULL);
		return;
	}
	n = strlen(s);
	p = varint_put((unsigned char *)buf_room(b, 10 + n), n);
	memcpy(p, s, n);
	b->len = (size_t)((char *)p - b->data) + n;
	b->data[b->len] = '\0';
}

static void buf_add_json_escape(struct buf *b, unsigned char c)
{
	static const char *const esc[] = {
		['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
		['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t",
	};

	if (c < sizeof(esc) / sizeof(esc[0]) && esc[c])
		buf_adds(b, esc[c]);
	else if (c < 0x20 || c == 0x7f)
		buf_addf(b, "\\u%04x", c);
	else
		buf_addc(b, (char)c);
}

/* The length of p's longest prefix that a JSON string holds as it is: printable ASCII but '"'
 * and '\\', and whole UTF-8 sequences. Copied a run at a time, not a byte at a time: the
 * collector spells every object's attributes so. */
static size_t json_plain_len(const unsigned char *p)
{
	const unsigned char *q = p;

	for (;;) {
		size_t n;

		if (*q >= 0x20 && *q < 0x7f && *q != '"' && *q != '\\') {
			q++;
			continue;
		}
		if (*q < 0x80 || (n = utf8_seqlen(q)) == 0)
			return (size_t)(q - p);
		q += n;
	}
}

void buf_add_json_str(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '"');
	for (;;) {
		size_t n = json_plain_len(p);

		buf_add(b, p, n);
		p += n;
		if (!*p)
			break;
		if (*p < 0x80)
			buf_add_json_escape(b, *p);
		else /* not UTF-8 */
			buf_adds(b, "\xef\xbf\xbd");
		p++;
	}
	buf_addc(b, '"');
}

int cursor_varint(struct cursor *c, uint64_t *ret_v)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (c->p < c->end && shift < 64) {
		unsigned char byte = *c->p++;

		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			*ret_v = v;
			return 0;
		}
		shift += 7;
	}
	return -EBADMSG;
}

int cursor_lstr_view(struct cursor *c, const char **ret_s, size_t *ret_len)
{
	uint64_t n;

	*ret_len = 0;
	if (c->p < c->end && *c->p == LSTR_NULL) {
		c->p++;
		*ret_s = NULL;
		return 0;
	}
	if (cursor_varint(c, &n) < 0 || n > (uint64_t)(c->end - c->p))
		return -EBADMSG;
	*ret_s = (const char *)c->p;
	*ret_len = (size_t)n;
	c->p += n;
	return 0;
}

int cursor_lstr(struct cursor *c, char **ret_s)
{
	const char *s;
	size_t n;
	int r = cursor_lstr_view(c, &s, &n);

	*ret_s = r == 0 && s ? xstrndup(s, n) : NULL;
	return r;
}

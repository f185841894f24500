/* buf: JSON string literals as the CLI and the catalog spell them (whatever bytes a database
 * handed over), varints and length-prefixed strings read back by cursor. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

static void check_json(const char *in, const char *want, const char *what)
{
	struct buf b;

	buf_init(&b);
	buf_adds(&b, "x="); /* appends: what was there stays */
	buf_add_json_str(&b, in);
	is_str(b.data, want, "json: %s", what);
	is_int(b.len, strlen(want), "json: %s, its length", what);
	buf_free(&b);
}

static void test_json(void)
{
	check_json(NULL, "x=null", "NULL is null");
	check_json("", "x=\"\"", "the empty string");
	check_json("plain ASCII, 0-9 ~", "x=\"plain ASCII, 0-9 ~\"", "printable ASCII as it is");
	check_json("say \"hi\" \\ bye", "x=\"say \\\"hi\\\" \\\\ bye\"", "quote and backslash escaped");
	check_json("a\nb\tc\rd\be\ff", "x=\"a\\nb\\tc\\rd\\be\\ff\"", "the short escapes");
	check_json("\x01x\x1f\x7f", "x=\"\\u0001x\\u001f\\u007f\"", "other controls and DEL as \\u");
	check_json("员工表（人事）", "x=\"员工表（人事）\"", "Chinese as it is");
	check_json("\xf0\x9f\x98\x80 é", "x=\"\xf0\x9f\x98\x80 é\"", "four- and two-byte sequences as they are");
	/* 人事 in GBK, never converted: each byte that starts no UTF-8 sequence is U+FFFD. */
	check_json("\xc8\xcb\xca\xc2", "x=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", "GBK bytes are U+FFFD");
	check_json("ab\xe5\x91", "x=\"ab\xef\xbf\xbd\xef\xbf\xbd\"", "a sequence cut at the end");
	check_json("\xed\xa0\x80z", "x=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\"", "a surrogate is not UTF-8");
	check_json("\xc0\xaf\"", "x=\"\xef\xbf\xbd\xef\xbf\xbd\\\"\"", "an overlong '/' then a quote");
}

static void test_varint_lstr(void)
{
	static const uint64_t values[] = { 0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX };
	struct buf b;
	struct cursor c;
	bool all = true;

	buf_init(&b);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		buf_add_varint(&b, values[i]);
	buf_add_lstr(&b, "人事");
	buf_add_lstr(&b, NULL);
	buf_add_lstr(&b, "");
	c = (struct cursor){ (const unsigned char *)b.data, (const unsigned char *)b.data + b.len };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		uint64_t v;

		all = all && cursor_varint(&c, &v) == 0 && v == values[i];
	}
	ok(all, "varints read back, 0 to UINT64_MAX");
	{
		char *s1 = NULL, *s2 = (char *)"-", *s3 = NULL;

		ok(cursor_lstr(&c, &s1) == 0 && cursor_lstr(&c, &s2) == 0 && cursor_lstr(&c, &s3) == 0 &&
			   c.p == c.end,
		   "three strings read back, to the end");
		is_str(s1, "人事", "a string");
		ok(s2 == NULL, "NULL stays NULL");
		is_str(s3, "", "the empty string stays empty, not NULL");
		free(s1);
		free(s3);
	}
	/* 300 is two bytes, 0xac 0x02: the first alone is cut short. */
	c = (struct cursor){ (const unsigned char *)b.data + 5, (const unsigned char *)b.data + 6 };
	{
		uint64_t v;

		is_int(cursor_varint(&c, &v), -EBADMSG, "a varint cut short is refused");
	}
	buf_free(&b);
}

int main(void)
{
	test_json();
	test_varint_lstr();
	return done_testing();
}

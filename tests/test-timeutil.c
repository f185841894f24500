/* RFC 3339 in and out, dates and relative times. */
#include "tap.h"
#include "timeutil.h"

static void parses(const char *s, uint64_t want)
{
	uint64_t got = 0;

	ok(time_parse(s, 1800000000000ULL, &got) == 0 && got == want, "parse %s = %llu (got %llu)", s,
	   (unsigned long long)want, (unsigned long long)got);
}

int main(void)
{
	char out[32];
	uint64_t v;

	time_format_rfc3339(1795256085000ULL, out);
	is_str(out, "2026-11-21T10:14:45Z", "whole seconds");
	time_format_rfc3339(1795256085123ULL, out);
	is_str(out, "2026-11-21T10:14:45.123Z", "milliseconds");
	parses("2026-11-21T10:14:45Z", 1795256085000ULL);
	parses("2026-11-21T18:14:45+08:00", 1795256085000ULL);
	parses("2026-11-21T10:14:45.5Z", 1795256085500ULL);
	parses("2026-11-21", 1795219200000ULL);
	parses("-2h", 1800000000000ULL - 7200000ULL);
	parses("-1d", 1800000000000ULL - 86400000ULL);
	ok(time_parse("yesterday", 0, &v) < 0, "words refused");
	ok(time_parse("2026-11-21T10:14", 0, &v) < 0, "missing seconds refused");
	ok(time_parse("2026-11-21T10:14:45", 0, &v) < 0, "missing offset refused");
	ok(time_parse("-2w", 0, &v) < 0, "unknown unit refused");
	return done_testing();
}

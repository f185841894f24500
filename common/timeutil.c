#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void time_format_rfc3339(uint64_t unix_ms, char out[32])
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	if (unix_ms % 1000)
		snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(unix_ms % 1000));
	else
		snprintf(out + n, 32 - n, "Z");
}

/* "-2h", "-30m", "-7d", "-45s": that long before now. */
static int time_parse_relative(const char *s, uint64_t now_ms, uint64_t *ret_unix_ms)
{
	static const struct {
		char unit;
		uint64_t ms;
	} units[] = { { 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 } };
	char *end;
	unsigned long long n;

	if (s[0] != '-' || !isdigit((unsigned char)s[1]))
		return -EINVAL;
	n = strtoull(s + 1, &end, 10);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (end[0] == units[i].unit && end[1] == '\0') {
			uint64_t delta = n * units[i].ms;

			*ret_unix_ms = delta > now_ms ? 0 : now_ms - delta;
			return 0;
		}
	}
	return -EINVAL;
}

/* Parses the offset part: "Z", "+08:00", "-05:30". */
static int time_parse_offset(const char *s, long *ret_seconds)
{
	int hh, mm, n = 0;

	if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
		*ret_seconds = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || sscanf(s + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || s[1 + n] != '\0')
		return -EINVAL;
	*ret_seconds = (s[0] == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
	return 0;
}

int time_parse(const char *s, uint64_t now_ms, uint64_t *ret_unix_ms)
{
	struct tm tm = { 0 };
	const char *rest;
	long offset = 0;
	unsigned ms = 0;
	time_t t;

	if (s[0] == '-')
		return time_parse_relative(s, now_ms, ret_unix_ms);
	rest = strptime(s, "%Y-%m-%d", &tm);
	if (!rest)
		return -EINVAL;
	if (*rest == 'T' || *rest == 't' || *rest == ' ') {
		rest = strptime(rest + 1, "%H:%M:%S", &tm);
		if (!rest)
			return -EINVAL;
		if (*rest == '.') {
			unsigned scale = 100;

			for (rest++; isdigit((unsigned char)*rest); rest++, scale /= 10)
				ms += (unsigned)(*rest - '0') * scale;
		}
		if (time_parse_offset(rest, &offset) < 0)
			return -EINVAL;
	} else if (*rest) {
		return -EINVAL;
	}
	t = timegm(&tm);
	if (t == (time_t)-1 || t - offset < 0)
		return -EINVAL;
	*ret_unix_ms = (uint64_t)(t - offset) * 1000 + ms;
	return 0;
}

/*
 * A minimal TAP producer for the unit tests: ok(), is_str(), is_int(), done_testing(). Each test
 * file is one executable; meson reads the TAP stream.
 */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		printf("#   failed at %s:%d\n", file, line);
		tap_failed++;
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_str(got, want, ...)                                                           \
	do {                                                                             \
		const char *g_ = (got), *w_ = (want);                                    \
		if (!ok((g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0), \
			__VA_ARGS__))                                                    \
			printf("#   got: '%s'\n#   expected: '%s'\n", g_ ? g_ : "(null)", \
			       w_ ? w_ : "(null)");                                     \
	} while (0)

#define is_int(got, want, ...)                                                       \
	do {                                                                         \
		long long g_ = (long long)(got), w_ = (long long)(want);             \
		if (!ok(g_ == w_, __VA_ARGS__))                                      \
			printf("#   got: %lld\n#   expected: %lld\n", g_, w_);           \
	} while (0)

static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/* Skips the whole file with a reason (TAP "1..0 # SKIP"), unless PROSPECTOR_REQUIRE_LIVE=1 says the
 * thing skipped for must exist (CI), when it is a failure instead. */
static inline void skip_all(const char *why)
{
	const char *req = getenv("PROSPECTOR_REQUIRE_LIVE");

	if (req && strcmp(req, "1") == 0) {
		printf("Bail out! required but missing: %s\n", why);
		exit(1);
	}
	printf("1..0 # SKIP %s\n", why);
	exit(0);
}

/*
 * Time helpers: wall-clock milliseconds, a monotonic clock for schedules, and RFC 3339 UTC text,
 * the only time format users see (DESIGN §5).
 */
#pragma once

#include <stdint.h>
#include <time.h>

uint64_t time_now_ms(void);      /* wall clock, unix milliseconds */
uint64_t time_mono_ms(void);     /* monotonic, for timeouts and schedules */
/* "2026-11-21T10:31:25Z" (or with .mmm when ms % 1000 != 0 and with_ms); out must hold 32 bytes. */
void time_format_rfc3339(uint64_t unix_ms, char out[32]);
/* Accepts RFC 3339 ("2026-11-21T10:31:25Z", "+08:00" offsets, fractional seconds), a date
 * ("2026-11-21", midnight UTC) or a relative "-2h"/"-30m". 0 or -EINVAL. */
int time_parse(const char *s, uint64_t now_ms, uint64_t *ret_unix_ms);

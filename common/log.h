/*
 * The logging API: stderr while in the foreground, syslog (which journald collects) as a daemon.
 * Drivers never log (they leave a message for the source loop); everything else uses these.
 * log_warn appends strerror(errno); log_warnx does not. fatal/fatalx exit(1) and are for start-up
 * and broken invariants only, never for a database or network problem.
 */
#pragma once

#include <stdbool.h>

void log_init(const char *progname, bool foreground, bool debug);
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

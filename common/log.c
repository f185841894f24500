#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *log_progname = "prospector";
static bool log_foreground = true;
static bool log_debugging;

void log_init(const char *progname, bool foreground, bool debug)
{
	log_progname = progname;
	log_foreground = foreground;
	log_debugging = debug;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void log_vwrite(int prio, const char *fmt, va_list ap, int err)
{
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_foreground) {
		if (err)
			syslog(prio, "%s: %s", msg, strerror(err));
		else
			syslog(prio, "%s", msg);
		return;
	}
	if (err)
		fprintf(stderr, "%s: %s: %s\n", log_progname, msg, strerror(err));
	else
		fprintf(stderr, "%s: %s\n", log_progname, msg);
}

#define LOG_BODY(prio, err)                 \
	do {                                \
		va_list ap;                 \
		va_start(ap, fmt);          \
		log_vwrite(prio, fmt, ap, err); \
		va_end(ap);                 \
	} while (0)

void log_debug(const char *fmt, ...)
{
	if (log_debugging)
		LOG_BODY(LOG_DEBUG, 0);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, 0);
}

void log_warn(const char *fmt, ...)
{
	int err = errno;

	LOG_BODY(LOG_WARNING, err);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, 0);
}

void fatal(const char *fmt, ...)
{
	int err = errno;

	LOG_BODY(LOG_CRIT, err);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, 0);
	exit(1);
}

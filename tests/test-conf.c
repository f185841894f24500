/* The INI reader: sections, quoting, durations and file:line in every message. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"

struct target {
	char *name;
	unsigned interval;
	unsigned count;
	bool flag;
	uint64_t size;
};

static const struct conf_key keys[] = {
	{ "name", CONF_STRING, true, offsetof(struct target, name) },
	{ "interval", CONF_DURATION, false, offsetof(struct target, interval) },
	{ "count", CONF_UINT, false, offsetof(struct target, count) },
	{ "flag", CONF_BOOL, false, offsetof(struct target, flag) },
	{ "size", CONF_SIZE, false, offsetof(struct target, size) },
	{ NULL, 0, false, 0 },
};

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/test-conf.XXXXXX");
	int fd = mkstemp(path);

	if (write(fd, text, strlen(text)) < 0)
		abort();
	close(fd);
	return path;
}

/* Loads text and applies the first section; returns the error text ("" when fine). */
static int load_apply(const char *text, struct target *t, char *err, size_t errlen, char **ret_path)
{
	char *path = write_tmp(text);
	struct conf *c = NULL;
	int r = conf_load(path, &c);

	if (r == 0)
		r = c->nsections ? conf_apply(c, &c->sections[0], keys, t) : 0;
	snprintf(err, errlen, "%s", r ? c->error : "");
	conf_free(c);
	*ret_path = path;
	return r;
}

static void expect_error(const char *text, const char *line_and_words, const char *what)
{
	struct target t = { 0 };
	char err[600], want[300], *path;
	int r = load_apply(text, &t, err, sizeof(err), &path);

	snprintf(want, sizeof(want), "%s:%s", path, line_and_words);
	ok(r == 1 && strncmp(err, want, strlen(want)) == 0, "%s: %s", what, err);
	unlink(path);
	free(path);
	free(t.name);
}

int main(void)
{
	struct target t = { 0 };
	char err[600], *path;
	unsigned secs = 0;

	ok(load_apply("# c\n[source \"人事 db\"]\nname = \"  spaced  \"\ninterval = 5m\ncount=7\nflag = yes\nsize = 64M\n; c\n",
		      &t, err, sizeof(err), &path) == 0, "a valid file loads: %s", err);
	is_str(t.name, "  spaced  ", "quoted values keep their spaces");
	is_int(t.interval, 300, "5m is 300 seconds");
	is_int(t.count, 7, "whole numbers");
	ok(t.flag, "booleans");
	ok(t.size == 64ULL << 20, "64M is 64 MiB");
	unlink(path);
	free(path);
	free(t.name);

	expect_error("[a]\nname = x\ninterval = 5 minutes\n", "3: interval: '5 minutes' is not a duration", "bad duration names line and key");
	expect_error("[a]\nname = x\nsize = 64 MB\n", "3: size: '64 MB' is not a size like 512k, 64M or 1G",
		     "bad size names line and key");
	expect_error("[a]\nname = x\nsize = 99999999999G\n", "3: size:", "an overflowing size is refused");
	expect_error("[a]\ncount = 7\n", "1: [a]: required key 'name' is missing", "missing required key names the section line");
	expect_error("[a\nname = x\n", "1: section header is missing", "unclosed section header");
	expect_error("name = x\n", "1: 'key = value' before any [section]", "key before any section");
	expect_error("[a]\nname = x\nname = y\n", "3: name: set twice", "duplicate key");
	expect_error("[a]\nname = \"x\n", "2: name: unterminated quoted value", "unterminated quote");
	expect_error("[a]\njust words\n", "2: expected 'key = value'", "a line that is not key = value");
	expect_error("[a]\nname = \xff\xfe\n", "2: not valid UTF-8", "invalid UTF-8");

	ok(conf_parse_duration("90", &secs) == 0 && secs == 90, "plain seconds");
	ok(conf_parse_duration("2h", &secs) == 0 && secs == 7200, "hours");
	ok(conf_parse_duration("1d", &secs) == 0 && secs == 86400, "days");
	ok(conf_parse_duration("-5m", &secs) < 0, "negative refused");
	ok(conf_parse_duration("5x", &secs) < 0, "unknown unit refused");
	ok(conf_parse_duration("99999999999d", &secs) < 0, "overflow refused");
	ok(conf_load("/nonexistent/prospector.conf", &(struct conf *){ NULL }) < 0, "a missing file is -errno");
	return done_testing();
}

/* The agent's configuration: required keys, drivers, source names, scope patterns, file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

static char path[] = "/tmp/test-agent-config.XXXXXX";

static int load(const char *text, struct agent_conf **ret, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	*ret = NULL;
	return agent_conf_load(path, ret, err, errlen);
}

static void expect_error(const char *text, const char *want, const char *what)
{
	struct agent_conf *c;
	char err[600], full[300];

	snprintf(full, sizeof(full), "%s:%s", path, want);
	ok(load(text, &c, err, sizeof(err)) == 1 && strncmp(err, full, strlen(full)) == 0, "%s: %s", what, err);
	agent_conf_free(c);
}

#define AGENT "[agent]\nid = a1\ncollector = tcp://127.0.0.1:7431\n"

int main(void)
{
	struct agent_conf *c;
	char err[600];
	int fd = mkstemp(path);

	close(fd);
	ok(load(AGENT "state_dir = /tmp/x\n[source \"hr\"]\ndriver = fixture\nfixture = /tmp/f\ninterval = 10s\n"
		       "include = public.*, hr.*\nexclude = *.tmp_*\n", &c, err, sizeof(err)) == 0, "valid: %s", err);
	is_int(c->nsources, 1, "one source");
	is_int(c->sources[0].interval, 10, "interval");
	is_int(c->heartbeat, 30, "heartbeat default 30s");
	is_int(c->sources[0].timeout, 30, "timeout default 30s");
	ok(source_conf_in_scope(&c->sources[0], "public", "person"), "public.person in scope");
	ok(!source_conf_in_scope(&c->sources[0], "public", "tmp_load"), "excluded by pattern");
	ok(!source_conf_in_scope(&c->sources[0], "audit", "log"), "not included");
	agent_conf_free(c);
	ok(load(AGENT "[source \"hr\"]\ndriver = fixture\nfixture = /tmp/f\n", &c, err, sizeof(err)) == 0, "defaults");
	is_str(c->state_dir, "/var/lib/prospector", "state_dir default");
	is_int(c->sources[0].interval, 300, "interval default 5m");
	ok(c->outbox_max_bytes == 64ULL << 20 && c->outbox_max_age == 7 * 86400, "outbox bound default 64M, 7d");
	agent_conf_free(c);
	ok(load(AGENT "outbox_max_bytes = 2G\noutbox_max_age = 12h\n[source \"hr\"]\ndriver = fixture\nfixture = f\n", &c,
		err, sizeof(err)) == 0 && c->outbox_max_bytes == 2ULL << 30 && c->outbox_max_age == 43200,
	   "outbox bound set: %s", err);
	agent_conf_free(c);
	expect_error(AGENT "outbox_max_bytes = 4k\n[source \"hr\"]\ndriver = fixture\nfixture = f\n",
		     "4: outbox_max_bytes: at least 1M", "an outbox bound too small to hold a snapshot");

	expect_error("[agent]\nid = a1\n[source \"hr\"]\ndriver = fixture\nfixture = f\n", "1: [agent]: required key 'collector'",
		     "missing collector");
	expect_error(AGENT "[source \"hr\"]\ndriver = oracle\n", "4: driver 'oracle' is not known", "unknown driver");
	expect_error(AGENT "[source \"hr\"]\ndriver = fixture\n", "4: driver needs the key 'fixture'", "driver-specific key");
	expect_error(AGENT "[source \"a/b\"]\ndriver = fixture\nfixture = f\n", "4: source name 'a/b'", "path-unsafe name");
	expect_error(AGENT "[source \"hr\"]\ndriver = fixture\nfixture = f\n[source \"hr\"]\ndriver = fixture\nfixture = g\n",
		     "7: source 'hr' is defined twice", "duplicate source");
	expect_error(AGENT "[source \"hr\"]\ndriver = fixture\nfixture = f\ninterval = often\n", "7: interval: 'often'",
		     "bad interval");
	expect_error(AGENT, "1: no [source", "no sources");
	expect_error(AGENT "[sauce \"hr\"]\n", "4: unexpected section [sauce]", "unknown section");
	unlink(path);
	return done_testing();
}

/* The agent's configuration: required keys, drivers, source names, scope patterns, file:line;
 * passwords refused in conninfo and read from a private secrets file only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "keys.h"
#include "redact.h"
#include "secrets.h"
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

/* Relative key paths: main() works in a temporary directory where it wrote them. */
#define AGENT "[agent]\nid = a1\ncollector = tcp://127.0.0.1:7431\ncurve_secret_key = agent.key\n" \
	      "collector_public_key = collector.pub\n"
#define SECRET "Sw0rdfish-Secret"

static char secrets_path[] = "/tmp/test-agent-secrets.XXXXXX";

/* A conninfo that sets a password: refused at the conninfo's line, naming the key, never the value. */
static void expect_refused(const char *driver, const char *conninfo, const char *key)
{
	char text[600], want[300], err[600];
	struct agent_conf *c;

	snprintf(text, sizeof(text), AGENT "[source \"hr\"]\ndriver = %s\ninterval = 1m\nconninfo = %s\n", driver,
		 conninfo);
	snprintf(want, sizeof(want), "%s:9: source hr: conninfo must not hold a password (%s", path, key);
	ok(load(text, &c, err, sizeof(err)) == 1 && strncmp(err, want, strlen(want)) == 0, "%s: %s refused: %s",
	   driver, key, err);
	ok(!strstr(err, SECRET) && strstr(err, "secrets file"), "%s: %s: the message names no value, and the way out",
	   driver, key);
	agent_conf_free(c);
}

static void expect_accepted(const char *driver, const char *conninfo)
{
	char text[600], err[600] = "";
	struct agent_conf *c;

	snprintf(text, sizeof(text), AGENT "[source \"hr\"]\ndriver = %s\nconninfo = %s\n", driver, conninfo);
	ok(load(text, &c, err, sizeof(err)) == 0, "%s: %s holds no password: %s", driver, conninfo, err);
	agent_conf_free(c);
}

static void check_conninfo_passwords(void)
{
	expect_refused("pg", "host=db user=u password=" SECRET, "password=");
	expect_refused("pg", "host=db PASSWORD = '" SECRET " x' user=u", "PASSWORD=");
	expect_refused("pg", "host=db application_name='a b' Password=\"" SECRET, "Password=");
	expect_refused("pg", "postgresql://u:" SECRET "@db:5432/hr", "user:…@ in the URI");
	expect_refused("pg", "postgres://u@db/hr?sslmode=require&password=" SECRET, "password=");
	expect_refused("mysql", "host=db user=u password='" SECRET "' option_file=/x", "password=");
	expect_refused("mysql", "host=db passwd=" SECRET, "passwd=");
	expect_refused("odbc", "DSN=hr;UID=u;PWD=" SECRET ";", "PWD=");
	expect_refused("odbc", "Driver={PostgreSQL Unicode};Server=db; password = {" SECRET ";}}x};", "password=");
	expect_refused("odbc", "Driver=x;Pwd=" SECRET, "Pwd=");
	expect_accepted("pg", "host=db user=u passfile=/etc/prospector/pgpass");
	expect_accepted("pg", "host=db application_name='password=x' user=u");
	expect_accepted("pg", "postgresql://u@db:5432/hr?sslmode=require");
	expect_accepted("mysql", "host=db user=u option_file=/etc/prospector/my.cnf option_group=client");
	expect_accepted("odbc", "Driver={Name;PWD=x};Database=db;UID=u;");
	expect_accepted("odbc", "DSN=hr;");
}

static void write_secrets(const char *text, mode_t mode)
{
	FILE *f = fopen(secrets_path, "w");

	fputs(text, f);
	fclose(f);
	chmod(secrets_path, mode);
}

/* An agent.conf whose secrets_file is line 6, with two pg sources: hr (line 8) and fin (line 11). */
static int load_with_secrets(struct agent_conf **ret, char *err, size_t errlen)
{
	char text[600];

	snprintf(text, sizeof(text), AGENT "secrets_file = %s\n\n[source \"hr\"]\ndriver = pg\nconninfo = host=db user=u\n"
		 "[source \"fin\"]\ndriver = pg\nconninfo = host=db\n", secrets_path);
	return load(text, ret, err, errlen);
}

static void expect_secrets_error(const char *want_fmt, const char *what)
{
	struct agent_conf *c;
	char err[600], want[300];

	snprintf(want, sizeof(want), want_fmt, path, secrets_path);
	ok(load_with_secrets(&c, err, sizeof(err)) == 1 && strncmp(err, want, strlen(want)) == 0, "%s: %s", what, err);
	ok(!strstr(err, SECRET), "%s: no password in the message", what);
	agent_conf_free(c);
}

static void check_secrets_file(void)
{
	struct agent_conf *c;
	char err[600], msg[200];
	int fd = mkstemp(secrets_path);

	close(fd);
	write_secrets("# the sources' passwords\n[source \"hr\"]\npassword = " SECRET "\n"
		      "[source \"gone\"]\npassword = Other-Secret-1\n", 0600);
	ok(load_with_secrets(&c, err, sizeof(err)) == 0, "a 0600 secrets file loads: %s", err);
	is_str(c->sources[0].password, SECRET, "hr's password comes from it");
	ok(c->sources[1].password == NULL, "fin has none: libpq's password file, if any");
	snprintf(msg, sizeof(msg), "cannot connect: FATAL: role u (password " SECRET ") refused");
	redact_secrets(msg);
	is_str(msg, "cannot connect: FATAL: role u (password ***) refused", "the password is registered for redaction");
	agent_conf_free(c);
	redact_forget_all();

	write_secrets("[source \"hr\"]\npassword = \" " SECRET " \"\n", 0400);
	ok(load_with_secrets(&c, err, sizeof(err)) == 0 && strcmp(c->sources[0].password, " " SECRET " ") == 0,
	   "0400 will do; a quoted password keeps its spaces: %s", err);
	agent_conf_free(c);
	redact_forget_all();

	write_secrets("[source \"hr\"]\npassword = " SECRET "\n", 0644);
	expect_secrets_error("%s:6: secrets_file %s: mode 0644: readable by others; chmod 600 it", "mode 0644 refused");
	write_secrets("[source \"hr\"]\npassword = " SECRET "\n", 0640);
	expect_secrets_error("%s:6: secrets_file %s: mode 0640: readable by its group; chmod 600 it", "mode 0640 refused");
	write_secrets("[source \"hr\"]\npassword = " SECRET "\n", 0602);
	expect_secrets_error("%s:6: secrets_file %s: mode 0602: open to others; chmod 600 it", "mode 0602 refused");
	write_secrets("[agent]\npassword = " SECRET "\n", 0600);
	expect_secrets_error("%2$s:1: unexpected section [agent]", "a section other than [source] refused");
	write_secrets("[source \"hr\"]\npasword = " SECRET "\n", 0600);
	expect_secrets_error("%2$s:1: [source \"hr\"]: required key 'password' is missing", "a section without password");
	write_secrets("[source \"hr\"]\npassword = \"\"\n", 0600);
	expect_secrets_error("%2$s:2: [source \"hr\"]: the password is empty", "an empty password");
	write_secrets("[source \"hr\"]\n" SECRET "\n", 0600);
	expect_secrets_error("%2$s:2: expected 'key = value'", "a line that is not key = value");
	unlink(secrets_path);
	expect_secrets_error("%s:6: secrets_file %s: No such file or directory", "a missing secrets file");
	mkdir(secrets_path, 0700);
	expect_secrets_error("%s:6: secrets_file %s: not a regular file", "a directory");
	rmdir(secrets_path);
}

static void expect_odbc(const char *conninfo, const char *password, const char *want)
{
	char *s = secrets_odbc_conninfo(conninfo, password);

	is_str(s, want, "ODBC: \"%s\" + PWD \"%s\"", conninfo, password);
	redact_secrets(s);
	ok(!strstr(s, password), "and redact_secrets hides all of it: %s", s);
	secrets_free(s);
}

/* '}' doubled inside braces: psqlODBC and MariaDB Connector/ODBC read such a value back exactly. */
static void check_odbc_braces(void)
{
	expect_odbc("DSN=hr", "a}b;c{d=e f", "DSN=hr;PWD={a}}b;c{d=e f};");
	expect_odbc("DSN=hr;", "plain-pass", "DSN=hr;PWD={plain-pass};");
	expect_odbc("", "plain-pass", "PWD={plain-pass};");
	expect_odbc("Driver={X};", "}}{{", "Driver={X};PWD={}}}}{{};");
	expect_odbc("DSN=hr;", " spaced ", "DSN=hr;PWD={ spaced };");
}

static void check_file_private(void)
{
	char err[300];

	ok(secrets_file_private("/nonexistent/x", err, sizeof(err)) < 0, "a missing file: -errno");
	write_secrets("x", 0600);
	is_int(secrets_file_private(secrets_path, err, sizeof(err)), 0, "0600 is private");
	write_secrets("x", 0660);
	ok(secrets_file_private(secrets_path, err, sizeof(err)) == 1 && strstr(err, "mode 0660: readable by its group"),
	   "0660 is not: %s", err);
	unlink(secrets_path);
}

int main(void)
{
	struct agent_conf *c;
	char err[600] = "";
	char keydir[] = "/tmp/test-agent-config-keys.XXXXXX";
	struct curve_key k, server;
	int fd = mkstemp(path);

	close(fd);
	if (!mkdtemp(keydir) || chdir(keydir) != 0 || keys_generate(&k) != 0 || keys_generate(&server) != 0 ||
	    keys_write("agent", &k, NULL, err, sizeof(err)) != 0 || keys_write("collector", &server, NULL, err, sizeof(err)) != 0)
		skip_all("cannot write key files");
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
		     "6: outbox_max_bytes: at least 1M", "an outbox bound too small to hold a snapshot");

	expect_error("[agent]\nid = a1\n[source \"hr\"]\ndriver = fixture\nfixture = f\n", "1: [agent]: required key 'collector'",
		     "missing collector");
	expect_error(AGENT "[source \"hr\"]\ndriver = oracle\n", "6: driver 'oracle' is not known", "unknown driver");
	expect_error(AGENT "[source \"hr\"]\ndriver = fixture\n", "6: driver needs the key 'fixture'", "driver-specific key");
	expect_error(AGENT "[source \"a/b\"]\ndriver = fixture\nfixture = f\n", "6: source name 'a/b'", "path-unsafe name");
	expect_error(AGENT "[source \"hr\"]\ndriver = fixture\nfixture = f\n[source \"hr\"]\ndriver = fixture\nfixture = g\n",
		     "9: source 'hr' is defined twice", "duplicate source");
	expect_error(AGENT "[source \"hr\"]\ndriver = fixture\nfixture = f\ninterval = often\n", "9: interval: 'often'",
		     "bad interval");
	expect_error(AGENT, "1: no [source", "no sources");
	expect_error(AGENT "[sauce \"hr\"]\n", "6: unexpected section [sauce]", "unknown section");
	check_conninfo_passwords();
	check_secrets_file();
	check_file_private();
	check_odbc_braces();
	unlink(path);
	return done_testing();
}

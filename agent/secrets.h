/*
 * Database passwords: where they may come from. Never from agent.conf: a conninfo that holds one is
 * refused at load (secrets_in_conninfo). They come from files only their owner can read: the
 * agent's own secrets file (secrets_file in [agent]), ~/.pgpass or the file PGPASSFILE names (pg),
 * a MySQL option file (mysql); secrets_file_private() is the check they all get.
 *
 * The secrets file is read with common/conf:
 *
 *     [source "hr"]
 *     password = s3cret         # "quoted" to keep leading or trailing spaces
 *
 * Each password lands in its source_conf (owned there, wiped when freed) and is registered with
 * common/redact, so that no message can carry it out. Drivers take it from source_conf.password and
 * hand it to their client library apart from the conninfo: never in a string that is logged.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct agent_conf;

/* True when the driver's conninfo sets a password; ret_key says how ("password=…", "PWD=…",
 * "user:…@ in the URI"), never with the value. Drivers without a conninfo never have one. */
bool secrets_in_conninfo(const char *driver, const char *conninfo, char *ret_key, size_t keylen);
/* What the driver's users are told, after the secrets file, about where a password may also go:
 * ", or in ~/.pgpass … (mode 0600)". "" for a driver that takes no password. */
const char *secrets_hint(const char *driver);
/*
 * Checks that path is a regular file that neither its group nor others may access at all.
 * 0 when it is; -errno when it cannot be examined (the caller decides whether a missing file
 * matters); 1 with "PATH: mode 0644: readable by others; chmod 600 it" in err (errlen bytes).
 */
int secrets_file_private(const char *path, char *err, size_t errlen);
/* 1 with a message in err when the environment variable var (a client library's password variable:
 * PGPASSWORD, MYSQL_PWD) is set and not empty, else 0. The library would take the password from the
 * environment, which is no 0600 file; callers ask only when no secrets-file password overrides it. */
int secrets_env_refused(const char *var, char *err, size_t errlen);
/* Reads the agent's secrets file into the passwords of conf's sources and registers each with
 * redact. line is secrets_file's line in conf->path. 0, or 1 with a message in err. */
int secrets_load(struct agent_conf *conf, const char *path, unsigned line, char *err, size_t errlen);
/*
 * An ODBC connection string plus "PWD={password};", '}' doubled as ODBC braces a value (psqlODBC and
 * MariaDB Connector/ODBC read it back exactly, ';', '{', '=' and spaces included), in one allocation
 * of the exact size: a growing buffer would leave copies of the password in memory it gave back.
 * Free it with secrets_free.
 */
char *secrets_odbc_conninfo(const char *conninfo, const char *password);
/* Wipes and frees a password, or a string that holds one; NULL is a no-op. */
void secrets_free(char *password);

#include "secrets.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "conf.h"
#include "config.h"
#include "log.h"
#include "redact.h"
#include "xmalloc.h"

/* Keys that carry a password in any conninfo syntax, any case. libpq knows only "password", the mysql
 * driver likewise, ODBC drivers "PWD" or "Password"; a variant in the wrong case is refused too,
 * rather than left for a driver to reject with a message that would not say why. */
static const char *const secrets_keys[] = { "password", "passwd", "pwd" };

static bool secrets_is_key(const char *key, size_t len)
{
	for (size_t i = 0; i < sizeof(secrets_keys) / sizeof(secrets_keys[0]); i++)
		if (strlen(secrets_keys[i]) == len && strncasecmp(secrets_keys[i], key, len) == 0)
			return true;
	return false;
}

static bool secrets_found(const char *key, size_t len, char *ret_key, size_t keylen)
{
	snprintf(ret_key, keylen, "%.*s=…", (int)(len > 32 ? 32 : len), key);
	return true;
}

#define SPACE " \t\r\n"

/* Past a libpq-style value: 'quoted' or bare up to white space, '\' escaping the next byte. */
static const char *secrets_kv_value_end(const char *s)
{
	bool quoted = *s == '\'';

	for (s += quoted; *s && (quoted ? *s != '\'' : !strchr(SPACE, *s)); s++)
		if (*s == '\\' && s[1])
			s++;
	return *s == '\'' ? s + 1 : s;
}

/* "key = value key='value'": libpq's keyword form, which the mysql driver shares. A token that is
 * not key=value is stepped over: the driver reports the syntax, this only looks for passwords. */
static bool secrets_kv_scan(const char *s, char *ret_key, size_t keylen)
{
	while (*(s += strspn(s, SPACE))) {
		const char *key = s;
		size_t len = strcspn(s, "=" SPACE);

		s += len;
		s += strspn(s, SPACE);
		if (*s != '=')
			continue;
		if (len && secrets_is_key(key, len))
			return secrets_found(key, len, ret_key, keylen);
		s++;
		s += strspn(s, SPACE);
		s = secrets_kv_value_end(s);
	}
	return false;
}

/* A libpq URI: "postgresql://user:password@host/db?password=…". */
static bool secrets_uri_scan(const char *s, char *ret_key, size_t keylen)
{
	const char *auth = strstr(s, "://") + 3, *end = auth + strcspn(auth, "/?"), *at = NULL, *q;

	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at && memchr(auth, ':', (size_t)(at - auth))) {
		snprintf(ret_key, keylen, "user:…@ in the URI");
		return true;
	}
	for (q = strchr(end, '?'); q && *q; q += strcspn(q, "&")) {
		size_t len;

		q += *q == '?' || *q == '&';
		len = strcspn(q, "=&");
		if (q[len] == '=' && secrets_is_key(q, len))
			return secrets_found(q, len, ret_key, keylen);
	}
	return false;
}

static bool secrets_pg_scan(const char *s, char *ret_key, size_t keylen)
{
	if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0)
		return secrets_uri_scan(s, ret_key, keylen);
	return secrets_kv_scan(s, ret_key, keylen);
}

/* Past an ODBC value: {braced} ("}}" a literal brace) or up to the next ';'. */
static const char *secrets_odbc_value_end(const char *s)
{
	if (*s != '{')
		return s + strcspn(s, ";");
	for (s++; *s; s++) {
		if (s[0] == '}' && s[1] == '}')
			s++;
		else if (*s == '}')
			return s + 1;
	}
	return s;
}

/* "key=value;key={va;lue}", keys trimmed of spaces. */
static bool secrets_odbc_scan(const char *s, char *ret_key, size_t keylen)
{
	while (*s) {
		const char *key, *eq;
		size_t len;

		s += strspn(s, "; ");
		key = s;
		len = strcspn(s, "=;");
		eq = s + len;
		if (*eq != '=') {
			s = eq;
			continue;
		}
		while (len && key[len - 1] == ' ')
			len--;
		if (secrets_is_key(key, len))
			return secrets_found(key, len, ret_key, keylen);
		s = secrets_odbc_value_end(eq + 1 + strspn(eq + 1, " "));
	}
	return false;
}

/* The drivers that take a password, how their conninfo reads, and where else a password may live. */
static const struct secrets_driver {
	const char *driver;
	bool (*scan)(const char *conninfo, char *ret_key, size_t keylen);
	const char *hint;
} secrets_drivers[] = {
	{ "pg", secrets_pg_scan, ", or in ~/.pgpass or PGPASSFILE's file (mode 0600)" },
	{ "mysql", secrets_kv_scan, ", or as password= in the option_file (mode 0600)" },
	{ "odbc", secrets_odbc_scan, "; it is added as PWD={…} when connecting" },
};

static const struct secrets_driver *secrets_driver(const char *driver)
{
	for (size_t i = 0; driver && i < sizeof(secrets_drivers) / sizeof(secrets_drivers[0]); i++)
		if (strcmp(secrets_drivers[i].driver, driver) == 0)
			return &secrets_drivers[i];
	return NULL;
}

bool secrets_in_conninfo(const char *driver, const char *conninfo, char *ret_key, size_t keylen)
{
	const struct secrets_driver *d = secrets_driver(driver);

	return d && conninfo && d->scan(conninfo, ret_key, keylen);
}

const char *secrets_hint(const char *driver)
{
	const struct secrets_driver *d = secrets_driver(driver);

	return d ? d->hint : "";
}

int secrets_file_private(const char *path, char *err, size_t errlen)
{
	struct stat st;
	mode_t bits;
	bool others;

	if (stat(path, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return 1;
	}
	bits = st.st_mode & (S_IRWXG | S_IRWXO);
	if (!bits)
		return 0;
	others = bits & S_IRWXO; /* the wider audience is the one named */
	snprintf(err, errlen, "%s: mode %04o: %s %s; chmod 600 it", path, (unsigned)(st.st_mode & 07777),
		 bits & (others ? S_IROTH : S_IRGRP) ? "readable by" : "open to", others ? "others" : "its group");
	return 1;
}

int secrets_env_refused(const char *var, char *err, size_t errlen)
{
	const char *v = getenv(var);

	if (!v || !*v)
		return 0;
	snprintf(err, errlen, "%s is set in the agent's environment: passwords come only from files of mode 0600 "
		 "(the agent's secrets file); unset it", var);
	return 1;
}

char *secrets_odbc_conninfo(const char *conninfo, const char *password)
{
	size_t n = strlen(conninfo);
	char *s = xmalloc(n + 1 + 5 + 2 * strlen(password) + 2 + 1), *w = s;

	memcpy(w, conninfo, n);
	w += n;
	if (n && conninfo[n - 1] != ';')
		*w++ = ';';
	memcpy(w, "PWD={", 5);
	w += 5;
	for (const char *p = password; *p; p++) {
		if (*p == '}')
			*w++ = '}';
		*w++ = *p;
	}
	memcpy(w, "};", 3);
	return s;
}

void secrets_free(char *password)
{
	if (!password)
		return;
	sodium_memzero(password, strlen(password));
	free(password);
}

static struct source_conf *secrets_source(struct agent_conf *ac, const char *name)
{
	for (size_t i = 0; name && i < ac->nsources; i++)
		if (strcmp(ac->sources[i].name, name) == 0)
			return &ac->sources[i];
	return NULL;
}

struct secrets_section {
	char *password;
};

static const struct conf_key secrets_source_keys[] = {
	{ "password", CONF_STRING, true, offsetof(struct secrets_section, password) },
	{ NULL, 0, false, 0 },
};

/* One [source "NAME"] section; a source agent.conf does not have is warned about and skipped, so
 * that a secrets file shared by several configurations, or outliving a source, stops nothing. */
static int secrets_section(struct conf *c, const struct conf_section *s, struct agent_conf *ac, char *err,
			   size_t errlen)
{
	struct secrets_section sec = { NULL };
	struct source_conf *sc;

	if (strcmp(s->type, "source") != 0 || !s->name) {
		snprintf(err, errlen, "%s:%u: unexpected section [%s]; expected [source \"name\"] with password = …",
			 c->path, s->line, s->type);
		return 1;
	}
	if (conf_apply(c, s, secrets_source_keys, &sec)) {
		snprintf(err, errlen, "%s", c->error);
		secrets_free(sec.password);
		return 1;
	}
	sc = secrets_source(ac, s->name);
	if (!sc)
		log_warnx("%s:%u: no source \"%s\" in %s; its password is not used", c->path, s->line, s->name,
			  ac->path);
	if (sc && !*sec.password) {
		snprintf(err, errlen, "%s:%u: [source \"%s\"]: the password is empty", c->path,
			 conf_key_line(s, "password"), s->name);
		secrets_free(sec.password);
		return 1;
	}
	if (sc) {
		secrets_free(sc->password);
		sc->password = sec.password;
		redact_register(sc->password);
	} else {
		secrets_free(sec.password);
	}
	return 0;
}

/* conf_free does not wipe what it frees; the secrets file's values are wiped here first. */
static void secrets_conf_free(struct conf *c)
{
	for (size_t i = 0; c && i < c->nsections; i++)
		for (size_t j = 0; j < c->sections[i].nentries; j++)
			sodium_memzero(c->sections[i].entries[j].value, strlen(c->sections[i].entries[j].value));
	conf_free(c);
}

int secrets_load(struct agent_conf *ac, const char *path, unsigned line, char *err, size_t errlen)
{
	char why[400];
	struct conf *c = NULL;
	int r = secrets_file_private(path, why, sizeof(why));

	if (r < 0) {
		snprintf(err, errlen, "%s:%u: secrets_file %s: %s", ac->path, line, path, strerror(-r));
		return 1;
	}
	if (r > 0) {
		snprintf(err, errlen, "%s:%u: secrets_file %s", ac->path, line, why);
		return 1;
	}
	r = conf_load(path, &c);
	if (r < 0)
		snprintf(err, errlen, "%s:%u: secrets_file %s: cannot read: %s", ac->path, line, path, strerror(-r));
	else if (r > 0)
		snprintf(err, errlen, "%s", c->error);
	for (size_t i = 0; r == 0 && i < c->nsections; i++)
		r = secrets_section(c, &c->sections[i], ac, err, errlen);
	secrets_conf_free(c);
	return r ? 1 : 0;
}

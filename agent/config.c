#include "config.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "driver.h"
#include "secrets.h"
#include "xmalloc.h"

#define DEFAULT_STATE_DIR "/var/lib/prospector"
#define DEFAULT_INTERVAL 300
#define DEFAULT_TIMEOUT 30
#define DEFAULT_HEARTBEAT 30
#define DEFAULT_MAX_BATCH (1024 * 1024)
#define DEFAULT_SPLAY 10
#define DEFAULT_MASS_DROP_PERCENT 50
#define DEFAULT_OUTBOX_MAX_BYTES (64ULL << 20)
#define DEFAULT_OUTBOX_MAX_AGE (7 * 86400)
#define MIN_OUTBOX_MAX_BYTES (1ULL << 20)

static const struct conf_key agent_keys[] = {
	{ "id", CONF_STRING, true, offsetof(struct agent_conf, id) },
	{ "collector", CONF_STRING, true, offsetof(struct agent_conf, collector) },
	{ "state_dir", CONF_STRING, false, offsetof(struct agent_conf, state_dir) },
	{ "heartbeat", CONF_DURATION, false, offsetof(struct agent_conf, heartbeat) },
	{ "max_batch_bytes", CONF_UINT, false, offsetof(struct agent_conf, max_batch_bytes) },
	{ "splay", CONF_DURATION, false, offsetof(struct agent_conf, splay) },
	{ "outbox_max_bytes", CONF_SIZE, false, offsetof(struct agent_conf, outbox_max_bytes) },
	{ "outbox_max_age", CONF_DURATION, false, offsetof(struct agent_conf, outbox_max_age) },
	{ "secrets_file", CONF_STRING, false, offsetof(struct agent_conf, secrets_file) },
	{ "curve_secret_key", CONF_STRING, true, offsetof(struct agent_conf, curve_secret_key) },
	{ "collector_public_key", CONF_STRING, true, offsetof(struct agent_conf, collector_public_key) },
	{ NULL, 0, false, 0 },
};

static const struct conf_key source_keys[] = {
	{ "driver", CONF_STRING, true, offsetof(struct source_conf, driver) },
	{ "conninfo", CONF_STRING, false, offsetof(struct source_conf, conninfo) },
	{ "interval", CONF_DURATION, false, offsetof(struct source_conf, interval) },
	{ "timeout", CONF_DURATION, false, offsetof(struct source_conf, timeout) },
	{ "department", CONF_STRING, false, offsetof(struct source_conf, department) },
	{ "system", CONF_STRING, false, offsetof(struct source_conf, system) },
	{ "include", CONF_LIST, false, offsetof(struct source_conf, include) },
	{ "exclude", CONF_LIST, false, offsetof(struct source_conf, exclude) },
	{ "fixture", CONF_STRING, false, offsetof(struct source_conf, fixture) },
	{ "mass_drop_percent", CONF_UINT, false, offsetof(struct source_conf, mass_drop_percent) },
	{ NULL, 0, false, 0 },
};

/* What each driver needs besides the common keys: a driver-specific required key. */
static const struct {
	const char *driver;
	const char *key;
	size_t offset;
} driver_requires[] = {
	{ "pg", "conninfo", offsetof(struct source_conf, conninfo) },
	{ "mysql", "conninfo", offsetof(struct source_conf, conninfo) },
	{ "odbc", "conninfo", offsetof(struct source_conf, conninfo) },
	{ "fixture", "fixture", offsetof(struct source_conf, fixture) },
};

static int conf_error(char *err, size_t errlen, const char *path, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int conf_error(char *err, size_t errlen, const char *path, unsigned line, const char *fmt, ...)
{
	char text[500];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%u: %s", path, line, text);
	return 1;
}

/* Source names become the first component of every path, so they must be path-safe. */
static bool source_name_valid(const char *name)
{
	return *name && strlen(name) <= 64 && !strpbrk(name, "/.#:* ?\t\n");
}

static int source_check(const struct agent_conf *ac, const struct source_conf *sc, char *err, size_t errlen)
{
	if (!source_name_valid(sc->name))
		return conf_error(err, errlen, ac->path, sc->line,
				  "source name '%s' must be 1-64 characters without '/', '.', '#', ':', '*', '?' or spaces",
				  sc->name);
	if (!driver_lookup(sc->driver))
		return driver_error(sc->driver)
			       ? conf_error(err, errlen, ac->path, sc->line, "driver '%s' cannot be loaded: %s",
					    sc->driver, driver_error(sc->driver))
			       : conf_error(err, errlen, ac->path, sc->line,
					    "driver '%s' is not known; this build has: %s", sc->driver, driver_names());
	for (size_t i = 0; i < sizeof(driver_requires) / sizeof(driver_requires[0]); i++) {
		const char *v = *(char **)((char *)sc + driver_requires[i].offset);

		if (strcmp(driver_requires[i].driver, sc->driver) == 0 && !v)
			return conf_error(err, errlen, ac->path, sc->line, "driver needs the key '%s'", driver_requires[i].key);
	}
	for (size_t i = 0; i < ac->nsources; i++)
		if (&ac->sources[i] != sc && strcmp(ac->sources[i].name, sc->name) == 0)
			return conf_error(err, errlen, ac->path, sc->line, "source '%s' is defined twice", sc->name);
	if (sc->interval == 0)
		return conf_error(err, errlen, ac->path, sc->line, "%s: interval must be at least 1s", sc->name);
	if (sc->mass_drop_percent > 100)
		return conf_error(err, errlen, ac->path, sc->line, "%s: mass_drop_percent is a percentage, 0 to 100",
				  sc->name);
	return 0;
}

/* The value is not quoted: the message may be read by anyone who can read the agent's log. */
static int source_conninfo_check(const struct agent_conf *ac, const struct source_conf *sc, unsigned line, char *err,
				 size_t errlen)
{
	char key[64];

	if (!secrets_in_conninfo(sc->driver, sc->conninfo, key, sizeof(key)))
		return 0;
	return conf_error(err, errlen, ac->path, line,
			  "source %s: conninfo must not hold a password (%s): put it in the secrets file "
			  "(secrets_file in [agent]; in it [source \"%s\"] password = …; mode 0600)%s",
			  sc->name, key, sc->name, secrets_hint(sc->driver));
}

static int agent_conf_source(struct conf *c, const struct conf_section *s, struct agent_conf *ac, char *err, size_t errlen)
{
	struct source_conf *sc;

	if (!s->name)
		return conf_error(err, errlen, c->path, s->line, "a source section needs a name: [source \"%s\"]", "hr");
	ac->sources = xreallocarray(ac->sources, ac->nsources + 1, sizeof(*ac->sources));
	sc = &ac->sources[ac->nsources++];
	memset(sc, 0, sizeof(*sc));
	sc->name = xstrdup(s->name);
	sc->line = s->line;
	sc->interval = DEFAULT_INTERVAL;
	sc->timeout = DEFAULT_TIMEOUT;
	sc->mass_drop_percent = DEFAULT_MASS_DROP_PERCENT;
	if (conf_apply(c, s, source_keys, sc)) {
		snprintf(err, errlen, "%s", c->error);
		return 1;
	}
	if (source_check(ac, sc, err, errlen))
		return 1;
	return source_conninfo_check(ac, sc, conf_key_line(s, "conninfo"), err, errlen);
}

/* An outbox bound below a snapshot's worth would turn every change into a full resync. */
/* The agent's CURVE key pair (a 0600 file) and the collector's public key, loaded now so that -n
 * reports a key file that is missing, malformed or readable by others. */
static int agent_keys_load(const struct conf_section *s, struct agent_conf *ac, char *err, size_t errlen)
{
	char why[512];

	if (keys_load_secret(ac->curve_secret_key, &ac->key, why, sizeof(why)) != 0)
		return conf_error(err, errlen, ac->path, conf_key_line(s, "curve_secret_key"), "curve_secret_key: %s",
				  why);
	if (keys_load_public(ac->collector_public_key, ac->collector_key, why, sizeof(why)) != 0)
		return conf_error(err, errlen, ac->path, conf_key_line(s, "collector_public_key"),
				  "collector_public_key: %s", why);
	return 0;
}

static int agent_section_check(const struct conf_section *s, struct agent_conf *ac, char *err, size_t errlen)
{
	if (ac->outbox_max_bytes < MIN_OUTBOX_MAX_BYTES)
		return conf_error(err, errlen, ac->path, conf_key_line(s, "outbox_max_bytes"),
				  "outbox_max_bytes: at least %s", "1M");
	if (ac->outbox_max_age < 60)
		return conf_error(err, errlen, ac->path, conf_key_line(s, "outbox_max_age"),
				  "outbox_max_age: at least %s", "1m");
	return agent_keys_load(s, ac, err, errlen);
}

static int agent_conf_sections(struct conf *c, struct agent_conf *ac, char *err, size_t errlen)
{
	const struct conf_section *agent = NULL;

	for (size_t i = 0; i < c->nsections; i++) {
		const struct conf_section *s = &c->sections[i];
		int r;

		if (strcmp(s->type, "agent") == 0 && !agent) {
			agent = s;
			r = conf_apply(c, s, agent_keys, ac);
			if (r)
				snprintf(err, errlen, "%s", c->error);
			else
				r = agent_section_check(s, ac, err, errlen);
		} else if (strcmp(s->type, "source") == 0) {
			r = agent_conf_source(c, s, ac, err, errlen);
		} else {
			r = conf_error(err, errlen, c->path, s->line, "unexpected section [%s]; expected [agent] once and [source \"name\"]", s->type);
		}
		if (r)
			return r;
	}
	if (!agent)
		return conf_error(err, errlen, c->path, 1, "no [agent] section");
	if (ac->nsources == 0)
		return conf_error(err, errlen, c->path, 1, "no [source \"name\"] section: nothing to probe");
	if (ac->secrets_file)
		return secrets_load(ac, ac->secrets_file, conf_key_line(agent, "secrets_file"), err, errlen);
	return 0;
}

int agent_conf_load(const char *path, struct agent_conf **ret_conf, char *err, size_t errlen)
{
	struct agent_conf *ac;
	struct conf *c = NULL;
	int r = conf_load(path, &c);

	if (r < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-r));
		conf_free(c);
		return 1;
	}
	if (r > 0) {
		snprintf(err, errlen, "%s", c->error);
		conf_free(c);
		return 1;
	}
	ac = xcalloc(1, sizeof(*ac));
	ac->path = xstrdup(path);
	ac->heartbeat = DEFAULT_HEARTBEAT;
	ac->max_batch_bytes = DEFAULT_MAX_BATCH;
	ac->splay = DEFAULT_SPLAY;
	ac->outbox_max_bytes = DEFAULT_OUTBOX_MAX_BYTES;
	ac->outbox_max_age = DEFAULT_OUTBOX_MAX_AGE;
	r = agent_conf_sections(c, ac, err, errlen);
	conf_free(c);
	if (r) {
		agent_conf_free(ac);
		return r;
	}
	if (!ac->state_dir)
		ac->state_dir = xstrdup(DEFAULT_STATE_DIR);
	*ret_conf = ac;
	return 0;
}

static void source_conf_clear(struct source_conf *sc)
{
	free(sc->name);
	free(sc->driver);
	free(sc->conninfo);
	secrets_free(sc->password);
	free(sc->department);
	free(sc->system);
	free(sc->include);
	free(sc->exclude);
	free(sc->fixture);
}

void agent_conf_free(struct agent_conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->nsources; i++)
		source_conf_clear(&conf->sources[i]);
	free(conf->sources);
	free(conf->path);
	free(conf->id);
	free(conf->collector);
	free(conf->state_dir);
	free(conf->secrets_file);
	free(conf->curve_secret_key);
	free(conf->collector_public_key);
	keys_wipe(&conf->key);
	free(conf);
}

/* True when name matches one of the comma-separated patterns (surrounding spaces ignored). */
static bool patterns_match(const char *patterns, const char *name)
{
	char *list = xstrdup(patterns), *save = NULL;
	bool hit = false;

	for (char *p = strtok_r(list, ",", &save); p && !hit; p = strtok_r(NULL, ",", &save)) {
		while (*p == ' ')
			p++;
		for (char *e = p + strlen(p); e > p && e[-1] == ' ';)
			*--e = '\0';
		hit = fnmatch(p, name, 0) == 0;
	}
	free(list);
	return hit;
}

bool source_conf_in_scope(const struct source_conf *conf, const char *schema, const char *table)
{
	char *name = xasprintf("%s.%s", schema, table);
	bool in = (!conf->include || patterns_match(conf->include, name)) &&
		  !(conf->exclude && patterns_match(conf->exclude, name));

	free(name);
	return in;
}

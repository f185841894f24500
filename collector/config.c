#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "keys.h"
#include "log.h"
#include "xmalloc.h"

static const struct conf_key collector_keys[] = {
	{ "listen", CONF_STRING, false, offsetof(struct collector_conf, listen) },
	{ "database", CONF_STRING, true, offsetof(struct collector_conf, database) },
	{ "curve_secret_key", CONF_STRING, true, offsetof(struct collector_conf, curve_secret_key) },
	{ "max_batch_bytes", CONF_UINT, false, offsetof(struct collector_conf, max_batch_bytes) },
	{ "stale_after", CONF_DURATION, false, offsetof(struct collector_conf, stale_after) },
	{ "silent_factor", CONF_UINT, false, offsetof(struct collector_conf, silent_factor) },
	{ NULL, 0, false, 0 },
};

void collector_conf_free(struct collector_conf *conf)
{
	if (!conf)
		return;
	free(conf->path);
	free(conf->listen);
	free(conf->database);
	free(conf->curve_secret_key);
	keys_wipe(&conf->key);
	free(conf);
}

/* Exactly one [collector]; any other section is someone else's file or a typo. */
static const struct conf_section *collector_section(const struct conf *c, char *err, size_t errlen)
{
	const struct conf_section *found = NULL;

	for (size_t i = 0; i < c->nsections; i++) {
		const struct conf_section *s = &c->sections[i];

		if (strcmp(s->type, "collector") != 0) {
			log_warnx("%s:%u: unknown section [%s], ignored", c->path, s->line, s->type);
		} else if (found) {
			snprintf(err, errlen, "%s:%u: [collector] given twice (first at line %u)", c->path, s->line,
				 found->line);
			return NULL;
		} else {
			found = s;
		}
	}
	if (!found)
		snprintf(err, errlen, "%s:1: no [collector] section", c->path);
	return found;
}

static int collector_conf_check(const struct conf *c, const struct conf_section *s,
				const struct collector_conf *conf, char *err, size_t errlen)
{
	if (!*conf->database) {
		snprintf(err, errlen, "%s:%u: database: empty path", c->path, conf_key_line(s, "database"));
		return 1;
	}
	if (!*conf->listen) {
		snprintf(err, errlen, "%s:%u: listen: empty endpoint", c->path, conf_key_line(s, "listen"));
		return 1;
	}
	if (conf->max_batch_bytes < COLLECTOR_MIN_MAX_BATCH || conf->max_batch_bytes > COLLECTOR_MAX_MAX_BATCH) {
		snprintf(err, errlen, "%s:%u: max_batch_bytes: %u is outside %u..%u", c->path,
			 conf_key_line(s, "max_batch_bytes"), conf->max_batch_bytes, COLLECTOR_MIN_MAX_BATCH,
			 COLLECTOR_MAX_MAX_BATCH);
		return 1;
	}
	if (conf->silent_factor < 2) {
		snprintf(err, errlen, "%s:%u: silent_factor: at least 2 (one slow crawl must not mark an agent silent)",
			 c->path, conf_key_line(s, "silent_factor"));
		return 1;
	}
	return 0;
}

/* The collector's own key pair, which agents know by its public half. */
static int collector_conf_key(struct collector_conf *conf, unsigned line, char *err, size_t errlen)
{
	char why[512];

	if (keys_load_secret(conf->curve_secret_key, &conf->key, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s:%u: curve_secret_key: %s", conf->path, line, why);
	return 1;
}

int collector_conf_load(const char *path, struct collector_conf **ret_conf, char *err, size_t errlen)
{
	struct collector_conf *conf;
	const struct conf_section *s;
	struct conf *c = NULL;
	int r = conf_load(path, &c);

	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		conf_free(c);
		return 1;
	}
	if (r) {
		snprintf(err, errlen, "%s", c->error);
		conf_free(c);
		return 1;
	}
	conf = xcalloc(1, sizeof(*conf));
	conf->path = xstrdup(path);
	conf->listen = xstrdup(COLLECTOR_DEFAULT_LISTEN);
	conf->max_batch_bytes = COLLECTOR_DEFAULT_MAX_BATCH;
	conf->stale_after = COLLECTOR_DEFAULT_STALE_AFTER;
	conf->silent_factor = COLLECTOR_DEFAULT_SILENT_FACTOR;
	s = collector_section(c, err, errlen);
	r = s ? conf_apply(c, s, collector_keys, conf) : 1;
	if (s && r)
		snprintf(err, errlen, "%s", c->error);
	if (r == 0)
		r = collector_conf_check(c, s, conf, err, errlen);
	if (r == 0) {
		conf->listen_line = conf_key_line(s, "listen");
		conf->database_line = conf_key_line(s, "database");
		r = collector_conf_key(conf, conf_key_line(s, "curve_secret_key"), err, errlen);
	}
	conf_free(c);
	if (r) {
		collector_conf_free(conf);
		return 1;
	}
	*ret_conf = conf;
	return 0;
}

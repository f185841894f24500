/*
 * The agent's configuration: one [agent] section and one [source "name"] section per database.
 * Parsed with common/conf; every error names file:line. A conninfo that holds a password is refused:
 * passwords come from the secrets file that secrets_file names (agent/secrets.h) or from the client
 * library's own 0600 files.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"

struct source_conf {
	char *name;
	unsigned line;
	char *driver;
	char *conninfo;      /* driver-specific: a libpq conninfo for pg; never logged; holds no password */
	char *password;      /* from the secrets file, or NULL; never logged, wiped when freed */
	unsigned interval;   /* seconds */
	unsigned timeout;    /* statement timeout for catalog queries, seconds */
	char *department;
	char *system;
	char *include;       /* comma-separated fnmatch patterns over "schema.table"; NULL = all */
	char *exclude;
	char *fixture;       /* driver "fixture": the schema file to read */
	unsigned mass_drop_percent; /* a crawl dropping more of the tables than this is confirmed first */
};

struct agent_conf {
	char *path;
	char *id;
	char *collector;     /* ZeroMQ endpoint */
	char *state_dir;
	char *secrets_file;  /* the sources' passwords (agent/secrets.h), or NULL */
	char *curve_secret_key;     /* path of the agent's key pair */
	char *collector_public_key; /* path of the collector's .pub, or the key */
	struct curve_key key;
	char collector_key[KEY_Z85_LEN + 1];
	unsigned heartbeat;  /* seconds */
	unsigned max_batch_bytes;
	unsigned splay;      /* seconds: first crawls spread over this long */
	uint64_t outbox_max_bytes; /* beyond this, unsent changes are replaced by snapshots */
	unsigned outbox_max_age;   /* seconds: likewise for unsent changes older than this */
	struct source_conf *sources;
	size_t nsources;
};

/* 0, or 1 with a file:line message in err. */
int agent_conf_load(const char *path, struct agent_conf **ret_conf, char *err, size_t errlen);
void agent_conf_free(struct agent_conf *conf);
/* True when "schema.table" is in the source's scope. */
bool source_conf_in_scope(const struct source_conf *conf, const char *schema, const char *table);

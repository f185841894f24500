/*
 * The collector's configuration: one [collector] section.
 *
 *     [collector]
 *     listen          = tcp://127.0.0.1:7431   # ZeroMQ endpoint the ROUTER socket binds
 *     database        = /var/lib/prospector/catalog.db   # required
 *     max_batch_bytes = 4194304                # largest batch an agent may send
 *     curve_secret_key = /etc/prospector/collector.key   # required: the collector's CURVE key pair
 *     stale_after     = 7d     # a source without a successful crawl for this long is stale
 *     silent_factor   = 3      # an agent unheard of for this many of its longest interval is silent
 *
 * Parsed with common/conf: unknown keys and sections are warned about, errors name file:line.
 */
#pragma once

#include <stddef.h>

#include "keys.h"

#define COLLECTOR_DEFAULT_LISTEN "tcp://127.0.0.1:7431"
#define COLLECTOR_DEFAULT_MAX_BATCH (4u * 1024 * 1024)
/* The socket accepts twice max_batch_bytes (ZMQ_MAXMSGSIZE), which must fit an int64 and the
 * protocol's uint32 WELCOME field; 64 KiB is too small for one column-heavy table. */
#define COLLECTOR_MIN_MAX_BATCH (64u * 1024)
#define COLLECTOR_MAX_MAX_BATCH (1024u * 1024 * 1024)
#define COLLECTOR_DEFAULT_STALE_AFTER (7 * 86400)
#define COLLECTOR_DEFAULT_SILENT_FACTOR 3

struct collector_conf {
	char *path;
	char *listen;
	char *database;
	unsigned max_batch_bytes;
	char *curve_secret_key; /* path of the key file */
	struct curve_key key;
	unsigned stale_after;   /* seconds */
	unsigned silent_factor;
	unsigned listen_line, database_line; /* where they were set, for start-up errors */
};

/* 0, or 1 with a "file:line: message" in err. */
int collector_conf_load(const char *path, struct collector_conf **ret_conf, char *err, size_t errlen);
void collector_conf_free(struct collector_conf *conf);

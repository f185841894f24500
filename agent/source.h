/*
 * One configured database: a source (a probe, 探针). It owns its driver handle, its schedule and its
 * complaint throttle (the first failure is logged, repeats are counted, recovery is logged once), and
 * runs a crawl: driver → scope filter → snapshot → diff against the stored snapshot → batches
 * committed with the new snapshot in one durable transaction (agent/state.h).
 *
 * A failed or partial crawl produces no changes at all (DESIGN §3.3): the stored snapshot stays
 * as it was and the error is kept for the probe status.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "driver.h"
#include "state.h"
#include "wire_batch.h"

struct source_status {
	uint64_t last_start;  /* unix ms */
	uint64_t last_end;
	uint32_t duration_ms;
	uint64_t objects;
	unsigned crawls; /* in the last run: more than one when settled or a mass drop was confirmed */
	bool ok;
	bool ran;
	char error[DRIVER_ERRLEN];
	char warning[DRIVER_ERRLEN]; /* a successful crawl that saw only part of the source */
	unsigned char root[32];
};

struct source {
	const struct source_conf *conf; /* borrowed from the agent's configuration */
	const struct driver_ops *ops;
	void *handle;
	unsigned interval;   /* seconds; the collector may change it */
	uint64_t next_run;   /* monotonic ms */
	unsigned failures;   /* consecutive, for the complaint throttle */
	struct source_status status;
};

struct source *source_new(const struct source_conf *conf);
void source_free(struct source *src);
/* Crawls once and commits what changed to the outbox. 0 when the crawl succeeded (even with nothing
 * to send), else the driver's code; *ret_batches is the number of batches queued. */
int source_run(struct source *src, struct state *st, size_t max_batch_bytes, size_t *ret_batches);
/* Crawls into a finished, scope-filtered snapshot. When the driver's catalog is not transactional and
 * the result differs from old_root (NULL: unknown), crawls again until two crawls agree. */
int source_snapshot(struct source *src, const unsigned char *old_root, struct snapshot **ret_snap);
/* Schedules the next run after now: the interval, or a capped, jittered backoff after failures. */
void source_schedule(struct source *src, uint64_t now_mono_ms);
/* The first run of a daemon: at a random moment within the splay (or the interval, if shorter), so
 * that a fleet started together does not probe in lock-step. */
void source_splay(struct source *src, uint64_t now_mono_ms, unsigned splay_s);
/* What the batches of a crawl say about their source. */
struct wire_source_info source_wire_info(const struct source *src, uint64_t crawled_at_ms);

/*
 * Splitting a crawl's result into BATCH messages, each below the collector's size limit.
 *
 * A source's first crawl (or a resync) goes out as SNAPSHOT_PART batches ending in one SNAPSHOT_END;
 * later crawls as DELTA batches of changes, plus one OBS batch when only observations moved. The
 * batches are built before sequence numbers exist: the agent assigns them inside the transaction that
 * stores the outbox (agent/state.h), then encodes each one.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "diff.h"
#include "snapshot.h"

struct wire_source_info {
	const char *driver;
	const char *department;
	const char *system;
	unsigned interval_s;
	uint64_t crawled_at_ms;
};

struct wire_batches;

/* old may be NULL: then the whole of new goes out as a snapshot. */
struct wire_batches *wire_batches_build(const struct snapshot *old, const struct snapshot *new,
					const struct diff *d, const struct wire_source_info *info, size_t max_bytes);
size_t wire_batches_count(const struct wire_batches *wb);
/* Number of changes (DELTA) or objects (snapshot) in all batches. */
size_t wire_batches_items(const struct wire_batches *wb);
void wire_batches_encode(const struct wire_batches *wb, size_t i, uint64_t incarnation, uint64_t seq, struct buf *out);
void wire_batches_free(struct wire_batches *wb);

/*
 * Splitting a crawl's result into BATCH messages, each below the collector's size limit.
 *
 * A source's first crawl (or a resync) goes out as SNAPSHOT_PART batches ending in one SNAPSHOT_END;
 * later crawls as DELTA batches of changes, plus one OBS batch when only observations moved. The
 * agent builds them inside the transaction that stores them in its outbox (agent/state.h), numbered
 * from the state's next sequence number on.
 */
#pragma once

#include <stdbool.h>
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
	bool mass_drop; /* a second crawl confirmed that this one drops a large share of the source */
};

/* One encoded batch, numbered seq; 0 or a negative errno (which stops the producer). */
typedef int (*wire_batch_emit_fn)(void *ctx, uint64_t seq, int kind, const void *data, size_t len);

struct wire_batches_count {
	size_t batches;
	size_t items; /* changes (DELTA), objects (snapshot) and observation updates */
};

/*
 * Builds the batches that take old to new (d is their diff), or, old NULL, the whole of new as a
 * snapshot, and passes each to emit as soon as it is complete, encoded with incarnation and numbered
 * seq, seq + 1, …: one batch is held in memory at a time, whatever the size of the crawl. Returns
 * 0, or emit's first error (nothing more is emitted after it). ret_count, when not NULL, says what
 * was emitted.
 */
int wire_batches_emit(const struct snapshot *old, const struct snapshot *new, const struct diff *d,
		      const struct wire_source_info *info, size_t max_bytes, uint64_t incarnation, uint64_t seq,
		      wire_batch_emit_fn emit, void *ctx, struct wire_batches_count *ret_count);

/*
 * Gives an encoded batch (as stored in the agent's outbox) the sequence number seq, splitting it
 * into as many batches of at most max_bytes as it takes (max_bytes 0: never split): numbered seq,
 * seq + 1, …, passed to emit in order. Parts keep the order of the items; only the first keeps the
 * source info (which starts a crawl), only the last the root hash, and a split SNAPSHOT_END becomes
 * SNAPSHOT_PARTs and one SNAPSHOT_END. One item larger than max_bytes stays a batch of its own.
 * Returns the number of batches emitted, -EBADMSG when data is not a valid batch, or emit's
 * negative errno when it failed.
 */
int wire_batch_reseq(const void *data, size_t len, uint64_t seq, size_t max_bytes, wire_batch_emit_fn emit,
		     void *ctx);

/*
 * Splitting a crawl's result into BATCH messages, each below the collector's size limit.
 *
 * A source's first crawl (or a resync) goes out as SNAPSHOT_PART batches ending in one SNAPSHOT_END;
 * later crawls as DELTA batches of changes, plus one OBS batch when only observations moved. The
 * batches are built before sequence numbers exist: the agent assigns them inside the transaction that
 * stores the outbox (agent/state.h), then encodes each one.
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

struct wire_batches;

/* old may be NULL: then the whole of new goes out as a snapshot. */
struct wire_batches *wire_batches_build(const struct snapshot *old, const struct snapshot *new,
					const struct diff *d, const struct wire_source_info *info, size_t max_bytes);
size_t wire_batches_count(const struct wire_batches *wb);
/* Number of changes (DELTA) or objects (snapshot) in all batches. */
size_t wire_batches_items(const struct wire_batches *wb);
/* The kind of batch i (Prospector__BatchKind). */
int wire_batches_kind(const struct wire_batches *wb, size_t i);
void wire_batches_encode(const struct wire_batches *wb, size_t i, uint64_t incarnation, uint64_t seq, struct buf *out);
void wire_batches_free(struct wire_batches *wb);

/* One encoded batch produced by wire_batch_reseq, numbered seq; 0 or a negative errno. */
typedef int (*wire_batch_emit_fn)(void *ctx, uint64_t seq, int kind, const void *data, size_t len);

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

/*
 * Upkeep of the outbox's unsent end (DESIGN §3.4).
 *
 * Rows from sequence number `from` on have not been applied by the collector: either it said so
 * in WELCOME (it expects `from` next), or this process never handed them to the socket. Those rows
 * may be rewritten, as long as the result is again a gapless run of numbers from `from`:
 *
 * - When the outbox is over its bound (bytes, or the age of its oldest unsent row), the unsent
 *   changes of every source that has some are replaced by one full snapshot of the source as the
 *   agent now knows it. The collector diffs a snapshot against its catalog, so the catalog ends as
 *   if every change had arrived; the history records those changes as found by resync. Deltas are
 *   never dropped without a snapshot taking their place.
 * - A row larger than the collector's limit (it may have been built before the collector said what
 *   its limit is, or the collector's limit went down) is split into rows that fit.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "source.h"
#include "state.h"

struct outbox_bound {
	uint64_t max_bytes;
	unsigned max_age_s;
};

/* What one pass did. */
struct outbox_upkeep {
	size_t compacted; /* sources whose changes became a snapshot */
	size_t split;     /* rows split */
	uint64_t bytes;   /* outbox size afterwards */
};

/*
 * One pass over the rows from `from` on; max_batch_bytes 0 means the collector's limit is not
 * known (nothing is split). 0 or -EIO (state_error() says why; nothing was changed).
 */
int outbox_upkeep(struct state *st, struct source *const *sources, size_t nsources, const struct outbox_bound *bound,
		  uint64_t from, size_t max_batch_bytes, struct outbox_upkeep *ret);

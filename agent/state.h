/*
 * The agent's local state: one sqlite database (state.db under state_dir) holding the last snapshot
 * of each source, the outbox of batches not yet acknowledged, and the agent's incarnation.
 *
 * A crawl's new snapshot and the batches that describe it are written in ONE transaction with
 * synchronous=FULL (DESIGN §3.4): after a crash either both are there or neither, so a change is
 * never both forgotten and unsent. Outbox rows are deleted only when the collector acknowledged
 * them. The incarnation is a random number chosen when the state is created; a collector that sees
 * a new one knows the agent's sequence numbers started again.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

enum {
	STATE_E_CORRUPT = 1, /* the stored snapshot of a source cannot be decoded */
};

struct state;

/* Creates state_dir (0700) and state.db (0600) when missing. -errno or -EIO with a message in err. */
int state_open(const char *state_dir, struct state **ret_st, char *err, size_t errlen);
void state_close(struct state *st);
/* Copies what the WAL holds into state.db (a passive checkpoint: it never waits for a reader). sqlite
 * does not do it on its own in the agent (state.c says why). 0, or -EIO with state_error. */
int state_checkpoint(struct state *st);
/* The WAL has grown past STATE_WAL_MAX_BYTES: checkpoint even though a delivery is under way. */
#define STATE_WAL_MAX_BYTES (64LL << 20)
bool state_checkpoint_due(const struct state *st);
/* Hands sqlite's page cache of state.db back to malloc: the agent sleeps for minutes between cycles,
 * and the next one reads what it needs again (from the operating system's cache of the file). */
void state_release_memory(struct state *st);
uint64_t state_incarnation(const struct state *st);
uint64_t state_last_acked(const struct state *st);

/* 0 with *ret_snap NULL when the source has never been crawled. Read a chunk at a time; with base
 * (a later crawl of the source), what is alike in both is borrowed from it (snapshot_reader). */
int state_load_snapshot(struct state *st, const char *source, const struct snapshot *base,
			struct snapshot **ret_snap);

/* A crawl's commit: begin, next_seq/outbox_add for each batch, put_snapshot, commit (or rollback). */
int state_begin(struct state *st);
uint64_t state_next_seq(struct state *st);
/* One outbox row. kind is the batch's Prospector__BatchKind; created is unix ms (0 when adding:
 * now). Its strings and data are borrowed. */
struct state_row {
	uint64_t seq;
	const char *source;
	const void *data;
	size_t len;
	int64_t created;
	int kind;
};

int state_outbox_add(struct state *st, const struct state_row *row);
/* Where state_outbox_emit appends: the outbox of one source; created 0 means now (a rewritten row
 * keeps the time of the row it replaces, which the outbox's age bound goes by). */
struct state_outbox_target {
	struct state *st;
	const char *source;
	int64_t created;
};
/* A wire_batch_emit_fn (common/wire_batch.h) appending to the outbox; ctx is a struct
 * state_outbox_target. The batches must be numbered from state_peek_next_seq on, without gaps. */
int state_outbox_emit(void *ctx, uint64_t seq, int kind, const void *data, size_t len);
/* What a stored snapshot hashes to (snapshot.root and snapshot_obs_hash). A snapshot stored by an
 * agent from before the observation hash has none: load it to compare. */
struct state_digest {
	bool found, has_obs_root;
	unsigned char root[32], obs_root[32];
};
int state_snapshot_digest(struct state *st, const char *source, struct state_digest *ret);
/* Replaces the stored snapshot of snap's source; several statements: call it between state_begin and
 * state_commit. */
int state_put_snapshot(struct state *st, const struct snapshot *snap);
int state_commit(struct state *st);
void state_rollback(struct state *st);
/* Forgets a source's snapshot, so that its next crawl is sent in full (a resync). */
int state_forget_snapshot(struct state *st, const char *source);

/* Calls cb for each outbox batch with seq > after, in order, at most limit of them. */
typedef int (*state_outbox_cb)(void *ctx, uint64_t seq, const void *data, size_t len);
int state_outbox_each(struct state *st, uint64_t after, size_t limit, state_outbox_cb cb, void *ctx);
/* Drops the batches up to and including seq: the collector has them durably. */
int state_outbox_ack(struct state *st, uint64_t seq);
/* Number of batches and bytes waiting. */
int state_outbox_depth(struct state *st, uint64_t *ret_batches, uint64_t *ret_bytes);
const char *state_error(const struct state *st);

/*
 * Upkeep of the unsent end of the outbox, rows from seq `from` on, which the collector has not
 * applied and which may therefore be rewritten (agent/outbox.c), inside state_begin/commit:
 * detach them, then stream them back through state_outbox_detached_each, re-adding with
 * state_next_seq/state_outbox_add what is to stay, renumbered from `from`.
 */
struct state_source_usage {
	const char *source;
	uint64_t bytes;
	int64_t oldest;   /* created, unix ms, of its oldest row */
	bool has_changes; /* some row is not part of a full snapshot */
};
typedef int (*state_source_cb)(void *ctx, const struct state_source_usage *u);
typedef int (*state_row_cb)(void *ctx, const struct state_row *row);
/* Per source with rows from `from` on, in source order. */
int state_outbox_sources(struct state *st, uint64_t from, state_source_cb cb, void *ctx);
/* How many rows from `from` on are larger than max_bytes. */
int state_outbox_larger_than(struct state *st, uint64_t from, size_t max_bytes, uint64_t *ret_count);
int state_outbox_detach(struct state *st, uint64_t from);
int state_outbox_detached_each(struct state *st, state_row_cb cb, void *ctx);
/* When the stored snapshot of source was taken, unix ms; 0 when there is none. */
int64_t state_snapshot_time(struct state *st, const char *source);
/* The sequence number the next batch will get, without taking it. */
uint64_t state_peek_next_seq(const struct state *st);

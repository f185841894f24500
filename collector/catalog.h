/*
 * The collector's catalog store: one sqlite database (WAL, synchronous=FULL) holding the living
 * catalog (objects), the relationship graph (edges), the append-only hash-chained change history,
 * the agents and sources that feed it, and the bookkeeping that makes ingest exactly-once (applied)
 * and lets a full snapshot arrive in parts (staging). This module owns the schema and every
 * statement that writes it; readers such as the CLI open the file read-only and rely on the schema
 * documented in the shared context (schema_version 1).
 *
 * Every apply function runs inside a transaction the caller opens with catalog_begin, so that one
 * batch (its changes, its history rows, the agent's sequence number and the applied marker) commits
 * or rolls back as a whole. Functions return 0, a positive CATALOG_E_* for a documented condition
 * (message in catalog_error) or a negative errno for a storage failure (-EIO, -EBUSY, -ENOSPC; the
 * sqlite message is in catalog_error too).
 *
 * The catalog is used from one thread, and runs two of its own: one copies the WAL into the main
 * file (commits never wait for that checkpoint), one computes a baseline's diff while the objects
 * are written. Neither takes signals.
 *
 * The history hash chain: row_hash = SHA-256(prev_hash || encoding), where encoding is, in order,
 * the byte 0x01, then buf_add_varint(observed), buf_add_varint(recorded), buf_add_lstr(agent_id),
 * buf_add_lstr(source), buf_add_varint(seq), buf_add_lstr(key), buf_add_lstr(kind),
 * buf_add_lstr(path), buf_add_lstr(op), buf_add_lstr(field), buf_add_lstr(before),
 * buf_add_lstr(after), buf_add_lstr(severity), buf_add_varint(heuristic), buf_add_lstr(origin);
 * NULL strings encode as buf_add_lstr(NULL). The first row's prev_hash is 32 zero bytes and every
 * other row's prev_hash is the row_hash of the row with the next lower id. catalog_history_hash
 * computes it, so a verifier can recompute the chain from the table alone.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diff.h"
#include "model.h"

#define CATALOG_SCHEMA_VERSION 1

enum {
	CATALOG_E_SOURCE_OWNED = 1, /* the source name is already fed by another agent */
	CATALOG_E_SCHEMA,           /* the database has a schema version this build does not know */
	CATALOG_E_UNKNOWN_AGENT,    /* no agent with that id has said HELLO */
	CATALOG_E_NOT_FOUND,        /* a lookup found nothing */
	CATALOG_E_STAGED_INVALID,   /* a completed snapshot does not check out: nothing was applied */
	CATALOG_E_KEY_TAKEN,        /* the key is enrolled already, or was revoked */
};

struct catalog;

/* Opens or creates (mode 0600) the catalog at path. 0, or nonzero with a message in err. */
int catalog_open(const char *path, struct catalog **ret_c, char *err, size_t errlen);
/* Checkpoints the WAL into the main file and closes. NULL is a no-op. */
void catalog_close(struct catalog *c);
/* The message behind the last nonzero return; borrowed. */
const char *catalog_error(const struct catalog *c);

int catalog_begin(struct catalog *c);
int catalog_commit(struct catalog *c);
void catalog_rollback(struct catalog *c);

/* --- agents and sources ------------------------------------------------------------------- */

/* Records a HELLO. A new incarnation restarts the agent's sequence: last_seq becomes 0. Returns
 * the last applied sequence number of this incarnation. */
int catalog_agent_hello(struct catalog *c, const char *id, uint64_t incarnation, const char *version,
			const char *hostname, uint64_t now_ms, uint64_t *ret_last_seq);
/* 0, or CATALOG_E_UNKNOWN_AGENT. */
int catalog_agent_lookup(struct catalog *c, const char *id, uint64_t *ret_incarnation, uint64_t *ret_last_seq);
int catalog_agent_set_seq(struct catalog *c, const char *id, uint64_t seq, uint64_t now_ms);
/* Negative numbers and NULL mean "not reported": the stored value stays. */
int catalog_agent_heartbeat(struct catalog *c, const char *id, const char *version, int64_t outbox_depth,
			    int64_t rss_bytes, uint64_t now_ms);

/* What an agent says about a source (HELLO, or a batch's info). NULL / negative: not reported. */
struct catalog_source {
	const char *name;
	const char *driver;
	const char *department;
	const char *system;
	int64_t interval_s;
};

/* Creates the source owned by agent_id or updates what is reported; CATALOG_E_SOURCE_OWNED when
 * another agent owns the name (nothing is changed then). */
int catalog_source_upsert(struct catalog *c, const char *agent_id, const struct catalog_source *s);

/* One probe's status from a heartbeat. Negative numbers: not reported; error NULL: no error. */
struct catalog_probe {
	const char *source;
	int64_t last_start, last_end, duration_ms, objects, next_run, interval_s; /* ms / s / count */
	int ok;                      /* -1 not reported, 0 or 1 */
	const char *error;
	const char *warning;            /* the crawl saw only part of the source; NULL: none */
	const unsigned char *root_hash; /* 32 bytes, or NULL */
};

/* Changes whenever another connection (a restore, a hand edit) has written the catalog file. */
int64_t catalog_data_version(struct catalog *c);
/* The root hash of what the catalog holds for a source, computed as the agent computes its own. */
int catalog_source_root(struct catalog *c, const char *source, unsigned char ret_root[32]);
/* Updates a source's probe status; CATALOG_E_SOURCE_OWNED when agent_id does not own it. */
int catalog_probe_update(struct catalog *c, const char *agent_id, const struct catalog_probe *p);

/* --- commands ------------------------------------------------------------------------------- */

/*
 * Probe control (prospector probe / interval): the CLI queues rows in the commands table and sets
 * sources.interval_override; the collector sends each unsent row to the agent that owns the source
 * and marks it sent, and repeats every interval override to an agent whenever it says HELLO.
 */
enum catalog_cmd_kind {
	CATALOG_CMD_PROBE_NOW,    /* "probe_now" */
	CATALOG_CMD_SET_INTERVAL, /* "set_interval" */
};

struct catalog_command {
	int64_t id;           /* the commands row; -1 for an interval override */
	const char *source;
	int kind;             /* enum catalog_cmd_kind, or -1 for a kind this build does not know */
	int64_t interval_s;   /* -1: none */
	const char *agent_id; /* the source's owner; NULL when no agent owns it */
};

/* Called once per command; the strings live until it returns. Nonzero stops the walk and is
 * returned. */
typedef int (*catalog_command_fn)(void *ctx, const struct catalog_command *cmd);

/* Every unsent command, oldest first. Reads outside a transaction are fine: one statement. */
int catalog_commands_pending(struct catalog *c, catalog_command_fn fn, void *ctx);
int catalog_command_sent(struct catalog *c, int64_t id, uint64_t now_ms);
/* A set_interval for each of agent_id's sources that has an interval override. */
int catalog_interval_overrides(struct catalog *c, const char *agent_id, catalog_command_fn fn, void *ctx);

/* --- batches -------------------------------------------------------------------------------- */

/* The batch being applied: who sent it, where it goes, and when. */
struct catalog_batch {
	const char *agent_id;
	uint64_t incarnation;
	uint64_t seq;
	const char *source;
	uint64_t observed_ms; /* the crawl that produced it */
	uint64_t recorded_ms; /* now */
};

/* 0 with the digest of the applied batch, or CATALOG_E_NOT_FOUND. */
int catalog_applied_lookup(struct catalog *c, const char *agent_id, uint64_t incarnation, uint64_t seq,
			   unsigned char ret_digest[32]);
/* Marks the batch applied; digest = SHA-256 of its bytes. */
int catalog_applied_add(struct catalog *c, const struct catalog_batch *b, const unsigned char digest[32]);
/* After a batch: the source's last_applied time and, when known, the agent's root hash. */
int catalog_source_applied(struct catalog *c, const struct catalog_batch *b, const unsigned char *root_hash);

/* Everything that happened to one object, as a DELTA batch carries it (or a resync diff yields). */
struct catalog_change {
	enum change_op op;             /* CHANGE_ADD, CHANGE_DROP or CHANGE_ALTER */
	enum obj_kind kind;
	const char *key;
	const char *old_key;           /* ALTER only: the key before, when a heuristic rename changed it */
	const char *path;              /* after the change; before it for DROP */
	const struct obj *obj;         /* the new state with its path; NULL for DROP */
	const struct change_row *rows; /* one history row each, REFS already rendered */
	size_t nrows;
};

/* Applies one change: the object row (and its descendants' paths when it moved), its edges and
 * its history rows. origin is "delta", "baseline" or "resync". */
int catalog_apply_change(struct catalog *c, const struct catalog_batch *b, const char *origin,
			 const struct catalog_change *ch);
/* Applies every change of a diff computed against the catalog's own state, in its order. */
int catalog_apply_diff(struct catalog *c, const struct catalog_batch *b, const char *origin,
		       const struct diff *d);
/* Replaces an object's observations; never history. An unknown key is ignored. */
int catalog_apply_obs(struct catalog *c, const char *source, const char *key, const struct attr *obs,
		      size_t nobs);
/* Before HELLO lists an agent's sources again: sources it stops listing show as stale (their
 * objects and history stay). */
int catalog_agent_unlist_sources(struct catalog *c, const char *agent_id);
/* The agent an enrolled, unrevoked CURVE key (Z85) belongs to; CATALOG_E_NOT_FOUND otherwise. */
int catalog_key_agent(struct catalog *c, const char *public_key, char *agent_id, size_t len);
/* Admits public_key as agent_id's; CATALOG_E_KEY_TAKEN (message in catalog_error) when the key is
 * enrolled already or was ever revoked. An agent may hold several keys (rotation). */
int catalog_key_enroll(struct catalog *c, const char *agent_id, const char *public_key, const char *department,
		       uint64_t now_ms);
/* Revokes every key of agent_id; *ret_count says how many there were. */
int catalog_key_revoke(struct catalog *c, const char *agent_id, uint64_t now_ms, int *ret_count);
/* The collector's policy for readers of the catalog (the CLI), in the meta table. */
int catalog_meta_set(struct catalog *c, const char *key, const char *value);
/* Stores the objects of one batch of a snapshot sent in parts (SNAPSHOT_PART and SNAPSHOT_END),
 * collected in part: an unfinished snapshot, a container. */
int catalog_stage_part(struct catalog *c, const struct catalog_batch *b, const struct snapshot *part);
/* Forgets what an earlier, unfinished snapshot of the batch's source staged. */
int catalog_stage_begin(struct catalog *c, const struct catalog_batch *b);
/*
 * Completes a staged snapshot: diffs the staged objects against the catalog's objects of the
 * source and applies the difference (origin "baseline" when the source had no objects, else
 * "resync"), refreshes observations, and clears the staging area. root_hash (NULL: unchecked) is
 * the agent's root hash of the snapshot; when the staged set does not finish into a snapshot with
 * that root, nothing is applied, staging is cleared and CATALOG_E_STAGED_INVALID is returned (the
 * transaction stays usable: the caller commits the applied marker and asks for a resync).
 */
int catalog_snapshot_end(struct catalog *c, const struct catalog_batch *b, const unsigned char *root_hash,
			 size_t *ret_nchanges);

/* --- history -------------------------------------------------------------------------------- */

/* One history row's hashed fields (see the chain description above). */
struct catalog_history_row {
	uint64_t observed, recorded;
	const char *agent_id, *source;
	uint64_t seq;
	const char *key, *kind, *path, *op, *field, *before, *after, *severity;
	bool heuristic;
	const char *origin;
};

void catalog_history_hash(const unsigned char prev[32], const struct catalog_history_row *r,
			  unsigned char ret_hash[32]);

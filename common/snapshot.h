/*
 * A snapshot: the canonical, sorted set of objects of one source at one crawl (DESIGN §2).
 *
 * Drivers add objects in any order; snapshot_finish sorts them by key, checks that keys are unique and
 * that every parent exists, writes each object's path and content hash, and computes the root hash.
 * Diff, storage and the wire all rely on the sort. The snapshot owns its objects.
 *
 * The serialised form (snapshot_encode) is the canonical encoding, length-prefixed and versioned; the
 * agent keeps the last one per source in its state store and the collector stages resyncs in it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "model.h"
#include "sha256.h"

enum {
	SNAPSHOT_E_CORRUPT = 1, /* encoded snapshot is truncated or malformed */
	SNAPSHOT_E_DUPLICATE,   /* two objects share a key */
	SNAPSHOT_E_ORPHAN,      /* an object's parent is not in the snapshot */
};

/*
 * A scope the driver could see only in part (a MySQL schema visible through table-level grants
 * only): objects below it that are missing from this crawl are not evidence that they were dropped
 * (DESIGN §3.3). The source carries them over from the previous snapshot instead, and reports why.
 */
struct snapshot_partial {
	char *key;    /* the object (usually a schema) whose contents are incomplete */
	char *reason; /* for the probe status: "schema shop: visible only through table grants" */
};

struct snapshot {
	char *source;
	struct obj **objs;
	size_t nobjs, cap;
	struct snapshot_partial *partial;
	size_t npartial, partial_cap;
	unsigned char root[32];
	char error[256]; /* the message behind the last SNAPSHOT_E_* */
	struct arena arena; /* the objects' packed blocks and paths (obj_seal, snapshot_finish) */
	unsigned char *borrowed; /* bit i: objs[i] is another snapshot's (snapshot_reader); NULL: none */
};

struct snapshot *snapshot_new(const char *source);
void snapshot_free(struct snapshot *s);
/* Takes ownership of *o, moving it into the snapshot's arena (obj_move), and sets *o to NULL; packs
 * the object added before it (obj_seal). Returns the object, borrowed: use it, not the old *o. */
struct obj *snapshot_add(struct snapshot *s, struct obj **o);
int snapshot_finish(struct snapshot *s);
/* Records that the contents of the object with this key are only partly visible (see above). */
void snapshot_mark_partial(struct snapshot *s, const char *key, const char *reason);
/* Adds every object of from to s, with the memory they use of from's, and empties from. */
void snapshot_take(struct snapshot *s, struct snapshot *from);
/* Borrowed; NULL when absent. Needs a finished snapshot. */
struct obj *snapshot_find(const struct snapshot *s, const char *key);
/* Number of objects of the given kind. */
size_t snapshot_count(const struct snapshot *s, enum obj_kind kind);
/* Renders a REFS value as a comma-separated list of names (a column's name, a table's path within the
 * database) using this snapshot; unknown keys are rendered as the key itself. Allocated. */
char *snapshot_render_refs(const struct snapshot *s, const char *refs);

/* The root hash, computed as objects come in key order: the agent over its snapshot, the collector
 * over its catalog rows, so that the two can be compared. */
struct root_hasher {
	struct sha256_ctx st;
};

void root_hash_init(struct root_hasher *h);
void root_hash_add(struct root_hasher *h, const char *key, const unsigned char hash[32]);
void root_hash_final(struct root_hasher *h, unsigned char out[32]);

/* A hash over every object's key and observations, in key order: with the root hash, it tells
 * whether a crawl differs from an earlier one at all, without that one's objects. */
void snapshot_obs_hash(const struct snapshot *s, unsigned char out[32]);

/* The root hash as 64 lowercase hex characters plus NUL. */
void hash_hex(const unsigned char hash[32], char out[65]);

void snapshot_encode(const struct snapshot *s, struct buf *out);
/* The same encoding in pieces of less than chunk bytes (an object is never cut: one that large is a
 * piece alone), passed in order to write, which returns 0 or a negative errno that stops it: a large
 * snapshot's encoding is never held whole. */
typedef int (*snapshot_write_fn)(void *ctx, const void *data, size_t len);
int snapshot_encode_chunks(const struct snapshot *s, size_t chunk, snapshot_write_fn write, void *ctx);
/* One object's share of that encoding (no path, no hash: snapshot_finish rebuilds them). */
void snapshot_obj_encode(const struct obj *o, struct buf *out);
/* 0 or -EBADMSG; the whole of data must be one object. */
int snapshot_obj_decode(const void *data, size_t len, struct obj **ret_o);
/* The encoding must be in key order, as snapshot_encode writes it. */
int snapshot_decode(const void *data, size_t len, struct snapshot **ret_s);

/*
 * An encoding read back in pieces (as the agent stores it), never held whole. Given base, a later
 * finished snapshot of the same source, every object that encodes exactly as base's object of the
 * same key is not decoded but borrowed from base: the agent's changed cycle then holds one crawl and
 * what changed since the stored one, not two crawls (two of 10,000 tables peaked at 130 MB).
 *
 * A snapshot that borrows is read-only (snapshot_finish refuses it): base must outlive it and keep
 * every object it had (objects may be added to base and base finished again). A borrowed object
 * whose path differs here (an ancestor renamed in between) is copied, so paths are this snapshot's.
 * base may be NULL: then it is a plain decode.
 */
struct snapshot_reader;
struct snapshot_reader *snapshot_reader_new(const struct snapshot *base);
/* One piece: whole objects, the first piece starting with the head. 0 or SNAPSHOT_E_CORRUPT, which
 * sticks: later pieces are ignored. */
int snapshot_reader_add(struct snapshot_reader *r, const void *data, size_t len);
/* Frees r. 0 with *ret_s the snapshot, NULL when no piece was added; or SNAPSHOT_E_CORRUPT. */
int snapshot_reader_end(struct snapshot_reader *r, struct snapshot **ret_s);

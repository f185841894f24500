/*
 * The normalised schema model every driver produces and every other part consumes.
 *
 * An object is a kind, a stable key inside its source, the key of its parent, a name and a set of
 * string attributes. The kind table (model.c) says, for each kind, how its path is written and, for
 * each attribute, whether it is a reference to other objects and how severe a change to it is. Keeping
 * the model generic keeps the snapshot, diff, wire and catalog code free of per-kind switch ladders:
 * a new attribute is one line in that table and one assignment in a driver.
 *
 * Observations (estimated rows, total bytes) live in obs[], apart from attrs[]: they update the
 * catalog but are never hashed and never make history (DESIGN §2).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct buf;

enum obj_kind {
	OBJ_DATABASE,
	OBJ_SCHEMA,
	OBJ_TABLE,
	OBJ_VIEW,
	OBJ_MATVIEW,
	OBJ_COLUMN,
	OBJ_PRIMARY_KEY,
	OBJ_UNIQUE,
	OBJ_CHECK,
	OBJ_FOREIGN_KEY,
	OBJ_INDEX,
	OBJ_SEQUENCE,
	OBJ_KIND_COUNT
};

enum severity {
	SEV_COSMETIC,
	SEV_ADDITIVE,
	SEV_BREAKING,
};

/*
 * Attribute value types. REFS values are lists of object keys joined by MODEL_REF_SEP; the diff, the
 * catalog and the CLI render them as names, and the collector derives graph edges from them. Keys, not
 * names, are hashed so that renaming a column is one RENAME, not a RENAME plus an ALTER on every index
 * and constraint that uses it.
 */
enum attr_type {
	ATTR_TEXT,
	ATTR_BOOL,   /* "true" or absent */
	ATTR_INT,
	ATTR_REFS,
};

#define MODEL_REF_SEP '\x1f'
#define MODEL_REF_SEP_STR "\x1f"

/* The most attributes, and the most observations, one object can have: an object counts them in 16
 * bits, which 245,000 objects of a crawl are 2 MB the smaller for. Decoders refuse more; a driver
 * sets a few dozen at most. */
#define OBJ_MAX_ATTRS UINT16_MAX

/* Made by attr_make and freed by attr_free, which say where the name lives. */
struct attr {
	const char *name;
	char *value;
};

/* An object's attributes and observations while it is written (model.c's own). */
struct obj_open;

/*
 * key, parent and name are fixed by obj_new and live in the object's own allocation, the key inline
 * at its end. A snapshot holds hundreds of thousands of objects, so every field counts: counts are
 * 16-bit, an array's capacity is implied by its count (obj_append), not stored, and snapshot_add moves
 * an object into the snapshot's arena (obj_move), where it costs its size, not a malloc chunk, where
 * its parent may be the string of another object there (a column's, its table's key), and its name
 * the end of its key when the key ends with it.
 *
 * Attributes and observations are read through obj_attr and obj_ob, which hide whether the object is
 * open (being written: arrays of struct attr with room to grow) or packed (obj_pack: four bytes an
 * attribute, not sixteen, in one block with the strings).
 */
struct obj {
	uint8_t kind;        /* enum obj_kind, in a byte: with the flags and both counts, 8 bytes, not 16 */
	bool lent : 1;       /* o itself is an arena's (obj_move): obj_free frees what it holds, not o */
	bool packed : 1;     /* attrs, obs and their strings share one block (obj_pack) */
	bool hashed : 1;     /* hash is that of attrs as they are (obj_hash); a write to attrs clears it */
	bool block_lent : 1; /* the packed block is an arena's (obj_seal), freed with it, not with o */
	bool path_lent : 1;  /* path_str is not o's to free: the arena's (snapshot_finish), or its parent's */
	bool path_up : 1;    /* path_str is the parent's path; o's own is it, the kind's separator and name */
	uint16_t nattrs, nobs; /* at most OBJ_MAX_ATTRS each */
	const char *parent; /* key of the containing object; NULL only for the database */
	const char *name;
	/* Read through obj_path. snapshot_finish sets it; a leaf (an object that is nobody's parent: 224,000
	 * of a 10,000-table database's 245,000 objects) points at its parent's path rather than hold its
	 * own, which saved 9 MB of a crawl's peak. */
	char *path_str;
	union {
		struct obj_open *open; /* !packed; NULL until something is set */
		uint32_t *block;       /* packed */
	};
	unsigned char hash[32]; /* SHA-256 of the canonical encoding; set by snapshot_finish */
	char key[]; /* stable inside the source: PostgreSQL "r:16384", "a:16384:3"; never contains MODEL_REF_SEP */
};

/* What a kind's attributes mean to the diff. */
struct attr_def {
	const char *name;
	enum attr_type type;
	enum severity sev;    /* severity of a change; type and nullability get rules of their own */
	bool folded;          /* hashed but reported through another field (length through type) */
};

struct kind_def {
	const char *name;     /* as users type it: "table", "column", "foreign_key" … */
	char path_sep;        /* separator before this object's name in its path */
	enum severity add_sev;
	enum severity drop_sev;
	const struct attr_def *attrs; /* terminated by a NULL name */
};

const struct kind_def *model_kind(enum obj_kind kind);
/* -1 when name is not a kind. */
int model_kind_lookup(const char *name);
const struct attr_def *model_attr_def(enum obj_kind kind, const char *attr);
const char *model_severity_name(enum severity sev);
int model_severity_lookup(const char *name);

/* One attribute, copied from name and value (of nlen and vlen bytes, or up to a NUL before that). */
struct attr attr_make(const char *name, size_t nlen, const char *value, size_t vlen);
void attr_free(struct attr *a);

struct obj *obj_new(enum obj_kind kind, const char *key, const char *parent, const char *name);
void obj_free(struct obj *o);
/* o, moved with its strings into arena (o is freed); an object there already is returned as it is.
 * parent, when not NULL, is a string equal to o's parent that lasts as long as the arena (the key or
 * parent of an object in it): o then points at it rather than hold a copy. */
struct obj *obj_move(struct obj *o, struct arena *arena, const char *parent);
struct obj *obj_dup(const struct obj *o);
/* Sets (replacing) an attribute; a NULL value removes it. Empty strings are stored as given. */
void obj_set(struct obj *o, const char *name, const char *value);
void obj_setf(struct obj *o, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void obj_set_obs(struct obj *o, const char *name, const char *value);
/* Appends a (made by attr_make; taken over) without looking for an attribute of the same name: for
 * decoders, which sort once and refuse a repeated name afterwards, where obj_set's search is O(n²). */
void obj_append(struct obj *o, struct attr a);
void obj_append_obs(struct obj *o, struct attr a);
/* Borrowed until o is next written or packed (obj_pack moves its values); NULL when absent. A linear
 * search: an object has a handful of attributes. */
const char *obj_get(const struct obj *o, const char *name);
const char *obj_get_obs(const struct obj *o, const char *name);
/* Attribute i < o->nattrs, and observation i < o->nobs, by value; the strings are borrowed as
 * obj_get's are. In name order once sorted (obj_sort_attrs); a packed object always is. */
struct attr obj_attr(const struct obj *o, size_t i);
struct attr obj_ob(const struct obj *o, size_t i);
/* Either of them, for code that treats attributes and observations alike. */
typedef struct attr (*obj_attr_fn)(const struct obj *o, size_t i);
void obj_sort_attrs(struct obj *o);
/* Sorts as obj_sort_attrs does; false when a name repeats among the attributes or among the
 * observations, which a decoder refuses (an encoder never writes one). */
bool obj_sort_unique(struct obj *o);
/* Sets attr to the SHA-256 of text in hex: a view's definition is compared, not stored. */
void obj_set_sha256(struct obj *o, const char *attr, const char *text);
/*
 * Sorts attrs and obs and moves them, with all their strings, into one block of exactly their size;
 * snapshot_add and snapshot_finish do it, so that a snapshot costs what it holds rather than a million
 * small allocations. obj_set, obj_set_obs and the appends unpack first, so a packed object stays
 * writable. An object whose block would pass 16 MB stays open.
 */
void obj_pack(struct obj *o);
/* o's path, source/database/schema/table[.column|#constraint], or NULL before it has one. A leaf's is
 * joined in tmp, which must outlive the result (and is overwritten by the next call with it). */
const char *obj_path(const struct obj *o, struct buf *tmp);
/* The same, allocated (NULL when o has none). */
char *obj_path_dup(const struct obj *o);
/* Gives o path (allocated, taken over; or NULL) in place of the one it has. */
void obj_set_path(struct obj *o, char *path);
/* The canonical content hash over kind, key, parent, name and attrs (not path, not obs). */
void obj_hash(struct obj *o);
/* Sorts o's attributes, hashes them unless that is done, and packs o, its block in arena: what a
 * finished object is. snapshot_add does it to the object added before (a crawl's client mostly waits
 * for the server meanwhile), snapshot_finish to the rest, each with the snapshot's arena. */
void obj_seal(struct obj *o, struct arena *arena);
bool obj_obs_equal(const struct obj *a, const struct obj *b);

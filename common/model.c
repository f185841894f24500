#include "model.h"

#include <pthread.h>
#include <sodium.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "sha256.h"
#include "xmalloc.h"

/*
 * Attribute tables, one per kind. An attribute a driver sets that is not listed here is still
 * hashed, stored and diffed (as an ADDITIVE text change), so a driver can carry extra detail without
 * touching this file; listing it gives it a type and a severity. Severity reasoning:
 * BREAKING breaks a reader or writer that worked before (a narrower type, a new NOT NULL, a removed
 * default, different keys); ADDITIVE adds possibilities; COSMETIC changes documentation only.
 */
/* dbms, dbms_version: what the server says it is. unsupported: what the driver could not read from
 * this server (comma-separated: "comments,foreign_keys"): never guessed, shown by `prospector status`. */
static const struct attr_def database_attrs[] = {
	{ "comment", ATTR_TEXT, SEV_COSMETIC, false },
	{ "dbms", ATTR_TEXT, SEV_COSMETIC, false },
	{ "dbms_version", ATTR_TEXT, SEV_COSMETIC, false },
	{ "unsupported", ATTR_TEXT, SEV_COSMETIC, false },
	{ "encoding", ATTR_TEXT, SEV_BREAKING, false },
	{ "collation", ATTR_TEXT, SEV_BREAKING, false },
	{ "ctype", ATTR_TEXT, SEV_BREAKING, false },
	{ NULL, 0, 0, false },
};

static const struct attr_def schema_attrs[] = {
	{ "comment", ATTR_TEXT, SEV_COSMETIC, false },
	{ "owner", ATTR_TEXT, SEV_COSMETIC, false },
	{ "charset", ATTR_TEXT, SEV_ADDITIVE, false },
	{ "collation", ATTR_TEXT, SEV_ADDITIVE, false },
	{ NULL, 0, 0, false },
};

static const struct attr_def table_attrs[] = {
	{ "comment", ATTR_TEXT, SEV_COSMETIC, false },
	{ "owner", ATTR_TEXT, SEV_COSMETIC, false },
	{ "partitioned", ATTR_BOOL, SEV_BREAKING, false },
	{ "partition_key", ATTR_TEXT, SEV_BREAKING, false },
	{ "partition_of", ATTR_REFS, SEV_BREAKING, false },
	{ "partition_bound", ATTR_TEXT, SEV_BREAKING, false },
	{ "foreign", ATTR_BOOL, SEV_BREAKING, false },
	{ "foreign_server", ATTR_TEXT, SEV_BREAKING, false },
	{ "unlogged", ATTR_BOOL, SEV_ADDITIVE, false },
	{ "engine", ATTR_TEXT, SEV_ADDITIVE, false },
	{ "charset", ATTR_TEXT, SEV_BREAKING, false },
	{ "collation", ATTR_TEXT, SEV_BREAKING, false },
	{ NULL, 0, 0, false },
};

static const struct attr_def view_attrs[] = {
	{ "comment", ATTR_TEXT, SEV_COSMETIC, false },
	{ "owner", ATTR_TEXT, SEV_COSMETIC, false },
	{ "definition_hash", ATTR_TEXT, SEV_BREAKING, false },
	{ "depends_on", ATTR_REFS, SEV_BREAKING, false },
	{ NULL, 0, 0, false },
};

/* type carries the change; family/length/precision/scale are hashed and decide its severity. */
static const struct attr_def column_attrs[] = {
	{ "ordinal", ATTR_INT, SEV_COSMETIC, false },
	{ "type", ATTR_TEXT, SEV_BREAKING, false },
	{ "family", ATTR_TEXT, SEV_BREAKING, true },
	{ "length", ATTR_INT, SEV_BREAKING, true },
	{ "precision", ATTR_INT, SEV_BREAKING, true },
	{ "scale", ATTR_INT, SEV_BREAKING, true },
	{ "unsigned", ATTR_BOOL, SEV_BREAKING, true },
	{ "nullable", ATTR_BOOL, SEV_BREAKING, false },
	{ "default", ATTR_TEXT, SEV_ADDITIVE, false },
	{ "identity", ATTR_TEXT, SEV_ADDITIVE, false },
	{ "generated", ATTR_TEXT, SEV_BREAKING, false },
	{ "auto_increment", ATTR_BOOL, SEV_ADDITIVE, false },
	{ "on_update", ATTR_TEXT, SEV_ADDITIVE, false },
	{ "charset", ATTR_TEXT, SEV_BREAKING, false },
	{ "collation", ATTR_TEXT, SEV_ADDITIVE, false },
	{ "comment", ATTR_TEXT, SEV_COSMETIC, false },
	{ NULL, 0, 0, false },
};

/* prefix_lengths: MySQL index prefixes, one per column ("10," = the first 10 characters of the first). */
static const struct attr_def key_attrs[] = {
	{ "columns", ATTR_REFS, SEV_BREAKING, false },
	{ "prefix_lengths", ATTR_TEXT, SEV_BREAKING, false },
	{ "deferrable", ATTR_TEXT, SEV_ADDITIVE, false },
	{ "comment", ATTR_TEXT, SEV_COSMETIC, false },
	{ NULL, 0, 0, false },
};

static const struct attr_def check_attrs[] = {
	{ "expression", ATTR_TEXT, SEV_BREAKING, false },
	{ "columns", ATTR_REFS, SEV_BREAKING, false },
	{ "comment", ATTR_TEXT, SEV_COSMETIC, false },
	{ NULL, 0, 0, false },
};

static const struct attr_def fk_attrs[] = {
	{ "columns", ATTR_REFS, SEV_BREAKING, false },
	{ "ref_table", ATTR_REFS, SEV_BREAKING, false },
	{ "ref_columns", ATTR_REFS, SEV_BREAKING, false },
	{ "on_update", ATTR_TEXT, SEV_BREAKING, false },
	{ "on_delete", ATTR_TEXT, SEV_BREAKING, false },
	{ "match", ATTR_TEXT, SEV_BREAKING, false },
	{ "deferrable", ATTR_TEXT, SEV_ADDITIVE, false },
	{ "comment", ATTR_TEXT, SEV_COSMETIC, false },
	{ NULL, 0, 0, false },
};

static const struct attr_def index_attrs[] = {
	{ "columns", ATTR_REFS, SEV_ADDITIVE, false },
	{ "expressions", ATTR_TEXT, SEV_ADDITIVE, false },
	{ "include", ATTR_REFS, SEV_ADDITIVE, false },
	{ "prefix_lengths", ATTR_TEXT, SEV_ADDITIVE, false },
	{ "unique", ATTR_BOOL, SEV_BREAKING, false },
	{ "method", ATTR_TEXT, SEV_COSMETIC, false },
	{ "predicate", ATTR_TEXT, SEV_ADDITIVE, false },
	{ "comment", ATTR_TEXT, SEV_COSMETIC, false },
	{ NULL, 0, 0, false },
};

static const struct attr_def sequence_attrs[] = {
	{ "type", ATTR_TEXT, SEV_BREAKING, false },
	{ "start", ATTR_INT, SEV_ADDITIVE, false },
	{ "increment", ATTR_INT, SEV_BREAKING, false },
	{ "min", ATTR_INT, SEV_BREAKING, false },
	{ "max", ATTR_INT, SEV_BREAKING, false },
	{ "cycle", ATTR_BOOL, SEV_BREAKING, false },
	{ "owned_by", ATTR_REFS, SEV_ADDITIVE, false },
	{ "comment", ATTR_TEXT, SEV_COSMETIC, false },
	{ NULL, 0, 0, false },
};

/* Indexed by enum obj_kind. Adding a constraint restricts writes, so it is BREAKING; dropping one
 * loosens them, but readers may rely on the guarantee, so it is BREAKING too. */
static const struct kind_def kinds[OBJ_KIND_COUNT] = {
	[OBJ_DATABASE] = { "database", '/', SEV_ADDITIVE, SEV_BREAKING, database_attrs },
	[OBJ_SCHEMA] = { "schema", '/', SEV_ADDITIVE, SEV_BREAKING, schema_attrs },
	[OBJ_TABLE] = { "table", '/', SEV_ADDITIVE, SEV_BREAKING, table_attrs },
	[OBJ_VIEW] = { "view", '/', SEV_ADDITIVE, SEV_BREAKING, view_attrs },
	[OBJ_MATVIEW] = { "matview", '/', SEV_ADDITIVE, SEV_BREAKING, view_attrs },
	[OBJ_COLUMN] = { "column", '.', SEV_ADDITIVE, SEV_BREAKING, column_attrs },
	[OBJ_PRIMARY_KEY] = { "primary_key", '#', SEV_BREAKING, SEV_BREAKING, key_attrs },
	[OBJ_UNIQUE] = { "unique", '#', SEV_BREAKING, SEV_BREAKING, key_attrs },
	[OBJ_CHECK] = { "check", '#', SEV_BREAKING, SEV_BREAKING, check_attrs },
	[OBJ_FOREIGN_KEY] = { "foreign_key", '#', SEV_BREAKING, SEV_BREAKING, fk_attrs },
	[OBJ_INDEX] = { "index", '#', SEV_ADDITIVE, SEV_BREAKING, index_attrs },
	[OBJ_SEQUENCE] = { "sequence", '/', SEV_ADDITIVE, SEV_BREAKING, sequence_attrs },
};

static const char *const severity_names[] = {
	[SEV_COSMETIC] = "COSMETIC",
	[SEV_ADDITIVE] = "ADDITIVE",
	[SEV_BREAKING] = "BREAKING",
};

const struct kind_def *model_kind(enum obj_kind kind)
{
	return (unsigned)kind < OBJ_KIND_COUNT ? &kinds[kind] : NULL;
}

int model_kind_lookup(const char *name)
{
	for (int k = 0; k < OBJ_KIND_COUNT; k++)
		if (strcmp(kinds[k].name, name) == 0)
			return k;
	return -1;
}

const struct attr_def *model_attr_def(enum obj_kind kind, const char *attr)
{
	const struct attr_def *d = model_kind(kind) ? kinds[kind].attrs : NULL;

	for (; d && d->name; d++)
		if (strcmp(d->name, attr) == 0)
			return d;
	return NULL;
}

const char *model_severity_name(enum severity sev)
{
	return (unsigned)sev <= SEV_BREAKING ? severity_names[sev] : "?";
}

int model_severity_lookup(const char *name)
{
	for (int s = SEV_COSMETIC; s <= SEV_BREAKING; s++)
		if (strcasecmp(severity_names[s], name) == 0)
			return s;
	return -1;
}

/*
 * Attribute and observation names come from a small fixed set: the kind table's and the drivers'
 * observations. An attribute points at the model's copy of its name instead of holding its own,
 * which saves an allocation per attribute: a million of them in a crawl of 200,000 columns. A name
 * the model does not know (a driver's extra detail, a newer agent's attribute) is kept in the
 * value's allocation, after the value, so that freeing the value frees both either way.
 */
static const char *const obs_names[] = { "bytes", "rows" };

struct name_key {
	const char *s;
	size_t n;
};

static const char **names;
static size_t nnames;
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static int name_sort_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void names_add(const char *name, size_t *cap)
{
	xgrow(&names, cap, nnames + 1, sizeof(*names));
	names[nnames++] = name;
}

/* Every name once, sorted, on first use (once: the collector diffs on a thread of its own). */
static void names_init(void)
{
	size_t cap = 0, n = 0;

	for (int k = 0; k < OBJ_KIND_COUNT; k++)
		for (const struct attr_def *d = kinds[k].attrs; d->name; d++)
			names_add(d->name, &cap);
	for (size_t i = 0; i < sizeof(obs_names) / sizeof(*obs_names); i++)
		names_add(obs_names[i], &cap);
	qsort(names, nnames, sizeof(*names), name_sort_cmp);
	for (size_t i = 0; i < nnames; i++)
		if (n == 0 || strcmp(names[n - 1], names[i]) != 0)
			names[n++] = names[i];
	nnames = n;
	if (nnames >= 0xff) /* a packed entry has a byte for the index, and 0xff means "its own" (obj_pack) */
		abort();
}

static int name_find_cmp(const void *key, const void *elem)
{
	const struct name_key *k = key;
	const char *name = *(const char *const *)elem;
	int c = strncmp(k->s, name, k->n);

	return c ? c : name[k->n] ? -1 : 0;
}

/* The model's copy of the name, or NULL. */
static const char *model_name(const char *s, size_t n)
{
	struct name_key k = { s, n };
	const char **hit;

	pthread_once(&names_once, names_init);
	hit = bsearch(&k, names, nnames, sizeof(*names), name_find_cmp);
	return hit ? *hit : NULL;
}

struct attr attr_make(const char *name, size_t nlen, const char *value, size_t vlen)
{
	const char *known;
	char *v;

	nlen = strnlen(name, nlen);
	vlen = strnlen(value, vlen);
	known = model_name(name, nlen);
	v = xmalloc(vlen + 1 + (known ? 0 : nlen + 1));
	memcpy(v, value, vlen);
	v[vlen] = '\0';
	if (known)
		return (struct attr){ known, v };
	memcpy(v + vlen + 1, name, nlen);
	v[vlen + 1 + nlen] = '\0';
	return (struct attr){ v + vlen + 1, v };
}

void attr_free(struct attr *a)
{
	free(a->value);
	a->value = NULL;
	a->name = NULL;
}

/* Copies s to *at and moves *at past it. */
static const char *obj_put_str(char **at, const char *s, size_t len)
{
	char *copy = *at;

	memcpy(copy, s, len + 1);
	*at += len + 1;
	return copy;
}

/* One allocation for the object and its three fixed strings: a crawl of 200,000 columns makes
 * 600,000 fewer small allocations, some 16 MB of a snapshot's memory. */
struct obj *obj_new(enum obj_kind kind, const char *key, const char *parent, const char *name)
{
	size_t klen = strlen(key), plen = parent ? strlen(parent) : 0, nlen = strlen(name);
	struct obj *o = xcalloc(1, sizeof(*o) + klen + 1 + (parent ? plen + 1 : 0) + nlen + 1);
	char *at = o->key;

	o->kind = kind;
	obj_put_str(&at, key, klen);
	o->parent = parent ? obj_put_str(&at, parent, plen) : NULL;
	o->name = obj_put_str(&at, name, nlen);
	return o;
}

/* What an open object's attributes and observations are kept in. */
struct obj_open {
	struct attr *attrs, *obs;
};

/*
 * An open array of n attributes has room for attrs_room(n): the next power of two, at least 4.
 * Appending reallocates only when n reaches such a size, and no capacity is stored.
 */
static size_t attrs_room(size_t n)
{
	size_t room = 4;

	if (n == 0)
		return 0;
	while (room < n)
		room *= 2;
	return room;
}

/* Appends made to *a, of *n elements. Past OBJ_MAX_ATTRS the count would wrap: decoders refuse
 * such an object before it gets here, and a driver that made one is broken, so it stops here. */
static void attrs_append(struct attr **a, uint16_t *n, struct attr made)
{
	if (*n == OBJ_MAX_ATTRS) {
		fprintf(stderr, "prospector: an object with more than %d attributes ('%s')\n", OBJ_MAX_ATTRS, made.name);
		abort();
	}
	if (attrs_room(*n) == *n)
		*a = xreallocarray(*a, attrs_room((size_t)*n + 1), sizeof(**a));
	(*a)[(*n)++] = made;
}

static void attrs_free(struct attr *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		attr_free(&a[i]);
	free(a);
}

/*
 * Packing. A crawl of 200,000 columns sets over a million attribute values of a few bytes each; one
 * allocation per value (32 bytes at least with glibc), arrays with room to grow and two pointers an
 * attribute made most of a snapshot's memory. A packed object has one block: an entry of 32 bits
 * for each attribute and then each observation, and after them their strings, laid out as attr_make
 * lays out one attribute: a value, then the name if the model does not know it. An entry holds the
 * name's index among the model's names (PACKED_OWN_NAME when it follows the value) in its top
 * byte, and the value's offset in the block below it.
 */
#define PACKED_NAME_SHIFT 24
#define PACKED_OFFSET_MAX ((UINT32_C(1) << PACKED_NAME_SHIFT) - 1)
#define PACKED_OWN_NAME 0xffu

/* Attribute or observation i (attributes first) of a packed object. */
static struct attr packed_entry(const struct obj *o, size_t i)
{
	uint32_t e = o->block[i];
	char *v = (char *)o->block + (e & PACKED_OFFSET_MAX);
	unsigned n = e >> PACKED_NAME_SHIFT;

	return (struct attr){ n == PACKED_OWN_NAME ? v + strlen(v) + 1 : names[n], v };
}

static struct attr obj_entry(const struct obj *o, size_t i)
{
	if (o->packed)
		return packed_entry(o, i);
	return i < o->nattrs ? o->open->attrs[i] : o->open->obs[i - o->nattrs];
}

struct attr obj_attr(const struct obj *o, size_t i)
{
	return obj_entry(o, i);
}

struct attr obj_ob(const struct obj *o, size_t i)
{
	return obj_entry(o, o->nattrs + i);
}

/* Whether a's name is its own, kept right after its value (attr_make), not the model's copy. */
static bool attr_owns_name(const struct attr *a, size_t vlen)
{
	return a->name == a->value + vlen + 1;
}

/* The top byte of a's packed entry: its name's index among the model's names, or PACKED_OWN_NAME. */
static unsigned attr_name_index(const struct attr *a, size_t vlen)
{
	const char **hit;

	if (attr_owns_name(a, vlen))
		return PACKED_OWN_NAME;
	hit = bsearch(&a->name, names, nnames, sizeof(*names), name_sort_cmp);
	return hit ? (unsigned)(hit - names) : PACKED_OWN_NAME; /* never: attr_make kept the name otherwise */
}

static size_t attrs_packed_size(const struct attr *a, size_t n)
{
	size_t size = n * sizeof(uint32_t);

	for (size_t i = 0; i < n; i++) {
		size_t vlen = strlen(a[i].value);

		size += vlen + 1 + (attr_owns_name(&a[i], vlen) ? strlen(a[i].name) + 1 : 0);
	}
	return size;
}

/* Writes the entries of n attributes to ent and their strings to *at, which it moves past them. */
static void attrs_pack(uint32_t *block, uint32_t *ent, const struct attr *a, size_t n, char **at)
{
	for (size_t i = 0; i < n; i++) {
		size_t vlen = strlen(a[i].value);
		unsigned name = attr_name_index(&a[i], vlen);

		ent[i] = (uint32_t)name << PACKED_NAME_SHIFT | (uint32_t)(*at - (char *)block);
		obj_put_str(at, a[i].value, vlen);
		if (name == PACKED_OWN_NAME)
			obj_put_str(at, a[i].name, strlen(a[i].name));
	}
}

static void obj_open_free(struct obj_open *open, const struct obj *o)
{
	if (!open)
		return;
	attrs_free(open->attrs, o->nattrs);
	attrs_free(open->obs, o->nobs);
	free(open);
}

/* Packs o, its block from arena, or from the heap when that is NULL. */
static void obj_pack_in(struct obj *o, struct arena *arena)
{
	size_t n = (size_t)o->nattrs + o->nobs, size;
	uint32_t *block;
	char *at;

	if (o->packed || n == 0)
		return;
	obj_sort_attrs(o);
	size = attrs_packed_size(o->open->attrs, o->nattrs) + attrs_packed_size(o->open->obs, o->nobs);
	if (size > PACKED_OFFSET_MAX) /* a last value's offset would not fit its entry */
		return;
	block = arena ? arena_alloc(arena, size, alignof(uint32_t)) : xmalloc(size);
	at = (char *)(block + n);
	attrs_pack(block, block, o->open->attrs, o->nattrs, &at);
	attrs_pack(block, block + o->nattrs, o->open->obs, o->nobs, &at);
	obj_open_free(o->open, o);
	o->block = block;
	o->packed = true;
	o->block_lent = arena != NULL;
}

void obj_pack(struct obj *o)
{
	obj_pack_in(o, NULL);
}

const char *obj_path(const struct obj *o, struct buf *tmp)
{
	if (!o->path_up)
		return o->path_str;
	buf_reset(tmp);
	buf_adds(tmp, o->path_str);
	buf_addc(tmp, model_kind(o->kind)->path_sep);
	buf_adds(tmp, o->name);
	return tmp->data;
}

char *obj_path_dup(const struct obj *o)
{
	struct buf tmp;

	if (!o->path_up)
		return o->path_str ? xstrdup(o->path_str) : NULL;
	buf_init(&tmp);
	obj_path(o, &tmp);
	return buf_steal(&tmp);
}

void obj_set_path(struct obj *o, char *path)
{
	if (!o->path_lent)
		free(o->path_str);
	o->path_str = path;
	o->path_lent = false;
	o->path_up = false;
}

void obj_free(struct obj *o)
{
	if (!o)
		return;
	if (!o->path_lent)
		free(o->path_str);
	if (!o->packed)
		obj_open_free(o->open, o);
	else if (!o->block_lent)
		free(o->block);
	if (!o->lent)
		free(o);
}

/* A name that ends the key (MySQL's keys are names: "a:shop/orders/id") is read from the key. */
struct obj *obj_move(struct obj *o, struct arena *arena, const char *parent)
{
	size_t klen = strlen(o->key), plen = o->parent && !parent ? strlen(o->parent) + 1 : 0;
	size_t nlen = strlen(o->name);
	bool name_in_key = nlen <= klen && memcmp(o->key + klen - nlen, o->name, nlen) == 0;
	struct obj *m;
	char *at;

	if (o->lent)
		return o;
	m = arena_alloc(arena, offsetof(struct obj, key) + klen + 1 + plen + (name_in_key ? 0 : nlen + 1),
			alignof(struct obj));
	memcpy(m, o, offsetof(struct obj, key));
	at = m->key;
	obj_put_str(&at, o->key, klen);
	m->parent = parent ? parent : plen ? obj_put_str(&at, o->parent, plen - 1) : NULL;
	m->name = name_in_key ? m->key + klen - nlen : obj_put_str(&at, o->name, nlen);
	m->lent = true;
	free(o);
	return m;
}

/* Copies n of o's entries from the first on, into an open array with room. */
static struct attr *entries_dup(const struct obj *o, size_t first, size_t n)
{
	struct attr *d = n ? xcalloc(attrs_room(n), sizeof(*d)) : NULL;

	for (size_t i = 0; i < n; i++) {
		struct attr a = obj_entry(o, first + i);

		d[i] = attr_make(a.name, SIZE_MAX, a.value, SIZE_MAX);
	}
	return d;
}

static struct obj_open *entries_open(const struct obj *o)
{
	struct obj_open *open = xcalloc(1, sizeof(*open));

	open->attrs = entries_dup(o, 0, o->nattrs);
	open->obs = entries_dup(o, o->nattrs, o->nobs);
	return open;
}

/* o's arrays, for a writer: a packed object gets them back, with their room, and one allocation per
 * string. *ret_block is the block that held them, or NULL: the writer frees it when done, since the
 * value it sets may be one of o's own. */
static struct obj_open *obj_opened(struct obj *o, uint32_t **ret_block)
{
	*ret_block = NULL;
	if (o->packed) {
		*ret_block = o->block_lent ? NULL : o->block;
		o->open = entries_open(o);
		o->packed = false;
		o->block_lent = false;
	} else if (!o->open) {
		o->open = xcalloc(1, sizeof(*o->open));
	}
	return o->open;
}

struct obj *obj_dup(const struct obj *o)
{
	struct obj *d = obj_new(o->kind, o->key, o->parent, o->name);

	d->path_str = obj_path_dup(o);
	if (o->nattrs || o->nobs)
		d->open = entries_open(o);
	d->nattrs = o->nattrs;
	d->nobs = o->nobs;
	memcpy(d->hash, o->hash, sizeof(d->hash));
	d->hashed = o->hashed;
	return d;
}

static void attrs_set(struct attr **a, uint16_t *n, const char *name, const char *value)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*a)[i].name, name) != 0)
			continue;
		if (value) {
			struct attr made = attr_make(name, SIZE_MAX, value, SIZE_MAX); /* name may be the old one's */

			attr_free(&(*a)[i]);
			(*a)[i] = made;
		} else {
			attr_free(&(*a)[i]);
			memmove(&(*a)[i], &(*a)[i + 1], (*n - i - 1) * sizeof(**a));
			(*n)--;
		}
		return;
	}
	if (value)
		attrs_append(a, n, attr_make(name, SIZE_MAX, value, SIZE_MAX));
}

void obj_set(struct obj *o, const char *name, const char *value)
{
	uint32_t *block;
	struct obj_open *open = obj_opened(o, &block);

	o->hashed = false;
	attrs_set(&open->attrs, &o->nattrs, name, value);
	free(block);
}

void obj_setf(struct obj *o, const char *name, const char *fmt, ...)
{
	va_list ap;
	struct buf b;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	obj_set(o, name, b.data ? b.data : "");
	buf_free(&b);
}

void obj_set_obs(struct obj *o, const char *name, const char *value)
{
	uint32_t *block;
	struct obj_open *open = obj_opened(o, &block);

	attrs_set(&open->obs, &o->nobs, name, value);
	free(block);
}

void obj_append(struct obj *o, struct attr a)
{
	uint32_t *block;
	struct obj_open *open = obj_opened(o, &block);

	o->hashed = false;
	free(block);
	attrs_append(&open->attrs, &o->nattrs, a);
}

void obj_append_obs(struct obj *o, struct attr a)
{
	uint32_t *block;
	struct obj_open *open = obj_opened(o, &block);

	free(block);
	attrs_append(&open->obs, &o->nobs, a);
}

static const char *entries_get(const struct obj *o, size_t first, size_t n, const char *name)
{
	for (size_t i = first; i < first + n; i++) {
		struct attr a = obj_entry(o, i);

		if (strcmp(a.name, name) == 0)
			return a.value;
	}
	return NULL;
}

const char *obj_get(const struct obj *o, const char *name)
{
	return entries_get(o, 0, o->nattrs, name);
}

const char *obj_get_obs(const struct obj *o, const char *name)
{
	return entries_get(o, o->nattrs, o->nobs, name);
}

static int attr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct attr *)a)->name, ((const struct attr *)b)->name);
}

/* An object has a handful of attributes, which an insertion sort orders in less time than qsort
 * takes to call its comparison; a decoded object may have thousands (wire.c), which it would not. */
#define ATTRS_INSERTION_SORT_MAX 16

static void attrs_sort(struct attr *a, size_t n)
{
	if (n > ATTRS_INSERTION_SORT_MAX) {
		qsort(a, n, sizeof(*a), attr_cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct attr x = a[i];
		size_t j = i;

		for (; j > 0 && strcmp(a[j - 1].name, x.name) > 0; j--)
			a[j] = a[j - 1];
		a[j] = x;
	}
}

void obj_sort_attrs(struct obj *o)
{
	if (o->packed || !o->open) /* packing sorted them */
		return;
	attrs_sort(o->open->attrs, o->nattrs);
	attrs_sort(o->open->obs, o->nobs);
}

static bool entries_unique(const struct obj *o, size_t first, size_t n)
{
	for (size_t i = first + 1; i < first + n; i++)
		if (strcmp(obj_entry(o, i - 1).name, obj_entry(o, i).name) == 0)
			return false;
	return true;
}

bool obj_sort_unique(struct obj *o)
{
	obj_sort_attrs(o);
	return entries_unique(o, 0, o->nattrs) && entries_unique(o, o->nattrs, o->nobs);
}

void obj_set_sha256(struct obj *o, const char *attr, const char *text)
{
	unsigned char h[32];
	char hex[2 * sizeof(h) + 1];

	sha256(h, text, strlen(text));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	obj_set(o, attr, hex);
}

#define HASH_BUF_KEEP 65536

/* Canonical encoding: a version byte, then kind, key, parent, name and the sorted attributes, each
 * length-prefixed so that no two different objects encode alike. Path and obs are left out: a
 * rename of a table must not change its columns' hashes, and statistics are not schema. */
void obj_hash(struct obj *o)
{
	/* One buffer a thread, kept: a snapshot hashes hundreds of thousands of objects, and growing a
	 * fresh one to each object's size took five allocations an object. One grown past HASH_BUF_KEEP
	 * by an outsized object is not kept. */
	static _Thread_local struct buf b;

	buf_reset(&b);
	buf_addc(&b, 1);
	buf_add_varint(&b, (uint64_t)o->kind);
	buf_add_lstr(&b, o->key);
	buf_add_lstr(&b, o->parent);
	buf_add_lstr(&b, o->name);
	buf_add_varint(&b, o->nattrs);
	for (size_t i = 0; i < o->nattrs; i++) {
		struct attr a = obj_attr(o, i);

		buf_add_lstr(&b, a.name);
		buf_add_lstr(&b, a.value);
	}
	sha256(o->hash, (const unsigned char *)b.data, b.len);
	o->hashed = true;
	if (b.cap > HASH_BUF_KEEP)
		buf_free(&b);
}

void obj_seal(struct obj *o, struct arena *arena)
{
	obj_sort_attrs(o);
	if (!o->hashed)
		obj_hash(o);
	obj_pack_in(o, arena);
}

bool obj_obs_equal(const struct obj *a, const struct obj *b)
{
	if (a->nobs != b->nobs)
		return false;
	for (size_t i = 0; i < a->nobs; i++) {
		struct attr x = obj_ob(a, i), y = obj_ob(b, i);

		if (strcmp(x.name, y.name) != 0 || strcmp(x.value, y.value) != 0)
			return false;
	}
	return true;
}

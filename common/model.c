#include "model.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	char *at = (char *)(o + 1);

	o->kind = kind;
	o->key = obj_put_str(&at, key, klen);
	o->parent = parent ? obj_put_str(&at, parent, plen) : NULL;
	o->name = obj_put_str(&at, name, nlen);
	return o;
}

/*
 * An unpacked array of n attributes has room for attrs_room(n): the next power of two, at least 4.
 * Appending reallocates only when n reaches such a size, and no capacity is stored. A packed array is
 * exactly as long as it is; it is unpacked, with its room, before anything appends to it.
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

/* Appends made to *a, of *n elements (a count past 32 bits would take over 64 GB of attributes). */
static void attrs_append(struct attr **a, uint32_t *n, struct attr made)
{
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

void obj_free(struct obj *o)
{
	if (!o)
		return;
	free(o->path);
	if (o->packed) {
		free(o->attrs); /* the block: obs and every string are in it */
	} else {
		attrs_free(o->attrs, o->nattrs);
		attrs_free(o->obs, o->nobs);
	}
	free(o);
}

static struct attr *attrs_dup(const struct attr *a, size_t n)
{
	struct attr *d = n ? xcalloc(attrs_room(n), sizeof(*d)) : NULL;

	for (size_t i = 0; i < n; i++)
		d[i] = attr_make(a[i].name, SIZE_MAX, a[i].value, SIZE_MAX);
	return d;
}

/*
 * Packing. A crawl of 200,000 columns sets a million attribute values of a few bytes each; one
 * allocation per value (32 bytes at least with glibc) and arrays with room to grow made over half of
 * a snapshot's memory allocation overhead. A packed object keeps its attribute and observation
 * arrays, exactly as long as they are, and their strings in one block that starts at attrs, laid out
 * as attr_make lays out one attribute: a value, then the name if the model does not know it.
 */

/* Whether a's name is its own, kept right after its value (attr_make), not the model's copy. */
static bool attr_owns_name(const struct attr *a, size_t vlen)
{
	return a->name == a->value + vlen + 1;
}

static size_t attrs_packed_size(const struct attr *a, size_t n)
{
	size_t size = n * sizeof(*a);

	for (size_t i = 0; i < n; i++) {
		size_t vlen = strlen(a[i].value);

		size += vlen + 1 + (attr_owns_name(&a[i], vlen) ? strlen(a[i].name) + 1 : 0);
	}
	return size;
}

/* Copies n attributes to slot and their strings to *at, which it moves past them. */
static void attrs_pack(struct attr *slot, const struct attr *a, size_t n, char **at)
{
	for (size_t i = 0; i < n; i++) {
		size_t vlen = strlen(a[i].value);

		slot[i].value = *at;
		obj_put_str(at, a[i].value, vlen);
		slot[i].name = attr_owns_name(&a[i], vlen) ? obj_put_str(at, a[i].name, strlen(a[i].name)) : a[i].name;
	}
}

void obj_pack(struct obj *o)
{
	size_t n = (size_t)o->nattrs + o->nobs;
	struct attr *block;
	char *at;

	if (o->packed || n == 0)
		return;
	block = xmalloc(attrs_packed_size(o->attrs, o->nattrs) + attrs_packed_size(o->obs, o->nobs));
	at = (char *)(block + n);
	attrs_pack(block, o->attrs, o->nattrs, &at);
	attrs_pack(block + o->nattrs, o->obs, o->nobs, &at);
	attrs_free(o->attrs, o->nattrs);
	attrs_free(o->obs, o->nobs);
	o->attrs = block;
	o->obs = block + o->nattrs;
	o->packed = true;
}

/* Gives a packed object back its arrays, with their room, and one allocation per string, for a writer. Returns the
 * block, or NULL: the writer frees it when done, since the value it sets may be one of o's own. */
static struct attr *obj_unpack(struct obj *o)
{
	struct attr *block = o->attrs;

	if (!o->packed)
		return NULL;
	o->attrs = attrs_dup(block, o->nattrs);
	o->obs = attrs_dup(o->obs, o->nobs);
	o->packed = false;
	return block;
}

struct obj *obj_dup(const struct obj *o)
{
	struct obj *d = obj_new(o->kind, o->key, o->parent, o->name);

	d->path = o->path ? xstrdup(o->path) : NULL;
	d->attrs = attrs_dup(o->attrs, o->nattrs);
	d->nattrs = o->nattrs;
	d->obs = attrs_dup(o->obs, o->nobs);
	d->nobs = o->nobs;
	memcpy(d->hash, o->hash, sizeof(d->hash));
	d->hashed = o->hashed;
	return d;
}

static void attrs_set(struct attr **a, uint32_t *n, const char *name, const char *value)
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
	struct attr *block = obj_unpack(o);

	o->hashed = false;
	attrs_set(&o->attrs, &o->nattrs, name, value);
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
	struct attr *block = obj_unpack(o);

	attrs_set(&o->obs, &o->nobs, name, value);
	free(block);
}

void obj_append(struct obj *o, struct attr a)
{
	o->hashed = false;
	free(obj_unpack(o));
	attrs_append(&o->attrs, &o->nattrs, a);
}

void obj_append_obs(struct obj *o, struct attr a)
{
	free(obj_unpack(o));
	attrs_append(&o->obs, &o->nobs, a);
}

static const char *attrs_get(const struct attr *a, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].name, name) == 0)
			return a[i].value;
	return NULL;
}

const char *obj_get(const struct obj *o, const char *name)
{
	return attrs_get(o->attrs, o->nattrs, name);
}

const char *obj_get_obs(const struct obj *o, const char *name)
{
	return attrs_get(o->obs, o->nobs, name);
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
	attrs_sort(o->attrs, o->nattrs);
	attrs_sort(o->obs, o->nobs);
}

static bool attrs_unique(const struct attr *a, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(a[i - 1].name, a[i].name) == 0)
			return false;
	return true;
}

bool obj_sort_unique(struct obj *o)
{
	obj_sort_attrs(o);
	return attrs_unique(o->attrs, o->nattrs) && attrs_unique(o->obs, o->nobs);
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
		buf_add_lstr(&b, o->attrs[i].name);
		buf_add_lstr(&b, o->attrs[i].value);
	}
	sha256(o->hash, (const unsigned char *)b.data, b.len);
	o->hashed = true;
	if (b.cap > HASH_BUF_KEEP)
		buf_free(&b);
}

void obj_seal(struct obj *o)
{
	obj_sort_attrs(o);
	if (!o->hashed)
		obj_hash(o);
	obj_pack(o);
}

bool obj_obs_equal(const struct obj *a, const struct obj *b)
{
	if (a->nobs != b->nobs)
		return false;
	for (size_t i = 0; i < a->nobs; i++)
		if (strcmp(a->obs[i].name, b->obs[i].name) != 0 || strcmp(a->obs[i].value, b->obs[i].value) != 0)
			return false;
	return true;
}

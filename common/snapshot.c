#include "snapshot.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* The first byte of an encoded snapshot; bump it when the encoding changes. */
#define SNAPSHOT_FORMAT 1

static bool bit_get(const unsigned char *bits, size_t i)
{
	return bits[i / 8] & (1u << (i % 8));
}

static void bit_set(unsigned char *bits, size_t i)
{
	bits[i / 8] |= (unsigned char)(1u << (i % 8));
}

static void bit_clear(unsigned char *bits, size_t i)
{
	bits[i / 8] &= (unsigned char)~(1u << (i % 8));
}

/* True when objs[i] is another snapshot's (snapshot_reader): read, never freed or written here. */
static bool snapshot_borrows(const struct snapshot *s, size_t i)
{
	return s->borrowed && bit_get(s->borrowed, i);
}

struct snapshot *snapshot_new(const char *source)
{
	struct snapshot *s = xcalloc(1, sizeof(*s));

	s->source = xstrdup(source);
	return s;
}

void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nobjs; i++)
		if (!snapshot_borrows(s, i))
			obj_free(s->objs[i]);
	for (size_t i = 0; i < s->npartial; i++) {
		free(s->partial[i].key);
		free(s->partial[i].reason);
	}
	free(s->partial);
	free(s->borrowed);
	free(s->objs);
	free(s->source);
	arena_free(&s->arena);
	free(s);
}

void snapshot_mark_partial(struct snapshot *s, const char *key, const char *reason)
{
	xgrow(&s->partial, &s->partial_cap, s->npartial + 1, sizeof(*s->partial));
	s->partial[s->npartial].key = xstrdup(key);
	s->partial[s->npartial].reason = xstrdup(reason);
	s->npartial++;
}

/* A string equal to o's parent that the snapshot keeps anyway: the previous object's parent (a
 * table's columns come one after another) or key (the first of them comes after the table). A
 * crawl of 200,000 columns then holds each table's key once, not once for every column. */
static const char *snapshot_shared_parent(const struct snapshot *s, const struct obj *o)
{
	const struct obj *prev = s->nobjs ? s->objs[s->nobjs - 1] : NULL;

	if (!o->parent || !prev || snapshot_borrows(s, s->nobjs - 1))
		return NULL;
	if (prev->parent && strcmp(prev->parent, o->parent) == 0)
		return prev->parent;
	return strcmp(prev->key, o->parent) == 0 ? prev->key : NULL;
}

/* Drivers mostly complete an object before they add the next one, so the previous one is sealed
 * (obj_seal) now: a crawl then peaks near the packed size of its snapshot, not at the unpacked one,
 * and hashes while the server sends the next rows. One written later is unpacked and unhashed by
 * the write and sealed again by snapshot_finish. */
struct obj *snapshot_add(struct snapshot *s, struct obj **o)
{
	struct obj *added = obj_move(*o, &s->arena, snapshot_shared_parent(s, *o));

	if (s->nobjs)
		obj_seal(s->objs[s->nobjs - 1], &s->arena);
	xgrow(&s->objs, &s->cap, s->nobjs + 1, sizeof(*s->objs));
	s->objs[s->nobjs++] = added;
	*o = NULL;
	return added;
}

void snapshot_take(struct snapshot *s, struct snapshot *from)
{
	for (size_t i = 0; i < from->nobjs; i++)
		snapshot_add(s, &from->objs[i]);
	from->nobjs = 0;
	arena_adopt(&s->arena, &from->arena);
}

static int obj_key_cmp(const void *a, const void *b)
{
	const struct obj *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

/* The position of the object with this key, or SIZE_MAX. Needs a finished snapshot. */
static size_t snapshot_index(const struct snapshot *s, const char *key)
{
	size_t lo = 0, hi = s ? s->nobjs : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->objs[mid]->key, key);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

struct obj *snapshot_find(const struct snapshot *s, const char *key)
{
	size_t i = snapshot_index(s, key);

	return i == SIZE_MAX ? NULL : s->objs[i];
}

size_t snapshot_count(const struct snapshot *s, enum obj_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nobjs; i++)
		n += s->objs[i]->kind == kind;
	return n;
}

static int snapshot_fail(struct snapshot *s, int code, const char *fmt, const char *key)
{
	snprintf(s->error, sizeof(s->error), fmt, key);
	return code;
}

/* Whether path is a, sep and b joined. */
static bool path_is(const char *path, const char *a, char sep, const char *b)
{
	size_t la = strlen(a);

	return strncmp(path, a, la) == 0 && path[la] == sep && strcmp(path + la + 1, b) == 0;
}

/* Sets o's path to a, sep and b joined, in the snapshot's arena. A path o has already is kept: a
 * snapshot finished again (after a filter, or with objects carried over) spends nothing twice. */
static void snapshot_put_path(struct snapshot *s, struct obj *o, const char *a, char sep, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p;

	if (o->path_str && !o->path_up && path_is(o->path_str, a, sep, b))
		return;
	obj_set_path(o, NULL);
	p = arena_alloc(&s->arena, la + lb + 2, 1);
	memcpy(p, a, la);
	p[la] = sep;
	memcpy(p + la + 1, b, lb + 1);
	o->path_str = p;
	o->path_lent = true;
	o->path_up = false;
}

/* A leaf's path is its parent's (obj_path joins its own name when asked). */
static void snapshot_put_path_up(struct obj *o, const struct obj *parent)
{
	obj_set_path(o, NULL);
	o->path_str = parent->path_str;
	o->path_lent = true;
	o->path_up = true;
}

/* Replaces the borrowed object at i by a copy of its own, whose path this snapshot then writes. */
static void snapshot_own(struct snapshot *s, size_t i)
{
	struct obj *c = obj_move(obj_dup(s->objs[i]), &s->arena, NULL);

	obj_seal(c, &s->arena);
	s->objs[i] = c;
	bit_clear(s->borrowed, i);
}

/* Whether a borrowed object's path, the one it has in the snapshot it belongs to, is up_path, sep and
 * its name here too: not when an ancestor was renamed or moved between the two. */
static bool snapshot_path_holds(const struct obj *o, const char *up_path, char sep)
{
	if (o->path_up)
		return strcmp(o->path_str, up_path) == 0;
	return o->path_str && path_is(o->path_str, up_path, sep, o->name);
}

/* What snapshot_finish needs while it writes paths: each object's parent, which objects are a
 * parent (only those store their paths), and which have their path already. */
struct path_walk {
	uint32_t *up;            /* index of the parent; UINT32_MAX for the database */
	unsigned char *is_up;    /* one bit an object */
	unsigned char *done;     /* one bit an object */
	struct buf tmp;          /* a parent's path, when it is joined on reading (a borrowed leaf's) */
};

/* Looks up every object's parent: objects in key order mostly share it with the one before (a
 * table's columns), which saves a binary search of the snapshot per object. */
static int snapshot_link(struct snapshot *s, struct path_walk *w)
{
	size_t last = SIZE_MAX;

	for (size_t i = 0; i < s->nobjs; i++) {
		const struct obj *o = s->objs[i];

		if (!o->parent) {
			w->up[i] = UINT32_MAX;
			continue;
		}
		if (last == SIZE_MAX || strcmp(s->objs[last]->key, o->parent) != 0)
			last = snapshot_index(s, o->parent);
		if (last == SIZE_MAX)
			return snapshot_fail(s, SNAPSHOT_E_ORPHAN, "object '%s' has no parent in the snapshot", o->key);
		w->up[i] = (uint32_t)last;
		bit_set(w->is_up, last);
	}
	return 0;
}

/* Writes the path of the object at i, and its ancestors' first (they may come later in key order).
 * A borrowed object keeps its own unless an ancestor's differs here; then it gets a copy that takes
 * this snapshot's. depth guards against a parent cycle, which a well-behaved driver never produces
 * but a corrupt input could. */
static int snapshot_set_path(struct snapshot *s, size_t i, unsigned depth, struct path_walk *w)
{
	struct obj *o = s->objs[i];
	size_t p = w->up[i];
	const char *up_path = s->source;
	char sep = '/';
	int r;

	if (bit_get(w->done, i))
		return 0;
	if (p != UINT32_MAX) {
		if (depth > 16)
			return snapshot_fail(s, SNAPSHOT_E_ORPHAN, "object '%s' has no parent in the snapshot", o->key);
		r = snapshot_set_path(s, p, depth + 1, w);
		if (r)
			return r;
		up_path = obj_path(s->objs[p], &w->tmp);
		sep = model_kind(o->kind)->path_sep;
	}
	bit_set(w->done, i);
	if (snapshot_borrows(s, i)) {
		if (snapshot_path_holds(o, up_path, sep))
			return 0;
		snapshot_own(s, i);
		o = s->objs[i];
	}
	/* a parent whose path is joined on reading (a borrowed leaf) has none to point at */
	if (p == UINT32_MAX || bit_get(w->is_up, i) || s->objs[p]->path_up)
		snapshot_put_path(s, o, up_path, sep, o->name);
	else
		snapshot_put_path_up(o, s->objs[p]);
	return 0;
}

void root_hash_init(struct root_hasher *h)
{
	sha256_init(&h->st);
}

void root_hash_add(struct root_hasher *h, const char *key, const unsigned char hash[32])
{
	sha256_update(&h->st, key, strlen(key) + 1);
	sha256_update(&h->st, hash, 32);
}

void root_hash_final(struct root_hasher *h, unsigned char out[32])
{
	sha256_final(&h->st, out);
}

static void snapshot_root_hash(struct snapshot *s)
{
	struct root_hasher h;

	root_hash_init(&h);
	for (size_t i = 0; i < s->nobjs; i++)
		root_hash_add(&h, s->objs[i]->key, s->objs[i]->hash);
	root_hash_final(&h, s->root);
}

static void attrs_encode(struct buf *out, const struct obj *o, obj_attr_fn at, size_t n)
{
	buf_add_varint(out, n);
	for (size_t i = 0; i < n; i++) {
		struct attr a = at(o, i);

		buf_add_lstr(out, a.name);
		buf_add_lstr(out, a.value);
	}
}

void snapshot_obs_hash(const struct snapshot *s, unsigned char out[32])
{
	struct sha256_ctx st;
	struct buf b;

	buf_init(&b);
	sha256_init(&st);
	for (size_t i = 0; i < s->nobjs; i++) {
		const struct obj *o = s->objs[i];

		buf_reset(&b);
		buf_add_lstr(&b, o->key);
		attrs_encode(&b, o, obj_ob, o->nobs);
		sha256_update(&st, b.data, b.len);
	}
	sha256_final(&st, out);
	buf_free(&b);
}

/* Paths, seals and the root hash of a snapshot in key order; borrowed objects are only read. */
static int snapshot_complete(struct snapshot *s)
{
	struct path_walk w = {
		.up = xreallocarray(NULL, s->nobjs + 1, sizeof(*w.up)),
		.is_up = xcalloc(s->nobjs / 8 + 1, 1),
		.done = xcalloc(s->nobjs / 8 + 1, 1),
	};
	int r = snapshot_link(s, &w);

	for (size_t i = 0; r == 0 && i < s->nobjs; i++) {
		r = snapshot_set_path(s, i, 0, &w);
		if (r == 0 && !snapshot_borrows(s, i))
			obj_seal(s->objs[i], &s->arena);
	}
	free(w.up);
	free(w.is_up);
	free(w.done);
	buf_free(&w.tmp);
	if (r == 0)
		snapshot_root_hash(s);
	return r;
}

int snapshot_finish(struct snapshot *s)
{
	if (s->borrowed)
		return snapshot_fail(s, SNAPSHOT_E_CORRUPT, "%s: a snapshot that borrows objects is read-only", s->source);
	qsort(s->objs, s->nobjs, sizeof(*s->objs), obj_key_cmp);
	for (size_t i = 1; i < s->nobjs; i++)
		if (strcmp(s->objs[i - 1]->key, s->objs[i]->key) == 0)
			return snapshot_fail(s, SNAPSHOT_E_DUPLICATE, "two objects share the key '%s'", s->objs[i]->key);
	return snapshot_complete(s);
}

/* A column is named by its name; anything else by its path inside the source, without the source. */
static const char *snapshot_ref_name(const struct obj *o, struct buf *tmp)
{
	const char *path = o->kind == OBJ_COLUMN ? NULL : obj_path(o, tmp), *p;

	if (!path)
		return o->name;
	p = strchr(path, '/');
	return p ? p + 1 : path;
}

char *snapshot_render_refs(const struct snapshot *s, const char *refs)
{
	struct buf b, tmp;
	const char *p = refs;

	buf_init(&b);
	buf_init(&tmp);
	while (p && *p) {
		const char *end = strchr(p, MODEL_REF_SEP);
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *key = xstrndup(p, n);
		const struct obj *o = snapshot_find(s, key);

		if (b.len)
			buf_adds(&b, ",");
		buf_adds(&b, o ? snapshot_ref_name(o, &tmp) : key);
		free(key);
		p = end ? end + 1 : NULL;
	}
	buf_free(&tmp);
	return buf_steal(&b);
}

void hash_hex(const unsigned char hash[32], char out[65])
{
	sodium_bin2hex(out, 65, hash, 32);
}

void snapshot_obj_encode(const struct obj *o, struct buf *out)
{
	buf_add_varint(out, (uint64_t)o->kind);
	buf_add_lstr(out, o->key);
	buf_add_lstr(out, o->parent);
	buf_add_lstr(out, o->name);
	attrs_encode(out, o, obj_attr, o->nattrs);
	attrs_encode(out, o, obj_ob, o->nobs);
}

static void snapshot_encode_head(const struct snapshot *s, struct buf *out)
{
	buf_addc(out, SNAPSHOT_FORMAT);
	buf_add_lstr(out, s->source);
	buf_add_varint(out, s->nobjs);
}

void snapshot_encode(const struct snapshot *s, struct buf *out)
{
	snapshot_encode_head(s, out);
	for (size_t i = 0; i < s->nobjs; i++)
		snapshot_obj_encode(s->objs[i], out);
}

/* A piece is written before an object would fill it to chunk bytes: its buffer (with the NUL that
 * buf keeps) then never grows past chunk, nor doubles. */
int snapshot_encode_chunks(const struct snapshot *s, size_t chunk, snapshot_write_fn write, void *ctx)
{
	struct buf b, one;
	int r = 0;

	buf_init(&b);
	buf_init(&one);
	snapshot_encode_head(s, &b);
	for (size_t i = 0; r == 0 && i < s->nobjs; i++) {
		buf_reset(&one);
		snapshot_obj_encode(s->objs[i], &one);
		if (b.len + one.len >= chunk && b.len) {
			r = write(ctx, b.data, b.len);
			buf_reset(&b);
		}
		buf_add(&b, one.data, one.len);
	}
	if (r == 0 && b.len)
		r = write(ctx, b.data, b.len);
	buf_free(&b);
	buf_free(&one);
	return r;
}

/*
 * Appends; obj_decode then sorts once and refuses repeated names (obj_sort_unique). Adding each pair
 * with obj_set searched the list every time, O(n²) in the attributes of one object, which a hostile
 * object staged at the collector could turn into seconds (found with tests/fuzz). The encoder never
 * repeats a name.
 */
static int attrs_decode(struct cursor *c, struct obj *o, bool obs)
{
	void (*append)(struct obj *, struct attr) = obs ? obj_append_obs : obj_append;
	uint64_t n;

	if (cursor_varint(c, &n) < 0 || n > (uint64_t)(c->end - c->p) || n > OBJ_MAX_ATTRS)
		return -EBADMSG;
	for (uint64_t i = 0; i < n; i++) {
		const char *name = NULL, *value = NULL;
		size_t nlen, vlen;

		if (cursor_lstr_view(c, &name, &nlen) < 0 || cursor_lstr_view(c, &value, &vlen) < 0 || !name || !value)
			return -EBADMSG;
		append(o, attr_make(name, nlen, value, vlen));
	}
	return 0;
}

static int obj_decode(struct cursor *c, struct obj **ret_o)
{
	uint64_t kind;
	char *key = NULL, *parent = NULL, *name = NULL;
	struct obj *o = NULL;
	int r = -EBADMSG;

	if (cursor_varint(c, &kind) < 0 || kind >= OBJ_KIND_COUNT)
		return -EBADMSG;
	if (cursor_lstr(c, &key) < 0 || cursor_lstr(c, &parent) < 0 || cursor_lstr(c, &name) < 0)
		goto out;
	if (!key || !name)
		goto out;
	o = obj_new((enum obj_kind)kind, key, parent, name);
	r = attrs_decode(c, o, false);
	if (r == 0)
		r = attrs_decode(c, o, true);
	if (r == 0 && !obj_sort_unique(o))
		r = -EBADMSG;
out:
	free(key);
	free(parent);
	free(name);
	if (r < 0) {
		obj_free(o);
		return r;
	}
	*ret_o = o;
	return 0;
}

int snapshot_obj_decode(const void *data, size_t len, struct obj **ret_o)
{
	struct cursor c = { data, (const unsigned char *)data + len };
	struct obj *o;

	if (obj_decode(&c, &o) < 0)
		return -EBADMSG;
	if (c.p != c.end) {
		obj_free(o);
		return -EBADMSG;
	}
	*ret_o = o;
	return 0;
}

/*
 * The reader. An object whose encoding is byte for byte that of base's object of the same key is
 * base's: encodings are self-delimiting, so when base's whole encoding is a prefix of what is left,
 * it is the next object's whole encoding. Anything else is decoded into the snapshot's own arena.
 */
struct snapshot_reader {
	const struct snapshot *base; /* NULL: every object is decoded */
	struct snapshot *s;          /* NULL until the head is read */
	uint64_t n;                  /* objects the head announces */
	size_t next;                 /* base's first object with a key not below the last one read */
	struct buf enc;              /* a base object's encoding */
	int error;
};

/* Room reserved up front for the objects the head announces, at most: a corrupt count must not
 * reserve gigabytes (room not written to is not resident anyway). */
#define READER_RESERVE_MAX (1u << 24)

struct snapshot_reader *snapshot_reader_new(const struct snapshot *base)
{
	struct snapshot_reader *r = xcalloc(1, sizeof(*r));

	r->base = base;
	return r;
}

static int reader_head(struct snapshot_reader *r, struct cursor *c)
{
	char *source = NULL;

	if (*c->p++ != SNAPSHOT_FORMAT || cursor_lstr(c, &source) < 0 || !source || cursor_varint(c, &r->n) < 0) {
		free(source);
		return SNAPSHOT_E_CORRUPT;
	}
	r->s = snapshot_new(source);
	free(source);
	xgrow(&r->s->objs, &r->s->cap, r->n < READER_RESERVE_MAX ? r->n : READER_RESERVE_MAX, sizeof(*r->s->objs));
	if (r->base)
		r->s->borrowed = xcalloc(r->s->cap / 8 + 1, 1);
	return 0;
}

/* strcmp of a and the klen bytes at key. */
static int key_cmp(const char *a, const char *key, size_t klen)
{
	size_t alen = strlen(a);
	int c = memcmp(a, key, alen < klen ? alen : klen);

	return c ? c : (alen > klen) - (alen < klen);
}

/* base's object with this key, passing those below it; NULL when base has none. Keys come in order. */
static struct obj *reader_match(struct snapshot_reader *r, const char *key, size_t klen)
{
	for (; r->base && r->next < r->base->nobjs; r->next++) {
		int c = key_cmp(r->base->objs[r->next]->key, key, klen);

		if (c >= 0)
			return c == 0 ? r->base->objs[r->next] : NULL;
	}
	return NULL;
}

/* Whether the encoding at c is o's; then c is moved past it. */
static bool reader_same(struct snapshot_reader *r, const struct obj *o, struct cursor *c)
{
	buf_reset(&r->enc);
	snapshot_obj_encode(o, &r->enc);
	if ((size_t)(c->end - c->p) < r->enc.len || memcmp(c->p, r->enc.data, r->enc.len) != 0)
		return false;
	c->p += r->enc.len;
	return true;
}

static void reader_grow(struct snapshot *s)
{
	size_t had = s->cap;

	xgrow(&s->objs, &s->cap, s->nobjs + 1, sizeof(*s->objs));
	if (s->borrowed && s->cap != had) {
		s->borrowed = xreallocarray(s->borrowed, s->cap / 8 + 1, 1);
		memset(s->borrowed + had / 8 + 1, 0, s->cap / 8 - had / 8);
	}
}

/* Appends o, base's when borrowed, else taken over; objects must come in key order, as many as the
 * head said. */
static int reader_push(struct snapshot_reader *r, struct obj *o, bool borrowed)
{
	struct snapshot *s = r->s;

	if (s->nobjs == r->n || (s->nobjs && strcmp(s->objs[s->nobjs - 1]->key, o->key) >= 0)) {
		if (!borrowed)
			obj_free(o);
		return SNAPSHOT_E_CORRUPT;
	}
	reader_grow(s);
	if (borrowed) {
		bit_set(s->borrowed, s->nobjs);
	} else {
		o = obj_move(o, &s->arena, snapshot_shared_parent(s, o));
		obj_seal(o, &s->arena);
	}
	s->objs[s->nobjs++] = o;
	return 0;
}

static int reader_object(struct snapshot_reader *r, struct cursor *c)
{
	struct cursor peek = *c;
	const char *key;
	size_t klen;
	uint64_t kind;
	struct obj *o = NULL;

	if (cursor_varint(&peek, &kind) < 0 || cursor_lstr_view(&peek, &key, &klen) < 0 || !key)
		return SNAPSHOT_E_CORRUPT;
	o = reader_match(r, key, klen);
	if (o && reader_same(r, o, c))
		return reader_push(r, o, true);
	if (obj_decode(c, &o) < 0)
		return SNAPSHOT_E_CORRUPT;
	return reader_push(r, o, false);
}

int snapshot_reader_add(struct snapshot_reader *r, const void *data, size_t len)
{
	struct cursor c = { data, (const unsigned char *)data + len };

	if (!r->error && !r->s && len)
		r->error = reader_head(r, &c);
	while (!r->error && c.p < c.end)
		r->error = reader_object(r, &c);
	return r->error;
}

int snapshot_reader_end(struct snapshot_reader *r, struct snapshot **ret_s)
{
	int err = r->error;

	*ret_s = NULL;
	if (!err && r->s && (r->s->nobjs != r->n || snapshot_complete(r->s) != 0))
		err = SNAPSHOT_E_CORRUPT;
	if (err)
		snapshot_free(r->s);
	else
		*ret_s = r->s;
	buf_free(&r->enc);
	free(r);
	return err;
}

int snapshot_decode(const void *data, size_t len, struct snapshot **ret_s)
{
	struct snapshot_reader *r = snapshot_reader_new(NULL);

	snapshot_reader_add(r, data, len);
	if (snapshot_reader_end(r, ret_s) != 0 || !*ret_s)
		return SNAPSHOT_E_CORRUPT;
	return 0;
}

/* Canonical hashing, sorting, paths and the stored encoding of snapshots. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "diff.h"
#include "snapshot.h"
#include "tap.h"
#include "xmalloc.h"

static struct obj *col(const char *key, const char *table, const char *name, const char *type)
{
	struct obj *o = obj_new(OBJ_COLUMN, key, table, name);

	obj_set(o, "type", type);
	obj_set(o, "nullable", "true");
	return o;
}

/* The same objects; reversed adds them (and their attributes) in the opposite order. */
static struct snapshot *sample(bool reversed, const char *table_name)
{
	struct snapshot *s = snapshot_new("hr");
	struct obj *objs[5];

	objs[0] = obj_new(OBJ_DATABASE, "d:1", NULL, "hrdb");
	objs[1] = obj_new(OBJ_SCHEMA, "n:2200", "d:1", "public");
	objs[2] = obj_new(OBJ_TABLE, "r:100", "n:2200", table_name);
	objs[3] = col("a:100:1", "r:100", "编号", "integer");
	objs[4] = col("a:100:2", "r:100", "姓名", "text");
	if (reversed) {
		obj_set(objs[2], "owner", "hr");
		obj_set(objs[2], "comment", "人员信息");
	} else {
		obj_set(objs[2], "comment", "人员信息");
		obj_set(objs[2], "owner", "hr");
	}
	obj_set_obs(objs[2], "rows", reversed ? "10" : "99");
	for (int i = 0; i < 5; i++)
		snapshot_add(s, &objs[reversed ? 4 - i : i]);
	ok(snapshot_finish(s) == 0, "snapshot finishes (%s order)", reversed ? "reversed" : "natural");
	return s;
}

static void test_canonical(void)
{
	struct snapshot *a = sample(false, "person"), *b = sample(true, "person"), *c = sample(false, "people");
	struct buf tmp;
	char hex[65];

	buf_init(&tmp);

	ok(memcmp(a->root, b->root, 32) == 0, "root hash independent of insertion and attribute order, and of obs");
	ok(memcmp(a->root, c->root, 32) != 0, "renaming the table changes the root hash");
	ok(memcmp(snapshot_find(a, "a:100:1")->hash, snapshot_find(c, "a:100:1")->hash, 32) == 0,
	   "renaming the table leaves its columns' hashes alone (paths are not hashed)");
	ok(memcmp(snapshot_find(a, "r:100")->hash, snapshot_find(c, "r:100")->hash, 32) != 0, "…but changes the table's");
	is_str(obj_path(snapshot_find(a, "a:100:2"), &tmp), "hr/hrdb/public/person.姓名", "column path");
	is_str(obj_path(snapshot_find(c, "a:100:2"), &tmp), "hr/hrdb/public/people.姓名", "column path follows the rename");
	hash_hex(a->root, hex);
	/* A fixed value: if this changes, every deployed agent resends everything. Change it only with
	 * the format version. */
	is_str(hex, "acd434ce37bbd75afe527aa17f417d0277031d9f89f27107d211faa317b4ccca",
	       "root hash matches the documented encoding (checked independently in Python)");
	buf_free(&tmp);
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(c);
}

/* A leaf points at its parent's path; an object that becomes a parent stores its own. */
static void test_leaf_paths(void)
{
	struct snapshot *s = sample(false, "person");
	struct obj *table = snapshot_find(s, "r:100"), *column = snapshot_find(s, "a:100:2"), *o, *d;
	struct buf tmp;

	buf_init(&tmp);
	ok(!table->path_up && column->path_up && column->path_str == table->path_str,
	   "a column holds its table's path, not a copy of its own");
	is_str(obj_path(table, &tmp), "hr/hrdb/public/person", "the table's path is its own");
	ok(snapshot_find(s, "a:100:1")->parent == table->key && column->parent == table->key,
	   "columns added after their table hold no copy of its key");
	is_str(column->parent, "r:100", "…and read it all the same");
	d = obj_dup(column);
	ok(!d->path_up, "a copy holds its whole path");
	is_str(obj_path(d, &tmp), "hr/hrdb/public/person.姓名", "…which is the column's");
	obj_free(d);
	o = obj_new(OBJ_INDEX, "i:1", "a:100:2", "idx");
	snapshot_add(s, &o);
	ok(snapshot_finish(s) == 0, "finished again with an object under the column");
	column = snapshot_find(s, "a:100:2");
	ok(!column->path_up, "a column that became a parent stores its own path");
	is_str(obj_path(column, &tmp), "hr/hrdb/public/person.姓名", "…the same as before");
	is_str(obj_path(snapshot_find(s, "i:1"), &tmp), "hr/hrdb/public/person.姓名#idx", "its child's is joined to it");
	buf_free(&tmp);
	snapshot_free(s);
}

static void test_encoding(void)
{
	struct snapshot *a = sample(false, "person"), *d = NULL;
	struct buf b;

	buf_init(&b);
	snapshot_encode(a, &b);
	ok(snapshot_decode(b.data, b.len, &d) == 0, "encoded snapshot decodes");
	ok(d && memcmp(a->root, d->root, 32) == 0, "round trip keeps the root hash");
	is_str(d ? obj_get_obs(snapshot_find(d, "r:100"), "rows") : NULL, "99", "round trip keeps observations");
	snapshot_free(d);
	d = NULL;
	is_int(snapshot_decode(b.data, b.len - 3, &d), SNAPSHOT_E_CORRUPT, "truncated encoding is refused");
	b.data[0] = 99;
	is_int(snapshot_decode(b.data, b.len, &d), SNAPSHOT_E_CORRUPT, "unknown format version is refused");
	buf_free(&b);
	snapshot_free(a);
}

static void test_invalid(void)
{
	struct snapshot *s = snapshot_new("hr");
	struct obj *o = obj_new(OBJ_DATABASE, "d:1", NULL, "db"), *p = obj_new(OBJ_DATABASE, "d:1", NULL, "db2");

	snapshot_add(s, &o);
	snapshot_add(s, &p);
	is_int(snapshot_finish(s), SNAPSHOT_E_DUPLICATE, "duplicate keys are refused");
	snapshot_free(s);
	s = snapshot_new("hr");
	o = obj_new(OBJ_TABLE, "r:1", "n:404", "t");
	snapshot_add(s, &o);
	is_int(snapshot_finish(s), SNAPSHOT_E_ORPHAN, "an object whose parent is missing is refused");
	ok(strstr(s->error, "r:1") != NULL, "the message names the object: %s", s->error);
	snapshot_free(s);
}

static void test_refs(void)
{
	struct snapshot *a = sample(false, "person");
	char *r = snapshot_render_refs(a, "a:100:2" MODEL_REF_SEP_STR "a:100:1" MODEL_REF_SEP_STR "r:100");

	is_str(r, "姓名,编号,hrdb/public/person", "REFS render as column names and relation paths, in order");
	free(r);
	snapshot_free(a);
}

/* A packed object (obj_pack) reads, writes, copies and frees like an unpacked one. */
static void test_pack(void)
{
	struct obj *o = col("a:100:1", "r:100", "id", "integer"), *d;
	char name[16];

	obj_set(o, "x_detail", "driver's own");   /* a name the model does not know */
	obj_set(o, "default", "");
	obj_set(o, "ordinal", "1");
	obj_set_obs(o, "rows", "5");
	obj_pack(o);
	ok(o->packed && o->nattrs == 5 && o->nobs == 1, "packed: 5 attributes, 1 observation");
	is_str(obj_get(o, "type"), "integer", "packed: a value reads back");
	is_str(obj_get(o, "x_detail"), "driver's own", "packed: so does one under a name of its own");
	is_str(obj_get(o, "default"), "", "packed: so does an empty one");
	is_str(obj_get_obs(o, "rows"), "5", "packed: so does an observation");

	d = obj_dup(o);
	ok(!d->packed && d->nattrs == 5 && d->nobs == 1, "a copy of a packed object is unpacked, with everything");
	is_str(obj_get(d, "x_detail"), "driver's own", "the copy has its own strings");
	obj_set(d, "type", "bigint");
	obj_free(d);
	is_str(obj_get(o, "type"), "integer", "writing the copy leaves the original alone");

	obj_set(o, "x_detail", obj_get(o, "type")); /* value and name both live in the block it replaces */
	ok(!o->packed, "a write unpacks");
	is_str(obj_get(o, "x_detail"), "integer", "a value taken from the same packed object is copied first");
	obj_pack(o);
	for (size_t i = 0; i < o->nattrs; i++)
		if (strcmp(obj_attr(o, i).name, "x_detail") == 0)
			obj_set(o, obj_attr(o, i).name, obj_get(o, "ordinal")); /* the name is in the block too */
	is_str(obj_get(o, "x_detail"), "1", "so is a name taken from it");
	obj_pack(o);
	obj_set(o, "nullable", NULL);
	ok(o->nattrs == 4 && !obj_get(o, "nullable"), "an attribute is removed from a packed object");
	obj_pack(o);
	obj_set_obs(o, "bytes", "8192");
	ok(o->nobs == 2 && strcmp(obj_get_obs(o, "rows"), "5") == 0, "an observation is added to a packed object");
	for (int i = 0; i < 40; i++) { /* past several powers of two of room, after an exact packed array */
		snprintf(name, sizeof(name), "x%02d", i);
		obj_set(o, name, name);
	}
	obj_pack(o);
	ok(o->nattrs == 44 && strcmp(obj_get(o, "x39"), "x39") == 0 && strcmp(obj_get(o, "type"), "integer") == 0,
	   "attributes are added past the packed size: %u", o->nattrs);
	obj_free(o);

	o = obj_new(OBJ_SCHEMA, "n:1", "d:1", "empty");
	obj_pack(o);
	ok(!o->packed && !o->open, "nothing to pack: the object stays as it is");
	obj_free(o);
}

/* Packing sorts; a packed object reads in name order, attributes and observations apart. */
static void test_pack_order(void)
{
	struct obj *o = col("a:100:1", "r:100", "id", "integer");
	const char *want[] = { "comment", "default", "nullable", "position", "type", "zz_own" };
	bool sorted = true;

	obj_set(o, "zz_own", "mine");
	obj_set(o, "position", "1");
	obj_set(o, "default", "0");
	obj_set(o, "comment", "编号");
	obj_set_obs(o, "rows", "7");
	obj_set_obs(o, "bytes", "8192");
	obj_pack(o);
	ok(o->packed && o->nattrs == 6 && o->nobs == 2, "packed: 6 attributes, 2 observations");
	for (size_t i = 0; i < o->nattrs; i++)
		sorted = sorted && strcmp(obj_attr(o, i).name, want[i]) == 0;
	ok(sorted, "attributes read back in name order, a name of the object's own among them");
	is_str(obj_attr(o, 0).value, "编号", "and with their values");
	is_str(obj_ob(o, 0).name, "bytes", "observations read apart, in name order");
	is_str(obj_ob(o, 1).value, "7", "with their values");
	obj_free(o);
}

/* An object too large for a packed entry's offset stays open, and whole. */
static void test_pack_large(void)
{
	size_t n = (size_t)17 << 20;
	char *big = xmalloc(n + 1);
	struct obj *o = col("a:100:1", "r:100", "id", "integer");

	memset(big, 'x', n);
	big[n] = '\0';
	obj_set(o, "comment", big);
	obj_set(o, "position", "1");
	obj_pack(o);
	ok(!o->packed, "an object of 17 MB stays open");
	ok(strlen(obj_get(o, "comment")) == n && strcmp(obj_get(o, "position"), "1") == 0 &&
	   strcmp(obj_attr(o, 3).name, "type") == 0, "and reads whole, sorted");
	obj_free(o);
	free(big);
}

/* The arena hands out aligned, separate pieces; a large one does not end the chunk in use; adopted
 * memory stays valid until the adopter is freed (valgrind checks the frees). */
static void test_arena(void)
{
	struct arena a = { 0 }, b = { 0 };
	char *small[1000], *big, *after, *mine;
	bool fine = true;

	for (int i = 0; i < 1000; i++) {
		small[i] = arena_alloc(&a, (size_t)(i % 13) + 1, 4);
		fine = fine && ((uintptr_t)small[i] & 3) == 0;
		memset(small[i], i & 0xff, (size_t)(i % 13) + 1);
	}
	for (int i = 0; i < 1000; i++)
		fine = fine && (unsigned char)small[i][i % 13] == (i & 0xff);
	ok(fine, "a thousand pieces: aligned, and none overwrites another");
	big = arena_alloc(&a, 1 << 20, 8);
	memset(big, 'b', 1 << 20);
	after = arena_alloc(&a, 8, 1);
	ok(after == small[999] + 999 % 13 + 1, "a piece after a large one comes from the same chunk as before it");
	mine = strcpy(arena_alloc(&b, sizeof("从另一个来"), 1), "从另一个来");
	arena_adopt(&a, &b);
	ok(!b.chunks && b.left == 0, "adopting empties the other arena");
	is_str(mine, "从另一个来", "what it held is still there");
	ok(arena_alloc(&b, 3, 1) != NULL, "and it can be used again");
	arena_free(&b);
	arena_free(&a);
	ok(!a.chunks, "freed, the arena is empty");
}

/* Two crawls of one source for the reader: between them a column changed type, one was dropped and
 * one added, the schema "sales" became "trade" (every path below it changed, no hash did), a table
 * lost its only column (it becomes a leaf, whose path is joined on reading), and one's row count
 * changed (observations only). */
static struct snapshot *crawl(bool later)
{
	struct snapshot *s = snapshot_new("hr");
	struct obj *o[] = {
		obj_new(OBJ_DATABASE, "d:1", NULL, "hrdb"),
		obj_new(OBJ_SCHEMA, "n:1", "d:1", "public"),
		obj_new(OBJ_SCHEMA, "n:2", "d:1", later ? "trade" : "sales"),
		obj_new(OBJ_TABLE, "r:1", "n:1", "人员"),
		col("a:1:1", "r:1", "编号", "integer"),
		col("a:1:2", "r:1", "姓名", later ? "varchar" : "text"),
		later ? col("a:1:4", "r:1", "邮箱", "text") : col("a:1:3", "r:1", "年龄", "integer"),
		obj_new(OBJ_TABLE, "r:2", "n:2", "orders"),
		col("a:2:1", "r:2", "id", "integer"),
		col("a:2:2", "r:2", "person", "integer"),
		obj_new(OBJ_FOREIGN_KEY, "f:1", "r:2", "orders_person_fk"),
		obj_new(OBJ_TABLE, "r:3", "n:1", "empty"),
		later ? NULL : col("a:3:1", "r:3", "gone", "text"),
	};
	struct obj *counted = obj_new(OBJ_TABLE, "r:4", "n:1", "counted");

	obj_set(o[3], "comment", "人员信息");
	obj_set(o[10], "columns", "a:2:2");
	obj_set(o[10], "ref_columns", "a:1:1");
	obj_set(o[10], "ref_table", "r:1");
	obj_set_obs(counted, "rows", later ? "20" : "10");
	for (size_t i = 0; i < sizeof(o) / sizeof(*o); i++)
		if (o[i])
			snapshot_add(s, &o[i]);
	snapshot_add(s, &counted);
	if (snapshot_finish(s) != 0) {
		fprintf(stderr, "the reader's sample does not finish: %s\n", s->error);
		abort();
	}
	return s;
}

struct pieces {
	struct buf *piece;
	size_t n;
};

static int keep_piece(void *ctx, const void *data, size_t len)
{
	struct pieces *p = ctx;

	p->piece = xreallocarray(p->piece, p->n + 1, sizeof(*p->piece));
	buf_init(&p->piece[p->n]);
	buf_add(&p->piece[p->n++], data, len);
	return 0;
}

static bool pieces_within(const struct pieces *p, size_t chunk)
{
	for (size_t i = 0; i < p->n; i++) {
		struct obj *o;

		if (p->piece[i].len < chunk)
			continue;
		if (i == 0 || snapshot_obj_decode(p->piece[i].data, p->piece[i].len, &o) != 0)
			return false;
		obj_free(o);
	}
	return true;
}

/* The pieces, in this order (an index list ending with SIZE_MAX), to a reader against base. */
static int read_pieces(const struct pieces *p, const size_t *order, const struct snapshot *base,
		       struct snapshot **ret)
{
	struct snapshot_reader *r = snapshot_reader_new(base);

	for (size_t i = 0; order[i] != SIZE_MAX; i++)
		snapshot_reader_add(r, p->piece[order[i]].data, p->piece[order[i]].len);
	return snapshot_reader_end(r, ret);
}

/* Everything a diff, a render or a batch reads of an object, alike in both. */
static bool same_objects(const struct snapshot *a, const struct snapshot *b)
{
	struct buf x, y;
	bool same = a->nobjs == b->nobjs && memcmp(a->root, b->root, 32) == 0;

	buf_init(&x);
	buf_init(&y);
	for (size_t i = 0; same && i < a->nobjs; i++) {
		const struct obj *o = a->objs[i], *p = b->objs[i];

		same = strcmp(o->key, p->key) == 0 && memcmp(o->hash, p->hash, 32) == 0 && obj_obs_equal(o, p) &&
		       strcmp(obj_path(o, &x), obj_path(p, &y)) == 0;
		if (!same)
			printf("#   %s differs: %s against %s\n", o->key, obj_path(o, &x), obj_path(p, &y));
	}
	buf_free(&x);
	buf_free(&y);
	return same;
}

static bool same_changes(const struct diff *a, const struct diff *b)
{
	bool same = a->nchanges == b->nchanges;

	for (size_t i = 0; same && i < a->nchanges; i++) {
		const struct change *c = &a->changes[i], *d = &b->changes[i];

		same = c->op == d->op && strcmp(c->path, d->path) == 0 && c->nrows == d->nrows;
		for (size_t j = 0; same && j < c->nrows; j++) {
			const struct change_row *x = &c->rows[j], *y = &d->rows[j];

			same = x->op == y->op && x->sev == y->sev && strcmp(x->field ? x->field : "", y->field ? y->field : "") == 0 &&
			       strcmp(x->before ? x->before : "", y->before ? y->before : "") == 0 &&
			       strcmp(x->after ? x->after : "", y->after ? y->after : "") == 0;
		}
	}
	return same;
}

static void test_reader(void)
{
	struct snapshot *old = crawl(false), *new = crawl(true), *whole = NULL, *rd = NULL;
	static const size_t in_order[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, SIZE_MAX };
	static const size_t swapped[] = { 0, 2, 1, SIZE_MAX };
	struct pieces p = { NULL, 0 };
	struct diff *dw, *dr;
	struct buf enc, tmp;

	buf_init(&enc);
	buf_init(&tmp);
	snapshot_encode(old, &enc);
	ok(snapshot_decode(enc.data, enc.len, &whole) == 0, "the earlier crawl decodes whole");
	snapshot_encode_chunks(old, 64, keep_piece, &p);
	if (!ok(p.n >= 4 && p.n < 16, "encoded in %zu pieces", p.n))
		abort();
	ok(pieces_within(&p, 64), "each below 64 bytes, unless it is one object that large");
	for (size_t i = p.n; i < 16; i++)
		keep_piece(&p, "", 0);
	ok(read_pieces(&p, in_order, new, &rd) == 0 && rd, "read back a piece at a time against the later crawl");
	ok(rd && same_objects(rd, whole), "…it is the earlier crawl: keys, hashes, observations and paths");
	ok(rd && snapshot_find(rd, "a:1:1") == snapshot_find(new, "a:1:1") &&
	   snapshot_find(rd, "r:1") == snapshot_find(new, "r:1"),
	   "what is alike in both is the later crawl's object, not a copy");
	ok(rd && snapshot_find(rd, "a:1:2") != snapshot_find(new, "a:1:2") &&
	   snapshot_find(rd, "r:4") != snapshot_find(new, "r:4"),
	   "a changed column and a changed row count are the earlier crawl's own");
	ok(rd && snapshot_find(rd, "a:2:1") != snapshot_find(new, "a:2:1"),
	   "a column whose schema was renamed is a copy: its path differs");
	is_str(rd ? obj_path(snapshot_find(rd, "a:2:1"), &tmp) : NULL, "hr/hrdb/sales/orders.id", "…the earlier one");
	is_str(rd ? obj_path(snapshot_find(rd, "a:3:1"), &tmp) : NULL, "hr/hrdb/public/empty.gone",
	       "a dropped column of a table that is a leaf now has its whole path");
	is_str(obj_path(snapshot_find(new, "a:2:1"), &tmp), "hr/hrdb/trade/orders.id", "the later crawl keeps its own");
	dw = diff_snapshots(whole, new);
	dr = diff_snapshots(rd, new);
	ok(dw->nchanges == 5 && same_changes(dw, dr), "the diff against it is the diff against the whole decode (%zu changes)",
	   dw->nchanges);
	diff_free(dw);
	diff_free(dr);
	ok(rd && snapshot_finish(rd) != 0, "a snapshot that borrows is not finished again");
	snapshot_free(rd);
	is_str(obj_path(snapshot_find(new, "a:1:1"), &tmp), "hr/hrdb/public/人员.编号",
	       "freeing it leaves the later crawl's objects alone");
	rd = NULL;
	ok(read_pieces(&p, in_order, NULL, &rd) == 0 && rd && same_objects(rd, whole), "without a base it is a decode");
	snapshot_free(rd);
	rd = NULL;
	is_int(read_pieces(&p, swapped, new, &rd), SNAPSHOT_E_CORRUPT, "pieces out of key order are refused");
	ok(!rd, "…and nothing is returned");
	is_int(read_pieces(&p, (const size_t[]){ 0, 1, SIZE_MAX }, new, &rd), SNAPSHOT_E_CORRUPT,
	       "fewer objects than the head announces are refused");
	for (size_t i = 0; i < p.n; i++)
		buf_free(&p.piece[i]);
	free(p.piece);
	buf_free(&enc);
	buf_free(&tmp);
	snapshot_free(whole);
	snapshot_free(old);
	snapshot_free(new);
}

/* Keys made of names (MySQL's) end with the object's name, which is then not held twice. */
static void test_name_in_key(void)
{
	struct snapshot *s = snapshot_new("shop");
	struct obj *o[] = {
		obj_new(OBJ_DATABASE, "d", NULL, "def"),
		obj_new(OBJ_SCHEMA, "n:商店", "d", "商店"),
		obj_new(OBJ_TABLE, "r:商店/orders", "n:商店", "orders"),
		obj_new(OBJ_COLUMN, "a:商店/orders/编号", "r:商店/orders", "编号"),
	};
	const struct obj *c;
	struct buf tmp;

	buf_init(&tmp);
	for (size_t i = 0; i < sizeof(o) / sizeof(*o); i++)
		snapshot_add(s, &o[i]);
	ok(snapshot_finish(s) == 0, "a snapshot keyed by names finishes");
	c = snapshot_find(s, "a:商店/orders/编号");
	ok(c->name == c->key + strlen(c->key) - strlen("编号"), "a name that ends the key is the key's end");
	is_str(c->name, "编号", "…and reads as the name");
	is_str(snapshot_find(s, "d")->name, "def", "a name the key does not end with is the object's own");
	is_str(obj_path(c, &tmp), "shop/def/商店/orders.编号", "paths join the names as ever");
	buf_free(&tmp);
	snapshot_free(s);
}

/* Key order is byte order (strcmp), whatever the keys' lengths and shared beginnings, which lookups
 * (snapshot_find), the diff's merge walk and the root hash rely on: keys that share their first 12
 * bytes or more, keys that are beginnings of others, bytes above 0x7f, and objects added in random,
 * sorted and reversed order. */
static bool sorted_alike(char keys[][40], size_t n, const char *order)
{
	struct snapshot *s = snapshot_new("src");
	bool ok = true;
	size_t found = 0;

	for (size_t i = 0; i < n; i++) {
		size_t k = order[0] == 'r' ? n - 1 - i : i;
		struct obj *o = obj_new(OBJ_COLUMN, keys[k], NULL, "c");

		snapshot_add(s, &o);
	}
	if (snapshot_finish(s) != 0)
		return false;
	for (size_t i = 0; i < s->nobjs; i++) {
		ok = ok && (i == 0 || strcmp(s->objs[i - 1]->key, s->objs[i]->key) < 0);
		found += snapshot_find(s, s->objs[i]->key) == s->objs[i];
	}
	ok = ok && s->nobjs == n && found == n;
	snapshot_free(s);
	return ok;
}

static int key_cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_key_order(void)
{
	enum { N = 5000 };
	static char keys[N][40];
	static const char *const stems[] = { "a:16385:", "a:1638", "a:123456789012", "a:123456789012:", "r:",
					     "\xe5\x88\x97:", "a:16385:1", "z" };
	size_t n = 0;

	srand(7);
	while (n < N) {
		const char *stem = stems[rand() % (int)(sizeof(stems) / sizeof(stems[0]))];
		int len = rand() % 24;

		snprintf(keys[n], sizeof(keys[n]), "%s", stem);
		for (size_t l = strlen(keys[n]); l < sizeof(keys[n]) - 1 && len-- > 0; l++)
			keys[n][l] = "0123456789:"[rand() % 11], keys[n][l + 1] = '\0';
		bool dup = false;
		for (size_t i = 0; i < n && !dup; i++)
			dup = strcmp(keys[i], keys[n]) == 0;
		n += !dup;
	}
	ok(sorted_alike(keys, N, "as made"), "key order: %d keys added in random order", N);
	qsort(keys, N, sizeof(keys[0]), key_cmp_str);
	ok(sorted_alike(keys, N, "sorted"), "key order: added sorted");
	ok(sorted_alike(keys, N, "reversed"), "key order: added in reverse");
	for (size_t i = 0; i < N; i++)
		snprintf(keys[i], sizeof(keys[i]), "a:%d:%zu", 16384 + (int)(i / 20), i % 20 + 1);
	ok(sorted_alike(keys, N, "as made"), "key order: columns as a crawl reads them");
}

int main(void)
{
	test_canonical();
	test_leaf_paths();
	test_encoding();
	test_invalid();
	test_refs();
	test_pack();
	test_pack_order();
	test_pack_large();
	test_arena();
	test_reader();
	test_name_in_key();
	test_key_order();
	return done_testing();
}

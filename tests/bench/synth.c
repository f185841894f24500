#include "synth.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "xmalloc.h"

/* OIDs as a fresh PostgreSQL hands them out: user objects from 16384 on, a handful per table (its
 * row type, array type and TOAST table take some that nothing here keys by). */
#define SYNTH_OID_BASE 16384
#define SYNTH_OIDS_PER_TABLE 8
#define SYNTH_SCHEMA_OID_BASE 2200
#define SYNTH_DATABASE_KEY "d:16383"
#define SYNTH_PREFIX "bench"
#define SYNTH_VIEW_EVERY 10

enum synth_oid {
	SYNTH_OID_REL,
	SYNTH_OID_PKEY = 4,
	SYNTH_OID_FK,
	SYNTH_OID_INDEX,
	SYNTH_OID_VIEW,
};

/* A column type as the driver reports it: format_type() and the family with its parameters. */
struct synth_type {
	const char *name;
	const char *type;
	const char *family;
	const char *length, *precision, *scale;
	const char *def; /* pg_get_expr() of the default */
	bool not_null;
	const char *comment;
};

/* id and parent_id come first in every table. */
static const struct synth_type synth_fixed[] = {
	{ "id", "bigint", "integer", NULL, "64", NULL, NULL, true, "主键" },
	{ "parent_id", "bigint", "integer", NULL, "64", NULL, NULL, false, "上级记录" },
};

/* Then gen.py's COLUMNS, in its order, repeated (with a suffix) when a table has more. */
static const struct synth_type synth_types[] = {
	{ "c_name", "character varying(100)", "string", "100", NULL, NULL, NULL, true, "名称" },
	{ "c_code", "character varying(32)", "string", "32", NULL, NULL, NULL, false, "编码" },
	{ "c_id_card", "character(18)", "char", "18", NULL, NULL, NULL, false, "身份证号" },
	{ "c_phone", "character varying(20)", "string", "20", NULL, NULL, NULL, false, "联系电话" },
	{ "c_address", "text", "string", NULL, NULL, NULL, NULL, false, "地址" },
	{ "c_amount", "numeric(14,2)", "decimal", NULL, "14", "2", "0", false, "金额（元）" },
	{ "c_quantity", "integer", "integer", NULL, "32", NULL, "0", true, "数量" },
	{ "c_ratio", "double precision", "float", NULL, "53", NULL, NULL, false, "比例" },
	{ "c_is_valid", "boolean", "boolean", NULL, NULL, NULL, "true", true, "是否有效" },
	{ "c_birth_date", "date", "date", NULL, NULL, NULL, NULL, false, "出生日期" },
	{ "c_created_at", "timestamp without time zone", "timestamp", NULL, NULL, NULL, "now()", true, "创建时间" },
	{ "c_updated_at", "timestamp with time zone", "timestamptz", NULL, NULL, NULL, NULL, false, "更新时间" },
	{ "c_dept_code", "character varying(12)", "string", "12", NULL, NULL, NULL, false, "行政区划代码" },
	{ "c_status", "smallint", "integer", NULL, "16", NULL, "1", true, "状态" },
	{ "c_remark", "character varying(500)", "string", "500", NULL, NULL, NULL, false, "备注" },
	{ "c_version", "bigint", "integer", NULL, "64", NULL, "0", true, "版本号" },
	{ "c_payload", "jsonb", "json", NULL, NULL, NULL, NULL, false, "扩展信息" },
	{ "c_checksum", "bytea", "binary", NULL, NULL, NULL, NULL, false, "校验和" },
};

#define SYNTH_NFIXED (sizeof(synth_fixed) / sizeof(synth_fixed[0]))
#define SYNTH_NTYPES (sizeof(synth_types) / sizeof(synth_types[0]))

/* What a type change makes of a column: wider than anything above, so always a change. */
static const struct synth_type synth_widened = { NULL, "character varying(4000)", "string", "4000", NULL, NULL,
						 NULL, false, NULL };
/* What an added column is. */
static const struct synth_type synth_added = { NULL, "text", "string", NULL, NULL, NULL, NULL, false, "新增字段" };

/* gen.py's index (c_code, c_dept_code) and view (id, c_name, c_code, c_amount), by attnum. */
static const size_t synth_index_attnums[] = { 4, 15 };
static const size_t synth_view_attnums[] = { 1, 3, 4, 8 };

static const char *const synth_subjects[] = {
	"人口信息", "法人单位", "社会保障", "医疗机构", "教育学籍",
	"不动产登记", "企业信用", "交通运输", "生态环境", "公共卫生",
};

/* splitmix64 over (seed, a, b): every object draws its own numbers, so that any one of them can be
 * made alone and still come out as in the whole crawl. */
static uint64_t synth_rand(uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t z = seed ^ (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xbf58476d1ce4e5b9ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t synth_oid(size_t t, enum synth_oid which)
{
	return SYNTH_OID_BASE + t * SYNTH_OIDS_PER_TABLE + which;
}

static bool synth_has_view(size_t t)
{
	return t % SYNTH_VIEW_EVERY == 0;
}

static const struct synth_type *synth_type_of(size_t attnum)
{
	return attnum <= SYNTH_NFIXED ? &synth_fixed[attnum - 1] : &synth_types[(attnum - SYNTH_NFIXED - 1) % SYNTH_NTYPES];
}

/* c_name, then c_name_2, c_name_3 … once the list has gone round. */
static void synth_column_name(size_t attnum, char *out, size_t len)
{
	size_t round = attnum <= SYNTH_NFIXED ? 0 : (attnum - SYNTH_NFIXED - 1) / SYNTH_NTYPES;

	if (round)
		snprintf(out, len, "%s_%zu", synth_type_of(attnum)->name, round + 1);
	else
		snprintf(out, len, "%s", synth_type_of(attnum)->name);
}

/* Columns that a key, the index or a view uses: PostgreSQL would refuse to drop them or change
 * their type without touching those too, which is not the change being measured. */
static bool synth_attnum_used(size_t attnum)
{
	for (size_t i = 0; i < sizeof(synth_index_attnums) / sizeof(synth_index_attnums[0]); i++)
		if (attnum == synth_index_attnums[i])
			return true;
	for (size_t i = 0; i < sizeof(synth_view_attnums) / sizeof(synth_view_attnums[0]); i++)
		if (attnum == synth_view_attnums[i])
			return true;
	return attnum <= SYNTH_NFIXED;
}

void synth_table_key(size_t t, char key[SYNTH_KEY_MAX])
{
	snprintf(key, SYNTH_KEY_MAX, "r:%zu", synth_oid(t, SYNTH_OID_REL));
}

void synth_column_key(size_t t, size_t attnum, char key[SYNTH_KEY_MAX])
{
	snprintf(key, SYNTH_KEY_MAX, "a:%zu:%zu", synth_oid(t, SYNTH_OID_REL), attnum);
}

const char *synth_database_key(void)
{
	return SYNTH_DATABASE_KEY;
}

void synth_schema_key(size_t s, char key[SYNTH_KEY_MAX])
{
	snprintf(key, SYNTH_KEY_MAX, "n:%zu", SYNTH_SCHEMA_OID_BASE + s);
}

static size_t synth_schema_of(const struct synth_spec *spec, size_t t)
{
	return t % spec->schemas;
}

char *synth_table_path(const struct synth_spec *spec, size_t t)
{
	return xasprintf("%s/%s/%s_s%02zu/t%05zu", spec->source, SYNTH_PREFIX, SYNTH_PREFIX,
			 synth_schema_of(spec, t) + 1, t);
}

size_t synth_table_columns(const struct synth_spec *spec)
{
	return spec->tables * spec->columns;
}

/* The table, its columns, its primary key, its foreign key (all but the first) and its index. */
size_t synth_table_objects(const struct synth_spec *spec, size_t t)
{
	return 1 + spec->columns + 1 + (t > 0) + 1;
}

/* --- building the crawl --------------------------------------------------------------------------- */

static void synth_set_type(struct obj *o, const struct synth_type *ty)
{
	obj_set(o, "type", ty->type);
	obj_set(o, "family", ty->family);
	obj_set(o, "length", ty->length);
	obj_set(o, "precision", ty->precision);
	obj_set(o, "scale", ty->scale);
}

static void synth_add(struct snapshot *s, struct obj *o)
{
	snapshot_add(s, &o);
}

static void synth_database(struct snapshot *s)
{
	struct obj *o = obj_new(OBJ_DATABASE, SYNTH_DATABASE_KEY, NULL, SYNTH_PREFIX);

	obj_set(o, "encoding", "UTF8");
	obj_set(o, "collation", "C.UTF-8");
	obj_set(o, "ctype", "C.UTF-8");
	synth_add(s, o);
}

static void synth_schema(struct snapshot *s, size_t i)
{
	char key[SYNTH_KEY_MAX], name[64];
	struct obj *o;

	synth_schema_key(i, key);
	snprintf(name, sizeof(name), "%s_s%02zu", SYNTH_PREFIX, i + 1);
	o = obj_new(OBJ_SCHEMA, key, SYNTH_DATABASE_KEY, name);
	obj_set(o, "owner", SYNTH_PREFIX);
	obj_setf(o, "comment", "基准测试模式%zu", i + 1);
	synth_add(s, o);
}

/* Three columns in four carry a comment, the seed says which; id always does. */
static void synth_column(const struct synth_spec *spec, struct snapshot *s, size_t t, size_t attnum)
{
	const struct synth_type *ty = synth_type_of(attnum);
	char key[SYNTH_KEY_MAX], parent[SYNTH_KEY_MAX], name[64];
	struct obj *o;

	synth_column_key(t, attnum, key);
	synth_table_key(t, parent);
	synth_column_name(attnum, name, sizeof(name));
	o = obj_new(OBJ_COLUMN, key, parent, name);
	obj_setf(o, "ordinal", "%zu", attnum);
	synth_set_type(o, ty);
	obj_set(o, "nullable", ty->not_null ? NULL : "true");
	obj_set(o, "default", ty->def);
	if (attnum == 1 || synth_rand(spec->seed, t, attnum) % 4 != 0)
		obj_set(o, "comment", ty->comment);
	synth_add(s, o);
}

static char *synth_refs(size_t t, const size_t *attnums, size_t n, size_t columns)
{
	char *refs = xstrdup(""), key[SYNTH_KEY_MAX];

	for (size_t i = 0; i < n; i++) {
		char *more;

		if (attnums[i] > columns)
			continue;
		synth_column_key(t, attnums[i], key);
		more = xasprintf("%s%s%s", refs, *refs ? MODEL_REF_SEP_STR : "", key);
		free(refs);
		refs = more;
	}
	return refs;
}

static struct obj *synth_table_child(enum obj_kind kind, size_t t, enum synth_oid which, const char *prefix,
				     const char *suffix)
{
	char key[SYNTH_KEY_MAX], parent[SYNTH_KEY_MAX], name[64];

	snprintf(key, sizeof(key), "%s:%zu", prefix, synth_oid(t, which));
	synth_table_key(t, parent);
	snprintf(name, sizeof(name), "t%05zu_%s", t, suffix);
	return obj_new(kind, key, parent, name);
}

/* PRIMARY KEY (id), and FOREIGN KEY (parent_id) REFERENCES the table made before (gen.py). */
static void synth_keys(struct snapshot *s, size_t t)
{
	char col[SYNTH_KEY_MAX], ref[SYNTH_KEY_MAX];
	struct obj *o = synth_table_child(OBJ_PRIMARY_KEY, t, SYNTH_OID_PKEY, "c", "pkey");

	synth_column_key(t, 1, col);
	obj_set(o, "columns", col);
	synth_add(s, o);
	if (t == 0)
		return;
	o = synth_table_child(OBJ_FOREIGN_KEY, t, SYNTH_OID_FK, "c", "parent_fk");
	synth_column_key(t, 2, col);
	obj_set(o, "columns", col);
	synth_table_key(t - 1, ref);
	obj_set(o, "ref_table", ref);
	synth_column_key(t - 1, 1, ref);
	obj_set(o, "ref_columns", ref);
	obj_set(o, "on_update", "NO ACTION");
	obj_set(o, "on_delete", "NO ACTION");
	obj_set(o, "match", "SIMPLE");
	synth_add(s, o);
}

/* gen.py's index on (c_code, c_dept_code); on parent_id in tables too narrow for those. */
static void synth_index(const struct synth_spec *spec, struct snapshot *s, size_t t)
{
	static const size_t narrow[] = { 2 };
	struct obj *o = synth_table_child(OBJ_INDEX, t, SYNTH_OID_INDEX, "i", "code_idx");
	char *refs = synth_refs(t, synth_index_attnums, sizeof(synth_index_attnums) / sizeof(synth_index_attnums[0]),
				spec->columns);

	if (!*refs) {
		free(refs);
		refs = synth_refs(t, narrow, 1, spec->columns);
	}
	obj_set(o, "columns", refs);
	obj_set(o, "method", "btree");
	free(refs);
	synth_add(s, o);
}

static void synth_set_definition_hash(struct obj *o, const char *text)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1];

	crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	obj_set(o, "definition_hash", hex);
}

/* A view column is its base column's type, nullable, without default or comment. */
static void synth_view_column(struct snapshot *s, size_t t, size_t ordinal, size_t attnum)
{
	char key[SYNTH_KEY_MAX], parent[SYNTH_KEY_MAX], name[64];
	struct obj *o;

	snprintf(key, sizeof(key), "a:%zu:%zu", synth_oid(t, SYNTH_OID_VIEW), ordinal);
	snprintf(parent, sizeof(parent), "r:%zu", synth_oid(t, SYNTH_OID_VIEW));
	synth_column_name(attnum, name, sizeof(name));
	o = obj_new(OBJ_COLUMN, key, parent, name);
	obj_setf(o, "ordinal", "%zu", ordinal);
	synth_set_type(o, synth_type_of(attnum));
	obj_set(o, "nullable", "true");
	synth_add(s, o);
}

static void synth_view(const struct synth_spec *spec, struct snapshot *s, size_t t, const char *comment)
{
	char key[SYNTH_KEY_MAX], parent[SYNTH_KEY_MAX], table[SYNTH_KEY_MAX], name[64], *def;
	struct obj *o;
	size_t ordinal = 0;

	snprintf(key, sizeof(key), "r:%zu", synth_oid(t, SYNTH_OID_VIEW));
	synth_schema_key(synth_schema_of(spec, t), parent);
	snprintf(name, sizeof(name), "v_t%05zu", t);
	o = obj_new(OBJ_VIEW, key, parent, name);
	obj_set(o, "owner", SYNTH_PREFIX);
	obj_setf(o, "comment", "%s（有效记录）", comment);
	def = xasprintf(" SELECT id, c_name, c_code, c_amount FROM t%05zu WHERE c_is_valid;", t);
	synth_set_definition_hash(o, def);
	free(def);
	synth_table_key(t, table);
	obj_set(o, "depends_on", table);
	synth_add(s, o);
	for (size_t i = 0; i < sizeof(synth_view_attnums) / sizeof(synth_view_attnums[0]); i++)
		if (synth_view_attnums[i] <= spec->columns)
			synth_view_column(s, t, ++ordinal, synth_view_attnums[i]);
}

/* Estimated rows and bytes, as pg_class has them after ANALYZE: observations, never history. */
static void synth_table_obs(const struct synth_spec *spec, struct obj *o, size_t t)
{
	uint64_t rows = synth_rand(spec->seed, t, 0) % 1000000;
	char v[32];

	snprintf(v, sizeof(v), "%llu", (unsigned long long)rows);
	obj_set_obs(o, "rows", v);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)(8192 * (1 + rows / 50)));
	obj_set_obs(o, "bytes", v);
}

static void synth_table(const struct synth_spec *spec, struct snapshot *s, size_t t)
{
	char key[SYNTH_KEY_MAX], parent[SYNTH_KEY_MAX], name[64], comment[128];
	struct obj *o;

	synth_table_key(t, key);
	synth_schema_key(synth_schema_of(spec, t), parent);
	snprintf(name, sizeof(name), "t%05zu", t);
	snprintf(comment, sizeof(comment), "%s表%05zu", synth_subjects[t % 10], t);
	o = obj_new(OBJ_TABLE, key, parent, name);
	obj_set(o, "owner", SYNTH_PREFIX);
	obj_set(o, "comment", comment);
	synth_table_obs(spec, o, t);
	synth_add(s, o);
	for (size_t a = 1; a <= spec->columns; a++)
		synth_column(spec, s, t, a);
	synth_keys(s, t);
	synth_index(spec, s, t);
	if (synth_has_view(t))
		synth_view(spec, s, t, comment);
}

static struct snapshot *synth_finish(struct snapshot *s)
{
	if (snapshot_finish(s) == 0)
		return s;
	fprintf(stderr, "synth: the synthetic snapshot does not finish: %s\n", s->error);
	abort();
}

struct snapshot *synth_snapshot(const struct synth_spec *spec)
{
	struct snapshot *s = snapshot_new(spec->source);

	synth_database(s);
	for (size_t i = 0; i < spec->schemas; i++)
		synth_schema(s, i);
	for (size_t t = 0; t < spec->tables; t++)
		synth_table(spec, s, t);
	return synth_finish(s);
}

/* --- the next crawl ------------------------------------------------------------------------------- */

static void synth_rewrite_comment(struct obj *o)
{
	const char *was = obj_get(o, "comment");
	char *now = was ? xasprintf("%s（已修订）", was) : xstrdup("补充说明");

	obj_set(o, "comment", now);
	free(now);
}

static void synth_widen(struct obj *o)
{
	synth_set_type(o, &synth_widened);
}

/* What each edit does to the old crawl's copy of its column, and what the diff must say about it. */
static const struct synth_op_def {
	void (*apply)(struct obj *o); /* NULL: the old column is not carried over */
	enum change_op change;
	const char *field;            /* the one row of an ALTER */
} synth_ops[SYNTH_OP_COUNT] = {
	[SYNTH_COMMENT] = { synth_rewrite_comment, CHANGE_ALTER, "comment" },
	[SYNTH_TYPE] = { synth_widen, CHANGE_ALTER, "type" },
	[SYNTH_ADD] = { NULL, CHANGE_ADD, NULL },
	[SYNTH_DROP] = { NULL, CHANGE_DROP, NULL },
};

/* The i-th change is synth_mix[i % 10]: a drop, an add, two type changes, six comments. */
static const enum synth_op synth_mix[10] = {
	SYNTH_DROP, SYNTH_ADD, SYNTH_TYPE, SYNTH_TYPE, SYNTH_COMMENT,
	SYNTH_COMMENT, SYNTH_COMMENT, SYNTH_COMMENT, SYNTH_COMMENT, SYNTH_COMMENT,
};

/* Walks all columns of all tables in a seeded order that visits each once: start anywhere and step by
 * a number coprime with their count. Edits land on distinct columns spread over the whole crawl. */
struct synth_picker {
	const struct synth_spec *spec;
	size_t m, start, stride, next;
};

static size_t synth_gcd(size_t a, size_t b)
{
	while (b) {
		size_t r = a % b;

		a = b;
		b = r;
	}
	return a;
}

static void synth_picker_init(struct synth_picker *p, const struct synth_spec *spec)
{
	p->spec = spec;
	p->m = synth_table_columns(spec);
	p->start = synth_rand(spec->seed, 0, 1) % p->m;
	p->stride = 2654435761u % p->m;
	while (synth_gcd(p->stride, p->m) != 1)
		p->stride++;
	p->next = 0;
}

/* The next column the edit may take; false when none is left. */
static bool synth_picker_next(struct synth_picker *p, enum synth_op op, size_t *ret_t, size_t *ret_attnum)
{
	bool needs_unused = op == SYNTH_DROP || op == SYNTH_TYPE;

	while (p->next < p->m) {
		size_t g = (p->start + p->next++ * p->stride) % p->m;
		size_t attnum = g % p->spec->columns + 1;

		if (needs_unused && synth_attnum_used(attnum))
			continue;
		*ret_t = g / p->spec->columns;
		*ret_attnum = attnum;
		return true;
	}
	return false;
}

static int synth_edit_cmp(const void *a, const void *b)
{
	return strcmp(((const struct synth_edit *)a)->key, ((const struct synth_edit *)b)->key);
}

static int synth_edit_key_cmp(const void *key, const void *e)
{
	return strcmp(key, ((const struct synth_edit *)e)->key);
}

static const struct synth_edit *synth_plan_find(const struct synth_plan *plan, const char *key)
{
	return bsearch(key, plan->edits, plan->n, sizeof(*plan->edits), synth_edit_key_cmp);
}

/* An added column goes after the table's last one, as ALTER TABLE ADD COLUMN puts it. */
static bool synth_plan_pick(const struct synth_spec *spec, size_t nchanges, struct synth_plan *plan)
{
	struct synth_picker p;
	size_t *added = xcalloc(spec->tables, sizeof(*added));
	bool ok = true;

	synth_picker_init(&p, spec);
	memset(plan, 0, sizeof(*plan));
	plan->edits = xcalloc(nchanges ? nchanges : 1, sizeof(*plan->edits));
	plan->n = nchanges;
	for (size_t i = 0; ok && i < nchanges; i++) {
		struct synth_edit *e = &plan->edits[i];

		e->op = synth_mix[i % 10];
		ok = synth_picker_next(&p, e->op, &e->table, &e->attnum);
		if (e->op == SYNTH_ADD)
			e->attnum = spec->columns + ++added[e->table];
		synth_column_key(e->table, e->attnum, e->key);
		plan->count[e->op]++;
	}
	free(added);
	qsort(plan->edits, plan->n, sizeof(*plan->edits), synth_edit_cmp);
	return ok;
}

void synth_plan_free(struct synth_plan *plan)
{
	free(plan->edits);
	memset(plan, 0, sizeof(*plan));
}

static void synth_copy(struct snapshot *s, const struct obj *o, const struct synth_edit *e)
{
	struct obj *copy;

	if (e && !synth_ops[e->op].apply)
		return;
	copy = obj_dup(o);
	if (e)
		synth_ops[e->op].apply(copy);
	synth_add(s, copy);
}

static void synth_added_column(struct snapshot *s, const struct synth_edit *e)
{
	char parent[SYNTH_KEY_MAX], name[64];
	struct obj *o;

	synth_table_key(e->table, parent);
	snprintf(name, sizeof(name), "c_added_%zu", e->attnum);
	o = obj_new(OBJ_COLUMN, e->key, parent, name);
	obj_setf(o, "ordinal", "%zu", e->attnum);
	synth_set_type(o, &synth_added);
	obj_set(o, "nullable", "true");
	obj_set(o, "comment", synth_added.comment);
	synth_add(s, o);
}

struct snapshot *synth_changed(const struct synth_spec *spec, const struct snapshot *old, size_t nchanges,
			       struct synth_plan *ret_plan)
{
	struct snapshot *s;

	if (!synth_plan_pick(spec, nchanges, ret_plan)) {
		synth_plan_free(ret_plan);
		return NULL;
	}
	s = snapshot_new(old->source);
	for (size_t i = 0; i < old->nobjs; i++)
		synth_copy(s, old->objs[i], synth_plan_find(ret_plan, old->objs[i]->key));
	for (size_t i = 0; i < ret_plan->n; i++)
		if (ret_plan->edits[i].op == SYNTH_ADD)
			synth_added_column(s, &ret_plan->edits[i]);
	return synth_finish(s);
}

static bool synth_change_expected(const struct synth_plan *plan, const struct change *c, char *why, size_t whylen)
{
	const char *key = (c->new ? c->new : c->old)->key;
	const struct synth_edit *e = synth_plan_find(plan, key);
	const struct synth_op_def *def = e ? &synth_ops[e->op] : NULL;

	if (!e)
		snprintf(why, whylen, "%s of %s, which was not changed", change_op_name(c->op), key);
	else if (c->op != def->change)
		snprintf(why, whylen, "%s of %s instead of %s", change_op_name(c->op), key, change_op_name(def->change));
	else if (def->field && (c->nrows != 1 || !c->rows[0].field || strcmp(c->rows[0].field, def->field) != 0))
		snprintf(why, whylen, "%s of %s has %zu rows, the first on %s, not one on %s", change_op_name(c->op),
			 key, c->nrows, c->nrows && c->rows[0].field ? c->rows[0].field : "(none)", def->field);
	else
		return true;
	return false;
}

/* Every change matches an edit, by key; keys are unique on both sides, so equal counts make it
 * one to one. */
bool synth_plan_check(const struct synth_plan *plan, const struct diff *d, char *why, size_t whylen)
{
	for (size_t i = 0; i < d->nchanges; i++)
		if (!synth_change_expected(plan, &d->changes[i], why, whylen))
			return false;
	if (d->nchanges == plan->n)
		return true;
	snprintf(why, whylen, "the diff has %zu changes, %zu were made", d->nchanges, plan->n);
	return false;
}

/* --- what both benchmark programs share ----------------------------------------------------------- */

static bool synth_arg_count(const struct synth_opt *o, const char *v)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || (n == 0 && !o->zero_ok))
		return false;
	*o->value = (size_t)n;
	return true;
}

static bool synth_arg(const struct synth_opt *opts, const struct synth_text_opt *text, const char *name,
		      const char *v)
{
	for (; opts && opts->name; opts++)
		if (strcmp(opts->name, name) == 0)
			return synth_arg_count(opts, v);
	for (; text && text->name; text++) {
		if (strcmp(text->name, name) == 0) {
			*text->value = v;
			return true;
		}
	}
	return false;
}

bool synth_args(int argc, char **argv, const struct synth_opt *opts, const struct synth_text_opt *text,
		const char *usage)
{
	for (int i = 1; i < argc; i += 2) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			exit(0);
		}
		if (strncmp(argv[i], "--", 2) != 0 || i + 1 == argc || !synth_arg(opts, text, argv[i] + 2, argv[i + 1])) {
			fprintf(stderr, "%s: bad argument '%s'\n%s", argv[0], argv[i], usage);
			return false;
		}
	}
	return true;
}

double synth_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int synth_double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double synth_median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), synth_double_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

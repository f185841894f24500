/*
 * Wire conversion: every message type survives encode → decode, objects (Chinese names included)
 * survive model → protobuf → model with their hash, and the decoder refuses garbage, truncated
 * bytes, invalid UTF-8, bad hashes, bad keys, out-of-range enums and other protocol versions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diff.h"
#include "snapshot.h"
#include "tap.h"
#include "wire.h"
#include "wire_batch.h"
#include "xmalloc.h"

static struct snapshot *make_snapshot(const char *table_name, const char *comment, bool with_email)
{
	struct snapshot *s = snapshot_new("人事");
	struct obj *o;

	o = obj_new(OBJ_DATABASE, "d:1", NULL, "hr");
	snapshot_add(s, &o);
	o = obj_new(OBJ_SCHEMA, "n:1", "d:1", "公共");
	snapshot_add(s, &o);
	o = obj_new(OBJ_TABLE, "r:10", "n:1", table_name);
	obj_set(o, "comment", comment);
	obj_set_obs(o, "rows", "42");
	snapshot_add(s, &o);
	o = obj_new(OBJ_COLUMN, "a:10:1", "r:10", "编号");
	obj_set(o, "type", "integer");
	obj_set(o, "family", "integer");
	obj_set(o, "ordinal", "1");
	snapshot_add(s, &o);
	if (with_email) {
		o = obj_new(OBJ_COLUMN, "a:10:2", "r:10", "email");
		obj_set(o, "type", "character varying(100)");
		obj_set(o, "nullable", "true");
		snapshot_add(s, &o);
	}
	o = obj_new(OBJ_PRIMARY_KEY, "c:11", "r:10", "员工_pkey");
	obj_set(o, "columns", "a:10:1");
	snapshot_add(s, &o);
	if (snapshot_finish(s) != 0)
		abort();
	return s;
}

/* Encodes env, decodes it again; the caller clears msg. */
static int round_trip(Prospector__Envelope *env, struct wire_msg *msg)
{
	struct buf b;
	int r;

	buf_init(&b);
	wire_encode_envelope(env, &b);
	r = wire_decode(b.data, b.len, msg);
	buf_free(&b);
	return r;
}

/* Packs without wire_encode_envelope, which would fix the protocol version. */
static int decode_raw(Prospector__Envelope *env, struct wire_msg *msg)
{
	size_t n = prospector__envelope__get_packed_size(env);
	uint8_t *data = xmalloc(n);
	int r;

	prospector__envelope__pack(env, data);
	r = wire_decode(data, n, msg);
	free(data);
	return r;
}

static void test_hello(void)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Hello h = PROSPECTOR__HELLO__INIT;
	Prospector__SourceInfo si = PROSPECTOR__SOURCE_INFO__INIT, *sis[] = { &si };
	unsigned char root[32] = { 7 };
	struct wire_msg msg;

	h.agent_id = "卫生局-01";
	h.incarnation = 1234567890123ULL;
	h.last_acked_seq = 17;
	h.version = "0.1.0";
	h.n_sources = 1;
	h.sources = sis;
	si.name = "hr";
	si.driver = "pg";
	si.department = "卫生健康委员会";
	si.has_root_hash = 1;
	si.root_hash.data = root;
	si.root_hash.len = 32;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	is_int(round_trip(&env, &msg), 0, "hello: decodes");
	is_int(msg.env->protocol, WIRE_PROTOCOL, "hello: protocol version set by the encoder");
	is_str(msg.env->hello->agent_id, "卫生局-01", "hello: agent id");
	is_int(msg.env->hello->incarnation, 1234567890123ULL, "hello: incarnation");
	is_int(msg.env->hello->last_acked_seq, 17, "hello: last acked");
	is_str(msg.env->hello->sources[0]->department, "卫生健康委员会", "hello: source department");
	ok(msg.env->hello->sources[0]->root_hash.len == 32 && msg.env->hello->sources[0]->root_hash.data[0] == 7,
	   "hello: root hash");
	wire_msg_clear(&msg);
	ok(msg.env == NULL, "wire_msg_clear releases the message");

	si.root_hash.len = 31;
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "hello: a 31-byte root hash is refused");
	ok(strstr(msg.error, "hello.sources[0].root_hash") != NULL, "the message names the field: %s", msg.error);
	si.root_hash.len = 32;
	h.agent_id = "bad\x1fid";
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "hello: an agent id with 0x1f is refused");
	h.agent_id = "";
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "hello: an empty agent id is refused");
	h.agent_id = "a\xc3\x28";
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "hello: an agent id that is not UTF-8 is refused");
	ok(strstr(msg.error, "UTF-8") != NULL, "the message says why: %s", msg.error);
}

static void test_small_messages(void)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Welcome w = PROSPECTOR__WELCOME__INIT;
	Prospector__Reject rj = PROSPECTOR__REJECT__INIT;
	Prospector__Ack ack = PROSPECTOR__ACK__INIT;
	Prospector__Nack nack = PROSPECTOR__NACK__INIT;
	Prospector__Resync rs = PROSPECTOR__RESYNC__INIT;
	Prospector__Command cmd = PROSPECTOR__COMMAND__INIT;
	struct wire_msg msg;

	w.expected_seq = 5;
	w.max_batch_bytes = 4194304;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_WELCOME;
	env.welcome = &w;
	is_int(round_trip(&env, &msg), 0, "welcome: decodes");
	ok(msg.env->welcome->expected_seq == 5 && msg.env->welcome->max_batch_bytes == 4194304, "welcome: fields");
	wire_msg_clear(&msg);

	rj.reason = "先说 HELLO";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_REJECT;
	env.reject = &rj;
	is_int(round_trip(&env, &msg), 0, "reject: decodes");
	is_str(msg.env->reject->reason, "先说 HELLO", "reject: reason");
	wire_msg_clear(&msg);

	ack.incarnation = 3;
	ack.last_applied_seq = 99;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_ACK;
	env.ack = &ack;
	is_int(round_trip(&env, &msg), 0, "ack: decodes");
	ok(msg.env->ack->incarnation == 3 && msg.env->ack->last_applied_seq == 99, "ack: fields");
	wire_msg_clear(&msg);

	nack.incarnation = 3;
	nack.expected_seq = 7;
	nack.reason = "gap";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_NACK;
	env.nack = &nack;
	is_int(round_trip(&env, &msg), 0, "nack: decodes");
	ok(msg.env->nack->expected_seq == 7 && strcmp(msg.env->nack->reason, "gap") == 0, "nack: fields");
	wire_msg_clear(&msg);

	rs.source = "hr";
	rs.reason = "root hash mismatch";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_RESYNC;
	env.resync = &rs;
	is_int(round_trip(&env, &msg), 0, "resync: decodes");
	is_str(msg.env->resync->source, "hr", "resync: source");
	wire_msg_clear(&msg);

	cmd.kind = PROSPECTOR__COMMAND_KIND__CMD_SET_INTERVAL;
	cmd.source = "hr";
	cmd.has_interval_s = 1;
	cmd.interval_s = 300;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_COMMAND;
	env.command = &cmd;
	is_int(round_trip(&env, &msg), 0, "command: decodes");
	ok(msg.env->command->kind == PROSPECTOR__COMMAND_KIND__CMD_SET_INTERVAL &&
	   msg.env->command->interval_s == 300, "command: fields");
	wire_msg_clear(&msg);
	cmd.kind = (Prospector__CommandKind)9;
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "command: an unknown kind is refused");

	cmd.kind = PROSPECTOR__COMMAND_KIND__CMD_PROBE_NOW;
	env.protocol = WIRE_PROTOCOL_MIN - 1;
	is_int(decode_raw(&env, &msg), WIRE_E_PROTOCOL, "a version older than the oldest spoken is refused");
	env.protocol = WIRE_PROTOCOL_MIN;
	is_int(decode_raw(&env, &msg), 0, "the oldest version spoken decodes");
	wire_msg_clear(&msg);
	env.protocol = WIRE_PROTOCOL + 7;
	is_int(decode_raw(&env, &msg), 0, "a newer version decodes (its new fields are skipped)");
	wire_msg_clear(&msg);
	is_int((int)wire_protocol_agree(WIRE_PROTOCOL + 7), WIRE_PROTOCOL, "with a newer peer: our version");
	is_int((int)wire_protocol_agree(WIRE_PROTOCOL_MIN), WIRE_PROTOCOL_MIN, "with an older peer: theirs");
	env.protocol = 1;
	env.body_case = PROSPECTOR__ENVELOPE__BODY__NOT_SET;
	is_int(decode_raw(&env, &msg), WIRE_E_INVALID, "an envelope without a body is refused");
}

static void test_heartbeat(void)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Heartbeat hb = PROSPECTOR__HEARTBEAT__INIT;
	Prospector__ProbeStatus ps = PROSPECTOR__PROBE_STATUS__INIT, *pss[] = { &ps };
	struct wire_msg msg;

	hb.agent_id = "a1";
	hb.incarnation = 2;
	hb.n_probes = 1;
	hb.probes = pss;
	hb.has_rss_bytes = 1;
	hb.rss_bytes = 12345678;
	ps.source = "hr";
	ps.has_duration_ms = 1;
	ps.duration_ms = 250;
	ps.error = "连接被拒绝";
	ps.has_ok = 1;
	ps.ok = 0;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	is_int(round_trip(&env, &msg), 0, "heartbeat: decodes");
	ok(msg.env->heartbeat->rss_bytes == 12345678 && msg.env->heartbeat->probes[0]->duration_ms == 250,
	   "heartbeat: fields");
	is_str(msg.env->heartbeat->probes[0]->error, "连接被拒绝", "heartbeat: error text");
	wire_msg_clear(&msg);
	ps.error = "\xed\xa0\x80"; /* a UTF-16 surrogate, not UTF-8 */
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "heartbeat: a surrogate in a string is refused");
	/* found by tests/fuzz: the probe's warning was the one string the decoder did not check */
	ps.error = NULL;
	ps.warning = "schema \xff shop";
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "heartbeat: a warning that is not UTF-8 is refused");
	ok(strstr(msg.error, "heartbeat.probes[0].warning") != NULL, "the message names the field: %s", msg.error);
	ps.warning = "schema 商店: visible only through table grants";
	is_int(round_trip(&env, &msg), 0, "heartbeat: a UTF-8 warning decodes");
	wire_msg_clear(&msg);
}

static void test_objects(void)
{
	struct snapshot *s = make_snapshot("员工", "员工信息表", false);
	const struct obj *t = snapshot_find(s, "r:10");
	Prospector__Object *po = wire_object_from_obj(t);
	struct obj *back = NULL;

	is_str(po->path, "人事/hr/公共/员工", "object: path travels");
	is_int(wire_obj_from_object(po, &back), 0, "object: converts back");
	ok(back && memcmp(back->hash, t->hash, 32) == 0, "object: same hash after the round trip");
	is_str(back ? back->name : NULL, "员工", "object: Chinese name");
	is_str(back ? obj_get(back, "comment") : NULL, "员工信息表", "object: Chinese attribute");
	is_str(back ? obj_get_obs(back, "rows") : NULL, "42", "object: observations travel");
	is_str(back ? back->parent : NULL, "n:1", "object: parent");
	obj_free(back);
	back = NULL;

	free(po->attrs[0]->value);
	po->attrs[0]->value = xstrdup("改过的注释");
	is_int(wire_obj_from_object(po, &back), WIRE_E_INVALID, "object: content that does not match the hash");
	ok(back == NULL, "object: nothing returned on a mismatch");
	wire_object_free(po);
	snapshot_free(s);
}

/* What wire_batches_emit gave: each batch's bytes, in order. */
struct emitted {
	struct buf batch[64];
	size_t n;
};

static int collect_batch(void *ctx, uint64_t seq, int kind, const void *data, size_t len)
{
	struct emitted *e = ctx;

	(void)seq;
	(void)kind;
	if (e->n == sizeof(e->batch) / sizeof(e->batch[0]))
		return -ENOSPC;
	buf_init(&e->batch[e->n]);
	buf_add(&e->batch[e->n++], data, len);
	return 0;
}

/* Whether bytes are what protobuf-c packs from the message they decode to. */
static bool packs_alike(const struct buf *b, Prospector__Envelope *env)
{
	size_t n = prospector__envelope__get_packed_size(env);
	uint8_t *again = xmalloc(n + 1);
	bool same = prospector__envelope__pack(env, again) == n && n == b->len && memcmp(again, b->data, n) == 0;

	free(again);
	return same;
}

/* Whether a decoded object packs as the snapshot's object does through protobuf-c. */
static bool object_alike(const Prospector__Object *got, const struct obj *o)
{
	Prospector__Object *want = wire_object_from_obj(o);
	size_t n = prospector__object__get_packed_size(want);
	uint8_t *a = xmalloc(n + 1), *b = xmalloc(n + 1);
	bool same = prospector__object__get_packed_size(got) == n && prospector__object__pack(want, a) == n &&
		    prospector__object__pack(got, b) == n && memcmp(a, b, n) == 0;

	free(a);
	free(b);
	wire_object_free(want);
	return same;
}

/*
 * A first snapshot's batches are encoded without protobuf-c (wire_batch.c): split over several
 * batches, with the source's info on the first, the root hash on the last and a mass drop on all,
 * each must be the bytes protobuf-c packs from what it decodes to, and its objects those of the
 * snapshot. Objects with attributes, observations, no parent, an attribute name the model does not
 * know, none at all, an empty value and a long path.
 */
static void test_snapshot_batches(void)
{
	struct snapshot *s = make_snapshot("员工", "员工信息表", true);
	struct obj *extra = obj_new(OBJ_INDEX, "i:12", "r:10", "员工_idx");
	struct wire_source_info info = { .driver = "pg", .department = "人社局", .system = "人事系统", .interval_s = 300,
					 .crawled_at_ms = 1700000000123, .mass_drop = true };
	struct wire_batches_count count;
	struct emitted e = { .n = 0 };
	size_t nobjs = 0, alike = 0, bytes_alike = 0, objects_alike = 0;
	char name[200];

	obj_set(extra, "x_driver_detail", "某值");
	obj_set(extra, "predicate", "");
	snapshot_add(s, &extra);
	extra = obj_new(OBJ_SEQUENCE, "s:13", "n:1", "序列");
	snapshot_add(s, &extra);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "列_%d_%0120d", i, i);
		snprintf(name + 150, sizeof(name) - 150, "a:10:%d", 100 + i);
		extra = obj_new(OBJ_COLUMN, name + 150, "r:10", name);
		obj_set(extra, "type", "text");
		obj_set_obs(extra, "distinct", "7");
		snapshot_add(s, &extra);
	}
	if (snapshot_finish(s) != 0)
		abort();
	is_int(wire_batches_emit(NULL, s, NULL, &info, 2048, 9, 300, collect_batch, &e, &count), 0,
	       "snapshot batches: emitted");
	ok(e.n > 3 && count.batches == e.n && count.items == s->nobjs, "snapshot batches: %zu objects in %zu batches",
	   s->nobjs, e.n);
	for (size_t i = 0; i < e.n; i++) {
		struct wire_msg msg;
		const Prospector__Batch *b;
		bool last = i + 1 == e.n;

		if (wire_decode(e.batch[i].data, e.batch[i].len, &msg) != 0)
			continue;
		b = msg.env->batch;
		bytes_alike += packs_alike(&e.batch[i], msg.env);
		alike += b->seq == 300 + i && b->incarnation == 9 && strcmp(b->source, "人事") == 0 &&
			 b->kind == (last ? PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END
					  : PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART) &&
			 b->has_root_hash == last && (!last || memcmp(b->root_hash.data, s->root, 32) == 0) &&
			 (b->info != NULL) == (i == 0) && b->crawled_at == 1700000000 && b->mass_drop;
		for (size_t j = 0; j < b->n_objects && nobjs < s->nobjs; j++)
			objects_alike += object_alike(b->objects[j], s->objs[nobjs++]);
		if (i == 0)
			ok(b->info && strcmp(b->info->department, "人社局") == 0 && b->info->interval_s == 300,
			   "snapshot batches: the source's info on the first");
		wire_msg_clear(&msg);
	}
	is_int(bytes_alike, e.n, "snapshot batches: each is the bytes protobuf-c packs");
	is_int(alike, e.n, "snapshot batches: numbered in turn, the last ends the snapshot with its root hash");
	is_int(nobjs, s->nobjs, "snapshot batches: every object once");
	is_int(objects_alike, s->nobjs, "snapshot batches: each object as protobuf-c packs it from the model");
	for (size_t i = 0; i < e.n; i++)
		buf_free(&e.batch[i]);
	snapshot_free(s);

	s = snapshot_new("空");
	if (snapshot_finish(s) != 0)
		abort();
	e.n = 0;
	info.mass_drop = false;
	is_int(wire_batches_emit(NULL, s, NULL, &info, 2048, 1, 1, collect_batch, &e, NULL), 0,
	       "empty snapshot: emitted");
	if (e.n == 1) {
		struct wire_msg msg;

		if (wire_decode(e.batch[0].data, e.batch[0].len, &msg) == 0) {
			ok(packs_alike(&e.batch[0], msg.env) && msg.env->batch->n_objects == 0 &&
			   msg.env->batch->kind == PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END && !msg.env->batch->has_mass_drop,
			   "empty snapshot: one batch that ends it, as protobuf-c packs it");
			wire_msg_clear(&msg);
		} else {
			ok(false, "empty snapshot: decodes");
		}
	} else {
		ok(false, "empty snapshot: one batch, not %zu", e.n);
	}
	for (size_t i = 0; i < e.n; i++)
		buf_free(&e.batch[i]);
	snapshot_free(s);
}

/*
 * Rebuilding an object used to search its attributes for each one it added: O(n²), over four
 * seconds for one hostile object of 65536 attributes (found with tests/fuzz). Now attributes in any
 * order are sorted once and a repeated name, attribute or observation, is refused.
 */
static void test_object_many_attrs(void)
{
	enum { N = OBJ_MAX_ATTRS };
	struct obj *o = obj_new(OBJ_TABLE, "r:1", "n:1", "wide");
	Prospector__Object *po;
	Prospector__Attr *first;
	struct obj *back = NULL;
	clock_t t0;
	char name[16];

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "a%05d", i);
		obj_append(o, attr_make(name, SIZE_MAX, "", 0));
	}
	obj_set_obs(o, "rows", "1");
	obj_set_obs(o, "bytes", "8192");
	obj_sort_attrs(o);
	obj_hash(o);
	po = wire_object_from_obj(o);
	first = po->attrs[0]; /* the order on the wire does not matter: reverse it */
	for (size_t i = 0; i < N / 2; i++) {
		Prospector__Attr *a = po->attrs[i];

		po->attrs[i] = po->attrs[N - 1 - i];
		po->attrs[N - 1 - i] = a;
	}
	t0 = clock();
	is_int(wire_obj_from_object(po, &back), 0, "object: %d attributes in reverse order convert back", N);
	ok((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0, "object: in well under a second (O(n²) took over 4 s)");
	ok(back && back->nattrs == N && strcmp(obj_attr(back, 0).name, "a00000") == 0 &&
	   memcmp(back->hash, o->hash, 32) == 0, "object: sorted again, same hash");
	obj_free(back);
	back = NULL;

	free(po->attrs[0]->name);
	po->attrs[0]->name = xstrdup(first->name);
	is_int(wire_obj_from_object(po, &back), WIRE_E_INVALID, "object: a repeated attribute name is refused");
	free(po->attrs[0]->name);
	po->attrs[0]->name = xstrdup("a65535");
	free(po->obs[1]->name);
	po->obs[1]->name = xstrdup(po->obs[0]->name);
	is_int(wire_obj_from_object(po, &back), WIRE_E_INVALID, "object: a repeated observation name is refused");
	ok(back == NULL, "object: nothing returned when refused");
	/* One more than an object can count: refused, not wrapped around. */
	po->attrs = xreallocarray(po->attrs, N + 1, sizeof(*po->attrs));
	po->attrs[N] = xmalloc(sizeof(*po->attrs[N]));
	prospector__attr__init(po->attrs[N]);
	po->attrs[N]->name = xstrdup("b00000");
	po->attrs[N]->value = xstrdup("");
	po->n_attrs = N + 1;
	is_int(wire_obj_from_object(po, &back), WIRE_E_INVALID, "object: %d attributes are refused", N + 1);
	ok(back == NULL, "object: nothing returned when refused");
	wire_object_free(po);
	obj_free(o);
}

static Prospector__Change **changes_from(const struct diff *d)
{
	Prospector__Change **pcs = xcalloc(d->nchanges + 1, sizeof(*pcs));

	for (size_t i = 0; i < d->nchanges; i++)
		pcs[i] = wire_change_from_change(&d->changes[i]);
	return pcs;
}

static const Prospector__Change *find_change(const Prospector__Batch *b, const char *key)
{
	for (size_t i = 0; i < b->n_changes; i++)
		if (strcmp(b->changes[i]->key, key) == 0)
			return b->changes[i];
	return NULL;
}

static void test_batch(void)
{
	struct snapshot *old = make_snapshot("员工", "old", false), *new = make_snapshot("职工", "new", true);
	struct snapshot *gone = make_snapshot("职工", "new", false);
	struct diff *d = diff_snapshots(old, new), *d2 = diff_snapshots(new, gone);
	Prospector__Change **pcs = changes_from(d), **pcs2 = changes_from(d2);
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Batch b = PROSPECTOR__BATCH__INIT;
	Prospector__Attr a = PROSPECTOR__ATTR__INIT, *as[] = { &a };
	Prospector__ObsUpdate u = PROSPECTOR__OBS_UPDATE__INIT, *us[] = { &u };
	Prospector__Object *objs[] = { wire_object_from_obj(snapshot_find(new, "a:10:2")) };
	Prospector__Change *mixed[] = { pcs[0], pcs2[0] };
	const Prospector__Change *c;
	struct wire_msg msg;
	struct buf enc;

	b.incarnation = 1;
	b.seq = 1;
	b.source = "人事";
	b.kind = PROSPECTOR__BATCH_KIND__BATCH_DELTA;
	b.n_changes = d->nchanges;
	b.changes = pcs;
	b.has_root_hash = 1;
	b.root_hash.data = new->root;
	b.root_hash.len = 32;
	b.has_crawled_at = 1;
	b.crawled_at = 1700000000;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_BATCH;
	env.batch = &b;
	is_int(d->nchanges, 2, "diff: the table and the new column changed");
	is_int(round_trip(&env, &msg), 0, "batch (delta): decodes");
	c = find_change(msg.env->batch, "r:10");
	ok(c && c->op == PROSPECTOR__OP__OP_ALTER && c->object, "delta: the table's ALTER carries its new state");
	is_str(c ? c->path : NULL, "人事/hr/公共/职工", "delta: the path after the change");
	ok(c && c->n_rows == 2, "delta: two rows (rename, comment)");
	ok(c && c->n_rows == 2 && c->rows[0]->op == PROSPECTOR__OP__OP_RENAME &&
	   strcmp(c->rows[0]->before, "员工") == 0 && strcmp(c->rows[0]->after, "职工") == 0,
	   "delta: the RENAME row has the old and new name");
	c = find_change(msg.env->batch, "a:10:2");
	ok(c && c->op == PROSPECTOR__OP__OP_ADD && c->n_rows == 1 && c->rows[0]->after &&
	   strstr(c->rows[0]->after, "character varying(100)"), "delta: the ADD row summarises the column");
	wire_msg_clear(&msg);

	b.n_changes = 2;
	b.changes = mixed;
	is_int(round_trip(&env, &msg), 0, "batch with a DROP decodes");
	c = find_change(msg.env->batch, "a:10:2");
	ok(c && c->op == PROSPECTOR__OP__OP_DROP && !c->object && c->n_rows == 1 && c->rows[0]->before,
	   "a DROP carries no object and the old state in its row");
	wire_msg_clear(&msg);

	b.n_changes = 0;
	b.kind = PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART;
	b.n_objects = 1;
	b.objects = objs;
	is_int(round_trip(&env, &msg), 0, "batch (snapshot part): decodes");
	is_str(msg.env->batch->objects[0]->name, "email", "snapshot part: the object");
	wire_msg_clear(&msg);

	b.kind = PROSPECTOR__BATCH_KIND__BATCH_OBS;
	b.n_objects = 0;
	b.n_obs = 1;
	b.obs = us;
	u.key = "r:10";
	u.n_obs = 1;
	u.obs = as;
	a.name = "rows";
	a.value = "100";
	is_int(round_trip(&env, &msg), 0, "batch (obs): decodes");
	is_str(msg.env->batch->obs[0]->obs[0]->value, "100", "obs: the value");
	wire_msg_clear(&msg);
	u.key = "";
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "obs: an empty key is refused");
	u.key = "r:10";

	b.kind = (Prospector__BatchKind)7;
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "batch: an unknown kind is refused");
	b.kind = PROSPECTOR__BATCH_KIND__BATCH_DELTA;
	b.seq = 0;
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "batch: seq 0 is refused");
	b.seq = 1;

	b.n_obs = 0;
	b.n_objects = 1;
	b.kind = PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END;
	objs[0]->hash.len = 16;
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "batch: an object hash of 16 bytes is refused");
	ok(strstr(msg.error, "batch.objects[0].hash") != NULL, "the message names it: %s", msg.error);
	objs[0]->hash.len = 32;
	objs[0]->kind = (Prospector__ObjKind)12;
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "batch: an object kind out of range is refused");
	objs[0]->kind = PROSPECTOR__OBJ_KIND__OBJ_COLUMN;
	free(objs[0]->name);
	objs[0]->name = xstrdup("\xff\xfe");
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "batch: an object name that is not UTF-8 is refused");
	free(objs[0]->name);
	objs[0]->name = xstrdup("email");
	{
		Prospector__Attr *a = objs[0]->attrs[objs[0]->n_attrs - 1];
		char *value = a->value, want[128];

		a->value = "\xe5\x91";
		is_int(round_trip(&env, &msg), WIRE_E_INVALID, "batch: an attribute value cut mid-character is refused");
		snprintf(want, sizeof(want), "batch.objects[0].attrs[%zu].value: not valid UTF-8", objs[0]->n_attrs - 1);
		is_str(msg.error, want, "the message names the attribute");
		a->value = value;
	}

	/* garbage and truncation */
	buf_init(&enc);
	free(objs[0]->name);
	objs[0]->name = xstrdup("email");
	wire_encode_envelope(&env, &enc);
	is_int(wire_decode(enc.data, enc.len, &msg), 0, "the intact batch decodes");
	wire_msg_clear(&msg);
	is_int(wire_decode(enc.data, enc.len - 5, &msg), WIRE_E_DECODE, "a truncated batch is refused");
	ok(msg.env == NULL && msg.error[0], "with a message: %s", msg.error);
	is_int(wire_decode("\xff\xff\xff\xff\xff\xff garbage", 14, &msg), WIRE_E_DECODE, "garbage is refused");
	is_int(wire_decode("", 0, &msg), WIRE_E_DECODE, "an empty message is refused (protocol is required)");
	buf_free(&enc);

	for (size_t i = 0; i < d->nchanges; i++)
		wire_change_free(pcs[i]);
	for (size_t i = 0; i < d2->nchanges; i++)
		wire_change_free(pcs2[i]);
	free(pcs);
	free(pcs2);
	wire_object_free(objs[0]);
	diff_free(d);
	diff_free(d2);
	snapshot_free(old);
	snapshot_free(new);
	snapshot_free(gone);
}

static void test_change_invariants(void)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Batch b = PROSPECTOR__BATCH__INIT;
	Prospector__Change ch = PROSPECTOR__CHANGE__INIT, *chs[] = { &ch };
	Prospector__Row row = PROSPECTOR__ROW__INIT, *rows[] = { &row };
	struct wire_msg msg;

	b.seq = 1;
	b.source = "hr";
	b.n_changes = 1;
	b.changes = chs;
	ch.op = PROSPECTOR__OP__OP_ADD;
	ch.key = "r:1";
	ch.kind = PROSPECTOR__OBJ_KIND__OBJ_TABLE;
	ch.path = "hr/db/public/t";
	ch.n_rows = 1;
	ch.rows = rows;
	row.op = PROSPECTOR__OP__OP_ADD;
	row.after = "{}";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_BATCH;
	env.batch = &b;
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "an ADD without its object is refused");
	ch.op = PROSPECTOR__OP__OP_DROP;
	is_int(round_trip(&env, &msg), 0, "a DROP without an object is fine");
	wire_msg_clear(&msg);
	ch.op = PROSPECTOR__OP__OP_RENAME;
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "RENAME is a row op, not a change op");
	ch.op = PROSPECTOR__OP__OP_DROP;
	row.severity = (Prospector__Severity)3;
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "a severity out of range is refused");
	row.severity = PROSPECTOR__SEVERITY__SEV_BREAKING;
	ch.key = "r:1\x1fr:2";
	is_int(round_trip(&env, &msg), WIRE_E_INVALID, "a key with the reference separator is refused");
}

int main(void)
{
	test_hello();
	test_small_messages();
	test_heartbeat();
	test_objects();
	test_snapshot_batches();
	test_object_many_attrs();
	test_batch();
	test_change_invariants();
	return done_testing();
}

/*
 * Ingest, driven with encoded envelopes as the socket loop would: HELLO → WELCOME; a snapshot in
 * parts becomes the baseline; the same BATCH twice is applied once and acknowledged twice; a gap is
 * NACKed; anything before HELLO is REJECTed; garbage and tampered objects are dropped unanswered;
 * heartbeats update status without history; a bad staged snapshot is acknowledged with a RESYNC;
 * queued probe commands go to the connection of the source's agent, once, and an interval override
 * is repeated on HELLO when the agent runs at another interval.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "ingest.h"
#include "log.h"
#include "snapshot.h"
#include "tap.h"
#include "wire.h"
#include "xmalloc.h"

static char dir[] = "/tmp/prospector-test-ingest-XXXXXX";
static char dbpath[256];
static sqlite3 *ro;
static struct ingest *ing;
static struct ingest_replies out;

static struct snapshot *build(bool with_email)
{
	struct snapshot *s = snapshot_new("hr");
	struct obj *o;

	o = obj_new(OBJ_DATABASE, "d:1", NULL, "hrdb");
	snapshot_add(s, &o);
	o = obj_new(OBJ_SCHEMA, "n:1", "d:1", "public");
	snapshot_add(s, &o);
	o = obj_new(OBJ_TABLE, "r:10", "n:1", "员工");
	obj_set_obs(o, "rows", "3");
	snapshot_add(s, &o);
	o = obj_new(OBJ_COLUMN, "a:10:1", "r:10", "id");
	obj_set(o, "type", "integer");
	snapshot_add(s, &o);
	if (with_email) {
		o = obj_new(OBJ_COLUMN, "a:10:2", "r:10", "email");
		obj_set(o, "type", "text");
		obj_set(o, "nullable", "true");
		snapshot_add(s, &o);
	}
	if (snapshot_finish(s))
		abort();
	return s;
}

static long long q_int(const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(ro, sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char *q_str(const char *sql)
{
	static char *last;
	sqlite3_stmt *st;

	free(last);
	last = NULL;
	if (sqlite3_prepare_v2(ro, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_text(st, 0))
		last = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return last;
}

static void encode(Prospector__Envelope *env, struct buf *b)
{
	buf_init(b);
	wire_encode_envelope(env, b);
}

static void encode_v(Prospector__Envelope *env, unsigned protocol, struct buf *b)
{
	buf_init(b);
	wire_encode_envelope_v(env, protocol, b);
}

/* The CURVE key the next messages come with (NULL: no transport authentication). */
static const char *peer_key;

/* Sends bytes as peer rid; the replies are left in out. */
static int send_bytes(const char *rid, const void *data, size_t len)
{
	struct ingest_peer peer = { .routing_id = rid, .routing_id_len = strlen(rid), .curve_key = peer_key };

	ingest_replies_clear(&out);
	return ingest_handle(ing, &peer, data, len, &out);
}

static int send_env(const char *rid, Prospector__Envelope *env)
{
	struct buf b;
	int r;

	encode(env, &b);
	r = send_bytes(rid, b.data, b.len);
	buf_free(&b);
	return r;
}

/* The body case of reply i, or -1; *ret_msg holds it (cleared on the next call). */
static int reply_kind(size_t i, struct wire_msg *msg)
{
	wire_msg_clear(msg);
	if (i >= out.n || wire_decode(out.msgs[i].data, out.msgs[i].len, msg))
		return -1;
	return (int)msg->env->body_case;
}

static int send_hello_acked(const char *rid, const char *agent, uint64_t incarnation, const char *source,
			    uint64_t last_acked)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Hello h = PROSPECTOR__HELLO__INIT;
	Prospector__SourceInfo si = PROSPECTOR__SOURCE_INFO__INIT, *sis[] = { &si };

	h.agent_id = (char *)agent;
	h.incarnation = incarnation;
	h.last_acked_seq = last_acked;
	h.version = "test";
	h.n_sources = 1;
	h.sources = sis;
	si.name = (char *)source;
	si.driver = "pg";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	return send_env(rid, &env);
}

static int send_hello(const char *rid, const char *agent, uint64_t incarnation, const char *source)
{
	return send_hello_acked(rid, agent, incarnation, source, 0);
}

/* A batch envelope around b (set kind, seq and content before); encoded into out_bytes. */
static void batch_bytes(Prospector__Batch *b, struct buf *bytes)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;

	env.body_case = PROSPECTOR__ENVELOPE__BODY_BATCH;
	env.batch = b;
	encode(&env, bytes);
}

static Prospector__Object **objects_of(const struct snapshot *s)
{
	Prospector__Object **po = xcalloc(s->nobjs, sizeof(*po));

	for (size_t i = 0; i < s->nobjs; i++)
		po[i] = wire_object_from_obj(s->objs[i]);
	return po;
}

static void objects_free(Prospector__Object **po, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wire_object_free(po[i]);
	free(po);
}

static void init_batch(Prospector__Batch *b, uint64_t incarnation, uint64_t seq, Prospector__BatchKind kind)
{
	prospector__batch__init(b);
	b->incarnation = incarnation;
	b->seq = seq;
	b->source = "hr";
	b->kind = kind;
	b->has_crawled_at = 1;
	b->crawled_at = 1700000000;
}

static void test_before_hello(void)
{
	Prospector__Batch b;
	struct wire_msg msg = { 0 };
	struct buf bytes;

	init_batch(&b, 1, 1, PROSPECTOR__BATCH_KIND__BATCH_DELTA);
	batch_bytes(&b, &bytes);
	is_int(send_bytes("peer-A", bytes.data, bytes.len), 0, "a batch before HELLO is handled");
	is_int(reply_kind(0, &msg), PROSPECTOR__ENVELOPE__BODY_REJECT, "and answered with REJECT");
	ok(msg.env && strstr(msg.env->reject->reason, "HELLO"), "asking for HELLO");
	is_int(q_int("SELECT count(*) FROM applied"), 0, "nothing applied");
	wire_msg_clear(&msg);
	buf_free(&bytes);
}

static void test_hello(void)
{
	struct wire_msg msg = { 0 };

	is_int(send_hello("peer-A", "agent-1", 1, "hr"), 0, "HELLO");
	is_int(out.n, 1, "one reply");
	is_int(reply_kind(0, &msg), PROSPECTOR__ENVELOPE__BODY_WELCOME, "WELCOME");
	ok(msg.env && msg.env->welcome->expected_seq == 1, "expecting seq 1");
	ok(msg.env && msg.env->welcome->max_batch_bytes == 4194304, "max_batch_bytes announced");
	is_str(q_str("SELECT agent_id FROM sources WHERE name = 'hr'"), "agent-1", "the source is the agent's");
	wire_msg_clear(&msg);
}

/* An agent speaking protocol version v says HELLO; the reply's envelope version is returned and
 * *ret_agreed is what WELCOME names (0: no WELCOME). */
static unsigned hello_in(unsigned v, const char *agent, unsigned *ret_agreed, int *ret_r)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Hello h = PROSPECTOR__HELLO__INIT;
	struct wire_msg msg = { 0 };
	struct buf b;
	unsigned got = 0;

	h.agent_id = (char *)agent;
	h.incarnation = 7;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	encode_v(&env, v, &b);
	*ret_r = send_bytes(agent, b.data, b.len);
	buf_free(&b);
	*ret_agreed = 0;
	if (reply_kind(0, &msg) == PROSPECTOR__ENVELOPE__BODY_WELCOME) {
		got = msg.env->protocol;
		*ret_agreed = msg.env->welcome->has_protocol ? msg.env->welcome->protocol : 1;
	}
	wire_msg_clear(&msg);
	return got;
}

/* A newer collector keeps talking to an older agent, in the agent's version; a newer agent is
 * answered in ours; a version older than any we speak is not answered at all. */
static void test_protocol_versions(void)
{
	unsigned agreed;
	int r;

	is_int((int)hello_in(WIRE_PROTOCOL_MIN, "agent-old", &agreed, &r), WIRE_PROTOCOL_MIN,
	       "an agent of the oldest version is answered in its version");
	is_int((int)agreed, WIRE_PROTOCOL_MIN, "and WELCOME names that version");
	is_int((int)hello_in(WIRE_PROTOCOL + 3, "agent-new", &agreed, &r), WIRE_PROTOCOL,
	       "an agent of a newer version is answered in ours");
	is_int((int)agreed, WIRE_PROTOCOL, "and WELCOME names ours");
	hello_in(WIRE_PROTOCOL_MIN - 1, "agent-ancient", &agreed, &r);
	ok(r == INGEST_E_INVALID && out.n == 0, "a version older than any spoken is refused unanswered");
}

static void expect_ack(uint64_t seq, const char *what)
{
	struct wire_msg msg = { 0 };

	ok(reply_kind(0, &msg) == PROSPECTOR__ENVELOPE__BODY_ACK && msg.env->ack->last_applied_seq == seq,
	   "%s: ACK %llu", what, (unsigned long long)seq);
	wire_msg_clear(&msg);
}

static void test_snapshot(const struct snapshot *s)
{
	Prospector__Object **po = objects_of(s);
	Prospector__Batch b;
	struct buf bytes;

	init_batch(&b, 1, 1, PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART);
	b.n_objects = 2;
	b.objects = po;
	batch_bytes(&b, &bytes);
	is_int(send_bytes("peer-A", bytes.data, bytes.len), 0, "snapshot part");
	expect_ack(1, "snapshot part");
	is_int(q_int("SELECT count(*) FROM staging"), 1, "the part staged");
	is_int(q_int("SELECT count(*) FROM history"), 0, "no history yet");
	buf_free(&bytes);

	init_batch(&b, 1, 2, PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END);
	b.n_objects = s->nobjs - 2;
	b.objects = po + 2;
	b.has_root_hash = 1;
	b.root_hash.data = (uint8_t *)s->root;
	b.root_hash.len = 32;
	batch_bytes(&b, &bytes);
	is_int(send_bytes("peer-A", bytes.data, bytes.len), 0, "snapshot end");
	expect_ack(2, "snapshot end");
	is_int(out.n, 1, "no RESYNC");
	is_int(q_int("SELECT count(*) FROM history WHERE origin = 'baseline'"), s->nobjs, "the baseline");
	is_int(q_int("SELECT count(*) FROM objects"), s->nobjs, "the objects");
	is_int(q_int("SELECT count(*) FROM staging"), 0, "staging cleared");
	is_int(q_int("SELECT last_seq FROM agents WHERE id = 'agent-1'"), 2, "the agent's last_seq");
	buf_free(&bytes);
	objects_free(po, s->nobjs);
}

/* 1 when reply i is a RESYNC of source. */
static int resync_for(size_t i, const char *source)
{
	struct wire_msg msg = { 0 };
	int r = reply_kind(i, &msg) == PROSPECTOR__ENVELOPE__BODY_RESYNC && strcmp(msg.env->resync->source, source) == 0;

	wire_msg_clear(&msg);
	return r;
}

static void test_delta_twice(const struct snapshot *old, const struct snapshot *new)
{
	struct diff *d = diff_snapshots(old, new);
	Prospector__Change *pc = wire_change_from_change(&d->changes[0]);
	Prospector__Batch b;
	struct buf bytes;
	long long h;

	init_batch(&b, 1, 3, PROSPECTOR__BATCH_KIND__BATCH_DELTA);
	b.n_changes = 1;
	b.changes = &pc;
	batch_bytes(&b, &bytes);
	is_int(send_bytes("peer-A", bytes.data, bytes.len), 0, "delta");
	expect_ack(3, "delta");
	h = q_int("SELECT count(*) FROM history");
	is_int(q_int("SELECT count(*) FROM history WHERE seq = 3"), 1, "one history row for the delta");
	is_int(send_bytes("peer-A", bytes.data, bytes.len), 0, "the same delta again");
	expect_ack(3, "the duplicate");
	is_int(q_int("SELECT count(*) FROM history"), h, "no new history rows");
	is_int(q_int("SELECT count(*) FROM applied WHERE seq = 3"), 1, "applied once");
	buf_free(&bytes);

	/* the same seq with other content: the first one stands, and the source is resynced */
	b.crawled_at++;
	batch_bytes(&b, &bytes);
	is_int(send_bytes("peer-A", bytes.data, bytes.len), 0, "seq 3 again with other content");
	expect_ack(3, "the different duplicate");
	is_int(resync_for(1, "hr"), 1, "and a RESYNC of its source");
	is_int(q_int("SELECT count(*) FROM history"), h, "no new history rows");
	b.crawled_at--;
	buf_free(&bytes);

	/* the same key with content that does not match its hash */
	free(pc->object->attrs[0]->value);
	pc->object->attrs[0]->value = xstrdup("bigint");
	b.seq = 4;
	batch_bytes(&b, &bytes);
	is_int(send_bytes("peer-A", bytes.data, bytes.len), INGEST_E_INVALID, "a tampered object is invalid");
	is_int(out.n, 0, "and not answered");
	is_int(q_int("SELECT last_seq FROM agents WHERE id = 'agent-1'"), 3, "nothing applied");
	buf_free(&bytes);
	wire_change_free(pc);
	diff_free(d);
}

static void test_gap_and_garbage(void)
{
	Prospector__Batch b;
	struct wire_msg msg = { 0 };
	struct buf bytes;

	init_batch(&b, 1, 6, PROSPECTOR__BATCH_KIND__BATCH_DELTA);
	batch_bytes(&b, &bytes);
	is_int(send_bytes("peer-A", bytes.data, bytes.len), 0, "a batch after a gap");
	ok(reply_kind(0, &msg) == PROSPECTOR__ENVELOPE__BODY_NACK && msg.env->nack->expected_seq == 4,
	   "NACK expecting 4");
	buf_free(&bytes);
	is_int(send_bytes("peer-A", "\x08\x01\x2a\xff\xff", 5), INGEST_E_INVALID, "garbage is invalid");
	is_int(out.n, 0, "and not answered");
	wire_msg_clear(&msg);
}

static void test_obs(void)
{
	Prospector__Batch b;
	Prospector__Attr a = PROSPECTOR__ATTR__INIT, *as[] = { &a };
	Prospector__ObsUpdate u = PROSPECTOR__OBS_UPDATE__INIT, *us[] = { &u };
	long long h = q_int("SELECT count(*) FROM history");
	struct buf bytes;

	init_batch(&b, 1, 4, PROSPECTOR__BATCH_KIND__BATCH_OBS);
	b.n_obs = 1;
	b.obs = us;
	u.key = "r:10";
	u.n_obs = 1;
	u.obs = as;
	a.name = "rows";
	a.value = "1000";
	batch_bytes(&b, &bytes);
	is_int(send_bytes("peer-A", bytes.data, bytes.len), 0, "observations");
	expect_ack(4, "observations");
	is_str(q_str("SELECT json_extract(obs, '$.rows') FROM objects WHERE key = 'r:10'"), "1000", "applied");
	is_int(q_int("SELECT count(*) FROM history"), h, "without history");
	buf_free(&bytes);
}

static void test_heartbeat(void)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Heartbeat hb = PROSPECTOR__HEARTBEAT__INIT;
	Prospector__ProbeStatus ps = PROSPECTOR__PROBE_STATUS__INIT, *pss[] = { &ps };
	struct wire_msg msg = { 0 };

	hb.agent_id = "agent-1";
	hb.incarnation = 1;
	hb.n_probes = 1;
	hb.probes = pss;
	hb.has_rss_bytes = 1;
	hb.rss_bytes = 9000000;
	ps.source = "hr";
	ps.has_ok = 1;
	ps.ok = 0;
	ps.error = "connection refused";
	ps.has_duration_ms = 1;
	ps.duration_ms = 120;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	is_int(send_env("peer-A", &env), 0, "heartbeat");
	is_int(out.n, 0, "no reply");
	is_int(q_int("SELECT rss_bytes FROM agents WHERE id = 'agent-1'"), 9000000, "agent status");
	is_str(q_str("SELECT ok || ' ' || last_error || ' ' || duration_ms FROM sources WHERE name = 'hr'"),
	       "0 connection refused 120", "probe status");
	is_int(send_env("peer-Z", &env), 0, "heartbeat from an unknown peer");
	is_int(reply_kind(0, &msg), PROSPECTOR__ENVELOPE__BODY_REJECT, "REJECT");
	wire_msg_clear(&msg);
}

static void test_owned_source(void)
{
	struct wire_msg msg = { 0 };

	is_int(send_hello("peer-B", "agent-2", 1, "hr"), 0, "HELLO from another agent with the same source");
	is_int(reply_kind(0, &msg), PROSPECTOR__ENVELOPE__BODY_REJECT, "REJECT");
	ok(msg.env && strstr(msg.env->reject->reason, "agent-1"), "naming the owner: %s",
	   msg.env ? msg.env->reject->reason : "");
	is_int(q_int("SELECT count(*) FROM agents WHERE id = 'agent-2'"), 0, "the agent is not recorded");
	wire_msg_clear(&msg);
}

static void test_bad_root(const struct snapshot *s)
{
	Prospector__Object **po = objects_of(s);
	unsigned char bad[32] = { 0 };
	struct wire_msg msg = { 0 };
	long long h = q_int("SELECT count(*) FROM history");
	Prospector__Batch b;
	struct buf bytes;

	init_batch(&b, 1, 5, PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END);
	b.n_objects = s->nobjs;
	b.objects = po;
	b.has_root_hash = 1;
	b.root_hash.data = bad;
	b.root_hash.len = 32;
	batch_bytes(&b, &bytes);
	is_int(send_bytes("peer-A", bytes.data, bytes.len), 0, "a snapshot whose root does not match");
	expect_ack(5, "it is consumed");
	ok(reply_kind(1, &msg) == PROSPECTOR__ENVELOPE__BODY_RESYNC && strcmp(msg.env->resync->source, "hr") == 0,
	   "and a RESYNC asked for");
	is_int(q_int("SELECT count(*) FROM history"), h, "nothing applied");
	is_int(q_int("SELECT count(*) FROM staging"), 0, "staging cleared");
	wire_msg_clear(&msg);
	buf_free(&bytes);
	objects_free(po, s->nobjs);
}

static void test_new_incarnation(void)
{
	struct wire_msg msg = { 0 };
	Prospector__Batch b;
	struct buf bytes;

	is_int(send_hello("peer-C", "agent-1", 2, "hr"), 0, "HELLO with a new incarnation on a new connection");
	ok(reply_kind(0, &msg) == PROSPECTOR__ENVELOPE__BODY_WELCOME && msg.env->welcome->expected_seq == 1,
	   "WELCOME expecting 1");
	init_batch(&b, 1, 6, PROSPECTOR__BATCH_KIND__BATCH_DELTA);
	batch_bytes(&b, &bytes);
	is_int(send_bytes("peer-A", bytes.data, bytes.len), 0, "a batch on the old connection");
	is_int(reply_kind(0, &msg), PROSPECTOR__ENVELOPE__BODY_REJECT, "REJECT: the session moved");
	is_int(send_bytes("peer-C", bytes.data, bytes.len), 0, "the old incarnation's batch on the new connection");
	is_int(reply_kind(0, &msg), PROSPECTOR__ENVELOPE__BODY_REJECT, "REJECT: incarnation mismatch");
	buf_free(&bytes);
	init_batch(&b, 2, 1, PROSPECTOR__BATCH_KIND__BATCH_DELTA);
	batch_bytes(&b, &bytes);
	is_int(send_bytes("peer-C", bytes.data, bytes.len), 0, "seq 1 of the new incarnation");
	expect_ack(1, "new incarnation");
	buf_free(&bytes);

	is_int(send_hello_acked("peer-C", "agent-1", 2, "hr", 1), 0, "HELLO again, acked up to 1");
	is_int(out.n, 1, "only WELCOME");
	is_int(send_hello_acked("peer-C", "agent-1", 2, "hr", 5), 0, "HELLO claiming acks the catalog lacks");
	ok(reply_kind(0, &msg) == PROSPECTOR__ENVELOPE__BODY_WELCOME && msg.env->welcome->expected_seq == 6,
	   "WELCOME expecting 6: the lost batches cannot come again");
	ok(reply_kind(1, &msg) == PROSPECTOR__ENVELOPE__BODY_RESYNC && strcmp(msg.env->resync->source, "hr") == 0,
	   "and a RESYNC of its source");
	is_int(q_int("SELECT last_seq FROM agents WHERE id = 'agent-1'"), 5, "the sequence moved on");
	wire_msg_clear(&msg);
}

/* --- probe commands ------------------------------------------------------------------------- */

struct sent {
	char rid[32];
	int kind;
	char source[32];
	int64_t interval_s; /* -1: none */
};

static struct sent sent[8];
static size_t nsent;
static bool send_fails;

static int fake_send(void *ctx, const void *rid, size_t rid_len, const struct buf *msg)
{
	struct wire_msg m = { 0 };
	struct sent *x = &sent[nsent];

	(void)ctx;
	if (send_fails)
		return -EHOSTUNREACH;
	if (nsent == sizeof(sent) / sizeof(sent[0]) || wire_decode(msg->data, msg->len, &m) ||
	    m.env->body_case != PROSPECTOR__ENVELOPE__BODY_COMMAND) {
		wire_msg_clear(&m);
		return -EINVAL;
	}
	snprintf(x->rid, sizeof(x->rid), "%.*s", (int)rid_len, (const char *)rid);
	x->kind = m.env->command->kind;
	snprintf(x->source, sizeof(x->source), "%s", m.env->command->source);
	x->interval_s = m.env->command->has_interval_s ? (int64_t)m.env->command->interval_s : -1;
	nsent++;
	wire_msg_clear(&m);
	return 0;
}

/* What 'prospector probe' and 'prospector interval' write, through a connection of their own. */
static void queue(const char *sql)
{
	sqlite3 *rw;

	sqlite3_open_v2(dbpath, &rw, SQLITE_OPEN_READWRITE, NULL);
	sqlite3_busy_timeout(rw, 5000);
	ok(sqlite3_exec(rw, sql, NULL, NULL, NULL) == SQLITE_OK, "queued: %s", sql);
	sqlite3_close(rw);
}

static int send_hello_interval(const char *rid, const char *source, int64_t interval_s)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Hello h = PROSPECTOR__HELLO__INIT;
	Prospector__SourceInfo si = PROSPECTOR__SOURCE_INFO__INIT, *sis[] = { &si };

	h.agent_id = "agent-1";
	h.incarnation = 2;
	h.last_acked_seq = 5;
	h.n_sources = 1;
	h.sources = sis;
	si.name = (char *)source;
	si.has_interval_s = interval_s >= 0;
	si.interval_s = interval_s >= 0 ? (uint32_t)interval_s : 0;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	return send_env(rid, &env);
}

static void test_commands(void)
{
	struct wire_msg msg = { 0 };

	queue("INSERT INTO commands(source, kind, created) VALUES('hr', 'probe_now', 1);"
	      "INSERT INTO commands(source, kind, created) VALUES('ghost', 'probe_now', 2);"
	      "UPDATE sources SET interval_override = 120 WHERE name = 'hr';"
	      "INSERT INTO commands(source, kind, interval_s, created) VALUES('hr', 'set_interval', 120, 3)");
	send_fails = true;
	is_int(ingest_send_commands(ing, fake_send, NULL), 0, "commands, the socket refusing");
	is_int(q_int("SELECT count(*) FROM commands WHERE sent IS NULL"), 3, "nothing marked sent");
	send_fails = false;
	is_int(ingest_send_commands(ing, fake_send, NULL), 0, "commands");
	is_int(nsent, 2, "two sent: the ghost source has no agent");
	ok(strcmp(sent[0].rid, "peer-C") == 0 && sent[0].kind == PROSPECTOR__COMMAND_KIND__CMD_PROBE_NOW &&
	   strcmp(sent[0].source, "hr") == 0 && sent[0].interval_s == -1, "probe_now to the agent's connection");
	ok(strcmp(sent[1].rid, "peer-C") == 0 && sent[1].kind == PROSPECTOR__COMMAND_KIND__CMD_SET_INTERVAL &&
	   sent[1].interval_s == 120, "then set_interval 120");
	is_str(q_str("SELECT group_concat(source || ':' || (sent IS NOT NULL), ',') FROM commands"),
	       "hr:1,ghost:0,hr:1", "the sent ones are marked");
	nsent = 0;
	is_int(ingest_send_commands(ing, fake_send, NULL), 0, "commands again");
	is_int(nsent, 0, "nothing is sent twice");

	is_int(send_hello_interval("peer-D", "hr", 3600), 0, "HELLO of an agent running hr every hour");
	is_int(reply_kind(0, &msg), PROSPECTOR__ENVELOPE__BODY_WELCOME, "WELCOME");
	ok(reply_kind(1, &msg) == PROSPECTOR__ENVELOPE__BODY_COMMAND &&
	   msg.env->command->kind == PROSPECTOR__COMMAND_KIND__CMD_SET_INTERVAL &&
	   strcmp(msg.env->command->source, "hr") == 0 && msg.env->command->has_interval_s &&
	   msg.env->command->interval_s == 120, "and the interval override again");
	is_int(out.n, 2, "nothing else");
	is_int(send_hello_interval("peer-D", "hr", 120), 0, "HELLO of an agent already at the override");
	is_int(out.n, 1, "only WELCOME");
	queue("INSERT INTO commands(source, kind, created) VALUES('hr', 'probe_now', 4)");
	is_int(ingest_send_commands(ing, fake_send, NULL), 0, "a command after the agent moved");
	ok(nsent == 1 && strcmp(sent[0].rid, "peer-D") == 0, "goes to its new connection");
	wire_msg_clear(&msg);
}

/* The authenticated key decides who an agent is: a HELLO claiming another id is rejected, a
 * revoked key is refused on an open connection, and a stream of garbage quarantines its agent. */
static void test_keys(struct catalog *cat)
{
	const char *key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", *other = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
	struct wire_msg msg = { 0 };
	int count = 0;

	ok(catalog_key_enroll(cat, "keyed", key, "Health Bureau", 1) == 0, "enroll a key");
	is_int(catalog_key_enroll(cat, "someone-else", key, NULL, 2), CATALOG_E_KEY_TAKEN, "a key has one agent");
	peer_key = key;
	is_int(send_hello("peer-K", "keyed", 9, "keyed-src"), 0, "HELLO with the enrolled key");
	is_int(reply_kind(0, &msg), PROSPECTOR__ENVELOPE__BODY_WELCOME, "is welcomed");
	long long inc = q_int("SELECT incarnation FROM agents WHERE id = 'agent-1'");

	is_int(send_hello("peer-K", "agent-1", 9, "keyed-src"), 0, "HELLO claiming another agent");
	ok(reply_kind(0, &msg) == PROSPECTOR__ENVELOPE__BODY_REJECT && strstr(msg.env->reject->reason, "key"),
	   "is rejected: the id does not match the key");
	is_int(q_int("SELECT incarnation FROM agents WHERE id = 'agent-1'"), inc, "and agent-1 is untouched");

	peer_key = other;
	is_int(send_hello("peer-X", "keyed", 9, "keyed-src"), INGEST_E_REFUSED, "a key that is not enrolled is refused");
	is_int(out.n, 0, "unanswered");

	peer_key = key;
	ok(catalog_key_revoke(cat, "keyed", 3, &count) == 0 && count == 1, "revoke the agent's key");
	is_int(send_hello("peer-K", "keyed", 9, "keyed-src"), INGEST_E_REFUSED,
	       "the next message on the open connection is refused");
	is_int(catalog_key_enroll(cat, "keyed", key, NULL, 4), CATALOG_E_KEY_TAKEN, "a revoked key cannot come back");

	ok(catalog_key_enroll(cat, "noisy", other, NULL, 5) == 0, "enroll another agent");
	peer_key = other;
	for (int i = 0; i < 20; i++)
		send_bytes("peer-N", "\x08\x01\x2a\xff\xff", 5);
	is_int(send_hello("peer-N", "noisy", 9, "noisy-src"), INGEST_E_REFUSED,
	       "twenty invalid messages quarantine the agent: even a valid HELLO is ignored");
	peer_key = NULL;
	is_int(send_hello("peer-Z", "agent-z", 1, "z-src"), 0, "others are not affected");
	is_int(reply_kind(0, &msg), PROSPECTOR__ENVELOPE__BODY_WELCOME, "and are welcomed");
	wire_msg_clear(&msg);
}

static void cleanup(void)
{
	static const char *const files[] = { "catalog.db", "catalog.db-wal", "catalog.db-shm" };
	char path[300];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	struct snapshot *s1, *s2;
	struct catalog *cat;
	char err[512];

	log_init("test-ingest", true, false);
	if (!mkdtemp(dir))
		skip_all("cannot create a temporary directory");
	snprintf(dbpath, sizeof(dbpath), "%s/catalog.db", dir);
	if (catalog_open(dbpath, &cat, err, sizeof(err)) != 0) {
		ok(0, "catalog_open: %s", err);
		return done_testing();
	}
	sqlite3_open_v2(dbpath, &ro, SQLITE_OPEN_READONLY, NULL);
	ing = ingest_new(cat, 4194304);
	s1 = build(false);
	s2 = build(true);
	test_before_hello();
	test_hello();
	test_protocol_versions();
	test_snapshot(s1);
	test_delta_twice(s1, s2);
	test_gap_and_garbage();
	test_obs();
	test_heartbeat();
	test_owned_source();
	test_bad_root(s2);
	test_new_incarnation();
	test_commands();
	test_keys(cat);
	ingest_replies_clear(&out);
	ingest_free(ing);
	snapshot_free(s1);
	snapshot_free(s2);
	sqlite3_close(ro);
	catalog_close(cat);
	cleanup();
	return done_testing();
}

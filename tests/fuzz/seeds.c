/*
 * Writes the seed corpus of fuzz-wire: one file per message, every one of which wire_decode
 * accepts, made with the project's own encoders so that the seeds follow the proto and the model
 * (tests/fuzz/run.sh builds and runs this before each fuzzing run; nothing is checked in).
 *
 *     seeds OUTDIR DIFFDIR
 *
 * From each golden diff case in DIFFDIR (NNN-name.old / .new, common/fixture.h), as the agent
 * would send them: the new schema as SNAPSHOT_PART/SNAPSHOT_END batches, the diff as DELTA (and
 * OBS) batches, and one SNAPSHOT_END holding the old objects followed by the new ones (fuzz-wire
 * diffs the two halves). Then one of every other message type, by hand.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "diff.h"
#include "fixture.h"
#include "snapshot.h"
#include "wire.h"
#include "wire_batch.h"
#include "xmalloc.h"

/* Small, so that cases split into several batches and libFuzzer's inputs stay short. */
#define SEED_BATCH_BYTES 2048

static const char *outdir;
static unsigned nseeds;

static void seed_write(const char *name, const void *data, size_t len)
{
	struct wire_msg msg;
	char *path = xasprintf("%s/%s", outdir, name);
	FILE *f = fopen(path, "wb");

	/* a seed the decoder refuses would only teach the fuzzer the error path */
	if (wire_decode(data, len, &msg) != 0) {
		fprintf(stderr, "seeds: %s does not decode: %s\n", name, msg.error);
		exit(1);
	}
	wire_msg_clear(&msg);
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	free(path);
	nseeds++;
}

static void seed_envelope(const char *name, Prospector__Envelope *env, unsigned protocol)
{
	struct buf b;

	buf_init(&b);
	wire_encode_envelope_v(env, protocol, &b);
	seed_write(name, b.data, b.len);
	buf_free(&b);
}

static struct snapshot *load(const char *dir, const char *file)
{
	char err[512];
	char *path = xasprintf("%s/%s", dir, file);
	struct snapshot *s = NULL;
	int r = fixture_load(path, "hr", &s, err, sizeof(err));

	if (r == 0)
		r = snapshot_finish(s);
	if (r != 0) {
		fprintf(stderr, "seeds: %s: %s\n", path, r > 0 ? err : s ? s->error : "cannot read");
		exit(1);
	}
	free(path);
	return s;
}

/* Names each batch stem-what-N after its place in the crawl (numbered from 1). */
struct seed_namer {
	const char *stem, *what;
};

static int seed_emit(void *ctx, uint64_t seq, int kind, const void *data, size_t len)
{
	const struct seed_namer *sn = ctx;
	char *name = xasprintf("%s-%s-%llu", sn->stem, sn->what, (unsigned long long)(seq - 1));

	(void)kind;
	seed_write(name, data, len);
	free(name);
	return 0;
}

static void seed_batches(const char *stem, const char *what, const struct snapshot *old,
			 const struct snapshot *new, const struct diff *d)
{
	struct wire_source_info info = {
		.driver = "pg", .department = "卫生健康委员会", .system = "人事", .interval_s = 3600,
		.crawled_at_ms = 1700000000000ULL,
	};
	struct seed_namer sn = { stem, what };

	wire_batches_emit(old, new, d, &info, SEED_BATCH_BYTES, 42, 1, seed_emit, &sn, NULL);
}

/* old's objects, then new's, in one SNAPSHOT_END: what fuzz-wire diffs as catalog and staged. */
static void seed_halves(const char *stem, const struct snapshot *old, const struct snapshot *new)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Batch b = PROSPECTOR__BATCH__INIT;
	size_t n = old->nobjs + new->nobjs;
	char *name = xasprintf("%s-halves", stem);

	b.incarnation = 42;
	b.seq = 1;
	b.source = new->source;
	b.kind = PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END;
	b.objects = xcalloc(n ? n : 1, sizeof(*b.objects));
	for (size_t i = 0; i < old->nobjs; i++)
		b.objects[b.n_objects++] = wire_object_from_obj(old->objs[i]);
	for (size_t i = 0; i < new->nobjs; i++)
		b.objects[b.n_objects++] = wire_object_from_obj(new->objs[i]);
	env.body_case = PROSPECTOR__ENVELOPE__BODY_BATCH;
	env.batch = &b;
	seed_envelope(name, &env, WIRE_PROTOCOL);
	for (size_t i = 0; i < b.n_objects; i++)
		wire_object_free(b.objects[i]);
	free(b.objects);
	free(name);
}

static void seed_case(const char *dir, const char *old_file)
{
	char *stem = xstrndup(old_file, strlen(old_file) - strlen(".old"));
	char *new_file = xasprintf("%s.new", stem);
	struct snapshot *old = load(dir, old_file), *new = load(dir, new_file);
	struct diff *d = diff_snapshots(old, new);

	seed_batches(stem, "snapshot", NULL, new, NULL);
	seed_batches(stem, "delta", old, new, d);
	seed_halves(stem, old, new);
	diff_free(d);
	snapshot_free(old);
	snapshot_free(new);
	free(new_file);
	free(stem);
}

static void seed_cases(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;

	if (!dp) {
		perror(dir);
		exit(1);
	}
	while ((de = readdir(dp))) {
		size_t n = strlen(de->d_name);

		if (n > 4 && strcmp(de->d_name + n - 4, ".old") == 0)
			seed_case(dir, de->d_name);
	}
	closedir(dp);
}

static void seed_hello(void)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Hello h = PROSPECTOR__HELLO__INIT;
	Prospector__SourceInfo s1 = PROSPECTOR__SOURCE_INFO__INIT, s2 = PROSPECTOR__SOURCE_INFO__INIT;
	Prospector__SourceInfo *sis[] = { &s1, &s2 };
	unsigned char root[32] = { 0x5a, 1, 2, 3 };

	h.agent_id = "卫生局-01";
	h.incarnation = 1234567890123ULL;
	h.last_acked_seq = 17;
	h.version = "0.1.0";
	h.hostname = "db-host.example";
	h.n_sources = 2;
	h.sources = sis;
	s1.name = "hr";
	s1.driver = "pg";
	s1.department = "卫生健康委员会";
	s1.system = "人事";
	s1.has_root_hash = 1;
	s1.root_hash = (ProtobufCBinaryData){ sizeof(root), root };
	s1.has_interval_s = 1;
	s1.interval_s = 3600;
	s2.name = "shop";
	s2.driver = "mysql";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	seed_envelope("hello", &env, WIRE_PROTOCOL);
	seed_envelope("hello-v1", &env, WIRE_PROTOCOL_MIN);
}

static void seed_heartbeat(void)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Heartbeat hb = PROSPECTOR__HEARTBEAT__INIT;
	Prospector__ProbeStatus p1 = PROSPECTOR__PROBE_STATUS__INIT, p2 = PROSPECTOR__PROBE_STATUS__INIT;
	Prospector__ProbeStatus *ps[] = { &p1, &p2 };
	unsigned char root[32] = { 0xa5 };

	hb.agent_id = "a1";
	hb.incarnation = 2;
	hb.n_probes = 2;
	hb.probes = ps;
	hb.has_outbox_depth = hb.has_rss_bytes = 1;
	hb.outbox_depth = 3;
	hb.rss_bytes = 12345678;
	hb.version = "0.1.0";
	p1.source = "hr";
	p1.has_last_start = p1.has_last_end = p1.has_duration_ms = p1.has_objects = 1;
	p1.last_start = 1700000000000ULL;
	p1.last_end = 1700000000250ULL;
	p1.duration_ms = 250;
	p1.objects = 120;
	p1.has_ok = p1.ok = 1;
	p1.has_root_hash = 1;
	p1.root_hash = (ProtobufCBinaryData){ sizeof(root), root };
	p1.warning = "schema shop: visible only through table grants";
	p2.source = "shop";
	p2.error = "连接被拒绝";
	p2.has_next_run = p2.has_interval_s = 1;
	p2.next_run = 1700000360000ULL;
	p2.interval_s = 60;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	seed_envelope("heartbeat", &env, WIRE_PROTOCOL);
}

/* The collector's messages, which the agent decodes with the same function. */
static void seed_replies(void)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Welcome w = PROSPECTOR__WELCOME__INIT;
	Prospector__Reject rj = PROSPECTOR__REJECT__INIT;
	Prospector__Ack ack = PROSPECTOR__ACK__INIT;
	Prospector__Nack nack = PROSPECTOR__NACK__INIT;
	Prospector__Resync rs = PROSPECTOR__RESYNC__INIT;
	Prospector__Command cmd = PROSPECTOR__COMMAND__INIT;
	static const char *const cmd_names[] = { "command-probe-now", "command-set-interval", "command-resync" };

	w.expected_seq = 5;
	w.max_batch_bytes = 4194304;
	w.has_credit = w.has_protocol = 1;
	w.credit = 8;
	w.protocol = WIRE_PROTOCOL;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_WELCOME;
	env.welcome = &w;
	seed_envelope("welcome", &env, WIRE_PROTOCOL);
	rj.reason = "先说 HELLO";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_REJECT;
	env.reject = &rj;
	seed_envelope("reject", &env, WIRE_PROTOCOL);
	ack.incarnation = 3;
	ack.last_applied_seq = 99;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_ACK;
	env.ack = &ack;
	seed_envelope("ack", &env, WIRE_PROTOCOL);
	nack.incarnation = 3;
	nack.expected_seq = 7;
	nack.reason = "gap";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_NACK;
	env.nack = &nack;
	seed_envelope("nack", &env, WIRE_PROTOCOL);
	rs.source = "hr";
	rs.reason = "root hash mismatch";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_RESYNC;
	env.resync = &rs;
	seed_envelope("resync", &env, WIRE_PROTOCOL);
	cmd.source = "hr";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_COMMAND;
	env.command = &cmd;
	for (int k = 0; k <= PROSPECTOR__COMMAND_KIND__CMD_RESYNC; k++) {
		cmd.kind = (Prospector__CommandKind)k;
		cmd.has_interval_s = k == PROSPECTOR__COMMAND_KIND__CMD_SET_INTERVAL;
		cmd.interval_s = 300;
		seed_envelope(cmd_names[k], &env, WIRE_PROTOCOL);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: seeds OUTDIR DIFFDIR\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	outdir = argv[1];
	seed_cases(argv[2]);
	seed_hello();
	seed_heartbeat();
	seed_replies();
	printf("seeds: %u messages in %s\n", nseeds, outdir);
	return 0;
}

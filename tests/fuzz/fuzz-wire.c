/*
 * libFuzzer target for what the collector does with a message from the network before any of it
 * touches the catalog (DESIGN §3.6): wire_decode() (protobuf-c unpack plus wire.c's validation of
 * every field), then, for a BATCH, what collector/ingest.c and collector/catalog.c do with it that
 * needs no database: every object rebuilt with wire_obj_from_object() (which recomputes its hash),
 * its staging round trip through snapshot_obj_encode()/snapshot_obj_decode(), and for snapshot
 * batches the staged objects finished into snapshots and diffed, as SNAPSHOT_END does against the
 * catalog. Built and run by tests/fuzz/run.sh; it must never crash, leak, trip UBSan or hang.
 *
 * Invariants checked beyond the sanitizers (a violation aborts, which libFuzzer reports):
 *  - the error text is always NUL-terminated, and set exactly when decoding failed;
 *  - every string anywhere in an accepted message is valid UTF-8 and every enum a known value,
 *    found by walking protobuf-c's descriptors: a field added to the proto without a check in
 *    wire.c shows up here without anyone having to remember this file;
 *  - a message wire_decode accepted, packed again by protobuf-c, is accepted again: validation
 *    must not depend on how the bytes were laid out (field order, repeats, unknown fields);
 *  - an object wire_obj_from_object accepted survives the staging encoding unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "diff.h"
#include "snapshot.h"
#include "utf8.h"
#include "wire.h"
#include "xmalloc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: say which, then abort so that libFuzzer saves the input. */
static void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz-wire: invariant broken: %s\n", what);
	abort();
}

static void check_error_text(const struct wire_msg *msg, int r)
{
	if (!memchr(msg->error, '\0', sizeof(msg->error)))
		fuzz_fail("wire_msg.error is not NUL-terminated");
	if ((r != 0) != (msg->error[0] != '\0'))
		fuzz_fail("wire_msg.error is set although decoding succeeded, or empty although it failed");
	if ((r != 0) != (msg->env == NULL))
		fuzz_fail("wire_decode returned an envelope with an error, or none without");
}

static void check_message(const ProtobufCMessage *m);

/*
 * protobuf-c 1.4 reads an overlong varint tag of field number 0 (80 80 00) as an unknown field,
 * which it then packs as the one-byte tag 00 and refuses to read back. The field is skipped either
 * way, so such a message is left out of the repack check rather than reported.
 */
static int unknown_tag0;

/* One value of field f, stored at p: strings, enums and nested messages are checked. */
static void check_value(const ProtobufCFieldDescriptor *f, const void *p)
{
	const char *s;

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		s = *(char *const *)p;
		if (s && !utf8_valid(s)) {
			fprintf(stderr, "fuzz-wire: field %s\n", f->name);
			fuzz_fail("an accepted message carries a string that is not UTF-8");
		}
		break;
	case PROTOBUF_C_TYPE_ENUM:
		if (!protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p)) {
			fprintf(stderr, "fuzz-wire: field %s = %d\n", f->name, *(const int *)p);
			fuzz_fail("an accepted message carries an enum value its type does not define");
		}
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		if (*(ProtobufCMessage *const *)p)
			check_message(*(ProtobufCMessage *const *)p);
		break;
	default:
		break;
	}
}

/* Walks every field that is present: repeated ones element by element, a oneof only its set member,
 * an optional scalar only when its has_ flag says so. */
static void check_message(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		unknown_tag0 |= m->unknown_fields[i].tag == 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;
		const void *p = base + f->offset;
		int pointer = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE;

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)(const void *)(base + f->quantifier_offset) == f->id)
				check_value(f, p);
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(const void *)(base + f->quantifier_offset);
			const char *arr = *(const char *const *)p;
			size_t elem = pointer ? sizeof(void *) : f->type == PROTOBUF_C_TYPE_ENUM ? sizeof(int) : 0;

			for (size_t j = 0; elem && j < n; j++)
				check_value(f, arr + j * elem);
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !pointer) {
			if (*(const protobuf_c_boolean *)(const void *)(base + f->quantifier_offset))
				check_value(f, p);
		} else {
			check_value(f, p);
		}
	}
}

/* Packing what we unpacked and decoding it again must give the same verdict. */
static void check_repack(const Prospector__Envelope *env)
{
	size_t n = prospector__envelope__get_packed_size(env);
	uint8_t *buf = xmalloc(n ? n : 1);
	struct wire_msg again;
	int r;

	prospector__envelope__pack(env, buf);
	r = wire_decode(buf, n, &again);
	if (r != 0) {
		fprintf(stderr, "fuzz-wire: repacked message refused: %s\n", again.error);
		fuzz_fail("a message wire_decode accepted is refused once packed again");
	}
	wire_msg_clear(&again);
	free(buf);
}

/* The collector stages snapshot objects in this encoding and reads them back at SNAPSHOT_END. */
static struct obj *staging_round_trip(const struct obj *o)
{
	struct buf blob;
	struct obj *back = NULL;

	buf_init(&blob);
	snapshot_obj_encode(o, &blob);
	if (snapshot_obj_decode(blob.data, blob.len, &back) != 0)
		fuzz_fail("snapshot_obj_decode refused what snapshot_obj_encode wrote");
	buf_free(&blob);
	if (back->nattrs != o->nattrs || back->nobs != o->nobs || strcmp(back->key, o->key) != 0)
		fuzz_fail("an object changed on its staging round trip");
	return back;
}

/* The objects that passed, as the collector would stage them; NULL entries for those that did not. */
static struct obj **rebuild_objects(Prospector__Object *const *po, size_t n, size_t *ret_ok)
{
	struct obj **objs = xcalloc(n ? n : 1, sizeof(*objs));
	struct obj *o;

	*ret_ok = 0;
	for (size_t i = 0; i < n; i++) {
		if (wire_obj_from_object(po[i], &o) != 0)
			continue;
		objs[i] = staging_round_trip(o);
		obj_free(o);
		(*ret_ok)++;
	}
	return objs;
}

/* objs[from, to) into a finished snapshot; NULL when it does not finish (duplicate key, orphan). */
static struct snapshot *snapshot_of(const char *source, struct obj **objs, size_t from, size_t to)
{
	struct snapshot *s = snapshot_new(source);

	for (size_t i = from; i < to; i++)
		if (objs[i])
			snapshot_add(s, &objs[i]);
	if (snapshot_finish(s) != 0) {
		snapshot_free(s);
		return NULL;
	}
	return s;
}

/*
 * SNAPSHOT_END diffs the staged snapshot against the catalog's, and both came from agents. The
 * objects of one batch stand for both: the first half for the catalog's, the second for the staged
 * one (seeds put an old and a new version of a schema in one batch for that).
 */
static void diff_halves(const char *source, struct obj **objs, size_t n)
{
	struct snapshot *old = snapshot_of(source, objs, 0, n / 2);
	struct snapshot *new = snapshot_of(source, objs, n / 2, n);
	struct diff *d;

	if (new) {
		d = diff_snapshots(old, new);
		for (size_t i = 0; i < d->nchanges; i++)
			free(diff_obj_summary(d->changes[i].new ? d->changes[i].new : d->changes[i].old,
					      d->changes[i].new ? new : old));
		diff_free(d);
	}
	snapshot_free(old);
	snapshot_free(new);
}

static void exercise_objects(const char *source, Prospector__Object *const *po, size_t n, int snapshot)
{
	size_t ok;
	struct obj **objs = rebuild_objects(po, n, &ok);

	if (snapshot && ok)
		diff_halves(source, objs, n);
	for (size_t i = 0; i < n; i++)
		obj_free(objs[i]); /* those snapshot_of did not take */
	free(objs);
}

/* A DELTA's ADD and ALTER carry the object's new state, rebuilt and hash-checked the same way. */
static void exercise_changes(const char *source, Prospector__Change *const *pc, size_t n)
{
	Prospector__Object **po = xcalloc(n ? n : 1, sizeof(*po));
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (pc[i]->object)
			po[m++] = pc[i]->object;
	exercise_objects(source, po, m, 0);
	free(po);
}

static void exercise_batch(const Prospector__Batch *b)
{
	int snapshot = b->kind == PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART ||
		       b->kind == PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END;

	exercise_objects(b->source, b->objects, b->n_objects, snapshot);
	exercise_changes(b->source, b->changes, b->n_changes);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0) /* as the collector does before anything else */
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_msg msg;
	int r = wire_decode(data, size, &msg);

	check_error_text(&msg, r);
	if (r != 0)
		return 0;
	(void)wire_protocol_agree(msg.env->protocol);
	unknown_tag0 = 0;
	check_message(&msg.env->base);
	if (!unknown_tag0)
		check_repack(msg.env);
	if (msg.env->body_case == PROSPECTOR__ENVELOPE__BODY_BATCH)
		exercise_batch(msg.env->batch);
	wire_msg_clear(&msg);
	if (msg.env || msg.error[0])
		fuzz_fail("wire_msg_clear left something behind");
	return 0;
}

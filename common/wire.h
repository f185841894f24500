/*
 * Wire conversion: the only model-side code that touches protobuf-c types (STYLE.md). It turns
 * snapshots, diffs and status into Envelope bytes and back, and validates what it decodes so that
 * nothing malformed reaches a store: required fields, enum ranges, UTF-8 everywhere, sane sizes.
 *
 * Encoders append to a struct buf. Decoders return a struct wire_msg that owns the unpacked
 * protobuf message; its pointers are borrowed from it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "diff.h"
#include "prospector.pb-c.h"
#include "snapshot.h"

/* The protocol versions this side speaks (proto/prospector.proto says what each added). Messages of
 * any version from WIRE_PROTOCOL_MIN on decode: a newer peer's unknown fields are skipped. */
#define WIRE_PROTOCOL 2
#define WIRE_PROTOCOL_MIN 1

enum {
	WIRE_E_DECODE = 1, /* not a protobuf Envelope */
	WIRE_E_INVALID,    /* decoded, but a field is missing, out of range or not UTF-8 */
	WIRE_E_PROTOCOL,   /* older than WIRE_PROTOCOL_MIN */
};

struct wire_msg {
	Prospector__Envelope *env;
	char error[256];
};

int wire_decode(const void *data, size_t len, struct wire_msg *ret_msg);
void wire_msg_clear(struct wire_msg *msg);
/* Appends env in WIRE_PROTOCOL, or in an older version agreed with the peer. */
void wire_encode_envelope(Prospector__Envelope *env, struct buf *out);
void wire_encode_envelope_v(Prospector__Envelope *env, unsigned protocol, struct buf *out);
/* The version two sides agree on: the older of the two. */
unsigned wire_protocol_agree(unsigned peer);

/* Model ↔ protobuf. The protobuf structs built here own heap copies; free with wire_free_*. */
Prospector__Object *wire_object_from_obj(const struct obj *o);
void wire_object_free(Prospector__Object *po);
/* Rebuilds an object, recomputing its hash; 0 or WIRE_E_INVALID. */
int wire_obj_from_object(const Prospector__Object *po, struct obj **ret_o);
/* An object's observations, for an OBS batch. */
Prospector__ObsUpdate *wire_obs_update_from_obj(const struct obj *o);
void wire_obs_update_free(Prospector__ObsUpdate *pu);
/* One Change message per changed object; rows with REFS rendered by name through the snapshots. */
Prospector__Change *wire_change_from_change(const struct change *c);
void wire_change_free(Prospector__Change *pc);

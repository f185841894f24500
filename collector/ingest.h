/*
 * Ingest: the collector's side of the protocol (DESIGN §4). One call per message an agent sent:
 * the bytes go in with the peer they came from, zero or more reply envelopes come out, already
 * encoded, to be sent back to the same peer. The socket loop (main.c) only moves frames.
 *
 * HELLO opens a session for the peer (its ZeroMQ routing id) and answers WELCOME with the sequence
 * number the collector expects next. A BATCH is applied exactly once: a sequence number already
 * applied is acknowledged again without touching the catalog, the next one is applied in one
 * durable sqlite transaction and then acknowledged, a gap is answered with NACK. Anything from a
 * peer without a session is answered with REJECT, which asks the agent to say HELLO (again).
 * Messages that do not decode or validate get no answer; they are logged, rate-limited.
 *
 * Probe commands flow the other way: ingest_send_commands, called by the loop a few times a
 * second, sends what the CLI queued to the agent owning the source (DESIGN §4 COMMAND).
 *
 * Ingest owns its sessions; it borrows the catalog.
 */
#pragma once

#include <stddef.h>

#include "buf.h"
#include "catalog.h"

enum {
	INGEST_E_INVALID = 1, /* the message did not decode or validate; nothing was answered */
	INGEST_E_REFUSED,     /* its key is revoked, or its agent quarantined: not even looked at */
};

/* Where a message came from. curve_key is the client's CURVE public key (Z85) that the ZAP handler
 * admitted, as the message's User-Id carries it; the agent is the one that key is enrolled for, looked
 * up on every message, so that a revoked key is refused on open connections too, and a HELLO or
 * heartbeat that claims another agent is rejected. NULL only where ingest is driven without a
 * transport (the unit tests): then an agent is who its HELLO says. */
struct ingest_peer {
	const void *routing_id;
	size_t routing_id_len;
	const char *curve_key;
	const char *agent_id; /* set by ingest_handle */
};

/* Encoded reply envelopes, in sending order, in the protocol version the agent speaks. */
struct ingest_replies {
	struct buf *msgs;
	size_t n, cap;
	unsigned protocol; /* set by ingest_handle from the message answered */
};

struct ingest;

/* max_batch_bytes is announced in WELCOME. */
struct ingest *ingest_new(struct catalog *cat, unsigned max_batch_bytes);
void ingest_free(struct ingest *ing);
/*
 * Handles one message. 0 when it was handled (replies, possibly none, appended to out);
 * INGEST_E_INVALID when it was not a valid message (logged); a negative errno when the catalog
 * failed (logged; nothing was applied or answered, so the agent will send it again).
 */
int ingest_handle(struct ingest *ing, const struct ingest_peer *peer, const void *data, size_t len,
		  struct ingest_replies *out);
/* Sends one encoded message to the peer with that routing id; 0 when the socket took it. */
typedef int (*ingest_send_fn)(void *ctx, const void *routing_id, size_t routing_id_len, const struct buf *msg);
/*
 * Sends every queued probe command (the catalog's commands table) whose source's agent has a
 * session, and marks what was sent; the rest stay queued until the agent says HELLO. HELLO itself
 * adds to its replies a set_interval for each interval override the agent does not run at. 0, or a
 * negative errno when the catalog failed (logged).
 */
int ingest_send_commands(struct ingest *ing, ingest_send_fn send, void *ctx);
/* Frees the messages; out can be reused. */
void ingest_replies_clear(struct ingest_replies *out);

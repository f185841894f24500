/*
 * The agent's side of the protocol (DESIGN §4): a DEALER socket to the collector, HELLO until
 * WELCOME, the outbox sent in order within a window, acknowledged batches deleted from the outbox,
 * resend from the last acknowledged batch after a NACK or a silence, heartbeats carrying every
 * probe's status, and commands from the collector handed to the caller.
 *
 * ZeroMQ reconnects by itself but drops what was queued to a dead peer without telling us; nothing
 * here relies on a send having arrived: a batch leaves the outbox only when the collector acked it
 * after its own commit.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "source.h"
#include "state.h"

struct publisher;

enum publisher_cmd {
	PUBLISHER_CMD_PROBE_NOW,
	PUBLISHER_CMD_SET_INTERVAL,
	PUBLISHER_CMD_RESYNC,
};

typedef void (*publisher_cmd_cb)(void *ctx, enum publisher_cmd cmd, const char *source, unsigned interval_s);
/* WELCOME arrived: nothing from seq `from` on is at the collector, and batches must not be larger
 * than max_batch_bytes. Called before anything is sent, so the outbox may still be rewritten. */
typedef void (*publisher_welcome_cb)(void *ctx, uint64_t from, size_t max_batch_bytes);

struct publisher_conf {
	const char *endpoint;
	const char *agent_id;
	const struct curve_key *key;     /* the agent's key pair */
	const char *collector_key;       /* the collector's public key, Z85 */
	struct source **sources; /* borrowed, for HELLO and heartbeats */
	size_t nsources;
	publisher_cmd_cb on_command;
	publisher_welcome_cb on_welcome;
	void *ctx;
};

/* -errno with a message in err when the socket cannot be set up (a bad endpoint). */
int publisher_new(const struct publisher_conf *conf, struct state *st, struct publisher **ret_pub, char *err,
		  size_t errlen);
void publisher_free(struct publisher *pub, unsigned linger_ms);
void *publisher_socket(struct publisher *pub);
/* The socket that reports connection events (handshakes refused); poll it and call
 * publisher_events when it is readable. */
void *publisher_monitor(struct publisher *pub);
void publisher_events(struct publisher *pub);
/* Sends what is due: HELLO while not welcomed, outbox batches within the window, resends. */
void publisher_pump(struct publisher *pub, uint64_t now_mono_ms);
/* Reads and handles every waiting message. */
void publisher_recv(struct publisher *pub, uint64_t now_mono_ms);
void publisher_heartbeat(struct publisher *pub);
/* Milliseconds until the publisher needs pump() again. */
uint64_t publisher_timeout(const struct publisher *pub, uint64_t now_mono_ms);
/* True when the collector has acknowledged everything in the outbox. */
bool publisher_drained(struct publisher *pub);
/* The collector's advertised batch size limit, or 0 before WELCOME. */
size_t publisher_max_batch(const struct publisher *pub);
/* The first outbox seq that was never handed to the socket (so the collector cannot have it). */
uint64_t publisher_unsent_from(const struct publisher *pub);

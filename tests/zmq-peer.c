/*
 * zmq-peer: a scriptable client for the collector's port, for the security suites (live_curve.py).
 * It plays the agents and attackers a test needs: with or without CURVE, with any key, sending
 * well-formed, spoofed, malformed, truncated, oversized or replayed messages, and prints what comes
 * back, one line per reply.
 *
 *     zmq-peer ENDPOINT [--server-key FILE] [--key FILE] STEP...
 *
 *     --server-key FILE  the collector's .pub (else: no CURVE, a plain-text client)
 *     --key FILE         this client's .key (else, with --server-key: a fresh, unenrolled key)
 *     STEP               hello:AGENT      HELLO as AGENT (incarnation 42, no sources)
 *                        heartbeat:AGENT  HEARTBEAT as AGENT
 *                        garbage:N        N random bytes
 *                        truncated        the first half of a HELLO
 *                        big:N            N zero bytes
 *                        again            the previous message once more
 *                        wait:MS          print the replies that arrive within MS milliseconds
 *
 * Replies are printed as "WELCOME expected=N protocol=N", "REJECT reason", "ACK n", "NACK n",
 * "RESYNC source", "COMMAND", or "UNDECODABLE". Exit 0, or 2 for bad usage.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "buf.h"
#include "keys.h"
#include "timeutil.h"
#include "wire.h"

static int usage(void)
{
	fputs("usage: zmq-peer ENDPOINT [--server-key FILE] [--key FILE] STEP...\n", stderr);
	return 2;
}

static void encode_hello(const char *agent, struct buf *out)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Hello h = PROSPECTOR__HELLO__INIT;

	h.agent_id = (char *)agent;
	h.incarnation = 42;
	h.version = "zmq-peer";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	wire_encode_envelope(&env, out);
}

static void encode_heartbeat(const char *agent, struct buf *out)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Heartbeat hb = PROSPECTOR__HEARTBEAT__INIT;

	hb.agent_id = (char *)agent;
	hb.incarnation = 42;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	wire_encode_envelope(&env, out);
}

static void print_reply(const void *data, size_t len)
{
	struct wire_msg m;

	if (wire_decode(data, len, &m) != 0) {
		printf("UNDECODABLE\n");
		return;
	}
	switch (m.env->body_case) {
	case PROSPECTOR__ENVELOPE__BODY_WELCOME:
		printf("WELCOME expected=%llu protocol=%u\n", (unsigned long long)m.env->welcome->expected_seq,
		       m.env->welcome->has_protocol ? m.env->welcome->protocol : 1);
		break;
	case PROSPECTOR__ENVELOPE__BODY_REJECT: printf("REJECT %s\n", m.env->reject->reason); break;
	case PROSPECTOR__ENVELOPE__BODY_ACK: printf("ACK %llu\n", (unsigned long long)m.env->ack->last_applied_seq); break;
	case PROSPECTOR__ENVELOPE__BODY_NACK: printf("NACK %llu\n", (unsigned long long)m.env->nack->expected_seq); break;
	case PROSPECTOR__ENVELOPE__BODY_RESYNC: printf("RESYNC %s\n", m.env->resync->source); break;
	default: printf("COMMAND\n"); break;
	}
	wire_msg_clear(&m);
}

static void wait_replies(void *sock, long ms)
{
	uint64_t end = time_mono_ms() + (uint64_t)ms;
	zmq_pollitem_t item = { .socket = sock, .events = ZMQ_POLLIN };

	for (uint64_t now = time_mono_ms(); now < end; now = time_mono_ms()) {
		zmq_msg_t msg;

		if (zmq_poll(&item, 1, (long)(end - now)) <= 0)
			continue;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) >= 0)
			print_reply(zmq_msg_data(&msg), zmq_msg_size(&msg));
		zmq_msg_close(&msg);
	}
	fflush(stdout);
}

/* Builds the message of one step into msg; 1 when the step sends nothing, -1 when it is unknown. */
static int build_step(void *sock, const char *step, struct buf *msg)
{
	const char *arg = strchr(step, ':') ? strchr(step, ':') + 1 : "";

	if (strncmp(step, "wait:", 5) == 0) {
		wait_replies(sock, atol(arg));
		return 1;
	}
	if (strcmp(step, "again") == 0)
		return msg->len ? 0 : -1;
	buf_reset(msg);
	if (strncmp(step, "hello:", 6) == 0) {
		encode_hello(arg, msg);
	} else if (strncmp(step, "heartbeat:", 10) == 0) {
		encode_heartbeat(arg, msg);
	} else if (strncmp(step, "garbage:", 8) == 0 || strncmp(step, "big:", 4) == 0) {
		size_t n = (size_t)atol(arg);
		char *b = calloc(1, n ? n : 1);

		if (step[0] == 'g')
			randombytes_buf(b, n);
		buf_add(msg, b, n);
		free(b);
	} else if (strcmp(step, "truncated") == 0) {
		encode_hello("truncated-agent", msg);
		msg->len /= 2;
	} else {
		return -1;
	}
	return 0;
}

static int set_curve(void *sock, const char *server_key_file, const char *key_file)
{
	char server[KEY_Z85_LEN + 1], err[512];
	struct curve_key k;

	if (!server_key_file)
		return 0;
	if (keys_load_public(server_key_file, server, err, sizeof(err)) != 0 ||
	    (key_file ? keys_load_secret(key_file, &k, err, sizeof(err)) : keys_generate(&k)) != 0) {
		fprintf(stderr, "zmq-peer: %s\n", err);
		return -1;
	}
	zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, KEY_Z85_LEN);
	zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k.public_key, KEY_Z85_LEN);
	zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k.secret_key, KEY_Z85_LEN);
	return 0;
}

int main(int argc, char **argv)
{
	const char *server_key = NULL, *key = NULL;
	void *ctx, *sock;
	struct buf msg;
	int i = 2, zero = 0, r = 0;

	if (argc < 3)
		return usage();
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--server-key") == 0)
			server_key = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0)
			key = argv[i + 1];
		else
			return usage();
	}
	ctx = zmq_ctx_new();
	sock = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (set_curve(sock, server_key, key) < 0 || zmq_connect(sock, argv[1]) != 0)
		return 1;
	buf_init(&msg);
	for (; i < argc && r == 0; i++) {
		int s = build_step(sock, argv[i], &msg);

		if (s < 0) {
			fprintf(stderr, "zmq-peer: unknown step '%s'\n", argv[i]);
			r = 2;
		} else if (s == 0) {
			zmq_send(sock, msg.data, msg.len, 0);
		}
	}
	buf_free(&msg);
	zmq_close(sock);
	zmq_ctx_term(ctx);
	return r;
}

#include "publisher.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "buf.h"
#include "log.h"
#include "timeutil.h"
#include "wire.h"
#include "xmalloc.h"

/* HELLO sent but unanswered: say it again after 3 s, doubling up to a minute, ±20 %, so that a
 * fleet does not hammer a collector that is up but overloaded in step. While there is no connection
 * (ZMQ_IMMEDIATE refuses the send) HELLO is tried every half second: it costs nothing, and it goes
 * out as soon as ZeroMQ has reconnected. */
#define HELLO_RETRY_MS 3000
#define HELLO_RETRY_MAX_MS 60000
#define HELLO_UNCONNECTED_MS 500
/* ZeroMQ's own reconnect: from about a second (jittered per agent), doubling up to 30 s. */
#define RECONNECT_MS 1000
#define RECONNECT_MAX_MS 30000
#define RESEND_AFTER_MS 15000 /* no progress on an unacked batch for this long: start over with HELLO */
#define WINDOW 8              /* batches in flight */
/* A batch lost in transit makes every later one of the window come back with the same NACK: the
 * first rewinds, the others within this long would only send the window again and again. */
#define NACK_HOLDOFF_MS 2000

struct publisher {
	struct publisher_conf conf;
	struct state *st;
	void *zctx;
	void *sock;
	void *monitor;         /* PAIR receiving the DEALER's handshake events */
	uint64_t refused_at;   /* when a refused handshake was last logged */
	bool welcomed;
	uint64_t hello_at;     /* when HELLO was last sent */
	uint64_t hello_wait;   /* how long to wait for WELCOME before saying HELLO again */
	uint64_t hello_backoff; /* the unjittered wait after the last HELLO that went out */
	uint64_t nack_seq, nack_at; /* the last NACK we rewound for, and when */
	uint64_t sent_upto;    /* highest seq sent since the last WELCOME */
	uint64_t progress_at;  /* when the last ACK moved, or the window was last (re)started */
	uint64_t sent_hwm;     /* highest seq ever handed to the socket, by this process or (for all we
				* know) the one before it: rows above it were never sent */
	size_t max_batch;
	unsigned protocol;     /* agreed in WELCOME */
};

static int publisher_send(struct publisher *pub, Prospector__Envelope *env)
{
	struct buf b;
	int r;

	buf_init(&b);
	wire_encode_envelope_v(env, pub->welcomed ? pub->protocol : WIRE_PROTOCOL, &b);
	r = zmq_send(pub->sock, b.data, b.len, ZMQ_DONTWAIT);
	buf_free(&b);
	return r < 0 ? -errno : 0;
}

static uint64_t publisher_jitter(uint64_t ms)
{
	return ms - ms / 5 + randombytes_uniform((uint32_t)(ms * 2 / 5 + 1));
}

/* ZMTP heartbeats find a connection that died without a FIN (a cut cable, a dropped NAT entry)
 * and make ZeroMQ reconnect; without them a half-open TCP connection swallows sends for as long as
 * the kernel keeps retransmitting. */
#define ZMTP_HEARTBEAT_MS 5000
#define ZMTP_HEARTBEAT_TIMEOUT_MS 20000

static int publisher_set_options(struct publisher *pub)
{
	int zero = 0, one = 1, hwm = 1000, ivl = ZMTP_HEARTBEAT_MS, timeout = ZMTP_HEARTBEAT_TIMEOUT_MS;
	int reconnect = (int)publisher_jitter(RECONNECT_MS), reconnect_max = RECONNECT_MAX_MS;

	if (zmq_setsockopt(pub->sock, ZMQ_CURVE_SERVERKEY, pub->conf.collector_key, KEY_Z85_LEN) < 0 ||
	    zmq_setsockopt(pub->sock, ZMQ_CURVE_PUBLICKEY, pub->conf.key->public_key, KEY_Z85_LEN) < 0 ||
	    zmq_setsockopt(pub->sock, ZMQ_CURVE_SECRETKEY, pub->conf.key->secret_key, KEY_Z85_LEN) < 0 ||
	    zmq_setsockopt(pub->sock, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
	    zmq_setsockopt(pub->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) < 0 ||
	    zmq_setsockopt(pub->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) < 0 ||
	    zmq_setsockopt(pub->sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl)) < 0 ||
	    zmq_setsockopt(pub->sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof(timeout)) < 0 ||
	    zmq_setsockopt(pub->sock, ZMQ_RECONNECT_IVL, &reconnect, sizeof(reconnect)) < 0 ||
	    zmq_setsockopt(pub->sock, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof(reconnect_max)) < 0)
		return -errno;
	return 0;
}

static int publisher_monitor_open(struct publisher *pub);

int publisher_new(const struct publisher_conf *conf, struct state *st, struct publisher **ret_pub, char *err,
		  size_t errlen)
{
	struct publisher *pub = xcalloc(1, sizeof(*pub));
	int r;

	pub->conf = *conf;
	pub->st = st;
	pub->sent_hwm = state_peek_next_seq(st) - 1; /* a previous process may have sent any of them */
	pub->zctx = zmq_ctx_new();
	pub->sock = zmq_socket(pub->zctx, ZMQ_DEALER);
	r = pub->sock ? publisher_set_options(pub) : -errno;
	if (r == 0)
		r = publisher_monitor_open(pub);
	if (r == 0 && zmq_connect(pub->sock, conf->endpoint) < 0)
		r = -errno;
	if (r < 0) {
		snprintf(err, errlen, "collector endpoint '%s': %s", conf->endpoint, zmq_strerror(-r));
		publisher_free(pub, 0);
		return r;
	}
	*ret_pub = pub;
	return 0;
}

void publisher_free(struct publisher *pub, unsigned linger_ms)
{
	int linger = (int)linger_ms;

	if (!pub)
		return;
	if (pub->sock) {
		zmq_socket_monitor(pub->sock, NULL, 0);
		zmq_setsockopt(pub->sock, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_close(pub->sock);
	}
	if (pub->monitor)
		zmq_close(pub->monitor);
	zmq_ctx_term(pub->zctx);
	free(pub);
}

void *publisher_socket(struct publisher *pub)
{
	return pub->sock;
}

void *publisher_monitor(struct publisher *pub)
{
	return pub->monitor;
}

/* A refused handshake is the one failure ZeroMQ would otherwise keep to itself: the collector does
 * not know our key (not enrolled, revoked) or we hold the wrong collector key. */
#define MONITOR_EVENTS (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | \
			ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
#define REFUSED_LOG_EVERY_MS 60000

static int publisher_monitor_open(struct publisher *pub)
{
	char endpoint[64];
	int zero = 0;

	snprintf(endpoint, sizeof(endpoint), "inproc://publisher-monitor-%p", (void *)pub);
	if (zmq_socket_monitor(pub->sock, endpoint, MONITOR_EVENTS) < 0)
		return -errno;
	pub->monitor = zmq_socket(pub->zctx, ZMQ_PAIR);
	if (!pub->monitor || zmq_setsockopt(pub->monitor, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
	    zmq_connect(pub->monitor, endpoint) < 0)
		return -errno;
	return 0;
}

static void publisher_event(struct publisher *pub, uint16_t event, uint32_t value)
{
	uint64_t now = time_mono_ms();

	if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
		if (pub->refused_at)
			log_info("collector %s accepted our key", pub->conf.endpoint);
		pub->refused_at = 0;
		return;
	}
	if (pub->refused_at && now - pub->refused_at < REFUSED_LOG_EVERY_MS)
		return;
	pub->refused_at = now;
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
		log_warnx("collector %s refused our key (status %u): is this agent enrolled there, with the public "
			  "key %s, and not revoked?", pub->conf.endpoint, value, pub->conf.key->public_key);
	else
		log_warnx("the CURVE handshake with %s failed: is collector_public_key the collector's key, and does "
			  "it speak CURVE?", pub->conf.endpoint);
}

/* Each event is two frames: 6 bytes (event number, value) and the endpoint. */
void publisher_events(struct publisher *pub)
{
	zmq_msg_t frame;

	zmq_msg_init(&frame);
	while (zmq_msg_recv(&frame, pub->monitor, ZMQ_DONTWAIT) >= 0) {
		uint16_t event = 0;
		uint32_t value = 0;

		if (zmq_msg_size(&frame) >= 6) {
			memcpy(&event, zmq_msg_data(&frame), 2);
			memcpy(&value, (char *)zmq_msg_data(&frame) + 2, 4);
		}
		while (zmq_msg_more(&frame) && zmq_msg_recv(&frame, pub->monitor, ZMQ_DONTWAIT) >= 0)
			;
		publisher_event(pub, event, value);
	}
	zmq_msg_close(&frame);
}

size_t publisher_max_batch(const struct publisher *pub)
{
	return pub->welcomed ? pub->max_batch : 0;
}

uint64_t publisher_unsent_from(const struct publisher *pub)
{
	uint64_t acked = state_last_acked(pub->st);

	return (pub->sent_hwm > acked ? pub->sent_hwm : acked) + 1;
}

static Prospector__SourceInfo *publisher_source_info(const struct source *src)
{
	Prospector__SourceInfo *si = xmalloc(sizeof(*si));

	prospector__source_info__init(si);
	si->name = src->conf->name;
	si->driver = src->conf->driver;
	si->department = src->conf->department;
	si->system = src->conf->system;
	si->has_interval_s = true;
	si->interval_s = src->interval;
	return si;
}

static void publisher_hello(struct publisher *pub, uint64_t now)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Hello hello = PROSPECTOR__HELLO__INIT;
	char host[256] = "";
	bool sent;

	gethostname(host, sizeof(host) - 1);
	hello.agent_id = (char *)pub->conf.agent_id;
	hello.incarnation = state_incarnation(pub->st);
	hello.last_acked_seq = state_last_acked(pub->st);
	hello.version = PROSPECTOR_VERSION;
	hello.hostname = host;
	hello.n_sources = pub->conf.nsources;
	hello.sources = xcalloc(pub->conf.nsources, sizeof(*hello.sources));
	for (size_t i = 0; i < pub->conf.nsources; i++)
		hello.sources[i] = publisher_source_info(pub->conf.sources[i]);
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	sent = publisher_send(pub, &env) == 0;
	for (size_t i = 0; i < hello.n_sources; i++)
		free(hello.sources[i]);
	free(hello.sources);
	pub->hello_at = now;
	if (!sent) {
		pub->hello_wait = HELLO_UNCONNECTED_MS;
		return;
	}
	pub->hello_backoff = pub->hello_backoff ? pub->hello_backoff * 2 : HELLO_RETRY_MS;
	if (pub->hello_backoff > HELLO_RETRY_MAX_MS)
		pub->hello_backoff = HELLO_RETRY_MAX_MS;
	pub->hello_wait = publisher_jitter(pub->hello_backoff);
}

static int publisher_send_batch(void *ctx, uint64_t seq, const void *data, size_t len)
{
	struct publisher *pub = ctx;

	if (zmq_send(pub->sock, data, len, ZMQ_DONTWAIT) < 0)
		return -errno; /* not connected yet, or the queue is full: try again on the next pump */
	pub->sent_upto = seq;
	if (pub->sent_hwm < seq)
		pub->sent_hwm = seq;
	return 0;
}

void publisher_pump(struct publisher *pub, uint64_t now)
{
	uint64_t acked = state_last_acked(pub->st);
	uint64_t inflight = pub->sent_upto > acked ? pub->sent_upto - acked : 0;

	if (!pub->welcomed) {
		if (!pub->hello_at || now - pub->hello_at >= pub->hello_wait)
			publisher_hello(pub, now);
		return;
	}
	if (inflight && now - pub->progress_at >= RESEND_AFTER_MS) {
		log_info("collector silent for %us with %llu batches unacknowledged; reconnecting",
			 RESEND_AFTER_MS / 1000, (unsigned long long)inflight);
		pub->welcomed = false;
		publisher_hello(pub, now);
		return;
	}
	if (inflight < WINDOW) {
		if (inflight == 0)
			pub->progress_at = now;
		state_outbox_each(pub->st, pub->sent_upto > acked ? pub->sent_upto : acked, WINDOW - inflight,
				  publisher_send_batch, pub);
	}
}

/* Everything up to seq is durably at the collector. */
static void publisher_acked(struct publisher *pub, uint64_t seq, uint64_t now)
{
	if (seq > state_last_acked(pub->st)) {
		if (state_outbox_ack(pub->st, seq) < 0)
			log_warnx("%s", state_error(pub->st));
		pub->progress_at = now;
	}
	if (pub->sent_upto < seq)
		pub->sent_upto = seq;
}

static void publisher_on_welcome(struct publisher *pub, const Prospector__Envelope *env, uint64_t now)
{
	const Prospector__Welcome *w = env->welcome;
	uint64_t expected = w->expected_seq;

	pub->protocol = w->has_protocol ? wire_protocol_agree(w->protocol) : WIRE_PROTOCOL_MIN;
	if (!pub->welcomed)
		log_info("collector %s welcomed us (protocol %u), expecting batch %llu", pub->conf.endpoint, pub->protocol,
			 (unsigned long long)expected);
	pub->welcomed = true;
	pub->hello_backoff = 0;
	pub->max_batch = w->max_batch_bytes;
	if (expected > 0)
		publisher_acked(pub, expected - 1, now);
	/* Resend from what the collector expects: what we sent before may have been lost. Everything
	 * from there on is known not to be applied, so it may be rewritten before it goes out. */
	pub->sent_upto = expected > 0 ? expected - 1 : 0;
	if (pub->sent_upto < state_last_acked(pub->st))
		pub->sent_upto = state_last_acked(pub->st);
	pub->sent_hwm = pub->sent_upto;
	pub->progress_at = now;
	if (pub->conf.on_welcome)
		pub->conf.on_welcome(pub->conf.ctx, pub->sent_upto + 1, pub->max_batch);
}

static void publisher_on_nack(struct publisher *pub, const Prospector__Envelope *env, uint64_t now)
{
	const Prospector__Nack *n = env->nack;

	if (n->incarnation != state_incarnation(pub->st))
		return;
	if (n->expected_seq == pub->nack_seq && now - pub->nack_at < NACK_HOLDOFF_MS)
		return;
	pub->nack_seq = n->expected_seq;
	pub->nack_at = now;
	log_info("collector expects batch %llu%s%s; resending", (unsigned long long)n->expected_seq,
		 n->reason ? ": " : "", n->reason ? n->reason : "");
	if (n->expected_seq > 0)
		publisher_acked(pub, n->expected_seq - 1, now);
	pub->sent_upto = state_last_acked(pub->st);
}

static void publisher_on_command(struct publisher *pub, const Prospector__Envelope *env, uint64_t now)
{
	static const enum publisher_cmd cmds[] = {
		[PROSPECTOR__COMMAND_KIND__CMD_PROBE_NOW] = PUBLISHER_CMD_PROBE_NOW,
		[PROSPECTOR__COMMAND_KIND__CMD_SET_INTERVAL] = PUBLISHER_CMD_SET_INTERVAL,
		[PROSPECTOR__COMMAND_KIND__CMD_RESYNC] = PUBLISHER_CMD_RESYNC,
	};

	const Prospector__Command *c = env->command;

	(void)now;
	if (pub->conf.on_command && (size_t)c->kind < sizeof(cmds) / sizeof(cmds[0]))
		pub->conf.on_command(pub->conf.ctx, cmds[c->kind], c->source, c->has_interval_s ? c->interval_s : 0);
}

static void publisher_on_ack(struct publisher *pub, const Prospector__Envelope *env, uint64_t now)
{
	if (env->ack->incarnation == state_incarnation(pub->st))
		publisher_acked(pub, env->ack->last_applied_seq, now);
}

static void publisher_on_reject(struct publisher *pub, const Prospector__Envelope *env, uint64_t now)
{
	(void)now;
	log_warnx("collector %s refused us: %s", pub->conf.endpoint, env->reject->reason);
	pub->welcomed = false;
}

static void publisher_on_resync(struct publisher *pub, const Prospector__Envelope *env, uint64_t now)
{
	(void)now;
	if (pub->conf.on_command)
		pub->conf.on_command(pub->conf.ctx, PUBLISHER_CMD_RESYNC, env->resync->source, 0);
}

/* What the collector may send us; anything else (an agent's message echoed back, say) is ignored. */
static void (*const handlers[])(struct publisher *, const Prospector__Envelope *, uint64_t) = {
	[PROSPECTOR__ENVELOPE__BODY_WELCOME] = publisher_on_welcome,
	[PROSPECTOR__ENVELOPE__BODY_ACK] = publisher_on_ack,
	[PROSPECTOR__ENVELOPE__BODY_NACK] = publisher_on_nack,
	[PROSPECTOR__ENVELOPE__BODY_REJECT] = publisher_on_reject,
	[PROSPECTOR__ENVELOPE__BODY_RESYNC] = publisher_on_resync,
	[PROSPECTOR__ENVELOPE__BODY_COMMAND] = publisher_on_command,
};

static void publisher_handle(struct publisher *pub, const Prospector__Envelope *env, uint64_t now)
{
	size_t i = (size_t)env->body_case;

	if (i < sizeof(handlers) / sizeof(handlers[0]) && handlers[i])
		handlers[i](pub, env, now);
	else
		log_warnx("collector sent an unexpected message (body %zu); ignored", i);
}

void publisher_recv(struct publisher *pub, uint64_t now)
{
	zmq_msg_t msg;

	zmq_msg_init(&msg);
	while (zmq_msg_recv(&msg, pub->sock, ZMQ_DONTWAIT) >= 0) {
		struct wire_msg wm;

		if (wire_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &wm) == 0)
			publisher_handle(pub, wm.env, now);
		else
			log_warnx("undecodable message from the collector: %s", wm.error);
		wire_msg_clear(&wm);
	}
	zmq_msg_close(&msg);
}

static Prospector__ProbeStatus *publisher_probe(const struct source *src)
{
	Prospector__ProbeStatus *ps = xmalloc(sizeof(*ps));
	const struct source_status *s = &src->status;

	prospector__probe_status__init(ps);
	ps->source = src->conf->name;
	ps->has_interval_s = true;
	ps->interval_s = src->interval;
	ps->has_next_run = src->next_run != UINT64_MAX; /* --once schedules nothing */
	ps->next_run = time_now_ms() + (src->next_run > time_mono_ms() ? src->next_run - time_mono_ms() : 0);
	if (!s->ran)
		return ps;
	ps->has_last_start = ps->has_last_end = ps->has_duration_ms = ps->has_ok = true;
	ps->last_start = s->last_start;
	ps->last_end = s->last_end;
	ps->duration_ms = s->duration_ms;
	ps->ok = s->ok;
	ps->error = s->ok ? NULL : (char *)s->error;
	ps->warning = s->ok && s->warning[0] ? (char *)s->warning : NULL;
	if (s->ok) {
		ps->has_objects = ps->has_root_hash = true;
		ps->objects = s->objects;
		ps->root_hash.data = (uint8_t *)s->root;
		ps->root_hash.len = sizeof(s->root);
	}
	return ps;
}

/* Resident set size from /proc, for the probe status. */
static uint64_t publisher_rss(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long long size = 0, resident = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

void publisher_heartbeat(struct publisher *pub)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Heartbeat hb = PROSPECTOR__HEARTBEAT__INIT;
	uint64_t batches = 0, bytes = 0;

	if (!pub->welcomed)
		return;
	hb.agent_id = (char *)pub->conf.agent_id;
	hb.incarnation = state_incarnation(pub->st);
	hb.n_probes = pub->conf.nsources;
	hb.probes = xcalloc(pub->conf.nsources, sizeof(*hb.probes));
	for (size_t i = 0; i < pub->conf.nsources; i++)
		hb.probes[i] = publisher_probe(pub->conf.sources[i]);
	state_outbox_depth(pub->st, &batches, &bytes);
	hb.has_outbox_depth = hb.has_rss_bytes = true;
	hb.outbox_depth = batches;
	hb.rss_bytes = publisher_rss();
	hb.version = PROSPECTOR_VERSION;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	publisher_send(pub, &env);
	for (size_t i = 0; i < hb.n_probes; i++)
		free(hb.probes[i]);
	free(hb.probes);
}

uint64_t publisher_timeout(const struct publisher *pub, uint64_t now)
{
	uint64_t acked = state_last_acked(pub->st);

	if (!pub->welcomed)
		return pub->hello_at + pub->hello_wait > now ? pub->hello_at + pub->hello_wait - now : 0;
	if (pub->sent_upto > acked)
		return pub->progress_at + RESEND_AFTER_MS > now ? pub->progress_at + RESEND_AFTER_MS - now : 0;
	return 1000; /* new outbox rows are pumped at the latest a second after they appear */
}

bool publisher_drained(struct publisher *pub)
{
	uint64_t batches = 1, bytes = 0;

	return pub->welcomed && state_outbox_depth(pub->st, &batches, &bytes) == 0 && batches == 0;
}

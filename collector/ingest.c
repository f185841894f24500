#include "ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sha256.h"
#include "timeutil.h"
#include "wire.h"
#include "xmalloc.h"

/* After the catalog failed to store something (a full disk), batches that arrive out of order are
 * dropped without a NACK for this long: the agent's own resend timer paces the retries, instead of
 * every batch of its window asking for the whole window again. */
#define INGEST_STORAGE_QUIET_MS 10000
/* Storage failures: the first is logged, then one line per this many, and the recovery. */
#define INGEST_STORAGE_LOG_EVERY 100

/* An agent whose messages fail validation this many times within QUARANTINE_WINDOW_MS is ignored
 * for QUARANTINE_MS: a broken or hostile agent must not keep the collector busy. */
#define QUARANTINE_AFTER 20
#define QUARANTINE_WINDOW_MS (10 * 60 * 1000)
#define QUARANTINE_MS (10 * 60 * 1000)

/* Invalid messages: the first few are logged each, then one line per this many. */
#define INGEST_INVALID_LOG_FIRST 10
#define INGEST_INVALID_LOG_EVERY 1000

/* A peer that said HELLO: its routing id and who it said (or, later, was proven) to be. */
struct session {
	unsigned char *rid;
	size_t rid_len;
	char *agent_id;
	uint64_t incarnation;
	unsigned protocol; /* agreed at HELLO: what the agent understands */
};

/* An agent that sent invalid messages. */
struct offender {
	char *agent_id;
	unsigned count;          /* invalid messages in the current window */
	uint64_t window_start;   /* time_now_ms */
	uint64_t quarantined_until;
};

/* A source's root hash that the catalog was last found to agree with: checked again only when the
 * agent reports another one, so that an idle fleet costs no catalog scans. */
struct verified {
	char *source;
	unsigned char root[32];
};

struct ingest {
	struct catalog *cat;
	unsigned max_batch_bytes;
	struct session *sessions;
	size_t nsessions, cap;
	uint64_t invalid;
	struct verified *verified;
	size_t nverified, verified_cap;
	int64_t verified_version; /* catalog_data_version when the roots were verified */
	struct offender *offenders;
	size_t noffenders, offenders_cap;
	uint64_t storage_failed_at; /* time_now_ms of the last storage failure; 0 when it works */
	uint64_t storage_failures;  /* in a row */
};

/* The result of applying one batch, beyond success. */
struct batch_result {
	size_t nchanges;
	const char *resync; /* non-NULL: ask the agent for a full snapshot, for this reason */
};

struct ingest *ingest_new(struct catalog *cat, unsigned max_batch_bytes)
{
	struct ingest *ing = xcalloc(1, sizeof(*ing));

	ing->cat = cat;
	ing->max_batch_bytes = max_batch_bytes;
	return ing;
}

static void session_clear(struct session *s)
{
	free(s->rid);
	free(s->agent_id);
}

void ingest_free(struct ingest *ing)
{
	if (!ing)
		return;
	for (size_t i = 0; i < ing->nsessions; i++)
		session_clear(&ing->sessions[i]);
	for (size_t i = 0; i < ing->nverified; i++)
		free(ing->verified[i].source);
	free(ing->verified);
	for (size_t i = 0; i < ing->noffenders; i++)
		free(ing->offenders[i].agent_id);
	free(ing->offenders);
	free(ing->sessions);
	free(ing);
}

void ingest_replies_clear(struct ingest_replies *out)
{
	for (size_t i = 0; i < out->n; i++)
		buf_free(&out->msgs[i]);
	free(out->msgs);
	memset(out, 0, sizeof(*out));
}

static void ingest_invalid(struct ingest *ing, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ingest_invalid(struct ingest *ing, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	ing->invalid++;
	if (ing->invalid > INGEST_INVALID_LOG_FIRST && ing->invalid % INGEST_INVALID_LOG_EVERY != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("invalid message (%" PRIu64 " so far): %s", ing->invalid, msg);
}

/* --- identity and sessions ------------------------------------------------------------------ */

static void reply_reject(struct ingest_replies *out, const char *reason);

/* Who the peer is: the agent its key is enrolled for (resolved by ingest_handle), else the claim. */
static const char *ingest_identity(const struct ingest_peer *peer, const char *claimed)
{
	return peer->agent_id ? peer->agent_id : claimed;
}

/* A HELLO or heartbeat naming another agent than its key's: a department host impersonating
 * another. Refused and logged. */
static bool ingest_spoofed(const struct ingest_peer *peer, const char *claimed, const char *what,
			   struct ingest_replies *out)
{
	if (!peer->agent_id || strcmp(peer->agent_id, claimed) == 0)
		return false;
	log_warnx("the key of agent %s sent a %s claiming to be agent '%s'; refused", peer->agent_id, what, claimed);
	reply_reject(out, "the agent id does not match the key");
	return true;
}

static struct offender *offender_find(struct ingest *ing, const char *agent_id)
{
	for (size_t i = 0; i < ing->noffenders; i++)
		if (strcmp(ing->offenders[i].agent_id, agent_id) == 0)
			return &ing->offenders[i];
	return NULL;
}

static bool ingest_quarantined(struct ingest *ing, const char *agent_id, uint64_t now)
{
	struct offender *o = agent_id ? offender_find(ing, agent_id) : NULL;

	return o && o->quarantined_until > now;
}

/* Counts an invalid message against its agent; enough of them in a window quarantine it. */
static void ingest_offence(struct ingest *ing, const char *agent_id, uint64_t now)
{
	struct offender *o;

	if (!agent_id)
		return;
	o = offender_find(ing, agent_id);
	if (!o) {
		xgrow(&ing->offenders, &ing->offenders_cap, ing->noffenders + 1, sizeof(*ing->offenders));
		o = &ing->offenders[ing->noffenders++];
		memset(o, 0, sizeof(*o));
		o->agent_id = xstrdup(agent_id);
	}
	if (now - o->window_start > QUARANTINE_WINDOW_MS) {
		o->window_start = now;
		o->count = 0;
	}
	if (++o->count >= QUARANTINE_AFTER) {
		o->quarantined_until = now + QUARANTINE_MS;
		o->count = 0;
		log_warnx("agent %s sent %d invalid messages within %d minutes: ignoring it for %d minutes", agent_id,
			  QUARANTINE_AFTER, QUARANTINE_WINDOW_MS / 60000, QUARANTINE_MS / 60000);
	}
}

/* The agent the peer's key is enrolled for, into buf; INGEST_E_REFUSED when it is no longer
 * (revoked since the handshake), a negative errno when the catalog cannot say. */
static int ingest_resolve(struct ingest *ing, struct ingest_peer *peer, char *buf, size_t len)
{
	int r;

	if (!peer->curve_key)
		return 0;
	r = catalog_key_agent(ing->cat, peer->curve_key, buf, len);
	if (r == CATALOG_E_NOT_FOUND) {
		ingest_invalid(ing, "a message from key %.8s…, which is no longer enrolled: refused", peer->curve_key);
		return INGEST_E_REFUSED;
	}
	if (r)
		return -EIO;
	peer->agent_id = buf;
	return 0;
}

static struct session *session_find(struct ingest *ing, const struct ingest_peer *peer)
{
	for (size_t i = 0; i < ing->nsessions; i++) {
		struct session *s = &ing->sessions[i];

		if (s->rid_len == peer->routing_id_len && memcmp(s->rid, peer->routing_id, s->rid_len) == 0)
			return s;
	}
	return NULL;
}

/* One session per agent: a HELLO from a new connection replaces the agent's old one, so the table
 * never holds more sessions than there are agents. */
static void session_open(struct ingest *ing, const struct ingest_peer *peer, const char *agent_id,
			 uint64_t incarnation, unsigned protocol)
{
	struct session *s;

	for (size_t i = 0; i < ing->nsessions; i++) {
		s = &ing->sessions[i];
		if (strcmp(s->agent_id, agent_id) == 0 ||
		    (s->rid_len == peer->routing_id_len && memcmp(s->rid, peer->routing_id, s->rid_len) == 0)) {
			session_clear(s);
			ing->sessions[i--] = ing->sessions[--ing->nsessions];
		}
	}
	xgrow(&ing->sessions, &ing->cap, ing->nsessions + 1, sizeof(*ing->sessions));
	s = &ing->sessions[ing->nsessions++];
	s->rid = xmalloc(peer->routing_id_len ? peer->routing_id_len : 1);
	memcpy(s->rid, peer->routing_id, peer->routing_id_len);
	s->rid_len = peer->routing_id_len;
	s->agent_id = xstrdup(agent_id);
	s->incarnation = incarnation;
	s->protocol = protocol;
}

/* --- replies -------------------------------------------------------------------------------- */

/* Replies go out in the version of the message they answer, which the agent speaks. */
static void reply(struct ingest_replies *out, Prospector__Envelope *env)
{
	xgrow(&out->msgs, &out->cap, out->n + 1, sizeof(*out->msgs));
	buf_init(&out->msgs[out->n]);
	wire_encode_envelope_v(env, out->protocol ? out->protocol : WIRE_PROTOCOL, &out->msgs[out->n++]);
}

static void reply_welcome(struct ingest_replies *out, uint64_t expected_seq, unsigned max_batch_bytes)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Welcome w = PROSPECTOR__WELCOME__INIT;

	w.expected_seq = expected_seq;
	w.max_batch_bytes = max_batch_bytes;
	w.has_protocol = true;
	w.protocol = out->protocol ? out->protocol : WIRE_PROTOCOL;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_WELCOME;
	env.welcome = &w;
	reply(out, &env);
}

static void reply_reject(struct ingest_replies *out, const char *reason)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Reject rj = PROSPECTOR__REJECT__INIT;

	rj.reason = (char *)reason;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_REJECT;
	env.reject = &rj;
	reply(out, &env);
}

static void reply_ack(struct ingest_replies *out, uint64_t incarnation, uint64_t seq)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Ack ack = PROSPECTOR__ACK__INIT;

	ack.incarnation = incarnation;
	ack.last_applied_seq = seq;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_ACK;
	env.ack = &ack;
	reply(out, &env);
}

static void reply_nack(struct ingest_replies *out, uint64_t incarnation, uint64_t expected, const char *reason)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Nack nack = PROSPECTOR__NACK__INIT;

	nack.incarnation = incarnation;
	nack.expected_seq = expected;
	nack.reason = (char *)reason;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_NACK;
	env.nack = &nack;
	reply(out, &env);
}

static void encode_command(struct buf *out, const struct catalog_command *cmd, unsigned protocol)
{
	static const Prospector__CommandKind kinds[] = {
		[CATALOG_CMD_PROBE_NOW] = PROSPECTOR__COMMAND_KIND__CMD_PROBE_NOW,
		[CATALOG_CMD_SET_INTERVAL] = PROSPECTOR__COMMAND_KIND__CMD_SET_INTERVAL,
	};
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Command c = PROSPECTOR__COMMAND__INIT;

	c.kind = kinds[cmd->kind];
	c.source = (char *)cmd->source;
	if (cmd->kind == CATALOG_CMD_SET_INTERVAL && cmd->interval_s > 0 && cmd->interval_s <= UINT32_MAX) {
		c.has_interval_s = true;
		c.interval_s = (uint32_t)cmd->interval_s;
	}
	env.body_case = PROSPECTOR__ENVELOPE__BODY_COMMAND;
	env.command = &c;
	buf_init(out);
	wire_encode_envelope_v(&env, protocol, out);
}

static void reply_resync(struct ingest_replies *out, const char *source, const char *reason)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Resync rs = PROSPECTOR__RESYNC__INIT;

	rs.source = (char *)source;
	rs.reason = (char *)reason;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_RESYNC;
	env.resync = &rs;
	reply(out, &env);
}

/* --- HELLO ---------------------------------------------------------------------------------- */

static struct catalog_source source_from_info(const Prospector__SourceInfo *si)
{
	struct catalog_source s = {
		.name = si->name, .driver = si->driver, .department = si->department, .system = si->system,
		.interval_s = si->has_interval_s ? (int64_t)si->interval_s : -1,
	};

	return s;
}

/*
 * *ret_lost: the agent holds acknowledgements for batches of this incarnation that the catalog does
 * not have (it was restored from a backup). The agent dropped them from its outbox and cannot send
 * them again, so the sequence moves on to where the agent is, and a resync repairs the content.
 */
static int hello_record(struct ingest *ing, const char *id, const Prospector__Hello *h, uint64_t *ret_last,
			bool *ret_lost)
{
	uint64_t inc = 0, prev = 0, now = time_now_ms();
	int r = catalog_agent_lookup(ing->cat, id, &inc, &prev);

	if (r < 0)
		return r;
	r = catalog_agent_hello(ing->cat, id, h->incarnation, h->version, h->hostname, now, ret_last);
	*ret_lost = r == 0 && inc == h->incarnation && h->last_acked_seq > *ret_last;
	if (*ret_lost) {
		log_warnx("agent %s has acknowledgements up to batch %" PRIu64 " but the catalog only up to %" PRIu64
			  "; skipping ahead and asking for a resync of its sources", id, h->last_acked_seq, *ret_last);
		*ret_last = h->last_acked_seq;
		r = catalog_agent_set_seq(ing->cat, id, *ret_last, now);
	}

	if (r == 0)
		r = catalog_agent_unlist_sources(ing->cat, id);
	for (size_t i = 0; r == 0 && i < h->n_sources; i++) {
		struct catalog_source s = source_from_info(h->sources[i]);

		r = catalog_source_upsert(ing->cat, id, &s);
	}
	return r;
}

/* A storage failure: nothing was applied, nothing is answered, the agent will try again. */
static int ingest_storage_failed(struct ingest *ing, int r, const char *what)
{
	ing->storage_failures++;
	ing->storage_failed_at = time_now_ms();
	if (ing->storage_failures == 1 || ing->storage_failures % INGEST_STORAGE_LOG_EVERY == 0)
		log_warnx("%s: %s (%" PRIu64 " failures in a row; nothing is acknowledged until the catalog can "
			  "store again)", what, catalog_error(ing->cat), ing->storage_failures);
	catalog_rollback(ing->cat);
	return r;
}

static void ingest_storage_ok(struct ingest *ing)
{
	if (ing->storage_failures)
		log_info("the catalog stores again after %" PRIu64 " failures", ing->storage_failures);
	ing->storage_failures = 0;
	ing->storage_failed_at = 0;
}

static bool ingest_storage_quiet(const struct ingest *ing)
{
	return ing->storage_failed_at && time_now_ms() - ing->storage_failed_at < INGEST_STORAGE_QUIET_MS;
}

/* What HELLO needs to decide which interval overrides the agent lacks. */
struct hello_overrides {
	const Prospector__Hello *hello;
	struct ingest_replies *out;
};

/* The agent reports the interval each source runs at; an override it does not run at yet (it was
 * restarted and read its configuration again) is sent again, so that the override outlives
 * restarts of either side. */
static int hello_override(void *ctx, const struct catalog_command *cmd)
{
	struct hello_overrides *ho = ctx;

	for (size_t i = 0; i < ho->hello->n_sources; i++) {
		const Prospector__SourceInfo *si = ho->hello->sources[i];

		if (strcmp(si->name, cmd->source) != 0)
			continue;
		if (si->has_interval_s && (int64_t)si->interval_s == cmd->interval_s)
			return 0;
		log_info("source %s: sending the interval override of %" PRId64 "s", cmd->source, cmd->interval_s);
		xgrow(&ho->out->msgs, &ho->out->cap, ho->out->n + 1, sizeof(*ho->out->msgs));
		encode_command(&ho->out->msgs[ho->out->n++], cmd, ho->out->protocol);
		return 0;
	}
	return 0;
}

static void hello_send_overrides(struct ingest *ing, const char *id, const Prospector__Hello *h,
				 struct ingest_replies *out)
{
	struct hello_overrides ho = { h, out };

	if (catalog_interval_overrides(ing->cat, id, hello_override, &ho) < 0)
		log_warnx("agent %s: cannot read interval overrides: %s", id, catalog_error(ing->cat));
}

static void hello_resync_all(struct ingest_replies *out, const Prospector__Hello *h)
{
	for (size_t i = 0; i < h->n_sources; i++)
		reply_resync(out, h->sources[i]->name, "the collector lost acknowledged batches");
}

static int ingest_hello(struct ingest *ing, const struct ingest_peer *peer, const Prospector__Envelope *env,
			const void *data, size_t len, struct ingest_replies *out)
{
	const Prospector__Hello *h = env->hello;
	const char *id = ingest_identity(peer, h->agent_id);
	uint64_t last = 0;
	bool lost = false;
	int r;

	(void)data;
	(void)len;
	if (ingest_spoofed(peer, h->agent_id, "HELLO", out))
		return 0;
	r = catalog_begin(ing->cat);
	if (r == 0)
		r = hello_record(ing, id, h, &last, &lost);
	if (r == CATALOG_E_SOURCE_OWNED) {
		log_warnx("agent %s refused: %s", id, catalog_error(ing->cat));
		reply_reject(out, catalog_error(ing->cat));
		catalog_rollback(ing->cat);
		return 0;
	}
	if (r == 0)
		r = catalog_commit(ing->cat);
	if (r)
		return ingest_storage_failed(ing, r, "HELLO");
	ingest_storage_ok(ing);
	session_open(ing, peer, id, h->incarnation, out->protocol);
	log_info("agent %s (incarnation %" PRIu64 ", %s, protocol %u) said hello; expecting batch %" PRIu64, id,
		 h->incarnation, h->version ? h->version : "unknown version", out->protocol, last + 1);
	reply_welcome(out, last + 1, ing->max_batch_bytes);
	hello_send_overrides(ing, id, h, out);
	if (lost)
		hello_resync_all(out, h);
	return 0;
}

/* --- BATCH ---------------------------------------------------------------------------------- */

/* Rows borrow their strings from the message. */
static struct change_row *rows_from(Prospector__Row **pr, size_t n)
{
	struct change_row *rows = xcalloc(n ? n : 1, sizeof(*rows));

	for (size_t i = 0; i < n; i++) {
		rows[i].op = (enum change_op)pr[i]->op;
		rows[i].field = pr[i]->field;
		rows[i].before = pr[i]->before;
		rows[i].after = pr[i]->after;
		rows[i].sev = (enum severity)pr[i]->severity;
		rows[i].heuristic = pr[i]->has_heuristic && pr[i]->heuristic;
	}
	return rows;
}

static int object_from(struct ingest *ing, const Prospector__Object *po, size_t i, struct obj **ret_o)
{
	if (wire_obj_from_object(po, ret_o) == 0)
		return 0;
	ingest_invalid(ing, "batch object %zu ('%s'): hash does not match its content", i, po->key);
	return -EBADMSG; /* apart from every CATALOG_E_* and from the catalog's storage errors */
}

static int apply_one_change(struct ingest *ing, const struct catalog_batch *cb, const Prospector__Change *pc,
			    size_t i, const char *origin)
{
	struct obj *o = NULL;
	struct catalog_change ch = {
		.op = (enum change_op)pc->op, .kind = (enum obj_kind)pc->kind, .key = pc->key, .path = pc->path,
		.old_key = pc->old_key, .nrows = pc->n_rows,
	};
	int r = pc->object ? object_from(ing, pc->object, i, &o) : 0;

	if (r)
		return r;
	ch.obj = o;
	ch.rows = rows_from(pc->rows, pc->n_rows);
	r = catalog_apply_change(ing->cat, cb, origin, &ch);
	free((void *)ch.rows);
	obj_free(o);
	return r;
}

static int apply_delta(struct ingest *ing, const struct catalog_batch *cb, const Prospector__Batch *b,
		       struct batch_result *res)
{
	/* The history of a confirmed mass drop says so: an auditor looking at a thousand DROPs must see
	 * that two crawls agreed on them. */
	const char *origin = b->has_mass_drop && b->mass_drop ? "mass_drop" : "delta";
	int r = 0;

	for (size_t i = 0; r == 0 && i < b->n_changes; i++)
		r = apply_one_change(ing, cb, b->changes[i], i, origin);
	res->nchanges = b->n_changes;
	return r;
}

/* The first batch of a crawl carries the source's info; a snapshot starting there replaces whatever
 * an earlier one left half-staged (its tail was superseded in the agent's outbox). */
static int apply_part(struct ingest *ing, const struct catalog_batch *cb, const Prospector__Batch *b,
		      struct batch_result *res)
{
	struct snapshot *part = snapshot_new(cb->source);
	int r = b->info ? catalog_stage_begin(ing->cat, cb) : 0;

	for (size_t i = 0; r == 0 && i < b->n_objects; i++) {
		struct obj *o = NULL;

		r = object_from(ing, b->objects[i], i, &o);
		if (r == 0)
			snapshot_add(part, &o);
	}
	if (r == 0)
		r = catalog_stage_part(ing->cat, cb, part);
	snapshot_free(part);
	res->nchanges = 0;
	return r;
}

/* A staged snapshot that does not check out is consumed (acknowledged) and asked for again. */
static int apply_end(struct ingest *ing, const struct catalog_batch *cb, const Prospector__Batch *b,
		     struct batch_result *res)
{
	int r = apply_part(ing, cb, b, res);

	if (r == 0)
		r = catalog_snapshot_end(ing->cat, cb, b->has_root_hash ? b->root_hash.data : NULL, &res->nchanges);
	if (r == CATALOG_E_STAGED_INVALID) {
		log_warnx("agent %s: %s; asking for a resync", cb->agent_id, catalog_error(ing->cat));
		res->resync = "the staged snapshot did not match the agent's root hash";
		r = 0;
	}
	return r;
}

static int apply_obs(struct ingest *ing, const struct catalog_batch *cb, const Prospector__Batch *b,
		     struct batch_result *res)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < b->n_obs; i++) {
		const Prospector__ObsUpdate *u = b->obs[i];
		struct attr *obs = xcalloc(u->n_obs ? u->n_obs : 1, sizeof(*obs));

		for (size_t j = 0; j < u->n_obs; j++)
			obs[j] = (struct attr){ .name = u->obs[j]->name, .value = u->obs[j]->value };
		r = catalog_apply_obs(ing->cat, cb->source, u->key, obs, u->n_obs);
		free(obs);
	}
	res->nchanges = 0;
	return r;
}

/* Indexed by Prospector__BatchKind (validated by wire_decode). */
static const struct {
	const char *name;
	int (*apply)(struct ingest *ing, const struct catalog_batch *cb, const Prospector__Batch *b,
		     struct batch_result *res);
} batch_kinds[] = {
	[PROSPECTOR__BATCH_KIND__BATCH_DELTA] = { "delta", apply_delta },
	[PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART] = { "snapshot part", apply_part },
	[PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END] = { "snapshot end", apply_end },
	[PROSPECTOR__BATCH_KIND__BATCH_OBS] = { "observations", apply_obs },
};

static int batch_source(struct ingest *ing, const char *agent_id, const Prospector__Batch *b)
{
	struct catalog_source s = { .name = b->source, .interval_s = -1 };

	if (b->info && strcmp(b->info->name, b->source) == 0)
		s = source_from_info(b->info);
	return catalog_source_upsert(ing->cat, agent_id, &s);
}

/* Everything one batch changes, in the caller's transaction. */
static int batch_apply(struct ingest *ing, const struct catalog_batch *cb, const Prospector__Batch *b,
		       const unsigned char digest[32], struct batch_result *res)
{
	int r = batch_source(ing, cb->agent_id, b);

	if (r == 0)
		r = batch_kinds[b->kind].apply(ing, cb, b, res);
	if (r == 0)
		r = catalog_applied_add(ing->cat, cb, digest);
	if (r == 0)
		r = catalog_agent_set_seq(ing->cat, cb->agent_id, cb->seq, cb->recorded_ms);
	if (r == 0)
		r = catalog_source_applied(ing->cat, cb, b->has_root_hash ? b->root_hash.data : NULL);
	return r;
}

static int batch_commit(struct ingest *ing, const struct session *s, const Prospector__Batch *b,
			const void *data, size_t len, struct ingest_replies *out)
{
	uint64_t now = time_now_ms();
	struct catalog_batch cb = {
		.agent_id = s->agent_id, .incarnation = s->incarnation, .seq = b->seq, .source = b->source,
		.observed_ms = b->has_crawled_at ? b->crawled_at * 1000 : now, .recorded_ms = now,
	};
	struct batch_result res = { 0, NULL };
	unsigned char digest[32];
	int r = catalog_begin(ing->cat);

	sha256(digest, data, len);
	if (r == 0)
		r = batch_apply(ing, &cb, b, digest, &res);
	if (r == CATALOG_E_SOURCE_OWNED) {
		log_warnx("agent %s: batch %" PRIu64 " refused: %s", s->agent_id, b->seq, catalog_error(ing->cat));
		reply_reject(out, catalog_error(ing->cat));
		catalog_rollback(ing->cat);
		return 0;
	}
	if (r == -EBADMSG) {
		catalog_rollback(ing->cat);
		return INGEST_E_INVALID;
	}
	if (r == 0)
		r = catalog_commit(ing->cat);
	if (r)
		return ingest_storage_failed(ing, r, "batch");
	ingest_storage_ok(ing);
	log_info("agent %s source %s seq %" PRIu64 ": applied %s of %zu items, changes: %zu%s", s->agent_id,
		 b->source, b->seq, batch_kinds[b->kind].name, b->n_changes + b->n_objects + b->n_obs, res.nchanges,
		 res.resync ? " (snapshot refused, resync asked)" : "");
	reply_ack(out, s->incarnation, b->seq);
	if (res.resync)
		reply_resync(out, b->source, res.resync);
	return 0;
}

/* Already applied: acknowledge again. The same seq with other bytes means the agent's outbox and
 * the catalog disagree about what that batch held (an agent state restored from a backup, say):
 * the first one stands, and a full snapshot of the source puts the catalog right whatever it was. */
static int batch_duplicate(struct ingest *ing, const struct session *s, const Prospector__Batch *b,
			   uint64_t last, const void *data, size_t len, struct ingest_replies *out)
{
	unsigned char digest[32], applied[32];
	int r = catalog_applied_lookup(ing->cat, s->agent_id, s->incarnation, b->seq, applied);

	if (r < 0)
		return ingest_storage_failed(ing, r, "duplicate check");
	sha256(digest, data, len);
	log_debug("agent %s: batch %" PRIu64 " already applied, acknowledging again", s->agent_id, b->seq);
	reply_ack(out, s->incarnation, last);
	if (r == 0 && memcmp(digest, applied, sizeof(digest)) != 0) {
		log_warnx("agent %s resent batch %" PRIu64 " of source %s with different content; the first one "
			  "stands, asking for a resync", s->agent_id, b->seq, b->source);
		reply_resync(out, b->source, "a batch was resent with different content");
	}
	return 0;
}

static int ingest_batch(struct ingest *ing, const struct ingest_peer *peer, const Prospector__Envelope *env,
			const void *data, size_t len, struct ingest_replies *out)
{
	const Prospector__Batch *b = env->batch;
	struct session *s = session_find(ing, peer);
	uint64_t inc, last;
	int r;

	if (!s) {
		reply_reject(out, "unknown connection: send HELLO first");
		return 0;
	}
	r = catalog_agent_lookup(ing->cat, s->agent_id, &inc, &last);
	if (r < 0)
		return ingest_storage_failed(ing, r, "agent lookup");
	if (r || inc != s->incarnation || b->incarnation != s->incarnation) {
		reply_reject(out, "incarnation changed: send HELLO again");
		return 0;
	}
	if (b->seq <= last)
		return batch_duplicate(ing, s, b, last, data, len, out);
	if (b->seq > last + 1 && ingest_storage_quiet(ing)) {
		log_debug("agent %s: batch %" PRIu64 " dropped: batch %" PRIu64 " could not be stored", s->agent_id,
			  b->seq, last + 1);
		return 0;
	}
	if (b->seq > last + 1) {
		log_info("agent %s: batch %" PRIu64 " arrived, expecting %" PRIu64, s->agent_id, b->seq, last + 1);
		reply_nack(out, s->incarnation, last + 1, "sequence gap");
		return 0;
	}
	return batch_commit(ing, s, b, data, len, out);
}

/* --- HEARTBEAT ------------------------------------------------------------------------------ */

static int64_t opt_u64(protobuf_c_boolean has, uint64_t v)
{
	return has && v <= INT64_MAX ? (int64_t)v : -1;
}

static struct catalog_probe probe_from(const Prospector__ProbeStatus *ps)
{
	struct catalog_probe p = {
		.source = ps->source,
		.last_start = opt_u64(ps->has_last_start, ps->last_start),
		.last_end = opt_u64(ps->has_last_end, ps->last_end),
		.duration_ms = opt_u64(ps->has_duration_ms, ps->duration_ms),
		.objects = opt_u64(ps->has_objects, ps->objects),
		.next_run = opt_u64(ps->has_next_run, ps->next_run),
		.interval_s = opt_u64(ps->has_interval_s, ps->interval_s),
		.ok = ps->has_ok ? ps->ok != 0 : -1,
		.error = ps->error,
		.warning = ps->warning,
		.root_hash = ps->has_root_hash ? ps->root_hash.data : NULL,
	};

	return p;
}

static int heartbeat_record(struct ingest *ing, const char *id, const Prospector__Heartbeat *h)
{
	int r = catalog_agent_heartbeat(ing->cat, id, h->version, opt_u64(h->has_outbox_depth, h->outbox_depth),
					opt_u64(h->has_rss_bytes, h->rss_bytes), time_now_ms());

	for (size_t i = 0; r == 0 && i < h->n_probes; i++) {
		struct catalog_probe p = probe_from(h->probes[i]);

		r = catalog_probe_update(ing->cat, id, &p);
		if (r == CATALOG_E_SOURCE_OWNED) {
			log_warnx("agent %s: heartbeat: %s", id, catalog_error(ing->cat));
			r = 0;
		}
	}
	return r;
}

static struct verified *verified_find(struct ingest *ing, const char *source)
{
	for (size_t i = 0; i < ing->nverified; i++)
		if (strcmp(ing->verified[i].source, source) == 0)
			return &ing->verified[i];
	xgrow(&ing->verified, &ing->verified_cap, ing->nverified + 1, sizeof(*ing->verified));
	ing->verified[ing->nverified].source = xstrdup(source);
	memset(ing->verified[ing->nverified].root, 0, 32);
	return &ing->verified[ing->nverified++];
}

/*
 * DESIGN §3.4: heartbeats carry each source's root hash; when the agent has nothing in flight, the
 * catalog must hold exactly that state. A mismatch (a catalog restored from a backup, a lost batch,
 * a hand edit) makes the collector ask for a full snapshot, which its diff turns into the changes
 * that make the catalog true again, marked as found by resync.
 */
static int heartbeat_verify(struct ingest *ing, const Prospector__Heartbeat *h, struct ingest_replies *out)
{
	int64_t version = catalog_data_version(ing->cat);

	if (version != ing->verified_version) { /* someone else wrote the file: verify everything again */
		for (size_t i = 0; i < ing->nverified; i++)
			memset(ing->verified[i].root, 0, 32);
		ing->verified_version = version;
	}
	for (size_t i = 0; h->has_outbox_depth && h->outbox_depth == 0 && i < h->n_probes; i++) {
		const Prospector__ProbeStatus *p = h->probes[i];
		struct verified *v;
		unsigned char root[32];
		int r;

		if (!p->has_root_hash || !p->has_ok || !p->ok)
			continue;
		v = verified_find(ing, p->source);
		if (memcmp(v->root, p->root_hash.data, 32) == 0)
			continue;
		r = catalog_source_root(ing->cat, p->source, root);
		if (r < 0)
			return r;
		if (memcmp(root, p->root_hash.data, 32) == 0) {
			memcpy(v->root, root, 32);
			continue;
		}
		log_warnx("agent %s: the catalog of source %s differs from the agent's snapshot; asking for a resync",
			  h->agent_id, p->source);
		reply_resync(out, p->source, "the catalog's root hash differs from the agent's");
	}
	return 0;
}

static int ingest_heartbeat(struct ingest *ing, const struct ingest_peer *peer, const Prospector__Envelope *env,
			    const void *data, size_t len, struct ingest_replies *out)
{
	const Prospector__Heartbeat *h = env->heartbeat;
	struct session *s = session_find(ing, peer);
	int r;

	(void)data;
	(void)len;
	if (ingest_spoofed(peer, h->agent_id, "heartbeat", out))
		return 0;
	if (!s || strcmp(ingest_identity(peer, h->agent_id), s->agent_id) != 0 || h->incarnation != s->incarnation) {
		reply_reject(out, "unknown connection: send HELLO first");
		return 0;
	}
	r = catalog_begin(ing->cat);
	if (r == 0)
		r = heartbeat_record(ing, s->agent_id, h);
	if (r == 0)
		r = catalog_commit(ing->cat);
	if (r == 0)
		r = heartbeat_verify(ing, h, out);
	return r ? ingest_storage_failed(ing, r, "heartbeat") : 0;
}

/* --- commands ------------------------------------------------------------------------------ */

/* One walk over the queued commands: what went out, to be marked sent after the walk. */
struct command_walk {
	struct ingest *ing;
	ingest_send_fn send;
	void *ctx;
	int64_t *sent;
	size_t nsent, cap;
};

static struct session *session_by_agent(struct ingest *ing, const char *agent_id)
{
	for (size_t i = 0; agent_id && i < ing->nsessions; i++)
		if (strcmp(ing->sessions[i].agent_id, agent_id) == 0)
			return &ing->sessions[i];
	return NULL;
}

static int command_walk_one(void *ctx, const struct catalog_command *cmd)
{
	struct command_walk *w = ctx;
	struct session *s = session_by_agent(w->ing, cmd->agent_id);
	struct buf msg;
	int r;

	if (cmd->kind < 0) {
		log_warnx("command %" PRId64 " for source %s: unknown kind; dropped", cmd->id, cmd->source);
		xgrow(&w->sent, &w->cap, w->nsent + 1, sizeof(*w->sent));
		w->sent[w->nsent++] = cmd->id;
		return 0;
	}
	if (!s)
		return 0; /* the agent is not connected: the command waits for its HELLO */
	encode_command(&msg, cmd, s->protocol);
	r = w->send(w->ctx, s->rid, s->rid_len, &msg);
	buf_free(&msg);
	if (r != 0) {
		log_debug("command %" PRId64 " for agent %s not sent; it stays queued", cmd->id, s->agent_id);
		return 0;
	}
	log_info("sent %s for source %s to agent %s", cmd->kind == CATALOG_CMD_PROBE_NOW ? "probe_now" : "set_interval",
		 cmd->source, s->agent_id);
	xgrow(&w->sent, &w->cap, w->nsent + 1, sizeof(*w->sent));
	w->sent[w->nsent++] = cmd->id;
	return 0;
}

int ingest_send_commands(struct ingest *ing, ingest_send_fn send, void *ctx)
{
	struct command_walk w = { .ing = ing, .send = send, .ctx = ctx };
	uint64_t now = time_now_ms();
	int r = catalog_commands_pending(ing->cat, command_walk_one, &w);

	for (size_t i = 0; r == 0 && i < w.nsent; i++)
		r = catalog_command_sent(ing->cat, w.sent[i], now);
	if (r)
		log_warnx("commands: %s", catalog_error(ing->cat));
	free(w.sent);
	return r;
}

/* --- dispatch ------------------------------------------------------------------------------- */

/* What an agent may send, indexed by the envelope's body case; the rest are the collector's own. */
static const struct {
	int (*handle)(struct ingest *ing, const struct ingest_peer *peer, const Prospector__Envelope *env,
		      const void *data, size_t len, struct ingest_replies *out);
} handlers[] = {
	[PROSPECTOR__ENVELOPE__BODY_HELLO] = { ingest_hello },
	[PROSPECTOR__ENVELOPE__BODY_BATCH] = { ingest_batch },
	[PROSPECTOR__ENVELOPE__BODY_HEARTBEAT] = { ingest_heartbeat },
};

int ingest_handle(struct ingest *ing, const struct ingest_peer *from, const void *data, size_t len,
		  struct ingest_replies *out)
{
	struct ingest_peer peer = *from;
	char agent[256];
	struct wire_msg msg;
	uint64_t now = time_now_ms();
	unsigned body;
	int r = ingest_resolve(ing, &peer, agent, sizeof(agent));

	if (r)
		return r;
	if (ingest_quarantined(ing, peer.agent_id, now))
		return INGEST_E_REFUSED;
	r = wire_decode(data, len, &msg);
	if (r) {
		ingest_invalid(ing, "%s%s: %s", peer.agent_id ? "from agent " : "", peer.agent_id ? peer.agent_id : "",
			       msg.error);
		ingest_offence(ing, peer.agent_id, now);
		return INGEST_E_INVALID;
	}
	body = (unsigned)msg.env->body_case;
	if (body >= sizeof(handlers) / sizeof(handlers[0]) || !handlers[body].handle) {
		ingest_invalid(ing, "an agent does not send message type %u", body);
		ingest_offence(ing, peer.agent_id, now);
		wire_msg_clear(&msg);
		return INGEST_E_INVALID;
	}
	out->protocol = wire_protocol_agree(msg.env->protocol);
	r = handlers[body].handle(ing, &peer, msg.env, data, len, out);
	if (r == INGEST_E_INVALID)
		ingest_offence(ing, peer.agent_id, now);
	wire_msg_clear(&msg);
	return r;
}

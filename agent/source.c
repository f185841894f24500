#include "source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "diff.h"
#include "log.h"
#include "redact.h"
#include "timeutil.h"
#include "wire_batch.h"
#include "xmalloc.h"

/* After the first failure, a repeat is logged only every this many. */
#define COMPLAIN_EVERY 20

struct source *source_new(const struct source_conf *conf)
{
	struct source *src = xcalloc(1, sizeof(*src));

	src->conf = conf;
	src->ops = driver_lookup(conf->driver);
	src->interval = conf->interval;
	return src;
}

void source_free(struct source *src)
{
	if (!src)
		return;
	if (src->handle)
		src->ops->close(src->handle);
	free(src);
}

/* After a failed crawl the next try comes sooner than the interval: 5 s, doubling with each
 * failure, capped at the interval, with ±20 % jitter so that a fleet that lost one database does
 * not come back to it in step. */
#define RETRY_FIRST_MS 5000

static uint64_t source_jitter(uint64_t ms)
{
	return ms - ms / 5 + randombytes_uniform((uint32_t)(ms * 2 / 5 + 1));
}

void source_schedule(struct source *src, uint64_t now_mono_ms)
{
	uint64_t delay = (uint64_t)src->interval * 1000;

	if (src->failures) {
		uint64_t backoff = (uint64_t)RETRY_FIRST_MS << (src->failures > 16 ? 16 : src->failures - 1);

		if (backoff < delay)
			delay = source_jitter(backoff);
	}
	src->next_run = now_mono_ms + delay;
}

void source_splay(struct source *src, uint64_t now_mono_ms, unsigned splay_s)
{
	uint64_t window = (uint64_t)(splay_s < src->interval ? splay_s : src->interval) * 1000;

	src->next_run = now_mono_ms + (window ? randombytes_uniform((uint32_t)window) : 0);
}

static void source_complain(struct source *src)
{
	redact_secrets(src->status.error);
	src->failures++;
	if (src->failures == 1)
		log_warnx("source %s: %s", src->conf->name, src->status.error);
	else if (src->failures % COMPLAIN_EVERY == 0)
		log_warnx("source %s: still failing after %u attempts: %s", src->conf->name, src->failures,
			  src->status.error);
}

static void source_recovered(struct source *src)
{
	if (src->failures)
		log_info("source %s: recovered after %u failed attempts", src->conf->name, src->failures);
	src->failures = 0;
}

/* The relation (table, view, sequence …) an object belongs to: the ancestor whose parent is a schema. */
static const struct obj *source_relation_of(const struct snapshot *s, const struct obj *o)
{
	for (unsigned depth = 0; o && depth < 16; depth++) {
		const struct obj *p = o->parent ? snapshot_find(s, o->parent) : NULL;

		if (!p || o->kind == OBJ_SCHEMA || o->kind == OBJ_DATABASE)
			return NULL;
		if (p->kind == OBJ_SCHEMA)
			return o;
		o = p;
	}
	return NULL;
}

static bool source_keep(const struct source_conf *conf, const struct snapshot *s, const struct obj *o)
{
	const struct obj *rel = source_relation_of(s, o);
	const struct obj *schema = rel ? snapshot_find(s, rel->parent) : NULL;

	return !rel || !schema || source_conf_in_scope(conf, schema->name, rel->name);
}

/* Drops what lies outside include/exclude; the snapshot is finished again afterwards. */
static int source_filter(const struct source_conf *conf, struct snapshot *s)
{
	size_t kept = 0;
	bool *keep;

	if (!conf->include && !conf->exclude)
		return 0;
	keep = xcalloc(s->nobjs ? s->nobjs : 1, sizeof(*keep));
	for (size_t i = 0; i < s->nobjs; i++)
		keep[i] = source_keep(conf, s, s->objs[i]);
	for (size_t i = 0; i < s->nobjs; i++) {
		if (keep[i])
			s->objs[kept++] = s->objs[i];
		else
			obj_free(s->objs[i]);
	}
	s->nobjs = kept;
	free(keep);
	return snapshot_finish(s);
}

/* A crawl that caught DDL under way (DRIVER_E_UNSTABLE) is repeated at once, this many times at
 * most, this far apart; then the cycle fails and nothing is reported. */
#define UNSTABLE_RETRIES 5
#define RETRY_PAUSE_MS 500

static void source_pause(void)
{
	struct timespec pause = { 0, RETRY_PAUSE_MS * 1000000L };

	nanosleep(&pause, NULL);
}

static int source_crawl_once(struct source *src, struct snapshot **ret_snap)
{
	struct snapshot *snap;
	int r = 0;

	if (!src->handle)
		r = src->ops->open(src->conf, &src->handle, src->status.error);
	if (r)
		return r;
	snap = snapshot_new(src->conf->name);
	src->status.crawls++;
	r = src->ops->crawl(src->handle, snap, src->status.error);
	if (r == 0 && (snapshot_finish(snap) != 0 || source_filter(src->conf, snap) != 0)) {
		snprintf(src->status.error, sizeof(src->status.error), "driver produced an inconsistent snapshot: %s",
			 snap->error);
		r = DRIVER_E_QUERY;
	}
	if (r) {
		snapshot_free(snap);
		return r;
	}
	*ret_snap = snap;
	return 0;
}

static int source_crawl(struct source *src, struct snapshot **ret_snap)
{
	int r = source_crawl_once(src, ret_snap);

	for (int i = 0; r == DRIVER_E_UNSTABLE && i < UNSTABLE_RETRIES; i++) {
		source_pause();
		r = source_crawl_once(src, ret_snap);
	}
	return r;
}

static bool source_is_partial(const struct snapshot *s, const char *key)
{
	for (size_t i = 0; i < s->npartial; i++)
		if (strcmp(s->partial[i].key, key) == 0)
			return true;
	return false;
}

/* True when o, in the old snapshot, lies below a scope the new crawl saw only in part. */
static bool source_under_partial(const struct snapshot *old, const struct obj *o, const struct snapshot *new)
{
	for (unsigned depth = 0; o && o->parent && depth < 16; depth++) {
		if (source_is_partial(new, o->parent))
			return true;
		o = snapshot_find(old, o->parent);
	}
	return false;
}

/* Objects below a partly visible scope that this crawl did not see are carried over from the
 * previous snapshot: their absence is no evidence that they were dropped (DESIGN §3.3). */
static int source_carry_over(const struct snapshot *old, struct snapshot *new)
{
	struct obj **keep = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; old && new->npartial && i < old->nobjs; i++) {
		const struct obj *o = old->objs[i];

		if (!snapshot_find(new, o->key) && source_under_partial(old, o, new)) {
			xgrow(&keep, &cap, n + 1, sizeof(*keep));
			keep[n++] = obj_dup(o);
		}
	}
	for (size_t i = 0; i < n; i++)
		snapshot_add(new, &keep[i]);
	free(keep);
	return n ? snapshot_finish(new) : 0;
}

/* The driver proved that its last crawl saw the catalog at rest (driver_ops.quiet). */
static bool source_quiet(const struct source *src)
{
	return src->ops->quiet && src->ops->quiet(src->handle);
}

/* A crawl of a source whose catalog is not transactional (driver_ops.settle) that found a change
 * is repeated until two crawls in a row agree, or one proves it saw the catalog at rest; at most
 * this many repeats. */
#define SETTLE_REPEATS 3

static int source_settle(struct source *src, struct snapshot **snap)
{
	for (int i = 0; i < SETTLE_REPEATS; i++) {
		unsigned char root[32];
		int r;

		/* Only the roots are compared: a crawl is let go before the next, so two are never held
		 * (a first MariaDB crawl of 10,000 tables peaked at 120 MB holding both). */
		memcpy(root, (*snap)->root, sizeof(root));
		snapshot_free(*snap);
		*snap = NULL;
		source_pause();
		r = source_crawl(src, snap);
		if (r)
			return r;
		if (memcmp((*snap)->root, root, sizeof(root)) == 0 || source_quiet(src))
			return 0;
		log_info("source %s: two crawls in a row differ (the schema changed while it was read); crawling again",
			 src->conf->name);
	}
	snprintf(src->status.error, sizeof(src->status.error),
		 "the schema kept changing during %d crawls in a row; nothing reported, trying again next cycle",
		 SETTLE_REPEATS + 1);
	return DRIVER_E_QUERY;
}

int source_snapshot(struct source *src, const unsigned char *old_root, struct snapshot **ret_snap)
{
	int r = source_crawl(src, ret_snap);

	if (r == 0 && src->ops->settle && (!old_root || memcmp(old_root, (*ret_snap)->root, 32) != 0) &&
	    !source_quiet(src)) {
		r = source_settle(src, ret_snap);
		if (r) {
			snapshot_free(*ret_snap);
			*ret_snap = NULL;
		}
	}
	return r;
}

static bool source_unchanged(const struct snapshot *old, const struct snapshot *new)
{
	if (!old || memcmp(old->root, new->root, sizeof(new->root)) != 0 || old->nobjs != new->nobjs)
		return false;
	for (size_t i = 0; i < new->nobjs; i++)
		if (!obj_obs_equal(old->objs[i], new->objs[i]))
			return false;
	return true;
}

struct wire_source_info source_wire_info(const struct source *src, uint64_t crawled_at_ms)
{
	struct wire_source_info info = {
		.driver = src->conf->driver,
		.department = src->conf->department,
		.system = src->conf->system,
		.interval_s = src->interval,
		.crawled_at_ms = crawled_at_ms,
	};

	return info;
}

/* Stores the batches that take old to new, and new, in one transaction. */
static int source_commit(struct source *src, struct state *st, const struct snapshot *old, const struct snapshot *new,
			 const struct diff *d, const struct wire_source_info *info, size_t max_batch_bytes,
			 struct wire_batches_count *ret_count)
{
	struct state_outbox_target target = { .st = st, .source = src->conf->name };
	int r = state_begin(st);

	if (r == 0)
		r = wire_batches_emit(old, new, d, info, max_batch_bytes, state_incarnation(st), state_peek_next_seq(st),
				      state_outbox_emit, &target, ret_count);
	if (r == 0)
		r = state_put_snapshot(st, new);
	if (r == 0)
		return state_commit(st);
	state_rollback(st);
	return r;
}

static int source_deliver(struct source *src, struct state *st, struct snapshot *old, struct snapshot *new,
			  bool mass_drop, size_t max_batch_bytes, size_t *ret_batches)
{
	struct wire_source_info info = source_wire_info(src, src->status.last_start);
	struct diff *d = old ? diff_snapshots(old, new) : NULL;
	struct wire_batches_count count;
	uint64_t t0 = time_now_ms();
	int r;

	info.mass_drop = mass_drop;
	r = source_commit(src, st, old, new, d, &info, max_batch_bytes, &count);
	if (r == 0) {
		char crawls[32] = "";

		*ret_batches = count.batches;
		if (src->status.crawls > 1)
			snprintf(crawls, sizeof(crawls), " in %u crawls", src->status.crawls);
		log_info("source %s: %s, %zu %s in %zu batches (crawl %.2f s%s, store %.2f s)", src->conf->name,
			 old ? "changed" : "first snapshot", count.items, old ? "changed objects" : "objects",
			 count.batches, (double)(t0 - src->status.last_start) / 1000, crawls,
			 (double)(time_now_ms() - t0) / 1000);
	} else {
		snprintf(src->status.error, sizeof(src->status.error), "cannot store the crawl: %s", state_error(st));
	}
	diff_free(d);
	return r;
}

/* The scopes this crawl saw only in part, for the status. */
static void source_warn_partial(struct source *src, const struct snapshot *new)
{
	src->status.warning[0] = '\0';
	for (size_t i = 0; i < new->npartial; i++)
		snprintf(src->status.warning + strlen(src->status.warning),
			 sizeof(src->status.warning) - strlen(src->status.warning), "%s%s", i ? "; " : "",
			 new->partial[i].reason);
}

/* The snapshot, with what a partial scope hid carried over from old. */
static int source_complete(struct source *src, const struct snapshot *old, struct snapshot *new)
{
	if (source_carry_over(old, new) == 0)
		return 0;
	snprintf(src->status.error, sizeof(src->status.error), "carrying over unseen objects: %s", new->error);
	return DRIVER_E_QUERY;
}

static bool source_is_relation(const struct obj *o)
{
	return o->kind == OBJ_TABLE || o->kind == OBJ_VIEW || o->kind == OBJ_MATVIEW;
}

/* True when new would drop more than the configured share of old's tables and views. */
static bool source_mass_drop(const struct source *src, const struct snapshot *old, const struct snapshot *new,
			     size_t *ret_dropped, size_t *ret_total)
{
	size_t total = 0, dropped = 0;

	for (size_t i = 0; old && i < old->nobjs; i++) {
		if (!source_is_relation(old->objs[i]))
			continue;
		total++;
		dropped += !snapshot_find(new, old->objs[i]->key);
	}
	*ret_dropped = dropped;
	*ret_total = total;
	return dropped && src->conf->mass_drop_percent < 100 &&
	       dropped * 100 > (size_t)src->conf->mass_drop_percent * total;
}

/* The stored snapshot, borrowing from new what is alike in both (state_load_snapshot), or NULL when
 * there is none or it is corrupt (then the crawl is sent in full: the collector diffs it against its
 * catalog). */
static int source_load_old(struct source *src, struct state *st, const struct snapshot *new,
			   struct snapshot **ret_old)
{
	int r = state_load_snapshot(st, src->conf->name, new, ret_old);

	if (r == STATE_E_CORRUPT) {
		log_warnx("%s; sending a full snapshot", state_error(st));
		r = 0;
	}
	if (r)
		snprintf(src->status.error, sizeof(src->status.error), "%s", state_error(st));
	return r;
}

/* The stored snapshot against a crawl, and the crawl with what a partial scope hid carried over. */
static int source_against_stored(struct source *src, struct state *st, struct snapshot *new,
				 struct snapshot **ret_old)
{
	int r = source_load_old(src, st, new, ret_old);

	if (r == 0)
		r = source_complete(src, *ret_old, new);
	return r;
}

/*
 * DESIGN §3.3: a crawl that would drop a large share of a source is held and confirmed by a second
 * complete crawl a moment later; only when that one agrees is anything sent (a database restored
 * into place, a half-privileged account or a mounted-wrong volume must not wipe the catalog).
 */
static int source_confirm_drops(struct source *src, struct state *st, struct snapshot **old, struct snapshot **new,
				bool *ret_confirmed)
{
	unsigned char old_root[32];
	size_t dropped, total;
	int r;

	*ret_confirmed = false;
	if (!source_mass_drop(src, *old, *new, &dropped, &total))
		return 0;
	log_warnx("source %s: this crawl would drop %zu of %zu tables and views; holding it for a second crawl",
		  src->conf->name, dropped, total);
	memcpy(old_root, (*old)->root, sizeof(old_root));
	snapshot_free(*old); /* it borrows from *new */
	snapshot_free(*new);
	*old = *new = NULL;
	source_pause();
	r = source_snapshot(src, old_root, new);
	if (r == 0) {
		source_warn_partial(src, *new);
		r = source_against_stored(src, st, *new, old);
	}
	if (r == 0 && source_mass_drop(src, *old, *new, &dropped, &total)) {
		log_warnx("source %s: a second crawl confirms: %zu of %zu tables and views are gone", src->conf->name,
			  dropped, total);
		snprintf(src->status.warning, sizeof(src->status.warning),
			 "mass drop confirmed by a second crawl: %zu of %zu tables and views", dropped, total);
		*ret_confirmed = true;
	}
	return r;
}

/* True when new hashes, schema and observations, as the stored snapshot does. */
static bool source_matches_stored(const struct snapshot *new, const struct state_digest *stored)
{
	unsigned char obs[32];

	if (!stored->found || !stored->has_obs_root || memcmp(new->root, stored->root, sizeof(new->root)) != 0)
		return false;
	snapshot_obs_hash(new, obs);
	return memcmp(obs, stored->obs_root, sizeof(obs)) == 0;
}

/* A crawl that differs from the stored snapshot: the old one is loaded (borrowing from the crawl
 * what is alike), what a partial scope hid is carried over, a mass drop confirmed, and the changes
 * stored for delivery. */
static int source_changed(struct source *src, struct state *st, struct snapshot **new, size_t max_batch_bytes,
			  size_t *ret_batches)
{
	struct snapshot *old = NULL;
	bool mass_drop = false;
	int r = source_against_stored(src, st, *new, &old);

	if (r == 0)
		r = source_confirm_drops(src, st, &old, new, &mass_drop);
	if (r == 0 && !source_unchanged(old, *new))
		r = source_deliver(src, st, old, *new, mass_drop, max_batch_bytes, ret_batches);
	snapshot_free(old);
	return r;
}

/*
 * Most crawls find nothing new: the crawl is compared with the stored snapshot's hashes first, and
 * the stored snapshot is loaded only when they differ. Holding both, an unchanged cycle of 10,000
 * tables needed 274 MB.
 */
int source_run(struct source *src, struct state *st, size_t max_batch_bytes, size_t *ret_batches)
{
	struct snapshot *new = NULL;
	struct state_digest stored;
	uint64_t t0 = time_now_ms();
	int r;

	*ret_batches = 0;
	src->status.last_start = t0;
	src->status.crawls = 0;
	src->status.error[0] = '\0';
	src->status.warning[0] = '\0';
	r = state_snapshot_digest(st, src->conf->name, &stored);
	if (r)
		snprintf(src->status.error, sizeof(src->status.error), "%s", state_error(st));
	else
		r = source_snapshot(src, stored.found ? stored.root : NULL, &new);
	if (r == 0) {
		source_warn_partial(src, new);
		if (!source_matches_stored(new, &stored))
			r = source_changed(src, st, &new, max_batch_bytes, ret_batches);
	}
	src->status.last_end = time_now_ms();
	src->status.duration_ms = (uint32_t)(src->status.last_end - t0);
	src->status.ran = true;
	src->status.ok = r == 0;
	if (r == 0) {
		src->status.objects = new->nobjs;
		memcpy(src->status.root, new->root, sizeof(src->status.root));
		source_recovered(src);
	} else {
		source_complain(src);
	}
	snapshot_free(new);
	return r;
}

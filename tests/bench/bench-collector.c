/*
 * bench-collector: DESIGN §7's collector budgets, measured in process on synth's crawl
 * (tests/bench/synth.h) against a real on-disk catalog, opened by catalog_open with the pragmas
 * production uses (WAL, synchronous=FULL): every batch is a durable commit.
 *
 *   bench-collector [--tables 10000] [--columns 20] [--history 1000000] [--cycle-changes 1000]
 *                   [--batch-bytes 1048576] [--queries 7] [--seed 1] [--dir DIR] [--cli PATH]
 *
 * One agent says HELLO to ingest_handle (a peer without a CURVE key, as tests/test-ingest.c drives
 * it), then:
 *   initial_apply_s    the crawl goes out as an agent sends a first crawl (wire_batches_build with no
 *                      old snapshot, at the agent's batch size), timed from the first batch handed to
 *                      ingest to the last ACK;
 *   change_rows_per_s  crawl cycles of --cycle-changes column comment changes, each cycle's diff
 *                      sent as the agent sends it (DELTA batches, each applied and committed by ingest
 *                      on its own), until the history holds --history rows: the change rows counted
 *                      in the catalog over the time spent in ingest_handle;
 *   history_query_ms   `prospector --db CATALOG history --object TABLE` (the CLI this build made, or
 *                      --cli), wall time of the whole process, median over --queries tables after one
 *                      warm-up; history_query_sql_ms: its statement alone, timed in process (copied
 *                      from collector/cli_history.c and cli_util.c: no catalog function runs it).
 * initial_cpu_s and change_cpu_s are the CPU time of the thread ingest runs on over the same spans
 * (the checkpointer's thread apart): what is not CPU is waiting, for fsync mostly.
 * The history is filled by ingest only ("history_filled_by":"ingest"). Every reply must be the ACK
 * of its batch; the catalog must hold the crawl's objects and one history row per object plus one
 * per change row sent; each queried table must show its own rows. Anything else exits 1. The catalog
 * lives in a fresh directory under --dir (default $TMPDIR or /tmp), removed at exit. One JSON object
 * on stdout, progress on stderr (with ingest's own log lines).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "catalog.h"
#include "config.h"
#include "diff.h"
#include "ingest.h"
#include "log.h"
#include "snapshot.h"
#include "synth.h"
#include "wire.h"
#include "wire_batch.h"
#include "xmalloc.h"

/* agent/config.c's default max_batch_bytes: the agent sends the smaller of it and the collector's. */
#define BENCH_AGENT_MAX_BATCH (1024 * 1024)
#define BENCH_AGENT "bench-agent"
#define BENCH_INCARNATION 1

extern char **environ;

static const char usage[] =
	"usage: bench-collector [--tables N] [--columns C] [--history H] [--cycle-changes K]\n"
	"                       [--batch-bytes B] [--queries Q] [--seed S] [--dir DIR] [--cli PATH]\n"
	"  Applies a synthetic PostgreSQL crawl of N tables x C columns (default 10000 x 20) through the\n"
	"  collector's ingest into a fresh catalog under DIR, then cycles of K comment changes (default\n"
	"  1000) until the history holds H rows (default 1000000), then times `prospector history` on Q\n"
	"  tables (default 7). Prints one JSON object.\n";

/* The statement `prospector history --object PATH` runs (cli_history.c's columns, cli_util.c's
 * literal path match): the table, everything below it, oldest first. */
static const char history_sql[] =
	"SELECT id, observed, recorded, agent_id, source, seq, key, kind, path, op, field, before, after,"
	" severity, heuristic, origin FROM history"
	" WHERE (path = ? OR (path >= ? || '#' AND path < ? || '$') OR (path >= ? || '.' AND path < ? || '0'))"
	" ORDER BY id";

struct bench {
	struct synth_spec spec;
	size_t history_target, cycle_changes, batch_bytes, queries;
	const char *cli;
	char dir[PATH_MAX], db[PATH_MAX + 16];
	struct catalog *cat;
	struct ingest *ing;
	struct ingest_replies out;
	uint64_t seq;
	struct snapshot *crawl;
	unsigned *versions;    /* per table column (table * columns + attnum - 1): comment changes so far */
	size_t next_column;    /* where the next cycle's changes start, in that numbering */
	unsigned *slice_mark;  /* per table: the last cycle whose slices hold it */
	unsigned cycle;
};

struct results {
	size_t initial_batches, baseline_rows;
	double initial_s, initial_end_s, initial_cpu_s;
	size_t cycles, change_batches, change_rows;
	double change_ms, change_cpu_ms;
	size_t history_rows, objects, query_rows;
	double query_ms, query_sql_ms;
};

/* --- talking to ingest ---------------------------------------------------------------------------- */

static int bench_send(struct bench *b, const void *data, size_t len)
{
	struct ingest_peer peer = { .routing_id = BENCH_AGENT, .routing_id_len = strlen(BENCH_AGENT) };

	ingest_replies_clear(&b->out);
	return ingest_handle(b->ing, &peer, data, len, &b->out);
}

/* The one reply there must be, of the kind wanted; msg holds it. */
static bool bench_reply(struct bench *b, int kind, struct wire_msg *msg)
{
	if (b->out.n == 1 && wire_decode(b->out.msgs[0].data, b->out.msgs[0].len, msg) == 0 &&
	    msg->env->body_case == (Prospector__Envelope__BodyCase)kind)
		return true;
	fprintf(stderr, "bench-collector: %zu replies, the first not the one expected (%d)\n", b->out.n, kind);
	return false;
}

/* HELLO; the batch size becomes the smaller of ours and WELCOME's, as the agent's is. */
static bool bench_hello(struct bench *b)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Hello h = PROSPECTOR__HELLO__INIT;
	Prospector__SourceInfo si = PROSPECTOR__SOURCE_INFO__INIT, *sis[] = { &si };
	struct wire_msg msg = { 0 };
	struct buf bytes;
	bool ok;

	h.agent_id = BENCH_AGENT;
	h.incarnation = BENCH_INCARNATION;
	h.version = "bench";
	h.n_sources = 1;
	h.sources = sis;
	si.name = (char *)b->spec.source;
	si.driver = "pg";
	env.body_case = PROSPECTOR__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	buf_init(&bytes);
	wire_encode_envelope(&env, &bytes);
	ok = bench_send(b, bytes.data, bytes.len) == 0 && bench_reply(b, PROSPECTOR__ENVELOPE__BODY_WELCOME, &msg) &&
	     msg.env->welcome->expected_seq == 1;
	if (ok && msg.env->welcome->max_batch_bytes < b->batch_bytes)
		b->batch_bytes = msg.env->welcome->max_batch_bytes;
	wire_msg_clear(&msg);
	buf_free(&bytes);
	return ok;
}

/* CPU time of the calling thread: ingest's, without the checkpointer's (a thread of its own). */
static double bench_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Where bench_emit hands the batches of one crawl: the clock (ms) and the last batch's share of it. */
struct bench_sink {
	struct bench *b;
	double ms, last_ms;
	double cpu_ms; /* of the thread ingest runs on: the rest of ms is waiting (fsync, mostly) */
};

/* Hands one batch to ingest and checks its ACK. The clock runs only while ingest has the batch:
 * building and encoding are the agent's work (its outbox holds batches encoded). */
static int bench_emit(void *ctx, uint64_t seq, int kind, const void *data, size_t len)
{
	struct bench_sink *sink = ctx;
	struct wire_msg msg = { 0 };
	double t0 = synth_now_ms(), c0 = bench_cpu_ms();
	int r;
	bool ok;

	(void)kind;
	r = bench_send(sink->b, data, len);
	sink->last_ms = synth_now_ms() - t0;
	sink->ms += sink->last_ms;
	sink->cpu_ms += bench_cpu_ms() - c0;
	ok = r == 0 && seq == ++sink->b->seq && bench_reply(sink->b, PROSPECTOR__ENVELOPE__BODY_ACK, &msg) &&
	     msg.env->ack->last_applied_seq == seq;
	if (!ok)
		fprintf(stderr, "bench-collector: batch %llu was not acknowledged (ingest: %d)\n", (unsigned long long)seq, r);
	wire_msg_clear(&msg);
	return ok ? 0 : -EPROTO;
}

static struct wire_source_info bench_info(void)
{
	return (struct wire_source_info){ .driver = "pg", .interval_s = 300,
					  .crawled_at_ms = (uint64_t)time(NULL) * 1000 };
}

/* Sends the batches that take old to new (old NULL: a first crawl); false when one was not acknowledged. */
static bool bench_send_crawl(struct bench *b, const struct snapshot *old, const struct snapshot *new,
			     const struct diff *d, struct bench_sink *sink, struct wire_batches_count *count)
{
	struct wire_source_info info = bench_info();

	sink->b = b;
	return wire_batches_emit(old, new, d, &info, b->batch_bytes, BENCH_INCARNATION, b->seq + 1, bench_emit, sink,
				 count) == 0;
}

/* --- a): the first crawl -------------------------------------------------------------------------- */

static bool bench_initial(struct bench *b, struct results *res)
{
	struct bench_sink sink = { 0 };
	struct wire_batches_count count;
	bool ok;

	fprintf(stderr, "bench-collector: sending the first crawl, %zu objects in batches of at most %zu bytes\n",
		b->crawl->nobjs, b->batch_bytes);
	ok = bench_send_crawl(b, NULL, b->crawl, NULL, &sink, &count);
	/* The last batch (SNAPSHOT_END) is where the staged crawl becomes the catalog: timed apart too. */
	res->initial_end_s = sink.last_ms / 1000;
	res->initial_batches = count.batches;
	res->initial_s = sink.ms / 1000;
	res->initial_cpu_s = sink.cpu_ms / 1000;
	return ok;
}

/* --- b): cycles of comment changes ---------------------------------------------------------------- */

/* A column's comment after v changes; the crawl's own at 0. */
static void bench_comment(struct obj *col, const char *base, unsigned v)
{
	char *text;

	if (!v)
		return;
	text = xasprintf("%s（第%u次修订）", base ? base : "说明", v);
	obj_set(col, "comment", text);
	free(text);
}

static void bench_dup_into(struct snapshot *slice[2], const struct snapshot *crawl, const char *key)
{
	const struct obj *o = snapshot_find(crawl, key);

	for (int i = 0; i < 2; i++) {
		struct obj *copy = obj_dup(o);

		snapshot_add(slice[i], &copy);
	}
}

/* The table holding a column, once per slice. */
static void bench_slice_table(struct bench *b, struct snapshot *slice[2], size_t t)
{
	char key[SYNTH_KEY_MAX];

	if (b->slice_mark[t] == b->cycle)
		return;
	b->slice_mark[t] = b->cycle;
	synth_table_key(t, key);
	bench_dup_into(slice, b->crawl, key);
}

static void bench_slice_column(struct bench *b, struct snapshot *slice[2], size_t g)
{
	size_t t = g / b->spec.columns, attnum = g % b->spec.columns + 1;
	char key[SYNTH_KEY_MAX];
	const struct obj *o;

	bench_slice_table(b, slice, t);
	synth_column_key(t, attnum, key);
	o = snapshot_find(b->crawl, key);
	for (int i = 0; i < 2; i++) {
		struct obj *copy = obj_dup(o);

		bench_comment(copy, obj_get(o, "comment"), b->versions[g] + (unsigned)i);
		snapshot_add(slice[i], &copy);
	}
	b->versions[g]++;
}

/* The database and every schema: few, and the slices need whichever their tables are in. */
static void bench_slice_top(struct bench *b, struct snapshot *slice[2])
{
	char key[SYNTH_KEY_MAX];

	bench_dup_into(slice, b->crawl, synth_database_key());
	for (size_t s = 0; s < b->spec.schemas; s++) {
		synth_schema_key(s, key);
		bench_dup_into(slice, b->crawl, key);
	}
}

/*
 * What the agent's crawl before and after a cycle holds of the n columns from next_column on: only
 * those columns (comments at their last version and the next) and the objects above them. Their
 * diff is the full crawls' diff, at a fraction of the cost of building 200,000-column crawls for
 * every cycle; only the root hash differs, which a DELTA batch carries but the collector only stores.
 */
static void bench_slices(struct bench *b, size_t n, struct snapshot *slice[2])
{
	size_t m = synth_table_columns(&b->spec);

	slice[0] = snapshot_new(b->spec.source);
	slice[1] = snapshot_new(b->spec.source);
	b->cycle++;
	bench_slice_top(b, slice);
	for (size_t i = 0; i < n; i++)
		bench_slice_column(b, slice, (b->next_column + i) % m);
	b->next_column = (b->next_column + n) % m;
	if (snapshot_finish(slice[0]) || snapshot_finish(slice[1])) {
		fprintf(stderr, "bench-collector: a slice does not finish: %s%s\n", slice[0]->error, slice[1]->error);
		abort();
	}
}

static size_t diff_rows(const struct diff *d)
{
	size_t rows = 0;

	for (size_t i = 0; i < d->nchanges; i++)
		rows += d->changes[i].nrows;
	return rows;
}

static bool bench_cycle(struct bench *b, size_t n, struct results *res)
{
	struct bench_sink sink = { 0 };
	struct wire_batches_count count = { 0 };
	struct snapshot *slice[2];
	struct diff *d;
	bool ok;

	bench_slices(b, n, slice);
	d = diff_snapshots(slice[0], slice[1]);
	ok = d->nchanges == n && diff_rows(d) == n;
	if (!ok)
		fprintf(stderr, "bench-collector: a cycle of %zu comment changes diffs to %zu changes\n", n, d->nchanges);
	ok = ok && bench_send_crawl(b, slice[0], slice[1], d, &sink, &count);
	res->change_ms += sink.ms;
	res->change_cpu_ms += sink.cpu_ms;
	res->change_batches += count.batches;
	res->change_rows += diff_rows(d);
	res->cycles++;
	diff_free(d);
	snapshot_free(slice[0]);
	snapshot_free(slice[1]);
	return ok;
}

static bool bench_changes(struct bench *b, struct results *res)
{
	size_t want = b->history_target > res->baseline_rows ? b->history_target - res->baseline_rows : 0;
	size_t cycle = b->cycle_changes, half = synth_table_columns(&b->spec) / 2;
	double last_report = synth_now_ms();
	bool ok = true;

	/* A cycle never changes a column twice, nor wraps round onto where it began. */
	if (cycle > half)
		cycle = b->cycle_changes = half ? half : 1;
	fprintf(stderr, "bench-collector: sending %zu change rows in cycles of %zu\n", want, cycle);
	while (ok && res->change_rows < want) {
		size_t n = want - res->change_rows < cycle ? want - res->change_rows : cycle;

		ok = bench_cycle(b, n, res);
		if (synth_now_ms() - last_report > 10000) {
			last_report = synth_now_ms();
			fprintf(stderr, "bench-collector: %zu of %zu change rows, %.0f rows/s in ingest\n", res->change_rows,
				want, res->change_rows / (res->change_ms / 1000));
		}
	}
	return ok;
}

/* --- counting and querying what the catalog holds ------------------------------------------------- */

static bool bench_ro_open(const char *path, sqlite3 **ret_db)
{
	if (sqlite3_open_v2(path, ret_db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_exec(*ret_db, "PRAGMA query_only = 1", NULL, NULL, NULL) == SQLITE_OK)
		return true;
	fprintf(stderr, "bench-collector: %s: %s\n", path, sqlite3_errmsg(*ret_db));
	return false;
}

static long long bench_count(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long n = -1;

	if (bench_ro_open(path, &db) && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static bool bench_expect(const char *what, long long got, size_t want)
{
	if (got == (long long)want)
		return true;
	fprintf(stderr, "bench-collector: the catalog holds %lld %s, %zu expected\n", got, what, want);
	return false;
}

/* The catalog holds the crawl and one history row per object of it (the baseline). */
static bool bench_check_baseline(struct bench *b, struct results *res)
{
	long long rows = bench_count(b->db, "SELECT count(*) FROM history");

	res->baseline_rows = rows > 0 ? (size_t)rows : 0;
	return bench_expect("objects", bench_count(b->db, "SELECT count(*) FROM objects"), b->crawl->nobjs) &&
	       bench_expect("baseline history rows", rows, b->crawl->nobjs);
}

static bool bench_check_history(struct bench *b, struct results *res)
{
	long long rows = bench_count(b->db, "SELECT count(*) FROM history");

	res->history_rows = rows > 0 ? (size_t)rows : 0;
	res->objects = b->crawl->nobjs;
	return bench_expect("history rows", rows, res->baseline_rows + res->change_rows);
}

/* Rows the history must show for table t: one per object at or below it, one per comment change. */
static size_t bench_table_rows(const struct bench *b, size_t t)
{
	size_t rows = synth_table_objects(&b->spec, t);

	for (size_t a = 0; a < b->spec.columns; a++)
		rows += b->versions[t * b->spec.columns + a];
	return rows;
}

/* The CLI's statement, prepared, run to the last row and finalized, as the CLI does. */
static bool bench_query_sql(sqlite3 *db, const char *path, double *ms, size_t *ret_rows)
{
	double t0 = synth_now_ms();
	sqlite3_stmt *st = NULL;
	size_t rows = 0;
	int rc = sqlite3_prepare_v2(db, history_sql, -1, &st, NULL);

	for (int i = 1; rc == SQLITE_OK && i <= 5; i++)
		sqlite3_bind_text(st, i, path, -1, SQLITE_TRANSIENT);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows++;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	*ms = synth_now_ms() - t0;
	*ret_rows = rows;
	if (rc == SQLITE_DONE)
		return true;
	fprintf(stderr, "bench-collector: the history query failed: %s\n", sqlite3_errmsg(db));
	return false;
}

/* One `prospector history --object PATH`, its output thrown away; wall time in *ms. */
static bool bench_query_cli(const struct bench *b, const char *path, double *ms)
{
	char *argv[] = { (char *)b->cli, "--db", (char *)b->db, "history", "--object", (char *)path, NULL };
	posix_spawn_file_actions_t fa;
	double t0 = synth_now_ms();
	int status = -1, r;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, b->cli, &fa, NULL, argv, environ);
	if (r == 0)
		waitpid(pid, &status, 0);
	*ms = synth_now_ms() - t0;
	posix_spawn_file_actions_destroy(&fa);
	if (r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	fprintf(stderr, "bench-collector: %s history --object %s failed (%s)\n", b->cli, path,
		r ? strerror(r) : "exit status");
	return false;
}

static bool bench_query_one(const struct bench *b, sqlite3 *db, size_t t, double *cli_ms, double *sql_ms,
			    size_t *ret_rows)
{
	char *path = synth_table_path(&b->spec, t);
	bool ok = bench_query_cli(b, path, cli_ms) && bench_query_sql(db, path, sql_ms, ret_rows);

	if (ok && *ret_rows != bench_table_rows(b, t)) {
		fprintf(stderr, "bench-collector: the history of %s has %zu rows, %zu expected\n", path, *ret_rows,
			bench_table_rows(b, t));
		ok = false;
	}
	free(path);
	return ok;
}

/* Tables spread over the catalog, each queried once, after one warm-up run of the CLI (the binary
 * and the catalog's pages come into the page cache, as on a collector in use). */
static bool bench_queries(const struct bench *b, struct results *res)
{
	double *cli = xcalloc(b->queries, sizeof(*cli)), *sql = xcalloc(b->queries, sizeof(*sql)), warm[2];
	size_t rows = 0, total = 0;
	sqlite3 *db = NULL;
	bool ok = bench_ro_open(b->db, &db) && bench_query_one(b, db, 0, &warm[0], &warm[1], &rows);

	for (size_t i = 0; ok && i < b->queries; i++) {
		size_t t = (2 * i + 1) * b->spec.tables / (2 * b->queries);

		ok = bench_query_one(b, db, t, &cli[i], &sql[i], &rows);
		total += rows;
		fprintf(stderr, "bench-collector: history of table %zu: %zu rows, %.1f ms (CLI), %.2f ms (statement)\n", t,
			rows, cli[i], sql[i]);
	}
	res->query_ms = synth_median(cli, b->queries);
	res->query_sql_ms = synth_median(sql, b->queries);
	res->query_rows = total / b->queries;
	sqlite3_close(db);
	free(cli);
	free(sql);
	return ok;
}

/* --- setting up and tearing down ------------------------------------------------------------------ */

static bool bench_open(struct bench *b, const char *parent)
{
	char err[256];

	snprintf(b->dir, sizeof(b->dir), "%s/bench-collector-XXXXXX", parent);
	if (!mkdtemp(b->dir)) {
		fprintf(stderr, "bench-collector: cannot make a directory in %s: %s\n", parent, strerror(errno));
		return false;
	}
	snprintf(b->db, sizeof(b->db), "%s/catalog.db", b->dir);
	if (catalog_open(b->db, &b->cat, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench-collector: %s\n", err);
		return false;
	}
	b->ing = ingest_new(b->cat, COLLECTOR_DEFAULT_MAX_BATCH);
	return true;
}

/* Ingest and the catalog go before the queries, as the CLI reads a catalog the collector has
 * checkpointed (catalog_close), not one whose latest pages still sit in the WAL. */
static void bench_close_catalog(struct bench *b)
{
	ingest_replies_clear(&b->out);
	ingest_free(b->ing);
	catalog_close(b->cat);
	b->ing = NULL;
	b->cat = NULL;
}

static void bench_cleanup(struct bench *b)
{
	static const char *const files[] = { "catalog.db", "catalog.db-wal", "catalog.db-shm" };
	char path[PATH_MAX + 32];

	bench_close_catalog(b);
	snapshot_free(b->crawl);
	free(b->versions);
	free(b->slice_mark);
	if (!b->dir[0])
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", b->dir, files[i]);
		unlink(path);
	}
	rmdir(b->dir);
}

static void print_json(const struct bench *b, const struct results *r)
{
	printf("{\"tables\":%zu,\"columns\":%zu,\"objects\":%zu,\"batch_bytes\":%zu,\"initial_batches\":%zu,"
	       "\"initial_apply_s\":%.3f,\"initial_end_s\":%.3f,\"initial_cpu_s\":%.3f,\"cycle_changes\":%zu,\"cycles\":%zu,"
	       "\"change_batches\":%zu,\"change_rows\":%zu,\"change_rows_per_s\":%.0f,\"change_cpu_s\":%.3f,"
	       "\"history_rows\":%zu,\"history_filled_by\":\"ingest\","
	       "\"queries\":%zu,\"history_query_ms\":%.2f,\"history_query_sql_ms\":%.3f,\"history_query_rows\":%zu}\n",
	       b->spec.tables, synth_table_columns(&b->spec), r->objects, b->batch_bytes, r->initial_batches,
	       r->initial_s, r->initial_end_s, r->initial_cpu_s, b->cycle_changes, r->cycles, r->change_batches,
	       r->change_rows, r->change_ms > 0 ? r->change_rows / (r->change_ms / 1000) : 0, r->change_cpu_ms / 1000,
	       r->history_rows, b->queries, r->query_ms,
	       r->query_sql_ms, r->query_rows);
}

static bool bench_run(struct bench *b, const char *parent, struct results *res)
{
	double t0 = synth_now_ms();

	b->crawl = synth_snapshot(&b->spec);
	b->versions = xcalloc(synth_table_columns(&b->spec), sizeof(*b->versions));
	b->slice_mark = xcalloc(b->spec.tables, sizeof(*b->slice_mark));
	fprintf(stderr, "bench-collector: built a crawl of %zu objects in %.0f ms\n", b->crawl->nobjs, synth_now_ms() - t0);
	if (!bench_open(b, parent) || !bench_hello(b) || !bench_initial(b, res) || !bench_check_baseline(b, res))
		return false;
	fprintf(stderr, "bench-collector: first crawl applied in %.2f s, %.2f s of it in the last batch\n",
		res->initial_s, res->initial_end_s);
	if (!bench_changes(b, res))
		return false;
	bench_close_catalog(b);
	return bench_check_history(b, res) && bench_queries(b, res);
}

int main(int argc, char **argv)
{
	struct bench b = { .cli = BENCH_CLI, .batch_bytes = BENCH_AGENT_MAX_BATCH };
	size_t tables = 10000, columns = 20, seed = 1;
	const char *parent = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	const struct synth_opt opts[] = {
		{ "tables", &tables, false }, { "columns", &columns, false }, { "history", &b.history_target, true },
		{ "cycle-changes", &b.cycle_changes, false }, { "batch-bytes", &b.batch_bytes, false },
		{ "queries", &b.queries, false }, { "seed", &seed, true }, { NULL, NULL, false },
	};
	const struct synth_text_opt text[] = { { "dir", &parent }, { "cli", &b.cli }, { NULL, NULL } };
	struct results res = { 0 };
	bool ok;

	b.history_target = 1000000;
	b.cycle_changes = 1000;
	b.queries = 7;
	if (!synth_args(argc, argv, opts, text, usage) || columns < 2) {
		fprintf(stderr, "%s", columns < 2 ? "bench-collector: --columns must be at least 2\n" : "");
		return 2;
	}
	log_init("bench-collector", true, false);
	b.spec = (struct synth_spec){ "bench", tables, columns, tables < 10 ? tables : 10, seed };
	ok = bench_run(&b, parent, &res);
	if (ok)
		print_json(&b, &res);
	bench_cleanup(&b);
	return ok ? 0 : 1;
}

#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "timeutil.h"
#include "xmalloc.h"

struct state {
	sqlite3 *db;
	uint64_t incarnation;
	uint64_t last_acked;
	uint64_t next_seq;
	int wal_pages; /* in the WAL since the last checkpoint (state_wal_hook) */
	int64_t page_size;
	char error[256];
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS snapshots(source TEXT PRIMARY KEY, root BLOB NOT NULL,"
	" data BLOB NOT NULL, crawled_at INTEGER NOT NULL, obs_root BLOB);"
	"CREATE TABLE IF NOT EXISTS snapshot_chunks(source TEXT NOT NULL, n INTEGER NOT NULL,"
	" data BLOB NOT NULL, PRIMARY KEY (source, n));"
	"CREATE TABLE IF NOT EXISTS outbox(seq INTEGER PRIMARY KEY, source TEXT NOT NULL,"
	" data BLOB NOT NULL, created INTEGER NOT NULL, kind INTEGER NOT NULL DEFAULT 0);";

/* Columns that came after the first release: outbox rows from before count as deltas; snapshots
 * from before have no observation hash, and are loaded to be compared. */
static const struct state_column {
	const char *table, *column, *add_sql;
} state_columns[] = {
	{ "outbox", "kind", "ALTER TABLE outbox ADD COLUMN kind INTEGER NOT NULL DEFAULT 0" },
	{ "snapshots", "obs_root", "ALTER TABLE snapshots ADD COLUMN obs_root BLOB" },
};

/* what is sometimes a whole statement: its head is enough to tell which one failed. */
static int state_sqlfail(struct state *st, const char *what)
{
	snprintf(st->error, sizeof(st->error), "state.db: %.120s: %s", what, sqlite3_errmsg(st->db));
	return -EIO;
}

static int state_exec(struct state *st, const char *sql)
{
	return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : state_sqlfail(st, sql);
}

/* Runs a one-off statement binding text (when given) then a, as far as the statement has parameters;
 * the first column of a returned row goes to *ret_value. */
static int state_step(struct state *st, const char *sql, const char *text, int64_t a, int64_t *ret_value)
{
	sqlite3_stmt *stmt;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return state_sqlfail(st, sql);
	if (text)
		sqlite3_bind_text(stmt, 1, text, -1, SQLITE_TRANSIENT);
	if (sqlite3_bind_parameter_count(stmt) >= (text ? 2 : 1))
		sqlite3_bind_int64(stmt, text ? 2 : 1, a);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && ret_value)
		*ret_value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : state_sqlfail(st, sql);
}

static int64_t state_meta(struct state *st, const char *key, int64_t fallback)
{
	int64_t v = fallback;

	state_step(st, "SELECT value FROM meta WHERE key = ?", key, 0, &v);
	return v;
}

static int state_set_meta(struct state *st, const char *key, int64_t value)
{
	return state_step(st, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", key, value, NULL);
}

static int state_migrate(struct state *st)
{
	for (size_t i = 0; i < sizeof(state_columns) / sizeof(*state_columns); i++) {
		const struct state_column *c = &state_columns[i];
		char sql[160];
		int64_t has = 0;

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM pragma_table_info('%s') WHERE name = '%s'", c->table,
			 c->column);
		if (state_step(st, sql, NULL, 0, &has) < 0 || (!has && state_exec(st, c->add_sql) < 0))
			return -EIO;
	}
	return 0;
}

static int state_init_incarnation(struct state *st)
{
	int64_t inc = state_meta(st, "incarnation", 0);

	if (inc == 0) {
		uint64_t r;

		do
			randombytes_buf(&r, sizeof(r));
		while ((r & INT64_MAX) == 0);
		inc = (int64_t)(r & INT64_MAX);
		if (state_set_meta(st, "incarnation", inc) < 0)
			return -EIO;
	}
	st->incarnation = (uint64_t)inc;
	st->last_acked = (uint64_t)state_meta(st, "last_acked", 0);
	st->next_seq = (uint64_t)state_meta(st, "next_seq", 1);
	return 0;
}

static int state_make_dir(const char *dir, char *err, size_t errlen)
{
	struct stat sb;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int e = errno;

		snprintf(err, errlen, "%s: cannot create the state directory: %s", dir, strerror(e));
		return -e;
	}
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		return -ENOTDIR;
	}
	return 0;
}

/* Creating the file ourselves first is how it gets 0600 whatever the umask. */
static int state_touch(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	close(fd);
	return 0;
}

/*
 * sqlite would checkpoint the WAL into state.db in the commit that takes it past 1,000 pages: the
 * commit that stores a first crawl of 10,000 tables (about 100 MB of batches and snapshot) would
 * write it all a second time before the agent could deliver any of it. This hook replaces that
 * automatic checkpoint; the agent calls state_checkpoint when it has nothing more urgent to do, and
 * the WAL file is cut back to STATE_WAL_KEEP_BYTES when it is next reused.
 */
#define STATE_WAL_KEEP_BYTES "4194304"

/*
 * The pages of a state.db made from now on: 64 KB, not sqlite's 4 KB. Nearly every byte the agent
 * writes is a blob of hundreds of kilobytes (a batch, a chunk of a snapshot): at 4 KB a page,
 * storing a first crawl of 10,000 tables wrote 20,000 WAL frames, two writes each, most of them
 * starting and ending inside a page of the file system, and took a third longer. A state.db made
 * before keeps its pages.
 */
#define STATE_PAGE_SIZE "65536"

/*
 * The page cache, in KB: sqlite's default is 2 MB. The agent writes blobs it never reads back within
 * a connection's life but once (a delivery, a diff's old snapshot), so a cache only holds pages on
 * their way to the WAL; the default added 2.3 MB to a first crawl's peak and saved no time.
 */
#define STATE_CACHE_KB "512"

static int state_wal_hook(void *ctx, sqlite3 *db, const char *name, int pages)
{
	(void)db;
	(void)name;
	((struct state *)ctx)->wal_pages = pages;
	return SQLITE_OK;
}

int state_open(const char *state_dir, struct state **ret_st, char *err, size_t errlen)
{
	struct state *st;
	char *path;
	int r = state_make_dir(state_dir, err, errlen);

	if (r < 0)
		return r;
	path = xasprintf("%s/state.db", state_dir);
	r = state_touch(path, err, errlen);
	if (r < 0) {
		free(path);
		return r;
	}
	st = xcalloc(1, sizeof(*st));
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
		r = -EIO;
	}
	free(path);
	if (r == 0)
		sqlite3_busy_timeout(st->db, 5000);
	if (r == 0)
		sqlite3_wal_hook(st->db, state_wal_hook, st);
	if (r == 0 && (state_exec(st, "PRAGMA page_size=" STATE_PAGE_SIZE "; PRAGMA journal_mode=WAL; "
				      "PRAGMA synchronous=FULL; PRAGMA cache_size=-" STATE_CACHE_KB "; "
				      "PRAGMA journal_size_limit=" STATE_WAL_KEEP_BYTES ";") < 0 ||
		       state_exec(st, schema_sql) < 0 || state_step(st, "PRAGMA page_size", NULL, 0, &st->page_size) < 0 ||
		       state_migrate(st) < 0 || state_init_incarnation(st) < 0)) {
		snprintf(err, errlen, "%s/%s", state_dir, st->error);
		r = -EIO;
	}
	if (r < 0) {
		state_close(st);
		return r;
	}
	*ret_st = st;
	return 0;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	free(st);
}

int state_checkpoint(struct state *st)
{
	int log = 0, done = 0;

	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) != SQLITE_OK) {
		snprintf(st->error, sizeof(st->error), "cannot checkpoint state.db: %s", sqlite3_errmsg(st->db));
		return -EIO;
	}
	if (done >= log)
		st->wal_pages = 0;
	return 0;
}

bool state_checkpoint_due(const struct state *st)
{
	return st->wal_pages * st->page_size >= STATE_WAL_MAX_BYTES;
}

void state_release_memory(struct state *st)
{
	sqlite3_db_release_memory(st->db);
}

uint64_t state_incarnation(const struct state *st)
{
	return st->incarnation;
}

uint64_t state_last_acked(const struct state *st)
{
	return st->last_acked;
}

const char *state_error(const struct state *st)
{
	return st->error;
}

/*
 * A snapshot is stored in chunks of SNAPSHOT_CHUNK bytes of its encoding (snapshot_chunks), and
 * snapshots.data is left empty. Stored as one blob, a crawl of 10,000 tables was held three times
 * over while it was written: the crawl, its 33 MB encoding, and sqlite's copy of that as a record.
 * It is read back a chunk at a time too (snapshot_reader). Each chunk is held twice while it passes,
 * as the encoder's buffer or sqlite's copy of a record: chunks of a megabyte added that to the
 * peak of a changed cycle, a few hundred kilobytes do not. A non-empty snapshots.data is a snapshot
 * stored whole, by an agent from before the chunks.
 */
#define SNAPSHOT_CHUNK (256u << 10)

/* Hands the data of a SELECT's rows (first column) to the reader; *ret_read says whether any had
 * some. A piece the reader refuses ends the reading (snapshot_reader_end reports it). */
static int state_read_pieces(struct state *st, sqlite3_stmt *stmt, struct snapshot_reader *rd, bool *ret_read)
{
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(stmt, 0);

		*ret_read |= len > 0;
		if (len && snapshot_reader_add(rd, sqlite3_column_blob(stmt, 0), len) != 0)
			return 0;
	}
	return rc == SQLITE_DONE ? 0 : state_sqlfail(st, "load snapshot");
}

/* Reads source's stored snapshot into rd, a chunk at a time; nothing when there is none. */
static int state_read_snapshot(struct state *st, const char *source, struct snapshot_reader *rd)
{
	static const char *const sql[] = {
		"SELECT data FROM snapshots WHERE source = ?",
		"SELECT data FROM snapshot_chunks WHERE source = ? ORDER BY n",
	};
	bool read = false;
	int r = 0;

	for (size_t i = 0; r == 0 && !read && i < sizeof(sql) / sizeof(*sql); i++) {
		sqlite3_stmt *stmt;

		if (sqlite3_prepare_v2(st->db, sql[i], -1, &stmt, NULL) != SQLITE_OK)
			return state_sqlfail(st, "load snapshot");
		sqlite3_bind_text(stmt, 1, source, -1, SQLITE_TRANSIENT);
		r = state_read_pieces(st, stmt, rd, &read);
		sqlite3_finalize(stmt);
	}
	return r;
}

int state_snapshot_digest(struct state *st, const char *source, struct state_digest *ret)
{
	sqlite3_stmt *stmt;
	int rc;

	memset(ret, 0, sizeof(*ret));
	if (sqlite3_prepare_v2(st->db, "SELECT root, obs_root FROM snapshots WHERE source = ?", -1, &stmt, NULL) !=
	    SQLITE_OK)
		return state_sqlfail(st, "load snapshot");
	sqlite3_bind_text(stmt, 1, source, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == sizeof(ret->root)) {
		memcpy(ret->root, sqlite3_column_blob(stmt, 0), sizeof(ret->root));
		ret->found = true;
	}
	if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 1) == sizeof(ret->obs_root)) {
		memcpy(ret->obs_root, sqlite3_column_blob(stmt, 1), sizeof(ret->obs_root));
		ret->has_obs_root = true;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : state_sqlfail(st, "load snapshot");
}

int state_load_snapshot(struct state *st, const char *source, const struct snapshot *base,
			struct snapshot **ret_snap)
{
	struct snapshot_reader *rd = snapshot_reader_new(base);
	int r = state_read_snapshot(st, source, rd);

	if (snapshot_reader_end(rd, ret_snap) != 0 && r == 0) {
		snprintf(st->error, sizeof(st->error), "state.db: the stored snapshot of '%s' is corrupt", source);
		r = STATE_E_CORRUPT;
	}
	if (r) {
		snapshot_free(*ret_snap);
		*ret_snap = NULL;
	}
	return r;
}

int state_begin(struct state *st)
{
	st->next_seq = (uint64_t)state_meta(st, "next_seq", 1);
	return state_exec(st, "BEGIN IMMEDIATE");
}

uint64_t state_next_seq(struct state *st)
{
	return st->next_seq++;
}

uint64_t state_peek_next_seq(const struct state *st)
{
	return st->next_seq;
}

int state_outbox_add(struct state *st, const struct state_row *row)
{
	sqlite3_stmt *stmt;
	int rc;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO outbox(seq, source, data, created, kind) VALUES (?, ?, ?, ?, ?)",
			       -1, &stmt, NULL) != SQLITE_OK)
		return state_sqlfail(st, "outbox insert");
	sqlite3_bind_int64(stmt, 1, (int64_t)row->seq);
	sqlite3_bind_text(stmt, 2, row->source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(stmt, 3, row->data, (int)row->len, SQLITE_STATIC); /* a batch: 1 MB not copied */
	sqlite3_bind_int64(stmt, 4, row->created ? row->created : (int64_t)time_now_ms());
	sqlite3_bind_int(stmt, 5, row->kind);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : state_sqlfail(st, "outbox insert");
}

int state_outbox_emit(void *ctx, uint64_t seq, int kind, const void *data, size_t len)
{
	const struct state_outbox_target *t = ctx;

	if (state_next_seq(t->st) != seq) {
		snprintf(t->st->error, sizeof(t->st->error), "state.db: batch %llu out of sequence",
			 (unsigned long long)seq);
		return -EIO;
	}
	return state_outbox_add(t->st, &(struct state_row){ .seq = seq, .source = t->source, .data = data, .len = len,
							     .created = t->created, .kind = kind });
}

/* Where state_write_chunk puts the pieces of an encoding. */
struct chunk_writer {
	struct state *st;
	sqlite3_stmt *stmt;
	int64_t n;
};

static int state_write_chunk(void *ctx, const void *data, size_t len)
{
	struct chunk_writer *w = ctx;
	int rc;

	sqlite3_reset(w->stmt);
	sqlite3_bind_int64(w->stmt, 2, w->n++);
	sqlite3_bind_blob(w->stmt, 3, data, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(w->stmt);
	return rc == SQLITE_DONE ? 0 : state_sqlfail(w->st, "snapshot store");
}

int state_put_snapshot(struct state *st, const struct snapshot *snap)
{
	struct chunk_writer w = { st, NULL, 0 };
	unsigned char obs_root[32];
	sqlite3_stmt *stmt;
	int rc, r;

	if (state_step(st, "DELETE FROM snapshot_chunks WHERE source = ?", snap->source, 0, NULL) < 0)
		return -EIO;
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO snapshots(source, root, data, crawled_at, obs_root) VALUES (?, ?, x'', ?, ?)",
			       -1, &stmt, NULL) != SQLITE_OK)
		return state_sqlfail(st, "snapshot store");
	snapshot_obs_hash(snap, obs_root);
	sqlite3_bind_text(stmt, 1, snap->source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(stmt, 2, snap->root, sizeof(snap->root), SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, (int64_t)time_now_ms());
	sqlite3_bind_blob(stmt, 4, obs_root, sizeof(obs_root), SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return state_sqlfail(st, "snapshot store");
	if (sqlite3_prepare_v2(st->db, "INSERT INTO snapshot_chunks(source, n, data) VALUES (?, ?, ?)", -1, &w.stmt,
			       NULL) != SQLITE_OK)
		return state_sqlfail(st, "snapshot store");
	sqlite3_bind_text(w.stmt, 1, snap->source, -1, SQLITE_TRANSIENT);
	r = snapshot_encode_chunks(snap, SNAPSHOT_CHUNK, state_write_chunk, &w);
	sqlite3_finalize(w.stmt);
	return r;
}

int state_commit(struct state *st)
{
	if (state_set_meta(st, "next_seq", (int64_t)st->next_seq) < 0 || state_exec(st, "COMMIT") < 0) {
		state_rollback(st);
		return -EIO;
	}
	return 0;
}

void state_rollback(struct state *st)
{
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->next_seq = (uint64_t)state_meta(st, "next_seq", 1);
}

int state_forget_snapshot(struct state *st, const char *source)
{
	if (state_step(st, "DELETE FROM snapshot_chunks WHERE source = ?", source, 0, NULL) < 0)
		return -EIO;
	return state_step(st, "DELETE FROM snapshots WHERE source = ?", source, 0, NULL);
}

int state_outbox_each(struct state *st, uint64_t after, size_t limit, state_outbox_cb cb, void *ctx)
{
	sqlite3_stmt *stmt;
	int rc, r = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT seq, data FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", -1, &stmt,
			       NULL) != SQLITE_OK)
		return state_sqlfail(st, "outbox read");
	sqlite3_bind_int64(stmt, 1, (int64_t)after);
	sqlite3_bind_int64(stmt, 2, (int64_t)limit);
	while (r == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		r = cb(ctx, (uint64_t)sqlite3_column_int64(stmt, 0), sqlite3_column_blob(stmt, 1),
		       (size_t)sqlite3_column_bytes(stmt, 1));
	if (r == 0 && rc != SQLITE_DONE)
		r = state_sqlfail(st, "outbox read");
	sqlite3_finalize(stmt);
	return r;
}

int state_outbox_ack(struct state *st, uint64_t seq)
{
	if (seq <= st->last_acked)
		return 0;
	if (state_exec(st, "BEGIN IMMEDIATE") < 0)
		return -EIO;
	if (state_step(st, "DELETE FROM outbox WHERE seq <= ?", NULL, (int64_t)seq, NULL) < 0 ||
	    state_set_meta(st, "last_acked", (int64_t)seq) < 0 || state_exec(st, "COMMIT") < 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	st->last_acked = seq;
	return 0;
}

int state_outbox_depth(struct state *st, uint64_t *ret_batches, uint64_t *ret_bytes)
{
	sqlite3_stmt *stmt;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*), coalesce(sum(length(data)), 0) FROM outbox", -1, &stmt,
			       NULL) != SQLITE_OK)
		return state_sqlfail(st, "outbox depth");
	rc = sqlite3_step(stmt);
	*ret_batches = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(stmt, 0) : 0;
	*ret_bytes = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(stmt, 1) : 0;
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : state_sqlfail(st, "outbox depth");
}

/* --- upkeep of the unsent part of the outbox (agent/outbox.c) ------------------------------------ */

/* The lengths are taken before the rows are grouped: grouped directly, sqlite copies every row's
 * data into its sorter and takes the lengths after, which wrote the whole unsent outbox to a
 * temporary file at every upkeep (51 batches of a first snapshot, 46 MB: 120 ms against 14). */
int state_outbox_sources(struct state *st, uint64_t from, state_source_cb cb, void *ctx)
{
	sqlite3_stmt *stmt;
	int rc, r = 0;

	if (sqlite3_prepare_v2(st->db,
			       "WITH o AS MATERIALIZED (SELECT source, length(data) AS bytes, created,"
			       " kind NOT IN (1, 2) AS change FROM outbox WHERE seq >= ?)"
			       " SELECT source, sum(bytes), min(created), max(change) FROM o GROUP BY source ORDER BY source",
			       -1, &stmt, NULL) != SQLITE_OK)
		return state_sqlfail(st, "outbox sources");
	sqlite3_bind_int64(stmt, 1, (int64_t)from);
	while (r == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct state_source_usage u = {
			.source = (const char *)sqlite3_column_text(stmt, 0),
			.bytes = (uint64_t)sqlite3_column_int64(stmt, 1),
			.oldest = sqlite3_column_int64(stmt, 2),
			.has_changes = sqlite3_column_int(stmt, 3) != 0,
		};

		r = cb(ctx, &u);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = state_sqlfail(st, "outbox sources");
	sqlite3_finalize(stmt);
	return r;
}

int state_outbox_larger_than(struct state *st, uint64_t from, size_t max_bytes, uint64_t *ret_count)
{
	int64_t n = 0;
	sqlite3_stmt *stmt;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM outbox WHERE seq >= ? AND length(data) > ?", -1, &stmt,
			       NULL) != SQLITE_OK)
		return state_sqlfail(st, "outbox sizes");
	sqlite3_bind_int64(stmt, 1, (int64_t)from);
	sqlite3_bind_int64(stmt, 2, (int64_t)max_bytes);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	*ret_count = (uint64_t)n;
	return rc == SQLITE_ROW ? 0 : state_sqlfail(st, "outbox sizes");
}

/* The rows being rewritten wait in a temporary table, so that they can be streamed back one at a
 * time: an outbox near its bound does not have to fit in memory. */
int state_outbox_detach(struct state *st, uint64_t from)
{
	if (state_exec(st, "DROP TABLE IF EXISTS temp.detached") < 0 ||
	    state_step(st, "CREATE TEMP TABLE detached AS SELECT * FROM outbox WHERE seq >= ?", NULL, (int64_t)from,
		       NULL) < 0 ||
	    state_step(st, "DELETE FROM outbox WHERE seq >= ?", NULL, (int64_t)from, NULL) < 0)
		return -EIO;
	st->next_seq = from;
	return 0;
}

int state_outbox_detached_each(struct state *st, state_row_cb cb, void *ctx)
{
	sqlite3_stmt *stmt;
	int rc, r = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT seq, source, data, created, kind FROM temp.detached ORDER BY seq", -1,
			       &stmt, NULL) != SQLITE_OK)
		return state_sqlfail(st, "outbox rewrite");
	while (r == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct state_row row = {
			.seq = (uint64_t)sqlite3_column_int64(stmt, 0),
			.source = (const char *)sqlite3_column_text(stmt, 1),
			.data = sqlite3_column_blob(stmt, 2),
			.len = (size_t)sqlite3_column_bytes(stmt, 2),
			.created = sqlite3_column_int64(stmt, 3),
			.kind = sqlite3_column_int(stmt, 4),
		};

		r = cb(ctx, &row);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = state_sqlfail(st, "outbox rewrite");
	sqlite3_finalize(stmt);
	if (state_exec(st, "DROP TABLE IF EXISTS temp.detached") < 0 && r == 0)
		r = -EIO;
	return r;
}

int64_t state_snapshot_time(struct state *st, const char *source)
{
	int64_t t = 0;

	state_step(st, "SELECT crawled_at FROM snapshots WHERE source = ?", source, 0, &t);
	return t;
}

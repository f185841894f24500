#include "catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "sha256.h"
#include "snapshot.h"
#include "xmalloc.h"

/* How long a writer waits for another connection (a CLI reader checkpointing) before failing. */
#define CATALOG_BUSY_MS 5000
/* sqlite's page cache, in KiB (negative: a size, not pages). A baseline of 200,000 columns writes
 * a few hundred MB of pages in one transaction; with the default 2 MB cache sqlite spills to the WAL
 * mid-transaction and the apply takes twice as long. */
#define CATALOG_CACHE_KIB "-65536"
/* WAL pages after which a commit wakes the checkpointer: sqlite's own wal_autocheckpoint default. */
#define CATALOG_CHECKPOINT_PAGES 1000
/* The first byte of a staged bundle; bump it when the encoding changes. Rows of one object each,
 * which an older collector staged, began with the object's kind, always below it. */
#define CATALOG_STAGE_FORMAT 0x42
/* Ancestors deeper than this are a parent cycle, not a schema (database/schema/table/column is 4). */
#define CATALOG_MAX_DEPTH 16

/*
 * The schema (shared context, schema_version 1). Beyond the documented indexes, edges are indexed
 * by via (recomputing one object's edges deletes by via) and by to_key (the CLI's incoming FKs and
 * dependents). History refuses UPDATE and DELETE: it is append-only, and the hash chain makes any
 * edit behind these triggers' back detectable.
 */
static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS agents(id TEXT PRIMARY KEY, incarnation INTEGER NOT NULL,"
	" last_seq INTEGER NOT NULL DEFAULT 0, version TEXT, hostname TEXT, first_seen INTEGER,"
	" last_seen INTEGER, outbox_depth INTEGER, rss_bytes INTEGER);"
	"CREATE TABLE IF NOT EXISTS sources(name TEXT PRIMARY KEY, agent_id TEXT NOT NULL, driver TEXT,"
	" department TEXT, system TEXT, root_hash TEXT, interval_s INTEGER, last_start INTEGER,"
	" last_end INTEGER, duration_ms INTEGER, objects INTEGER, last_error TEXT, last_warning TEXT, ok INTEGER,"
	" next_run INTEGER, last_applied INTEGER);"
	"CREATE TABLE IF NOT EXISTS objects(source TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL,"
	" parent TEXT, name TEXT NOT NULL, path TEXT NOT NULL, attrs TEXT NOT NULL, obs TEXT NOT NULL,"
	" hash BLOB NOT NULL, first_seen INTEGER NOT NULL, last_changed INTEGER NOT NULL,"
	" PRIMARY KEY(source, key)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS objects_path ON objects(path);"
	"CREATE INDEX IF NOT EXISTS objects_parent ON objects(source, parent);"
	"CREATE TABLE IF NOT EXISTS edges(source TEXT NOT NULL, from_key TEXT NOT NULL,"
	" to_key TEXT NOT NULL, kind TEXT NOT NULL, via TEXT NOT NULL,"
	" PRIMARY KEY(source, from_key, to_key, kind, via)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS edges_via ON edges(source, via);"
	"CREATE INDEX IF NOT EXISTS edges_to ON edges(source, to_key);"
	"CREATE TABLE IF NOT EXISTS history(id INTEGER PRIMARY KEY, observed INTEGER NOT NULL,"
	" recorded INTEGER NOT NULL, agent_id TEXT NOT NULL, source TEXT NOT NULL, seq INTEGER NOT NULL,"
	" key TEXT NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL, op TEXT NOT NULL, field TEXT,"
	" before TEXT, after TEXT, severity TEXT NOT NULL, heuristic INTEGER NOT NULL DEFAULT 0,"
	" origin TEXT NOT NULL, prev_hash BLOB NOT NULL, row_hash BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS history_source_key ON history(source, key);"
	"CREATE INDEX IF NOT EXISTS history_observed ON history(observed);"
	"CREATE INDEX IF NOT EXISTS history_path ON history(path);"
	"CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history"
	" BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history"
	" BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"
	"CREATE TABLE IF NOT EXISTS applied(agent_id TEXT, incarnation INTEGER, seq INTEGER, digest BLOB,"
	" recorded INTEGER, PRIMARY KEY(agent_id, incarnation, seq)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS staging(agent_id TEXT, source TEXT, key TEXT, object BLOB,"
	" PRIMARY KEY(agent_id, source, key)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS commands(id INTEGER PRIMARY KEY, source TEXT NOT NULL,"
	" kind TEXT NOT NULL, interval_s INTEGER, created INTEGER NOT NULL, sent INTEGER);"
	"CREATE INDEX IF NOT EXISTS commands_unsent ON commands(id) WHERE sent IS NULL;"
	/* Enrolled CURVE keys (Z85). A revoked key stays, so that it can never be enrolled again. */
	"CREATE TABLE IF NOT EXISTS agent_keys(public_key TEXT PRIMARY KEY, agent_id TEXT NOT NULL,"
	" department TEXT, enrolled INTEGER NOT NULL, revoked INTEGER);"
	"CREATE INDEX IF NOT EXISTS agent_keys_agent ON agent_keys(agent_id);"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');";

/*
 * Columns added to a table after schema_version 1 shipped: CREATE TABLE IF NOT EXISTS leaves an
 * existing catalog's table as it was, so each is added by ALTER TABLE when pragma table_info does
 * not list it. Additions only, all nullable: an older reader never notices them.
 */
static const struct {
	const char *table, *column, *decl;
} schema_columns[] = {
	{ "sources", "last_warning", "TEXT" },
	{ "sources", "interval_override", "INTEGER" }, /* seconds, set by 'prospector interval' */
	{ "sources", "last_ok", "INTEGER" },    /* unix ms: the end of the last successful crawl */
	{ "sources", "configured", "INTEGER" }, /* 0: its agent's last HELLO no longer listed it */
};

enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_AGENT_HELLO,
	ST_AGENT_LOOKUP,
	ST_AGENT_SET_SEQ,
	ST_AGENT_HEARTBEAT,
	ST_SOURCE_CLAIM,
	ST_SOURCE_OWNER,
	ST_SOURCE_INFO,
	ST_SOURCE_PROBE,
	ST_SOURCE_APPLIED,
	ST_SOURCES_UNLIST,
	ST_META_SET,
	ST_APPLIED_LOOKUP,
	ST_APPLIED_ADD,
	ST_OBJ_PLACEMENT,
	ST_OBJ_UPSERT,
	ST_OBJ_ALTER,
	ST_OBJ_UPDATE,
	ST_OBJ_PLACE,
	ST_OBJ_DELETE,
	ST_OBJ_REKEY,
	ST_EDGES_REKEY,
	ST_OBJ_MOVE_DESCENDANTS,
	ST_OBJ_OBS,
	ST_OBJ_LOAD,
	ST_OBJ_LOAD_ATTRS,
	ST_OBJ_LOAD_OBS,
	ST_EDGE_DELETE,
	ST_EDGE_INSERT,
	ST_HISTORY_LAST,
	ST_HISTORY_INSERT,
	ST_STAGE_PUT,
	ST_STAGE_LOAD,
	ST_STAGE_CLEAR,
	ST_COMMANDS_PENDING,
	ST_COMMAND_SENT,
	ST_OVERRIDES,
	ST_SOURCE_OBJECTS,
	ST_KEY_AGENT,
	ST_KEY_LOOKUP,
	ST_KEY_ENROLL,
	ST_KEY_REVOKE,
	ST_COUNT
};

/* One statement per query, prepared once at open. */
static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	/* In DO UPDATE, bare column names are the stored row: a new incarnation restarts the sequence. */
	[ST_AGENT_HELLO] = "INSERT INTO agents(id, incarnation, last_seq, version, hostname, first_seen, last_seen)"
			   " VALUES(?1, ?2, 0, ?3, ?4, ?5, ?5) ON CONFLICT(id) DO UPDATE SET"
			   " last_seq = CASE WHEN incarnation = excluded.incarnation THEN last_seq ELSE 0 END,"
			   " incarnation = excluded.incarnation, version = excluded.version,"
			   " hostname = excluded.hostname, last_seen = excluded.last_seen",
	[ST_AGENT_LOOKUP] = "SELECT incarnation, last_seq FROM agents WHERE id = ?1",
	[ST_AGENT_SET_SEQ] = "UPDATE agents SET last_seq = ?2, last_seen = ?3 WHERE id = ?1",
	[ST_AGENT_HEARTBEAT] = "UPDATE agents SET version = COALESCE(?2, version),"
			       " outbox_depth = COALESCE(?3, outbox_depth), rss_bytes = COALESCE(?4, rss_bytes),"
			       " last_seen = ?5 WHERE id = ?1",
	[ST_SOURCE_CLAIM] = "INSERT INTO sources(name, agent_id) VALUES(?1, ?2) ON CONFLICT(name) DO NOTHING",
	[ST_SOURCE_OWNER] = "SELECT agent_id FROM sources WHERE name = ?1",
	[ST_SOURCE_INFO] = "UPDATE sources SET driver = COALESCE(?2, driver), department = COALESCE(?3, department),"
			   " system = COALESCE(?4, system), interval_s = COALESCE(?5, interval_s), configured = 1"
			   " WHERE name = ?1",
	[ST_SOURCE_PROBE] = "UPDATE sources SET last_start = COALESCE(?2, last_start),"
			    " last_end = COALESCE(?3, last_end), duration_ms = COALESCE(?4, duration_ms),"
			    " objects = COALESCE(?5, objects), next_run = COALESCE(?6, next_run),"
			    " interval_s = COALESCE(?7, interval_s), ok = COALESCE(?8, ok), last_error = ?9,"
			    " root_hash = COALESCE(?10, root_hash), last_warning = ?11,"
			    " last_ok = CASE WHEN ?8 = 1 THEN COALESCE(?3, last_ok) ELSE last_ok END WHERE name = ?1",
	[ST_SOURCE_APPLIED] = "UPDATE sources SET last_applied = ?2, root_hash = COALESCE(?3, root_hash),"
			      " last_ok = max(COALESCE(last_ok, 0), ?4) WHERE name = ?1",
	[ST_SOURCES_UNLIST] = "UPDATE sources SET configured = 0 WHERE agent_id = ?1",
	[ST_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
	[ST_KEY_AGENT] = "SELECT agent_id FROM agent_keys WHERE public_key = ?1 AND revoked IS NULL",
	[ST_KEY_LOOKUP] = "SELECT agent_id, revoked FROM agent_keys WHERE public_key = ?1",
	[ST_KEY_ENROLL] = "INSERT INTO agent_keys(public_key, agent_id, department, enrolled) VALUES(?1, ?2, ?3, ?4)",
	[ST_KEY_REVOKE] = "UPDATE agent_keys SET revoked = ?2 WHERE agent_id = ?1 AND revoked IS NULL",
	[ST_APPLIED_LOOKUP] = "SELECT digest FROM applied WHERE agent_id = ?1 AND incarnation = ?2 AND seq = ?3",
	[ST_APPLIED_ADD] = "INSERT INTO applied(agent_id, incarnation, seq, digest, recorded)"
			   " VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_OBJ_PLACEMENT] = "SELECT path, parent FROM objects WHERE source = ?1 AND key = ?2",
	[ST_OBJ_UPSERT] = "INSERT INTO objects(source, key, kind, parent, name, path, attrs, obs, hash,"
			  " first_seen, last_changed) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)"
			  " ON CONFLICT(source, key) DO UPDATE SET kind = excluded.kind,"
			  " parent = excluded.parent, name = excluded.name, path = excluded.path,"
			  " attrs = excluded.attrs, obs = excluded.obs, hash = excluded.hash,"
			  " last_changed = excluded.last_changed",
	/* An ALTER of a stored object. Parent and path, which the indexes hold, are set apart and
	 * only when they moved: setting them anyway rewrites both index entries, doubling the cost.
	 * ST_OBJ_ALTER is the ALTER of an object that stays the same kind at the same place (nearly
	 * every one): one seek, where reading the placement first cost another. Where it changes no
	 * row, ST_OBJ_PLACEMENT and ST_OBJ_UPDATE take the longer way. (RETURNING the placement cost
	 * more than that SELECT: sqlite opens a temporary table for it at every execution.) */
	[ST_OBJ_ALTER] = "UPDATE objects SET name = ?4, attrs = ?5, obs = ?6, hash = ?7, last_changed = ?8"
			 " WHERE source = ?1 AND key = ?2 AND kind = ?3 AND path = ?9 AND parent IS ?10",
	[ST_OBJ_UPDATE] = "UPDATE objects SET kind = ?3, name = ?4, attrs = ?5, obs = ?6, hash = ?7, last_changed = ?8"
			  " WHERE source = ?1 AND key = ?2",
	[ST_OBJ_PLACE] = "UPDATE objects SET parent = ?3, path = ?4 WHERE source = ?1 AND key = ?2",
	[ST_OBJ_DELETE] = "DELETE FROM objects WHERE source = ?1 AND key = ?2",
	[ST_OBJ_REKEY] = "UPDATE objects SET key = ?3 WHERE source = ?1 AND key = ?2",
	[ST_EDGES_REKEY] = "UPDATE edges SET from_key = CASE from_key WHEN ?2 THEN ?3 ELSE from_key END,"
			   " to_key = CASE to_key WHEN ?2 THEN ?3 ELSE to_key END,"
			   " via = CASE via WHEN ?2 THEN ?3 ELSE via END"
			   " WHERE source = ?1 AND (from_key = ?2 OR to_key = ?2 OR via = ?2)",
	/* Descendants by the parent chain, and only those whose path really starts with the old path
	 * followed by a separator: a table named "t.x" beside table "t" is not t's column x. */
	[ST_OBJ_MOVE_DESCENDANTS] =
		"WITH RECURSIVE d(k) AS (SELECT key FROM objects WHERE source = ?1 AND parent = ?2"
		" UNION SELECT o.key FROM objects o JOIN d ON o.source = ?1 AND o.parent = d.k)"
		" UPDATE objects SET path = ?4 || substr(path, length(?3) + 1)"
		" WHERE source = ?1 AND key IN d AND substr(path, 1, length(?3)) = ?3"
		" AND substr(path, length(?3) + 1, 1) IN ('/', '.', '#')",
	[ST_OBJ_OBS] = "UPDATE objects SET obs = ?3 WHERE source = ?1 AND key = ?2",
	[ST_OBJ_LOAD] = "SELECT key, kind, parent, name, path FROM objects WHERE source = ?1 ORDER BY key",
	[ST_OBJ_LOAD_ATTRS] = "SELECT o.key, j.key, j.value FROM objects o, json_each(o.attrs) j"
			      " WHERE o.source = ?1 ORDER BY o.key",
	[ST_OBJ_LOAD_OBS] = "SELECT o.key, j.key, j.value FROM objects o, json_each(o.obs) j"
			    " WHERE o.source = ?1 ORDER BY o.key",
	[ST_EDGE_DELETE] = "DELETE FROM edges WHERE source = ?1 AND via = ?2",
	[ST_EDGE_INSERT] = "INSERT OR IGNORE INTO edges(source, from_key, to_key, kind, via)"
			   " VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_HISTORY_LAST] = "SELECT row_hash FROM history ORDER BY id DESC LIMIT 1",
	[ST_HISTORY_INSERT] = "INSERT INTO history(observed, recorded, agent_id, source, seq, key, kind, path,"
			      " op, field, before, after, severity, heuristic, origin, prev_hash, row_hash)"
			      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
	[ST_STAGE_PUT] = "INSERT OR REPLACE INTO staging(agent_id, source, key, object) VALUES(?1, ?2, ?3, ?4)",
	[ST_STAGE_LOAD] = "SELECT object FROM staging WHERE agent_id = ?1 AND source = ?2",
	[ST_STAGE_CLEAR] = "DELETE FROM staging WHERE agent_id = ?1 AND source = ?2",
	/* A command for a source nobody owns (any more) has no agent: it waits like any other. */
	[ST_COMMANDS_PENDING] = "SELECT c.id, c.source, c.kind, c.interval_s, s.agent_id FROM commands c"
				" LEFT JOIN sources s ON s.name = c.source WHERE c.sent IS NULL ORDER BY c.id",
	[ST_COMMAND_SENT] = "UPDATE commands SET sent = ?2 WHERE id = ?1",
	/* Key order under sqlite's BINARY collation (memcmp) is the agent's strcmp order. */
	[ST_SOURCE_OBJECTS] = "SELECT key, hash FROM objects WHERE source = ?1 ORDER BY key",
	[ST_OVERRIDES] = "SELECT name, interval_override FROM sources"
			 " WHERE agent_id = ?1 AND interval_override > 0 ORDER BY name",
};

/*
 * The checkpointer copies the WAL back into the main file on a thread and a connection of its own,
 * so that no commit waits for it. sqlite's automatic checkpoint runs inside the COMMIT that crosses
 * its threshold: the baseline of a 200,000-column source leaves some 230 MB of pages in the WAL, and
 * its COMMIT spent 1.2 s copying them into the main file before the batch could be acknowledged. A
 * commit is durable once the WAL is synced (synchronous=FULL); the checkpoint is housekeeping. It is
 * PASSIVE: it never blocks the writer nor waits for readers, and what it leaves is copied by the next
 * one. Started by the first commit that makes one due, so that the CLI's short writes never start it.
 */
struct checkpointer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	sqlite3 *db;
	bool started, due, quit;
};

struct catalog {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	struct checkpointer ckpt;
	/* Reused for every row: an object's JSON, a history row's hashed encoding. */
	struct buf attrs_json, obs_json, history_enc;
	struct buf path; /* where a leaf's path is joined (obj_path) */
	/* The row_hash of the last history row, read once and then kept; a rollback forgets it. */
	unsigned char chain[32];
	bool chain_known;
	char error[256];
};

/* Which REFS attribute of which kind becomes which edge. from_attr NULL: the edge starts at the
 * object itself; otherwise from_attr[i] pairs with to_attr[i] (a foreign key's columns). When
 * to_attr is absent but or_parent_if is set, the edge goes to the object's parent (a partition
 * whose driver reports only partition_bound: its parent is the partitioned table). */
struct edge_rule {
	const char *from_attr;
	const char *to_attr;
	const char *edge_kind;
	const char *or_parent_if;
};

static const struct edge_rule edge_rules[OBJ_KIND_COUNT] = {
	[OBJ_FOREIGN_KEY] = { "columns", "ref_columns", "fk", NULL },
	[OBJ_VIEW] = { NULL, "depends_on", "view_dep", NULL },
	[OBJ_MATVIEW] = { NULL, "depends_on", "view_dep", NULL },
	[OBJ_TABLE] = { NULL, "partition_of", "partition", "partition_bound" },
	[OBJ_SEQUENCE] = { NULL, "owned_by", "owned_by", NULL },
};

/* --- sqlite plumbing ------------------------------------------------------------------------ */

static int cat_fail(struct catalog *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cat_fail(struct catalog *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return code;
}

static int cat_sqlerr(struct catalog *c, int rc)
{
	snprintf(c->error, sizeof(c->error), "catalog: %s", sqlite3_errmsg(c->db));
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return -EBUSY;
	if (rc == SQLITE_FULL)
		return -ENOSPC;
	return -EIO;
}

/* Runs a statement that returns no row we want, and resets it. */
static int cat_run(struct catalog *c, enum stmt id)
{
	sqlite3_stmt *st = c->st[id];
	int rc = sqlite3_step(st);
	int r = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : cat_sqlerr(c, rc);

	sqlite3_reset(st);
	return r;
}

/* Steps a query: 1 with a row, 0 when done (the statement is reset), negative on failure. */
static int cat_row(struct catalog *c, enum stmt id)
{
	sqlite3_stmt *st = c->st[id];
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : cat_sqlerr(c, rc);
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

/* Negative: not reported, bound as NULL so that COALESCE keeps the stored value. */
static void bind_opt(sqlite3_stmt *st, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	if (p)
		sqlite3_bind_blob64(st, i, p, n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static const char *col_str(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* --- threads -------------------------------------------------------------------------------- */

/* Our threads take no signals: they go to the main thread, whose poll they must interrupt. */
static int cat_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

/* --- the checkpointer ---------------------------------------------------------------------- */

static void *ckpt_main(void *arg)
{
	struct checkpointer *k = arg;

	pthread_mutex_lock(&k->lock);
	while (!k->quit) {
		if (!k->due) {
			pthread_cond_wait(&k->wake, &k->lock);
			continue;
		}
		k->due = false;
		pthread_mutex_unlock(&k->lock);
		/* A failure (a full disk) leaves the pages in the WAL for the next checkpoint; the
		 * writer's own statements report the condition. */
		sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

static int ckpt_start(struct checkpointer *k, const char *path)
{
	int r;

	if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(k->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(k->db);
		k->db = NULL;
		return -EIO;
	}
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->wake, NULL);
	k->due = k->quit = false;
	r = cat_thread_start(&k->thread, ckpt_main, k);
	if (r) {
		pthread_cond_destroy(&k->wake);
		pthread_mutex_destroy(&k->lock);
		sqlite3_close(k->db);
		k->db = NULL;
		return r;
	}
	k->started = true;
	return 0;
}

static void ckpt_stop(struct checkpointer *k)
{
	if (!k->started)
		return;
	pthread_mutex_lock(&k->lock);
	k->quit = true;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	pthread_cond_destroy(&k->wake);
	pthread_mutex_destroy(&k->lock);
	sqlite3_close(k->db);
	k->started = false;
}

/* Called by sqlite after every commit, with the number of pages the WAL holds. Where no thread can
 * be had, the checkpoint runs here, as sqlite's own would. */
static int cat_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct catalog *c = arg;
	struct checkpointer *k = &c->ckpt;

	if (pages < CATALOG_CHECKPOINT_PAGES)
		return SQLITE_OK;
	if (!k->started && ckpt_start(k, sqlite3_db_filename(db, name)) != 0) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	pthread_mutex_lock(&k->lock);
	k->due = true;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->lock);
	return SQLITE_OK;
}

/* --- open and close ------------------------------------------------------------------------- */

/* sqlite creates files with the process umask; the catalog is private, and sqlite gives the WAL
 * and shared-memory files the main file's mode. */
static int cat_create_private(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int cat_exec(struct catalog *c, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);

	if (rc == SQLITE_OK)
		return 0;
	snprintf(c->error, sizeof(c->error), "catalog: %s", msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return rc == SQLITE_BUSY ? -EBUSY : -EIO;
}

static int cat_pragmas(struct catalog *c)
{
	sqlite3_stmt *st;
	int r;

	sqlite3_busy_timeout(c->db, CATALOG_BUSY_MS);
	if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK)
		return cat_sqlerr(c, SQLITE_ERROR);
	r = sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
	sqlite3_finalize(st);
	if (!r)
		return cat_fail(c, -EIO, "catalog: cannot switch to WAL journal mode");
	sqlite3_wal_hook(c->db, cat_wal_hook, c); /* replaces sqlite's automatic checkpoint */
	return cat_exec(c, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
			   " PRAGMA cache_size = " CATALOG_CACHE_KIB "; PRAGMA temp_store = MEMORY;");
}

static int cat_check_version(struct catalog *c)
{
	sqlite3_stmt *st;
	char version[32] = "";

	if (sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, NULL) !=
	    SQLITE_OK)
		return cat_sqlerr(c, SQLITE_ERROR);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(version, sizeof(version), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (atoi(version) != CATALOG_SCHEMA_VERSION)
		return cat_fail(c, CATALOG_E_SCHEMA, "catalog has schema version '%s', this build knows %d",
				version, CATALOG_SCHEMA_VERSION);
	return 0;
}

/* 1 when table has column, 0 when not, negative on failure. */
static int cat_has_column(struct catalog *c, const char *table, const char *column)
{
	sqlite3_stmt *st;
	int rc, found = 0;

	if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st, NULL) !=
	    SQLITE_OK)
		return cat_sqlerr(c, SQLITE_ERROR);
	bind_str(st, 1, table);
	bind_str(st, 2, column);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		found = 1;
	else if (rc != SQLITE_DONE)
		found = cat_sqlerr(c, rc);
	sqlite3_finalize(st);
	return found;
}

static int cat_add_columns(struct catalog *c)
{
	char sql[256];
	int r = 0;

	for (size_t i = 0; r == 0 && i < sizeof(schema_columns) / sizeof(schema_columns[0]); i++) {
		r = cat_has_column(c, schema_columns[i].table, schema_columns[i].column);
		if (r != 0) {
			r = r > 0 ? 0 : r;
			continue;
		}
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", schema_columns[i].table,
			 schema_columns[i].column, schema_columns[i].decl);
		r = cat_exec(c, sql);
	}
	return r;
}

static int cat_schema(struct catalog *c)
{
	int r = cat_exec(c, "BEGIN IMMEDIATE");

	if (r == 0)
		r = cat_exec(c, schema_sql);
	if (r == 0)
		r = cat_add_columns(c);
	if (r == 0)
		r = cat_check_version(c);
	if (r == 0)
		return cat_exec(c, "COMMIT");
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static int cat_prepare(struct catalog *c)
{
	for (int i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(c->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL) !=
		    SQLITE_OK)
			return cat_sqlerr(c, SQLITE_ERROR);
	return 0;
}

static void cat_free(struct catalog *c)
{
	ckpt_stop(&c->ckpt);
	buf_free(&c->attrs_json);
	buf_free(&c->path);
	buf_free(&c->obs_json);
	buf_free(&c->history_enc);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->db);
	free(c);
}

/* sqlite keeps statistics of its memory under a global mutex, taken at every allocation, and
 * nothing here reads them. They can be turned off only before sqlite initializes, which the first
 * catalog_open of a collector precedes; where it comes later, the call changes nothing. */
static void cat_sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int catalog_open(const char *path, struct catalog **ret_c, char *err, size_t errlen)
{
	static pthread_once_t setup = PTHREAD_ONCE_INIT;
	struct catalog *c = xcalloc(1, sizeof(*c));
	int r = cat_create_private(path);

	pthread_once(&setup, cat_sqlite_setup);

	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		free(c);
		return r;
	}
	/* One thread uses this connection (the checkpointer has its own). sqlite's locking, of the
	 * connection at every call and of its memory statistics at every allocation, was a tenth of
	 * the CPU ingest spent on a delta. */
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		r = cat_sqlerr(c, SQLITE_CANTOPEN);
	if (r == 0)
		r = cat_pragmas(c);
	if (r == 0)
		r = cat_schema(c);
	if (r == 0)
		r = cat_prepare(c);
	if (r) {
		snprintf(err, errlen, "%s: %s", path, c->error);
		cat_free(c);
		return r;
	}
	*ret_c = c;
	return 0;
}

void catalog_close(struct catalog *c)
{
	if (!c)
		return;
	ckpt_stop(&c->ckpt);
	sqlite3_exec(c->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	cat_free(c);
}

const char *catalog_error(const struct catalog *c)
{
	return c->error;
}

int catalog_begin(struct catalog *c)
{
	return cat_run(c, ST_BEGIN);
}

int catalog_commit(struct catalog *c)
{
	int r = cat_run(c, ST_COMMIT);

	if (r)
		catalog_rollback(c);
	return r;
}

void catalog_rollback(struct catalog *c)
{
	if (!sqlite3_get_autocommit(c->db))
		cat_run(c, ST_ROLLBACK);
	c->chain_known = false;
}

/* --- agents and sources ------------------------------------------------------------------- */

int catalog_agent_hello(struct catalog *c, const char *id, uint64_t incarnation, const char *version,
			const char *hostname, uint64_t now_ms, uint64_t *ret_last_seq)
{
	sqlite3_stmt *st = c->st[ST_AGENT_HELLO];
	uint64_t inc;
	int r;

	bind_str(st, 1, id);
	bind_u64(st, 2, incarnation);
	bind_str(st, 3, version);
	bind_str(st, 4, hostname);
	bind_u64(st, 5, now_ms);
	r = cat_run(c, ST_AGENT_HELLO);
	return r ? r : catalog_agent_lookup(c, id, &inc, ret_last_seq);
}

int catalog_agent_lookup(struct catalog *c, const char *id, uint64_t *ret_incarnation, uint64_t *ret_last_seq)
{
	sqlite3_stmt *st = c->st[ST_AGENT_LOOKUP];
	int r;

	bind_str(st, 1, id);
	r = cat_row(c, ST_AGENT_LOOKUP);
	if (r <= 0)
		return r < 0 ? r : cat_fail(c, CATALOG_E_UNKNOWN_AGENT, "unknown agent '%s'", id);
	*ret_incarnation = (uint64_t)sqlite3_column_int64(st, 0);
	*ret_last_seq = (uint64_t)sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return 0;
}

int catalog_agent_set_seq(struct catalog *c, const char *id, uint64_t seq, uint64_t now_ms)
{
	sqlite3_stmt *st = c->st[ST_AGENT_SET_SEQ];

	bind_str(st, 1, id);
	bind_u64(st, 2, seq);
	bind_u64(st, 3, now_ms);
	return cat_run(c, ST_AGENT_SET_SEQ);
}

int catalog_agent_heartbeat(struct catalog *c, const char *id, const char *version, int64_t outbox_depth,
			    int64_t rss_bytes, uint64_t now_ms)
{
	sqlite3_stmt *st = c->st[ST_AGENT_HEARTBEAT];

	bind_str(st, 1, id);
	bind_str(st, 2, version);
	bind_opt(st, 3, outbox_depth);
	bind_opt(st, 4, rss_bytes);
	bind_u64(st, 5, now_ms);
	return cat_run(c, ST_AGENT_HEARTBEAT);
}

/* Creates the source for agent_id unless it exists, then checks who owns it. */
static int cat_source_claim(struct catalog *c, const char *agent_id, const char *name)
{
	sqlite3_stmt *st = c->st[ST_SOURCE_CLAIM];
	int r;

	bind_str(st, 1, name);
	bind_str(st, 2, agent_id);
	r = cat_run(c, ST_SOURCE_CLAIM);
	if (r)
		return r;
	st = c->st[ST_SOURCE_OWNER];
	bind_str(st, 1, name);
	r = cat_row(c, ST_SOURCE_OWNER);
	if (r < 0)
		return r;
	if (r > 0 && strcmp(col_str(st, 0), agent_id) != 0)
		r = cat_fail(c, CATALOG_E_SOURCE_OWNED, "source '%s' is fed by agent '%s'", name, col_str(st, 0));
	else
		r = 0;
	sqlite3_reset(st);
	return r;
}

int catalog_source_upsert(struct catalog *c, const char *agent_id, const struct catalog_source *s)
{
	sqlite3_stmt *st = c->st[ST_SOURCE_INFO];
	int r = cat_source_claim(c, agent_id, s->name);

	if (r)
		return r;
	bind_str(st, 1, s->name);
	bind_str(st, 2, s->driver);
	bind_str(st, 3, s->department);
	bind_str(st, 4, s->system);
	bind_opt(st, 5, s->interval_s);
	return cat_run(c, ST_SOURCE_INFO);
}

int catalog_probe_update(struct catalog *c, const char *agent_id, const struct catalog_probe *p)
{
	sqlite3_stmt *st = c->st[ST_SOURCE_PROBE];
	char hex[65];
	int r = cat_source_claim(c, agent_id, p->source);

	if (r)
		return r;
	if (p->root_hash)
		hash_hex(p->root_hash, hex);
	bind_str(st, 1, p->source);
	bind_opt(st, 2, p->last_start);
	bind_opt(st, 3, p->last_end);
	bind_opt(st, 4, p->duration_ms);
	bind_opt(st, 5, p->objects);
	bind_opt(st, 6, p->next_run);
	bind_opt(st, 7, p->interval_s);
	bind_opt(st, 8, p->ok);
	bind_str(st, 9, p->error);
	bind_str(st, 10, p->root_hash ? hex : NULL);
	bind_str(st, 11, p->warning);
	return cat_run(c, ST_SOURCE_PROBE);
}

/* --- commands ------------------------------------------------------------------------------- */

/* Command kinds as the commands table spells them. */
static const char *const command_kinds[] = {
	[CATALOG_CMD_PROBE_NOW] = "probe_now",
	[CATALOG_CMD_SET_INTERVAL] = "set_interval",
};

static int cat_command_kind(const char *name)
{
	for (size_t i = 0; name && i < sizeof(command_kinds) / sizeof(command_kinds[0]); i++)
		if (strcmp(command_kinds[i], name) == 0)
			return (int)i;
	return -1;
}

int catalog_commands_pending(struct catalog *c, catalog_command_fn fn, void *ctx)
{
	sqlite3_stmt *st = c->st[ST_COMMANDS_PENDING];
	int r;

	while ((r = cat_row(c, ST_COMMANDS_PENDING)) > 0) {
		struct catalog_command cmd = {
			.id = sqlite3_column_int64(st, 0), .source = col_str(st, 1),
			.kind = cat_command_kind(col_str(st, 2)),
			.interval_s = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3),
			.agent_id = col_str(st, 4),
		};

		if ((r = fn(ctx, &cmd)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	return r;
}

int catalog_command_sent(struct catalog *c, int64_t id, uint64_t now_ms)
{
	sqlite3_stmt *st = c->st[ST_COMMAND_SENT];

	sqlite3_bind_int64(st, 1, id);
	bind_u64(st, 2, now_ms);
	return cat_run(c, ST_COMMAND_SENT);
}

int catalog_interval_overrides(struct catalog *c, const char *agent_id, catalog_command_fn fn, void *ctx)
{
	sqlite3_stmt *st = c->st[ST_OVERRIDES];
	int r;

	bind_str(st, 1, agent_id);
	while ((r = cat_row(c, ST_OVERRIDES)) > 0) {
		struct catalog_command cmd = {
			.id = -1, .source = col_str(st, 0), .kind = CATALOG_CMD_SET_INTERVAL,
			.interval_s = sqlite3_column_int64(st, 1), .agent_id = agent_id,
		};

		if ((r = fn(ctx, &cmd)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	return r;
}

int64_t catalog_data_version(struct catalog *c)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(c->db, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int catalog_source_root(struct catalog *c, const char *source, unsigned char ret_root[32])
{
	sqlite3_stmt *st = c->st[ST_SOURCE_OBJECTS];
	struct root_hasher h;
	int r;

	root_hash_init(&h);
	bind_str(st, 1, source);
	while ((r = cat_row(c, ST_SOURCE_OBJECTS)) > 0) {
		if (sqlite3_column_bytes(st, 1) != 32) {
			r = cat_fail(c, -EBADMSG, "object '%s' of source '%s' has no valid hash", col_str(st, 0), source);
			sqlite3_reset(st);
			return r;
		}
		root_hash_add(&h, col_str(st, 0), sqlite3_column_blob(st, 1));
	}
	root_hash_final(&h, ret_root);
	return r;
}

/* --- batches -------------------------------------------------------------------------------- */

int catalog_applied_lookup(struct catalog *c, const char *agent_id, uint64_t incarnation, uint64_t seq,
			   unsigned char ret_digest[32])
{
	sqlite3_stmt *st = c->st[ST_APPLIED_LOOKUP];
	int r;

	bind_str(st, 1, agent_id);
	bind_u64(st, 2, incarnation);
	bind_u64(st, 3, seq);
	r = cat_row(c, ST_APPLIED_LOOKUP);
	if (r <= 0)
		return r < 0 ? r : cat_fail(c, CATALOG_E_NOT_FOUND, "batch %llu not applied", (unsigned long long)seq);
	memset(ret_digest, 0, 32);
	if (sqlite3_column_bytes(st, 0) == 32)
		memcpy(ret_digest, sqlite3_column_blob(st, 0), 32);
	sqlite3_reset(st);
	return 0;
}

int catalog_applied_add(struct catalog *c, const struct catalog_batch *b, const unsigned char digest[32])
{
	sqlite3_stmt *st = c->st[ST_APPLIED_ADD];

	bind_str(st, 1, b->agent_id);
	bind_u64(st, 2, b->incarnation);
	bind_u64(st, 3, b->seq);
	bind_blob(st, 4, digest, 32);
	bind_u64(st, 5, b->recorded_ms);
	return cat_run(c, ST_APPLIED_ADD);
}

int catalog_source_applied(struct catalog *c, const struct catalog_batch *b, const unsigned char *root_hash)
{
	sqlite3_stmt *st = c->st[ST_SOURCE_APPLIED];
	char hex[65];

	if (root_hash)
		hash_hex(root_hash, hex);
	bind_str(st, 1, b->source);
	bind_u64(st, 2, b->recorded_ms);
	bind_str(st, 3, root_hash ? hex : NULL);
	bind_u64(st, 4, b->observed_ms); /* an applied batch is a crawl that succeeded */
	return cat_run(c, ST_SOURCE_APPLIED);
}

int catalog_agent_unlist_sources(struct catalog *c, const char *agent_id)
{
	bind_str(c->st[ST_SOURCES_UNLIST], 1, agent_id);
	return cat_run(c, ST_SOURCES_UNLIST);
}

/* --- enrolled keys ------------------------------------------------------------------------- */

int catalog_key_agent(struct catalog *c, const char *public_key, char *agent_id, size_t len)
{
	sqlite3_stmt *st = c->st[ST_KEY_AGENT];
	int r;

	bind_str(st, 1, public_key);
	r = cat_row(c, ST_KEY_AGENT);
	if (r > 0)
		snprintf(agent_id, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return r > 0 ? 0 : r == 0 ? CATALOG_E_NOT_FOUND : r;
}

int catalog_key_enroll(struct catalog *c, const char *agent_id, const char *public_key, const char *department,
		       uint64_t now_ms)
{
	sqlite3_stmt *st = c->st[ST_KEY_LOOKUP];
	int r;

	bind_str(st, 1, public_key);
	r = cat_row(c, ST_KEY_LOOKUP);
	if (r > 0) {
		bool revoked = sqlite3_column_type(st, 1) != SQLITE_NULL;

		snprintf(c->error, sizeof(c->error), "this key is %s agent '%s'%s",
			 revoked ? "revoked: it belonged to" : "already enrolled for",
			 (const char *)sqlite3_column_text(st, 0),
			 revoked ? "; a revoked key is never admitted again, generate a new one" : "");
		sqlite3_reset(st);
		return CATALOG_E_KEY_TAKEN;
	}
	sqlite3_reset(st);
	if (r < 0)
		return r;
	st = c->st[ST_KEY_ENROLL];
	bind_str(st, 1, public_key);
	bind_str(st, 2, agent_id);
	bind_str(st, 3, department);
	bind_u64(st, 4, now_ms);
	return cat_run(c, ST_KEY_ENROLL);
}

int catalog_key_revoke(struct catalog *c, const char *agent_id, uint64_t now_ms, int *ret_count)
{
	sqlite3_stmt *st = c->st[ST_KEY_REVOKE];
	int r;

	bind_str(st, 1, agent_id);
	bind_u64(st, 2, now_ms);
	r = cat_run(c, ST_KEY_REVOKE);
	*ret_count = r == 0 ? sqlite3_changes(c->db) : 0;
	return r;
}

int catalog_meta_set(struct catalog *c, const char *key, const char *value)
{
	bind_str(c->st[ST_META_SET], 1, key);
	bind_str(c->st[ST_META_SET], 2, value);
	return cat_run(c, ST_META_SET);
}

/* --- objects -------------------------------------------------------------------------------- */

/* Names and values to store: an object's attributes or observations (o, read through at), or an
 * array of them (a), as a batch's observation updates bring. */
struct attr_list {
	const struct obj *o;
	obj_attr_fn at;
	const struct attr *a;
	size_t n;
};

/* {"name":"value",...}; REFS values stay raw (keys joined by MODEL_REF_SEP, escaped as \u001f). */
static void attrs_json(struct buf *b, const struct attr_list *l)
{
	buf_reset(b);
	buf_addc(b, '{');
	for (size_t i = 0; i < l->n; i++) {
		struct attr a = l->o ? l->at(l->o, i) : l->a[i];

		if (i)
			buf_addc(b, ',');
		buf_add_json_str(b, a.name);
		buf_addc(b, ':');
		buf_add_json_str(b, a.value);
	}
	buf_addc(b, '}');
}

static void obs_json(struct catalog *c, const struct obj *o)
{
	attrs_json(&c->obs_json, &(struct attr_list){ .o = o, .at = obj_ob, .n = o->nobs });
}

static void obj_json(struct catalog *c, const struct obj *o)
{
	attrs_json(&c->attrs_json, &(struct attr_list){ .o = o, .at = obj_attr, .n = o->nattrs });
	obs_json(c, o);
}

/* Where a stored object sits, allocated; path NULL when the object is not in the catalog. */
struct placement {
	char *path, *parent;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static int cat_obj_placement(struct catalog *c, const char *source, const char *key, struct placement *ret)
{
	sqlite3_stmt *st = c->st[ST_OBJ_PLACEMENT];
	int r;

	bind_str(st, 1, source);
	bind_str(st, 2, key);
	r = cat_row(c, ST_OBJ_PLACEMENT);
	if (r <= 0)
		return r;
	ret->path = xstrdup(col_str(st, 0));
	ret->parent = dup_or_null(col_str(st, 1));
	sqlite3_reset(st);
	return 0;
}

/* The statements that store an object bind its JSON as obj_json(c, o) left it (cat_obj_store). */
static int cat_obj_upsert(struct catalog *c, const char *source, uint64_t observed, const struct obj *o,
			  const char *path)
{
	sqlite3_stmt *st = c->st[ST_OBJ_UPSERT];

	bind_str(st, 1, source);
	bind_str(st, 2, o->key);
	bind_str(st, 3, model_kind(o->kind)->name);
	bind_str(st, 4, o->parent);
	bind_str(st, 5, o->name);
	bind_str(st, 6, path);
	bind_str(st, 7, c->attrs_json.data);
	bind_str(st, 8, c->obs_json.data);
	bind_blob(st, 9, o->hash, sizeof(o->hash));
	bind_u64(st, 10, observed);
	return cat_run(c, ST_OBJ_UPSERT);
}

/* A renamed or moved object takes its descendants' paths along: their hashes did not change (paths
 * are not hashed), so no change of theirs will come to do it. */
static int cat_obj_move_descendants(struct catalog *c, const char *source, const char *key, const char *old_path,
				    const char *new_path)
{
	sqlite3_stmt *st = c->st[ST_OBJ_MOVE_DESCENDANTS];

	bind_str(st, 1, source);
	bind_str(st, 2, key);
	bind_str(st, 3, old_path);
	bind_str(st, 4, new_path);
	return cat_run(c, ST_OBJ_MOVE_DESCENDANTS);
}

/* The parameters ST_OBJ_ALTER and ST_OBJ_UPDATE share. */
static void cat_obj_bind_alter(struct catalog *c, sqlite3_stmt *st, const char *source, uint64_t observed,
			       const struct obj *o)
{
	bind_str(st, 1, source);
	bind_str(st, 2, o->key);
	bind_str(st, 3, model_kind(o->kind)->name);
	bind_str(st, 4, o->name);
	bind_str(st, 5, c->attrs_json.data);
	bind_str(st, 6, c->obs_json.data);
	bind_blob(st, 7, o->hash, sizeof(o->hash));
	bind_u64(st, 8, observed);
}

/* Sets parent and path where they moved. */
static int cat_obj_place(struct catalog *c, const char *source, const struct obj *o, const char *path,
			 const struct placement *old)
{
	sqlite3_stmt *st = c->st[ST_OBJ_PLACE];

	if (str_eq(old->path, path) && str_eq(old->parent, o->parent))
		return 0;
	bind_str(st, 1, source);
	bind_str(st, 2, o->key);
	bind_str(st, 3, o->parent);
	bind_str(st, 4, path);
	return cat_run(c, ST_OBJ_PLACE);
}

/* An ALTER of a row stored with the same kind, parent and path: 1 when there was one (it is
 * done), 0 when not, negative on failure. */
static int cat_obj_alter(struct catalog *c, const char *source, uint64_t observed, const struct obj *o,
			 const char *path)
{
	sqlite3_stmt *st = c->st[ST_OBJ_ALTER];
	int r;

	cat_obj_bind_alter(c, st, source, observed, o);
	bind_str(st, 9, path);
	bind_str(st, 10, o->parent);
	r = cat_run(c, ST_OBJ_ALTER);
	return r ? r : sqlite3_changes(c->db);
}

/* An ALTER of a stored row that changes its kind or its place. */
static int cat_obj_update(struct catalog *c, const char *source, uint64_t observed, const struct obj *o,
			  const char *path, const struct placement *old)
{
	int r;

	cat_obj_bind_alter(c, c->st[ST_OBJ_UPDATE], source, observed, o);
	r = cat_run(c, ST_OBJ_UPDATE);
	return r ? r : cat_obj_place(c, source, o, path, old);
}

/* The object's row: an ALTER updates it where it is stored, anything else (and an ALTER of a row
 * that is not there) inserts or replaces it. *ret_kept: an ALTER done in place, which kept the kind.
 * The object's JSON is made once, whichever statements then store it. */
static int cat_obj_store(struct catalog *c, const struct catalog_batch *b, const struct catalog_change *ch,
			 bool *ret_kept)
{
	struct placement old = { NULL, NULL };
	int r;

	obj_json(c, ch->obj);
	r = ch->op == CHANGE_ALTER ? cat_obj_alter(c, b->source, b->observed_ms, ch->obj, ch->path) : 0;
	*ret_kept = r > 0;
	if (r)
		return r < 0 ? r : 0;
	if (ch->op == CHANGE_ALTER)
		r = cat_obj_placement(c, b->source, ch->key, &old);
	if (r == 0 && old.path)
		r = cat_obj_update(c, b->source, b->observed_ms, ch->obj, ch->path, &old);
	else if (r == 0)
		r = cat_obj_upsert(c, b->source, b->observed_ms, ch->obj, ch->path);
	if (r == 0 && old.path && strcmp(old.path, ch->path) != 0)
		r = cat_obj_move_descendants(c, b->source, ch->key, old.path, ch->path);
	free(old.path);
	free(old.parent);
	return r;
}

static int cat_obj_delete(struct catalog *c, const char *source, const char *key)
{
	sqlite3_stmt *st = c->st[ST_OBJ_DELETE];

	bind_str(st, 1, source);
	bind_str(st, 2, key);
	return cat_run(c, ST_OBJ_DELETE);
}

/* Stores the observations in c->obs_json. */
static int cat_put_obs(struct catalog *c, const char *source, const char *key)
{
	sqlite3_stmt *st = c->st[ST_OBJ_OBS];

	bind_str(st, 1, source);
	bind_str(st, 2, key);
	bind_str(st, 3, c->obs_json.data);
	return cat_run(c, ST_OBJ_OBS);
}

int catalog_apply_obs(struct catalog *c, const char *source, const char *key, const struct attr *obs,
		      size_t nobs)
{
	attrs_json(&c->obs_json, &(struct attr_list){ .a = obs, .n = nobs });
	return cat_put_obs(c, source, key);
}

/* --- edges ---------------------------------------------------------------------------------- */

static int cat_edge_insert(struct catalog *c, const char *source, const char *from, size_t from_len,
			   const char *to, size_t to_len, const char *kind, const char *via)
{
	sqlite3_stmt *st = c->st[ST_EDGE_INSERT];

	bind_str(st, 1, source);
	sqlite3_bind_text(st, 2, from, (int)from_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, to, (int)to_len, SQLITE_STATIC);
	bind_str(st, 4, kind);
	bind_str(st, 5, via);
	return cat_run(c, ST_EDGE_INSERT);
}

/* Length of the REFS element at p (up to the separator or the end). */
static size_t ref_len(const char *p)
{
	const char *sep = strchr(p, MODEL_REF_SEP);

	return sep ? (size_t)(sep - p) : strlen(p);
}

static const char *ref_next(const char *p, size_t len)
{
	return p[len] ? p + len + 1 : NULL;
}

static int cat_edges_add(struct catalog *c, const char *source, const struct obj *o, const struct edge_rule *rule)
{
	const char *to = obj_get(o, rule->to_attr);
	const char *from = rule->from_attr ? obj_get(o, rule->from_attr) : o->key;
	int r = 0;

	if (!to && rule->or_parent_if && obj_get(o, rule->or_parent_if))
		to = o->parent;
	while (r == 0 && to && *to && from && *from) {
		size_t tl = ref_len(to), fl = rule->from_attr ? ref_len(from) : strlen(from);

		if (tl && fl)
			r = cat_edge_insert(c, source, from, fl, to, tl, rule->edge_kind, o->key);
		to = ref_next(to, tl);
		if (rule->from_attr)
			from = ref_next(from, fl);
	}
	return r;
}

/*
 * Edges are a function of the objects' REFS: an object's edges are those it is the via of, dropped
 * and rebuilt whenever it changes. Edges pointing at a dropped object stay until the object that
 * defines them changes, as its REFS still name it. Only an ALTER can change an object's kind, so an
 * ADD or DROP of a kind without edge rules (columns: most of any schema), or an ALTER that kept
 * such a kind (kept), has nothing to do here.
 */
static int cat_edges_rebuild(struct catalog *c, const char *source, const struct catalog_change *ch, bool kept)
{
	sqlite3_stmt *st = c->st[ST_EDGE_DELETE];
	int r;

	if ((ch->op != CHANGE_ALTER || kept) && !edge_rules[ch->kind].edge_kind)
		return 0;
	bind_str(st, 1, source);
	bind_str(st, 2, ch->key);
	r = cat_run(c, ST_EDGE_DELETE);
	if (r == 0 && ch->obj && edge_rules[ch->obj->kind].edge_kind)
		r = cat_edges_add(c, source, ch->obj, &edge_rules[ch->obj->kind]);
	return r;
}

/* --- history -------------------------------------------------------------------------------- */

/* The chain's hash of a row, its encoding built in b. */
static void history_hash(struct buf *b, const unsigned char prev[32], const struct catalog_history_row *r,
			 unsigned char ret_hash[32])
{
	buf_reset(b);
	buf_add(b, prev, 32);
	buf_addc(b, 1);
	buf_add_varint(b, r->observed);
	buf_add_varint(b, r->recorded);
	buf_add_lstr(b, r->agent_id);
	buf_add_lstr(b, r->source);
	buf_add_varint(b, r->seq);
	buf_add_lstr(b, r->key);
	buf_add_lstr(b, r->kind);
	buf_add_lstr(b, r->path);
	buf_add_lstr(b, r->op);
	buf_add_lstr(b, r->field);
	buf_add_lstr(b, r->before);
	buf_add_lstr(b, r->after);
	buf_add_lstr(b, r->severity);
	buf_add_varint(b, r->heuristic);
	buf_add_lstr(b, r->origin);
	sha256(ret_hash, (const unsigned char *)b->data, b->len);
}

void catalog_history_hash(const unsigned char prev[32], const struct catalog_history_row *r,
			  unsigned char ret_hash[32])
{
	struct buf b;

	buf_init(&b);
	history_hash(&b, prev, r, ret_hash);
	buf_free(&b);
}

static int cat_chain_load(struct catalog *c)
{
	sqlite3_stmt *st = c->st[ST_HISTORY_LAST];
	int r;

	if (c->chain_known)
		return 0;
	memset(c->chain, 0, sizeof(c->chain));
	r = cat_row(c, ST_HISTORY_LAST);
	if (r < 0)
		return r;
	if (r > 0 && sqlite3_column_bytes(st, 0) == 32)
		memcpy(c->chain, sqlite3_column_blob(st, 0), 32);
	if (r > 0)
		sqlite3_reset(st);
	c->chain_known = true;
	return 0;
}

static void history_bind(sqlite3_stmt *st, const struct catalog_history_row *h)
{
	bind_u64(st, 1, h->observed);
	bind_u64(st, 2, h->recorded);
	bind_str(st, 3, h->agent_id);
	bind_str(st, 4, h->source);
	bind_u64(st, 5, h->seq);
	bind_str(st, 6, h->key);
	bind_str(st, 7, h->kind);
	bind_str(st, 8, h->path);
	bind_str(st, 9, h->op);
	bind_str(st, 10, h->field);
	bind_str(st, 11, h->before);
	bind_str(st, 12, h->after);
	bind_str(st, 13, h->severity);
	sqlite3_bind_int(st, 14, h->heuristic);
	bind_str(st, 15, h->origin);
}

static int cat_history_add(struct catalog *c, const struct catalog_history_row *h)
{
	sqlite3_stmt *st = c->st[ST_HISTORY_INSERT];
	unsigned char row_hash[32];
	int r = cat_chain_load(c);

	if (r)
		return r;
	history_hash(&c->history_enc, c->chain, h, row_hash);
	history_bind(st, h);
	bind_blob(st, 16, c->chain, 32);
	bind_blob(st, 17, row_hash, 32);
	r = cat_run(c, ST_HISTORY_INSERT);
	if (r == 0)
		memcpy(c->chain, row_hash, 32);
	return r;
}

static int cat_history_rows(struct catalog *c, const struct catalog_batch *b, const char *origin,
			    const struct catalog_change *ch)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < ch->nrows; i++) {
		const struct change_row *row = &ch->rows[i];
		struct catalog_history_row h = {
			.observed = b->observed_ms, .recorded = b->recorded_ms,
			.agent_id = b->agent_id, .source = b->source, .seq = b->seq,
			.key = ch->key, .kind = model_kind(ch->kind)->name, .path = ch->path,
			.op = change_op_name(row->op), .field = row->field,
			.before = row->before, .after = row->after,
			.severity = model_severity_name(row->sev), .heuristic = row->heuristic,
			.origin = origin,
		};

		r = cat_history_add(c, &h);
	}
	return r;
}

/* A heuristic rename gives the object a new key: the row and every edge follow it. */
static int cat_obj_rekey(struct catalog *c, const char *source, const char *old_key, const char *key)
{
	int r = 0;

	for (int i = ST_OBJ_REKEY; r == 0 && i <= ST_EDGES_REKEY; i++) {
		bind_str(c->st[i], 1, source);
		bind_str(c->st[i], 2, old_key);
		bind_str(c->st[i], 3, key);
		r = cat_run(c, i);
	}
	return r;
}

/* The object's row and its edges: everything a change does but its history rows. */
static int cat_apply_object(struct catalog *c, const struct catalog_batch *b, const struct catalog_change *ch)
{
	bool kept = false;
	int r = 0;

	if (ch->op != CHANGE_DROP && !ch->obj)
		return cat_fail(c, -EINVAL, "change of '%s' carries no object", ch->key);
	if (ch->op == CHANGE_ALTER && ch->old_key && strcmp(ch->old_key, ch->key) != 0)
		r = cat_obj_rekey(c, b->source, ch->old_key, ch->key);
	if (r)
		return r;
	if (ch->op == CHANGE_DROP)
		r = cat_obj_delete(c, b->source, ch->key);
	else
		r = cat_obj_store(c, b, ch, &kept);
	return r ? r : cat_edges_rebuild(c, b->source, ch, kept);
}

int catalog_apply_change(struct catalog *c, const struct catalog_batch *b, const char *origin,
			 const struct catalog_change *ch)
{
	int r = cat_apply_object(c, b, ch);

	return r ? r : cat_history_rows(c, b, origin, ch);
}

/* --- staging -------------------------------------------------------------------------------- */

/*
 * Staging holds a snapshot arriving in parts until its SNAPSHOT_END, one row per batch, keyed by
 * its first object's key: a bundle of the batch's objects, CATALOG_STAGE_FORMAT and then each
 * object's snapshot_obj_encode() preceded by its length. A row per object cost a b-tree entry
 * each to write and again to delete, 0.5 s of a 245,000-object baseline. A bundle that does not
 * decode (corrupt, or staged by another version) makes the snapshot refused and asked for again.
 */
static void stage_bundle_encode(const struct snapshot *part, struct buf *out)
{
	struct buf one;

	buf_init(&one);
	buf_addc(out, CATALOG_STAGE_FORMAT);
	for (size_t i = 0; i < part->nobjs; i++) {
		buf_reset(&one);
		snapshot_obj_encode(part->objs[i], &one);
		buf_add_varint(out, one.len);
		buf_add(out, one.data, one.len);
	}
	buf_free(&one);
}

/* Adds the bundle's objects to s; -EBADMSG when it does not decode. */
static int stage_bundle_decode(const void *data, size_t len, struct snapshot *s)
{
	struct cursor cur = { data, (const unsigned char *)data + len };

	if (len < 1 || *cur.p++ != CATALOG_STAGE_FORMAT)
		return -EBADMSG;
	while (cur.p < cur.end) {
		struct obj *o;
		uint64_t n;

		if (cursor_varint(&cur, &n) < 0 || n > (uint64_t)(cur.end - cur.p) || snapshot_obj_decode(cur.p, n, &o) < 0)
			return -EBADMSG;
		snapshot_add(s, &o);
		cur.p += n;
	}
	return 0;
}

int catalog_stage_part(struct catalog *c, const struct catalog_batch *b, const struct snapshot *part)
{
	sqlite3_stmt *st = c->st[ST_STAGE_PUT];
	struct buf bundle;
	int r;

	if (part->nobjs == 0)
		return 0;
	buf_init(&bundle);
	stage_bundle_encode(part, &bundle);
	bind_str(st, 1, b->agent_id);
	bind_str(st, 2, b->source);
	bind_str(st, 3, part->objs[0]->key);
	bind_blob(st, 4, bundle.data, bundle.len);
	r = cat_run(c, ST_STAGE_PUT);
	buf_free(&bundle);
	return r;
}

static int cat_stage_clear(struct catalog *c, const struct catalog_batch *b)
{
	sqlite3_stmt *st = c->st[ST_STAGE_CLEAR];

	bind_str(st, 1, b->agent_id);
	bind_str(st, 2, b->source);
	return cat_run(c, ST_STAGE_CLEAR);
}

int catalog_stage_begin(struct catalog *c, const struct catalog_batch *b)
{
	return cat_stage_clear(c, b);
}

static int cat_stage_load(struct catalog *c, const struct catalog_batch *b, struct snapshot **ret_s)
{
	sqlite3_stmt *st = c->st[ST_STAGE_LOAD];
	struct snapshot *s = snapshot_new(b->source);
	int r;

	bind_str(st, 1, b->agent_id);
	bind_str(st, 2, b->source);
	while ((r = cat_row(c, ST_STAGE_LOAD)) > 0) {
		if (stage_bundle_decode(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), s) < 0) {
			sqlite3_reset(st);
			r = cat_fail(c, CATALOG_E_STAGED_INVALID, "a staged part of '%s' is corrupt", b->source);
			break;
		}
	}
	if (r) {
		snapshot_free(s);
		return r;
	}
	*ret_s = s;
	return 0;
}

/* The staged set must be a snapshot, and the very one the agent has. */
static int cat_stage_check(struct catalog *c, struct snapshot *staged, const unsigned char *root_hash)
{
	char want[65], got[65];

	if (snapshot_finish(staged))
		return cat_fail(c, CATALOG_E_STAGED_INVALID, "staged snapshot of '%s': %s", staged->source,
				staged->error);
	if (!root_hash || memcmp(root_hash, staged->root, 32) == 0)
		return 0;
	hash_hex(root_hash, want);
	hash_hex(staged->root, got);
	return cat_fail(c, CATALOG_E_STAGED_INVALID, "staged snapshot of '%s' has root %.12s…, the agent's is %.12s…",
			staged->source, got, want);
}

/* --- loading the catalog's view of a source ------------------------------------------------- */

/* objs is sorted by key; the index of key, or -1. */
static ssize_t objs_find(struct obj **objs, size_t n, const char *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(objs[mid]->key, key);

		if (cmp == 0)
			return (ssize_t)mid;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int cat_load_objects(struct catalog *c, const char *source, struct obj ***ret_objs, size_t *ret_n)
{
	sqlite3_stmt *st = c->st[ST_OBJ_LOAD];
	struct obj **objs = NULL;
	size_t n = 0, cap = 0;
	int r;

	bind_str(st, 1, source);
	while ((r = cat_row(c, ST_OBJ_LOAD)) > 0) {
		int kind = model_kind_lookup(col_str(st, 1));

		if (kind < 0)
			continue; /* a kind this build does not know; a resync leaves it alone */
		xgrow(&objs, &cap, n + 1, sizeof(*objs));
		objs[n] = obj_new((enum obj_kind)kind, col_str(st, 0), col_str(st, 2), col_str(st, 3));
		obj_set_path(objs[n++], xstrdup(col_str(st, 4)));
	}
	*ret_objs = objs;
	*ret_n = n;
	return r;
}

/* Both queries walk objects in key order, so the rows of an object follow each other. */
static int cat_load_attrs(struct catalog *c, enum stmt id, const char *source, struct obj **objs, size_t n)
{
	sqlite3_stmt *st = c->st[id];
	size_t i = 0;
	int r;

	bind_str(st, 1, source);
	while ((r = cat_row(c, id)) > 0) {
		const char *key = col_str(st, 0), *name = col_str(st, 1), *value = col_str(st, 2);

		while (i < n && strcmp(objs[i]->key, key) < 0)
			i++;
		if (i == n || strcmp(objs[i]->key, key) != 0 || !name || !value)
			continue;
		if (id == ST_OBJ_LOAD_OBS)
			obj_set_obs(objs[i], name, value);
		else
			obj_set(objs[i], name, value);
	}
	return r;
}

enum { ANC_UNKNOWN, ANC_LIVE, ANC_ORPHAN };

/* Whether objs[i]'s ancestors are all there; memoised in state[]. */
static int obj_state(struct obj **objs, size_t n, unsigned char *state, size_t i, unsigned depth)
{
	ssize_t p;

	if (state[i] != ANC_UNKNOWN)
		return state[i];
	if (!objs[i]->parent)
		return state[i] = ANC_LIVE;
	p = objs_find(objs, n, objs[i]->parent);
	if (p < 0 || depth > CATALOG_MAX_DEPTH)
		return state[i] = ANC_ORPHAN;
	return state[i] = (unsigned char)obj_state(objs, n, state, (size_t)p, depth + 1);
}

/*
 * Splits the loaded objects into a snapshot of those whose ancestry is complete and the orphans.
 * A consistent catalog has no orphans; if one ever has (a bug, a hand edit), the resync repairs it
 * instead of failing on it forever. Takes ownership of objs' elements.
 */
static void cat_split(struct snapshot *s, struct obj **objs, size_t n, struct snapshot *orphans)
{
	unsigned char *state = xcalloc(n ? n : 1, 1);

	for (size_t i = 0; i < n; i++)
		obj_state(objs, n, state, i, 0);
	for (size_t i = 0; i < n; i++)
		snapshot_add(state[i] == ANC_LIVE ? s : orphans, &objs[i]);
	free(state);
}

static int cat_load_current(struct catalog *c, const char *source, struct snapshot **ret_s,
			    struct snapshot **ret_orphans)
{
	struct obj **objs = NULL;
	size_t n = 0;
	int r = cat_load_objects(c, source, &objs, &n);

	if (r == 0)
		r = cat_load_attrs(c, ST_OBJ_LOAD_ATTRS, source, objs, n);
	if (r == 0)
		r = cat_load_attrs(c, ST_OBJ_LOAD_OBS, source, objs, n);
	*ret_s = snapshot_new(source);
	*ret_orphans = snapshot_new(source);
	cat_split(*ret_s, objs, n, *ret_orphans);
	free(objs);
	if (r == 0 && snapshot_finish(*ret_s))
		r = cat_fail(c, -EIO, "catalog of '%s': %s", source, (*ret_s)->error);
	return r;
}

/* --- completing a snapshot ------------------------------------------------------------------ */

static struct catalog_change change_from_diff(const struct change *dc)
{
	const struct obj *o = dc->new ? dc->new : dc->old;
	struct catalog_change ch = {
		.op = dc->op, .kind = o->kind, .key = o->key, .path = dc->path,
		.old_key = dc->old && dc->new ? dc->old->key : NULL,
		.obj = dc->new, .rows = dc->rows, .nrows = dc->nrows,
	};

	return ch;
}

int catalog_apply_diff(struct catalog *c, const struct catalog_batch *b, const char *origin,
		       const struct diff *d)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < d->nchanges; i++) {
		struct catalog_change ch = change_from_diff(&d->changes[i]);

		r = catalog_apply_change(c, b, origin, &ch);
	}
	return r;
}

/* A diff computed on a thread of its own; diff_snapshots only reads the two snapshots. */
struct diff_job {
	pthread_t thread;
	const struct snapshot *old, *new;
	struct diff *d;
};

static void *diff_job_main(void *arg)
{
	struct diff_job *job = arg;

	job->d = diff_snapshots(job->old, job->new);
	return NULL;
}

/*
 * A baseline (the catalog holds nothing of the source) adds every staged object, and only those: the
 * diff from nothing is one ADD per object, and only its history rows need it. So the objects' rows go
 * in, straight from the staged snapshot, while another thread computes the diff: at 200,000 columns
 * each takes about a second. The history rows then follow in the diff's order, as a resync's would.
 */
static int cat_apply_baseline(struct catalog *c, const struct catalog_batch *b, const struct snapshot *cat,
			      const struct snapshot *staged, struct diff **ret_d)
{
	struct diff_job job = { .old = cat, .new = staged };
	bool threaded = cat_thread_start(&job.thread, diff_job_main, &job) == 0;
	int r = 0;

	if (!threaded)
		diff_job_main(&job);
	for (size_t i = 0; r == 0 && i < staged->nobjs; i++) {
		const struct obj *o = staged->objs[i];
		struct catalog_change ch = {
			.op = CHANGE_ADD, .kind = o->kind, .key = o->key, .path = obj_path(o, &c->path), .obj = o,
		};

		r = cat_apply_object(c, b, &ch);
	}
	if (threaded)
		pthread_join(job.thread, NULL);
	for (size_t i = 0; r == 0 && i < job.d->nchanges; i++) {
		struct catalog_change ch = change_from_diff(&job.d->changes[i]);

		r = cat_history_rows(c, b, "baseline", &ch);
	}
	*ret_d = job.d;
	return r;
}

/* Orphans leave the catalog with a DROP; the diff adds them back if the agent still has them. */
static int cat_drop_orphans(struct catalog *c, const struct catalog_batch *b, const char *origin,
			    const struct snapshot *orphans, const struct snapshot *cat)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < orphans->nobjs; i++) {
		const struct obj *o = orphans->objs[i];
		struct change_row row = {
			.op = CHANGE_DROP, .before = diff_obj_summary(o, cat), .sev = model_kind(o->kind)->drop_sev,
		};
		struct catalog_change ch = {
			.op = CHANGE_DROP, .kind = o->kind, .key = o->key, .path = obj_path(o, &c->path), .rows = &row,
			.nrows = 1,
		};

		r = catalog_apply_change(c, b, origin, &ch);
		free(row.before);
	}
	return r;
}

/* Observations never make a change, so objects whose content is the same still need them. */
static int cat_refresh_obs(struct catalog *c, const char *source, const struct snapshot *cat,
			   const struct snapshot *staged)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < staged->nobjs; i++) {
		const struct obj *n = staged->objs[i], *o = snapshot_find(cat, n->key);

		if (o && memcmp(o->hash, n->hash, sizeof(o->hash)) == 0 && !obj_obs_equal(o, n)) {
			obs_json(c, n);
			r = cat_put_obs(c, source, n->key);
		}
	}
	return r;
}

static int cat_apply_resync(struct catalog *c, const struct catalog_batch *b, const struct snapshot *cat,
			    const struct snapshot *orphans, const struct snapshot *staged, struct diff **ret_d)
{
	int r = cat_drop_orphans(c, b, "resync", orphans, cat);

	if (r)
		return r;
	*ret_d = diff_snapshots(cat, staged);
	return catalog_apply_diff(c, b, "resync", *ret_d);
}

static int cat_reconcile(struct catalog *c, const struct catalog_batch *b, const struct snapshot *staged,
			 size_t *ret_nchanges)
{
	struct snapshot *cat = NULL, *orphans = NULL;
	struct diff *d = NULL;
	int r = cat_load_current(c, b->source, &cat, &orphans);

	if (r == 0 && cat->nobjs + orphans->nobjs == 0)
		r = cat_apply_baseline(c, b, cat, staged, &d);
	else if (r == 0)
		r = cat_apply_resync(c, b, cat, orphans, staged, &d);
	if (r == 0)
		r = cat_refresh_obs(c, b->source, cat, staged);
	*ret_nchanges = (d ? d->nchanges : 0) + orphans->nobjs;
	diff_free(d);
	snapshot_free(cat);
	snapshot_free(orphans);
	return r;
}

int catalog_snapshot_end(struct catalog *c, const struct catalog_batch *b, const unsigned char *root_hash,
			 size_t *ret_nchanges)
{
	struct snapshot *staged = NULL;
	int r = cat_stage_load(c, b, &staged), cr;

	*ret_nchanges = 0;
	if (r == 0)
		r = cat_stage_check(c, staged, root_hash);
	if (r == 0)
		r = cat_reconcile(c, b, staged, ret_nchanges);
	snapshot_free(staged);
	if (r < 0)
		return r;
	cr = cat_stage_clear(c, b); /* only a failure writes c->error, so the reason for r stays */
	return cr ? cr : r;
}

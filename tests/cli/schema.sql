-- The collector's catalog schema, schema_version 1, as collector/catalog.c creates it (schema_sql
-- there); the CLI reads it with SQL only, so the two must agree.
PRAGMA journal_mode = WAL;
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE agents(id TEXT PRIMARY KEY, incarnation INTEGER NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0,
	version TEXT, hostname TEXT, first_seen INTEGER, last_seen INTEGER,
	outbox_depth INTEGER, rss_bytes INTEGER);
CREATE TABLE sources(name TEXT PRIMARY KEY, agent_id TEXT NOT NULL, driver TEXT, department TEXT, system TEXT,
	root_hash TEXT, interval_s INTEGER, last_start INTEGER, last_end INTEGER, duration_ms INTEGER,
	objects INTEGER, last_error TEXT, ok INTEGER, next_run INTEGER, last_applied INTEGER);
CREATE TABLE objects(source TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL,
	parent TEXT, name TEXT NOT NULL, path TEXT NOT NULL,
	attrs TEXT NOT NULL, obs TEXT NOT NULL,
	hash BLOB NOT NULL, first_seen INTEGER NOT NULL, last_changed INTEGER NOT NULL,
	PRIMARY KEY(source, key)) WITHOUT ROWID;
CREATE INDEX objects_path ON objects(path);
CREATE INDEX objects_parent ON objects(source, parent);
CREATE TABLE edges(source TEXT NOT NULL, from_key TEXT NOT NULL, to_key TEXT NOT NULL,
	kind TEXT NOT NULL, via TEXT NOT NULL,
	PRIMARY KEY(source, from_key, to_key, kind, via)) WITHOUT ROWID;
CREATE INDEX edges_via ON edges(source, via);
CREATE INDEX edges_to ON edges(source, to_key);
CREATE TABLE history(id INTEGER PRIMARY KEY, observed INTEGER NOT NULL, recorded INTEGER NOT NULL,
	agent_id TEXT NOT NULL, source TEXT NOT NULL, seq INTEGER NOT NULL,
	key TEXT NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL,
	op TEXT NOT NULL, field TEXT, before TEXT, after TEXT,
	severity TEXT NOT NULL, heuristic INTEGER NOT NULL DEFAULT 0,
	origin TEXT NOT NULL, prev_hash BLOB NOT NULL, row_hash BLOB NOT NULL);
CREATE INDEX history_source_key ON history(source, key);
CREATE INDEX history_observed ON history(observed);
CREATE INDEX history_path ON history(path);
CREATE TRIGGER history_no_update BEFORE UPDATE ON history
	BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
	BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TABLE applied(agent_id TEXT, incarnation INTEGER, seq INTEGER, digest BLOB, recorded INTEGER,
	PRIMARY KEY(agent_id, incarnation, seq)) WITHOUT ROWID;
CREATE TABLE staging(agent_id TEXT, source TEXT, key TEXT, object BLOB,
	PRIMARY KEY(agent_id, source, key)) WITHOUT ROWID;
INSERT INTO meta VALUES ('schema_version', '1');

/* The agent's state store: permissions, incarnation, the outbox and the one-transaction commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <unistd.h>

#include "state.h"
#include "tap.h"

static int collect(void *ctx, uint64_t seq, const void *data, size_t len)
{
	char *out = ctx;

	snprintf(out + strlen(out), 256 - strlen(out), "%llu:%.*s ", (unsigned long long)seq, (int)len, (const char *)data);
	return 0;
}

static struct snapshot *one_table(const char *name)
{
	struct snapshot *s = snapshot_new("hr");
	struct obj *d = obj_new(OBJ_DATABASE, "d:1", NULL, "db"), *t = obj_new(OBJ_TABLE, "r:5", "d:1", name);

	snapshot_add(s, &d);
	snapshot_add(s, &t);
	snapshot_finish(s);
	return s;
}

/* A table of n columns with long Chinese comments: an encoding of several SNAPSHOT_CHUNKs. */
static struct snapshot *wide_table(int n)
{
	struct snapshot *s = one_table("wide");

	for (int i = 1; i <= n; i++) {
		char key[32], name[32];
		struct obj *c;

		snprintf(key, sizeof(key), "a:5:%d", i);
		snprintf(name, sizeof(name), "c%d", i);
		c = obj_new(OBJ_COLUMN, key, "r:5", name);
		obj_setf(c, "comment", "第%d列：人员基本信息的说明文字，足够长以便快照分成几块存储。", i);
		obj_setf(c, "ordinal", "%d", i);
		snapshot_add(s, &c);
	}
	snapshot_finish(s);
	return s;
}

static long long count_rows(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long n = -1;

	if (sqlite3_open(db, &h) == SQLITE_OK && sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return n;
}

static void exec_sql(const char *db, const char *sql, const void *blob, int len)
{
	sqlite3 *h;
	sqlite3_stmt *st;

	if (sqlite3_open(db, &h) == SQLITE_OK && sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (blob)
			sqlite3_bind_blob(st, 1, blob, len, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
}

static bool same_snapshot(const struct snapshot *a, const struct snapshot *b)
{
	return a && b && a->nobjs == b->nobjs && memcmp(a->root, b->root, 32) == 0;
}

/* Snapshots are stored in chunks; one stored whole (by an agent before the chunks) still loads. */
static void test_chunks(const char *dir)
{
	char path[300], db[320], err[512] = "";
	struct state *st = NULL;
	struct snapshot *wide = wide_table(30000), *later = wide_table(30001), *small = one_table("small");
	struct snapshot *loaded = NULL;
	struct state_digest digest;
	unsigned char obs[32];
	struct buf whole;

	snprintf(path, sizeof(path), "%s/chunks", dir);
	snprintf(db, sizeof(db), "%s/state.db", path);
	if (state_open(path, &st, err, sizeof(err)) != 0)
		return;
	state_begin(st);
	state_put_snapshot(st, wide);
	state_commit(st);
	ok(count_rows(db, "SELECT count(*) FROM snapshot_chunks WHERE source = 'hr'") > 1,
	   "a snapshot of 30,000 columns is stored in several chunks");
	ok(state_load_snapshot(st, "hr", NULL, &loaded) == 0 && same_snapshot(loaded, wide), "and loads as it was");
	snapshot_free(loaded);
	ok(state_load_snapshot(st, "hr", later, &loaded) == 0 && same_snapshot(loaded, wide),
	   "loaded against a later crawl with one more column, it is still the stored one");
	ok(loaded && loaded->nobjs == 30002 && snapshot_find(loaded, "a:5:17") == snapshot_find(later, "a:5:17") &&
		   snapshot_find(loaded, "r:5") == snapshot_find(later, "r:5") && !snapshot_find(loaded, "a:5:30001"),
	   "…sharing the later crawl's objects rather than holding copies");
	snapshot_free(loaded);
	snapshot_obs_hash(wide, obs);
	ok(state_snapshot_digest(st, "hr", &digest) == 0 && digest.found && digest.has_obs_root &&
		   memcmp(digest.root, wide->root, 32) == 0 && memcmp(digest.obs_root, obs, 32) == 0,
	   "its digest is its root hash and observation hash");
	ok(state_snapshot_digest(st, "nope", &digest) == 0 && !digest.found, "no digest without a snapshot");

	state_begin(st);
	state_put_snapshot(st, small);
	state_commit(st);
	is_int(count_rows(db, "SELECT count(*) FROM snapshot_chunks WHERE source = 'hr'"), 1,
	       "a smaller one replaces all of its chunks");
	ok(state_load_snapshot(st, "hr", NULL, &loaded) == 0 && same_snapshot(loaded, small), "and loads as it was");
	snapshot_free(loaded);
	state_close(st);
	exec_sql(db, "UPDATE snapshot_chunks SET data = substr(data, 1, length(data) - 3) WHERE source = 'hr'", NULL, 0);
	state_open(path, &st, err, sizeof(err));
	loaded = small;
	is_int(state_load_snapshot(st, "hr", NULL, &loaded), STATE_E_CORRUPT, "a truncated chunk is a corrupt snapshot");
	ok(!loaded && strstr(state_error(st), "'hr'"), "nothing is returned, and the message names the source: %s",
	   state_error(st));
	loaded = small;
	is_int(state_load_snapshot(st, "hr", small, &loaded), STATE_E_CORRUPT, "…read against a later crawl too");
	ok(!loaded && small->nobjs == 2 && strcmp(snapshot_find(small, "r:5")->name, "small") == 0,
	   "and the crawl it was read against is intact");
	state_close(st);

	buf_init(&whole);
	snapshot_encode(wide, &whole);
	exec_sql(db, "DELETE FROM snapshot_chunks", NULL, 0);
	exec_sql(db, "UPDATE snapshots SET data = ?, obs_root = NULL WHERE source = 'hr'", whole.data, (int)whole.len);
	state_open(path, &st, err, sizeof(err));
	ok(state_snapshot_digest(st, "hr", &digest) == 0 && digest.found && !digest.has_obs_root,
	   "a snapshot stored without an observation hash has a root but no observation hash");
	ok(state_load_snapshot(st, "hr", NULL, &loaded) == 0 && same_snapshot(loaded, wide),
	   "a snapshot stored whole, as agents before the chunks did, loads");
	snapshot_free(loaded);
	ok(state_forget_snapshot(st, "hr") == 0 && state_load_snapshot(st, "hr", NULL, &loaded) == 0 && !loaded,
	   "and is forgotten");
	state_close(st);
	buf_free(&whole);
	snapshot_free(wide);
	snapshot_free(later);
	snapshot_free(small);
}

static long long file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* A big commit stays in the WAL until the agent checkpoints (state.c says why). */
static void test_checkpoint(const char *dir)
{
	char path[300], db[320], err[512] = "";
	struct state *st = NULL;
	struct snapshot *wide = wide_table(40000);
	long long before, wal, after;
	int r;

	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	snprintf(db, sizeof(db), "%s/state.db", path);
	if (!ok(state_open(path, &st, err, sizeof(err)) == 0, "checkpoint: state opens: %s", err))
		return;
	state_begin(st);
	state_put_snapshot(st, wide);
	state_commit(st);
	before = file_size(db);
	wal = file_size(strcat(db, "-wal"));
	db[strlen(db) - 4] = '\0';
	/* sqlite's own checkpoint would have run at 1,000 pages of WAL. */
	ok(wal > 1000 * 4096 && before < wal / 4,
	   "checkpoint: a commit of %lld bytes of WAL is not copied into state.db (%lld bytes) by the commit", wal,
	   before);
	ok(!state_checkpoint_due(st), "checkpoint: not due below STATE_WAL_MAX_BYTES");
	is_int(count_rows(db, "PRAGMA page_size"), 65536, "checkpoint: a new state.db has pages of 64 KB");
	r = state_checkpoint(st);
	after = file_size(db);
	ok(r == 0 && after > wal / 2, "checkpoint: state_checkpoint copies it (%lld bytes)", after);
	state_close(st);
	snapshot_free(wide);
}

/* A state.db made by an agent before pages were 64 KB keeps its 4 KB pages and works as before. */
static void test_old_pages(const char *dir)
{
	char path[300], db[320], err[512] = "";
	struct state *st = NULL;
	struct snapshot *snap = one_table("person"), *loaded = NULL;

	snprintf(path, sizeof(path), "%s/old", dir);
	snprintf(db, sizeof(db), "%s/state.db", path);
	mkdir(path, 0700);
	exec_sql(db, "PRAGMA page_size=4096", NULL, 0);
	exec_sql(db, "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)", NULL, 0);
	chmod(db, 0600);
	if (!ok(state_open(path, &st, err, sizeof(err)) == 0, "old pages: a 4 KB state.db opens: %s", err))
		return;
	ok(state_begin(st) == 0 && state_put_snapshot(st, snap) == 0 && state_commit(st) == 0,
	   "old pages: a snapshot is stored");
	ok(state_load_snapshot(st, "hr", NULL, &loaded) == 0 && loaded && same_snapshot(snap, loaded),
	   "old pages: and loads the same");
	is_int(count_rows(db, "PRAGMA page_size"), 4096, "old pages: the pages stay 4 KB");
	state_close(st);
	snapshot_free(loaded);
	snapshot_free(snap);
}

int main(void)
{
	char dir[] = "/tmp/test-state.XXXXXX", path[300], err[512] = "", seen[256] = "";
	struct state *st = NULL;
	struct snapshot *snap = one_table("person"), *loaded = NULL;
	uint64_t inc, batches, bytes;
	struct stat sb;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/state", dir);
	ok(state_open(path, &st, err, sizeof(err)) == 0, "state opens and creates its directory: %s", err);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0700, "state directory is 0700");
	snprintf(path, sizeof(path), "%s/state/state.db", dir);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "state.db is 0600");
	inc = state_incarnation(st);
	ok(inc != 0, "an incarnation is chosen");
	ok(state_load_snapshot(st, "hr", NULL, &loaded) == 0 && loaded == NULL, "no snapshot before the first crawl");

	ok(state_begin(st) == 0, "begin");
	is_int(state_next_seq(st), 1, "sequence starts at 1");
	state_outbox_add(st, &(struct state_row){ .seq = 1, .source = "hr", .data = "one", .len = 3 });
	state_put_snapshot(st, snap);
	state_rollback(st);
	ok(state_load_snapshot(st, "hr", NULL, &loaded) == 0 && loaded == NULL, "rollback keeps neither snapshot…");
	ok(state_outbox_depth(st, &batches, &bytes) == 0 && batches == 0, "…nor batch");

	state_begin(st);
	is_int(state_next_seq(st), 1, "a rolled back sequence number is reused");
	state_outbox_add(st, &(struct state_row){ .seq = 1, .source = "hr", .data = "one", .len = 3 });
	state_outbox_add(st, &(struct state_row){ .seq = state_next_seq(st), .source = "hr", .data = "two", .len = 3 });
	state_put_snapshot(st, snap);
	ok(state_commit(st) == 0, "commit");
	state_close(st);

	snprintf(path, sizeof(path), "%s/state", dir);
	ok(state_open(path, &st, err, sizeof(err)) == 0, "reopen");
	is_int(state_incarnation(st), inc, "incarnation survives a restart");
	ok(state_load_snapshot(st, "hr", NULL, &loaded) == 0 && loaded && memcmp(loaded->root, snap->root, 32) == 0,
	   "the committed snapshot is there after a restart");
	state_outbox_each(st, 0, 10, collect, seen);
	is_str(seen, "1:one 2:two ", "outbox in order after a restart");
	ok(state_outbox_ack(st, 1) == 0, "ack 1");
	seen[0] = '\0';
	state_outbox_each(st, 0, 10, collect, seen);
	is_str(seen, "2:two ", "acked batch is gone");
	is_int(state_last_acked(st), 1, "last acked recorded");
	state_begin(st);
	is_int(state_next_seq(st), 3, "sequence continues");
	state_rollback(st);
	ok(state_forget_snapshot(st, "hr") == 0, "forget a snapshot (resync)");
	snapshot_free(loaded);
	loaded = NULL;
	ok(state_load_snapshot(st, "hr", NULL, &loaded) == 0 && loaded == NULL, "forgotten");
	state_close(st);

	snprintf(path, sizeof(path), "%s/file", dir);
	fclose(fopen(path, "w"));
	ok(state_open(path, &st, err, sizeof(err)) < 0 && strstr(err, path), "a state_dir that is a file is refused: %s", err);
	snapshot_free(snap);
	test_checkpoint(dir);
	test_chunks(dir);
	test_old_pages(dir);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		return 1;
	return done_testing();
}

/* The agent's state store: permissions, incarnation, the outbox and the one-transaction commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int main(void)
{
	char dir[] = "/tmp/test-state.XXXXXX", path[300], err[512], seen[256] = "";
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
	ok(state_load_snapshot(st, "hr", &loaded) == 0 && loaded == NULL, "no snapshot before the first crawl");

	ok(state_begin(st) == 0, "begin");
	is_int(state_next_seq(st), 1, "sequence starts at 1");
	state_outbox_add(st, &(struct state_row){ .seq = 1, .source = "hr", .data = "one", .len = 3 });
	state_put_snapshot(st, snap);
	state_rollback(st);
	ok(state_load_snapshot(st, "hr", &loaded) == 0 && loaded == NULL, "rollback keeps neither snapshot…");
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
	ok(state_load_snapshot(st, "hr", &loaded) == 0 && loaded && memcmp(loaded->root, snap->root, 32) == 0,
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
	ok(state_load_snapshot(st, "hr", &loaded) == 0 && loaded == NULL, "forgotten");
	state_close(st);

	snprintf(path, sizeof(path), "%s/file", dir);
	fclose(fopen(path, "w"));
	ok(state_open(path, &st, err, sizeof(err)) < 0 && strstr(err, path), "a state_dir that is a file is refused: %s", err);
	snapshot_free(snap);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		return 1;
	return done_testing();
}

/*
 * A source's crawl cycle through the fixture driver: first snapshot, unchanged cycles, deltas, a
 * failed crawl that changes nothing, and a partly visible scope whose unseen tables are not dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "config.h"
#include "source.h"
#include "state.h"
#include "tap.h"

static char dir[] = "/tmp/test-source.XXXXXX";
static char fixture[300];

static const char base[] =
	"database d:1 - db\n"
	"schema n:1 d:1 shop\n"
	"table r:1 n:1 orders\n"
	"column a:1:1 r:1 id\n\ttype = integer\n"
	"table r:2 n:1 secret\n"
	"column a:2:1 r:2 id\n\ttype = integer\n";

static void write_fixture(const char *text)
{
	FILE *f = fopen(fixture, "w");

	fputs(text, f);
	fclose(f);
}

static size_t run(struct source *src, struct state *st, int want_rc, const char *what)
{
	size_t batches = 99;
	int r = source_run(src, st, 1 << 20, &batches);

	ok(r == want_rc, "%s: crawl returns %d (%s)", what, r, src->status.error);
	return batches;
}

static bool stored_has(struct state *st, const char *key)
{
	struct snapshot *s = NULL;
	bool has;

	state_load_snapshot(st, "hr", NULL, &s);
	has = s && snapshot_find(s, key);
	snapshot_free(s);
	return has;
}

/* Cuts the last bytes off every stored chunk, as a damaged disk might. */
static bool corrupt_stored(void)
{
	char path[320];
	sqlite3 *db;
	int rc;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return false;
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, "UPDATE snapshot_chunks SET data = substr(data, 1, length(data) - 3)", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK;
}

int main(void)
{
	struct source_conf conf = { .name = "hr", .driver = "fixture", .interval = 60, .fixture = fixture,
				    .mass_drop_percent = 50 };
	struct state *st;
	struct source *src;
	char err[512], cmd[400];

	if (!mkdtemp(dir))
		return 1;
	snprintf(fixture, sizeof(fixture), "%s/schema", dir);
	if (state_open(dir, &st, err, sizeof(err)) < 0)
		return 1;
	src = source_new(&conf);

	write_fixture(base);
	is_int(run(src, st, 0, "first crawl"), 1, "first crawl: one snapshot batch");
	is_int(src->status.objects, 6, "objects counted");
	is_int(run(src, st, 0, "unchanged"), 0, "unchanged cycle queues nothing");

	write_fixture("database d:1 - db\nschema n:1 d:1 shop\ntable r:1 n:1 orders\ncolumn a:1:1 r:1 id\n"
		      "\ttype = integer\npartial n:1 schema shop: visible only through table grants\n");
	is_int(run(src, st, 0, "secret invisible, scope partial"), 0, "a table unseen in a partial scope is not a drop");
	ok(stored_has(st, "r:2") && stored_has(st, "a:2:1"), "the unseen table and its column are carried over");
	is_str(src->status.warning, "schema shop: visible only through table grants", "status warns why");
	ok(src->status.ok, "a partial crawl is still a successful crawl");

	write_fixture("database d:1 - db\nschema n:1 d:1 shop\ntable r:1 n:1 orders\ncolumn a:1:1 r:1 id\n"
		      "\ttype = integer\n");
	is_int(run(src, st, 0, "complete crawl without secret"), 1, "a complete crawl reports the drop");
	ok(!stored_has(st, "r:2"), "the dropped table is gone from the stored snapshot");
	is_str(src->status.warning, "", "no warning on a complete crawl");

	write_fixture("database d:1 - db\ntable r:9 n:404 orphan\n");
	run(src, st, DRIVER_E_QUERY, "inconsistent crawl");
	ok(!src->status.ok && strstr(src->status.error, "r:9"), "the error names the object: %s", src->status.error);
	ok(stored_has(st, "r:1"), "a failed crawl leaves the stored snapshot alone");
	write_fixture("database d:1 - db\nnot a kind\n");
	run(src, st, DRIVER_E_QUERY, "unparsable fixture");
	ok(stored_has(st, "r:1"), "…and so does an unreadable one");

	/* A crawl that would drop most tables is confirmed by a second one before anything is sent. */
	write_fixture("database d:1 - db\nschema n:1 d:1 shop\ntable r:1 n:1 orders\ncolumn a:1:1 r:1 id\n"
		      "\ttype = integer\ntable r:3 n:1 a\ntable r:4 n:1 b\ntable r:5 n:1 c\n");
	run(src, st, 0, "four tables");
	write_fixture("database d:1 - db\nschema n:1 d:1 shop\ntable r:1 n:1 orders\ncolumn a:1:1 r:1 id\n"
		      "\ttype = integer\n");
	is_int(run(src, st, 0, "three of four tables gone"), 1, "a confirmed mass drop is delivered");
	is_str(src->status.warning, "mass drop confirmed by a second crawl: 3 of 4 tables and views",
	       "the status says it was confirmed");

	/* A stored snapshot that does not decode is not diffed against: the crawl goes out whole. */
	ok(corrupt_stored(), "the stored snapshot is damaged");
	write_fixture(base);
	is_int(run(src, st, 0, "changed, the stored snapshot damaged"), 1, "the crawl is delivered");
	ok(src->status.ok && stored_has(st, "r:2") && stored_has(st, "a:1:1"), "and stored in its place, readable");

	/* Failures retry sooner than the interval, with jitter; first runs are spread by the splay. */
	src->failures = 1;
	source_schedule(src, 1000000);
	ok(src->next_run >= 1000000 + 4000 && src->next_run <= 1000000 + 6000, "first retry after 5 s ± 20%% (%llu)",
	   (unsigned long long)(src->next_run - 1000000));
	src->failures = 10;
	source_schedule(src, 1000000);
	is_int(src->next_run - 1000000, 60000, "backoff is capped at the interval");
	src->failures = 0;
	source_schedule(src, 1000000);
	is_int(src->next_run - 1000000, 60000, "a healthy source runs on its interval");
	source_splay(src, 1000000, 10);
	ok(src->next_run >= 1000000 && src->next_run < 1000000 + 10000, "splay within 10 s");

	source_free(src);
	state_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return done_testing();
}

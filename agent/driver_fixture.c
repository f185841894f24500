/*
 * The fixture driver: reads a schema from a file in the fixture format (common/fixture.h) at every
 * crawl. It lets the whole pipeline run, and be tested, without a database server; editing the file
 * between crawls stands in for DDL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "driver.h"
#include "fixture.h"
#include "xmalloc.h"

static int fixture_open(const struct source_conf *conf, void **ret_handle, char *err)
{
	if (!conf->fixture) {
		snprintf(err, DRIVER_ERRLEN, "no fixture file configured");
		return DRIVER_E_CONFIG;
	}
	*ret_handle = xstrdup(conf->fixture);
	return 0;
}

static int fixture_crawl(void *handle, struct snapshot *snap, char *err)
{
	struct snapshot *loaded;
	int r = fixture_load(handle, snap->source, &loaded, err, DRIVER_ERRLEN);

	if (r < 0) {
		snprintf(err, DRIVER_ERRLEN, "%s: %s", (char *)handle, strerror(-r));
		return DRIVER_E_CONNECT;
	}
	if (r > 0)
		return DRIVER_E_QUERY;
	snapshot_take(snap, loaded);
	for (size_t i = 0; i < loaded->npartial; i++)
		snapshot_mark_partial(snap, loaded->partial[i].key, loaded->partial[i].reason);
	snapshot_free(loaded);
	return 0;
}

static void fixture_close(void *handle)
{
	free(handle);
}

const struct driver_ops driver_fixture = {
	.name = "fixture",
	.open = fixture_open,
	.crawl = fixture_crawl,
	.close = fixture_close,
};

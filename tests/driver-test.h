/*
 * What the live driver tests share: one open + crawl + finish through the driver registry, as the
 * agent does it, with the snapshot handed back finished (or freed on failure).
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "driver.h"
#include "snapshot.h"

/* The password tests/run.sh left for a server in the 0600 file the environment variable names
 * (never the environment itself: meson logs it); NULL when there is none. Static storage. */
static inline const char *driver_test_password(const char *variable)
{
	static char pw[2][256];
	static int next;
	const char *path = getenv(variable);
	char *slot = pw[next++ % 2];
	FILE *f = path ? fopen(path, "r") : NULL;

	if (!f)
		return NULL;
	if (!fgets(slot, sizeof(pw[0]), f))
		slot[0] = '\0';
	fclose(f);
	slot[strcspn(slot, "\n")] = '\0';
	return slot;
}

/* o's path (obj_path), in one of four static buffers used in turn: enough for the paths one
 * statement of a test compares, not for a loop that compares each with one of them. */
static inline const char *driver_test_path(const struct obj *o)
{
	static struct buf tmp[4];
	static int next;

	return obj_path(o, &tmp[next++ % 4]);
}

static inline int driver_test_crawl(const struct source_conf *conf, struct snapshot **ret_snap, char *err)
{
	const struct driver_ops *drv = driver_lookup(conf->driver);
	struct snapshot *snap = snapshot_new(conf->name);
	void *h = NULL;
	int r;

	err[0] = '\0';
	r = drv->open(conf, &h, err);
	if (r == 0)
		r = drv->crawl(h, snap, err);
	if (r == 0 && snapshot_finish(snap) != 0) {
		snprintf(err, DRIVER_ERRLEN, "snapshot_finish: %s", snap->error);
		r = -1;
	}
	if (h)
		drv->close(h);
	if (r == 0 && ret_snap)
		*ret_snap = snap;
	else
		snapshot_free(snap);
	return r;
}

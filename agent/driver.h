/*
 * The driver registry. A driver reads one database's catalog into a snapshot; it knows nothing of
 * scheduling, state or delivery. modules[] in driver.c is the only place with HAVE_DRIVER_* tests;
 * each backend lives in its own driver_<name>.c, built as a module, and exports exactly one struct
 * driver_ops, driver_<name>.
 *
 * Drivers never log. On failure they return a DRIVER_E_* code (or a negative errno) and leave a
 * one-line message, free of credentials, in err; the source loop decides how to report it.
 * A crawl that fails midway must leave the snapshot unusable to the caller: the caller discards it.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "snapshot.h"

struct source_conf;

enum {
	DRIVER_E_CONNECT = 1, /* server unreachable */
	DRIVER_E_AUTH,        /* login refused */
	DRIVER_E_PRIVILEGE,   /* connected, but not allowed to read the catalog */
	DRIVER_E_QUERY,       /* a catalog query failed (includes timeouts) */
	DRIVER_E_CONFIG,      /* the source's settings cannot work with this driver */
	DRIVER_E_UNSTABLE,    /* the catalog changed while it was read (DDL under way): try again */
};

#define DRIVER_ERRLEN 512

struct driver_ops {
	const char *name;
	/* Validates the source's settings and returns a handle; it need not connect (pg does not:
	 * it connects at each crawl, so that a database restart between crawls costs nothing). */
	int (*open)(const struct source_conf *conf, void **ret_handle, char *err);
	/* One complete crawl in one read-only transaction; objects go into snap (not yet finished). */
	int (*crawl)(void *handle, struct snapshot *snap, char *err);
	void (*close)(void *handle);
	/*
	 * The server's catalog is not transactional (MySQL's information_schema reads each view at its
	 * own moment, and a copying ALTER TABLE briefly hides the table): a crawl that differs from the
	 * last snapshot is repeated until two in a row agree, so that a table caught in the middle of
	 * DDL is never reported as dropped and added again.
	 */
	bool settle;
	/* Optional (NULL: never): true when the handle's last crawl proved that the catalog did not
	 * move while it was read, which makes repeating it (settle) unnecessary. */
	bool (*quiet)(void *handle);
};

/* What a driver module and the agent loading it must agree on (agent/driver_abi.c). */
struct driver_abi {
	char version[32];
	size_t ops, obj, snapshot, source_conf;
};

#define DRIVER_ABI_INIT                                                                            \
	{ PROSPECTOR_VERSION, sizeof(struct driver_ops), sizeof(struct obj), sizeof(struct snapshot), \
	  sizeof(struct source_conf) }

/* The driver of that name; a database driver's module is loaded the first time (driver.c). NULL
 * when this build has no such driver or its module cannot be loaded (driver_error says why). */
const struct driver_ops *driver_lookup(const char *name);
/* Every driver's error message goes through here: formatted into err (DRIVER_ERRLEN bytes), then
 * scrubbed of key=value secrets, of every registered password and of password (NULL: none), so that
 * no driver can forget to. Returns code. */
int driver_vfail(char *err, const char *password, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
/* Comma-separated names of the drivers this build has, for --help and config errors. */
const char *driver_names(void);
/* Why driver_lookup(name) returned NULL for a driver this build has (its module could not be
 * loaded: not installed, or a library it needs is missing); NULL for a name it does not have. */
const char *driver_error(const char *name);

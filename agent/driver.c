/*
 * The driver registry: which backends this agent was built with, looked up by the name a source's
 * "driver" key gives. This is the only file that knows which HAVE_DRIVER_* were compiled in; the
 * backends themselves live in driver_<name>.c and export one struct driver_ops each.
 */
#include "driver.h"

#include <stdio.h>
#include <string.h>

#include "redact.h"

#ifdef HAVE_DRIVER_PG
extern const struct driver_ops driver_pg;
#endif
#ifdef HAVE_DRIVER_MYSQL
extern const struct driver_ops driver_mysql;
#endif
#ifdef HAVE_DRIVER_ODBC
extern const struct driver_ops driver_odbc;
#endif
extern const struct driver_ops driver_fixture;

static const struct driver_ops *const drivers[] = {
#ifdef HAVE_DRIVER_PG
	&driver_pg,
#endif
#ifdef HAVE_DRIVER_MYSQL
	&driver_mysql,
#endif
#ifdef HAVE_DRIVER_ODBC
	&driver_odbc,
#endif
	&driver_fixture,
	NULL,
};

const struct driver_ops *driver_lookup(const char *name)
{
	for (size_t i = 0; name && drivers[i]; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

/* Built once; the table is fixed at compile time, so is the list. */
const char *driver_names(void)
{
	static char names[128];

	if (names[0])
		return names;
	for (size_t i = 0; drivers[i]; i++) {
		if (i)
			strncat(names, ",", sizeof(names) - strlen(names) - 1);
		strncat(names, drivers[i]->name, sizeof(names) - strlen(names) - 1);
	}
	return names;
}

int driver_vfail(char *err, const char *password, int code, const char *fmt, va_list ap)
{
	vsnprintf(err, DRIVER_ERRLEN, fmt, ap);
	redact_secrets(err);
	redact_password(err, password);
	return code;
}

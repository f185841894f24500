/*
 * The driver registry: which backends this agent has, looked up by the name a source's "driver" key
 * gives. The fixture is built in. Each database driver is a module, prospector-driver-<name>.so,
 * loaded the first time a source names it, so that an agent loads only the client libraries its
 * sources use: libpq brings 2.9 MB of libraries (gnutls, ldap, nettle …) into the memory of an
 * agent whose sources are all MariaDB. A module exports one struct driver_ops, driver_<name>, and
 * calls the agent's own functions, which the executable exports to it. This is the only file that
 * knows which HAVE_DRIVER_* were built.
 */
#include "driver.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "redact.h"

extern const struct driver_ops driver_fixture;

/* The modules this build made, and what loading each gave (once: a module stays loaded). */
static struct module {
	const char *name;
	bool tried;
	const struct driver_ops *ops;
	char error[512]; /* why ops is NULL */
} modules[] = {
#ifdef HAVE_DRIVER_PG
	{ .name = "pg" },
#endif
#ifdef HAVE_DRIVER_MYSQL
	{ .name = "mysql" },
#endif
#ifdef HAVE_DRIVER_ODBC
	{ .name = "odbc" },
#endif
	{ .name = NULL },
};

/* The directory of the running executable, "" when it cannot be read. */
static void exe_dir(char *dir, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", dir, len - 1);
	char *slash;

	dir[n > 0 ? n : 0] = '\0';
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
}

/* Whether the module h was built with this agent (agent/driver_abi.c); says why not in m->error. */
static bool module_abi_ok(struct module *m, void *h, const char *path)
{
	static const struct driver_abi ours = DRIVER_ABI_INIT;
	const struct driver_abi *abi = dlsym(h, "prospector_driver_abi");

	if (abi && strcmp(abi->version, ours.version) == 0 && abi->ops == ours.ops && abi->obj == ours.obj &&
	    abi->snapshot == ours.snapshot && abi->source_conf == ours.source_conf)
		return true;
	if (abi)
		snprintf(m->error, sizeof(m->error),
			 "%.120s does not match this agent: built for prospector %.32s (sizes %zu/%zu/%zu/%zu), the "
			 "agent is %s (%zu/%zu/%zu/%zu)", path, abi->version, abi->ops, abi->obj, abi->snapshot,
			 abi->source_conf, ours.version, ours.ops, ours.obj, ours.snapshot, ours.source_conf);
	else
		snprintf(m->error, sizeof(m->error), "%.200s is not a prospector driver module of this agent's build",
			 path);
	dlclose(h);
	return false;
}

/*
 * Where a module is looked for, in order: $PROSPECTOR_DRIVER_DIR (set by whoever sets the agent's
 * environment, who could as well set LD_PRELOAD); the executable's own directory, where a build
 * tree has both; the directory meson installs them to.
 */
static void module_load(struct module *m)
{
	char here[PATH_MAX], path[PATH_MAX + 64], sym[64];
	const char *dirs[] = { getenv("PROSPECTOR_DRIVER_DIR"), here, PROSPECTOR_DRIVER_DIR };
	void *h;

	m->tried = true;
	exe_dir(here, sizeof(here));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		snprintf(path, sizeof(path), "%s/prospector-driver-%s.so", dirs[i], m->name);
		if (access(path, F_OK) != 0)
			continue;
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			snprintf(m->error, sizeof(m->error), "%s", dlerror());
			return;
		}
		if (!module_abi_ok(m, h, path))
			return;
		snprintf(sym, sizeof(sym), "driver_%s", m->name);
		m->ops = dlsym(h, sym);
		if (!m->ops)
			snprintf(m->error, sizeof(m->error), "%.200s: no symbol %s", path, sym);
		return;
	}
	snprintf(m->error, sizeof(m->error), "prospector-driver-%s.so is not installed (looked in %.100s%s%.100s%s%.100s)",
		 m->name, dirs[0] ? dirs[0] : "", dirs[0] && *dirs[0] ? ", " : "", here, *here ? ", " : "",
		 PROSPECTOR_DRIVER_DIR);
}

static struct module *module_find(const char *name)
{
	for (struct module *m = modules; name && m->name; m++)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

const struct driver_ops *driver_lookup(const char *name)
{
	struct module *m;

	if (name && strcmp(name, driver_fixture.name) == 0)
		return &driver_fixture;
	m = module_find(name);
	if (m && !m->tried)
		module_load(m);
	return m ? m->ops : NULL;
}

const char *driver_error(const char *name)
{
	const struct module *m = module_find(name);

	return m && m->tried && !m->ops ? m->error : NULL;
}

/* Built once; the list is fixed at compile time. */
const char *driver_names(void)
{
	static char names[128];

	if (names[0])
		return names;
	for (const struct module *m = modules; m->name; m++) {
		strncat(names, m->name, sizeof(names) - strlen(names) - 1);
		strncat(names, ",", sizeof(names) - strlen(names) - 1);
	}
	strncat(names, driver_fixture.name, sizeof(names) - strlen(names) - 1);
	return names;
}

int driver_vfail(char *err, const char *password, int code, const char *fmt, va_list ap)
{
	vsnprintf(err, DRIVER_ERRLEN, fmt, ap);
	redact_secrets(err);
	redact_password(err, password);
	return code;
}

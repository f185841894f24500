/* Drivers as modules (agent/driver.c): loaded when a source names one, and a module that cannot be
 * loaded is a configuration error that says which file and why, not a crash at the first crawl.
 * meson points PROSPECTOR_DRIVER_DIR at the build's modules; this test points it at a directory
 * of its own first, where the PostgreSQL module is a file that is not a library, and then at
 * STALE_DRIVER_DIR, where the ODBC module is one of another build (tests/stale). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "driver.h"
#include "keys.h"
#include "tap.h"

int main(void)
{
	const char *built = getenv("PROSPECTOR_DRIVER_DIR");
	char dir[] = "/tmp/test-driver-load.XXXXXX", module[64], conf[64], err[600] = "";
	struct agent_conf *c = NULL;
	struct curve_key k;
	FILE *f;

	if (!built || !mkdtemp(dir))
		skip_all("PROSPECTOR_DRIVER_DIR is not set (run by meson test)");
	built = strdup(built);
	if (chdir(dir) != 0 || keys_generate(&k) != 0 || keys_write("k", &k, NULL, err, sizeof(err)) != 0)
		skip_all("cannot write key files");
	snprintf(module, sizeof(module), "%s/prospector-driver-pg.so", dir);
	snprintf(conf, sizeof(conf), "%s/agent.conf", dir);
	f = fopen(module, "w");
	fputs("not a shared object\n", f);
	fclose(f);
	f = fopen(conf, "w");
	fputs("[agent]\nid = a1\ncollector = tcp://127.0.0.1:7431\ncurve_secret_key = k.key\ncollector_public_key = k.pub\n"
	      "[source \"hr\"]\ndriver = pg\nconninfo = host=db\n", f);
	fclose(f);
	setenv("PROSPECTOR_DRIVER_DIR", dir, 1);

	ok(driver_lookup("fixture") != NULL, "the fixture driver is built in");
	ok(driver_lookup("oracle") == NULL && driver_error("oracle") == NULL, "an unknown driver: no such driver, no error");
	ok(driver_lookup("pg") == NULL, "a module that is not a library is not loaded");
	ok(driver_error("pg") && strstr(driver_error("pg"), module), "why names the file: %s",
	   driver_error("pg") ? driver_error("pg") : "(null)");
	ok(agent_conf_load(conf, &c, err, sizeof(err)) == 1 && strstr(err, "agent.conf:6: driver 'pg' cannot be loaded: ") &&
		   strstr(err, module),
	   "the configuration check says so at the source's section: %s", err);
	agent_conf_free(c);

	/* The directory searched first has no MariaDB module: the build's is found after it. */
	setenv("PROSPECTOR_DRIVER_DIR", built, 1);
	ok(driver_lookup("mysql") != NULL && strcmp(driver_lookup("mysql")->name, "mysql") == 0,
	   "a module found where the environment points: %s", driver_error("mysql") ? driver_error("mysql") : "loaded");
	ok(driver_lookup("pg") == NULL, "a module that failed stays failed in this process (it is tried once)");

	/* A module of another build: refused before anything of it runs. */
	if (getenv("STALE_DRIVER_DIR"))
		setenv("PROSPECTOR_DRIVER_DIR", getenv("STALE_DRIVER_DIR"), 1);
	ok(driver_lookup("odbc") == NULL, "a module of another build is not used");
	ok(driver_error("odbc") && strstr(driver_error("odbc"), "does not match this agent: built for prospector 0.0.0"),
	   "why: %s", driver_error("odbc") ? driver_error("odbc") : "(null)");

	unlink(module);
	unlink(conf);
	unlink("k.key");
	unlink("k.pub");
	rmdir(dir);
	free((char *)built);
	return done_testing();
}

/* A driver module from another build, as an older package could leave one in the module directory:
 * another version and a struct obj of another size. test-driver-load checks that the agent refuses
 * to use it. */
#include "config.h"
#include "driver.h"

const struct driver_abi prospector_driver_abi = { "0.0.0", sizeof(struct driver_ops), sizeof(struct obj) + 8,
						  sizeof(struct snapshot), sizeof(struct source_conf) };

const struct driver_ops driver_odbc = { .name = "odbc" };

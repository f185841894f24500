/*
 * Compiled into every driver module (agent/meson.build), and checked by driver.c before it uses
 * one: a module from another build (an older package's, left in the module directory) would share
 * struct obj, struct snapshot and struct driver_ops with the agent under another layout, and
 * corrupt memory rather than fail.
 */
#include "config.h"
#include "driver.h"

const struct driver_abi prospector_driver_abi = DRIVER_ABI_INIT;

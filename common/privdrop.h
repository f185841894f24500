/*
 * Dropping root (-u USER on both daemons): started as root by an init system without systemd's
 * User=, a daemon reads its configuration and key files as root, then becomes USER for good before
 * it opens its state, its catalog or a socket, so that everything it creates belongs to USER and a
 * compromise of the process gets USER's rights only.
 */
#pragma once

#include <stddef.h>

/* Becomes user (its uid, gid and supplementary groups) and checks that root cannot be regained.
 * Already running as user: nothing to do. 0, or -errno with a message in err. */
int privdrop(const char *user, char *err, size_t errlen);

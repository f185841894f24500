/*
 * CURVE keys (DESIGN §3.6): the collector has a long-term key pair, each agent its own; the
 * collector admits only agents whose public key is enrolled and not revoked.
 *
 * Keys are ZeroMQ's Z85 text (40 characters for 32 bytes). A key file holds lines of `name = value`
 * with '#' comments:
 *
 *     # Prospector CURVE key pair of agent health-bureau-01. Keep this file secret (mode 0600).
 *     public-key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
 *     secret-key = JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6
 *
 * NAME.key holds both and must not be readable by group or others; NAME.pub holds only the public
 * key, to be handed to the collector's operator (`prospector enroll`) or to agents (the collector's).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define KEY_Z85_LEN 40

struct curve_key {
	char public_key[KEY_Z85_LEN + 1];
	char secret_key[KEY_Z85_LEN + 1]; /* empty for a public key only */
};

/* A new key pair. 0 or -errno (libzmq built without CURVE). */
int keys_generate(struct curve_key *k);
/* Writes base.key (0600, refusing to overwrite) and base.pub (0644). 0, or -errno with a message. */
int keys_write(const char *base, const struct curve_key *k, const char *comment, char *err, size_t errlen);
/* Reads a key pair from a .key file, refusing one that group or others may read. */
int keys_load_secret(const char *path, struct curve_key *k, char *err, size_t errlen);
/* A public key given as Z85 text, or read from a .pub (or .key) file. */
int keys_load_public(const char *path_or_key, char out[KEY_Z85_LEN + 1], char *err, size_t errlen);
/* True for 40 characters of Z85 that decode to 32 bytes. */
bool keys_z85_valid(const char *s);
/* Wipes the secret half. */
void keys_wipe(struct curve_key *k);

/*
 * The collector's ZAP handler (ZeroMQ RFC 27): libzmq asks it, for every CURVE handshake on the
 * collector's socket, whether the client's public key may connect. Only keys enrolled in the
 * catalog and not revoked are admitted (`prospector enroll`, `prospector revoke`); the reply's
 * User-Id is the key itself (Z85), which every message from that connection carries and which
 * ingest maps to the agent on each message, so that a revocation also ends connections already
 * open. Refusals are logged, at most a few a minute, with a count of the rest.
 */
#pragma once

#include "catalog.h"

struct zap;

/* Binds inproc://zeromq.zap.01 in zctx: must happen before the CURVE socket binds. NULL with a
 * message in err. */
struct zap *zap_open(void *zctx, struct catalog *cat, char *err, size_t errlen);
void *zap_socket(struct zap *z);
/* Answers every waiting request. */
void zap_handle(struct zap *z);
void zap_close(struct zap *z);

#include "zap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "keys.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* Refused handshakes: this many are logged per minute, the rest counted in one line. */
#define ZAP_LOG_PER_MINUTE 5
#define ZAP_MINUTE_MS 60000

/* A ZAP request: version, request id, domain, address, routing id, mechanism, credentials. */
enum { ZAP_VERSION, ZAP_REQUEST_ID, ZAP_DOMAIN, ZAP_ADDRESS, ZAP_IDENTITY, ZAP_MECHANISM, ZAP_CLIENT_KEY, ZAP_FRAMES };

struct zap {
	void *sock;
	struct catalog *cat;
	uint64_t minute_start;
	unsigned logged, suppressed;
};

struct zap *zap_open(void *zctx, struct catalog *cat, char *err, size_t errlen)
{
	struct zap *z = xcalloc(1, sizeof(*z));
	int linger = 0;

	z->cat = cat;
	z->sock = zmq_socket(zctx, ZMQ_REP);
	if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
	    zmq_bind(z->sock, ZAP_ENDPOINT) < 0) {
		snprintf(err, errlen, "ZAP handler: %s", zmq_strerror(zmq_errno()));
		zap_close(z);
		return NULL;
	}
	return z;
}

void *zap_socket(struct zap *z)
{
	return z->sock;
}

void zap_close(struct zap *z)
{
	if (!z)
		return;
	if (z->sock)
		zmq_close(z->sock);
	free(z);
}

/* Rate-limited: a scan of the port must not fill the disk with log lines. */
static void zap_refused(struct zap *z, const char *address, const char *why)
{
	uint64_t now = time_mono_ms();

	if (now - z->minute_start >= ZAP_MINUTE_MS) {
		if (z->suppressed)
			log_warnx("refused %u more connections in the last minute", z->suppressed);
		z->minute_start = now;
		z->logged = z->suppressed = 0;
	}
	if (z->logged >= ZAP_LOG_PER_MINUTE) {
		z->suppressed++;
		return;
	}
	z->logged++;
	log_warnx("refused a connection from %s: %s", address, why);
}

static void zap_reply(void *sock, const zmq_msg_t *request_id, const char *code, const char *text,
		      const char *user_id)
{
	zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(sock, zmq_msg_data((zmq_msg_t *)request_id), zmq_msg_size((zmq_msg_t *)request_id), ZMQ_SNDMORE);
	zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
	zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(sock, user_id, strlen(user_id), ZMQ_SNDMORE);
	zmq_send(sock, "", 0, 0);
}

/* The decision for one request whose frames were read; *key gets the client's key in Z85. */
static const char *zap_decide(struct zap *z, zmq_msg_t *f, size_t nframes, char key[KEY_Z85_LEN + 1])
{
	char agent[256];
	int r;

	key[0] = '\0';
	if (nframes != ZAP_FRAMES || zmq_msg_size(&f[ZAP_MECHANISM]) != 5 ||
	    memcmp(zmq_msg_data(&f[ZAP_MECHANISM]), "CURVE", 5) != 0)
		return "not a CURVE handshake";
	if (zmq_msg_size(&f[ZAP_CLIENT_KEY]) != 32 || !zmq_z85_encode(key, zmq_msg_data(&f[ZAP_CLIENT_KEY]), 32))
		return "malformed client key";
	r = catalog_key_agent(z->cat, key, agent, sizeof(agent));
	if (r == CATALOG_E_NOT_FOUND)
		return "its key is not enrolled, or was revoked";
	if (r != 0)
		return "the catalog cannot be read";
	return NULL;
}

static void zap_handle_one(struct zap *z)
{
	zmq_msg_t f[ZAP_FRAMES + 1];
	char key[KEY_Z85_LEN + 1], address[64] = "?", why[128];
	size_t n = 0;
	const char *refusal;
	int more = 1;

	while (more && n < ZAP_FRAMES + 1) {
		zmq_msg_init(&f[n]);
		if (zmq_msg_recv(&f[n], z->sock, 0) < 0) {
			zmq_msg_close(&f[n]);
			break;
		}
		more = zmq_msg_more(&f[n++]);
	}
	if (n > ZAP_ADDRESS)
		snprintf(address, sizeof(address), "%.*s", (int)zmq_msg_size(&f[ZAP_ADDRESS]),
			 (const char *)zmq_msg_data(&f[ZAP_ADDRESS]));
	refusal = more ? "malformed ZAP request" : zap_decide(z, f, n, key);
	if (n > ZAP_REQUEST_ID) {
		if (refusal) {
			snprintf(why, sizeof(why), "%s%s%.8s%s", refusal, key[0] ? " (key " : "", key, key[0] ? "…)" : "");
			zap_refused(z, address, why);
			zap_reply(z->sock, &f[ZAP_REQUEST_ID], "400", refusal, "");
		} else {
			zap_reply(z->sock, &f[ZAP_REQUEST_ID], "200", "OK", key);
		}
	}
	for (size_t i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
}

void zap_handle(struct zap *z)
{
	zmq_pollitem_t item = { .socket = z->sock, .events = ZMQ_POLLIN };

	while (zmq_poll(&item, 1, 0) > 0)
		zap_handle_one(z);
}

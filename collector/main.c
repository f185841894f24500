/*
 * prospector-collector: the daemon that receives agents' batches and keeps the catalog.
 *
 * This file is the socket code: a ZeroMQ ROUTER bound to the configured endpoint, a poll loop that
 * hands each [routing id, message] to ingest and sends ingest's replies back to the same peer, that
 * sends the probe commands queued in the catalog (prospector probe / interval) twice a second, and
 * a clean shutdown on SIGTERM/SIGINT (the catalog's WAL is checkpointed on close). It runs in the
 * foreground, as systemd expects; -s sends the log to syslog instead of stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "catalog.h"
#include "config.h"
#include "ingest.h"
#include "log.h"
#include "privdrop.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "zap.h"

#define PROGNAME "prospector-collector"
/* How often the loop wakes up without traffic to notice a signal, and at most how long a command
 * queued by 'prospector probe' or 'prospector interval' waits before it is sent. */
#define POLL_MS 500

static volatile sig_atomic_t quit;

static const char usage_text[] =
	"NAME\n"
	"    " PROGNAME " - receive schema changes from Prospector agents and keep the catalog\n"
	"\n"
	"SYNOPSIS\n"
	"    " PROGNAME " -c FILE [-n] [-d] [-f] [-s] [-u USER]\n"
	"    " PROGNAME " -h | --help\n"
	"\n"
	"DESCRIPTION\n"
	"    Listens for agents on a ZeroMQ endpoint, applies every batch they send exactly once to\n"
	"    the catalog database (objects, relationship graph, hash-chained change history) and\n"
	"    acknowledges it after the database has committed it durably. Runs in the foreground.\n"
	"    The prospector(1) command reads the same database.\n"
	"\n"
	"OPTIONS\n"
	"    -c FILE      configuration file (required)\n"
	"    -n           check the configuration and that the database can be opened or created,\n"
	"                 then exit: 0 when both are fine, 1 with a file:line message otherwise\n"
	"    -d           log debug messages too\n"
	"    -f           stay in the foreground, logging to stderr (the default)\n"
	"    -s           log to syslog instead of stderr\n"
	"    -u USER      started as root: read the configuration and the key, then run as USER\n"
	"                 (before the catalog is opened, so that it belongs to USER)\n"
	"    -h, --help   show this help\n"
	"\n"
	"CONFIGURATION\n"
	"    An INI file with one [collector] section:\n"
	"    listen = ENDPOINT        ZeroMQ endpoint to bind (default " COLLECTOR_DEFAULT_LISTEN ")\n"
	"    database = PATH          the catalog, an sqlite database, created mode 0600 (required)\n"
	"    max_batch_bytes = N      largest batch an agent may send, announced to agents\n"
	"                             (default 4194304; messages over twice this are dropped)\n"
	"    stale_after = DURATION   a source whose last successful crawl is older than this, or\n"
	"                             that its agent no longer lists, is shown as stale by\n"
	"                             `prospector status`; its objects and history stay (default 7d)\n"
	"    silent_factor = N        an agent not heard from for N times the longest interval of\n"
	"                             its sources is shown as silent (default 3)\n"
	"    Unknown keys are reported and ignored; every error names file:line.\n"
	"\n"
	"FILES\n"
	"    /etc/prospector/collector.conf      the usual configuration file\n"
	"    /var/lib/prospector/catalog.db      the usual catalog (with -wal and -shm beside it)\n"
	"\n"
	"SIGNALS\n"
	"    SIGTERM, SIGINT   finish the message in hand, checkpoint the catalog and exit 0\n"
	"\n"
	"EXIT STATUS\n"
	"    0 on a clean shutdown or a successful -n check; 1 on a configuration, database or\n"
	"    socket error at start-up; 2 on a usage error.\n"
	"\n"
	"EXAMPLES\n"
	"    " PROGNAME " -n -c /etc/prospector/collector.conf\n"
	"    " PROGNAME " -c /etc/prospector/collector.conf -d\n";

/* What `prospector status` needs of the configuration, for readers that only have the catalog. */
static void publish_policy(struct catalog *cat, const struct collector_conf *conf)
{
	char stale[32], silent[32];

	snprintf(stale, sizeof(stale), "%u", conf->stale_after);
	snprintf(silent, sizeof(silent), "%u", conf->silent_factor);
	if (catalog_begin(cat) != 0 || catalog_meta_set(cat, "stale_after_s", stale) != 0 ||
	    catalog_meta_set(cat, "silent_factor", silent) != 0 || catalog_commit(cat) != 0) {
		log_warnx("cannot record the status policy in the catalog: %s", catalog_error(cat));
		catalog_rollback(cat);
	}
}

struct options {
	const char *user;
	const char *config;
	bool check;
	bool debug;
	bool syslog;
};

static _Noreturn void usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:ndfsu:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': opt->config = optarg; break;
		case 'u': opt->user = optarg; break;
		case 'n': opt->check = true; break;
		case 'd': opt->debug = true; break;
		case 'f': opt->syslog = false; break;
		case 's': opt->syslog = true; break;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (optind != argc || !opt->config) {
		fprintf(stderr, "%s: %s\n", PROGNAME, opt->config ? "unexpected argument" : "-c FILE is required");
		usage(2);
	}
}

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void signals_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void *socket_open(void *zctx, const struct collector_conf *conf)
{
	void *sock = zmq_socket(zctx, ZMQ_ROUTER);
	int64_t maxmsg = (int64_t)conf->max_batch_bytes * 2;
	int linger = 0, mandatory = 1, hb_ivl = 5000, hb_timeout = 20000;

	if (!sock)
		fatalx("cannot create a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	/* A command to an agent that has gone must fail, not vanish, so that it stays queued. */
	zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof(mandatory));
	/* ZMTP heartbeats close connections whose agent vanished without a FIN (power cut, network
	 * cut), so that their queued replies and commands do not pile up. */
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof(hb_ivl));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(hb_timeout));
	/* CURVE only: a client without it, or with a key ZAP does not admit, never gets a message in. */
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &mandatory, sizeof(mandatory)) < 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, conf->key.secret_key, KEY_Z85_LEN) < 0 ||
	    zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "prospector", 10) < 0)
		fatalx("cannot enable CURVE (is libzmq built with libsodium?): %s", zmq_strerror(zmq_errno()));
	if (zmq_bind(sock, conf->listen) != 0)
		fatalx("%s:%u: listen = %s: %s", conf->path, conf->listen_line, conf->listen,
		       zmq_strerror(zmq_errno()));
	return sock;
}

static void send_replies(void *sock, const zmq_msg_t *rid, const struct ingest_replies *out)
{
	for (size_t i = 0; i < out->n; i++) {
		/* A ROUTER drops what it cannot route (the peer left); the agent resends then. */
		if (zmq_send(sock, zmq_msg_data((zmq_msg_t *)rid), zmq_msg_size((zmq_msg_t *)rid),
			     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
		    zmq_send(sock, out->msgs[i].data, out->msgs[i].len, ZMQ_DONTWAIT) < 0)
			log_debug("reply not sent: %s", zmq_strerror(zmq_errno()));
	}
}

/* Reads the rest of a multipart message; an agent sends exactly one frame. */
static size_t drain_more(void *sock)
{
	size_t extra = 0;
	int more = 1;
	size_t len = sizeof(more);

	while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
		zmq_msg_t m;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			zmq_msg_close(&m);
			break;
		}
		zmq_msg_close(&m);
		extra++;
	}
	return extra;
}

/* One [routing id, message] from the socket. 0 handled, 1 nothing to read, -1 an error. */
static int handle_one(void *sock, struct ingest *ing)
{
	zmq_msg_t rid, body;
	struct ingest_replies out = { 0 };
	struct ingest_peer peer;
	int r = 0;

	zmq_msg_init(&rid);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&rid, sock, ZMQ_DONTWAIT) < 0) {
		r = zmq_errno() == EAGAIN || zmq_errno() == EINTR ? 1 : -1;
		goto out;
	}
	if (!zmq_msg_more(&rid) || zmq_msg_recv(&body, sock, 0) < 0)
		goto out;
	if (drain_more(sock) > 0) {
		log_debug("dropped a message with more than one frame");
		goto out;
	}
	peer.routing_id = zmq_msg_data(&rid);
	peer.routing_id_len = zmq_msg_size(&rid);
	peer.curve_key = zmq_msg_gets(&body, "User-Id");
	peer.agent_id = NULL;
	ingest_handle(ing, &peer, zmq_msg_data(&body), zmq_msg_size(&body), &out);
	send_replies(sock, &rid, &out);
	ingest_replies_clear(&out);
out:
	zmq_msg_close(&rid);
	zmq_msg_close(&body);
	return r;
}

static int send_command(void *sock, const void *rid, size_t rid_len, const struct buf *msg)
{
	if (zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -zmq_errno();
	if (zmq_send(sock, msg->data, msg->len, ZMQ_DONTWAIT) < 0)
		return -zmq_errno();
	return 0;
}

/* Queued commands are read on every wake-up, but at most once per POLL_MS under traffic. ZAP
 * requests come first: a handshake waits for them. */
static void serve(void *sock, struct zap *zap, struct ingest *ing)
{
	zmq_pollitem_t items[] = {
		{ .socket = zap_socket(zap), .events = ZMQ_POLLIN },
		{ .socket = sock, .events = ZMQ_POLLIN },
	};
	uint64_t next_commands = 0;

	while (!quit) {
		int n = zmq_poll(items, 2, POLL_MS);

		if (n < 0 && zmq_errno() != EINTR) {
			log_warnx("poll: %s", zmq_strerror(zmq_errno()));
			break;
		}
		if (n > 0 && (items[0].revents & ZMQ_POLLIN))
			zap_handle(zap);
		while (n > 0 && (items[1].revents & ZMQ_POLLIN) && !quit && handle_one(sock, ing) == 0)
			;
		if (time_mono_ms() >= next_commands) {
			ingest_send_commands(ing, send_command, sock);
			next_commands = time_mono_ms() + POLL_MS;
		}
	}
}

int main(int argc, char **argv)
{
	struct options opt = { 0 };
	struct collector_conf *conf;
	struct catalog *cat;
	struct ingest *ing;
	struct zap *zap;
	char err[600];
	void *zctx, *sock;

	parse_options(argc, argv, &opt);
	log_init(PROGNAME, !opt.syslog || opt.check, opt.debug);
	if (collector_conf_load(opt.config, &conf, err, sizeof(err)))
		fatalx("%s", err);
	if (opt.user && privdrop(opt.user, err, sizeof(err)) < 0)
		fatalx("%s", err);
	if (catalog_open(conf->database, &cat, err, sizeof(err)))
		fatalx("%s:%u: database: %s", conf->path, conf->database_line, err);
	if (opt.check) {
		catalog_close(cat);
		collector_conf_free(conf);
		printf("%s: configuration OK\n", opt.config);
		return 0;
	}
	publish_policy(cat, conf);
	signals_setup();
	zctx = zmq_ctx_new();
	zap = zap_open(zctx, cat, err, sizeof(err));
	if (!zap)
		fatalx("%s", err);
	sock = socket_open(zctx, conf);
	ing = ingest_new(cat, conf->max_batch_bytes);
	log_info("listening on %s (CURVE, public key %s), catalog %s", conf->listen, conf->key.public_key,
		 conf->database);
	serve(sock, zap, ing);
	log_info("shutting down");
	ingest_free(ing);
	zmq_close(sock);
	zap_close(zap);
	zmq_ctx_term(zctx);
	catalog_close(cat);
	collector_conf_free(conf);
	return 0;
}

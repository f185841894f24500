/*
 * prospector-agent: reads the schemas of the configured databases on a schedule and delivers what
 * changed to the collector. One process, one thread: crawls are short, bulk and sequential, and the
 * socket is polled between them.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "config.h"
#include "fixture.h"
#include "log.h"
#include "outbox.h"
#include "privdrop.h"
#include "publisher.h"
#include "source.h"
#include "state.h"
#include "timeutil.h"
#include "xmalloc.h"

#define DEFAULT_CONF "/etc/prospector/agent.conf"
#define DEFAULT_ONCE_TIMEOUT 120

static volatile sig_atomic_t quit;

struct agent {
	struct agent_conf *conf;
	struct state *st;
	struct publisher *pub;
	struct source **sources;
	size_t nsources;
	uint64_t next_heartbeat;
	bool failed; /* some crawl failed (what --once reports) */
	bool outbox_empty; /* the collector had acknowledged every batch, at the end of the last turn */
};

static const char usage_text[] =
	"usage: prospector-agent [-c FILE] [-n] [--once [--timeout SECONDS]] [--dump SOURCE] [-s] [-d] [-u USER]\n";

static const char help_text[] =
	"NAME\n"
	"    prospector-agent - read database schemas and deliver their changes to a collector\n"
	"\n"
	"SYNOPSIS\n"
	"    prospector-agent [-c FILE] [-d] [-s] [-u USER]\n"
	"    prospector-agent [-c FILE] -n\n"
	"    prospector-agent [-c FILE] --once [--timeout SECONDS]\n"
	"    prospector-agent [-c FILE] --dump SOURCE\n"
	"\n"
	"DESCRIPTION\n"
	"    Every configured source (a [source \"NAME\"] section) is crawled on its interval in one\n"
	"    read-only transaction with a constant number of catalog queries. The result is compared with\n"
	"    the last snapshot kept in STATE_DIR/state.db; what changed is stored in the same transaction\n"
	"    as the new snapshot and sent to the collector until the collector acknowledges it. A crawl\n"
	"    that fails produces no changes; its error is shown by `prospector status`.\n"
	"\n"
	"OPTIONS\n"
	"    -c, --config FILE   configuration file (default " DEFAULT_CONF ")\n"
	"    -n, --check         check the configuration and exit: 0 when it is valid\n"
	"        --once          crawl every source once, deliver everything and exit: 0 only when every\n"
	"                        crawl succeeded and the collector acknowledged all of it\n"
	"        --timeout SECS  with --once: give up after this many seconds (default 120)\n"
	"        --dump SOURCE   crawl SOURCE once and print its snapshot (fixture format) to standard\n"
	"                        output; touches neither the state nor the collector\n"
	"    -s, --syslog        log to syslog instead of standard error\n"
	"    -u, --user USER     started as root: read the configuration, the keys and the secrets\n"
	"                        file, then run as USER (before state.db is opened)\n"
	"    -d, --debug         log debugging detail\n"
	"    -V, --version       print the version and exit\n"
	"    -h, --help          print this help and exit\n"
	"\n";

/* In two parts: C99 promises string literals of 4095 characters only. */
static const char help_config[] =
	"CONFIGURATION\n"
	"    [agent]\n"
	"    id              this agent's name at the collector (required)\n"
	"    collector       the collector's ZeroMQ endpoint, e.g. tcp://collector:7431 (required)\n"
	"    state_dir       where state.db lives (default /var/lib/prospector)\n"
	"    heartbeat       how often probe status is sent (default 30s)\n"
	"    max_batch_bytes largest batch sent (default 1048576; the collector may ask for less)\n"
	"    splay           first crawls start at a random moment within this (default 10s)\n"
	"    secrets_file    the sources' passwords, mode 0600: [source \"NAME\"] password = …\n"
	"    outbox_max_bytes  when the changes waiting for the collector exceed this (default 64M),\n"
	"                    those of each source are replaced by one full snapshot of it: the\n"
	"                    collector rebuilds the same catalog from it, marked as found by resync\n"
	"    outbox_max_age  likewise for changes waiting longer than this (default 7d)\n"
	"    curve_secret_key  this agent's CURVE key pair, from `prospector keygen` (required;\n"
	"                    mode 0600); its .pub is enrolled at the collector (`prospector enroll`)\n"
	"    collector_public_key  the collector's .pub file (required)\n"
	"\n"
	"    [source \"NAME\"]   NAME starts every object path: NAME/database/schema/table.column\n"
	"    driver          pg (PostgreSQL via libpq), mysql (MySQL/MariaDB), odbc (anything with an\n"
	"                    ODBC driver: unixODBC) or fixture (a schema file, for tests). pg, mysql\n"
	"                    and odbc are modules, prospector-driver-NAME.so, loaded from\n"
	"                    $PROSPECTOR_DRIVER_DIR, else beside this program, else from\n"
	"                    " PROSPECTOR_DRIVER_DIR "\n"
	"    conninfo        pg: a libpq connection string, without a password (secrets_file,\n"
	"                    ~/.pgpass or PGPASSFILE, mode 0600)\n"
	"                    mysql: host=… port=… user=… (password: secrets_file, or option_file=FILE\n"
	"                    mode 0600)\n"
	"                    odbc: an ODBC connection string, e.g. DSN=hr; or Driver=SQLite3;Database=…\n"
	"    interval        time between crawls: 30s, 5m, 2h, 1d (default 5m)\n"
	"    timeout         statement and lock timeout of catalog queries (default 30s)\n"
	"    include         comma-separated patterns over schema.table to crawl (default all)\n"
	"    exclude         comma-separated patterns over schema.table to leave out\n"
	"    department      the owning department, shown in the catalog\n"
	"    system          the information system the database belongs to\n"
	"    fixture         fixture: the schema file to read\n"
	"    mass_drop_percent  a crawl that would drop more than this share of the tables and views\n"
	"                    is confirmed by a second crawl before anything is sent (default 50)\n"
	"\n"
	"EXIT STATUS\n"
	"    0 success; 1 a configuration, state or delivery error; 2 bad usage.\n"
	"\n"
	"EXAMPLES\n"
	"    prospector-agent -c /etc/prospector/agent.conf -n\n"
	"    prospector-agent -c agent.conf --once\n"
	"    prospector-agent -c agent.conf --dump hr | less\n";

struct options {
	const char *conf;
	const char *user;
	const char *dump;
	bool check, once, syslog, debug;
	unsigned once_timeout;
};

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll must return on a signal */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 'n' },
		{ "once", no_argument, NULL, 'o' },         { "timeout", required_argument, NULL, 't' },
		{ "dump", required_argument, NULL, 'D' },   { "syslog", no_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "debug", no_argument, NULL, 'd' },        { "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	int c;

	opt->conf = DEFAULT_CONF;
	opt->once_timeout = DEFAULT_ONCE_TIMEOUT;
	while ((c = getopt_long(argc, argv, "c:nsdu:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': opt->conf = optarg; break;
		case 'n': opt->check = true; break;
		case 'o': opt->once = true; break;
		case 't': opt->once_timeout = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'D': opt->dump = optarg; break;
		case 's': opt->syslog = true; break;
		case 'u': opt->user = optarg; break;
		case 'd': opt->debug = true; break;
		case 'V': printf("prospector-agent %s\n", PROSPECTOR_VERSION); exit(0);
		case 'h': fputs(help_text, stdout); fputs(help_config, stdout); exit(0);
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "prospector-agent: unexpected argument '%s'\n%s", argv[optind], usage_text);
		return 2;
	}
	return 0;
}

/* Checks what can be checked without connecting: the configuration and every driver's settings. */
static int agent_check(struct agent_conf *conf)
{
	for (size_t i = 0; i < conf->nsources; i++) {
		const struct source_conf *sc = &conf->sources[i];
		const struct driver_ops *ops = driver_lookup(sc->driver);
		char err[DRIVER_ERRLEN] = "";
		void *h = NULL;

		if (ops->open(sc, &h, err) != 0) {
			fprintf(stderr, "%s:%u: source %s: %s\n", conf->path, sc->line, sc->name, err);
			return 1;
		}
		ops->close(h);
	}
	printf("%s: configuration OK (%zu sources)\n", conf->path, conf->nsources);
	return 0;
}

static int agent_dump(struct agent_conf *conf, const char *name)
{
	struct snapshot *snap = NULL;
	struct source *src = NULL;
	int r;

	for (size_t i = 0; i < conf->nsources && !src; i++)
		if (strcmp(conf->sources[i].name, name) == 0)
			src = source_new(&conf->sources[i]);
	if (!src) {
		fprintf(stderr, "prospector-agent: %s: no source '%s'\n", conf->path, name);
		return 1;
	}
	r = source_snapshot(src, NULL, &snap);
	if (r == 0)
		fixture_write(snap, stdout);
	else
		fprintf(stderr, "prospector-agent: source %s: %s\n", name, src->status.error);
	snapshot_free(snap);
	source_free(src);
	return r ? 1 : 0;
}

static struct source *agent_source(struct agent *a, const char *name)
{
	for (size_t i = 0; i < a->nsources; i++)
		if (strcmp(a->sources[i]->conf->name, name) == 0)
			return a->sources[i];
	return NULL;
}

static void agent_on_command(void *ctx, enum publisher_cmd cmd, const char *name, unsigned interval_s)
{
	struct agent *a = ctx;
	struct source *src = agent_source(a, name);

	if (!src) {
		log_warnx("collector asked about source '%s', which is not configured here", name);
		return;
	}
	if (cmd == PUBLISHER_CMD_SET_INTERVAL && interval_s > 0) {
		log_info("source %s: interval set to %us by the collector", name, interval_s);
		src->interval = interval_s;
	}
	if (cmd == PUBLISHER_CMD_RESYNC) {
		log_info("source %s: the collector asked for a full snapshot", name);
		state_forget_snapshot(a->st, name);
	}
	src->next_run = time_mono_ms(); /* every command means: probe now */
}

/* The largest batch to build: ours, or the collector's limit when it asked for less. */
static size_t agent_max_batch(struct agent *a, size_t advertised)
{
	size_t max_batch = a->conf->max_batch_bytes;

	return advertised && advertised < max_batch ? advertised : max_batch;
}

/* Keeps the unsent end of the outbox within its bound and below the collector's limit. */
static void agent_outbox_upkeep(struct agent *a, uint64_t from, size_t max_batch)
{
	struct outbox_bound bound = { a->conf->outbox_max_bytes, a->conf->outbox_max_age };
	struct outbox_upkeep res;

	if (outbox_upkeep(a->st, a->sources, a->nsources, &bound, from, max_batch, &res) < 0)
		log_warnx("outbox upkeep: %s", state_error(a->st));
}

static void agent_on_welcome(void *ctx, uint64_t from, size_t max_batch_bytes)
{
	struct agent *a = ctx;

	agent_outbox_upkeep(a, from, agent_max_batch(a, max_batch_bytes));
}

/* glibc keeps the heap a crawl or a delivery freed for the next one, and sqlite its page cache, but
 * an agent sleeps for minutes between crawls: the memory goes back to the system (tests/bench
 * measures the idle RSS). */
static void agent_release_memory(struct agent *a)
{
	state_release_memory(a->st);
	malloc_trim(0);
}

/* The WAL's checkpoint waits until the collector has what a crawl queued (agent_turn), so that it
 * does not delay the delivery; a crawl that queued nothing, or a WAL grown large while the collector
 * is away, has it at once. */
static void agent_checkpoint(struct agent *a)
{
	if (state_checkpoint(a->st) != 0)
		log_warnx("%s", state_error(a->st));
}

/* True once each time the collector has acknowledged the last batch queued: a delivery is over. */
static bool agent_outbox_emptied(struct agent *a)
{
	bool empty = state_last_acked(a->st) + 1 >= state_peek_next_seq(a->st);
	bool emptied = empty && !a->outbox_empty;

	a->outbox_empty = empty;
	return emptied;
}

static void agent_run_due(struct agent *a, uint64_t now)
{
	size_t max_batch = agent_max_batch(a, publisher_max_batch(a->pub)), queued = 0, ran = 0;

	for (size_t i = 0; i < a->nsources && !quit; i++) {
		struct source *src = a->sources[i];
		size_t batches = 0;

		if (src->next_run > now)
			continue;
		if (source_run(src, a->st, max_batch, &batches) != 0)
			a->failed = true;
		queued += batches;
		ran++;
		source_schedule(src, time_mono_ms());
		a->next_heartbeat = 0; /* tell the collector the new status right away */
	}
	if (queued)
		agent_outbox_upkeep(a, publisher_unsent_from(a->pub), max_batch);
	if (ran && (!queued || state_checkpoint_due(a->st)))
		agent_checkpoint(a);
	if (ran)
		agent_release_memory(a);
}

static uint64_t agent_timeout(struct agent *a, uint64_t now)
{
	uint64_t t = publisher_timeout(a->pub, now);

	for (size_t i = 0; i < a->nsources; i++)
		if (a->sources[i]->next_run <= now + t)
			t = a->sources[i]->next_run > now ? a->sources[i]->next_run - now : 0;
	/* A heartbeat is due at once after every crawl, but goes out only once welcomed: until then
	 * its deadline must not wake us, or the loop spins while the collector is away. */
	if (publisher_max_batch(a->pub) && a->next_heartbeat <= now + t)
		t = a->next_heartbeat > now ? a->next_heartbeat - now : 0;
	return t;
}

/* One turn of the loop: crawl what is due, send, wait for the socket or the next deadline. */
static void agent_turn(struct agent *a)
{
	uint64_t now = time_mono_ms();
	zmq_pollitem_t items[] = {
		{ .socket = publisher_socket(a->pub), .events = ZMQ_POLLIN },
		{ .socket = publisher_monitor(a->pub), .events = ZMQ_POLLIN },
	};

	agent_run_due(a, now);
	publisher_pump(a->pub, now);
	if (now >= a->next_heartbeat && publisher_max_batch(a->pub)) {
		publisher_heartbeat(a->pub);
		a->next_heartbeat = now + (uint64_t)a->conf->heartbeat * 1000;
	}
	if (zmq_poll(items, 2, (long)agent_timeout(a, time_mono_ms())) > 0) {
		if (items[1].revents & ZMQ_POLLIN)
			publisher_events(a->pub);
		if (items[0].revents & ZMQ_POLLIN)
			publisher_recv(a->pub, time_mono_ms());
	}
	if (agent_outbox_emptied(a)) {
		agent_checkpoint(a);
		agent_release_memory(a);
	}
}

static int agent_setup(struct agent *a)
{
	struct publisher_conf pc;
	char err[512];

	if (state_open(a->conf->state_dir, &a->st, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return 1;
	}
	a->nsources = a->conf->nsources;
	a->sources = xcalloc(a->nsources, sizeof(*a->sources));
	for (size_t i = 0; i < a->nsources; i++)
		a->sources[i] = source_new(&a->conf->sources[i]);
	pc = (struct publisher_conf){
		.endpoint = a->conf->collector, .agent_id = a->conf->id, .sources = a->sources,
		.key = &a->conf->key, .collector_key = a->conf->collector_key,
		.nsources = a->nsources, .on_command = agent_on_command, .on_welcome = agent_on_welcome, .ctx = a,
	};
	if (publisher_new(&pc, a->st, &a->pub, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return 1;
	}
	return 0;
}

static void agent_teardown(struct agent *a, unsigned linger_ms)
{
	publisher_free(a->pub, linger_ms);
	for (size_t i = 0; i < a->nsources; i++)
		source_free(a->sources[i]);
	free(a->sources);
	state_close(a->st);
}

static int agent_once(struct agent *a, unsigned timeout_s)
{
	uint64_t deadline = time_mono_ms() + (uint64_t)timeout_s * 1000;
	uint64_t batches = 0, bytes = 0;

	while (!quit && time_mono_ms() < deadline) {
		agent_turn(a);
		for (size_t i = 0; i < a->nsources; i++)
			a->sources[i]->next_run = UINT64_MAX; /* one crawl each */
		if (publisher_drained(a->pub)) {
			publisher_heartbeat(a->pub);
			return a->failed ? 1 : 0;
		}
	}
	state_outbox_depth(a->st, &batches, &bytes);
	log_warnx("%s: the collector at %s did not acknowledge %llu batches within %us", quit ? "interrupted" : "timed out",
		  a->conf->collector, (unsigned long long)batches, timeout_s);
	return 1;
}

int main(int argc, char **argv)
{
	struct options opt = { 0 };
	struct agent a = { 0 };
	char err[600];
	int r = parse_options(argc, argv, &opt);

	if (r)
		return r;
	/* One malloc arena for all threads. ZeroMQ's I/O thread would otherwise get one of its own, and
	 * the 2 MB it grows to in a delivery would stay resident: malloc_trim gives back the top of the
	 * main arena only. The agent's own work is all on this thread: nothing contends for the arena. */
	mallopt(M_ARENA_MAX, 1);
	log_init("prospector-agent", !opt.syslog, opt.debug);
	if (agent_conf_load(opt.conf, &a.conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "prospector-agent: %s\n", err);
		return 1;
	}
	if (opt.user && privdrop(opt.user, err, sizeof(err)) < 0) {
		fprintf(stderr, "prospector-agent: %s\n", err);
		agent_conf_free(a.conf);
		return 1;
	}
	if (opt.check || opt.dump) {
		r = opt.check ? agent_check(a.conf) : agent_dump(a.conf, opt.dump);
		agent_conf_free(a.conf);
		return r;
	}
	install_signals();
	r = agent_setup(&a);
	if (r == 0) {
		log_info("agent %s started: %zu sources, collector %s", a.conf->id, a.nsources, a.conf->collector);
		if (opt.once) {
			r = agent_once(&a, opt.once_timeout);
		} else {
			for (size_t i = 0; i < a.nsources; i++)
				source_splay(a.sources[i], time_mono_ms(), a.conf->splay);
			while (!quit)
				agent_turn(&a);
			log_info("agent %s stopping", a.conf->id);
		}
	}
	agent_teardown(&a, opt.once ? 1000 : 0);
	agent_conf_free(a.conf);
	return r;
}

#include "cli_util.h"

#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <wchar.h>

#include "log.h"
#include "model.h"
#include "timeutil.h"
#include "utf8.h"
#include "xmalloc.h"

/* The catalog schema this CLI reads (collector/catalog.c writes meta.schema_version). */
#define CLI_SCHEMA_VERSION "1"
/* A JSON document is written out whenever this much is pending. */
#define CLI_JSON_FLUSH (64 * 1024)

/* --- catalog access ----------------------------------------------------------------------------- */

int cli_fail(struct cli *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", c->db_path, msg);
	return CLI_EXIT_ERR;
}

int cli_usage(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "prospector%s%s: ", c->cmd ? " " : "", c->cmd ? c->cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (c->cmd)
		fprintf(stderr, "\nTry 'prospector help %s'.\n", c->cmd);
	else
		fprintf(stderr, "\nTry 'prospector --help'.\n");
	return CLI_EXIT_USAGE;
}

static int cli_check_schema(struct cli *c)
{
	sqlite3_stmt *st;
	int rc, r = CLI_EXIT_OK;

	if (sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, NULL) != SQLITE_OK)
		return cli_fail(c, "not a Prospector catalog (%s)", sqlite3_errmsg(c->db));
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		r = cli_fail(c, "not a Prospector catalog (no schema_version in meta)");
	else if (rc != SQLITE_ROW)
		r = cli_fail(c, "cannot read the catalog: %s", sqlite3_errmsg(c->db));
	else if (strcmp(cli_col_str(st, 0), CLI_SCHEMA_VERSION) != 0)
		r = cli_fail(c, "catalog schema version %s; this prospector reads version %s",
			cli_col_str(st, 0), CLI_SCHEMA_VERSION);
	sqlite3_finalize(st);
	return r;
}

static int cli_exec(struct cli *c, const char *sql)
{
	if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return cli_fail(c, "%s: %s", sql, sqlite3_errmsg(c->db));
	return CLI_EXIT_OK;
}

int cli_open(struct cli *c)
{
	struct stat sb;
	int r;

	if (stat(c->db_path, &sb) < 0)
		return cli_fail(c, "cannot open the catalog: %s", strerror(errno));
	if (sqlite3_open_v2(c->db_path, &c->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		r = cli_fail(c, "cannot open the catalog: %s", c->db ? sqlite3_errmsg(c->db) : "out of memory");
		cli_close(c);
		return r;
	}
	/* One read transaction, never committed (closing ends it): every query of the command sees
	 * the same state while the collector keeps writing beside us (WAL). */
	sqlite3_busy_timeout(c->db, 5000);
	if ((r = cli_exec(c, "PRAGMA query_only = 1")) != CLI_EXIT_OK ||
	    (r = cli_exec(c, "BEGIN")) != CLI_EXIT_OK || (r = cli_check_schema(c)) != CLI_EXIT_OK) {
		cli_close(c);
		return r;
	}
	return CLI_EXIT_OK;
}

void cli_close(struct cli *c)
{
	sqlite3_finalize(c->ref_stmt);
	sqlite3_finalize(c->each_stmt);
	sqlite3_close(c->db);
	c->ref_stmt = c->each_stmt = NULL;
	c->db = NULL;
}

int cli_prepare(struct cli *c, const char *sql, sqlite3_stmt **ret_st)
{
	if (sqlite3_prepare_v2(c->db, sql, -1, ret_st, NULL) != SQLITE_OK)
		return cli_fail(c, "cannot query the catalog: %s", sqlite3_errmsg(c->db));
	return CLI_EXIT_OK;
}

int cli_step(struct cli *c, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		cli_fail(c, "cannot read the catalog: %s", sqlite3_errmsg(c->db));
	return rc;
}

int cli_step_status(int rc)
{
	return rc == SQLITE_DONE ? CLI_EXIT_OK : CLI_EXIT_ERR;
}

/* Statements the helpers below keep for the whole run; a failure to prepare one on a catalog that
 * passed cli_check_schema is a broken invariant. */
static sqlite3_stmt *cli_cached(struct cli *c, sqlite3_stmt **st, const char *sql)
{
	if (!*st && sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK)
		fatalx("%s: %s", c->db_path, sqlite3_errmsg(c->db));
	sqlite3_reset(*st);
	return *st;
}

/* --- options -------------------------------------------------------------------------------------- */

static void cli_opt_store(const struct cli_opt *o, void *target, char *arg)
{
	char *field = (char *)target + o->offset;

	if (o->has_arg)
		*(const char **)(void *)field = arg;
	else
		*(bool *)(void *)field = true;
}

static struct option *cli_long_options(const struct cli_opt *opts)
{
	size_t n = 0;
	struct option *lo;

	while (opts && opts[n].name)
		n++;
	lo = xcalloc(n + 2, sizeof(*lo));
	for (size_t i = 0; i < n; i++)
		lo[i] = (struct option){ opts[i].name, opts[i].has_arg ? required_argument : no_argument, NULL,
			256 + (int)i };
	lo[n] = (struct option){ "json", no_argument, NULL, 'j' };
	return lo;
}

int cli_parse(struct cli *c, int argc, char **argv, const struct cli_opt *opts, void *target, int *ret_first)
{
	struct option *lo = cli_long_options(opts);
	int ch, r = CLI_EXIT_OK;

	optind = 0; /* GNU: start over, as a fresh getopt would */
	opterr = 0;
	while (r == CLI_EXIT_OK && (ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (ch == 'j')
			c->json = true;
		else if (ch >= 256)
			cli_opt_store(&opts[ch - 256], target, optarg);
		else if (ch == ':')
			r = cli_usage(c, "option '%s' needs a value", argv[optind - 1]);
		else
			r = cli_usage(c, "unknown option '%s'", argv[optind - 1]);
	}
	free(lo);
	*ret_first = optind;
	return r;
}

int cli_parse_count(struct cli *c, const char *name, const char *s, int64_t *ret_n)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || *end || n <= 0)
		return cli_usage(c, "--%s needs a positive number, not '%s'", name, s);
	*ret_n = n;
	return CLI_EXIT_OK;
}

/* --- queries -------------------------------------------------------------------------------------- */

void cli_query_init(struct cli_query *q, const char *select)
{
	buf_init(&q->sql);
	buf_adds(&q->sql, select);
	q->where = false;
	q->nbinds = 0;
}

void cli_query_free(struct cli_query *q)
{
	buf_free(&q->sql);
}

static void cli_query_bind(struct cli_query *q, const char *sql, const char *text, int64_t i)
{
	for (const char *p = sql; (p = strchr(p, '?')); p++) {
		if (q->nbinds == CLI_LEN(q->binds))
			fatalx("cli_query: too many parameters");
		q->binds[q->nbinds].text = text;
		q->binds[q->nbinds++].i = i;
	}
	buf_adds(&q->sql, sql);
}

void cli_query_and_text(struct cli_query *q, const char *frag, const char *value)
{
	buf_adds(&q->sql, q->where ? " AND " : " WHERE ");
	q->where = true;
	cli_query_bind(q, frag, value, 0);
}

void cli_query_and_int(struct cli_query *q, const char *frag, int64_t value)
{
	buf_adds(&q->sql, q->where ? " AND " : " WHERE ");
	q->where = true;
	cli_query_bind(q, frag, NULL, value);
}

void cli_query_add(struct cli_query *q, const char *sql)
{
	cli_query_bind(q, sql, NULL, 0);
}

void cli_query_add_int(struct cli_query *q, const char *sql, int64_t value)
{
	cli_query_bind(q, sql, NULL, value);
}

/* '#' < '$' and '.' < '/' < '0' in byte order, so the descendants of P are the two ranges
 * [P#, P$) and [P., P0), which the index on path serves. */
void cli_query_and_path(struct cli_query *q, const char *pattern)
{
	static const char literal[] = "(path = ? OR (path >= ? || '#' AND path < ? || '$')"
		" OR (path >= ? || '.' AND path < ? || '0'))";
	static const char glob[] = "(path GLOB ? OR path GLOB ? || '.*' OR path GLOB ? || '#*'"
		" OR path GLOB ? || '/*')";

	cli_query_and_text(q, strpbrk(pattern, "*?[") ? glob : literal, pattern);
}

int cli_query_prepare(struct cli *c, struct cli_query *q, sqlite3_stmt **ret_st)
{
	int r = cli_prepare(c, q->sql.data, ret_st);

	for (size_t i = 0; r == CLI_EXIT_OK && i < q->nbinds; i++) {
		if (q->binds[i].text)
			sqlite3_bind_text(*ret_st, (int)i + 1, q->binds[i].text, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(*ret_st, (int)i + 1, q->binds[i].i);
	}
	return r;
}

/* --- text output ---------------------------------------------------------------------------------- */

void cli_locale_init(void)
{
	if (setlocale(LC_CTYPE, "") && strcmp(nl_langinfo(CODESET), "UTF-8") == 0)
		return;
	setlocale(LC_CTYPE, "C.UTF-8");
}

/* East Asian Wide and Fullwidth blocks, for when no UTF-8 locale exists and wcwidth knows nothing. */
static bool cli_wide_fallback(uint32_t cp)
{
	static const uint32_t wide[][2] = {
		{ 0x1100, 0x115f }, { 0x2e80, 0x303e }, { 0x3041, 0x33ff }, { 0x3400, 0x4dbf },
		{ 0x4e00, 0x9fff }, { 0xa000, 0xa4cf }, { 0xac00, 0xd7a3 }, { 0xf900, 0xfaff },
		{ 0xfe30, 0xfe4f }, { 0xff00, 0xff60 }, { 0xffe0, 0xffe6 }, { 0x20000, 0x3fffd },
	};

	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
		if (cp >= wide[i][0] && cp <= wide[i][1])
			return true;
	return false;
}

static uint32_t cli_decode(const unsigned char *p, size_t n)
{
	static const unsigned char lead_mask[] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
	uint32_t cp = p[0] & lead_mask[n];

	for (size_t i = 1; i < n; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	return cp;
}

static size_t cli_cp_width(uint32_t cp)
{
	int w = wcwidth((wchar_t)cp);

	if (w >= 0)
		return (size_t)w;
	return cli_wide_fallback(cp) ? 2 : 1;
}

size_t cli_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;

	while (*p) {
		size_t n = utf8_seqlen(p);

		w += n ? cli_cp_width(cli_decode(p, n)) : 1;
		p += n ? n : 1;
	}
	return w;
}

struct cli_table {
	const struct cli_col *cols;
	size_t ncols;
	char **cells; /* row-major */
	size_t ncells, cap;
};

struct cli_table *cli_table_new(const struct cli_col *cols, size_t ncols)
{
	struct cli_table *t = xcalloc(1, sizeof(*t));

	t->cols = cols;
	t->ncols = ncols;
	return t;
}

void cli_table_free(struct cli_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* Control characters as C escapes, malformed bytes as U+FFFD. */
static void cli_clean_byte(struct buf *b, unsigned char ch)
{
	static const char *const esc[] = { ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t" };

	if (ch < sizeof(esc) / sizeof(esc[0]) && esc[ch])
		buf_adds(b, esc[ch]);
	else if (ch < 0x20 || ch == 0x7f)
		buf_addf(b, "\\x%02x", ch);
	else
		buf_addc(b, (char)ch);
}

static char *cli_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b;

	buf_init(&b);
	while (*p) {
		size_t n = utf8_seqlen(p);

		if (n == 0)
			buf_adds(&b, "\xef\xbf\xbd");
		else if (n == 1)
			cli_clean_byte(&b, *p);
		else
			buf_add(&b, p, n);
		p += n ? n : 1;
	}
	return buf_steal(&b);
}

/* Cuts s (clean UTF-8) to max display columns, the last one an ellipsis. */
static void cli_cut(char *s, unsigned max)
{
	unsigned char *p = (unsigned char *)s;
	size_t w = 0;

	if (max == 0 || cli_width(s) <= max)
		return;
	while (*p) {
		size_t n = utf8_seqlen(p), cw = cli_cp_width(cli_decode(p, n));

		if (w + cw > max - 1)
			break;
		w += cw;
		p += n;
	}
	strcpy((char *)p, "\xe2\x80\xa6"); /* "…"; the caller left room for it */
}

void cli_table_cell(struct cli_table *t, const char *s)
{
	char *cell = cli_clean(s ? s : "");
	unsigned max = t->cols[t->ncells % t->ncols].max;

	if (max && cli_width(cell) > max) {
		cell = xrealloc(cell, strlen(cell) + 4);
		cli_cut(cell, max);
	}
	xgrow(&t->cells, &t->cap, t->ncells + 1, sizeof(*t->cells));
	t->cells[t->ncells++] = cell;
}

void cli_table_cellf(struct cli_table *t, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	cli_table_cell(t, b.data ? b.data : "");
	buf_free(&b);
}

size_t cli_table_rows(const struct cli_table *t)
{
	return t->ncells / t->ncols;
}

static void cli_pad(struct buf *b, size_t n)
{
	while (n--)
		buf_addc(b, ' ');
}

static void cli_table_line(const struct cli_table *t, const size_t *w, char *const *cells, FILE *f,
	const char *indent)
{
	struct buf b;

	buf_init(&b);
	buf_adds(&b, indent);
	for (size_t i = 0; i < t->ncols; i++) {
		size_t pad = w[i] - cli_width(cells[i]);

		if (i)
			buf_adds(&b, "  ");
		if (t->cols[i].align == CLI_RIGHT)
			cli_pad(&b, pad);
		buf_adds(&b, cells[i]);
		if (t->cols[i].align == CLI_LEFT)
			cli_pad(&b, pad);
	}
	while (b.len && b.data[b.len - 1] == ' ')
		b.data[--b.len] = '\0';
	fprintf(f, "%s\n", b.data);
	buf_free(&b);
}

void cli_table_print(const struct cli_table *t, FILE *f, const char *indent)
{
	size_t *w = xcalloc(t->ncols, sizeof(*w));
	char **hdr = xcalloc(t->ncols, sizeof(*hdr));
	size_t rows = cli_table_rows(t);

	for (size_t i = 0; i < t->ncols; i++) {
		hdr[i] = (char *)t->cols[i].header;
		w[i] = t->cols[0].header ? cli_width(hdr[i]) : 0;
	}
	for (size_t i = 0; i < rows * t->ncols; i++) {
		size_t cw = cli_width(t->cells[i]);

		if (cw > w[i % t->ncols])
			w[i % t->ncols] = cw;
	}
	if (hdr[0])
		cli_table_line(t, w, hdr, f, indent);
	for (size_t r = 0; r < rows; r++)
		cli_table_line(t, w, t->cells + r * t->ncols, f, indent);
	free(hdr);
	free(w);
}

const char *cli_col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? (const char *)s : "";
}

const char *cli_col_time(sqlite3_stmt *st, int i, char out[32])
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return "-";
	time_format_rfc3339((uint64_t)sqlite3_column_int64(st, i), out);
	return out;
}

const char *cli_fmt_bytes(int64_t n, char out[32])
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < CLI_LEN(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, 32, "%lld B", (long long)n);
	else
		snprintf(out, 32, "%.1f %s", v, units[u]);
	return out;
}

const char *cli_col_bytes(sqlite3_stmt *st, int i, char out[32])
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return "-";
	return cli_fmt_bytes(sqlite3_column_int64(st, i), out);
}

const char *cli_col_duration(sqlite3_stmt *st, int i, char out[32])
{
	long long ms = sqlite3_column_int64(st, i);

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return "-";
	if (ms < 1000)
		snprintf(out, 32, "%lldms", ms);
	else if (ms < 60000)
		snprintf(out, 32, "%.1fs", (double)ms / 1000);
	else if (ms < 3600000)
		snprintf(out, 32, "%lldm%02llds", ms / 60000, ms / 1000 % 60);
	else
		snprintf(out, 32, "%lldh%02lldm", ms / 3600000, ms / 60000 % 60);
	return out;
}

/* The largest units that add up to the value: 300 → "5m", 5400 → "1h30m"; as config files write it. */
const char *cli_col_interval(sqlite3_stmt *st, int i, char out[32])
{
	static const struct {
		char unit;
		long long seconds;
	} units[] = { { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 } };
	long long s = sqlite3_column_int64(st, i);
	size_t n = 0;

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return "-";
	snprintf(out, 32, "%llds", s); /* zero or negative: as it is */
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (s >= units[u].seconds)
			n += (size_t)snprintf(out + n, 32 - n, "%lld%c", s / units[u].seconds, units[u].unit);
		s %= units[u].seconds;
	}
	return out;
}

const char *cli_col_count(sqlite3_stmt *st, int i, char out[32])
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return "-";
	snprintf(out, 32, "%lld", (long long)sqlite3_column_int64(st, i));
	return out;
}

/* --- JSON output ---------------------------------------------------------------------------------- */

void cli_json_init(struct cli_json *j, FILE *out)
{
	memset(j, 0, sizeof(*j));
	buf_init(&j->b);
	j->out = out;
}

static void cli_json_flush(struct cli_json *j)
{
	if (j->b.len)
		fwrite(j->b.data, 1, j->b.len, j->out);
	buf_reset(&j->b);
}

/* The comma before a member and its name. */
static void cli_json_key(struct cli_json *j, const char *key)
{
	if (j->depth) {
		if (j->comma[j->depth - 1])
			buf_addc(&j->b, ',');
		j->comma[j->depth - 1] = true;
	}
	if (key) {
		buf_add_json_str(&j->b, key);
		buf_addc(&j->b, ':');
	}
}

static void cli_json_open(struct cli_json *j, const char *key, char open, char close)
{
	if (j->depth == CLI_JSON_DEPTH)
		fatalx("cli_json: nesting deeper than %d", CLI_JSON_DEPTH);
	cli_json_key(j, key);
	buf_addc(&j->b, open);
	j->comma[j->depth] = false;
	j->closer[j->depth++] = close;
}

void cli_json_obj(struct cli_json *j, const char *key)
{
	cli_json_open(j, key, '{', '}');
}

void cli_json_arr(struct cli_json *j, const char *key)
{
	cli_json_open(j, key, '[', ']');
}

void cli_json_end(struct cli_json *j)
{
	buf_addc(&j->b, j->closer[--j->depth]);
	if (j->b.len >= CLI_JSON_FLUSH)
		cli_json_flush(j);
}

void cli_json_str(struct cli_json *j, const char *key, const char *value)
{
	cli_json_key(j, key);
	buf_add_json_str(&j->b, value);
}

void cli_json_int(struct cli_json *j, const char *key, int64_t value)
{
	cli_json_key(j, key);
	buf_addf(&j->b, "%lld", (long long)value);
}

void cli_json_bool(struct cli_json *j, const char *key, bool value)
{
	cli_json_key(j, key);
	buf_adds(&j->b, value ? "true" : "false");
}

void cli_json_null(struct cli_json *j, const char *key)
{
	cli_json_key(j, key);
	buf_adds(&j->b, "null");
}

void cli_json_raw(struct cli_json *j, const char *key, const char *json)
{
	cli_json_key(j, key);
	buf_adds(&j->b, json);
}

void cli_json_col_str(struct cli_json *j, const char *key, sqlite3_stmt *st, int i)
{
	cli_json_str(j, key, (const char *)sqlite3_column_text(st, i));
}

void cli_json_col_int(struct cli_json *j, const char *key, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		cli_json_null(j, key);
	else
		cli_json_int(j, key, sqlite3_column_int64(st, i));
}

void cli_json_col_time(struct cli_json *j, const char *key, sqlite3_stmt *st, int i)
{
	char t[32];

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		cli_json_null(j, key);
	else
		cli_json_str(j, key, cli_col_time(st, i, t));
}

void cli_json_col_bool(struct cli_json *j, const char *key, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		cli_json_null(j, key);
	else
		cli_json_bool(j, key, sqlite3_column_int64(st, i) != 0);
}

int cli_json_finish(struct cli *c, struct cli_json *j)
{
	buf_addc(&j->b, '\n');
	cli_json_flush(j);
	buf_free(&j->b);
	if (fflush(j->out) != 0 || ferror(j->out)) {
		log_warn("error writing the output of '%s'", c->cmd);
		return CLI_EXIT_ERR;
	}
	return CLI_EXIT_OK;
}

int cli_json_rows(struct cli *c, sqlite3_stmt *st, const char *name, cli_json_row_fn row)
{
	struct cli_json j;
	int rc;

	cli_json_init(&j, stdout);
	cli_json_obj(&j, NULL);
	cli_json_arr(&j, name);
	while ((rc = cli_step(c, st)) == SQLITE_ROW)
		row(c, &j, st);
	if (rc != SQLITE_DONE) {
		cli_json_abort(&j);
		return CLI_EXIT_ERR;
	}
	cli_json_end(&j);
	cli_json_end(&j);
	return cli_json_finish(c, &j);
}

void cli_json_abort(struct cli_json *j)
{
	buf_free(&j->b);
}

/* --- objects and their attributes ------------------------------------------------------------------ */

/* A column is named by its name; anything else by its path inside the source (snapshot.c's rule,
 * so that show and history spell references alike). */
static void cli_ref_name(struct cli *c, const char *source, const char *key, struct buf *out)
{
	sqlite3_stmt *st = cli_cached(c, &c->ref_stmt,
		"SELECT kind, name, path FROM objects WHERE source = ?1 AND key = ?2");
	const char *path, *slash;

	sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_ROW) {
		buf_adds(out, key);
	} else if (strcmp(cli_col_str(st, 0), "column") == 0) {
		buf_adds(out, cli_col_str(st, 1));
	} else {
		path = cli_col_str(st, 2);
		slash = strchr(path, '/');
		buf_adds(out, slash ? slash + 1 : path);
	}
	sqlite3_reset(st);
}

/* Calls fn with each rendered name of refs, in order. */
static void cli_refs_each(struct cli *c, const char *source, const char *refs,
	void (*fn)(void *ctx, const char *name), void *ctx)
{
	struct buf name;
	const char *p = refs;

	buf_init(&name);
	while (p && *p) {
		const char *end = strchr(p, MODEL_REF_SEP);
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *key = xstrndup(p, n);

		buf_reset(&name);
		cli_ref_name(c, source, key, &name);
		fn(ctx, name.data ? name.data : "");
		free(key);
		p = end ? end + 1 : NULL;
	}
	buf_free(&name);
}

static void cli_refs_join(void *ctx, const char *name)
{
	struct buf *b = ctx;

	if (b->len)
		buf_addc(b, ',');
	buf_adds(b, name);
}

char *cli_refs_render(struct cli *c, const char *source, const char *refs)
{
	struct buf b;

	buf_init(&b);
	cli_refs_each(c, source, refs, cli_refs_join, &b);
	return buf_steal(&b);
}

static void cli_refs_json_item(void *ctx, const char *name)
{
	cli_json_str(ctx, NULL, name);
}

void cli_json_refs(struct cli *c, struct cli_json *j, const char *key, const char *source, const char *refs)
{
	cli_json_arr(j, key);
	cli_refs_each(c, source, refs, cli_refs_json_item, j);
	cli_json_end(j);
}

const char *cli_kind_name(const char *name)
{
	for (int k = 0; k < OBJ_KIND_COUNT; k++)
		if (strcasecmp(model_kind((enum obj_kind)k)->name, name) == 0)
			return model_kind((enum obj_kind)k)->name;
	return NULL;
}

char *cli_kind_names(void)
{
	struct buf b;

	buf_init(&b);
	for (int k = 0; k < OBJ_KIND_COUNT; k++)
		buf_addf(&b, "%s%s", k ? ", " : "", model_kind((enum obj_kind)k)->name);
	return buf_steal(&b);
}

static bool cli_attr_is_refs(const char *kind, const char *name)
{
	int k = model_kind_lookup(kind);
	const struct attr_def *d = k < 0 ? NULL : model_attr_def((enum obj_kind)k, name);

	return d && d->type == ATTR_REFS;
}

/* The members of a JSON object text, sorted by name; malformed text reads as empty. */
static sqlite3_stmt *cli_each(struct cli *c, const char *json)
{
	sqlite3_stmt *st = cli_cached(c, &c->each_stmt,
		"SELECT key, value FROM json_each(CASE WHEN json_valid(?1) THEN ?1 ELSE '{}' END) ORDER BY key");

	sqlite3_bind_text(st, 1, json, -1, SQLITE_TRANSIENT);
	return st;
}

void cli_json_attrs(struct cli *c, struct cli_json *j, const char *key, const char *source,
	const char *kind, const char *attrs)
{
	sqlite3_stmt *st = cli_each(c, attrs);

	cli_json_obj(j, key);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = cli_col_str(st, 0), *value = cli_col_str(st, 1);
		char *rendered = cli_attr_is_refs(kind, name) ? cli_refs_render(c, source, value) : NULL;

		cli_json_str(j, name, rendered ? rendered : value);
		free(rendered);
	}
	sqlite3_reset(st);
	cli_json_end(j);
}

static bool cli_skipped(const char *const *skip, const char *name)
{
	for (; skip && *skip; skip++)
		if (strcmp(*skip, name) == 0)
			return true;
	return false;
}

char *cli_attrs_text(struct cli *c, const char *source, const char *kind, const char *attrs,
	const char *const *skip)
{
	sqlite3_stmt *st = cli_each(c, attrs);
	struct buf b;

	buf_init(&b);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = cli_col_str(st, 0), *value = cli_col_str(st, 1);
		char *rendered;

		if (cli_skipped(skip, name))
			continue;
		rendered = cli_attr_is_refs(kind, name) ? cli_refs_render(c, source, value) : NULL;
		buf_addf(&b, "%s%s=%s", b.len ? " " : "", name, rendered ? rendered : value);
		free(rendered);
	}
	sqlite3_reset(st);
	return buf_steal(&b);
}

void cli_table_attrs(struct cli *c, struct cli_table *t, const char *source, const char *kind, const char *attrs)
{
	sqlite3_stmt *st = cli_each(c, attrs);

	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = cli_col_str(st, 0), *value = cli_col_str(st, 1);
		char *rendered = cli_attr_is_refs(kind, name) ? cli_refs_render(c, source, value) : NULL;

		cli_table_cell(t, name);
		cli_table_cell(t, rendered ? rendered : value);
		free(rendered);
	}
	sqlite3_reset(st);
}

char *cli_json_pairs(struct cli *c, const char *json)
{
	sqlite3_stmt *st = cli_each(c, json);
	struct buf b;

	buf_init(&b);
	while (sqlite3_step(st) == SQLITE_ROW)
		buf_addf(&b, "%s%s=%s", b.len ? " " : "", cli_col_str(st, 0), cli_col_str(st, 1));
	sqlite3_reset(st);
	return buf_steal(&b);
}

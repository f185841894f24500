#include "fixture.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "utf8.h"
#include "xmalloc.h"

struct fixture_parser {
	const char *path;
	unsigned line;
	struct snapshot *snap;
	struct obj *cur; /* borrowed from snap: the object attributes attach to */
	char *err;
	size_t errlen;
};

static int fixture_fail(struct fixture_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fixture_fail(struct fixture_parser *p, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%u: %s", p->path, p->line, msg);
	return 1;
}

/* Undoes the escapes; refs turns an unescaped '|' into MODEL_REF_SEP. -EINVAL on a bad escape. */
static int fixture_unescape(const char *s, bool refs, char **ret)
{
	static const char from[] = "\\ntr|s", to[] = "\\\n\t\r| ";
	struct buf b;

	buf_init(&b);
	for (; *s; s++) {
		const char *e;

		if (*s == '|' && refs) {
			buf_addc(&b, MODEL_REF_SEP);
			continue;
		}
		if (*s != '\\') {
			buf_addc(&b, *s);
			continue;
		}
		e = s[1] ? strchr(from, s[1]) : NULL;
		if (!e) {
			buf_free(&b);
			return -EINVAL;
		}
		buf_addc(&b, to[e - from]);
		s++;
	}
	*ret = buf_steal(&b);
	return 0;
}

/* "partial KEY REASON": the crawl saw the contents of KEY only in part (snapshot_mark_partial). */
static int fixture_partial(struct fixture_parser *p, char *line)
{
	char *key = strtok(line + strlen("partial"), " \t"), *reason = strtok(NULL, "");

	if (!key || !reason)
		return fixture_fail(p, "expected: partial KEY REASON");
	while (isspace((unsigned char)*reason))
		reason++;
	snapshot_mark_partial(p->snap, key, reason);
	p->cur = NULL;
	return 0;
}

static int fixture_header(struct fixture_parser *p, char *line)
{
	char *kind = strtok(line, " \t"), *key = strtok(NULL, " \t"), *parent = strtok(NULL, " \t");
	char *name = strtok(NULL, "");
	char *k = NULL, *par = NULL, *nm = NULL;
	struct obj *o;
	int kd = kind ? model_kind_lookup(kind) : -1;

	if (kd < 0)
		return fixture_fail(p, "'%s' is not an object kind", kind ? kind : "");
	if (!key || !parent || !name)
		return fixture_fail(p, "expected: KIND KEY PARENT NAME");
	while (isspace((unsigned char)*name))
		name++;
	if (fixture_unescape(key, false, &k) < 0 || fixture_unescape(name, false, &nm) < 0 ||
	    (strcmp(parent, "-") != 0 && fixture_unescape(parent, false, &par) < 0)) {
		free(k);
		free(nm);
		return fixture_fail(p, "bad escape sequence");
	}
	o = obj_new((enum obj_kind)kd, k, par, nm);
	p->cur = snapshot_add(p->snap, &o);
	free(k);
	free(par);
	free(nm);
	return 0;
}

static int fixture_attr(struct fixture_parser *p, char *line)
{
	char *eq = strstr(line, " = ");
	char *name, *value;
	const struct attr_def *def;
	bool obs;

	if (!p->cur)
		return fixture_fail(p, "attribute before any object");
	if (!eq)
		return fixture_fail(p, "expected: NAME = VALUE");
	*eq = '\0';
	name = line;
	obs = strncmp(name, "obs.", 4) == 0;
	if (obs)
		name += 4;
	def = model_attr_def(p->cur->kind, name);
	if (fixture_unescape(eq + 3, !obs && def && def->type == ATTR_REFS, &value) < 0)
		return fixture_fail(p, "%s: bad escape sequence", name);
	(obs ? obj_set_obs : obj_set)(p->cur, name, value);
	free(value);
	return 0;
}

static int fixture_line(struct fixture_parser *p, char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (!utf8_valid(line))
		return fixture_fail(p, "not valid UTF-8");
	if (isspace((unsigned char)line[0])) {
		while (isspace((unsigned char)*line))
			line++;
		return *line ? fixture_attr(p, line) : 0;
	}
	if (!line[0] || line[0] == '#')
		return 0;
	if (strncmp(line, "partial ", 8) == 0)
		return fixture_partial(p, line);
	return fixture_header(p, line);
}

int fixture_load(const char *path, const char *source, struct snapshot **ret_s, char *err, size_t errlen)
{
	struct fixture_parser p = { .path = path, .err = err, .errlen = errlen };
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	if (!f)
		return -errno;
	p.snap = snapshot_new(source);
	while (r == 0 && getline(&line, &cap, f) >= 0) {
		p.line++;
		r = fixture_line(&p, line);
	}
	free(line);
	fclose(f);
	if (r) {
		snapshot_free(p.snap);
		return r;
	}
	*ret_s = p.snap;
	return 0;
}

static void fixture_put(FILE *out, const char *s, bool token, bool refs)
{
	for (; *s; s++) {
		if (*s == MODEL_REF_SEP && refs)
			fputc('|', out);
		else if (*s == '\\' || *s == '\n' || *s == '\t' || *s == '\r' || (*s == '|' && refs) ||
			 (*s == ' ' && token))
			fprintf(out, "\\%c", *s == '\n' ? 'n' : *s == '\t' ? 't' : *s == '\r' ? 'r' : *s == ' ' ? 's' : *s);
		else
			fputc(*s, out);
	}
}

static void fixture_write_attrs(FILE *out, const struct obj *o, obj_attr_fn at, size_t n, const char *prefix)
{
	for (size_t i = 0; i < n; i++) {
		struct attr a = at(o, i);
		const struct attr_def *def = model_attr_def(o->kind, a.name);

		fprintf(out, "\t%s%s = ", prefix, a.name);
		fixture_put(out, a.value, false, !*prefix && def && def->type == ATTR_REFS);
		fputc('\n', out);
	}
}

void fixture_write(const struct snapshot *s, FILE *out)
{
	for (size_t i = 0; i < s->npartial; i++)
		fprintf(out, "partial %s %s\n", s->partial[i].key, s->partial[i].reason);
	for (size_t i = 0; i < s->nobjs; i++) {
		const struct obj *o = s->objs[i];

		fprintf(out, "%s ", model_kind(o->kind)->name);
		fixture_put(out, o->key, true, false);
		fputc(' ', out);
		if (o->parent)
			fixture_put(out, o->parent, true, false);
		else
			fputc('-', out);
		fputc(' ', out);
		fixture_put(out, o->name, false, false);
		fputc('\n', out);
		fixture_write_attrs(out, o, obj_attr, o->nattrs, "");
		fixture_write_attrs(out, o, obj_ob, o->nobs, "obs.");
	}
}

#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "utf8.h"
#include "xmalloc.h"

static int conf_fail(struct conf *c, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int conf_fail(struct conf *c, unsigned line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->error, sizeof(c->error), "%s:%u: %s", c->path, line, msg);
	return 1;
}

char *conf_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Unquotes "…" in place, honouring \" and \\; 0, or -EINVAL when the quote is not closed. */
static int unquote(char *s)
{
	size_t len = strlen(s);
	char *w = s;

	if (len == 0 || s[0] != '"')
		return 0;
	if (len < 2 || s[len - 1] != '"')
		return -EINVAL;
	s[len - 1] = '\0';
	for (char *r = s + 1; *r; r++) {
		if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
			r++;
		*w++ = *r;
	}
	*w = '\0';
	return 0;
}

static int conf_section_line(struct conf *c, char *line, unsigned lineno)
{
	char *end = strrchr(line, ']');
	char *type, *name = NULL;
	struct conf_section *s;

	if (!end || conf_trim(end + 1)[0] != '\0')
		return conf_fail(c, lineno, "section header is missing its closing ']'");
	*end = '\0';
	type = conf_trim(line + 1);
	for (char *p = type; *p; p++) {
		if (isspace((unsigned char)*p)) {
			*p = '\0';
			name = conf_trim(p + 1);
			break;
		}
	}
	if (!*type)
		return conf_fail(c, lineno, "empty section name");
	if (name && (unquote(name) < 0 || !*name))
		return conf_fail(c, lineno, "section [%s] needs a quoted, non-empty name, like [%s \"name\"]", type, type);
	xgrow(&c->sections, &c->cap, c->nsections + 1, sizeof(*c->sections));
	s = &c->sections[c->nsections++];
	memset(s, 0, sizeof(*s));
	s->type = xstrdup(type);
	s->name = name ? xstrdup(name) : NULL;
	s->line = lineno;
	return 0;
}

static int conf_entry_line(struct conf *c, char *line, unsigned lineno)
{
	char *eq = strchr(line, '=');
	char *key, *value;
	struct conf_section *s;
	struct conf_entry *e;

	if (!eq)
		return conf_fail(c, lineno, "expected 'key = value' or a [section]");
	if (c->nsections == 0)
		return conf_fail(c, lineno, "'key = value' before any [section]");
	*eq = '\0';
	key = conf_trim(line);
	value = conf_trim(eq + 1);
	if (!*key)
		return conf_fail(c, lineno, "missing key before '='");
	if (unquote(value) < 0)
		return conf_fail(c, lineno, "%s: unterminated quoted value", key);
	s = &c->sections[c->nsections - 1];
	for (size_t i = 0; i < s->nentries; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return conf_fail(c, lineno, "%s: set twice in this section (first at line %u)", key,
					 s->entries[i].line);
	xgrow(&s->entries, &s->cap, s->nentries + 1, sizeof(*s->entries));
	e = &s->entries[s->nentries++];
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	e->line = lineno;
	return 0;
}

static int conf_parse_line(struct conf *c, char *raw, unsigned lineno)
{
	char *line = conf_trim(raw);

	if (!utf8_valid(line))
		return conf_fail(c, lineno, "not valid UTF-8");
	if (!*line || *line == '#' || *line == ';')
		return 0;
	if (*line == '[')
		return conf_section_line(c, line, lineno);
	return conf_entry_line(c, line, lineno);
}

int conf_load(const char *path, struct conf **ret_c)
{
	struct conf *c;
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int r = 0;

	if (!f)
		return -errno;
	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	while (r == 0 && getline(&line, &cap, f) >= 0)
		r = conf_parse_line(c, line, ++lineno);
	if (r == 0 && ferror(f))
		r = -EIO;
	free(line);
	fclose(f);
	*ret_c = c;
	return r;
}

static void conf_section_free(struct conf_section *s)
{
	for (size_t i = 0; i < s->nentries; i++) {
		free(s->entries[i].key);
		free(s->entries[i].value);
	}
	free(s->entries);
	free(s->type);
	free(s->name);
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nsections; i++)
		conf_section_free(&c->sections[i]);
	free(c->sections);
	free(c->path);
	free(c);
}

const struct conf_section *conf_section(const struct conf *c, const char *type)
{
	for (size_t i = 0; i < c->nsections; i++)
		if (strcmp(c->sections[i].type, type) == 0)
			return &c->sections[i];
	return NULL;
}

struct unit {
	char suffix;
	unsigned long long mult;
};

static const struct unit duration_units[] = {
	{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
};

/* Sizes are binary: what `ls -lh` and `df -h` show. */
static const struct unit size_units[] = {
	{ 'k', 1ULL << 10 }, { 'K', 1ULL << 10 }, { 'M', 1ULL << 20 }, { 'G', 1ULL << 30 }, { 'T', 1ULL << 40 },
};

/* A whole number with at most one unit suffix from the table, no larger than max. */
static int conf_parse_scaled(const char *s, const struct unit *units, size_t nunits, unsigned long long max,
			     unsigned long long *ret_v)
{
	char *end;
	unsigned long long v, mult = 1;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		size_t i;

		for (i = 0; i < nunits; i++)
			if (units[i].suffix == end[0] && end[1] == '\0')
				break;
		if (i == nunits)
			return -EINVAL;
		mult = units[i].mult;
	}
	if (v > max / mult)
		return -EINVAL;
	*ret_v = v * mult;
	return 0;
}

int conf_parse_duration(const char *s, unsigned *ret_seconds)
{
	unsigned long long v;
	int r = conf_parse_scaled(s, duration_units, sizeof(duration_units) / sizeof(duration_units[0]), 0xffffffffULL,
				  &v);

	if (r == 0)
		*ret_seconds = (unsigned)v;
	return r;
}

static int conf_parse_size(const char *s, uint64_t *ret_bytes)
{
	unsigned long long v;
	int r = conf_parse_scaled(s, size_units, sizeof(size_units) / sizeof(size_units[0]), INT64_MAX, &v);

	if (r == 0)
		*ret_bytes = v;
	return r;
}

static int conf_parse_uint(const char *s, unsigned *ret_v)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > 0xffffffffULL)
		return -EINVAL;
	*ret_v = (unsigned)v;
	return 0;
}

static int conf_parse_bool(const char *s, bool *ret_v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret_v = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret_v = false;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const type_expect[] = {
	[CONF_STRING] = "a string",
	[CONF_DURATION] = "a duration like 30s, 5m, 2h or 1d",
	[CONF_UINT] = "a whole number",
	[CONF_SIZE] = "a size like 512k, 64M or 1G",
	[CONF_BOOL] = "yes or no",
	[CONF_LIST] = "a comma-separated list",
};

static int conf_store(const struct conf_key *k, const char *value, void *target)
{
	char *field = (char *)target + k->offset;

	switch (k->type) {
	case CONF_STRING:
	case CONF_LIST:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CONF_DURATION:
		return conf_parse_duration(value, (unsigned *)field);
	case CONF_UINT:
		return conf_parse_uint(value, (unsigned *)field);
	case CONF_SIZE:
		return conf_parse_size(value, (uint64_t *)field);
	case CONF_BOOL:
		return conf_parse_bool(value, (bool *)field);
	}
	return -EINVAL;
}

unsigned conf_key_line(const struct conf_section *s, const char *key)
{
	for (size_t i = 0; i < s->nentries; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return s->entries[i].line;
	return s->line;
}

static const struct conf_key *conf_key_find(const struct conf_key *keys, const char *key)
{
	for (; keys->key; keys++)
		if (strcmp(keys->key, key) == 0)
			return keys;
	return NULL;
}

static const char *section_label(const struct conf_section *s, char *out, size_t len)
{
	if (s->name)
		snprintf(out, len, "[%s \"%s\"]", s->type, s->name);
	else
		snprintf(out, len, "[%s]", s->type);
	return out;
}

int conf_apply(struct conf *c, const struct conf_section *s, const struct conf_key *keys, void *target)
{
	char label[160];

	for (size_t i = 0; i < s->nentries; i++) {
		const struct conf_entry *e = &s->entries[i];
		const struct conf_key *k = conf_key_find(keys, e->key);

		if (!k) {
			log_warnx("%s:%u: unknown key '%s' in %s, ignored", c->path, e->line, e->key,
				  section_label(s, label, sizeof(label)));
			continue;
		}
		if (conf_store(k, e->value, target) < 0)
			return conf_fail(c, e->line, "%s: '%s' is not %s", e->key, e->value, type_expect[k->type]);
	}
	for (; keys->key; keys++) {
		bool present = false;

		for (size_t i = 0; i < s->nentries && !present; i++)
			present = strcmp(s->entries[i].key, keys->key) == 0;
		if (keys->required && !present)
			return conf_fail(c, s->line, "%s: required key '%s' is missing",
					 section_label(s, label, sizeof(label)), keys->key);
	}
	return 0;
}

/*
 * An INI-style configuration reader with file:line in every message.
 *
 *     # comment            ; comment
 *     [section]
 *     [section "name"]
 *     key = value          values may be "quoted" to keep leading/trailing space
 *
 * The reader only tokenises; callers describe their keys in a table of struct conf_key and call
 * conf_apply, which warns about unknown keys, rejects missing required ones and values that do not
 * parse, each message naming file:line and the key.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct conf_entry {
	char *key;
	char *value;
	unsigned line;
};

struct conf_section {
	char *type;     /* "agent", "source" */
	char *name;     /* the quoted name, or NULL */
	unsigned line;
	struct conf_entry *entries;
	size_t nentries, cap;
};

struct conf {
	char *path;
	struct conf_section *sections;
	size_t nsections, cap;
	char error[512]; /* "file:line: message" after a failure */
};

enum conf_type {
	CONF_STRING,
	CONF_DURATION, /* "30s", "5m", "2h", "1d" or plain seconds; stored as unsigned seconds */
	CONF_UINT,
	CONF_BOOL,
	CONF_LIST,     /* comma-separated, stored as the raw string */
	CONF_SIZE,     /* "512k", "64M", "1G" (binary) or plain bytes; stored as uint64_t */
};

struct conf_key {
	const char *key;
	enum conf_type type;
	bool required;
	size_t offset; /* offsetof into the caller's struct: char * for strings, unsigned for numbers,
			* uint64_t for sizes, bool */
};

/* 0, -errno when the file cannot be read, 1 for a syntax error (message in c->error). */
int conf_load(const char *path, struct conf **ret_c);
void conf_free(struct conf *c);
/* Fills target from section s. 0 or 1 with c->error set. Unknown keys are warned about (log_warnx). */
int conf_apply(struct conf *c, const struct conf_section *s, const struct conf_key *keys, void *target);
/* Strips leading and trailing white space in place; returns the first character kept. */
char *conf_trim(char *s);
/* The line a key was set on in s, or the section's own line when it was not set. */
unsigned conf_key_line(const struct conf_section *s, const char *key);
/* The first section of that type, or NULL. */
const struct conf_section *conf_section(const struct conf *c, const char *type);
/* "5m" → 300. 0 on success, -EINVAL otherwise. */
int conf_parse_duration(const char *s, unsigned *ret_seconds);

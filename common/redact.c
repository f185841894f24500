#include "redact.h"

#include <ctype.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmalloc.h"

#define REDACT_MIN_SECRET 4

/* The registered secrets; see redact_register. */
static char **registered;
static size_t nregistered, registered_cap;

static const char *const secret_keys[] = { "password", "passwd", "pwd", "secret" };

/* Replaces s[from..to) with "***" (shorter or equal, so in place). */
static void redact_span(char *s, size_t from, size_t to)
{
	if (to - from < 3) {
		memset(s + from, '*', to - from);
		return;
	}
	memcpy(s + from, "***", 3);
	memmove(s + from + 3, s + to, strlen(s + to) + 1);
}

/* The end of an ODBC-braced value starting at s[i] == '{': its closing brace ("}}" is a literal one),
 * or the end of the text when it has none. */
static size_t braced_end(const char *s, size_t i)
{
	for (i++; s[i]; i++) {
		if (s[i] == '}' && s[i + 1] == '}')
			i++;
		else if (s[i] == '}')
			return i + 1;
	}
	return i;
}

/* The end of a value starting at s[i]: a quoted or braced value runs to its closing quote or brace,
 * else to ; space & or ,. */
static size_t value_end(const char *s, size_t i)
{
	char q = s[i];

	if (q == '{')
		return braced_end(s, i);
	if (q == '\'' || q == '"') {
		for (i++; s[i] && s[i] != q; i++)
			if (s[i] == '\\' && s[i + 1])
				i++;
		return s[i] ? i + 1 : i;
	}
	while (s[i] && !strchr("; \t&,)", s[i]))
		i++;
	return i;
}

static bool key_at(const char *s, size_t i, const char *key)
{
	size_t n = strlen(key);

	return (i == 0 || !isalnum((unsigned char)s[i - 1])) && strncasecmp(s + i, key, n) == 0;
}

static void redact_keys(char *s)
{
	for (size_t i = 0; s[i]; i++) {
		for (size_t k = 0; k < sizeof(secret_keys) / sizeof(secret_keys[0]); k++) {
			size_t j = i + strlen(secret_keys[k]);

			if (!key_at(s, i, secret_keys[k]))
				continue;
			while (s[j] == ' ')
				j++;
			if (s[j] != '=' && s[j] != ':')
				continue;
			j++;
			while (s[j] == ' ')
				j++;
			if (value_end(s, j) > j)
				redact_span(s, j, value_end(s, j));
			break;
		}
	}
}

static void redact_uris(char *s)
{
	for (char *p = strstr(s, "://"); p; p = strstr(p + 3, "://")) {
		char *auth = p + 3, *at = strpbrk(auth, "@/ ");
		char *colon;

		if (!at || *at != '@')
			continue;
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon && at - colon > 1)
			redact_span(s, (size_t)(colon + 1 - s), (size_t)(at - s));
	}
}

void redact_password(char *s, const char *password)
{
	size_t n = password ? strlen(password) : 0;
	char *p;

	if (n < 4)
		return;
	while ((p = strstr(s, password)))
		memset(p, '*', n);
}

void redact_register(const char *secret)
{
	if (!secret || strlen(secret) < REDACT_MIN_SECRET)
		return;
	for (size_t i = 0; i < nregistered; i++)
		if (strcmp(registered[i], secret) == 0)
			return;
	xgrow(&registered, &registered_cap, nregistered + 1, sizeof(*registered));
	registered[nregistered++] = xstrdup(secret);
}

void redact_forget_all(void)
{
	for (size_t i = 0; i < nregistered; i++) {
		sodium_memzero(registered[i], strlen(registered[i]));
		free(registered[i]);
	}
	free(registered);
	registered = NULL;
	nregistered = registered_cap = 0;
}

/* Every occurrence of a registered secret becomes "***". */
static void redact_registered(char *s)
{
	for (size_t i = 0; i < nregistered; i++) {
		size_t n = strlen(registered[i]);

		for (char *p = strstr(s, registered[i]); p; p = strstr(p + 3, registered[i]))
			redact_span(s, (size_t)(p - s), (size_t)(p - s) + n);
	}
}

/* Literal secrets first: a key's value ends at a space, and a password that holds one would
 * otherwise be left half visible for the literal search to miss. */
void redact_secrets(char *s)
{
	redact_registered(s);
	redact_keys(s);
	redact_uris(s);
}

#include "redact.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

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

/* The end of a value starting at s[i]: a quoted value runs to its closing quote, else to ; space & or ,. */
static size_t value_end(const char *s, size_t i)
{
	char q = s[i];

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

void redact_secrets(char *s)
{
	redact_keys(s);
	redact_uris(s);
}

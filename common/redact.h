/*
 * Redaction of secrets from text that may reach a log, a status field or the wire: a driver's error
 * message can echo a connection string. Every "password=…", "passwd=…", "pwd=…" and "secret=…" value
 * (case-insensitive; quoted, ODBC-braced or bare) and the password part of a URI
 * "scheme://user:password@host" is replaced by "***", and so is every secret registered with
 * redact_register() wherever it appears literally. In place; the result is never longer than the
 * input.
 *
 * The registry is process-wide and owns copies of the secrets; redact_forget_all() wipes them.
 * Not thread-safe: the agent registers its secrets once, at configuration load, before any crawl.
 */
#pragma once

void redact_secrets(char *s);
/* Remembers secret (copied; a repeat is ignored) so that redact_secrets() scrubs it. Secrets under
 * four bytes are not remembered: they occur in ordinary words, and searching for them would blank
 * half of every message. */
void redact_register(const char *secret);
/* Wipes and forgets every registered secret. */
void redact_forget_all(void);
/* Blanks every occurrence of a known password with '*', should a server or a client library ever
 * echo it. Passwords under four bytes are not searched for: they occur in ordinary words. */
void redact_password(char *s, const char *password);

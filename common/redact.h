/*
 * Redaction of secrets from text that may reach a log, a status field or the wire: a driver's error
 * message can echo a connection string. Every "password=…", "pwd=…" and "secret=…" value
 * (case-insensitive, quoted or not) and the password part of a URI "scheme://user:password@host" is
 * replaced by "***". In place; the result is never longer than the input.
 */
#pragma once

void redact_secrets(char *s);
/* Blanks every occurrence of a known password with '*', should a server or a client library ever
 * echo it. Passwords under four bytes are not searched for: they occur in ordinary words. */
void redact_password(char *s, const char *password);

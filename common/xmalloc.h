/*
 * Allocation that cannot fail. Out of memory is not an error a caller can do anything useful with on
 * a department host, so these wrappers abort with a message instead of returning NULL: that removes a
 * branch from every call site (STYLE.md, "Errors").
 */
#pragma once

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grows *arr (of element size elsize) so that it can hold at least need elements. */
void xgrow(void *arr, size_t *cap, size_t need, size_t elsize);

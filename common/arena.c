#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* A chunk's usual size: large enough that its own header and the tail left unused are noise, small
 * enough that a snapshot of a few objects does not cost much. */
#define ARENA_CHUNK (256 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	alignas(max_align_t) char data[];
};

/* A request of more than this gets a chunk of its own, behind the newest, whose free part stays in
 * use for what comes next. */
#define ARENA_BIG (ARENA_CHUNK / 4)

static struct arena_chunk *chunk_new(size_t size)
{
	return xmalloc(sizeof(struct arena_chunk) + size);
}

void *arena_alloc(struct arena *a, size_t n, size_t align)
{
	size_t pad = a->chunks ? (align - ((uintptr_t)a->at & (align - 1))) & (align - 1) : 0;
	size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
	struct arena_chunk *c;

	if (a->chunks && pad + n <= a->left) {
		void *p = a->at + pad;

		a->at += pad + n;
		a->left -= pad + n;
		return p;
	}
	if (n > ARENA_BIG && a->chunks) {
		c = chunk_new(n);
		c->next = a->chunks->next;
		a->chunks->next = c;
		return c->data;
	}
	c = chunk_new(size);
	c->next = a->chunks;
	a->chunks = c;
	a->at = c->data + n;
	a->left = size - n;
	return c->data;
}

void arena_free(struct arena *a)
{
	while (a->chunks) {
		struct arena_chunk *next = a->chunks->next;

		free(a->chunks);
		a->chunks = next;
	}
	a->at = NULL;
	a->left = 0;
}

void arena_adopt(struct arena *a, struct arena *from)
{
	struct arena_chunk **tail = &from->chunks;

	if (!from->chunks)
		return;
	while (*tail)
		tail = &(*tail)->next;
	if (!a->chunks) {
		*a = *from;
	} else { /* from's chunks go behind a's newest, which stays the one handed out from */
		*tail = a->chunks->next;
		a->chunks->next = from->chunks;
	}
	*from = (struct arena){ 0 };
}

/*
 * A bump allocator: memory handed out in pieces from large chunks and freed all at once. A snapshot
 * keeps its objects' packed attributes and their paths in one, so that each of several hundred
 * thousand small pieces costs neither a malloc header nor the rounding up to malloc's size classes.
 */
#pragma once

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *chunks; /* the newest first */
	char *at;                   /* the free part of the newest chunk */
	size_t left;
};

/* n bytes aligned to align (a power of two, at most that of max_align_t), until arena_free. */
void *arena_alloc(struct arena *a, size_t n, size_t align);
/* Frees everything allocated from a, which is then empty and usable again. */
void arena_free(struct arena *a);
/* Makes from's memory a's, to be freed with it; from is left empty. */
void arena_adopt(struct arena *a, struct arena *from);

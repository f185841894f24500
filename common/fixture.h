/*
 * The fixture format: a schema written as text, read into a snapshot. It feeds the fixture driver
 * (the whole pipeline without a database, like OpenSMTPD's *_null backends) and the golden diff
 * cases in tests/diff/. One object per header line, its attributes indented below it:
 *
 *     # comment
 *     table r:100 n:1 person            kind, key, parent key ("-" for none), name (rest of line)
 *         comment = 人员信息            attribute
 *         obs.rows = 10                 observation
 *     index i:7 r:100 person_name_idx
 *         columns = a:100:2|a:100:3     REFS: keys joined by '|'
 *     partial n:1 seen through table grants only    the contents of n:1 are only partly visible
 *
 * Values are written with C-like escapes: \\ \n \t \r, and \| for a literal '|' in a REFS value.
 * Keys and parents are single tokens: a space inside one is written \s.
 */
#pragma once

#include <stdio.h>

#include "snapshot.h"

/* Parses path into an unfinished snapshot of the given source; 0, -errno, or 1 with a
 * "file:line: message" in err. */
int fixture_load(const char *path, const char *source, struct snapshot **ret_s, char *err, size_t errlen);
/* Writes a finished snapshot in the fixture format (what `prospector-agent --dump` prints). */
void fixture_write(const struct snapshot *s, FILE *out);

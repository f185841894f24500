#!/usr/bin/env python3
"""Checks that a text table printed by prospector is aligned on screen.

usage: aligned.py FILE HEADER...

The table is the first line of FILE that contains every HEADER and the lines after it up to the
first empty line. For each HEADER (a left-aligned column followed by a left-aligned column or the
end of the line), every row must either leave the column blank or have its cell start at the
display column where the header starts: the character there is not a space and the one before it
is. Display columns count East Asian wide and fullwidth characters as two, as a terminal does.
"""
import re
import sys
import unicodedata


def width(ch):
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def columns(line):
    """{display column: character} for the characters of line."""
    out, col = {}, 0
    for ch in line:
        out[col] = ch
        col += width(ch)
    return out


def header_col(line, header):
    idx = line.index(header)
    return sum(width(ch) for ch in line[:idx])


def header_starts(line):
    """Display columns where the headers of line start (headers are two or more spaces apart)."""
    return sorted(header_col(line, m.group(0)) for m in re.finditer(r"\S+(?: \S+)*", line))


def check_cell(row, at, end):
    """None when the cell of row in display columns [at, end) is blank or starts at at."""
    cols = columns(row)
    cell = "".join(cols.get(c, " ") for c in range(at, end))
    if not cell.strip():
        return None
    if cols.get(at, " ") != " " and cols.get(at - 1, " ") == " ":
        return None
    return f"cell does not start at display column {at}"


def main():
    path, headers = sys.argv[1], sys.argv[2:]
    lines = open(path, encoding="utf-8").read().split("\n")
    start = next(i for i, l in enumerate(lines) if all(h in l for h in headers))
    rows = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        rows.append(line)
    if not rows:
        print("no rows under the header", file=sys.stderr)
        return 1
    starts = header_starts(lines[start])
    bad = 0
    for h in headers:
        at = header_col(lines[start], h)
        later = [s for s in starts if s > at]
        end = later[0] - 2 if later else at + 1000
        for row in rows:
            why = check_cell(row, at, end)
            if why:
                print(f"column {h!r}: {why}: {row!r}", file=sys.stderr)
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

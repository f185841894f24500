#!/usr/bin/env bash
# fuzz-wire: libFuzzer on the collector's decode-and-validate path (DESIGN §3.6, hostile input).
#
# fuzz-wire.c feeds arbitrary bytes to wire_decode() (common/wire.c) and, for what it accepts, does
# what the collector does next without a database: every BATCH object rebuilt with
# wire_obj_from_object() (hash recomputed), staged and read back, snapshot batches finished and
# diffed. It also checks that every string of an accepted message is UTF-8 and every enum in range.
# This script builds it with clang (-fsanitize=fuzzer,address,undefined: a crash, a leak, undefined
# behaviour, an input slower than the per-input timeout or a run past the RSS limit is a finding),
# writes a fresh seed corpus with seeds.c (the project's own encoders over the golden diff cases in
# tests/diff, plus one of every other message), fuzzes for a bounded time and exits non-zero on any
# finding, printing the input's path and bytes. meson registers it as the test 'fuzz-wire'.
#
#   bash tests/fuzz/run.sh [--proto-c FILE] [--work-dir DIR] [-- LIBFUZZER_ARGS…]
#
#   --proto-c FILE   the generated prospector.pb-c.c of a meson build (its .h beside it); without
#                    it, protoc-c compiles proto/prospector.proto into the work directory
#   --work-dir DIR   binaries, seeds, the log and findings (default: a temporary directory, removed
#                    afterwards unless something was found)
#   LIBFUZZER_ARGS   passed on, e.g. -max_len=65536 or -jobs=2
#
# Environment:
#   PROSPECTOR_FUZZ_SECONDS   how long to fuzz (default 60)
#   PROSPECTOR_FUZZ_RSS_MB    RSS (and single malloc) limit in MiB (default 2048)
#   PROSPECTOR_FUZZ_TIMEOUT   seconds one input may take (default 10)
#   PROSPECTOR_FUZZ_CORPUS    a corpus directory kept across runs (default: a temporary one)
#   CLANG                     the compiler (default clang)
#   PROSPECTOR_REQUIRE_LIVE=1 a clang that cannot build a fuzzer is a failure, not a skip (77)
#
# Longer local runs: PROSPECTOR_FUZZ_SECONDS=600 bash tests/fuzz/run.sh (through meson, add
# --timeout-multiplier 0 or the test's timeout stops it). To replay a finding:
# WORK_DIR/fuzz-wire FINDING (libFuzzer runs a file given instead of a directory once).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${PROSPECTOR_FUZZ_SECONDS:-60}
rss_mb=${PROSPECTOR_FUZZ_RSS_MB:-2048}
input_timeout=${PROSPECTOR_FUZZ_TIMEOUT:-10}
clang=${CLANG:-clang}
proto_c=
work=
own_work=0
corpus=
fuzz_args=()

usage()
{
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
	case "$1" in
	--proto-c) proto_c=$2; shift ;;
	--work-dir) work=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; fuzz_args=("$@"); break ;;
	*) echo "fuzz-wire: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

say()
{
	printf 'fuzz-wire: %s\n' "$*"
}

# Exit 77 (meson: skipped) for a missing tool, unless the caller requires everything to run.
skip()
{
	if [ "${PROSPECTOR_REQUIRE_LIVE:-}" = 1 ]; then
		say "$* (PROSPECTOR_REQUIRE_LIVE=1: failing; deploy/install-deps.sh installs clang and its runtime)" >&2
		exit 1
	fi
	say "skipped: $*"
	exit 77
}

if [ -z "$work" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-wire.XXXXXX")
	own_work=1
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
tmp_corpus=
keep_work=0
cleanup()
{
	[ -z "$tmp_corpus" ] || rm -rf "$tmp_corpus"
	[ "$own_work" = 0 ] || [ "$keep_work" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- can this clang build a fuzzer? ----------------------------------------------------------------

command -v "$clang" >/dev/null || skip "no $clang"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
	>"$work/probe.c"
"$clang" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" >"$work/probe.log" 2>&1 ||
	skip "$clang cannot link -fsanitize=fuzzer,address,undefined ($(head -n 1 "$work/probe.log"))"

# --- build ----------------------------------------------------------------------------------------

if [ -z "$proto_c" ]; then
	command -v protoc-c >/dev/null || { say "protoc-c not found" >&2; exit 1; }
	mkdir -p "$work/proto"
	protoc-c --proto_path="$repo/proto" --c_out="$work/proto" "$repo/proto/prospector.proto"
	proto_c=$work/proto/prospector.pb-c.c
fi
[ -f "$proto_c" ] && [ -f "${proto_c%.c}.h" ] || { say "$proto_c or its header is missing" >&2; exit 1; }
pkg=$(pkg-config --cflags libprotobuf-c libsodium)
libs=$(pkg-config --libs libprotobuf-c libsodium)

# nonnull-attribute is off: common/ calls qsort and bsearch on empty arrays whose pointer is NULL
# (n = 0), which C calls undefined, glibc handles and UBSan would stop every run on.
san=(-fsanitize=address,undefined -fno-sanitize=nonnull-attribute -fno-sanitize-recover=all
	-fno-omit-frame-pointer)
cflags=(-std=c11 -D_GNU_SOURCE -g -O1 -I"$repo/common" -I"$(dirname "$proto_c")" $pkg)
own_warnings=(-Wall -Wextra -Wpedantic -Werror)

# Every common/ source and the generated code, with coverage instrumentation, compiled in parallel
# into an archive: the linker takes only the members the two programs need, so a common/ module
# with dependencies of its own (libzmq) does not have to be linked.
mkdir -p "$work/obj"
rm -f "$work"/obj/*.o
pids=()
for src in "$repo"/common/*.c "$proto_c"; do
	obj=$work/obj/$(basename "${src%.c}").o
	"$clang" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer-no-link -Wno-pedantic -c "$src" -o "$obj" &
	pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do
	wait "$pid" || failed=1
done
[ "$failed" = 0 ] || { say "compiling common/ with $clang failed" >&2; exit 1; }
rm -f "$work/libcommon.a"
ar rcs "$work/libcommon.a" "$work"/obj/*.o

"$clang" "${cflags[@]}" "${san[@]}" "${own_warnings[@]}" -fsanitize=fuzzer "$repo/tests/fuzz/fuzz-wire.c" \
	"$work/libcommon.a" $libs -o "$work/fuzz-wire"
# The generator shares the instrumented objects; ASan and UBSan watch it too.
"$clang" "${cflags[@]}" "${san[@]}" "${own_warnings[@]}" -fsanitize=fuzzer-no-link "$repo/tests/fuzz/seeds.c" \
	"$work/libcommon.a" $libs -o "$work/seeds"

# --- seeds, corpus, run ---------------------------------------------------------------------------

rm -rf "$work/seeds.d" "$work/findings"
mkdir -p "$work/seeds.d" "$work/findings"
"$work/seeds" "$work/seeds.d" "$repo/tests/diff"

if [ -n "${PROSPECTOR_FUZZ_CORPUS:-}" ]; then
	corpus=$PROSPECTOR_FUZZ_CORPUS
	mkdir -p "$corpus"
else
	tmp_corpus=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-wire-corpus.XXXXXX")
	corpus=$tmp_corpus
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log=$work/fuzz.log
say "fuzzing for ${seconds}s (rss limit ${rss_mb} MiB, ${input_timeout}s per input); log: $log"
rc=0
# libFuzzer's own exit codes (77 for a crash by default) would read as "skipped" to meson.
"$work/fuzz-wire" -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -malloc_limit_mb="$rss_mb" \
	-timeout="$input_timeout" -error_exitcode=1 -timeout_exitcode=1 -detect_leaks=1 \
	-artifact_prefix="$work/findings/" -print_final_stats=1 ${fuzz_args[@]+"${fuzz_args[@]}"} \
	"$corpus" "$work/seeds.d" >"$log" 2>&1 </dev/null &
wait $! || rc=$?

# --- report ---------------------------------------------------------------------------------------

grep -m 1 -E 'INFO: Loaded [0-9]+ modules' "$log" | sed 's/^/fuzz-wire: /' || true
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" | sed 's/^/fuzz-wire: /' || true
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" |
	sed 's/^/fuzz-wire: /' || true

findings=$(find "$work/findings" -type f | sort)
if [ "$rc" -eq 0 ] && [ -z "$findings" ]; then
	say "no findings"
	exit 0
fi

keep_work=1
say "FAILED: libFuzzer exited with $rc; the end of its log ($log):"
tail -n 80 "$log"
for f in $findings; do
	say "finding: $f ($(wc -c <"$f") bytes); replay with: $work/fuzz-wire $f"
	od -A x -t x1z -v "$f" | head -n 256
done
exit 1

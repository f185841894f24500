#!/bin/bash
# The prospector CLI against a sample catalog: creates the catalog with `prospector-collector -n`,
# fills it from sample.sql with the sqlite3 tool, runs every command in text and JSON form and checks the output with
# jq and python3. TAP on stdout; exit status 1 when any check fails.
#
# usage: tests/cli/run.sh [PROSPECTOR_BINARY]
#        (default: $PROSPECTOR_BUILD/collector/prospector, else build/collector/prospector)
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-${PROSPECTOR_BUILD:-$root/build}/collector/prospector}
collector=$(dirname "$bin")/prospector-collector
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$tmp/catalog.db

for tool in sqlite3 jq python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is not installed"
		exit 77
	fi
done
if [ ! -x "$bin" ] || [ ! -x "$collector" ]; then
	echo "Bail out! no prospector binaries beside $bin"
	exit 1
fi

# An empty catalog with the collector's own schema: `prospector-collector -n` creates it.
new_catalog()
{
	"$bin" keygen "$1.collector" >/dev/null &&
	printf '[collector]\ndatabase = %s\ncurve_secret_key = %s\n' "$1" "$1.collector.key" >"$1.conf" &&
	"$collector" -n -c "$1.conf" >/dev/null
}

if ! new_catalog "$db" || ! sqlite3 "$db" <"$here/sample.sql"; then
	echo "Bail out! cannot build the sample catalog"
	exit 1
fi

n=0
failed=0

# report STATUS DESCRIPTION: one TAP line; on failure the command's output as diagnostics.
report() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
		return
	fi
	echo "not ok $n - $2"
	failed=$((failed + 1))
	{ echo "exit status $rc"; head -c 1000 "$tmp/err"; head -c 1000 "$tmp/out"; echo; } | sed 's/^/#   /'
}

# pcli ARGS...: prospector on the sample catalog; stdout in $tmp/out, stderr in $tmp/err, status in $rc.
pcli() {
	LC_ALL=${TEST_LC_ALL:-C.UTF-8} "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# t_exit CODE DESCRIPTION ARGS...: the exit status is CODE.
t_exit() {
	local want=$1 desc=$2
	shift 2
	pcli "$@"
	[ "$rc" -eq "$want" ]
	report $? "$desc"
}

# t_err CODE REGEX DESCRIPTION ARGS...: the exit status is CODE and stderr matches REGEX.
t_err() {
	local want=$1 re=$2 desc=$3
	shift 3
	pcli "$@"
	[ "$rc" -eq "$want" ] && grep -Eq -- "$re" "$tmp/err"
	report $? "$desc"
}

# t_jq FILTER DESCRIPTION ARGS...: with --json, exit 0, exactly one JSON document on stdout, and
# FILTER is true.
t_jq() {
	local filter=$1 desc=$2
	shift 2
	pcli --db "$db" "$@" --json
	[ "$rc" -eq 0 ] && [ "$(jq -s length "$tmp/out" 2>>"$tmp/err")" = 1 ] &&
		jq -e "$filter" "$tmp/out" >/dev/null 2>>"$tmp/err"
	report $? "$desc"
}

# t_text REGEX DESCRIPTION ARGS...: exit 0 and the text output matches REGEX (grep -E).
t_text() {
	local re=$1 desc=$2
	shift 2
	pcli --db "$db" "$@"
	[ "$rc" -eq 0 ] && grep -Eq -- "$re" "$tmp/out"
	report $? "$desc"
}

# t_notext REGEX DESCRIPTION ARGS...: exit 0 and no line of the text output matches REGEX.
t_notext() {
	local re=$1 desc=$2
	shift 2
	pcli --db "$db" "$@"
	[ "$rc" -eq 0 ] && ! grep -Eq -- "$re" "$tmp/out"
	report $? "$desc"
}

# t_aligned "HEADER..." DESCRIPTION ARGS...: exit 0 and the table under HEADERs is aligned on screen.
t_aligned() {
	local headers=$1 desc=$2
	shift 2
	pcli --db "$db" "$@"
	# shellcheck disable=SC2086 # the headers are words
	[ "$rc" -eq 0 ] && python3 "$here/aligned.py" "$tmp/out" $headers 2>>"$tmp/err"
	report $? "$desc"
}

before=$(sha256sum "$db" | cut -d' ' -f1)

# --- help and usage ---------------------------------------------------------------------------------
t_text 'EXIT STATUS' "--help prints the manual" --help
for cmd in status catalog show history graph probe interval help; do
	pcli help "$cmd"
	[ "$rc" -eq 0 ] && grep -q SYNOPSIS "$tmp/out" && grep -q "prospector $cmd" "$tmp/out" &&
		grep -q 'EXIT STATUS' "$tmp/out"
	report $? "help $cmd prints its manual"
	pcli "$cmd" --help
	[ "$rc" -eq 0 ] && grep -q SYNOPSIS "$tmp/out"
	report $? "$cmd --help prints its manual without a catalog"
done
t_text '^prospector [0-9]' "--version" --version
t_err 2 'no COMMAND' "no command is a usage error"
t_err 2 "no command 'frob'" "an unknown command is a usage error" --db "$db" frob
t_err 2 "unknown option '--bogus'" "an unknown option is a usage error" --db "$db" history --bogus
t_err 2 "needs a value" "a missing option value is a usage error" --db "$db" history --limit
t_err 2 'positive number' "--limit 0 is a usage error" --db "$db" history --limit 0
t_err 2 "not a time" "an unreadable --since is a usage error" --db "$db" history --since yesterday
t_err 2 "neither an operation" "an unknown history --kind is a usage error" --db "$db" history --kind frob
t_err 2 "BREAKING, ADDITIVE, COSMETIC" "an unknown --severity is a usage error" --db "$db" history --severity big
t_err 2 "unknown kind 'tbl'" "an unknown catalog --kind is a usage error" --db "$db" catalog --kind tbl
t_err 2 "dot or json" "an unknown graph --format is a usage error" --db "$db" graph --format svg
t_err 2 "contradict" "--json with --format dot is a usage error" --db "$db" graph --format dot --json
t_err 2 "both name the catalog" "--db with -c is a usage error" --db "$db" -c /dev/null status
t_err 2 "expected one OBJECT" "show without an object is a usage error" --db "$db" show
t_err 2 "unexpected argument" "status takes no operand" --db "$db" status extra

# --- finding and opening the catalog ------------------------------------------------------------------
t_err 1 "$tmp/missing.db: cannot open the catalog: No such file" "a missing catalog names the file" \
	--db "$tmp/missing.db" status
echo "not sqlite" >"$tmp/text.db"
t_err 1 "$tmp/text.db: not a Prospector catalog" "a file that is no catalog is an error" --db "$tmp/text.db" status
sqlite3 "$tmp/v2.db" "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('schema_version', '2');"
t_err 1 "schema version 2" "a newer catalog schema is refused" --db "$tmp/v2.db" status
printf '[collector]\nlisten = tcp://127.0.0.1:7431\ndatabase = %s\n' "$db" >"$tmp/collector.conf"
pcli -c "$tmp/collector.conf" catalog --kind database --json
[ "$rc" -eq 0 ] && jq -e '.objects | length == 2' "$tmp/out" >/dev/null
report $? "-c reads the database key of [collector]"
printf '[collector\n' >"$tmp/bad.conf"
t_err 1 "$tmp/bad.conf:1:" "a broken -c file is reported with file:line" -c "$tmp/bad.conf" status
PROSPECTOR_DB=$db pcli catalog --kind database --json
[ "$rc" -eq 0 ] && jq -e '.objects | length == 2' "$tmp/out" >/dev/null
report $? "PROSPECTOR_DB names the default catalog"

# --- status -------------------------------------------------------------------------------------------
t_jq '.agents | map(.id) == ["health-bureau-01", "old-agent"]' "status lists the agents by id" status
t_jq '.agents[0].silent == false and .agents[1].silent == true' \
	"an agent unheard of for 3 x its longest interval is silent" status
t_jq '.agents[0].sources[0] | .name == "hr" and .ok == true and .department == "卫生健康局" and
	.system == "人事管理系统" and .interval_s == 300 and .duration_ms == 1234 and .objects == 27 and
	.last_error == null' "status --json carries the source's probe status" status
t_jq '.agents[1].sources[0] | .ok == false and (.last_error | startswith("connection refused"))' \
	"a failed probe shows its last error" status
t_jq '[.agents[].last_seen, .agents[].sources[].last_end, .agents[].sources[].next_run] |
	all(test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{3})?Z$"))' \
	"status times are RFC 3339 UTC" status
t_jq '.agents[0] | .incarnation == 3 and .last_seq == 42 and .outbox_depth == 0 and .rss_bytes == 12582912' \
	"status --json carries the agent's counters" status
t_text '^old-agent .* silent ' "status text marks the silent agent" status
t_text '^hr +health-bureau-01 +pg +ok .* 5m .*卫生健康局 +人事管理系统' "status text shows the hr probe" status
t_aligned "SOURCE AGENT DRIVER STATUS DEPARTMENT SYSTEM" "status text aligns columns after Chinese text" status
TEST_LC_ALL=C t_aligned "SOURCE DEPARTMENT SYSTEM" "alignment holds under LC_ALL=C too" status

new_catalog "$tmp/empty.db"
pcli --db "$tmp/empty.db" status
[ "$rc" -eq 0 ] && grep -q "No agent has connected" "$tmp/out"
report $? "status of an empty catalog says so"
pcli --db "$tmp/empty.db" status --json
[ "$rc" -eq 0 ] && jq -e '. == {"agents": []}' "$tmp/out" >/dev/null
report $? "status --json of an empty catalog is an empty list"
pcli --db "$tmp/empty.db" graph --json
[ "$rc" -eq 0 ] && jq -e '. == {"nodes": [], "edges": []}' "$tmp/out" >/dev/null
report $? "graph --json of an empty catalog is empty"

# --- catalog ------------------------------------------------------------------------------------------
t_jq '[.objects[].path] == ["fin/fin", "fin/fin/public", "fin/fin/public/ledger", "hr/hr", "hr/hr/public",
	"hr/hr/public/employees", "hr/hr/public/employees_archive", "hr/hr/public/employees_id_seq",
	"hr/hr/public/payroll", "hr/hr/public/payroll/payroll_2026", "hr/hr/public/员工视图", "hr/hr/public/部门"]' \
	"catalog lists databases, schemas, tables, views and sequences by path" catalog
t_jq '.objects | length == 25' "catalog --all lists every object" catalog --all
t_jq '[.objects[].kind] | unique == ["sequence", "table", "view"]' "catalog PATTERN is a glob on path" \
	catalog 'hr/*/public/*'
t_jq '[.objects[].name] == ["dept_id", "id", "salary", "姓名"]' "a pattern naming columns lists columns" \
	catalog 'hr/hr/public/employees.*'
t_jq '[.objects[].path] == ["hr/hr/public/employees"]' "a plain path lists that object (and what the default kinds allow below it)" \
	catalog hr/hr/public/employees
t_jq '[.objects[].path] == ["fin/fin/public/ledger.amount"]' "catalog --source --kind" \
	catalog --source fin --kind COLUMN
t_jq '.objects[] | select(.name == "员工视图") | .attrs.depends_on == "hr/public/employees,hr/public/部门"' \
	"catalog renders REFS attributes as names" catalog
t_jq '.objects[] | select(.path == "hr/hr/public/employees") | .obs == {"bytes": "65536", "rows": "1200"} and
	.attrs.comment == "员工信息表" and .key == "r:100" and .source == "hr"' "catalog --json carries attrs and obs" catalog
t_jq '.objects == []' "a pattern matching nothing gives an empty list" catalog 'nosuch/*'
t_text '^hr/hr/public/部门 +table +12 +8\.0 KiB +部门表$' "catalog text shows rows, size and comment" catalog
t_text 'employees\.salary .*月薪（元）\\n含补贴' "a newline in a comment is shown escaped" catalog --all
t_aligned "PATH KIND COMMENT" "catalog text aligns columns after Chinese paths" catalog --all

# --- show ---------------------------------------------------------------------------------------------
t_jq '.object | .path == "hr/hr/public/employees" and .kind == "table" and .parent == "hr/hr/public" and
	.attrs.comment == "员工信息表" and .obs.rows == "1200"' "show prints the object" show hr/hr/public/employees
t_jq '[.object.columns[] | .name] == ["id", "姓名", "dept_id", "salary"]' "show lists columns in ordinal order" \
	show hr/hr/public/employees
t_jq '.object.columns | (.[0].nullable == false and .[1].nullable == true and .[1].type == "character varying(50)"
	and .[1].comment == "员工姓名" and .[3].default == "0" and .[3].ordinal == 10)' \
	"show gives each column's type, nullability, default and comment" show hr/hr/public/employees
t_jq '[.object.constraints[] | [.kind, .name, (.columns | join(","))]] == [["foreign_key", "employees_dept_fk",
	"dept_id"], ["primary_key", "employees_pkey", "id"], ["check", "salary_positive", "salary"]]' \
	"show lists constraints with column names" show hr/hr/public/employees
t_jq '.object.indexes | map([.name, .columns, .unique]) == [["employees_name_dept_idx", ["姓名", "dept_id"], false],
	["employees_pkey", ["id"], true]]' "show lists indexes with REFS rendered in order" show hr/hr/public/employees
t_jq '.object.fk_out == [{"name": "employees_dept_fk", "key": "c:2", "path": "hr/hr/public/employees#employees_dept_fk",
	"table": "hr/hr/public/employees", "columns": ["dept_id"], "ref_table": "hr/hr/public/部门",
	"ref_columns": ["id"], "on_delete": "CASCADE", "on_update": "NO ACTION"}] and .object.fk_in == []' \
	"show lists outgoing foreign keys with the referenced path" show hr/hr/public/employees
t_jq '.object.path == "hr/hr/public/部门" and (.object.fk_in | map([.table, .columns, .ref_columns])) ==
	[["hr/hr/public/employees", ["dept_id"], ["id"]]]' "show SOURCE:KEY, and incoming foreign keys" show hr:r:200
t_jq '[.object.dependents[].path] == ["hr/hr/public/员工视图"]' "show lists dependent views" show hr/hr/public/部门
t_jq '[.object.depends_on[].path] == ["hr/hr/public/employees", "hr/hr/public/部门"] and
	.object.attrs.depends_on == "hr/public/employees,hr/public/部门"' "show of a view lists what it depends on" \
	show hr/hr/public/员工视图
t_jq '.object.kind == "column" and (.object.fk_out | map(.name)) == ["employees_dept_fk"]' \
	"show of a column lists the foreign keys it takes part in" show hr/hr/public/employees.dept_id
t_jq '[.object.children[].path] == ["hr/hr/public/payroll/payroll_2026"]' "show of a partitioned table lists its partitions" \
	show hr/hr/public/payroll
t_jq '.object.attrs.owned_by == "id"' "show renders a sequence's owned_by column by name" show hr/hr/public/employees_id_seq
t_jq '.object.key == "r:100" and .object.source == "fin"' "SOURCE:KEY keeps sources apart" show fin:r:100
t_err 0 "also names hr:i:10 \\(index\\)" "a path shared by a key and its index shows one and names the other" \
	--db "$db" show 'hr/hr/public/employees#employees_pkey'
t_jq '.object.kind == "index" and .object.columns == [] and (.object.attrs.columns == "id")' \
	"SOURCE:KEY reaches the index" show hr:i:10
t_err 1 "no object 'hr/hr/public/nope' in $db" "an unknown object names the object and the file" \
	--db "$db" show hr/hr/public/nope
t_text '^  ref_table|employees_dept_fk +dept_id +hr/hr/public/部门\(id\) +CASCADE' "show text lists foreign keys" \
	show hr/hr/public/employees
t_text '^  comment +员工信息表$' "show text prints the comment" show hr/hr/public/employees
t_text '^  bytes +64\.0 KiB \(65536\)$' "show text prints observations" show hr/hr/public/employees
t_aligned "NAME TYPE NULLABLE" "show text aligns the columns table after Chinese names" show hr/hr/public/employees
t_aligned "NAME KIND" "show text aligns constraints with Chinese names" show hr/hr/public/部门

# --- history ------------------------------------------------------------------------------------------
t_jq '[.changes[].id] == [1, 2, 3, 4, 5, 6, 7, 8, 9]' "history lists every change by id" history
t_jq '.changes[1] == {"id": 2, "observed": "2025-11-02T00:00:00Z", "recorded": "2025-11-02T00:00:01Z",
	"agent": "health-bureau-01", "source": "hr", "seq": 2, "path": "hr/hr/public/employees.salary", "key": "a:100:10",
	"object_kind": "column", "op": "ALTER", "field": "type", "before": "numeric(8,2)", "after": "numeric(10,2)",
	"severity": "ADDITIVE", "heuristic": false, "origin": "delta"}' "history --json rows follow the contract" history
t_jq '.changes[0] | .field == null and .before == null and (.after | fromjson) == {"comment": "员工表", "owner": "hr_admin"}' \
	"an ADD row carries the object's attributes as JSON text" history
t_jq '[.changes[].id] == [1, 2, 3, 4, 5, 9]' "--object matches the path and what is below it, not siblings" \
	history --object hr/hr/public/employees
t_jq '[.changes[].id] == [8]' "--object takes a glob" history --object 'hr/*/pay*'
t_jq '[.changes[].id] == [1, 3]' "--object with a glob matching the table exactly" history --object 'hr/hr/public/employee[s]' --kind table
t_jq '[.changes[].id] == [6]' "--source" history --source fin
t_jq '[.changes[].id] == [4]' "--kind filters the operation, in any case" history --kind drop
t_jq '[.changes[].id] == [2, 4, 5]' "--kind takes an object kind too" history --kind Column
t_jq '[.changes[].id] == [4, 5]' "--severity" history --severity breaking
t_jq '[.changes[].id] == [9]' "--since with a relative time" history --since -2h
t_jq '[.changes[].id] == [2, 3, 4, 5, 6]' "--since and --until with dates, both inclusive" \
	history --since 2025-11-02 --until 2025-11-03
t_jq '[.changes[].id] == [2, 3]' "--until with an RFC 3339 offset time" \
	history --since 2025-11-02 --until 2025-11-02T08:00:00+08:00
t_jq '[.changes[].id] == [8, 9]' "--limit keeps the most recent, oldest first" history --limit 2
t_jq '.changes[] | select(.id == 5) | .heuristic == true' "a heuristic rename is marked" history
t_jq '.changes == []' "no match gives an empty list" history --source nosuch
t_text 'ALTER +hr/hr/public/employees\.salary +type +numeric\(8,2\) → numeric\(10,2\)$' \
	"history text shows before → after" history
t_text 'DROP +hr/hr/public/employees\.old_code +column nullable=true type=text$' \
	"history text shows a dropped object's kind and attributes" history
t_text 'RENAME +hr/hr/public/employees\.姓名 +name +name → 姓名 \(heuristic\)$' "history text marks heuristics" history
t_notext 'employees_archive' "history --object leaves out siblings with the same prefix" \
	history --object hr/hr/public/employees
t_aligned "TIME SEVERITY OP PATH FIELD CHANGE" "history text aligns after Chinese paths" history

# --- graph --------------------------------------------------------------------------------------------
t_jq '[.nodes[].id] | sort == ["fin:r:100", "hr:a:100:3", "hr:a:200:1", "hr:r:100", "hr:r:200", "hr:r:300",
	"hr:r:400", "hr:r:401", "hr:r:600"]' "graph nodes: tables, views and FK columns" graph --format json
t_jq '.edges | map([.from, .to, .kind]) | sort == [["hr:a:100:3", "hr:a:200:1", "fk"],
	["hr:r:100", "hr:a:100:3", "contains"], ["hr:r:200", "hr:a:200:1", "contains"],
	["hr:r:300", "hr:r:100", "view_dep"], ["hr:r:300", "hr:r:200", "view_dep"], ["hr:r:401", "hr:r:400", "partition"]]' \
	"graph edges: contains, fk, view_dep, partition (no owned_by)" graph --json
t_jq '.nodes | map(.path) == ["fin/fin/public/ledger"]' "graph --source" graph --json --source fin
t_jq '.nodes[] | select(.id == "hr:r:300") | .path == "hr/hr/public/员工视图" and .kind == "view"' \
	"graph nodes carry path and kind" graph --json
t_text '^digraph prospector \{$' "graph prints dot by default" graph
t_text '"hr:r:100" -> "hr:r:200" \[label="dept_id → id"\]' "dot draws table-level FK edges labelled by columns" graph
t_text '"hr:r:300" \[label="hr/public/员工视图"' "dot labels nodes with Chinese paths" graph
t_text '"hr:r:401" -> "hr:r:400" \[style=dotted' "dot draws partitions" graph --format dot
if command -v dot >/dev/null; then
	pcli --db "$db" graph
	dot -Tsvg "$tmp/out" >/dev/null 2>>"$tmp/err"
	report $? "Graphviz accepts the dot output"
fi

# --- read-only ----------------------------------------------------------------------------------------
after=$(sha256sum "$db" | cut -d' ' -f1)
[ "$before" = "$after" ]
report $? "the catalog file is unchanged after every command"
pcli --db "$db" status
sqlite3 "$db" "PRAGMA journal_mode" | grep -q wal
report $? "the WAL catalog is still in WAL mode"
# A collector in the middle of a write transaction does not block a reader.
rc=0
python3 - "$bin" "$db" >"$tmp/out" 2>"$tmp/err" <<'EOF'
import sqlite3, subprocess, sys
prospector, db = sys.argv[1:]
writer = sqlite3.connect(db, isolation_level=None)
writer.execute("BEGIN IMMEDIATE")
writer.execute("INSERT INTO meta VALUES ('cli-test', 'uncommitted')")
run = subprocess.run([prospector, "--db", db, "history", "--json"], capture_output=True, timeout=30)
writer.execute("ROLLBACK")
sys.stderr.write(run.stderr.decode())
sys.exit(0 if run.returncode == 0 and b'"changes"' in run.stdout else 1)
EOF
report $? "the CLI reads while a writer holds a transaction open"

# A crawl that saw only part of its source, and a driver that cannot read everything.
sqlite3 "$db" "UPDATE sources SET last_warning = 'schema shop: visible only through table grants' WHERE name = 'hr';
	UPDATE objects SET attrs = json_set(attrs, '$.unsupported', 'comments,foreign_keys')
	WHERE source = 'hr' AND kind = 'database'"
t_jq '.agents[0].sources[0] | .warning == "schema shop: visible only through table grants"
	and .unsupported == "comments,foreign_keys" and .ok == true' "status --json carries warning and unsupported" status
t_text '^hr +health-bureau-01 +pg +partial .*comments,foreign_keys +schema shop: visible only' \
	"status text says partial, what cannot be read and why" status

# --- probe and interval: the only writers, and only of the command queue -----------------------------
hist_before=$(sqlite3 "$db" "SELECT count(*) || ':' || max(id) FROM history")
t_jq '.command | .kind == "probe_now" and .source == "hr" and .agent == "health-bureau-01"
	and .interval_s == null and (.id | type) == "number" and (.created | test("Z$"))' "probe --json" probe hr
t_jq '.command | .kind == "set_interval" and .source == "hr" and .interval_s == 900' \
	"interval --json" interval hr 15m
t_text '^queued: probe source hr ' "probe says what it queued" probe hr
t_text '^queued: set the interval of source hr to 7200s' "interval says what it queued" interval hr 2h
[ "$(sqlite3 "$db" "SELECT group_concat(kind || '/' || ifnull(interval_s, '-') || '/' || ifnull(sent, 'unsent'), ' ')
	FROM commands WHERE source = 'hr'")" = "probe_now/-/unsent set_interval/900/unsent probe_now/-/unsent set_interval/7200/unsent" ]
report $? "the commands are queued, unsent, in order"
[ "$(sqlite3 "$db" "SELECT interval_override FROM sources WHERE name = 'hr'")" = 7200 ]
report $? "interval sets the source's interval_override"
t_err 1 "no source 'nosuch'" "probe of an unknown source: exit 1 naming it" --db "$db" probe nosuch
t_err 1 "no source 'nosuch'" "interval of an unknown source: exit 1 naming it" --db "$db" interval nosuch 5m
t_err 2 "'soon' is not a duration" "interval with a bad duration: exit 2" --db "$db" interval hr soon
t_exit 2 "interval 0s: exit 2" --db "$db" interval hr 0s
t_exit 2 "interval without DURATION: exit 2" --db "$db" interval hr
t_exit 2 "probe without SOURCE: exit 2" --db "$db" probe
t_err 1 "cannot open the catalog" "probe on a missing catalog: exit 1" --db "$tmp/none.db" probe hr
[ ! -e "$tmp/none.db" ]
report $? "probe does not create a catalog"
[ "$(sqlite3 "$db" "SELECT count(*) FROM commands")" = 4 ]
report $? "failed commands queue nothing"
[ "$(sqlite3 "$db" "SELECT count(*) || ':' || max(id) FROM history")" = "$hist_before" ]
report $? "history is untouched by probe and interval"

echo "1..$n"
[ "$failed" -eq 0 ]

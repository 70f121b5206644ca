#!/usr/bin/env bash
# Cost of an online backup and of its restore, on one node holding
# BENCH_BACKUP_OBJECTS objects (default 1,000,000), while pgbench runs the
# upsert script with BENCH_CLIENTS clients (default 16) for BENCH_SECONDS
# (default 30). The backup starts a third of the way in. Prints: the
# backup's time, bytes and the server's extra RSS while it ran; the tps
# clients saw before and during it (pgbench's per-second progress); the
# restore's time and peak RSS; and the restored node's start time and row
# count; then a data-only pg_dump of the restored node and its pg_restore
# into a fresh node, timed, with the dump's bytes. BENCH_KEEP=1 keeps the scratch
# directory.
set -euo pipefail
cd "$(dirname "$0")"
BIN=${BUCKETDB_BIN:?set BUCKETDB_BIN to the bucketdb binary}
N=${BENCH_BACKUP_OBJECTS:-1000000}
CLIENTS=${BENCH_CLIENTS:-16}
RUN=${BENCH_SECONDS:-30}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

work=$(mktemp -d /tmp/bucketdb-backup-bench.XXXXXX)
. ./lib.sh
cleanup() { stop_bucketdb; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.2f}')"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

start_bucketdb origin
port=$started_port
pid=${bdb_pids[0]}
psql() { "$PGBIN/psql" -qtAX -h 127.0.0.1 -p "$1" -U postgres -d bucketdb "${@:2}"; }

psql "$port" -c "INSERT INTO buckets (name, owner) VALUES ('bench', 'bench')"
python3 - "$N" >"$work/objects.csv" <<'PY'
import sys
for i in range(1, int(sys.argv[1]) + 1):
    print(f"bench,obj-{i},{i},etag-{i}")
PY
t=$(now)
psql "$port" -c "\\copy objects (bucket, key, size, etag) FROM '$work/objects.csv' WITH (FORMAT csv)"
echo "loaded $N objects in $(since "$t") s"

"$PGBIN/pgbench" -n -M prepared -h 127.0.0.1 -p "$port" -U postgres -f upsert.sql \
  -c "$CLIENTS" -j 2 -T "$RUN" -P 1 bucketdb >"$work/pgbench.out" 2>&1 &
bench_pid=$!
sleep $((RUN / 3))

base_kb=$(rss_kb "$pid")
: >"$work/rss"
( while :; do rss_kb "$pid" >>"$work/rss"; sleep 0.05; done ) &
sampler=$!
start_offset=$(awk '/^progress:/ {t=$2} END {print t+0}' "$work/pgbench.out")
t=$(now)
index=$(psql "$port" -c "SELECT cluster_backup('$work/backup')")
backup_s=$(since "$t")
kill "$sampler"
wait "$bench_pid"
peak_kb=$(sort -n "$work/rss" | tail -1)
bytes=$(du -sb "$work/backup" | cut -f1)

# Per-second tps: the seconds before the backup against the ones it spanned.
read -r before during < <(awk -v s="$start_offset" -v d="$backup_s" '
  /^progress:/ { t = $2 + 0; tps = $4 + 0
    if (t > 2 && t <= s) { b += tps; nb++ }
    if (t > s && t <= s + d + 1) { w += tps; nw++ } }
  END { printf "%.0f %.0f\n", (nb ? b / nb : 0), (nw ? w / nw : 0) }' "$work/pgbench.out")

echo "backup of $N objects under $CLIENTS upsert clients: index $index, $backup_s s, $bytes bytes"
echo "server RSS: $((base_kb / 1024)) MiB before, $((peak_kb / 1024)) MiB peak while it ran (+$(((peak_kb - base_kb) / 1024)) MiB)"
echo "client tps: $before before the backup, $during while it ran (ratio $(python3 -c "print(f'{$during / max($before, 1):.2f}')"))"

stop_bucketdb
bdb_pids=()
t=$(now)
/usr/bin/time -f "%M" -o "$work/restore.kb" "$BIN" restore --from "$work/backup" --data-dir "$work/restored" >/dev/null
echo "restore: $(since "$t") s, peak RSS $(($(cat "$work/restore.kb") / 1024)) MiB"
t=$(now)
start_bucketdb restored
echo "restored node ready in $(since "$t") s; objects: $(psql "$started_port" -c "SELECT count(*) FROM objects WHERE bucket = 'bench'")"

# The same state through SQL: a data-only pg_dump (custom format) of the
# restored node, and pg_restore into a fresh node.
restored=$started_port
t=$(now)
"$PGBIN/pg_dump" --data-only --format=custom -h 127.0.0.1 -p "$restored" -U postgres \
  -f "$work/dump.custom" bucketdb
echo "pg_dump --data-only --format=custom: $(since "$t") s, $(du -b "$work/dump.custom" | cut -f1) bytes"
start_bucketdb fresh
t=$(now)
"$PGBIN/pg_restore" --data-only --exit-on-error -h 127.0.0.1 -p "$started_port" -U postgres \
  -d bucketdb "$work/dump.custom"
echo "pg_restore into a fresh node: $(since "$t") s; objects: $(psql "$started_port" -c "SELECT count(*) FROM objects WHERE bucket = 'bench'")"

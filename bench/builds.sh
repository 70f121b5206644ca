#!/usr/bin/env bash
# Two bucketdb builds and PostgreSQL (fsync on) side by side on one pgbench
# script, alternating, two rounds per client count: for before/after
# figures of a change. Usage:
#   OLD_BIN=… NEW_BIN=… bench/builds.sh [SCRIPT] [MODE] [SECONDS] [CLIENTS]
# e.g. bench/builds.sh join_select.sql prepared 10 "1 16".
set -euo pipefail
cd "$(dirname "$0")"
OLD=${OLD_BIN:?set OLD_BIN to the build before}
NEW=${NEW_BIN:?set NEW_BIN to the build after}
SCRIPT=${1:-join_select.sql}
MODE=${2:-prepared}
SECS=${3:-10}
CLIENTS=${4:-"1 16"}
work=$(mktemp -d /tmp/bucketdb-builds.XXXXXX)
. ./lib.sh
trap 'stop_bucketdb; stop_postgres; rm -rf "$work"' EXIT
write_load_sql 10000 "$work/load.sql"
start_postgres
"$PGBIN/psql" -qX -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -f "$work/load.sql" >/dev/null
BIN=$OLD start_bucketdb old
old_port=$started_port
BIN=$NEW start_bucketdb new
new_port=$started_port
for p in "$old_port" "$new_port"; do
  "$PGBIN/psql" -qX -h 127.0.0.1 -p "$p" -U postgres -d bucketdb -f "$work/load.sql" >/dev/null
done
tps() { # port db clients
  "$PGBIN/pgbench" -n -M "$MODE" -h 127.0.0.1 -p "$1" -U postgres -f "$SCRIPT" -c "$3" \
    -j "$(($3 < 2 ? $3 : 2))" -T "$SECS" "$2" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1
}
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo "$SCRIPT -M $MODE, ${SECS}s per run, $(nproc) cores"
for c in $CLIENTS; do
  for round in 1 2; do
    o=$(tps "$old_port" bucketdb "$c")
    n=$(tps "$new_port" bucketdb "$c")
    p=$(tps "$pg_port" postgres "$c")
    echo "clients=$c round=$round old=$o new=$n postgres=$p new/old=$(ratio "$n" "$o") new/postgres=$(ratio "$n" "$p")"
  done
done

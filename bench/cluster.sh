#!/usr/bin/env bash
# Read consistency in a 3-node cluster: the same pgbench point-select script
# at `local` and at `linearizable`, against the leader and against a
# follower, side by side in one run; and upserts sent to the leader and to a
# follower (which forwards them). Prints tps, latency and ratios.
# Knobs: BENCH_SECONDS (default 10), BENCH_CLIENTS (default "1 16"),
# BENCH_ROWS (preloaded objects, 10000).
set -euo pipefail
cd "$(dirname "$0")"
BIN=${BUCKETDB_BIN:?set BUCKETDB_BIN to the bucketdb binary}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-"1 16"}
ROWS=${BENCH_ROWS:-10000}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGBENCH="$PGBIN/pgbench"
PSQL="$PGBIN/psql"

work=$(mktemp -d /tmp/bucketdb-cluster-bench.XXXXXX)
. ./lib.sh
cleanup() {
  stop_bucketdb
  rm -rf "$work"
}
trap cleanup EXIT

ports=("" "" "" "")
start_node() { # id extra-flags...
  local id=$1; shift
  start_bucketdb "n$id" --node-id "$id" "$@"
  ports[$id]=$started_port
}

start_node 1
p1=${ports[1]}
start_node 2 --join "127.0.0.1:$p1"
start_node 3 --join "127.0.0.1:$p1"
q() { "$PSQL" -qtAX -h 127.0.0.1 -p "$1" -U postgres -d bucketdb -c "$2"; }
leader_id=$(q "$p1" "SELECT leader_id FROM cluster_status()")
leader=${ports[$leader_id]}
follower=${ports[$(( leader_id % 3 + 1 ))]}

write_load_sql "$ROWS" "$work/load.sql"
"$PSQL" -qX -h 127.0.0.1 -p "$leader" -U postgres -d bucketdb -f "$work/load.sql" >/dev/null

run() { # port consistency script clients
  local out tps lat
  out=$(PGOPTIONS="-c consistency=$2" "$PGBENCH" -n -h 127.0.0.1 -p "$1" -U postgres -f "$3" \
    -c "$4" -j "$(( $4 < 2 ? $4 : 2 ))" -T "$SECONDS_PER_RUN" bucketdb 2>&1) || { echo "$out" >&2; return 1; }
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
  lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' | head -1)
  echo "$tps $lat"
}

echo "3-node cluster on one machine, ${SECONDS_PER_RUN}s per run, ${ROWS} objects, $(nproc) cores"
printf '%-10s %7s %12s %9s %12s %9s %9s\n' node clients local_tps local_ms lin_tps lin_ms lin/local
for c in $CLIENTS; do
  for role in leader follower; do
    port=$leader; [ "$role" = follower ] && port=$follower
    read -r ltps llat < <(run "$port" local point_select.sql "$c")
    read -r ztps zlat < <(run "$port" linearizable point_select.sql "$c")
    ratio=$(python3 -c "print(f'{$ztps / $ltps:.2f}')")
    printf '%-10s %7s %12s %9s %12s %9s %9s\n' "$role" "$c" "$ltps" "$llat" "$ztps" "$zlat" "$ratio"
  done
done
echo
printf '%-8s %7s %13s %10s %13s %10s %9s\n' script clients leader_tps leader_ms follower_tps follower_ms fol/lead
for c in $CLIENTS; do
  read -r atps alat < <(run "$leader" linearizable upsert.sql "$c")
  read -r btps blat < <(run "$follower" linearizable upsert.sql "$c")
  ratio=$(python3 -c "print(f'{$btps / $atps:.2f}')")
  printf '%-8s %7s %13s %10s %13s %10s %9s\n' upsert "$c" "$atps" "$alat" "$btps" "$blat" "$ratio"
done
echo "point reads: lin/local = linearizable tps / local tps; writes to a follower are forwarded to the leader"

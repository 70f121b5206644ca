#!/usr/bin/env bash
# Issue #18's figures, side by side in one run: the same pgbench scripts
# (`-M prepared`, as drivers send them) against a single bucketdb node, a
# 3-node cluster (through its leader) and a throwaway PostgreSQL (fsync on).
#   1. upserts into a BENCH_KEYS key space (default 100M, so nearly every
#      one inserts) at each of BENCH_CLIENTS: tps, p50 / p99 / max latency,
#      and bucketdb's CPU time per write (user+system of all its processes
#      over the run, divided by the writes); ratios cluster/single and
#      cluster/PostgreSQL;
#   2. point reads at 16 clients on the cluster's leader and on a follower,
#      `linearizable` against `local` (each twice, interleaved);
#   3. `join_select` (planned by DataFusion) at 16 clients against
#      PostgreSQL.
# Knobs: BENCH_SECONDS (per run, default 10), BENCH_CLIENTS (default
# "1 16 64"), BENCH_ROWS (objects preloaded for the reads, 10000),
# BENCH_KEYS.
set -euo pipefail
cd "$(dirname "$0")"
BIN=${BUCKETDB_BIN:?set BUCKETDB_BIN to the bucketdb binary}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-"1 16 64"}
ROWS=${BENCH_ROWS:-10000}
KEYS=${BENCH_KEYS:-100000000}

work=$(mktemp -d /tmp/bucketdb-replication-bench.XXXXXX)
. ./lib.sh
cleanup() {
  stop_bucketdb
  stop_postgres
  rm -rf "$work"
}
trap cleanup EXIT
start_postgres
PGBENCH="$PGBIN/pgbench"
PSQL="$PGBIN/psql"
sed "s/random(1, 10000)/random(1, $KEYS)/" upsert.sql >"$work/upsert.sql"

start_bucketdb single
single=$started_port
single_pids=("${bdb_pids[@]}")
start_bucketdb n1 --node-id 1
p1=$started_port
start_bucketdb n2 --node-id 2 --join "127.0.0.1:$p1"
p2=$started_port
start_bucketdb n3 --node-id 3 --join "127.0.0.1:$p1"
p3=$started_port
cluster_pids=("${bdb_pids[@]:1}")
q() { "$PSQL" -qtAX -h 127.0.0.1 -p "$1" -U postgres -d "${2:-bucketdb}" -c "$3"; }
leader_id=$(q "$p1" bucketdb "SELECT leader_id FROM cluster_status()")
ports=("" "$p1" "$p2" "$p3")
leader=${ports[$leader_id]}
follower=${ports[$(( leader_id % 3 + 1 ))]}

write_load_sql "$ROWS" "$work/load.sql"
for target in "$single bucketdb" "$leader bucketdb" "$pg_port postgres"; do
  read -r port db <<<"$target"
  "$PSQL" -qX -h 127.0.0.1 -p "$port" -U postgres -d "$db" -f "$work/load.sql" >/dev/null
done

# CPU ticks (user+system) of the given pids so far.
ticks() { local s=0 p; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$s"; }

# run PORT DB SCRIPT CLIENTS [PIDS...]: prints tps, p50, p99 and max latency
# (ms), and the pids' CPU ms per transaction ("-" without pids).
# PGOPTIONS passes the session's consistency.
run() {
  local port=$1 db=$2 script=$3 c=$4; shift 4
  local before out tx tps lat cpu=-
  rm -f "$work"/lat.*
  before=$(ticks "$@")
  out=$("$PGBENCH" -n -M prepared -h 127.0.0.1 -p "$port" -U postgres -f "$script" \
    -c "$c" -j "$(( c < 2 ? c : 2 ))" -T "$SECONDS_PER_RUN" --log --log-prefix="$work/lat" "$db" 2>&1) \
    || { echo "$out" >&2; return 1; }
  tx=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
  if [ $# -gt 0 ]; then
    cpu=$(python3 -c "print(f'{($(ticks "$@") - $before) * (1000 / $(getconf CLK_TCK)) / max($tx, 1):.3f}')")
  fi
  lat=$(cat "$work"/lat.* | awk '{print $3}' | sort -n | awk '{a[NR] = $1}
    END {printf "%.2f %.2f %.2f", a[int(NR * 0.5) + 1] / 1000, a[int(NR * 0.99) + 1] / 1000, a[NR] / 1000}')
  printf '%.0f %s %s\n' "$tps" "$lat" "$cpu"
}
ratio() { python3 -c "print(f'{$1 / max($2, 1):.2f}')"; }

echo "single node vs 3-node cluster vs PostgreSQL, -M prepared, ${SECONDS_PER_RUN}s per run, $(nproc) cores"
echo "upserts into $KEYS keys (tps, latency p50/p99/max ms, bucketdb CPU ms per write):"
printf '%-7s %-28s %-28s %-22s %8s %8s\n' clients single cluster postgresql clu/sgl clu/pg
for c in $CLIENTS; do
  read -r stps s50 s99 smax scpu < <(run "$single" bucketdb "$work/upsert.sql" "$c" "${single_pids[@]}")
  read -r ctps c50 c99 cmax ccpu < <(run "$leader" bucketdb "$work/upsert.sql" "$c" "${cluster_pids[@]}")
  read -r ptps p50 p99 pmax _ < <(run "$pg_port" postgres "$work/upsert.sql" "$c")
  printf '%-7s %-28s %-28s %-22s %8s %8s\n' "$c" \
    "$stps $s50/$s99/$smax $scpu" "$ctps $c50/$c99/$cmax $ccpu" "$ptps $p50/$p99/$pmax" \
    "$(ratio "$ctps" "$stps")" "$(ratio "$ctps" "$ptps")"
done

echo
# Each consistency runs twice, in the order local, linearizable,
# linearizable, local: a machine speeding up or slowing down over the four
# runs (the upserts' compactions ending) then weighs on both alike.
echo "point reads on the cluster, 16 clients (tps, the mean of two runs each):"
printf '%-9s %9s %14s %8s\n' node local linearizable lin/local
reads() { PGOPTIONS="-c consistency=$2" run "$1" bucketdb point_select.sql 16 | cut -d' ' -f1; }
for role in leader follower; do
  port=$leader; [ "$role" = follower ] && port=$follower
  l1=$(reads "$port" local); z1=$(reads "$port" linearizable)
  z2=$(reads "$port" linearizable); l2=$(reads "$port" local)
  ltps=$(( (l1 + l2) / 2 )); ztps=$(( (z1 + z2) / 2 ))
  printf '%-9s %9s %14s %8s\n' "$role" "$ltps" "$ztps" "$(ratio "$ztps" "$ltps")"
done

echo
read -r jb _ < <(run "$single" bucketdb join_select.sql 16)
read -r jp _ < <(run "$pg_port" postgres join_select.sql 16)
echo "join_select (DataFusion), single node, 16 clients: $jb tps, PostgreSQL $jp tps, ratio $(ratio "$jb" "$jp")"

#!/usr/bin/env bash
# Runs the same pgbench scripts against a fresh bucketdb and a throwaway
# local PostgreSQL (fsync on) in one run, and prints tps, latency and the
# bucketdb/PostgreSQL ratio. Knobs: BENCH_SECONDS (default 10),
# BENCH_CLIENTS (default "1 16"), BENCH_ROWS (preloaded objects, 10000).
set -euo pipefail
cd "$(dirname "$0")"
BIN=${BUCKETDB_BIN:?set BUCKETDB_BIN to the bucketdb binary}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-"1 16"}
ROWS=${BENCH_ROWS:-10000}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGBENCH="$PGBIN/pgbench"
PSQL="$PGBIN/psql"

work=$(mktemp -d /tmp/bucketdb-bench.XXXXXX)
. ./lib.sh
cleanup() {
  stop_bucketdb
  stop_postgres
  rm -rf "$work"
}
trap cleanup EXIT

# --- bucketdb ---------------------------------------------------------------
start_bucketdb bdb
bdb_port=$started_port

# --- PostgreSQL --------------------------------------------------------------
start_postgres

# --- same data in both ------------------------------------------------------
write_load_sql "$ROWS" "$work/load.sql"
"$PSQL" -qX -h 127.0.0.1 -p "$bdb_port" -U postgres -d bucketdb -f "$work/load.sql" >/dev/null
"$PSQL" -qX -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -f "$work/load.sql" >/dev/null

run() { # target port user db script clients
  local out
  out=$("$PGBENCH" -n -h 127.0.0.1 -p "$2" -U "$3" -f "$5" -c "$6" -j "$(( $6 < 2 ? $6 : 2 ))" -T "$SECONDS_PER_RUN" "$4" 2>&1) || { echo "$out" >&2; return 1; }
  local tps lat
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
  lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' | head -1)
  echo "$tps $lat"
}

echo "bucketdb vs PostgreSQL (fsync on), ${SECONDS_PER_RUN}s per run, ${ROWS} preloaded objects, $(nproc) cores"
printf '%-18s %7s %12s %10s %12s %10s %8s\n' script clients bdb_tps bdb_ms pg_tps pg_ms ratio
# *_df.sql ask the same as their namesakes through a subquery, which only
# DataFusion plans: the pairs compare the fast path with DataFusion.
for script in upsert.sql point_select.sql point_select_df.sql range_agg.sql range_agg_df.sql join_select.sql; do
  for c in $CLIENTS; do
    read -r btps blat < <(run bucketdb "$bdb_port" bench bucketdb "$script" "$c")
    read -r ptps plat < <(run postgres "$pg_port" postgres postgres "$script" "$c")
    ratio=$(python3 -c "print(f'{$btps / $ptps:.2f}')")
    printf '%-18s %7s %12s %10s %12s %10s %8s\n' "${script%.sql}" "$c" "$btps" "$blat" "$ptps" "$plat" "$ratio"
  done
done
echo "ratio = bucketdb tps / PostgreSQL tps (higher is better for bucketdb)"

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
chmod 755 "$work"
. ./lib.sh
cleanup() {
  stop_bucketdb
  if [ -f "$work/pg/postmaster.pid" ]; then runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- bucketdb ---------------------------------------------------------------
start_bucketdb bdb
bdb_port=$started_port

# --- PostgreSQL --------------------------------------------------------------
pg_port=$(free_port)
mkdir -p "$work/pg" "$work/pgsock"
chown postgres "$work/pg" "$work/pgsock"
runuser -u postgres -- "$PGBIN/initdb" -D "$work/pg" --auth=trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pgsock/pg.log" -w \
  -o "-p $pg_port -k $work/pgsock -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on" start >/dev/null
"$PSQL" -qX -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -f pg_schema.sql >/dev/null

# --- same data in both ------------------------------------------------------
python3 - "$ROWS" >"$work/load.sql" <<'PY'
import sys
n = int(sys.argv[1])
print("INSERT INTO buckets (name, owner) VALUES ('bench', 'bench');")
for start in range(1, n + 1, 500):
    rows = ",".join(f"('bench','obj-{i}',{i},'etag-{i}')" for i in range(start, min(start + 500, n + 1)))
    print(f"INSERT INTO objects (bucket, key, size, etag) VALUES {rows};")
PY
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

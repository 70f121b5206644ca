#!/usr/bin/env bash
# Listing cost as the bucket grows: buckets of 10k, 100k and 1M objects
# spread under 100 top-level prefixes ("p00/" … "p99/"), and the same three
# list_objects pages against each, timed with pgbench in one run:
#   root/    — delimiter '/' at the root: 100 common prefixes, each a seek
#              past up to 10,000 objects;
#   page1000 — the first 1000 keys, no delimiter;
#   deep1000 — delimiter '/' under one prefix whose 10-object folders fold
#              into up to 1000 common prefixes (1000 only in the 1M bucket).
# Flat tps across sizes means the cost follows the page, not the bucket.
# Knobs: BENCH_SECONDS (default 5), BENCH_LIST_SIZES ("10000 100000 1000000").
set -euo pipefail
cd "$(dirname "$0")"
BIN=${BUCKETDB_BIN:?set BUCKETDB_BIN to the bucketdb binary}
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
SIZES=${BENCH_LIST_SIZES:-"10000 100000 1000000"}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

work=$(mktemp -d /tmp/bucketdb-list-bench.XXXXXX)
. ./lib.sh
cleanup() { stop_bucketdb; rm -rf "$work"; }
trap cleanup EXIT

start_bucketdb bdb
port=$started_port
psql() { "$PGBIN/psql" -qtAX -h 127.0.0.1 -p "$port" -U postgres -d bucketdb "$@"; }

for n in $SIZES; do
  started=$(date +%s.%N)
  python3 - "$n" >"$work/load-$n.sql" <<'PY'
import sys
n = int(sys.argv[1])
b = f"list{n}"
print(f"INSERT INTO buckets (name) VALUES ('{b}');")
for start in range(0, n, 1000):
    rows = ",".join(
        f"('{b}','p{i % 100:02d}/d{i // 1000:05d}/f{i:07d}',{i % 4096})"
        for i in range(start, min(start + 1000, n)))
    print(f"INSERT INTO objects (bucket, key, size) VALUES {rows};")
PY
  psql -f "$work/load-$n.sql" >/dev/null
  echo "loaded $n objects in $(python3 -c "import time; print(f'{time.time() - $started:.1f}')") s"
done

run() { # script-file
  "$PGBIN/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -f "$1" -c 1 -j 1 -T "$SECONDS_PER_RUN" bucketdb 2>&1 \
    | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1
}

echo "list_objects on one node, ${SECONDS_PER_RUN}s per run, 1 client, $(nproc) cores"
printf '%-10s %10s %8s %10s\n' page objects rows tps
for page in root page1000 deep1000; do
  for n in $SIZES; do
    case $page in
      root) args="'list$n', delimiter => '/'" ;;
      page1000) args="'list$n', max_keys => 1000" ;;
      deep1000) args="'list$n', prefix => 'p42/', delimiter => '/', max_keys => 1000" ;;
    esac
    echo "SELECT count(*) FROM list_objects($args);" >"$work/q.sql"
    rows=$(psql -f "$work/q.sql")
    printf '%-10s %10s %8s %10s\n' "$page" "$n" "$rows" "$(run "$work/q.sql")"
  done
done

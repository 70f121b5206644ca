# Sourced by the bench scripts: starts bucketdb nodes and stops them.
# The caller sets BIN (the binary) and work (a scratch directory).

bdb_pids=()

# start_bucketdb NAME [FLAGS...]: a node with its data in $work/NAME and
# ephemeral ports; waits until it is ready and leaves its SQL port in
# started_port. Runs in the caller's shell (not in $(…)), so that
# stop_bucketdb sees every pid.
start_bucketdb() {
  local name=$1; shift
  "$BIN" --data-dir "$work/$name" --sql-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 \
    --raft-addr 127.0.0.1:0 --log warn "$@" >"$work/$name.out" 2>"$work/$name.err" &
  bdb_pids+=($!)
  for _ in $(seq 1 600); do grep -q '^bucketdb ready' "$work/$name.out" 2>/dev/null && break; sleep 0.1; done
  started_port=$(sed -n 's/^bucketdb ready sql=127.0.0.1:\([0-9]*\).*/\1/p' "$work/$name.out")
  [ -n "$started_port" ] || { echo "bucketdb $name did not start" >&2; cat "$work/$name.err" >&2; exit 1; }
}

stop_bucketdb() {
  for p in "${bdb_pids[@]}"; do kill "$p" 2>/dev/null || true; done
}

# start_postgres: a throwaway PostgreSQL (fsync on, trust auth) with its
# data in $work/pg, on 127.0.0.1; leaves its port in pg_port and its bin
# directory in PGBIN. stop_postgres stops it.
start_postgres() {
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  chmod 755 "$work"
  mkdir -p "$work/pg" "$work/pgsock"
  chown postgres "$work/pg" "$work/pgsock"
  runuser -u postgres -- "$PGBIN/initdb" -D "$work/pg" --auth=trust -U postgres >/dev/null
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pgsock/pg.log" -w \
    -o "-p $pg_port -k $work/pgsock -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on" start >/dev/null
  "$PGBIN/psql" -qX -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -f pg_schema.sql >/dev/null
}

stop_postgres() {
  if [ -f "$work/pg/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
}

# write_load_sql ROWS FILE: SQL that creates bucket 'bench' and ROWS
# objects obj-1 … obj-ROWS in it, 500 to a statement.
write_load_sql() {
  python3 - "$1" >"$2" <<'PY'
import sys
n = int(sys.argv[1])
print("INSERT INTO buckets (name, owner) VALUES ('bench', 'bench');")
for start in range(1, n + 1, 500):
    rows = ",".join(f"('bench','obj-{i}',{i},'etag-{i}')" for i in range(start, min(start + 500, n + 1)))
    print(f"INSERT INTO objects (bucket, key, size, etag) VALUES {rows};")
PY
}

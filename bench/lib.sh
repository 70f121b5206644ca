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

#!/usr/bin/env bash
# Installs the system packages a make target needs, only when missing.
#   build: libclang (RocksDB's bindgen) and a C++ compiler
#   test:  psql, Python psycopg 3 and asyncpg (the integration tests drive the server with them)
#   bench: PostgreSQL server and pgbench (the side-by-side baseline)
set -euo pipefail

need=()
want() { dpkg -s "$1" >/dev/null 2>&1 || need+=("$1"); }

for what in "$@"; do
  case "$what" in
    build) want libclang-dev; want g++; want make ;;
    test)  want postgresql-client ;;
    bench) want postgresql; want postgresql-client ;;
    *) echo "install-deps: unknown group $what" >&2; exit 2 ;;
  esac
done

if ((${#need[@]})); then
  echo "install-deps: installing ${need[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Python drivers the tests use, from PyPI.
for what in "$@"; do
  if [ "$what" = test ] && ! python3 -c 'import psycopg, asyncpg' >/dev/null 2>&1; then
    echo "install-deps: installing psycopg and asyncpg"
    python3 -m pip install --quiet 'psycopg[binary]>=3.1' 'asyncpg>=0.29'
  fi
done
if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo (Rust toolchain) is required" >&2
  exit 1
fi

#!/usr/bin/env bash
# Installs what a make target needs, only when missing.
#   build: libclang (RocksDB's bindgen) and a C++ compiler
#   test:  psql, Python psycopg 3, asyncpg and SQLAlchemy, node-postgres and
#          Sequelize, pgjdbc and EclipseLink's JPA (the integration tests drive
#          the server with them)
#   bench: PostgreSQL server and pgbench (the side-by-side baseline)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

need=()
want() { dpkg -s "$1" >/dev/null 2>&1 || need+=("$1"); }

for what in "$@"; do
  case "$what" in
    build) want libclang-dev; want g++; want make ;;
    test)
      want postgresql-client
      want libpostgresql-jdbc-java
      want libeclipselink-java
      command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
      command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
      command -v pip3 >/dev/null 2>&1 || python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
      ;;
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

for what in "$@"; do
  [ "$what" = test ] || continue
  if ! python3 -c 'import psycopg, asyncpg, sqlalchemy' >/dev/null 2>&1; then
    echo "install-deps: installing psycopg, asyncpg and SQLAlchemy"
    python3 -m pip install --quiet 'psycopg[binary]>=3.1' 'asyncpg>=0.29' 'sqlalchemy>=2.0'
  fi
  if [ ! -d "$root/tests/node/node_modules/pg" ] || [ ! -d "$root/tests/node/node_modules/sequelize" ]; then
    echo "install-deps: installing node-postgres and Sequelize"
    (cd "$root/tests/node" && npm install --silent --no-audit --no-fund --no-package-lock)
  fi
done

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo (Rust toolchain) is required" >&2
  exit 1
fi

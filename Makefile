# bucketdb: the two commands are `make run` and `make test`.
#
# Build output lives outside the checkout so that it survives fresh clones
# (CI clones anew every run; a cold dependency build takes ~15 minutes).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/bucketdb/target
DATA_DIR ?= ./bucketdb-data
RELEASE_BIN := $(CARGO_TARGET_DIR)/release/bucketdb
DEBUG_BIN := $(CARGO_TARGET_DIR)/debug/bucketdb

.PHONY: run test bench build lint fmt clean-data

## Build (release) and start a single-node server on 127.0.0.1:5433.
run:
	scripts/install-deps.sh build
	cargo build --release -p bucketdb-server
	$(RELEASE_BIN) --data-dir $(DATA_DIR)

## Install what the tests need and run the whole suite (debug build).
test:
	scripts/install-deps.sh build test
	# Always the whole workspace: building a subset resolves features
	# differently and would rebuild RocksDB's C++.
	cargo build --workspace --all-targets
	BUCKETDB_BIN=$(DEBUG_BIN) cargo test --workspace -- --test-threads=2

## pgbench side by side: bucketdb (release) against a throwaway PostgreSQL.
bench:
	scripts/install-deps.sh build bench
	cargo build --release -p bucketdb-server
	BUCKETDB_BIN=$(RELEASE_BIN) bench/run.sh
	BUCKETDB_BIN=$(RELEASE_BIN) bench/listing.sh
	BUCKETDB_BIN=$(RELEASE_BIN) bench/cluster.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

clean-data:
	rm -rf $(DATA_DIR)

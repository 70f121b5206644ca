# bucketdb: the two commands are `make run` and `make test`.
#
# Build output lives outside the checkout so that it survives fresh clones
# (CI clones anew every run; a cold dependency build takes ~15 minutes).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/bucketdb/target
DATA_DIR ?= ./bucketdb-data
RELEASE_BIN := $(CARGO_TARGET_DIR)/release/bucketdb
DEBUG_BIN := $(CARGO_TARGET_DIR)/debug/bucketdb

.PHONY: run test fuzz bench build lint fmt clean-data

# Inputs per fuzz target (proptest): bounded in `make test`, more in `make fuzz`.
PROPTEST_CASES ?= 1000
FUZZ_CASES ?= 50000

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
	BUCKETDB_BIN=$(DEBUG_BIN) PROPTEST_CASES=$(PROPTEST_CASES) cargo test --workspace -- --test-threads=2

## The fuzz targets only, with many more inputs each (FUZZ_CASES).
fuzz:
	scripts/install-deps.sh build test
	cargo build --workspace --all-targets
	BUCKETDB_BIN=$(DEBUG_BIN) PROPTEST_CASES=$(FUZZ_CASES) cargo test --workspace -- --test-threads=2 fuzz

## pgbench side by side: bucketdb (release) against a throwaway PostgreSQL.
bench:
	scripts/install-deps.sh build bench
	cargo build --release -p bucketdb-server
	BUCKETDB_BIN=$(RELEASE_BIN) bench/run.sh
	BUCKETDB_BIN=$(RELEASE_BIN) bench/listing.sh
	BUCKETDB_BIN=$(RELEASE_BIN) bench/cluster.sh
	BUCKETDB_BIN=$(RELEASE_BIN) bench/backup.sh
	BUCKETDB_BIN=$(RELEASE_BIN) bench/replication.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

clean-data:
	rm -rf $(DATA_DIR)

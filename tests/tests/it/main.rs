//! The integration tests, one module per concern, linked into one test
//! binary: each test binary links all of bucketdb and DataFusion (about
//! 1 GB with debug info), so one binary instead of one per file saves most
//! of the suite's link time and disk.
//!
//! Run one module with `cargo test --test it analytic::`.

mod analytic;
mod auth;
mod backup;
mod cancel;
mod catchup;
mod check;
mod cluster;
mod conditional;
mod copy;
mod crash;
mod disk_full;
mod drivers;
mod dump;
mod errors;
mod fuzz;
mod limits;
mod linearizability;
mod listing;
mod malformed;
mod multipart;
mod node_security;
mod params;
mod partition;
mod psql;
mod slt;
mod snapshots;
mod sql;
mod transactions;
mod types;
mod versioning;

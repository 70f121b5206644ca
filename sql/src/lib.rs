//! bucketdb's SQL layer: the fixed catalog of built-in tables, parsing
//! (sqlparser, PostgreSQL dialect), binding, planning writes into KV
//! batches, reads with key-range access paths (and DataFusion for the rest),
//! session settings, and the system and cluster functions.
//!
//! The modules are layers; a module uses only the layers below it (and
//! siblings on its own layer where said), never one above:
//!
//! | layer | modules | owns |
//! | --- | --- | --- |
//! | 7 | `engine` | parse and prepare, the one dispatch over statement kinds, output, read barriers, the autocommit retry loop, explicit transactions, COPY streaming |
//! | 6 | `fastpath`, `datafusion` | running bucketdb's plans (reads; writes built into KV batches) · DataFusion's plans over the same scans; siblings that do not import each other |
//! | 5 | `plan` | bucketdb's planner: statements into plans with parameter types and result columns |
//! | 4 | `txn`, `copy` | a transaction's snapshot, writes and read set · COPY formats and the state of a COPY receiving data |
//! | 3 | `functions`, `auth` | table functions (listing, versions, cluster state), admin functions, their catalog signatures · roles, privileges, what a statement needs, role statements, SCRAM; `auth` reads `functions` to know which calls are administration |
//! | 2 | `scan` | row sources, access paths and walking them, the versions stream: how both planners find rows |
//! | 1 | `expr`, `bind` | bound expressions, their evaluation, aggregates, defaults · binding parsed expressions to them |
//! | 0 | `error`, `value`, `interval`, `jsonb`, `runtime`, `settings`, `catalog`, `parse` | SQLSTATE-typed errors, types and values (intervals and jsonb's normal form on their own), interrupt/clock/blocking/row streams, session settings, the built-in tables and their keys, parsing (with PostgreSQL's role forms rewritten) |
//!
//! A write goes pgwire → `engine::dispatch` → `engine::write` (barrier,
//! retry) → `fastpath::build_write` (KV batch with preconditions) →
//! `RaftNode::propose` (consensus) → the state machine's apply (storage).

mod auth;
mod bind;
mod catalog;
mod copy;
mod datafusion;
mod engine;
mod error;
mod expr;
mod fastpath;
mod functions;
mod interval;
mod jsonb;
mod parse;
mod plan;
mod runtime;
mod scan;
mod settings;
mod txn;
mod value;

pub use auth::{scram, Role, BOOTSTRAP_SUPERUSER};
pub use datafusion::QueryMemory;
pub use engine::{Engine, Output, Prepared, Session};
pub use error::{SqlError, SqlResult, SqlState};
pub use interval::Interval;
pub use runtime::Interrupt;
pub use settings::{version_string, Settings, SERVER_VERSION};
pub use value::{Element, OutColumn, SqlType, Value};

/// The layer rule of this crate's doc comment, checked on the source: a
/// top-level module imports (`crate::name`) only modules on lower layers,
/// or siblings its row of the table allows.
#[cfg(test)]
mod layers {
    use std::path::Path;

    /// Modules by layer, bottom first, as the table above lists them.
    const LAYERS: &[&[&str]] = &[
        &[
            "error", "value", "interval", "jsonb", "runtime", "settings", "catalog", "parse",
        ],
        &["expr", "bind"],
        &["scan"],
        &["functions", "auth"],
        &["txn", "copy"],
        &["plan"],
        &["fastpath", "datafusion"],
        &["engine"],
    ];

    /// Imports within a layer that the table allows (importer, imported).
    const SIDEWAYS: &[(&str, &str)] = &[
        ("value", "error"),
        ("value", "interval"),
        ("value", "jsonb"),
        ("jsonb", "error"),
        ("runtime", "error"),
        ("runtime", "value"),
        ("settings", "error"),
        ("catalog", "error"),
        ("catalog", "value"),
        ("bind", "expr"),
        ("parse", "error"),
        ("auth", "functions"),
    ];

    fn layer(module: &str) -> usize {
        LAYERS
            .iter()
            .position(|l| l.contains(&module))
            .unwrap_or_else(|| panic!("module {module} is on no layer of lib.rs"))
    }

    /// The top-level modules a file names as `crate::module`.
    fn imports(source: &str) -> Vec<String> {
        let mut out = vec![];
        let mut rest = source;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
        out
    }

    fn visit(dir: &Path, module: &str, found: &mut Vec<(String, String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                visit(&path, module, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).unwrap();
                for imported in imports(&source) {
                    found.push((module.to_string(), imported, path.display().to_string()));
                }
            }
        }
    }

    #[test]
    fn imports_go_down_the_layers_only() {
        // Named at run time: a reused build may come from another checkout.
        let dir = std::env::var_os("CARGO_MANIFEST_DIR");
        let src = Path::new(
            dir.as_deref()
                .unwrap_or(env!("CARGO_MANIFEST_DIR").as_ref()),
        )
        .join("src");
        let mut found = vec![];
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if name == "lib" {
                continue;
            }
            if path.is_dir() {
                visit(&path, &name, &mut found);
            } else {
                let source = std::fs::read_to_string(&path).unwrap();
                for imported in imports(&source) {
                    found.push((name.clone(), imported, path.display().to_string()));
                }
            }
        }
        assert!(found.len() > 50, "the scan found too few imports");
        let mut wrong = vec![];
        for (module, imported, file) in found {
            if module == imported {
                continue;
            }
            let (from, to) = (layer(&module), layer(&imported));
            let sideways = from == to && SIDEWAYS.contains(&(module.as_str(), imported.as_str()));
            if to > from || (to == from && !sideways) {
                wrong.push(format!(
                    "{file}: {module} (layer {from}) imports {imported} (layer {to})"
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "imports against the layers:\n{}",
            wrong.join("\n")
        );
    }
}

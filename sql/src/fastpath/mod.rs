//! Running the plans of bucketdb's own planner on a [`RowSource`]: reads
//! ([`select`], streamed by [`stream`], table functions by
//! [`table_fn`]), and writes turned into the KV batch Raft replicates
//! ([`insert`], [`update`], [`delete`], COPY's [`copy`]). Nothing here
//! proposes, waits for a barrier or touches a session: the engine does,
//! around these.
//!
//! A write is built on the current state: every row it read is guarded by
//! a precondition (the revision it saw, or its absence), so if the state
//! changes before the batch applies, the state machine refuses it and the
//! engine builds it again.

mod copy;
mod delete;
mod insert;
mod join;
mod restore;
mod select;
mod stream;
mod table_fn;
mod update;

pub use copy::build_copy_batch;
pub use select::{reads_data, select_rows, streams, Input};
pub use stream::stream_select;
pub use table_fn::function_rows;

use std::ops::ControlFlow;

use bucketdb_storage::{KvBatch, KvOp, StoredRow};

use crate::catalog::{Catalog, Table, TableId};
use crate::error::{SqlError, SqlResult};
use crate::expr::{passes, EvalEnv, Expr};
use crate::plan::{Plan, Projection};
use crate::scan::{Access, RowSource};
use crate::value::Value;

/// A write statement built into its batch.
#[derive(Debug)]
pub struct Built {
    pub batch: KvBatch,
    /// The RETURNING rows (none without RETURNING).
    pub returned: Vec<Vec<Value>>,
    /// Rows the statement affects, for its command tag.
    pub count: u64,
    /// The tag's words before the count (`INSERT 0`, `UPDATE`, `DELETE`).
    pub command: &'static str,
    /// The table written, to name it in errors.
    pub table: TableId,
}

/// Builds an INSERT, UPDATE or DELETE plan on `view` into its batch.
pub fn build_write(
    catalog: &Catalog,
    plan: &Plan,
    view: &dyn RowSource,
    env: &EvalEnv,
) -> SqlResult<Built> {
    match plan {
        Plan::Insert(ins) => insert::build_insert(catalog, ins, view, env),
        Plan::Update(up) => update::build_update(catalog, up, view, env),
        Plan::Delete(del) => delete::build_delete(catalog, del, view, env),
        _ => Err(SqlError::internal("not a write")),
    }
}

/// The put of a row whose values are coerced to their columns' types.
fn put(key: Vec<u8>, row: &[Value]) -> KvOp {
    KvOp::Put {
        key,
        columns: row.iter().map(Value::to_datum).collect(),
    }
}

/// Adds `row`'s RETURNING values, if the statement has RETURNING.
fn returning(
    r: &Option<Projection>,
    row: &[Value],
    env: &EvalEnv,
    out: &mut Vec<Vec<Value>>,
) -> SqlResult<()> {
    if let Some(p) = r {
        out.push(select::project(p, row, &[], env)?);
    }
    Ok(())
}

/// Rows matching an access path and filter, stored and as values.
fn matching(
    table: &Table,
    access: &Access,
    filter: &Option<Expr>,
    view: &dyn RowSource,
    env: &EvalEnv,
) -> SqlResult<Vec<(StoredRow, Vec<Value>)>> {
    let mut out = vec![];
    access.scan(table, view, env, &mut |stored| {
        let row = table.values(&stored);
        if passes(filter, &row, env)? {
            out.push((stored, row));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(out)
}

/// Building writes from a given state, for the tests of each statement.
#[cfg(test)]
mod testing {
    use bucketdb_storage::{keys, Datum, Expect, KvOp, Precondition, Violation};
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    use super::{build_write, Built};
    use crate::catalog::Catalog;
    use crate::error::SqlResult;
    use crate::expr::EvalEnv;
    use crate::plan::{self, Plan};
    use crate::runtime::Interrupt;
    use crate::scan::{MemRows, RowSource};
    use crate::settings::Settings;

    /// The statement's timestamp in these tests.
    pub const NOW: i64 = 1_000_000;

    pub fn plan_of(catalog: &Catalog, sql: &str) -> Plan {
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        plan::plan(catalog, &stmt, &[]).unwrap().plan
    }

    /// Runs `f` with an environment evaluating at [`NOW`].
    pub fn with_env<T>(f: impl FnOnce(&EvalEnv) -> T) -> T {
        let settings = Settings::new("u", "d");
        let interrupt = Interrupt::default();
        f(&EvalEnv {
            params: &[],
            now: NOW,
            settings: &settings,
            interrupt: &interrupt,
        })
    }

    /// Builds `sql` on `state`.
    pub fn build(sql: &str, state: &dyn RowSource) -> SqlResult<Built> {
        let catalog = Catalog::new();
        let plan = plan_of(&catalog, sql);
        with_env(|env| build_write(&catalog, &plan, state, env))
    }

    fn text(s: &str) -> Datum {
        Datum::Text(s.into())
    }

    /// A `buckets` row as INSERT makes it.
    pub fn bucket_row(name: &str) -> Vec<Datum> {
        vec![
            text(name),
            Datum::Null,
            text("default"),
            text("disabled"),
            Datum::Timestamp(NOW),
            Datum::Null,
        ]
    }

    /// An `objects` row as INSERT makes it.
    pub fn object_row(bucket: &str, key: &str, size: i64) -> Vec<Datum> {
        vec![
            text(bucket),
            text(key),
            text("null"),
            Datum::Int(size),
            Datum::Null,
            Datum::Null,
            text("STANDARD"),
            Datum::Timestamp(NOW),
            Datum::Null,
            Datum::Null,
        ]
    }

    /// A state holding bucket `b` (revision 1) and the given objects of
    /// it, each `(key, size, revision)`.
    pub fn state(objects: &[(&str, i64, u64)]) -> MemRows {
        let mut s = MemRows::default();
        s.put(keys::bucket("b"), 1, bucket_row("b"));
        for (key, size, revision) in objects {
            s.put(
                keys::object("b", key),
                *revision,
                object_row("b", key, *size),
            );
        }
        s
    }

    pub fn absent(key: Vec<u8>, violation: Violation) -> Precondition {
        Precondition {
            key,
            expect: Expect::Absent,
            violation,
        }
    }

    pub fn at_revision(key: Vec<u8>, revision: u64) -> Precondition {
        Precondition {
            key,
            expect: Expect::Revision(revision),
            violation: Violation::Conflict,
        }
    }

    pub fn put(key: Vec<u8>, columns: Vec<Datum>) -> KvOp {
        KvOp::Put { key, columns }
    }
}

#[cfg(test)]
mod work_tests {
    //! Which plans run in place (see [`crate::runtime::Work`]).

    use super::testing::plan_of;
    use crate::catalog::Catalog;
    use crate::plan::Plan;
    use crate::runtime::Work;
    use crate::scan::MAX_SHORT_GETS;

    #[test]
    fn only_a_few_point_gets_are_short_work() {
        let catalog = Catalog::new();
        let work = |sql: &str| match plan_of(&catalog, sql) {
            Plan::Select(s) => s.work(),
            write => write.write_work(),
        };
        let in_list = |n: usize| {
            (0..n)
                .map(|i| format!("'k{i}'"))
                .collect::<Vec<_>>()
                .join(",")
        };
        for sql in [
            "SELECT * FROM buckets WHERE name = 'a'",
            "SELECT size FROM objects WHERE bucket = 'b' AND key = $1",
            "SELECT o.size, b.owner FROM objects o JOIN buckets b ON b.name = o.bucket \
             WHERE o.bucket = 'b' AND o.key = 'k'",
            &format!(
                "SELECT * FROM objects WHERE bucket = 'b' AND key IN ({})",
                in_list(MAX_SHORT_GETS)
            ),
            "INSERT INTO objects (bucket, key, size) VALUES ('b', 'k', 1) \
             ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size",
            "UPDATE objects SET size = 2 WHERE bucket = 'b' AND key = 'k'",
            "DELETE FROM buckets WHERE name = 'a'",
        ] {
            assert_eq!(work(sql), Work::Short, "{sql}");
        }
        for sql in [
            "SELECT * FROM buckets",
            "SELECT count(*) FROM objects WHERE bucket = 'b'",
            "SELECT * FROM objects WHERE bucket = 'b' AND key > 'k'",
            &format!(
                "SELECT * FROM objects WHERE bucket = 'b' AND key IN ({})",
                in_list(MAX_SHORT_GETS + 1)
            ),
            "SELECT * FROM object_versions WHERE bucket = 'b' AND key = 'k'",
            "SELECT * FROM multipart_parts WHERE bucket = 'b' AND upload_id = 'u'",
            "INSERT INTO buckets (name) SELECT name || '2' FROM buckets",
            "UPDATE objects SET size = 2 WHERE bucket = 'b'",
            "DELETE FROM objects WHERE size > 1",
        ] {
            assert_eq!(work(sql), Work::MayScan, "{sql}");
        }
    }
}

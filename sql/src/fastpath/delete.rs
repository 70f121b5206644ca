//! DELETE into a KV batch: every matched row guarded by the revision seen.
//! A version of `object_versions` is checked where it is stored and named
//! to the state machine by its version key.

use bucketdb_storage::{Expect, KvBatch, KvOp, Precondition, Violation};

use super::{matching, returning, Built};
use crate::catalog::{Catalog, TableId};
use crate::error::SqlResult;
use crate::expr::EvalEnv;
use crate::plan::DeletePlan;
use crate::scan::versions::Located;
use crate::scan::RowSource;

pub(super) fn build_delete(
    catalog: &Catalog,
    del: &DeletePlan,
    view: &dyn RowSource,
    env: &EvalEnv,
) -> SqlResult<Built> {
    let table = catalog.get(del.table);
    let mut batch = KvBatch::default();
    let mut returned = vec![];
    let matches = matching(table, &del.access, &del.filter, view, env)?;
    let n = matches.len() as u64;
    for (stored, row) in matches {
        let (stored_at, key) = match table.id {
            TableId::Versions => {
                let at = Located::of(&stored)?;
                (at.stored_key(), at.version_key())
            }
            _ => {
                let key = table.row_key(&row)?;
                (key.clone(), key)
            }
        };
        batch.preconditions.push(Precondition {
            key: stored_at,
            expect: Expect::Revision(stored.revision),
            violation: Violation::Conflict,
        });
        returning(&del.returning, &row, env, &mut returned)?;
        batch.ops.push(KvOp::Delete { key });
    }
    Ok(Built {
        batch,
        returned,
        count: n,
        command: "DELETE",
        table: del.table,
    })
}

#[cfg(test)]
mod tests {
    use bucketdb_storage::{keys, KvOp};

    use super::super::testing::{at_revision, build, state};

    #[test]
    fn every_deleted_row_is_guarded_by_the_revision_seen() {
        let b = build(
            "DELETE FROM objects WHERE bucket = 'b' AND key LIKE 'p/%'",
            &state(&[("p/1", 1, 4), ("p/2", 1, 5), ("q", 1, 6)]),
        )
        .unwrap();
        let (p1, p2) = (keys::object("b", "p/1"), keys::object("b", "p/2"));
        assert_eq!(
            b.batch.preconditions,
            [at_revision(p1.clone(), 4), at_revision(p2.clone(), 5)]
        );
        assert_eq!(
            b.batch.ops,
            [KvOp::Delete { key: p1 }, KvOp::Delete { key: p2 }]
        );
        assert_eq!((b.count, b.command), (2, "DELETE"));
    }
}

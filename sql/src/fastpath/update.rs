//! UPDATE into a KV batch: every matched row guarded by the revision seen;
//! a row whose key changes moves (delete the old key, put the new one,
//! which must be free).

use std::collections::HashSet;

use bucketdb_storage::{Expect, KvBatch, KvOp, Precondition, Violation};

use super::{matching, put, returning, Built};
use crate::catalog::{duplicate_key, Catalog};
use crate::error::SqlResult;
use crate::expr::EvalEnv;
use crate::plan::UpdatePlan;
use crate::scan::RowSource;

pub(super) fn build_update(
    catalog: &Catalog,
    up: &UpdatePlan,
    view: &dyn RowSource,
    env: &EvalEnv,
) -> SqlResult<Built> {
    let table = catalog.get(up.table);
    let mut batch = KvBatch::default();
    let mut returned = vec![];
    let mut written = HashSet::new();
    let matches = matching(table, &up.access, &up.filter, view, env)?;
    let n = matches.len() as u64;
    let old_keys: HashSet<Vec<u8>> = matches
        .iter()
        .map(|(_, row)| table.row_key(row))
        .collect::<SqlResult<_>>()?;
    for (stored, old) in matches {
        let mut new = old.clone();
        for (col, e) in &up.assignments {
            new[*col] = e.eval(&old, &[], env)?;
        }
        table.check_row(&new)?;
        let old_key = table.row_key(&old)?;
        let new_key = table.row_key(&new)?;
        batch.preconditions.push(Precondition {
            key: old_key.clone(),
            expect: Expect::Revision(stored.revision),
            violation: Violation::Conflict,
        });
        if new_key != old_key {
            if !old_keys.contains(&new_key) {
                batch.preconditions.push(Precondition {
                    key: new_key.clone(),
                    expect: Expect::Absent,
                    violation: Violation::UniqueViolation,
                });
            }
            if !written.contains(&old_key) {
                batch.ops.push(KvOp::Delete { key: old_key });
            }
        }
        if !written.insert(new_key.clone()) {
            return Err(duplicate_key(table, &new_key));
        }
        returning(&up.returning, &new, env, &mut returned)?;
        batch.ops.push(put(new_key, &new));
    }
    Ok(Built {
        batch,
        returned,
        count: n,
        command: "UPDATE",
        table: up.table,
    })
}

#[cfg(test)]
mod tests {
    use bucketdb_storage::{keys, KvOp, Violation};

    use super::super::testing::{absent, at_revision, build, object_row, put, state};
    use crate::error::SqlState;

    #[test]
    fn every_matched_row_is_guarded_by_the_revision_seen() {
        let b = build(
            "UPDATE objects SET size = size * 2 WHERE bucket = 'b' AND size > 1",
            &state(&[("a", 1, 2), ("c", 4, 3), ("d", 5, 6)]),
        )
        .unwrap();
        let (c, d) = (keys::object("b", "c"), keys::object("b", "d"));
        assert_eq!(
            b.batch.preconditions,
            [at_revision(c.clone(), 3), at_revision(d.clone(), 6)]
        );
        assert_eq!(
            b.batch.ops,
            [
                put(c, object_row("b", "c", 8)),
                put(d, object_row("b", "d", 10))
            ]
        );
        assert_eq!((b.count, b.command), (2, "UPDATE"));
    }

    #[test]
    fn a_changed_key_moves_the_row_to_a_free_key() {
        let b = build(
            "UPDATE objects SET key = 'z' WHERE bucket = 'b' AND key = 'a'",
            &state(&[("a", 1, 2)]),
        )
        .unwrap();
        let (a, z) = (keys::object("b", "a"), keys::object("b", "z"));
        assert_eq!(
            b.batch.preconditions,
            [
                at_revision(a.clone(), 2),
                absent(z.clone(), Violation::UniqueViolation)
            ]
        );
        assert_eq!(
            b.batch.ops,
            [KvOp::Delete { key: a }, put(z, object_row("b", "z", 1))]
        );
        let e = build(
            "UPDATE objects SET key = 'same' WHERE bucket = 'b'",
            &state(&[("a", 1, 2), ("c", 1, 3)]),
        )
        .unwrap_err();
        assert_eq!(e.state, SqlState::UniqueViolation);
    }

    #[test]
    fn no_match_builds_an_empty_batch() {
        let b = build(
            "UPDATE objects SET size = 0 WHERE bucket = 'b' AND key = 'gone'",
            &state(&[("a", 1, 2)]),
        )
        .unwrap();
        assert!(b.batch.is_empty());
        assert_eq!(b.count, 0);
    }
}

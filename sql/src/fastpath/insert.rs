//! INSERT into a KV batch: each new row guarded by its key's absence, an
//! existing one handled as ON CONFLICT says (nothing, or an update guarded
//! by the revision seen).

use std::collections::HashSet;

use bucketdb_storage::{Expect, KvBatch, Precondition, Violation};

use super::select::{select_rows, Input};
use super::{put, returning, Built};
use crate::catalog::{duplicate_key, Catalog, Table};
use crate::error::{SqlError, SqlResult};
use crate::expr::{default_expr, passes, EvalEnv, Expr};
use crate::plan::{InsertPlan, OnConflict};
use crate::scan::RowSource;
use crate::value::Value;

/// A new row of `table` from one value per column (`None`: the column's
/// default), coerced to the columns' types and checked against the
/// table's rules. INSERT and COPY make their rows here.
pub(super) fn new_row(
    table: &Table,
    value: impl FnMut(usize) -> SqlResult<Option<Value>>,
    env: &EvalEnv,
) -> SqlResult<Vec<Value>> {
    let row = filled_row(table, value, env)?;
    table.check_assigned(&row)?;
    Ok(row)
}

/// A row with the values given, the defaults of the columns not given,
/// checked against the column rules; the columns the database assigns
/// may be set (a restore sets them).
pub(super) fn filled_row(
    table: &Table,
    mut value: impl FnMut(usize) -> SqlResult<Option<Value>>,
    env: &EvalEnv,
) -> SqlResult<Vec<Value>> {
    let mut row = Vec::with_capacity(table.columns.len());
    for (i, col) in table.columns.iter().enumerate() {
        let v = match value(i)? {
            Some(v) => v,
            None => default_expr(table, i).eval(&[], &[], env)?,
        };
        row.push(v.coerce(col.ty)?);
    }
    table.check_row(&row)?;
    Ok(row)
}

/// Puts a new row at `key`, guarded by the key's absence; `violation` is
/// what the state machine reports if the key was taken meanwhile.
pub(super) fn put_new(batch: &mut KvBatch, key: Vec<u8>, row: &[Value], violation: Violation) {
    batch.preconditions.push(Precondition {
        key: key.clone(),
        expect: Expect::Absent,
        violation,
    });
    batch.ops.push(put(key, row));
}

pub(super) fn build_insert(
    catalog: &Catalog,
    ins: &InsertPlan,
    view: &dyn RowSource,
    env: &EvalEnv,
) -> SqlResult<Built> {
    let table = catalog.get(ins.table);
    let mut batch = KvBatch::default();
    let mut returned = vec![];
    let mut seen = HashSet::new();
    let mut n = 0;
    let queried;
    let templates = match &ins.select {
        None => &ins.rows,
        Some((q, targets)) => {
            let input = match q.table {
                Some(_) => Input::Table(view),
                None => Input::Nothing,
            };
            queried = select_rows(catalog, q, input, env)?
                .into_iter()
                .map(|values| {
                    let mut full: Vec<Option<Expr>> = vec![None; table.columns.len()];
                    for (v, &t) in values.into_iter().zip(targets) {
                        full[t] = Some(Expr::Const(v));
                    }
                    full
                })
                .collect::<Vec<_>>();
            &queried
        }
    };
    for template in templates {
        let row = new_row(
            table,
            |i| {
                template[i]
                    .as_ref()
                    .map(|e| e.eval(&[], &[], env))
                    .transpose()
            },
            env,
        )?;
        let key = table.row_key(&row)?;
        if !seen.insert(key.clone()) {
            match &ins.on_conflict {
                OnConflict::Nothing => continue,
                OnConflict::Update { .. } => {
                    return Err(SqlError::cardinality_violation(
                        "ON CONFLICT DO UPDATE command cannot affect row a second time",
                    ))
                }
                OnConflict::Error => return Err(duplicate_key(table, &key)),
            }
        }
        match (view.get(&key)?, &ins.on_conflict) {
            (None, on_conflict) => {
                let violation = match on_conflict {
                    OnConflict::Error => Violation::UniqueViolation,
                    // Someone inserted it meanwhile: build again, which
                    // takes the conflict path.
                    _ => Violation::Conflict,
                };
                returning(&ins.returning, &row, env, &mut returned)?;
                put_new(&mut batch, key, &row, violation);
                n += 1;
            }
            (Some(_), OnConflict::Error) => return Err(duplicate_key(table, &key)),
            (Some(_), OnConflict::Nothing) => {}
            (
                Some(existing),
                OnConflict::Update {
                    assignments,
                    filter,
                },
            ) => {
                let old = table.values(&existing);
                let mut both = old.clone();
                both.extend(row.iter().cloned());
                if !passes(filter, &both, env)? {
                    continue;
                }
                let mut new = old;
                for (col, e) in assignments {
                    if table.is_key_column(*col) {
                        return Err(SqlError::feature_not_supported(
                            "ON CONFLICT DO UPDATE cannot change key columns",
                        ));
                    }
                    new[*col] = e.eval(&both, &[], env)?;
                }
                table.check_row(&new)?;
                batch.preconditions.push(Precondition {
                    key: key.clone(),
                    expect: Expect::Revision(existing.revision),
                    violation: Violation::Conflict,
                });
                returning(&ins.returning, &new, env, &mut returned)?;
                batch.ops.push(put(key, &new));
                n += 1;
            }
        }
    }
    Ok(Built {
        batch,
        returned,
        count: n,
        command: "INSERT 0",
        table: ins.table,
    })
}

#[cfg(test)]
mod tests {
    use bucketdb_storage::{keys, Violation};

    use super::super::testing::{absent, at_revision, build, object_row, put, state};
    use crate::error::SqlState;

    #[test]
    fn a_new_row_is_guarded_by_its_absence_and_gets_its_defaults() {
        let b = build(
            "INSERT INTO objects (bucket, key, size) VALUES ('b', 'new', 5)",
            &state(&[]),
        )
        .unwrap();
        let key = keys::object("b", "new");
        assert_eq!(
            b.batch.preconditions,
            [absent(key.clone(), Violation::UniqueViolation)]
        );
        assert_eq!(b.batch.ops, [put(key, object_row("b", "new", 5))]);
        assert_eq!((b.count, b.command), (1, "INSERT 0"));
    }

    #[test]
    fn an_existing_key_is_refused_before_anything_is_proposed() {
        let e = build(
            "INSERT INTO objects (bucket, key) VALUES ('b', 'old')",
            &state(&[("old", 1, 7)]),
        )
        .unwrap_err();
        assert_eq!(e.state, SqlState::UniqueViolation);
        let e = build(
            "INSERT INTO objects (bucket, key) VALUES ('b', 'x'), ('b', 'x')",
            &state(&[]),
        )
        .unwrap_err();
        assert_eq!(e.state, SqlState::UniqueViolation);
    }

    #[test]
    fn on_conflict_do_nothing_writes_only_new_keys() {
        let b = build(
            "INSERT INTO objects (bucket, key) VALUES ('b', 'old'), ('b', 'new') ON CONFLICT DO NOTHING",
            &state(&[("old", 1, 7)]),
        )
        .unwrap();
        let key = keys::object("b", "new");
        // A key inserted meanwhile makes the batch be built again.
        assert_eq!(b.batch.preconditions, [absent(key, Violation::Conflict)]);
        assert_eq!(b.count, 1);
    }

    #[test]
    fn an_upsert_of_an_existing_row_is_guarded_by_its_revision() {
        let b = build(
            "INSERT INTO objects (bucket, key, size) VALUES ('b', 'old', 9), ('b', 'new', 3)
             ON CONFLICT (bucket, key) DO UPDATE SET size = objects.size + EXCLUDED.size",
            &state(&[("old", 1, 7)]),
        )
        .unwrap();
        let (old, new) = (keys::object("b", "old"), keys::object("b", "new"));
        assert_eq!(
            b.batch.preconditions,
            [
                at_revision(old.clone(), 7),
                absent(new.clone(), Violation::Conflict)
            ]
        );
        assert_eq!(
            b.batch.ops,
            [
                put(old, object_row("b", "old", 10)),
                put(new, object_row("b", "new", 3))
            ]
        );
        assert_eq!(b.count, 2);
        let e = build(
            "INSERT INTO objects (bucket, key) VALUES ('b', 'x'), ('b', 'x')
             ON CONFLICT (bucket, key) DO UPDATE SET size = 1",
            &state(&[]),
        )
        .unwrap_err();
        assert_eq!(e.state, SqlState::CardinalityViolation);
    }

    #[test]
    fn insert_select_copies_the_rows_it_reads() {
        let b = build(
            "INSERT INTO objects (bucket, key, size) SELECT bucket, key || '.bak', size FROM objects WHERE bucket = 'b'",
            &state(&[("a", 1, 2), ("c", 4, 3)]),
        )
        .unwrap();
        assert_eq!(
            b.batch.ops,
            [
                put(keys::object("b", "a.bak"), object_row("b", "a.bak", 1)),
                put(keys::object("b", "c.bak"), object_row("b", "c.bak", 4)),
            ]
        );
    }
}

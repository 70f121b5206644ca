//! A batch of `COPY … FROM STDIN` records into a KV batch: each record a
//! new row (as INSERT makes them), guarded by its key's absence; an error
//! names the record's line.

use std::collections::HashMap;

use bucketdb_storage::{KvBatch, Violation};

use super::insert::{new_row, put_new};
use super::restore;
use crate::catalog::{duplicate_key, Catalog};
use crate::copy::{at_line, CopyInPlan, Field};
use crate::error::SqlResult;
use crate::expr::EvalEnv;
use crate::scan::RowSource;
use crate::value::Value;

/// The batch writing `records` (with their line numbers), and the line of
/// each key in it, to name the line the state machine refuses.
pub fn build_copy_batch(
    catalog: &Catalog,
    plan: &CopyInPlan,
    records: &[(u64, Vec<Field>)],
    view: &dyn RowSource,
    env: &EvalEnv,
) -> SqlResult<(KvBatch, HashMap<Vec<u8>, u64>)> {
    if restore::restores(plan) {
        return restore::build_restore_batch(catalog, plan, records, view, env);
    }
    let table = catalog.get(plan.table);
    let mut batch = KvBatch::default();
    let mut lines: HashMap<Vec<u8>, u64> = HashMap::new();
    for &(line, ref fields) in records {
        let field = |i: usize| Ok(copy_field(plan, fields, i));
        let row = new_row(table, field, env).map_err(|e| at_line(line, e))?;
        let key = table.row_key(&row).map_err(|e| at_line(line, e))?;
        if lines.contains_key(&key) || view.get(&key)?.is_some() {
            return Err(at_line(line, duplicate_key(table, &key)));
        }
        put_new(&mut batch, key.clone(), &row, Violation::UniqueViolation);
        lines.insert(key, line);
    }
    Ok((batch, lines))
}

/// The value a record gives table column `i` (`None`: the COPY does not
/// name the column).
pub(super) fn copy_field(plan: &CopyInPlan, fields: &[Field], i: usize) -> Option<Value> {
    plan.columns
        .iter()
        .position(|c| *c == i)
        .map(|f| match &fields[f] {
            Some(s) => Value::Text(s.clone()),
            None => Value::Null,
        })
}

#[cfg(test)]
mod tests {
    use bucketdb_storage::{keys, Violation};

    use super::super::testing::{absent, object_row, plan_of, put, state, with_env};
    use super::*;
    use crate::error::SqlState;
    use crate::plan::Plan;

    fn copy_plan(catalog: &Catalog) -> CopyInPlan {
        match plan_of(catalog, "COPY objects (bucket, key, size) FROM STDIN") {
            Plan::CopyIn(p) => p,
            other => panic!("{other:?}"),
        }
    }

    fn record(line: u64, key: &str, size: &str) -> (u64, Vec<Field>) {
        (
            line,
            vec![Some("b".into()), Some(key.into()), Some(size.into())],
        )
    }

    #[test]
    fn records_become_new_rows_guarded_by_their_absence() {
        let catalog = Catalog::new();
        let plan = copy_plan(&catalog);
        let (batch, lines) = with_env(|env| {
            build_copy_batch(
                &catalog,
                &plan,
                &[record(1, "a", "3"), record(2, "c", "4")],
                &state(&[]),
                env,
            )
        })
        .unwrap();
        let (a, c) = (keys::object("b", "a"), keys::object("b", "c"));
        assert_eq!(
            batch.preconditions,
            [
                absent(a.clone(), Violation::UniqueViolation),
                absent(c.clone(), Violation::UniqueViolation)
            ]
        );
        assert_eq!(
            batch.ops,
            [
                put(a.clone(), object_row("b", "a", 3)),
                put(c, object_row("b", "c", 4))
            ]
        );
        assert_eq!(lines[&a], 1);
    }

    #[test]
    fn a_bad_record_names_its_line() {
        let catalog = Catalog::new();
        let plan = copy_plan(&catalog);
        let fail = |records: Vec<(u64, Vec<Field>)>, existing: &[(&str, i64, u64)]| {
            with_env(|env| build_copy_batch(&catalog, &plan, &records, &state(existing), env))
                .unwrap_err()
        };
        let e = fail(vec![record(1, "a", "1"), record(2, "a", "2")], &[]);
        assert_eq!(e.state, SqlState::UniqueViolation);
        assert!(e.message.ends_with("(COPY line 2)"), "{}", e.message);
        let e = fail(vec![record(7, "old", "1")], &[("old", 1, 3)]);
        assert!(e.message.ends_with("(COPY line 7)"), "{}", e.message);
        let e = fail(vec![record(3, "a", "lots")], &[]);
        assert_eq!(e.state, SqlState::InvalidTextRepresentation);
        assert!(e.message.ends_with("(COPY line 3)"), "{}", e.message);
    }
}

//! COPY that restores object versions as a dump holds them: `COPY
//! object_versions FROM STDIN`, and `COPY objects (…, version_id, …)`.
//! pg_dump writes both, `object_versions` first, and an object's current
//! version is in both; either may come first.
//!
//! A version keeps its id. Its sequence, which orders it among its
//! object's versions, is the one its id was made from; a `null` version's
//! id carries none, so it gets one between its neighbours in the dump,
//! which lists each object's versions newest first. The state machine
//! then moves later revisions past every sequence restored
//! ([`KvOp::Restore`]), so versions made afterwards are newer.
//!
//! A version already there with the same columns counts as restored (the
//! other table brought it); one with other columns is a duplicate key.

use std::collections::HashMap;
use std::ops::ControlFlow;

use bucketdb_storage::keys::{self, DecodedKey};
use bucketdb_storage::versioning::{self, NULL_VERSION, OBJECT_VERSION_ID_COLUMN};
use bucketdb_storage::{Datum, Expect, KvBatch, KvOp, Precondition, StoredRow, Violation};

use super::copy::copy_field;
use super::insert::filled_row;
use crate::catalog::{duplicate_key, Catalog, Table, TableId};
use crate::copy::{at_line, CopyInPlan, Field};
use crate::error::{SqlError, SqlResult};
use crate::expr::EvalEnv;
use crate::scan::RowSource;
use crate::value::Value;

/// Whether the COPY restores versions: into `object_versions`, or into
/// `objects` naming `version_id` (otherwise COPY writes as INSERT does).
pub(super) fn restores(plan: &CopyInPlan) -> bool {
    match plan.table {
        TableId::Versions => true,
        TableId::Objects => plan.columns.contains(&OBJECT_VERSION_ID_COLUMN),
        _ => false,
    }
}

/// The batch restoring `records` (with their line numbers), and the line
/// of each key it writes.
pub(super) fn build_restore_batch(
    catalog: &Catalog,
    plan: &CopyInPlan,
    records: &[(u64, Vec<Field>)],
    view: &dyn RowSource,
    env: &EvalEnv,
) -> SqlResult<(KvBatch, HashMap<Vec<u8>, u64>)> {
    let mut r = Restorer {
        objects: catalog.get(TableId::Objects),
        view,
        batch: KvBatch::default(),
        lines: HashMap::new(),
    };
    let table = catalog.get(plan.table);
    let mut rows = Vec::with_capacity(records.len());
    for &(line, ref fields) in records {
        let row = filled_row(table, |i| Ok(copy_field(plan, fields, i)), env)
            .map_err(|e| at_line(line, e))?;
        rows.push((line, row));
    }
    if plan.table == TableId::Objects {
        for (line, row) in rows {
            r.current(line, &row).map_err(|e| at_line(line, e))?;
        }
    } else {
        let versions = rows
            .into_iter()
            .map(|(line, row)| match VersionRow::new(r.objects, row) {
                Ok(v) => Ok((line, v)),
                Err(e) => Err(at_line(line, e)),
            })
            .collect::<SqlResult<Vec<_>>>()?;
        let mut rest = versions.as_slice();
        while let Some((_, first)) = rest.first() {
            let same = |v: &(u64, VersionRow)| v.1.bucket == first.bucket && v.1.key == first.key;
            let n = rest.iter().take_while(|v| same(v)).count();
            r.object(&rest[..n])?;
            rest = &rest[n..];
        }
    }
    Ok((r.batch, r.lines))
}

/// The sequence a version id was made from (`None`: the `null` version).
fn id_seq(id: &str) -> SqlResult<Option<u64>> {
    if id == NULL_VERSION {
        return Ok(None);
    }
    match versioning::seq_of_version_id(id) {
        Some(seq)
            if seq < versioning::MAX_SEQ
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(Some(seq))
        }
        _ => Err(SqlError::invalid_parameter_value(format!(
            "invalid version id \"{id}\": expected \"null\" or an id bucketdb made"
        ))),
    }
}

fn out_of_order(key: &str, id: &str) -> SqlError {
    SqlError::invalid_parameter_value(format!(
        "version \"{id}\" of \"{key}\" is out of order: an object's versions are restored newest first, the latest one alone marked is_latest"
    ))
}

/// One `object_versions` record.
struct VersionRow {
    bucket: String,
    key: String,
    id: String,
    seq: Option<u64>,
    is_latest: bool,
    is_delete_marker: bool,
    /// The version as an `objects` row.
    columns: Vec<Datum>,
}

impl VersionRow {
    fn new(objects: &Table, row: Vec<Value>) -> SqlResult<VersionRow> {
        let flag = |i: usize, name: &str| {
            match &row[i] {
            Value::Bool(b) => Ok(*b),
            _ => Err(SqlError::not_null_violation(format!(
                "null value in column \"{name}\" of relation \"object_versions\" violates not-null constraint"
            ))),
        }
        };
        let (is_latest, is_delete_marker) = (flag(3, "is_latest")?, flag(4, "is_delete_marker")?);
        // object_versions is objects with is_latest and is_delete_marker
        // after version_id.
        let object: Vec<Value> = row[..3].iter().chain(&row[5..]).cloned().collect();
        if !is_delete_marker {
            objects.check_row(&object)?;
        }
        let text = |i: usize, name: &str| {
            match &object[i] {
            Value::Text(s) => Ok(s.clone()),
            _ => Err(SqlError::not_null_violation(format!(
                "null value in column \"{name}\" of relation \"object_versions\" violates not-null constraint"
            ))),
        }
        };
        let id = text(OBJECT_VERSION_ID_COLUMN, "version_id")?;
        Ok(VersionRow {
            bucket: text(0, "bucket")?,
            key: text(1, "key")?,
            seq: id_seq(&id)?,
            id,
            is_latest,
            is_delete_marker,
            columns: object.iter().map(Value::to_datum).collect(),
        })
    }

    /// Whether it is the `objects` row (the latest, not a delete marker).
    fn is_current(&self) -> bool {
        self.is_latest && !self.is_delete_marker
    }
}

/// What orders a version: the next newer one of its object.
#[derive(Clone, Copy)]
enum Newer {
    /// None: it is the latest.
    Nothing,
    /// A version with this sequence.
    Seq(u64),
    /// The current `null` version, newer than any stored one.
    CurrentNull,
}

struct Restorer<'a> {
    objects: &'a Table,
    view: &'a dyn RowSource,
    batch: KvBatch,
    lines: HashMap<Vec<u8>, u64>,
}

impl Restorer<'_> {
    /// Restores `columns` at `key` (sequence `seq`), unless the same
    /// version is there already.
    fn put(
        &mut self,
        line: u64,
        key: Vec<u8>,
        columns: Vec<Datum>,
        seq: Option<u64>,
    ) -> SqlResult<()> {
        if self.lines.contains_key(&key) {
            return Err(duplicate_key(self.objects, &key));
        }
        match self.view.get(&key)? {
            None => {
                self.batch.preconditions.push(Precondition {
                    key: key.clone(),
                    expect: Expect::Absent,
                    violation: Violation::UniqueViolation,
                });
                self.batch.ops.push(KvOp::Restore {
                    key: key.clone(),
                    columns,
                    seq,
                });
            }
            Some(there) if same(&there, &columns) => {}
            Some(_) => return Err(duplicate_key(self.objects, &key)),
        }
        self.lines.insert(key, line);
        Ok(())
    }

    /// An `objects` record: the current version of its object.
    fn current(&mut self, line: u64, row: &[Value]) -> SqlResult<()> {
        let key = self.objects.row_key(row)?;
        let Value::Text(id) = &row[OBJECT_VERSION_ID_COLUMN] else {
            return Err(SqlError::internal("version_id is checked not null"));
        };
        let seq = id_seq(id)?;
        let (bucket, name) = (text(&row[0]), text(&row[1]));
        if let (Some(seq), Some(newest)) = (seq, self.stored(&bucket, &name)?.first()) {
            if newest.0 >= seq {
                return Err(out_of_order(&name, id));
            }
        }
        let columns = row.iter().map(Value::to_datum).collect();
        self.put(line, key, columns, seq)
    }

    /// The records of one object, newest first.
    fn object(&mut self, rows: &[(u64, VersionRow)]) -> SqlResult<()> {
        let first = &rows[0].1;
        let (bucket, key) = (first.bucket.as_str(), first.key.as_str());
        let stored = self.stored(bucket, key)?;
        let current = self.view.get(&keys::object(bucket, key))?;
        // Where the records take up: at the latest version, or after the
        // oldest one restored so far (a COPY batch ended amid the object).
        let mut newer = match (stored.last(), &current) {
            _ if first.is_latest => Newer::Nothing,
            (Some((seq, _)), _) => Newer::Seq(*seq),
            (None, Some(row)) => match id_seq(&id_of(&row.columns))? {
                Some(seq) => Newer::Seq(seq),
                None => Newer::CurrentNull,
            },
            (None, None) => return Err(out_of_order(key, &first.id)),
        };
        let stored_null = stored
            .iter()
            .find(|(_, row)| id_of(&row.columns) == NULL_VERSION)
            .map(|(seq, _)| *seq);
        let mut nulls = 0;
        for (i, (line, v)) in rows.iter().enumerate() {
            let here = |e| at_line(*line, e);
            if v.is_latest != matches!(newer, Newer::Nothing) {
                return Err(here(out_of_order(key, &v.id)));
            }
            let seq = match (v.seq, newer) {
                (Some(seq), Newer::Seq(a)) if seq >= a => {
                    return Err(here(out_of_order(key, &v.id)))
                }
                (Some(seq), _) => seq,
                (None, _) if nulls > 0 || matches!(newer, Newer::CurrentNull) => {
                    return Err(here(SqlError::unique_violation(format!(
                        "object \"{key}\" has two null versions"
                    ))))
                }
                // Its id carries no sequence: one between its neighbours,
                // which the dump's order makes room for.
                (None, Newer::Seq(a)) => a
                    .checked_sub(1)
                    .ok_or_else(|| here(out_of_order(key, &v.id)))?,
                (None, _) => match rows.get(i + 1).and_then(|(_, older)| older.seq) {
                    Some(b) => b + 1,
                    None => 1,
                },
            };
            if v.seq.is_none() {
                nulls += 1;
            }
            if v.is_current() {
                self.put(*line, keys::object(bucket, key), v.columns.clone(), v.seq)
                    .map_err(here)?;
                newer = match v.seq {
                    Some(seq) => Newer::Seq(seq),
                    None => Newer::CurrentNull,
                };
                continue;
            }
            // A stored version the object's current row already is, or
            // a latest delete marker over a current row.
            if current
                .as_ref()
                .is_some_and(|row| (id_of(&row.columns) == v.id && v.seq.is_some()) || v.is_latest)
            {
                return Err(here(SqlError::unique_violation(format!(
                    "version \"{}\" of \"{key}\" conflicts with its current version here",
                    v.id
                ))));
            }
            // A null version restored before keeps its place.
            let at = match (v.seq, stored_null) {
                (None, Some(there)) => there,
                _ => seq,
            };
            let mut columns = v.columns.clone();
            columns.push(Datum::Bool(v.is_delete_marker));
            self.put(
                *line,
                keys::version(bucket.as_bytes(), key.as_bytes(), at),
                columns,
                Some(at),
            )
            .map_err(here)?;
            newer = Newer::Seq(at);
        }
        Ok(())
    }

    /// The stored versions of an object (sequence and row), newest first.
    fn stored(&self, bucket: &str, key: &str) -> SqlResult<Vec<(u64, StoredRow)>> {
        let prefix = keys::key_versions_prefix(bucket.as_bytes(), key.as_bytes());
        let mut found = vec![];
        self.view
            .scan(&prefix.clone(), keys::prefix_end(&prefix), &mut |k, row| {
                if let Some(DecodedKey::Version { seq, .. }) = keys::decode(k) {
                    found.push((seq, row));
                }
                Ok(ControlFlow::Continue(()))
            })?;
        Ok(found)
    }
}

/// Whether a stored row holds `columns` (columns it lacks read as NULL).
fn same(there: &StoredRow, columns: &[Datum]) -> bool {
    let mut stored = there.columns.clone();
    stored.resize(columns.len().max(stored.len()), Datum::Null);
    let mut given = columns.to_vec();
    given.resize(stored.len(), Datum::Null);
    stored == given
}

fn id_of(columns: &[Datum]) -> String {
    match columns.get(OBJECT_VERSION_ID_COLUMN) {
        Some(Datum::Text(s)) => s.clone(),
        _ => NULL_VERSION.to_string(),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use bucketdb_storage::versioning::version_id;

    use super::super::testing::{plan_of, state, with_env};
    use super::*;
    use crate::error::SqlState;
    use crate::plan::Plan;

    const COLUMNS: &str =
        "bucket, key, version_id, is_latest, is_delete_marker, size, storage_class, last_modified";

    /// A record of `object_versions`: (key, id, is_latest, is_marker).
    fn record(line: u64, key: &str, id: &str, latest: bool, marker: bool) -> (u64, Vec<Field>) {
        let flag = |b: bool| Some(if b { "t" } else { "f" }.to_string());
        let size = (!marker).then(|| "1".to_string());
        let text = |s: &str| Some(s.to_string());
        (
            line,
            vec![
                text("b"),
                text(key),
                text(id),
                flag(latest),
                flag(marker),
                size,
                text("STANDARD"),
                text("2026-12-01 10:00:00+00"),
            ],
        )
    }

    fn restore(records: Vec<(u64, Vec<Field>)>, there: &dyn RowSource) -> SqlResult<KvBatch> {
        let catalog = Catalog::new();
        let Plan::CopyIn(plan) = plan_of(
            &catalog,
            &format!("COPY object_versions ({COLUMNS}) FROM STDIN"),
        ) else {
            panic!("not a COPY")
        };
        with_env(|env| build_restore_batch(&catalog, &plan, &records, there, env)).map(|(b, _)| b)
    }

    /// Where each op of a batch writes: the objects row (its sequence, or
    /// None), or a stored version (its sequence).
    fn placed(batch: &KvBatch) -> Vec<(String, &'static str, Option<u64>)> {
        batch
            .ops
            .iter()
            .map(|op| match (op, keys::decode(op.key())) {
                (KvOp::Restore { seq, .. }, Some(DecodedKey::Object { key, .. })) => {
                    (String::from_utf8_lossy(key).into_owned(), "current", *seq)
                }
                (KvOp::Restore { seq, .. }, Some(DecodedKey::Version { key, .. })) => {
                    (String::from_utf8_lossy(&key).into_owned(), "stored", *seq)
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_null_version_gets_a_sequence_between_its_neighbours() {
        let (v900, v500, v300) = (version_id(900, 0), version_id(500, 2), version_id(300, 0));
        let batch = restore(
            vec![
                record(1, "k", &v900, true, false),
                record(2, "k", "null", false, false),
                record(3, "k", &v500, false, false),
                record(4, "lone", "null", true, true),
                record(5, "n", "null", true, true),
                record(6, "n", &v300, false, false),
                record(7, "nc", "null", true, false),
                record(8, "nc", &v300, false, true),
            ],
            &state(&[]),
        )
        .unwrap();
        let at = |k: &str, place, seq| (k.to_string(), place, seq);
        assert_eq!(
            placed(&batch),
            [
                at("k", "current", Some(900)),
                at("k", "stored", Some(899)),
                at("k", "stored", Some(500)),
                at("lone", "stored", Some(1)),
                at("n", "stored", Some(301)),
                at("n", "stored", Some(300)),
                // A current null version takes its entry's revision.
                at("nc", "current", None),
                at("nc", "stored", Some(300)),
            ]
        );
        assert!(batch
            .preconditions
            .iter()
            .all(|p| p.expect == Expect::Absent));
    }

    #[test]
    fn versions_out_of_order_twice_or_malformed_are_refused() {
        let (v900, v500) = (version_id(900, 0), version_id(500, 0));
        let fail = |records| restore(records, &state(&[])).unwrap_err();
        let e = fail(vec![
            record(1, "k", &v500, true, false),
            record(2, "k", &v900, false, false),
        ]);
        assert_eq!(e.state, SqlState::InvalidParameterValue);
        assert!(e.message.ends_with("(COPY line 2)"), "{}", e.message);
        let e = fail(vec![
            record(1, "k", &v900, true, false),
            record(2, "k", &v500, true, false),
        ]);
        assert_eq!(e.state, SqlState::InvalidParameterValue);
        let e = fail(vec![record(4, "k", &v500, false, false)]);
        assert_eq!(
            e.state,
            SqlState::InvalidParameterValue,
            "nothing newer: {}",
            e.message
        );
        let e = fail(vec![
            record(1, "k", &v900, true, false),
            record(2, "k", "null", false, false),
            record(3, "k", "null", false, true),
        ]);
        assert_eq!(e.state, SqlState::UniqueViolation);
        for id in [
            "xyz",
            "FFFFFFFFFFFFFFFF00000000",
            "000000000000000000000000",
        ] {
            let e = fail(vec![record(9, "k", id, true, false)]);
            assert_eq!(e.state, SqlState::InvalidParameterValue, "{id}");
        }
    }

    #[test]
    fn a_version_already_there_counts_as_restored_and_another_is_a_duplicate() {
        let v900 = version_id(900, 0);
        let first = restore(vec![record(1, "k", &v900, true, false)], &state(&[])).unwrap();
        let KvOp::Restore { key, columns, .. } = &first.ops[0] else {
            panic!()
        };
        let mut there = state(&[]);
        there.put(key.clone(), 900, columns.clone());
        let again = restore(vec![record(1, "k", &v900, true, false)], &there).unwrap();
        assert!(again.is_empty());
        let other = version_id(901, 0);
        let e = restore(vec![record(1, "k", &other, true, false)], &there).unwrap_err();
        assert_eq!(e.state, SqlState::UniqueViolation);
    }
}

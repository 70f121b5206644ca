//! Applying a KV batch to the state machine: check, then write atomically.

use std::collections::BTreeMap;

use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};

use crate::batch::{Expect, KvBatch, KvOp, Violation};
use crate::error::StorageError;
use crate::group::{ApplyGroup, EntryWrites};
use crate::keys::{self, DecodedKey};
use crate::row::StoredRow;
use crate::rules;
use crate::store::{Store, CF_SM_DATA, CF_SM_META};
use crate::versioning::{self, Versioning};

/// The result of applying one batch; identical on every replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApplyOutcome {
    /// Written, by the entry at this log index.
    Applied { index: u64 },
    /// Nothing was written.
    Rejected(Rejection),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub violation: Violation,
    pub key: Vec<u8>,
    pub detail: String,
}

impl Rejection {
    fn new(violation: Violation, key: &[u8], detail: impl Into<String>) -> Rejection {
        Rejection {
            violation,
            key: key.to_vec(),
            detail: detail.into(),
        }
    }
}

/// The state after the batch, as far as the batch changes it.
struct Overlay<'b> {
    writes: BTreeMap<&'b [u8], bool>,
}

impl<'b> Overlay<'b> {
    fn new(ops: &'b [KvOp]) -> Overlay<'b> {
        let writes = ops
            .iter()
            .map(|op| (op.key(), op.columns().is_some()))
            .collect();
        Overlay { writes }
    }

    fn exists_after(&self, group: &ApplyGroup, key: &[u8]) -> Result<bool, StorageError> {
        match self.writes.get(key) {
            Some(present) => Ok(*present),
            None => group.exists(key),
        }
    }

    /// Whether any key under `prefix` exists after the batch.
    fn any_with_prefix_after(
        &self,
        group: &ApplyGroup,
        prefix: &[u8],
    ) -> Result<bool, StorageError> {
        let in_batch = self
            .writes
            .range(prefix..)
            .take_while(|(k, _)| k.starts_with(prefix));
        for (_, present) in in_batch {
            if *present {
                return Ok(true);
            }
        }
        let mut any = false;
        group.scan(prefix, keys::prefix_end(prefix), |k, _| {
            // Keys the batch deletes do not count.
            any = self.writes.get(k) != Some(&false);
            Ok(!any)
        })?;
        Ok(any)
    }
}

impl Store {
    /// Entries to apply together, in one write (see `group`).
    pub fn apply_group(&self) -> ApplyGroup<'_> {
        ApplyGroup::new(self)
    }

    /// Applies `batch` as log entry `index`, with the state-machine
    /// metadata `meta`, in a write of its own.
    pub fn apply_batch(
        &self,
        batch: &KvBatch,
        index: u64,
        meta: &[(&'static str, Vec<u8>)],
    ) -> Result<ApplyOutcome, StorageError> {
        let mut group = self.apply_group();
        let outcome = group.apply_batch(batch, index, meta)?;
        group.write()?;
        Ok(outcome)
    }

    /// Gives a restored state a new cluster id, at `revision`. Only a restore
    /// does this, before any node serves the state: through Raft the id
    /// never changes (see `check_rules`).
    pub fn rename_cluster(&self, id: &str, revision: u64) -> Result<(), StorageError> {
        let row = StoredRow {
            revision,
            columns: vec![crate::Datum::Text(id.to_string())],
        };
        let mut wb = WriteBatch::default();
        wb.put_cf(self.cf(CF_SM_DATA), keys::cluster_id(), row.encode());
        self.write(wb)
    }

    /// Writes only state-machine metadata (for blank and membership entries).
    pub fn apply_meta(&self, meta: &[(&'static str, Vec<u8>)]) -> Result<(), StorageError> {
        let mut group = self.apply_group();
        group.add_meta(meta);
        group.write()
    }

    /// Puts state-machine metadata into `wb`: an apply group's write and
    /// a snapshot's import both end so.
    pub(crate) fn put_meta_into_batch<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        wb: &mut WriteBatch,
        meta: impl IntoIterator<Item = (K, V)>,
    ) {
        let cf = self.cf(CF_SM_META);
        for (k, v) in meta {
            wb.put_cf(cf, k, v);
        }
    }
}

impl ApplyGroup<'_> {
    /// Applies `batch` as log entry `index` after the group's entries,
    /// with the state-machine metadata `meta`. When a precondition or an
    /// S3 rule fails only `meta` is written.
    pub fn apply_batch(
        &mut self,
        batch: &KvBatch,
        index: u64,
        meta: &[(&'static str, Vec<u8>)],
    ) -> Result<ApplyOutcome, StorageError> {
        let outcome = match self.check(batch)? {
            Some(rejection) => ApplyOutcome::Rejected(rejection),
            None => ApplyOutcome::Applied { index },
        };
        let mut writes = EntryWrites::default();
        if matches!(outcome, ApplyOutcome::Applied { .. }) {
            let revision = self.revision(&mut writes, batch, index)?;
            let rows = self.resolve_writes(&batch.ops, revision, batch.timestamp)?;
            self.stats_into(&mut writes, &rows, revision)?;
            for w in rows {
                match w.row {
                    Some(row) => writes.put(w.key, &row),
                    None => writes.delete(w.key),
                }
            }
        }
        self.add(writes, meta);
        Ok(outcome)
    }

    /// The revision of the entry at `index`: the index plus the revision
    /// base, which a batch restoring versions raises (in `writes`) until
    /// the revision is past every sequence it restores. Revisions only
    /// grow: the base never falls, and indexes grow.
    fn revision(
        &self,
        writes: &mut EntryWrites,
        batch: &KvBatch,
        index: u64,
    ) -> Result<u64, StorageError> {
        let key = keys::revision_base();
        let mut base = match self.row(&key)?.and_then(|r| r.columns.first().cloned()) {
            Some(crate::Datum::Int(b)) => u64::try_from(b).unwrap_or(0),
            _ => 0,
        };
        let restored = batch.ops.iter().filter_map(versioning::restored_seq).max();
        if let Some(seq) = restored {
            if index + base <= seq {
                base = seq + 1 - index;
                let row = StoredRow {
                    revision: index + base,
                    columns: vec![crate::Datum::Int(base as i64)],
                };
                writes.put(key, &row);
            }
        }
        Ok(index + base)
    }

    /// Returns the first reason the batch must not be applied, if any.
    fn check(&self, batch: &KvBatch) -> Result<Option<Rejection>, StorageError> {
        for pre in &batch.preconditions {
            let holds = match &pre.expect {
                Expect::RangeUnchanged {
                    end,
                    rows,
                    max_revision,
                } => self.range_summary(&pre.key, end.clone())? == (*rows, *max_revision),
                point => match (point, self.row(&pre.key)?) {
                    (Expect::Absent, None) => true,
                    (Expect::Revision(rev), Some(row)) => row.revision == *rev,
                    _ => false,
                },
            };
            if !holds {
                return Ok(Some(Rejection::new(pre.violation, &pre.key, "")));
            }
        }
        let overlay = Overlay::new(&batch.ops);
        for op in &batch.ops {
            if let Some(rejection) = self.check_rules(op, &overlay)? {
                return Ok(Some(rejection));
            }
        }
        Ok(None)
    }

    /// How many rows `[start, end)` holds now and the highest revision
    /// among them.
    fn range_summary(
        &self,
        start: &[u8],
        end: Option<Vec<u8>>,
    ) -> Result<(u64, u64), StorageError> {
        let (mut rows, mut max) = (0, 0);
        self.scan(start, end, |_, v| {
            rows += 1;
            max = max.max(StoredRow::decode(v)?.revision);
            Ok(true)
        })?;
        Ok((rows, max))
    }

    /// S3 rules, checked against the state after the batch.
    fn check_rules(&self, op: &KvOp, overlay: &Overlay) -> Result<Option<Rejection>, StorageError> {
        let key = op.key();
        let Some(decoded) = keys::decode(key) else {
            return Ok(Some(Rejection::new(
                Violation::InvalidValue,
                key,
                "key of no known table",
            )));
        };
        let invalid = |msg: String| Ok(Some(Rejection::new(Violation::InvalidValue, key, msg)));
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        // The parent a row needs, and how to name it when it is missing.
        let parent = match (op, &decoded) {
            (KvOp::Put { columns, .. }, DecodedKey::Bucket { name }) => {
                if let Err(msg) = rules::check_bucket_name(name) {
                    return invalid(msg);
                }
                if Versioning::of_bucket(columns) == Versioning::Disabled {
                    if let Some(old) = self.row(key)? {
                        if Versioning::of_bucket(&old.columns) != Versioning::Disabled {
                            return invalid(format!(
                                "versioning of bucket \"{}\" cannot be disabled once enabled; suspend it instead",
                                text(name)
                            ));
                        }
                    }
                }
                None
            }
            (KvOp::Put { .. }, DecodedKey::Version { .. }) => {
                return invalid(
                    "object versions are written by the database: write objects instead".into(),
                )
            }
            (KvOp::Put { .. }, DecodedKey::Object { bucket, key: k }) => {
                if let Err(msg) = rules::check_object_key(k) {
                    return invalid(msg);
                }
                Some((
                    keys::bucket(bucket),
                    format!("bucket \"{}\" does not exist", text(bucket)),
                ))
            }
            (KvOp::Put { .. }, DecodedKey::Upload { bucket, upload_id }) => {
                if let Err(msg) = rules::check_upload_id(upload_id) {
                    return invalid(msg);
                }
                Some((
                    keys::bucket(bucket),
                    format!("bucket \"{}\" does not exist", text(bucket)),
                ))
            }
            (
                KvOp::Put { .. },
                DecodedKey::Part {
                    bucket,
                    upload_id,
                    part_number,
                },
            ) => {
                if let Err(msg) = rules::check_part_number(*part_number) {
                    return invalid(msg);
                }
                let upload = keys::upload(bucket, upload_id);
                Some((
                    upload,
                    format!(
                        "upload \"{}\" of bucket \"{}\" does not exist",
                        text(upload_id),
                        text(bucket)
                    ),
                ))
            }
            (KvOp::Put { .. }, DecodedKey::Role { name }) => {
                if let Err(msg) = rules::check_role_name(name) {
                    return invalid(msg);
                }
                None
            }
            (KvOp::Put { .. }, DecodedKey::Grant { role, .. }) => Some((
                keys::role(role),
                format!("role \"{}\" does not exist", text(role)),
            )),
            (KvOp::Put { .. }, DecodedKey::Membership { member, granted }) => {
                if !overlay.exists_after(self, &keys::role(granted))? {
                    return Ok(Some(Rejection::new(
                        Violation::MissingParent,
                        key,
                        format!("role \"{}\" does not exist", text(granted)),
                    )));
                }
                Some((
                    keys::role(member),
                    format!("role \"{}\" does not exist", text(member)),
                ))
            }
            // Written once: the id a cluster was made with is its for good.
            (KvOp::Put { columns, .. }, DecodedKey::Cluster { .. }) => {
                if let Some(old) = self.row(key)? {
                    if &old.columns != columns {
                        return invalid("the cluster id cannot change".into());
                    }
                }
                None
            }
            (KvOp::Delete { .. }, DecodedKey::Cluster { .. }) => {
                return invalid("the cluster id cannot be removed".into())
            }
            (KvOp::Restore { seq, .. }, DecodedKey::Object { bucket, key: k }) => {
                if let Err(msg) = rules::check_object_key(k) {
                    return invalid(msg);
                }
                if seq.is_some_and(|s| s >= versioning::MAX_SEQ) {
                    return invalid("version sequence out of range".into());
                }
                Some((
                    keys::bucket(bucket),
                    format!("bucket \"{}\" does not exist", text(bucket)),
                ))
            }
            (
                KvOp::Restore { seq, .. },
                DecodedKey::Version {
                    bucket, seq: at, ..
                },
            ) => {
                if *seq != Some(*at) || *at >= versioning::MAX_SEQ {
                    return invalid("version sequence out of range or not its key's".into());
                }
                Some((
                    keys::bucket(bucket),
                    format!("bucket \"{}\" does not exist", text(bucket)),
                ))
            }
            (KvOp::Restore { .. }, _) => {
                return invalid("only object versions are restored as they were".into())
            }
            (KvOp::Delete { .. }, _) => None,
        };
        if let Some((parent_key, missing)) = parent {
            if !overlay.exists_after(self, &parent_key)? {
                return Ok(Some(Rejection::new(Violation::MissingParent, key, missing)));
            }
        }
        // Rows that must be gone before their parent goes.
        let children: Vec<(Vec<u8>, String)> = match (op, &decoded) {
            (KvOp::Delete { .. }, DecodedKey::Bucket { name }) => vec![
                (
                    keys::objects_prefix(name),
                    format!("bucket \"{}\" is not empty", text(name)),
                ),
                (
                    keys::versions_prefix(name),
                    format!("bucket \"{}\" still has object versions", text(name)),
                ),
                (
                    keys::child_prefix(keys::TAG_UPLOADS, name),
                    format!(
                        "bucket \"{}\" has multipart uploads in progress",
                        text(name)
                    ),
                ),
            ],
            (KvOp::Delete { .. }, DecodedKey::Role { name }) => vec![
                (
                    keys::child_prefix(keys::TAG_GRANTS, name),
                    format!("role \"{}\" still holds privileges", text(name)),
                ),
                (
                    keys::child_prefix(keys::TAG_MEMBERS, name),
                    format!("role \"{}\" is still a member of roles", text(name)),
                ),
            ],
            (KvOp::Delete { .. }, DecodedKey::Upload { bucket, upload_id }) => vec![(
                keys::parts_prefix(bucket, upload_id),
                format!("upload \"{}\" still has parts", text(upload_id)),
            )],
            _ => vec![],
        };
        for (prefix, why) in children {
            if overlay.any_with_prefix_after(self, &prefix)? {
                return Ok(Some(Rejection::new(Violation::HasChildren, key, why)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Precondition;
    use crate::row::Datum;

    fn put(key: Vec<u8>) -> KvOp {
        KvOp::Put {
            key,
            columns: vec![Datum::Int(1)],
        }
    }

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    fn apply(store: &Store, batch: KvBatch, rev: u64) -> ApplyOutcome {
        store.apply_batch(&batch, rev, &[]).unwrap()
    }

    fn violation(o: ApplyOutcome) -> Violation {
        match o {
            ApplyOutcome::Rejected(r) => r.violation,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn object_needs_its_bucket_even_within_one_batch() {
        let (_d, s) = open();
        let lone = KvBatch {
            ops: vec![put(keys::object("bkt", "k"))],
            ..Default::default()
        };
        assert_eq!(
            violation(apply(&s, lone.clone(), 1)),
            Violation::MissingParent
        );
        let both = KvBatch {
            ops: vec![put(keys::bucket("bkt")), put(keys::object("bkt", "k"))],
            ..Default::default()
        };
        assert_eq!(apply(&s, both, 2), ApplyOutcome::Applied { index: 2 });
        assert_eq!(apply(&s, lone, 3), ApplyOutcome::Applied { index: 3 });
    }

    #[test]
    fn grants_and_memberships_need_their_roles_and_hold_them() {
        let (_d, s) = open();
        let grant = KvBatch {
            ops: vec![put(keys::grant("app", "objects"))],
            ..Default::default()
        };
        assert_eq!(
            violation(apply(&s, grant.clone(), 1)),
            Violation::MissingParent
        );
        let roles = KvBatch {
            ops: vec![put(keys::role("app")), put(keys::role("reader"))],
            ..Default::default()
        };
        assert!(matches!(apply(&s, roles, 2), ApplyOutcome::Applied { .. }));
        assert!(matches!(apply(&s, grant, 3), ApplyOutcome::Applied { .. }));
        let member_of_nobody = KvBatch {
            ops: vec![put(keys::membership("app", "nobody"))],
            ..Default::default()
        };
        assert_eq!(
            violation(apply(&s, member_of_nobody, 4)),
            Violation::MissingParent
        );
        let drop = KvBatch {
            ops: vec![KvOp::Delete {
                key: keys::role("app"),
            }],
            ..Default::default()
        };
        assert_eq!(violation(apply(&s, drop, 5)), Violation::HasChildren);
        let bad_name = KvBatch {
            ops: vec![put(keys::role(""))],
            ..Default::default()
        };
        assert_eq!(violation(apply(&s, bad_name, 6)), Violation::InvalidValue);
    }

    #[test]
    fn non_empty_bucket_cannot_be_deleted_unless_emptied_in_the_same_batch() {
        let (_d, s) = open();
        let setup = KvBatch {
            ops: vec![put(keys::bucket("bkt")), put(keys::object("bkt", "k"))],
            ..Default::default()
        };
        apply(&s, setup, 1);
        let drop_bucket = KvBatch {
            ops: vec![KvOp::Delete {
                key: keys::bucket("bkt"),
            }],
            ..Default::default()
        };
        assert_eq!(violation(apply(&s, drop_bucket, 2)), Violation::HasChildren);
        let drop_all = KvBatch {
            ops: vec![
                KvOp::Delete {
                    key: keys::object("bkt", "k"),
                },
                KvOp::Delete {
                    key: keys::bucket("bkt"),
                },
            ],
            ..Default::default()
        };
        assert_eq!(apply(&s, drop_all, 3), ApplyOutcome::Applied { index: 3 });
    }

    #[test]
    fn preconditions_gate_the_whole_batch() {
        let (_d, s) = open();
        apply(
            &s,
            KvBatch {
                ops: vec![put(keys::bucket("aaa"))],
                ..Default::default()
            },
            5,
        );
        let dup = KvBatch {
            preconditions: vec![Precondition {
                key: keys::bucket("aaa"),
                expect: Expect::Absent,
                violation: Violation::UniqueViolation,
            }],
            ops: vec![put(keys::bucket("bbb")), put(keys::bucket("aaa"))],
            timestamp: 0,
        };
        assert_eq!(violation(apply(&s, dup, 6)), Violation::UniqueViolation);
        assert!(s
            .get_cf(CF_SM_DATA, &keys::bucket("bbb"))
            .unwrap()
            .is_none());
        let stale = KvBatch {
            preconditions: vec![Precondition {
                key: keys::bucket("aaa"),
                expect: Expect::Revision(4),
                violation: Violation::Conflict,
            }],
            ops: vec![put(keys::bucket("aaa"))],
            timestamp: 0,
        };
        assert_eq!(violation(apply(&s, stale, 7)), Violation::Conflict);
        let fresh = KvBatch {
            preconditions: vec![Precondition {
                key: keys::bucket("aaa"),
                expect: Expect::Revision(5),
                violation: Violation::Conflict,
            }],
            ops: vec![put(keys::bucket("aaa"))],
            timestamp: 0,
        };
        assert_eq!(apply(&s, fresh, 8), ApplyOutcome::Applied { index: 8 });
    }

    #[test]
    fn range_preconditions_see_inserts_updates_and_deletes() {
        let (_d, s) = open();
        apply(
            &s,
            KvBatch {
                ops: vec![put(keys::bucket("bkt")), put(keys::object("bkt", "a"))],
                ..Default::default()
            },
            1,
        );
        let start = keys::objects_prefix("bkt");
        let read_as_of = |rows, max_revision| KvBatch {
            preconditions: vec![Precondition {
                key: start.clone(),
                expect: Expect::RangeUnchanged {
                    end: keys::prefix_end(&start),
                    rows,
                    max_revision,
                },
                violation: Violation::Conflict,
            }],
            ops: vec![put(keys::bucket("zzz"))],
            timestamp: 0,
        };
        assert_eq!(
            violation(apply(&s, read_as_of(0, 0), 2)),
            Violation::Conflict
        );
        assert_eq!(
            apply(&s, read_as_of(1, 1), 3),
            ApplyOutcome::Applied { index: 3 }
        );
        // A phantom: a new row in the range.
        apply(
            &s,
            KvBatch {
                ops: vec![put(keys::object("bkt", "b"))],
                ..Default::default()
            },
            4,
        );
        assert_eq!(
            violation(apply(&s, read_as_of(1, 1), 5)),
            Violation::Conflict
        );
        // A delete alone changes the count.
        apply(
            &s,
            KvBatch {
                ops: vec![KvOp::Delete {
                    key: keys::object("bkt", "a"),
                }],
                ..Default::default()
            },
            6,
        );
        assert_eq!(
            violation(apply(&s, read_as_of(2, 4), 7)),
            Violation::Conflict
        );
        assert_eq!(
            apply(&s, read_as_of(1, 4), 8),
            ApplyOutcome::Applied { index: 8 }
        );
    }

    #[test]
    fn invalid_names_are_refused_on_apply() {
        let (_d, s) = open();
        let bad = KvBatch {
            ops: vec![put(keys::bucket("BAD"))],
            ..Default::default()
        };
        assert_eq!(violation(apply(&s, bad, 1)), Violation::InvalidValue);
    }

    #[test]
    fn the_cluster_id_is_written_once_and_stays() {
        let (_d, s) = open();
        let id = |text: &str| KvBatch {
            ops: vec![KvOp::Put {
                key: keys::cluster_id(),
                columns: vec![Datum::Text(text.into())],
            }],
            ..Default::default()
        };
        assert_eq!(apply(&s, id("a"), 1), ApplyOutcome::Applied { index: 1 });
        // The same id again is harmless; another is refused, as is removal.
        assert_eq!(apply(&s, id("a"), 2), ApplyOutcome::Applied { index: 2 });
        assert_eq!(violation(apply(&s, id("b"), 3)), Violation::InvalidValue);
        let gone = KvBatch {
            ops: vec![KvOp::Delete {
                key: keys::cluster_id(),
            }],
            ..Default::default()
        };
        assert_eq!(violation(apply(&s, gone, 4)), Violation::InvalidValue);
    }
}

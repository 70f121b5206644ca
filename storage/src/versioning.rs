//! Object versioning, carried out by the state machine as it applies a
//! batch.
//!
//! The SQL layer plans writes to `objects` the same whatever a bucket's
//! versioning: put this row, delete that one. Applying them, the state
//! machine turns each into the writes the bucket's state asks for (S3
//! rules): on an `enabled` bucket an overwrite keeps the old version and a
//! delete leaves a delete marker; on a `suspended` one the new version is
//! the `null` version, replacing the previous `null` version. Doing it here,
//! and not in the planner, is what makes version ids deterministic: they are
//! derived from the log index, which only exists once the entry is in the
//! log and is the same on every replica.
//!
//! Layout: the current version, when it is not a delete marker, is the
//! `objects` row ([`keys::TAG_OBJECTS`]), so reading objects costs nothing
//! extra. Noncurrent versions and delete markers live under
//! [`keys::TAG_VERSIONS`], keyed by object key and the log index that made
//! them (its *sequence*), newest first. The current version's sequence is
//! its row's revision: every write of an `objects` row on a versioned bucket
//! makes a new version, and a version promoted back to current keeps the
//! revision it was made with.

use std::collections::{BTreeMap, HashMap};

use crate::batch::KvOp;
use crate::error::StorageError;
use crate::group::ApplyGroup;
use crate::keys::{self, DecodedKey};
use crate::row::{Datum, StoredRow};

/// Position of `versioning` among a `buckets` row's columns (the SQL
/// catalog defines them; a test there checks they agree).
pub const BUCKET_VERSIONING_COLUMN: usize = 3;
/// Position of `version_id` among an `objects` row's columns.
pub const OBJECT_VERSION_ID_COLUMN: usize = 2;
/// Position of `last_modified` among an `objects` row's columns.
pub const OBJECT_LAST_MODIFIED_COLUMN: usize = 7;
/// How many columns an `objects` row has. A stored version has these and
/// one more, `is_delete_marker`.
pub const OBJECT_COLUMNS: usize = 10;
/// The version id of objects written while versioning was not enabled.
pub const NULL_VERSION: &str = "null";

/// A bucket's versioning state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioning {
    Disabled,
    Enabled,
    Suspended,
}

impl Versioning {
    /// The state a `buckets` row records (absent or unknown: disabled).
    pub fn of_bucket(columns: &[Datum]) -> Versioning {
        match columns.get(BUCKET_VERSIONING_COLUMN) {
            Some(Datum::Text(s)) if s == "enabled" => Versioning::Enabled,
            Some(Datum::Text(s)) if s == "suspended" => Versioning::Suspended,
            _ => Versioning::Disabled,
        }
    }
}

/// The id of the version made by op `ordinal` of log entry `revision`:
/// unique, the same on every replica, and, as text, smaller for newer
/// versions, so `ORDER BY version_id` lists newest first.
pub fn version_id(revision: u64, ordinal: usize) -> String {
    format!("{:016x}{:08x}", u64::MAX - revision, ordinal)
}

/// The sequence a [`version_id`] was made from (`None`: not such an id,
/// e.g. `null`).
pub fn seq_of_version_id(id: &str) -> Option<u64> {
    if id.len() != 24 {
        return None;
    }
    let inverted = u64::from_str_radix(id.get(..16)?, 16).ok()?;
    Some(u64::MAX - inverted)
}

/// Sequences a restore may bring are below this, so that revisions, which
/// move past them, never wrap (a log reaches nowhere near it).
pub const MAX_SEQ: u64 = 1 << 62;

/// The sequence a [`KvOp::Restore`] brings, if it names one.
pub fn restored_seq(op: &KvOp) -> Option<u64> {
    match op {
        KvOp::Restore { seq, .. } => *seq,
        _ => None,
    }
}

/// Whether a stored version is a delete marker.
pub fn is_delete_marker(columns: &[Datum]) -> bool {
    columns.get(OBJECT_COLUMNS) == Some(&Datum::Bool(true))
}

fn version_id_of(columns: &[Datum]) -> Option<&str> {
    match columns.get(OBJECT_VERSION_ID_COLUMN) {
        Some(Datum::Text(s)) => Some(s),
        _ => None,
    }
}

/// One row write that applying a batch makes (`None`: delete).
pub(crate) struct RowWrite {
    pub key: Vec<u8>,
    pub row: Option<StoredRow>,
}

/// Works out a batch's row writes, op by op, each seeing the ones before.
struct Resolver<'g, 's> {
    group: &'g ApplyGroup<'s>,
    revision: u64,
    timestamp: i64,
    /// Rows written so far by this batch (`None`: deleted).
    pending: BTreeMap<Vec<u8>, Option<StoredRow>>,
    versioning: HashMap<Vec<u8>, Versioning>,
}

impl Resolver<'_, '_> {
    fn get(&self, key: &[u8]) -> Result<Option<StoredRow>, StorageError> {
        match self.pending.get(key) {
            Some(row) => Ok(row.clone()),
            None => self.group.row(key),
        }
    }

    fn put(&mut self, key: Vec<u8>, columns: Vec<Datum>, revision: u64) {
        self.pending
            .insert(key, Some(StoredRow { revision, columns }));
    }

    fn delete(&mut self, key: Vec<u8>) {
        self.pending.insert(key, None);
    }

    /// The bucket's versioning as of this point in the batch. Bucket rows
    /// the batch writes go through `pending` too, so they count.
    fn versioning(&mut self, bucket: &[u8]) -> Result<Versioning, StorageError> {
        if let Some(v) = self.versioning.get(bucket) {
            return Ok(*v);
        }
        let v = match self.get(&keys::bucket(bucket))? {
            Some(row) => Versioning::of_bucket(&row.columns),
            None => Versioning::Disabled,
        };
        self.versioning.insert(bucket.to_vec(), v);
        Ok(v)
    }

    /// The stored versions of one object, newest first, with their keys.
    fn history(
        &self,
        bucket: &[u8],
        key: &[u8],
    ) -> Result<Vec<(Vec<u8>, StoredRow)>, StorageError> {
        let prefix = keys::key_versions_prefix(bucket, key);
        let mut rows: BTreeMap<Vec<u8>, StoredRow> = BTreeMap::new();
        self.group
            .scan(&prefix, keys::prefix_end(&prefix), |k, v| {
                rows.insert(k.to_vec(), StoredRow::decode(v)?);
                Ok(true)
            })?;
        for (k, row) in self
            .pending
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
        {
            match row {
                Some(row) => rows.insert(k.clone(), row.clone()),
                None => rows.remove(k),
            };
        }
        Ok(rows.into_iter().collect())
    }

    /// Moves the current version of an object into the stored versions,
    /// or drops it when `drop_null` and it is the `null` version. A current
    /// row this batch wrote is simply replaced: a batch makes at most one
    /// version of each object.
    fn retire_current(
        &mut self,
        bucket: &[u8],
        key: &[u8],
        drop_null: bool,
    ) -> Result<(), StorageError> {
        let object_key = keys::object(bucket, key);
        let Some(current) = self.get(&object_key)? else {
            return Ok(());
        };
        self.delete(object_key);
        if current.revision == self.revision
            || (drop_null && version_id_of(&current.columns) == Some(NULL_VERSION))
        {
            return Ok(());
        }
        let mut columns = current.columns;
        columns.resize(OBJECT_COLUMNS, Datum::Null);
        columns.push(Datum::Bool(false));
        let at = keys::version(bucket, key, current.revision);
        self.put(at, columns, self.revision);
        Ok(())
    }

    /// Removes the stored `null` version of an object, if any.
    fn drop_null_version(&mut self, bucket: &[u8], key: &[u8]) -> Result<(), StorageError> {
        for (k, row) in self.history(bucket, key)? {
            if version_id_of(&row.columns) == Some(NULL_VERSION) {
                self.delete(k);
            }
        }
        Ok(())
    }

    /// Writes a delete marker as the newest version of an object.
    fn put_marker(&mut self, bucket: &[u8], key: &[u8], id: String) {
        let text = |b: &[u8]| Datum::Text(String::from_utf8_lossy(b).into_owned());
        let mut columns = vec![Datum::Null; OBJECT_COLUMNS];
        columns[0] = text(bucket);
        columns[1] = text(key);
        columns[OBJECT_VERSION_ID_COLUMN] = Datum::Text(id);
        columns[OBJECT_LAST_MODIFIED_COLUMN] = Datum::Timestamp(self.timestamp);
        columns.push(Datum::Bool(true));
        let at = keys::version(bucket, key, self.revision);
        self.put(at, columns, self.revision);
    }

    /// After a version was removed for good: when the object has no current
    /// row and its newest stored version is not a delete marker, that
    /// version becomes current again.
    fn promote(&mut self, bucket: &[u8], key: &[u8]) -> Result<(), StorageError> {
        let object_key = keys::object(bucket, key);
        if self.get(&object_key)?.is_some() {
            return Ok(());
        }
        let Some((at, newest)) = self.history(bucket, key)?.into_iter().next() else {
            return Ok(());
        };
        if is_delete_marker(&newest.columns) {
            return Ok(());
        }
        let Some(DecodedKey::Version { seq, .. }) = keys::decode(&at) else {
            return Err(StorageError::Corrupt("undecodable version key".into()));
        };
        let mut columns = newest.columns;
        columns.truncate(OBJECT_COLUMNS);
        self.delete(at);
        self.put(object_key, columns, seq);
        Ok(())
    }

    /// A client's write of an `objects` row.
    fn object_op(
        &mut self,
        op: &KvOp,
        ordinal: usize,
        bucket: &[u8],
        key: &[u8],
    ) -> Result<(), StorageError> {
        let versioning = self.versioning(bucket)?;
        let id = match versioning {
            Versioning::Enabled => version_id(self.revision, ordinal),
            _ => NULL_VERSION.to_string(),
        };
        match versioning {
            Versioning::Disabled => {}
            Versioning::Enabled => self.retire_current(bucket, key, false)?,
            Versioning::Suspended => {
                self.retire_current(bucket, key, true)?;
                self.drop_null_version(bucket, key)?;
            }
        }
        match op.columns() {
            Some(columns) => {
                let mut columns = columns.to_vec();
                columns.resize(OBJECT_COLUMNS, Datum::Null);
                columns[OBJECT_VERSION_ID_COLUMN] = Datum::Text(id);
                self.put(op.key().to_vec(), columns, self.revision);
            }
            None => {
                self.delete(op.key().to_vec());
                if versioning != Versioning::Disabled {
                    self.put_marker(bucket, key, id);
                }
            }
        }
        Ok(())
    }

    /// A version restored as it was dumped ([`KvOp::Restore`]).
    fn restore(
        &mut self,
        at: &[u8],
        columns: &[Datum],
        seq: Option<u64>,
    ) -> Result<(), StorageError> {
        let mut columns = columns.to_vec();
        match keys::decode(at) {
            Some(DecodedKey::Object { .. }) => {
                columns.resize(OBJECT_COLUMNS, Datum::Null);
                self.put(at.to_vec(), columns, seq.unwrap_or(self.revision));
            }
            Some(DecodedKey::Version { bucket, key, seq }) => {
                columns.resize(OBJECT_COLUMNS + 1, Datum::Null);
                self.put(at.to_vec(), columns, self.revision);
                // A current `null` version restored before its older
                // versions got the revision of its own entry, which may be
                // below theirs: it must stay the newest.
                let object_key = keys::object(bucket, &key);
                if let Some(current) = self.get(&object_key)? {
                    if current.revision <= seq
                        && version_id_of(&current.columns) == Some(NULL_VERSION)
                    {
                        self.put(object_key, current.columns, self.revision);
                    }
                }
            }
            _ => {
                return Err(StorageError::Corrupt(
                    "restore of a row that is no version".into(),
                ))
            }
        }
        Ok(())
    }

    /// A client's permanent removal of one version (`DELETE FROM
    /// object_versions`), named by its sequence whether it is current or
    /// stored.
    fn remove_version(&mut self, bucket: &[u8], key: &[u8], seq: u64) -> Result<(), StorageError> {
        let at = keys::version(bucket, key, seq);
        if self.get(&at)?.is_some() {
            self.delete(at);
        } else {
            let object_key = keys::object(bucket, key);
            match self.get(&object_key)? {
                Some(current) if current.revision == seq => self.delete(object_key),
                _ => return Ok(()),
            }
        }
        self.promote(bucket, key)
    }
}

impl ApplyGroup<'_> {
    /// The row writes that applying `ops` as log entry `revision` makes,
    /// versioning included. Called only for batches that passed their
    /// checks.
    pub(crate) fn resolve_writes(
        &self,
        ops: &[KvOp],
        revision: u64,
        timestamp: i64,
    ) -> Result<Vec<RowWrite>, StorageError> {
        let mut r = Resolver {
            group: self,
            revision,
            timestamp,
            pending: BTreeMap::new(),
            versioning: HashMap::new(),
        };
        for (ordinal, op) in ops.iter().enumerate() {
            if let KvOp::Restore { key, columns, seq } = op {
                r.restore(key, columns, *seq)?;
                continue;
            }
            match keys::decode(op.key()) {
                Some(DecodedKey::Object { bucket, key }) => {
                    r.object_op(op, ordinal, bucket, key)?
                }
                Some(DecodedKey::Version { bucket, key, seq }) => {
                    r.remove_version(bucket, &key, seq)?
                }
                decoded => {
                    if let Some(DecodedKey::Bucket { name }) = decoded {
                        // Its versioning may change with this op.
                        r.versioning.remove(name);
                    }
                    match op.columns() {
                        Some(columns) => r.put(op.key().to_vec(), columns.to_vec(), revision),
                        None => r.delete(op.key().to_vec()),
                    }
                }
            }
        }
        Ok(r.pending
            .into_iter()
            .map(|(key, row)| RowWrite { key, row })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApplyOutcome, KvBatch, Store};

    fn bucket(versioning: &str) -> KvOp {
        let mut columns = vec![Datum::Null; BUCKET_VERSIONING_COLUMN + 1];
        columns[BUCKET_VERSIONING_COLUMN] = Datum::Text(versioning.into());
        KvOp::Put {
            key: keys::bucket("bkt"),
            columns,
        }
    }

    fn object(key: &str, size: i64) -> KvOp {
        let mut columns = vec![Datum::Null; OBJECT_COLUMNS];
        columns[0] = Datum::Text("bkt".into());
        columns[1] = Datum::Text(key.into());
        columns[3] = Datum::Int(size);
        KvOp::Put {
            key: keys::object("bkt", key),
            columns,
        }
    }

    fn delete(key: Vec<u8>) -> KvOp {
        KvOp::Delete { key }
    }

    fn apply(s: &Store, ops: Vec<KvOp>, rev: u64) -> ApplyOutcome {
        let b = KvBatch {
            ops,
            timestamp: 77,
            ..Default::default()
        };
        s.apply_batch(&b, rev, &[]).unwrap()
    }

    /// The object's versions newest first: (version id, size, is marker),
    /// current row first when there is one.
    fn versions(s: &Store, key: &str) -> Vec<(String, Datum, bool)> {
        let view = s.read_view();
        let mut out = vec![];
        let show = |row: &StoredRow| {
            let id = match &row.columns[OBJECT_VERSION_ID_COLUMN] {
                Datum::Text(t) => t.clone(),
                other => format!("{other:?}"),
            };
            (id, row.columns[3].clone(), is_delete_marker(&row.columns))
        };
        if let Some(row) = view.get(&keys::object("bkt", key)).unwrap() {
            out.push(show(&row));
        }
        let prefix = keys::key_versions_prefix(b"bkt", key.as_bytes());
        for item in view.scan(&prefix, keys::prefix_end(&prefix)) {
            out.push(show(&item.unwrap().1));
        }
        out
    }

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    /// Entries applied in one write decide and write exactly what they
    /// do applied one by one: each sees the rows the ones before it wrote
    /// (parents, versions, counters), whatever the group's bounds.
    #[test]
    fn grouped_entries_decide_as_entries_written_one_by_one() {
        let entries = vec![
            vec![bucket("disabled")],
            vec![object("k", 1)],
            vec![bucket("enabled")],
            vec![object("k", 2)],
            vec![delete(keys::object("bkt", "k"))],
            vec![object("j", 5)],
            vec![delete(keys::bucket("bkt"))],
            vec![object("k", 3)],
            vec![bucket("disabled")],
            vec![bucket("suspended")],
            vec![object("k", 4)],
            vec![object("k", 6), object("j", 1)],
            vec![delete(keys::object("bkt", "j"))],
            // A bucket emptied by an entry before can go.
            vec![KvOp::Put {
                key: keys::bucket("bk2"),
                columns: vec![],
            }],
            vec![KvOp::Put {
                key: keys::object("bk2", "x"),
                columns: vec![],
            }],
            vec![delete(keys::object("bk2", "x"))],
            vec![delete(keys::bucket("bk2"))],
        ];
        let run = |group_size: usize| {
            let (dir, s) = open();
            let mut outcomes = vec![];
            let mut group = s.apply_group();
            for (i, ops) in entries.iter().enumerate() {
                let b = KvBatch {
                    ops: ops.clone(),
                    timestamp: 77,
                    ..Default::default()
                };
                outcomes.push(group.apply_batch(&b, i as u64 + 1, &[]).unwrap());
                if group.len() == group_size {
                    group.write().unwrap();
                }
            }
            group.write().unwrap();
            let view = s.read_view();
            let state = (
                view.get(&keys::bucket("bk2")).unwrap(),
                view.digest().unwrap(),
                view.bucket_stats("bkt").unwrap(),
                versions(&s, "k"),
            );
            drop(dir);
            (outcomes, state)
        };
        let one_by_one = run(1);
        let rejected = one_by_one
            .0
            .iter()
            .filter(|o| matches!(o, ApplyOutcome::Rejected(_)))
            .count();
        assert_eq!(rejected, 2, "{:?}", one_by_one.0);
        assert_eq!(one_by_one.1 .2.objects, 1);
        assert_eq!(one_by_one.1 .0, None);
        for size in [2, 3, entries.len()] {
            assert_eq!(run(size), one_by_one, "groups of {size}");
        }
    }

    #[test]
    fn enabled_bucket_keeps_every_version_and_deletes_leave_markers() {
        let (_d, s) = open();
        apply(&s, vec![bucket("disabled"), object("k", 1)], 1);
        apply(&s, vec![bucket("enabled")], 2);
        apply(&s, vec![object("k", 2)], 3);
        apply(&s, vec![delete(keys::object("bkt", "k"))], 4);
        let v3 = version_id(3, 0);
        let v4 = version_id(4, 0);
        assert!(v4 < v3, "newer ids sort first");
        assert_eq!(seq_of_version_id(&v3), Some(3));
        assert_eq!(seq_of_version_id("null"), None);
        assert_eq!(
            versions(&s, "k"),
            vec![
                (v4.clone(), Datum::Null, true),
                (v3.clone(), Datum::Int(2), false),
                ("null".into(), Datum::Int(1), false),
            ]
        );
        assert_eq!(s.read_view().bucket_stats("bkt").unwrap().objects, 0);
        // Removing the delete marker makes the version before it current.
        apply(&s, vec![delete(keys::version(b"bkt", b"k", 4))], 5);
        assert_eq!(
            versions(&s, "k"),
            vec![
                (v3.clone(), Datum::Int(2), false),
                ("null".into(), Datum::Int(1), false),
            ]
        );
        let current = s
            .read_view()
            .get(&keys::object("bkt", "k"))
            .unwrap()
            .unwrap();
        assert_eq!(current.revision, 3, "a promoted version keeps its sequence");
        assert_eq!(s.read_view().bucket_stats("bkt").unwrap().bytes, 2);
        // Removing the current version promotes the one before it.
        apply(&s, vec![delete(keys::version(b"bkt", b"k", 3))], 6);
        assert_eq!(
            versions(&s, "k"),
            vec![("null".into(), Datum::Int(1), false)]
        );
        // A bucket with versions left cannot be dropped.
        apply(&s, vec![delete(keys::object("bkt", "k"))], 7);
        let drop = apply(&s, vec![delete(keys::bucket("bkt"))], 8);
        assert!(matches!(drop, ApplyOutcome::Rejected(_)));
    }

    #[test]
    fn suspended_bucket_replaces_the_null_version() {
        let (_d, s) = open();
        apply(&s, vec![bucket("enabled"), object("k", 1)], 1);
        apply(&s, vec![bucket("suspended")], 2);
        apply(&s, vec![object("k", 2)], 3);
        apply(&s, vec![object("k", 3)], 4);
        assert_eq!(
            versions(&s, "k"),
            vec![
                ("null".into(), Datum::Int(3), false),
                (version_id(1, 1), Datum::Int(1), false),
            ]
        );
        apply(&s, vec![delete(keys::object("bkt", "k"))], 5);
        assert_eq!(
            versions(&s, "k"),
            vec![
                ("null".into(), Datum::Null, true),
                (version_id(1, 1), Datum::Int(1), false),
            ]
        );
    }

    #[test]
    fn versioning_cannot_be_disabled_again() {
        let (_d, s) = open();
        apply(&s, vec![bucket("enabled")], 1);
        assert!(matches!(
            apply(&s, vec![bucket("disabled")], 2),
            ApplyOutcome::Rejected(_)
        ));
        assert!(matches!(
            apply(&s, vec![bucket("suspended")], 3),
            ApplyOutcome::Applied { .. }
        ));
        let forged = KvOp::Put {
            key: keys::version(b"bkt", b"k", 1),
            columns: vec![],
        };
        assert!(matches!(
            apply(&s, vec![forged], 4),
            ApplyOutcome::Rejected(_)
        ));
    }

    #[test]
    fn disabled_bucket_overwrites_in_place() {
        let (_d, s) = open();
        apply(&s, vec![bucket("disabled"), object("k", 1)], 1);
        apply(&s, vec![object("k", 2)], 2);
        assert_eq!(
            versions(&s, "k"),
            vec![("null".into(), Datum::Int(2), false)]
        );
        apply(&s, vec![delete(keys::object("bkt", "k"))], 3);
        assert!(versions(&s, "k").is_empty());
    }

    /// A version restored from another cluster, as COPY plans it.
    fn restored(key: &str, id: &str, size: i64, seq: u64, current: bool) -> KvOp {
        let KvOp::Put { mut columns, .. } = object(key, size) else {
            unreachable!()
        };
        columns[OBJECT_VERSION_ID_COLUMN] = Datum::Text(id.into());
        if current {
            let seq = seq_of_version_id(id);
            return KvOp::Restore {
                key: keys::object("bkt", key),
                columns,
                seq,
            };
        }
        columns.push(Datum::Bool(false));
        KvOp::Restore {
            key: keys::version(b"bkt", key.as_bytes(), seq),
            columns,
            seq: Some(seq),
        }
    }

    #[test]
    fn restored_versions_keep_their_ids_and_later_ones_are_newer() {
        let (_d, s) = open();
        apply(&s, vec![bucket("enabled")], 1);
        // Made at log index 900 and 500 of another cluster's log.
        let (v900, v500) = (version_id(900, 0), version_id(500, 3));
        let current = restored("k", &v900, 2, 900, true);
        apply(&s, vec![current, restored("k", &v500, 1, 500, false)], 2);
        let row = s
            .read_view()
            .get(&keys::object("bkt", "k"))
            .unwrap()
            .unwrap();
        assert_eq!(
            row.revision, 900,
            "a restored current version keeps its sequence"
        );
        // The next write of this log (index 3, revision 902: entry 2 had
        // revision 901) is newer than both.
        apply(&s, vec![object("k", 3)], 3);
        let v_new = version_id(902, 0);
        assert_eq!(
            versions(&s, "k"),
            vec![
                (v_new.clone(), Datum::Int(3), false),
                (v900.clone(), Datum::Int(2), false),
                (v500, Datum::Int(1), false),
            ]
        );
        // Removing the new version makes the restored one current again.
        apply(&s, vec![delete(keys::version(b"bkt", b"k", 902))], 4);
        assert_eq!(versions(&s, "k")[0], (v900, Datum::Int(2), false));
        // A sequence a log could never reach is refused.
        let far = restored("j", &version_id(MAX_SEQ, 0), 1, MAX_SEQ, false);
        assert!(matches!(apply(&s, vec![far], 5), ApplyOutcome::Rejected(_)));
    }

    #[test]
    fn a_current_null_version_restored_first_stays_the_newest() {
        let (_d, s) = open();
        apply(&s, vec![bucket("suspended")], 1);
        // `objects` came first: its null version got this log's revision.
        apply(&s, vec![restored("k", NULL_VERSION, 2, 0, true)], 2);
        // Then its older versions, made far later in the other log.
        let v700 = version_id(700, 0);
        apply(&s, vec![restored("k", &v700, 1, 700, false)], 3);
        let row = s
            .read_view()
            .get(&keys::object("bkt", "k"))
            .unwrap()
            .unwrap();
        assert!(row.revision > 700, "{}", row.revision);
        // An overwrite in the suspended bucket replaces the null version
        // and keeps the older one.
        apply(&s, vec![object("k", 5)], 4);
        assert_eq!(
            versions(&s, "k"),
            vec![
                (NULL_VERSION.into(), Datum::Int(5), false),
                (v700, Datum::Int(1), false),
            ]
        );
    }
}

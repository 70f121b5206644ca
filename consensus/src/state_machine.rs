//! The replicated state machine: applies KV batches to `storage`, keeping the
//! last-applied log id and the membership in the same RocksDB write as the
//! data, and keeps snapshots as files.

use std::io;
use std::path::{Path, PathBuf};

use bucketdb_storage::{sync_parent, verify_snapshot, ApplyGroup, Store};
use futures::{Stream, TryStreamExt};
use openraft::entry::RaftEntry;
use openraft::storage::{ApplyResponder, EntryResponder, RaftStateMachine};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};

use crate::check::Digests;
use crate::codec;
use crate::lease::LeaderLease;
use crate::snapshot_schedule::SnapshotSchedule;
use crate::types::{Command, CommandResponse, TypeConfig};

pub(crate) const LAST_APPLIED: &str = "last_applied";
pub(crate) const MEMBERSHIP: &str = "membership";

/// A snapshot's rows, as a file on local disk (format: `bucketdb_storage`'s
/// snapshot files). The node transport streams it in chunks.
#[derive(Debug)]
pub struct SnapshotFile {
    pub path: PathBuf,
}

#[derive(Clone)]
pub struct StateMachine {
    store: Store,
    snapshot_dir: PathBuf,
    /// Where check entries leave their digests.
    digests: Digests,
    /// Told of each applied index before its proposer is answered.
    lease: LeaderLease,
    /// Told of each applied entry, and of each snapshot built or installed.
    snapshots: SnapshotSchedule,
}

impl StateMachine {
    pub(crate) fn new(
        store: Store,
        snapshot_dir: PathBuf,
        digests: Digests,
        lease: LeaderLease,
        snapshots: SnapshotSchedule,
    ) -> Result<StateMachine, io::Error> {
        std::fs::create_dir_all(&snapshot_dir)?;
        // Files of a snapshot build that a crash interrupted are never used.
        for entry in std::fs::read_dir(&snapshot_dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("building-") || name.ends_with(".partial") || name.ends_with(".tmp")
            {
                std::fs::remove_file(entry.path())?;
            }
        }
        let sm = StateMachine {
            store,
            snapshot_dir,
            digests,
            lease,
            snapshots,
        };
        sm.finish_interrupted_install()?;
        if let (Some(applied), _) = sm.applied()? {
            sm.lease.applied(applied.index());
        }
        // Entries are counted from the newest snapshot kept; its rows are
        // not known before the next one.
        if let Some(newest) = sm.snapshot_indexes()?.last() {
            sm.snapshots.snapshotted(*newest, 0);
        }
        Ok(sm)
    }

    /// A crash during a snapshot install leaves a partial state machine;
    /// the snapshot file was kept before the import began, so import it
    /// again.
    fn finish_interrupted_install(&self) -> Result<(), io::Error> {
        if !self.store.interrupted_install()? {
            return Ok(());
        }
        let Some(&index) = self.snapshot_indexes()?.last() else {
            return Err(io::Error::other(
                "a snapshot install was interrupted and its snapshot file is missing",
            ));
        };
        let meta: SnapshotMetaOf<TypeConfig> =
            codec::decode(&std::fs::read(self.meta_path(index))?)?;
        tracing::warn!(index, "redoing a snapshot install a crash interrupted");
        self.store
            .import_snapshot(&self.data_path(index), &meta_values(&meta)?)?;
        Ok(())
    }

    fn applied(
        &self,
    ) -> Result<(Option<LogIdOf<TypeConfig>>, StoredMembershipOf<TypeConfig>), io::Error> {
        let applied: Option<LogIdOf<TypeConfig>> = match self.store.sm_meta(LAST_APPLIED)? {
            Some(b) => codec::decode(&b)?,
            None => None,
        };
        let membership = match self.store.sm_meta(MEMBERSHIP)? {
            Some(b) => codec::decode(&b)?,
            None => StoredMembershipOf::<TypeConfig>::default(),
        };
        Ok((applied, membership))
    }

    fn data_path(&self, index: u64) -> PathBuf {
        self.snapshot_dir.join(format!("snapshot-{index:020}.data"))
    }

    fn meta_path(&self, index: u64) -> PathBuf {
        self.snapshot_dir.join(format!("snapshot-{index:020}.meta"))
    }

    /// Indexes of the complete snapshots on disk (a snapshot is complete
    /// once its `.meta` file exists: it is written last).
    fn snapshot_indexes(&self) -> Result<Vec<u64>, io::Error> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.snapshot_dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(idx) = name
                .strip_prefix("snapshot-")
                .and_then(|s| s.strip_suffix(".meta"))
                .and_then(|s| s.parse::<u64>().ok())
            {
                out.push(idx);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Makes `data` the snapshot for `meta`: moves it in place, writes the
    /// meta file last, makes both names durable, and only then removes older
    /// snapshots (a crash at any point leaves one complete snapshot).
    fn keep_snapshot(
        &self,
        meta: &SnapshotMetaOf<TypeConfig>,
        data: &Path,
    ) -> Result<PathBuf, io::Error> {
        let index = meta.last_log_id.as_ref().map(|l| l.index()).unwrap_or(0);
        let data_path = self.data_path(index);
        if data != data_path {
            std::fs::rename(data, &data_path)?;
        }
        write_synced(&self.meta_path(index), &codec::encode(meta)?)?;
        sync_parent(&data_path)?;
        for old in self.snapshot_indexes()? {
            if old < index {
                let _ = std::fs::remove_file(self.meta_path(old));
                let _ = std::fs::remove_file(self.data_path(old));
            }
        }
        Ok(data_path)
    }
}

/// The state-machine metadata a snapshot brings along.
fn meta_values(
    meta: &SnapshotMetaOf<TypeConfig>,
) -> Result<Vec<(&'static str, Vec<u8>)>, io::Error> {
    Ok(vec![
        (LAST_APPLIED, codec::encode(&meta.last_log_id)?),
        (MEMBERSHIP, codec::encode(&meta.last_membership)?),
    ])
}

/// Writes `bytes` to `path` durably: a temporary file, fsynced, renamed,
/// and the directory fsynced.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), io::Error> {
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)?;
    Ok(sync_parent(path)?)
}

/// An applied entry not yet answered: its index, who waits for it, and
/// the answer.
type Decided = (u64, Option<ApplyResponder<TypeConfig>>, CommandResponse);

/// The most entries written together: bounds the rows a group holds in
/// memory when a restarted node applies a long log.
const MAX_GROUP: usize = 256;

impl StateMachine {
    /// Writes the group's entries, then makes them readable to linearizable
    /// reads and answers their clients, in log order.
    fn write_group(
        &self,
        group: &mut ApplyGroup<'_>,
        decided: &mut Vec<Decided>,
    ) -> Result<(), io::Error> {
        group.write()?;
        for (index, responder, response) in decided.drain(..) {
            self.lease.applied(index);
            self.snapshots.applied(index);
            if let Some(r) = responder {
                r.send(response);
            }
        }
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotFile;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<TypeConfig, SnapshotFile>, io::Error> {
        let building = self.snapshot_dir.join(format!(
            "building-{}.data",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let store = self.store.clone();
        let path = building.clone();
        let exported = tokio::task::spawn_blocking(move || {
            store.export_snapshot(&path, &[LAST_APPLIED, MEMBERSHIP])
        })
        .await
        .map_err(io::Error::other)??;
        let meta_values = exported.meta;
        let last_log_id: Option<LogIdOf<TypeConfig>> = match &meta_values[0] {
            Some(b) => codec::decode(b)?,
            None => None,
        };
        let last_membership = match &meta_values[1] {
            Some(b) => codec::decode(b)?,
            None => StoredMembershipOf::<TypeConfig>::default(),
        };
        let meta = SnapshotMetaOf::<TypeConfig> {
            last_log_id,
            last_membership,
        };
        let path = self.keep_snapshot(&meta, &building)?;
        let index = meta.last_log_id.as_ref().map_or(0, |l| l.index());
        self.snapshots.snapshotted(index, exported.records);
        Ok(SnapshotOf::<TypeConfig, SnapshotFile> {
            meta,
            snapshot: SnapshotFile { path },
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotFile;
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<TypeConfig>>, StoredMembershipOf<TypeConfig>), io::Error> {
        self.applied()
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        // The entries of one call are written together (see storage's
        // `group`), and answered once they are readable.
        let store = self.store.clone();
        let mut group = store.apply_group();
        let mut decided = Vec::new();
        while let Some((entry, responder)) = entries.try_next().await? {
            let log_id = entry.log_id();
            let index = log_id.index();
            let mut meta = vec![(LAST_APPLIED, codec::encode(&Some(log_id))?)];
            let response = match &entry.payload {
                EntryPayload::Blank => {
                    group.add_meta(&meta);
                    CommandResponse::Done
                }
                EntryPayload::Membership(m) => {
                    let stored = StoredMembershipOf::<TypeConfig>::new(Some(log_id), m.clone());
                    meta.push((MEMBERSHIP, codec::encode(&stored)?));
                    group.add_meta(&meta);
                    CommandResponse::Done
                }
                EntryPayload::Normal(Command::Write(batch)) => {
                    CommandResponse::Write(group.apply_batch(batch, index, &meta)?)
                }
                EntryPayload::Normal(Command::Check) => {
                    group.add_meta(&meta);
                    // The digest is of the state at this entry, written.
                    self.write_group(&mut group, &mut decided)?;
                    self.digests.take(&self.store, index);
                    CommandResponse::Done
                }
            };
            decided.push((index, responder, response));
            if group.len() >= MAX_GROUP {
                self.write_group(&mut group, &mut decided)?;
            }
        }
        self.write_group(&mut group, &mut decided)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<TypeConfig>,
        snapshot: SnapshotFile,
    ) -> Result<(), io::Error> {
        let (applied, _) = self.applied()?;
        if applied.is_some() && applied >= meta.last_log_id {
            // Never go back: this state is already at or past the snapshot.
            return Ok(());
        }
        // Checked before it is kept: a kept snapshot replaces the older
        // ones, and a node whose newest snapshot is unreadable cannot start.
        let received = snapshot.path.clone();
        tokio::task::spawn_blocking(move || verify_snapshot(&received))
            .await
            .map_err(io::Error::other)??;
        // Kept before the import: should the import be cut short, the next
        // start imports this file again (see `finish_interrupted_install`).
        let path = self.keep_snapshot(meta, &snapshot.path)?;
        let values = meta_values(meta)?;
        let store = self.store.clone();
        let rows = tokio::task::spawn_blocking(move || store.import_snapshot(&path, &values))
            .await
            .map_err(io::Error::other)??;
        if let Some(applied) = &meta.last_log_id {
            self.lease.applied(applied.index());
            self.snapshots.snapshotted(applied.index(), rows);
        }
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<TypeConfig, SnapshotFile>>, io::Error> {
        let Some(&index) = self.snapshot_indexes()?.last() else {
            return Ok(None);
        };
        let meta: SnapshotMetaOf<TypeConfig> =
            codec::decode(&std::fs::read(self.meta_path(index))?)?;
        Ok(Some(SnapshotOf::<TypeConfig, SnapshotFile> {
            meta,
            snapshot: SnapshotFile {
                path: self.data_path(index),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use bucketdb_storage::{keys, Datum, KvBatch, KvOp};
    use openraft::testing::log_id;

    use super::*;

    #[tokio::test]
    async fn a_corrupt_snapshot_is_refused_and_the_kept_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let applied = codec::encode(&Some(log_id::<TypeConfig>(1, 1, 5))).unwrap();
        store
            .apply_batch(
                &KvBatch {
                    ops: vec![KvOp::Put {
                        key: keys::bucket("kept"),
                        columns: vec![Datum::Text("kept".into())],
                    }],
                    ..Default::default()
                },
                5,
                &[(LAST_APPLIED, applied)],
            )
            .unwrap();
        let mut sm = StateMachine::new(
            store.clone(),
            dir.path().join("snapshots"),
            Digests::default(),
            LeaderLease::default(),
            SnapshotSchedule::new(1000),
        )
        .unwrap();
        let snap = sm.build_snapshot().await.unwrap();
        let kept = sm.snapshot_indexes().unwrap();
        assert_eq!(kept, [5]);

        let mut bytes = std::fs::read(&snap.snapshot.path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x5a;
        let bad = dir.path().join("incoming.partial");
        std::fs::write(&bad, bytes).unwrap();
        let newer = SnapshotMetaOf::<TypeConfig> {
            last_log_id: Some(log_id::<TypeConfig>(2, 1, 50)),
            last_membership: Default::default(),
        };
        let err = sm
            .install_snapshot(&newer, SnapshotFile { path: bad })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        assert_eq!(sm.snapshot_indexes().unwrap(), kept);
        assert!(std::fs::metadata(sm.data_path(5)).is_ok());
        assert!(store
            .read_view()
            .get(&keys::bucket("kept"))
            .unwrap()
            .is_some());
    }
}

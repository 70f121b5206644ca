//! State-machine snapshots as files: exported from one RocksDB snapshot by
//! streaming (never held whole in memory) and checked before import.
//!
//! File format: the magic `BKTSNAP1`, then records `[u32 key len][key][u32
//! value len][value]` (little endian), then `[u32::MAX][u64 record count][u32
//! crc32 of every byte before]`.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use rocksdb::{IteratorMode, WriteBatch};

use crate::error::StorageError;
use crate::store::{Store, CF_SM_DATA, CF_SM_META};

const MAGIC: &[u8; 8] = b"BKTSNAP1";

/// What [`Store::export_snapshot`] wrote.
#[derive(Debug)]
pub struct Exported {
    /// The values of the asked metadata keys, as of the file's rows.
    pub meta: Vec<Option<Vec<u8>>>,
    /// How many rows the file holds.
    pub records: u64,
}

/// One stored row: key and encoded value.
pub type Record = (Vec<u8>, Vec<u8>);
const END: u32 = u32::MAX;

/// Writes records and keeps the running checksum.
pub struct SnapshotWriter<W: Write> {
    out: W,
    crc: crc32fast::Hasher,
    count: u64,
}

impl<W: Write> SnapshotWriter<W> {
    pub fn new(mut out: W) -> Result<Self, StorageError> {
        out.write_all(MAGIC)?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(MAGIC);
        Ok(SnapshotWriter { out, crc, count: 0 })
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.out.write_all(bytes)?;
        self.crc.update(bytes);
        Ok(())
    }

    pub fn record(&mut self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        // A file no node could import must not be written.
        if key.len() > MAX_FIELD as usize || value.len() > MAX_FIELD as usize {
            return Err(StorageError::Corrupt(format!(
                "snapshot: a row of {} bytes is larger than a snapshot record may be ({MAX_FIELD})",
                key.len() + value.len()
            )));
        }
        self.put(&(key.len() as u32).to_le_bytes())?;
        self.put(key)?;
        self.put(&(value.len() as u32).to_le_bytes())?;
        self.put(value)?;
        self.count += 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<(W, u64), StorageError> {
        self.put(&END.to_le_bytes())?;
        let count = self.count;
        self.put(&count.to_le_bytes())?;
        let crc = self.crc.clone().finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        Ok((self.out, count))
    }
}

/// Reads records back, verifying the checksum at the end.
pub struct SnapshotReader<R: Read> {
    input: R,
    crc: crc32fast::Hasher,
    count: u64,
    done: bool,
}

fn corrupt(msg: impl Into<String>) -> StorageError {
    StorageError::Corrupt(format!("snapshot: {}", msg.into()))
}

/// Largest key or value a snapshot record may hold, so a corrupt length
/// cannot make the reader allocate without bound. Every row the write
/// limits admit is smaller (see [`crate::Limits`]).
pub const MAX_FIELD: u32 = 64 << 20;

impl<R: Read> SnapshotReader<R> {
    pub fn new(mut input: R) -> Result<Self, StorageError> {
        let mut magic = [0u8; 8];
        input
            .read_exact(&mut magic)
            .map_err(|_| corrupt("too short"))?;
        if &magic != MAGIC {
            return Err(corrupt("bad magic"));
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&magic);
        Ok(SnapshotReader {
            input,
            crc,
            count: 0,
            done: false,
        })
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, StorageError> {
        let mut buf = vec![0u8; n];
        self.input
            .read_exact(&mut buf)
            .map_err(|_| corrupt("truncated"))?;
        self.crc.update(&buf);
        Ok(buf)
    }

    fn take_u32(&mut self) -> Result<u32, StorageError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn field(&mut self) -> Result<Vec<u8>, StorageError> {
        let len = self.take_u32()?;
        if len > MAX_FIELD {
            return Err(corrupt("oversized record"));
        }
        self.take(len as usize)
    }

    /// The next record, or `None` after the verified end.
    pub fn next_record(&mut self) -> Result<Option<Record>, StorageError> {
        if self.done {
            return Ok(None);
        }
        let klen = self.take_u32()?;
        if klen == END {
            let c = self.take(8)?;
            let count = u64::from_le_bytes(c.try_into().map_err(|_| corrupt("count"))?);
            let expected = self.crc.clone().finalize();
            let mut crc = [0u8; 4];
            self.input
                .read_exact(&mut crc)
                .map_err(|_| corrupt("truncated"))?;
            if u32::from_le_bytes(crc) != expected || count != self.count {
                return Err(corrupt("checksum mismatch"));
            }
            self.done = true;
            return Ok(None);
        }
        if klen > MAX_FIELD {
            return Err(corrupt("oversized record"));
        }
        let key = self.take(klen as usize)?;
        let value = self.field()?;
        self.count += 1;
        Ok(Some((key, value)))
    }
}

impl Store {
    /// Streams every state-machine row, as of one RocksDB snapshot, to a new
    /// file at `path` (written beside it and renamed when synced). Returns the
    /// values of `meta_keys` read from the same snapshot, so the caller knows
    /// exactly which applied state the file holds, and the number of rows.
    pub fn export_snapshot(
        &self,
        path: &Path,
        meta_keys: &[&str],
    ) -> Result<Exported, StorageError> {
        let snap = self.db().snapshot();
        let meta = meta_keys
            .iter()
            .map(|k| snap.get_cf(self.cf(CF_SM_META), k.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let tmp = path.with_extension("partial");
        let mut w = SnapshotWriter::new(BufWriter::new(File::create(&tmp)?))?;
        for item in snap.iterator_cf(self.cf(CF_SM_DATA), IteratorMode::Start) {
            let (k, v) = item?;
            w.record(&k, &v)?;
        }
        let (buf, records) = w.finish()?;
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_parent(path)?;
        Ok(Exported { meta, records })
    }

    /// Replaces every state-machine row with the snapshot file's and writes
    /// `meta`. The file is verified whole before anything is changed, then
    /// loaded in bounded batches, so memory does not grow with the snapshot.
    ///
    /// A marker ([`INSTALLING`]) is durable before the first batch and
    /// removed by the last one, together with `meta`. A crash in between
    /// leaves the marker, and [`Store::interrupted_install`] tells the
    /// state machine to import the same file again on start.
    pub fn import_snapshot(
        &self,
        path: &Path,
        meta: &[(&str, Vec<u8>)],
    ) -> Result<u64, StorageError> {
        verify_snapshot(path)?;

        let data = self.cf(CF_SM_DATA);
        let mut wb = WriteBatch::default();
        wb.put_cf(self.cf(CF_SM_META), INSTALLING, b"1");
        wb.delete_range_cf(data, [0u8].as_slice(), [0xffu8; 9].as_slice());
        self.write(wb)?;
        self.sync_wal()?;

        let mut reader = SnapshotReader::new(BufReader::new(File::open(path)?))?;
        let mut n = 0;
        let mut wb = WriteBatch::default();
        while let Some((k, v)) = reader.next_record()? {
            wb.put_cf(data, k, v);
            n += 1;
            if wb.size_in_bytes() >= IMPORT_BATCH_BYTES {
                self.write(std::mem::take(&mut wb))?;
            }
        }
        self.put_meta_into_batch(&mut wb, meta.iter().map(|(k, v)| (k, v)));
        wb.delete_cf(self.cf(CF_SM_META), INSTALLING);
        self.write(wb)?;
        self.sync_wal()?;
        Ok(n)
    }

    /// Whether a snapshot import was cut short (by a crash) and must be
    /// redone before this state machine is used.
    pub fn interrupted_install(&self) -> Result<bool, StorageError> {
        Ok(self.get_cf(CF_SM_META, INSTALLING.as_bytes())?.is_some())
    }
}

/// Reads a snapshot file through to its end and checks its checksum and
/// record count, changing nothing; the number of records. A node checks a
/// snapshot it received before it keeps it (and deletes older ones).
pub fn verify_snapshot(path: &Path) -> Result<u64, StorageError> {
    let mut reader = SnapshotReader::new(BufReader::new(File::open(path)?))?;
    let mut n = 0;
    while reader.next_record()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// Makes a rename or a new file in `path`'s directory durable: without it a
/// crash can leave the directory pointing at the old name.
pub fn sync_parent(path: &Path) -> Result<(), StorageError> {
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The state-machine metadata key present while an import is under way.
const INSTALLING: &str = "installing";
/// Bytes of rows written per RocksDB batch during an import.
const IMPORT_BATCH_BYTES: usize = 4 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{keys, Datum, KvBatch, KvOp};

    #[test]
    fn export_import_round_trip_and_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(&dir.path().join("a")).unwrap();
        let ops = (0..100)
            .map(|i| KvOp::Put {
                key: keys::bucket(format!("bucket-{i:03}")),
                columns: vec![Datum::Int(i)],
            })
            .collect();
        a.apply_batch(
            &KvBatch {
                ops,
                ..Default::default()
            },
            7,
            &[("applied", vec![7])],
        )
        .unwrap();
        let file = dir.path().join("snap");
        let exported = a.export_snapshot(&file, &["applied"]).unwrap();
        assert_eq!(exported.meta, vec![Some(vec![7])]);
        assert_eq!(exported.records, 100);

        let b = Store::open(&dir.path().join("b")).unwrap();
        b.apply_batch(
            &KvBatch {
                ops: vec![KvOp::Put {
                    key: keys::bucket("stale"),
                    columns: vec![],
                }],
                ..Default::default()
            },
            1,
            &[],
        )
        .unwrap();
        assert_eq!(
            b.import_snapshot(&file, &[("applied", vec![7])]).unwrap(),
            100
        );
        let view = b.read_view();
        assert!(view.get(&keys::bucket("stale")).unwrap().is_none());
        assert_eq!(
            view.get(&keys::bucket("bucket-042"))
                .unwrap()
                .unwrap()
                .revision,
            7
        );
        assert_eq!(b.sm_meta("applied").unwrap(), Some(vec![7]));
        assert!(!b.interrupted_install().unwrap());

        let mut bytes = std::fs::read(&file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        let bad = dir.path().join("bad");
        std::fs::write(&bad, bytes).unwrap();
        assert!(b.import_snapshot(&bad, &[]).is_err());
        assert!(b
            .read_view()
            .get(&keys::bucket("bucket-042"))
            .unwrap()
            .is_some());
    }

    /// Fuzzing of the snapshot importer: a snapshot file that is not one
    /// this format wrote (random bytes, or a real one with bytes flipped
    /// or cut) is refused, and the store keeps every row it had.
    mod fuzz {
        use std::sync::OnceLock;

        use proptest::collection::vec;
        use proptest::prelude::*;

        use super::*;

        struct Fixture {
            _dir: tempfile::TempDir,
            store: Store,
            good: Vec<u8>,
            digest: crate::StateDigest,
            scratch: std::path::PathBuf,
        }

        /// One store with rows and one good snapshot of them, for every case.
        fn fixture() -> &'static std::sync::Mutex<Fixture> {
            static F: OnceLock<std::sync::Mutex<Fixture>> = OnceLock::new();
            F.get_or_init(|| {
                let dir = tempfile::tempdir().unwrap();
                let store = Store::open(&dir.path().join("db")).unwrap();
                let ops = (0..20)
                    .map(|i| KvOp::Put {
                        key: keys::bucket(format!("b{i:02}")),
                        columns: vec![Datum::Text("x".repeat(i)), Datum::Int(i as i64)],
                    })
                    .collect();
                store
                    .apply_batch(
                        &KvBatch {
                            ops,
                            ..Default::default()
                        },
                        3,
                        &[],
                    )
                    .unwrap();
                let file = dir.path().join("good");
                store.export_snapshot(&file, &[]).unwrap();
                let good = std::fs::read(&file).unwrap();
                let digest = store.read_view().digest().unwrap();
                let scratch = dir.path().join("case");
                std::sync::Mutex::new(Fixture {
                    _dir: dir,
                    store,
                    good,
                    digest,
                    scratch,
                })
            })
        }

        fn refused_and_unchanged(f: &Fixture, bytes: &[u8]) {
            std::fs::write(&f.scratch, bytes).unwrap();
            assert!(verify_snapshot(&f.scratch).is_err());
            assert!(f.store.import_snapshot(&f.scratch, &[]).is_err());
            assert_eq!(f.store.read_view().digest().unwrap(), f.digest);
            assert!(!f.store.interrupted_install().unwrap());
        }

        proptest! {
            #[test]
            fn random_files_are_refused(mut bytes in vec(any::<u8>(), 0..4096), magic in any::<bool>()) {
                if magic {
                    bytes.splice(0..0, MAGIC.iter().copied());
                }
                let f = fixture().lock().unwrap();
                refused_and_unchanged(&f, &bytes);
            }

            #[test]
            fn damaged_snapshots_are_refused(
                flips in vec((any::<prop::sample::Index>(), 1..=255u8), 1..4),
                cut in any::<prop::sample::Index>(),
                truncate in any::<bool>(),
            ) {
                let f = fixture().lock().unwrap();
                let mut bytes = f.good.clone();
                if truncate {
                    bytes.truncate(cut.index(bytes.len()));
                } else {
                    // Each byte changed once: two flips of one byte could
                    // cancel out.
                    let mut seen = std::collections::HashSet::new();
                    for (at, x) in &flips {
                        let i = at.index(bytes.len());
                        if seen.insert(i) {
                            bytes[i] ^= x;
                        }
                    }
                }
                refused_and_unchanged(&f, &bytes);
            }
        }
    }
}

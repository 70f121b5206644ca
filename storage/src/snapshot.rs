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

/// Largest key or value a snapshot record may claim, so a corrupt length
/// cannot make the reader allocate without bound.
const MAX_FIELD: u32 = 64 << 20;

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
    /// exactly which applied state the file holds.
    pub fn export_snapshot(
        &self,
        path: &Path,
        meta_keys: &[&str],
    ) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
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
        let (buf, _) = w.finish()?;
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(meta)
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
        let mut check = SnapshotReader::new(BufReader::new(File::open(path)?))?;
        while check.next_record()?.is_some() {}

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
        self.put_meta_into_batch(&mut wb, meta);
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
        let meta = a.export_snapshot(&file, &["applied"]).unwrap();
        assert_eq!(meta, vec![Some(vec![7])]);

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
}

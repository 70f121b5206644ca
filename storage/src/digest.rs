//! A digest of the state machine's rows, to compare replicas: every
//! replica that applied the same log up to the same index holds the same
//! rows, byte for byte (values carry the revisions of the entries that
//! wrote them), so their digests at that index are equal.

use rocksdb::IteratorMode;

use crate::error::StorageError;
use crate::read::{OwnedView, ReadView};
use crate::store::CF_SM_DATA;

/// The rows of a view and a SHA-256 over them, in key order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateDigest {
    pub rows: u64,
    pub sha256: String,
}

impl ReadView<'_> {
    /// Digests every row of the view: length-prefixed key, then value.
    pub fn digest(&self) -> Result<StateDigest, StorageError> {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut rows = 0;
        for item in self
            .snap
            .iterator_cf(self.store.cf(CF_SM_DATA), IteratorMode::Start)
        {
            let (k, v) = item?;
            ctx.update(&(k.len() as u64).to_le_bytes());
            ctx.update(&k);
            ctx.update(&(v.len() as u64).to_le_bytes());
            ctx.update(&v);
            rows += 1;
        }
        let sha256 = ctx
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(StateDigest { rows, sha256 })
    }
}

impl OwnedView {
    pub fn digest(&self) -> Result<StateDigest, StorageError> {
        self.borrow_dependent().digest()
    }
}

#[cfg(test)]
mod tests {
    use crate::{keys, Datum, KvBatch, KvOp, Store};

    fn put(s: &Store, name: &str, rev: u64) {
        let b = KvBatch {
            ops: vec![KvOp::Put {
                key: keys::bucket(name),
                columns: vec![Datum::Text(name.into())],
            }],
            ..Default::default()
        };
        s.apply_batch(&b, rev, &[]).unwrap();
    }

    #[test]
    fn equal_states_digest_equal_and_any_difference_shows() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(&dir.path().join("a")).unwrap();
        let b = Store::open(&dir.path().join("b")).unwrap();
        for s in [&a, &b] {
            put(s, "one", 1);
            put(s, "two", 2);
        }
        let before = a.owned_view();
        assert_eq!(
            a.read_view().digest().unwrap(),
            b.read_view().digest().unwrap()
        );
        assert_eq!(a.read_view().digest().unwrap().rows, 2);
        // The same row at another revision is another state.
        put(&b, "two", 3);
        assert_ne!(
            a.read_view().digest().unwrap(),
            b.read_view().digest().unwrap()
        );
        // A view keeps the digest of its own point in time.
        put(&a, "three", 3);
        assert_eq!(before.digest().unwrap().rows, 2);
    }
}

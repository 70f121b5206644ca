//! Which cluster a node belongs to. Initialising a cluster makes a random
//! cluster id; a node added to a cluster learns it from the first member
//! that calls it (see `transport::hello`). Either way it is written to the
//! data directory (`cluster-id`, fsynced) before the node acts on it, and
//! every node connection names it, so nodes of two clusters never speak.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// A cluster's id: 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterId(String);

impl ClusterId {
    /// A new random id.
    pub fn generate() -> std::io::Result<ClusterId> {
        let mut bytes = [0u8; 16];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| std::io::Error::other("the system random generator failed"))?;
        Ok(ClusterId(
            bytes.iter().map(|b| format!("{b:02x}")).collect(),
        ))
    }

    /// An id read back (from the file or a peer), if well formed.
    pub fn parse(text: &str) -> Option<ClusterId> {
        let text = text.trim();
        (text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| ClusterId(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClusterId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The node's cluster id as its data directory holds it.
#[derive(Clone)]
pub struct Identity {
    path: PathBuf,
    current: Arc<Mutex<Option<ClusterId>>>,
}

const FILE: &str = "cluster-id";

impl Identity {
    /// Reads `cluster-id` in `data_dir`, if there is one.
    pub fn open(data_dir: &Path) -> std::io::Result<Identity> {
        let path = data_dir.join(FILE);
        let current = match std::fs::read_to_string(&path) {
            Ok(text) => Some(ClusterId::parse(&text).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} does not hold a cluster id", path.display()),
                )
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(Identity {
            path,
            current: Arc::new(Mutex::new(current)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ClusterId>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self) -> Option<ClusterId> {
        self.lock().clone()
    }

    /// Records `id` as this node's cluster, durably, unless it has one
    /// already; returns the id the node now belongs to.
    pub fn adopt(&self, id: ClusterId) -> std::io::Result<ClusterId> {
        let mut current = self.lock();
        if let Some(existing) = &*current {
            return Ok(existing.clone());
        }
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, format!("{id}\n"))?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        *current = Some(id.clone());
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adopted_id_is_kept_and_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity::open(dir.path()).unwrap();
        assert_eq!(identity.get(), None);
        let first = ClusterId::generate().unwrap();
        assert_eq!(identity.adopt(first.clone()).unwrap(), first);
        let other = ClusterId::generate().unwrap();
        assert_ne!(first, other);
        assert_eq!(identity.adopt(other).unwrap(), first);
        assert_eq!(Identity::open(dir.path()).unwrap().get(), Some(first));
        assert_eq!(ClusterId::parse("not an id"), None);
        std::fs::write(dir.path().join(FILE), "garbage").unwrap();
        assert!(Identity::open(dir.path()).is_err());
    }
}

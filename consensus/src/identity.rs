//! Who a node is, as its data directory says. Initialising a cluster makes
//! a random cluster id; a node added to a cluster learns it from the first
//! member that calls it (see `transport::hello`). Either way it is written
//! to the data directory (`cluster-id`, fsynced) before the node acts on
//! it, and every node connection names it, so nodes of two clusters never
//! speak.
//!
//! A data directory also gets, when first used, its node id and a random
//! incarnation (`incarnation`). The cluster records the incarnation of
//! each member it adds, so a node whose directory was wiped comes back as
//! another incarnation and is refused: it would otherwise vote again with
//! an empty vote (Raft amnesia).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// 32 random hex digits.
fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| std::io::Error::other("the system random generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `text` to `path` durably: a temporary file, fsynced, renamed,
/// and the directory fsynced.
fn write_durably(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A cluster's id: 32 hex digits. Checked when it arrives from a peer too:
/// a node adopts what a hello names, and must read it back at restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct ClusterId(String);

impl TryFrom<String> for ClusterId {
    type Error = String;

    fn try_from(text: String) -> Result<ClusterId, String> {
        ClusterId::parse(&text).ok_or_else(|| "not a cluster id".to_string())
    }
}

impl ClusterId {
    /// A new random id.
    pub fn generate() -> std::io::Result<ClusterId> {
        Ok(ClusterId(random_hex()?))
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

/// The node's cluster id and incarnation as its data directory holds them.
#[derive(Clone)]
pub struct Identity {
    path: PathBuf,
    current: Arc<Mutex<Option<ClusterId>>>,
    incarnation: String,
}

const FILE: &str = "cluster-id";
const INCARNATION: &str = "incarnation";

/// The incarnation of `data_dir` for node `node_id`: read, or made on
/// first use. A directory of another node id is refused.
fn incarnation(data_dir: &Path, node_id: u64) -> std::io::Result<String> {
    let path = data_dir.join(INCARNATION);
    let bad = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let (id, inc) = text
                .trim()
                .split_once(' ')
                .ok_or_else(|| bad(format!("{} is not an incarnation", path.display())))?;
            if id != node_id.to_string() {
                return Err(bad(format!(
                    "{} belongs to node {id}, not node {node_id}",
                    data_dir.display()
                )));
            }
            Ok(inc.to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let inc = random_hex()?;
            write_durably(&path, &format!("{node_id} {inc}\n"))?;
            Ok(inc)
        }
        Err(e) => Err(e),
    }
}

impl Identity {
    /// Reads `cluster-id` in `data_dir`, if there is one, and node
    /// `node_id`'s incarnation (made on first use).
    pub fn open(data_dir: &Path, node_id: u64) -> std::io::Result<Identity> {
        std::fs::create_dir_all(data_dir)?;
        let incarnation = incarnation(data_dir, node_id)?;
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
            incarnation,
        })
    }

    pub fn incarnation(&self) -> &str {
        &self.incarnation
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
        write_durably(&self.path, &format!("{id}\n"))?;
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
        let identity = Identity::open(dir.path(), 1).unwrap();
        assert_eq!(identity.get(), None);
        let first = ClusterId::generate().unwrap();
        assert_eq!(identity.adopt(first.clone()).unwrap(), first);
        let other = ClusterId::generate().unwrap();
        assert_ne!(first, other);
        assert_eq!(identity.adopt(other).unwrap(), first);
        let again = Identity::open(dir.path(), 1).unwrap();
        assert_eq!(again.get(), Some(first.clone()));
        assert_eq!(again.incarnation(), identity.incarnation());
        // Another node id on this directory is refused.
        assert!(Identity::open(dir.path(), 2).is_err());
        // A wiped directory is another incarnation.
        let wiped = tempfile::tempdir().unwrap();
        assert_ne!(
            Identity::open(wiped.path(), 1).unwrap().incarnation(),
            identity.incarnation()
        );
        assert_eq!(ClusterId::parse("not an id"), None);
        // Nor does one arrive from a peer.
        let forged = crate::codec::encode(&"../../etc".to_string()).unwrap();
        assert!(crate::codec::decode::<ClusterId>(&forged).is_err());
        let real = crate::codec::encode(&first).unwrap();
        assert_eq!(crate::codec::decode::<ClusterId>(&real).unwrap(), first);
        std::fs::write(dir.path().join(FILE), "garbage").unwrap();
        assert!(Identity::open(dir.path(), 1).is_err());
    }
}

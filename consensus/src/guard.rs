//! Fail-stop and the guards in front of the log.
//!
//! When openraft's core stops on a fatal error (a failed write to the log or
//! the state machine: a full disk, a failing device), the process must not
//! go on looking healthy: [`Failure`] records the first such error, every
//! proposal and read barrier is refused with it from then on, and `/health`
//! reports it. The node keeps its data as last synced; a restart (on a disk
//! with room) recovers it.
//!
//! Before a batch enters the log it must fit the write [`Limits`] and the
//! data directory must keep `min_free_disk` bytes free: a full disk is
//! answered before it becomes a fatal error, and reads go on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bucketdb_storage::{KvBatch, Limits};
use openraft::async_runtime::WatchReceiver;
use openraft::Raft;

use crate::error::ConsensusError;
use crate::state_machine::StateMachine;
use crate::types::TypeConfig;

/// The first fatal error of this node, once there is one.
#[derive(Clone, Default)]
pub(crate) struct Failure(Arc<OnceLock<String>>);

impl Failure {
    pub(crate) fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }

    pub(crate) fn record(&self, why: String) {
        if self.0.set(why.clone()).is_ok() {
            tracing::error!("node failed, refusing reads and writes until restarted: {why}");
        }
    }

    /// `Ok` while the node serves; the refusal every request gets after.
    pub(crate) fn check(&self) -> Result<(), ConsensusError> {
        match self.get() {
            None => Ok(()),
            Some(why) => Err(failed(why)),
        }
    }
}

/// The error a failed node answers with: a full disk as such.
fn failed(why: &str) -> ConsensusError {
    let why = format!("this node stopped serving after a fatal error ({why}); restart it");
    if is_disk_full(&why) {
        ConsensusError::DiskFull(why)
    } else {
        ConsensusError::Failed(why)
    }
}

/// Whether an error message is the operating system's "no space left".
pub(crate) fn is_disk_full(message: &str) -> bool {
    message.contains("No space left on device") || message.contains("ENOSPC")
}

/// Records the Raft core's fatal error as this node's failure when it
/// stops on one (not when it is shut down).
pub(crate) fn watch_core(raft: Raft<TypeConfig, StateMachine>, failure: Failure) {
    let mut metrics = raft.metrics();
    tokio::spawn(async move {
        loop {
            let fatal = match &metrics.borrow_watched().running_state {
                Err(openraft::error::Fatal::Stopped) => return,
                Err(e) => Some(e.to_string()),
                Ok(()) => None,
            };
            if let Some(why) = fatal {
                failure.record(format!("raft core stopped: {why}"));
                return;
            }
            if metrics.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Bytes free for this process on the filesystem holding `dir`.
fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// The room a data directory has above its reserve, read with `statvfs`.
///
/// Asking the kernel on every write cost 3.5% of a leader's CPU under load.
/// A reading is reused for [`DiskRoom::FRESH`] while it showed at least
/// [`DiskRoom::PLENTY`] above the reserve: no write path fills that much in
/// so short a time. Closer to the reserve, every write asks again, so the
/// refusal comes at the same write as with no reuse at all.
#[derive(Clone)]
pub(crate) struct DiskRoom {
    dir: PathBuf,
    min_free: u64,
    last: Arc<Mutex<Option<Instant>>>,
}

impl DiskRoom {
    const FRESH: Duration = Duration::from_millis(20);
    const PLENTY: u64 = 256 << 20;

    pub(crate) fn new(dir: &Path, min_free: u64) -> DiskRoom {
        DiskRoom {
            dir: dir.to_path_buf(),
            min_free,
            last: Arc::default(),
        }
    }

    /// The bytes free, asked now, when fewer than `min_free`; `None` while
    /// there is room (or no reserve is set).
    pub(crate) fn shortfall(&self) -> std::io::Result<Option<u64>> {
        if self.min_free == 0 {
            return Ok(None);
        }
        let free = free_bytes(&self.dir)?;
        Ok((free < self.min_free).then_some(free))
    }

    pub(crate) fn min_free(&self) -> u64 {
        self.min_free
    }

    /// `Ok` while the directory keeps `min_free` bytes free.
    fn check(&self) -> Result<(), ConsensusError> {
        if self.min_free == 0 {
            return Ok(());
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < Self::FRESH) {
            return Ok(());
        }
        let free = free_bytes(&self.dir)?;
        if free < self.min_free {
            *last = None;
            return Err(ConsensusError::DiskFull(format!(
                "could not write: the data directory has {free} bytes free, less than min_free_disk_bytes ({}); reads go on, writes resume when space is freed",
                self.min_free
            )));
        }
        *last = (free - self.min_free >= Self::PLENTY).then(Instant::now);
        Ok(())
    }
}

/// The checks a batch passes before it is proposed: its size, and room on
/// the disk for it.
pub(crate) fn admit(
    batch: &KvBatch,
    limits: &Limits,
    disk: &DiskRoom,
) -> Result<(), ConsensusError> {
    limits.check(batch).map_err(ConsensusError::TooLarge)?;
    disk.check()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_kept_and_a_full_disk_named() {
        let f = Failure::default();
        assert!(f.check().is_ok());
        f.record("IO error: No space left on device: While appending".into());
        f.record("a later error".into());
        assert!(matches!(f.check(), Err(ConsensusError::DiskFull(m)) if m.contains("No space")));
        let g = Failure::default();
        g.record("storage: corrupt".into());
        assert!(matches!(g.check(), Err(ConsensusError::Failed(_))));
    }

    #[test]
    fn a_write_is_refused_when_the_disk_is_short_of_the_reserve() {
        let dir = tempfile::tempdir().unwrap();
        let batch = KvBatch::default();
        let limits = Limits::default();
        let room = |min| DiskRoom::new(dir.path(), min);
        assert!(admit(&batch, &limits, &room(0)).is_ok());
        assert!(admit(&batch, &limits, &room(1)).is_ok());
        assert!(matches!(
            admit(&batch, &limits, &room(u64::MAX)),
            Err(ConsensusError::DiskFull(_))
        ));
    }

    #[test]
    fn a_reading_is_reused_only_with_plenty_of_room() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).unwrap();
        // Plenty above the reserve: the reading stands for a while.
        let roomy = DiskRoom::new(dir.path(), 1);
        roomy.check().unwrap();
        assert_eq!(
            roomy.last.lock().unwrap().is_some(),
            free > DiskRoom::PLENTY
        );
        // Just above the reserve: asked again on every write.
        let tight = DiskRoom::new(dir.path(), free.saturating_sub(DiskRoom::PLENTY / 2).max(1));
        let _ = tight.check();
        assert!(tight.last.lock().unwrap().is_none());
    }
}

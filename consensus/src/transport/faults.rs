//! Fault injection for in-process clusters: the peers this node cannot
//! reach. Tests cut a link by blocking it on both of its ends; every
//! outgoing request to a blocked peer (Raft RPCs and forwarded requests
//! alike) fails as unreachable, exactly as if the network dropped it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Faults {
    blocked: Arc<Mutex<HashSet<u64>>>,
}

impl Faults {
    pub fn block(&self, peer: u64) {
        self.lock().insert(peer);
    }

    pub fn unblock(&self, peer: u64) {
        self.lock().remove(&peer);
    }

    pub fn heal(&self) {
        self.lock().clear();
    }

    pub fn is_blocked(&self, peer: u64) -> bool {
        self.lock().contains(&peer)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        // The set is always valid, even if a holder panicked.
        self.blocked.lock().unwrap_or_else(|p| p.into_inner())
    }
}

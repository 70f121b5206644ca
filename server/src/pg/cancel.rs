//! CancelRequest: a client opens a new connection carrying the (pid, secret
//! key) it was given at startup; the matching connection's cancel flag is
//! set, and its running statement stops at its next check (see
//! `bucketdb_sql::Interrupt`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;

/// The cancel flags of open connections, by (pid, secret key).
#[derive(Default)]
pub struct Cancels {
    flags: Mutex<HashMap<(i32, Bytes), Arc<AtomicBool>>>,
}

impl Cancels {
    pub fn register(&self, pid: i32, key: Bytes, flag: Arc<AtomicBool>) {
        if let Ok(mut m) = self.flags.lock() {
            m.insert((pid, key), flag);
        }
    }

    pub fn unregister(&self, pid: i32, key: &Bytes) {
        if let Ok(mut m) = self.flags.lock() {
            m.remove(&(pid, key.clone()));
        }
    }

    /// Sets the flag of the matching connection; unknown keys are ignored,
    /// as PostgreSQL does (the requester learns nothing).
    fn cancel(&self, pid: i32, key: Bytes) {
        let flag = self
            .flags
            .lock()
            .ok()
            .and_then(|m| m.get(&(pid, key)).cloned());
        if let Some(flag) = flag {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

pub struct CancelRequests(pub Arc<Cancels>);

#[async_trait]
impl CancelHandler for CancelRequests {
    async fn on_cancel_request(&self, req: CancelRequest) {
        self.0.cancel(req.pid, req.secret_key.to_bytes());
    }
}

//! Synchronous work (scans, planning a write) called from async code.

/// Runs a synchronous scan or plan. On the multi-threaded runtime the worker
/// hands its other tasks (other connections, CancelRequests) to the rest of
/// the pool first, so a long scan does not stall them.
pub fn cpu_bound<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

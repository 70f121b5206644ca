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

/// How long a piece of synchronous work may take, as its plan shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A few point gets (microseconds): shorter than handing the worker's
    /// other tasks to another thread first, which wakes a thread and moves
    /// the worker's queue away and back (measured: a tenth of a follower's
    /// CPU under point reads went to that hand-over), so it runs in place.
    Short,
    /// Anything that may scan: see [`cpu_bound`].
    MayScan,
}

/// Runs `f`, in place if it is [`Work::Short`], else as [`cpu_bound`].
pub fn run_sync<T>(work: Work, f: impl FnOnce() -> T) -> T {
    match work {
        Work::Short => f(),
        Work::MayScan => cpu_bound(f),
    }
}

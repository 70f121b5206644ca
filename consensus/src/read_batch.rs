//! A follower's read-index requests, shared by the reads waiting at once.
//!
//! A linearizable read on a follower needs the leader's commit index as of
//! a moment after the read arrived. Asking once per read costs the leader
//! a request, a quorum confirmation and a reply each, and the follower a
//! frame each way. Here one request is out at a time: reads that arrive
//! while it is out wait for the next, which is sent when it returns, so
//! each read's index is still asked for after the read arrived, and a
//! follower asks at most one request per round trip however many reads
//! wait (etcd batches its ReadIndex requests the same way).
//!
//! Before each request the asking task yields once. tokio then polls its
//! I/O driver and runs every task already woken before it resumes, so the
//! reads whose queries had arrived by then join this request instead of
//! waiting a whole round trip for the next. At 16 clients on a follower
//! that took a request from 4.5 reads to about 10, and halved the leader's
//! CPU per follower read (see docs/benchmarks.md, session 26). An idle
//! follower pays one turn of its scheduler, microseconds.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::ConsensusError;

type Waiter = oneshot::Sender<Result<u64, ConsensusError>>;

/// The reads waiting for a read index, and whether a request is out.
#[derive(Default)]
pub(crate) struct ReadIndexBatch {
    state: Mutex<Batch>,
}

#[derive(Default)]
struct Batch {
    in_flight: bool,
    waiting: Vec<Waiter>,
}

impl ReadIndexBatch {
    /// The read index for a read that arrived now, from `ask` (one request
    /// to the leader), shared with the reads waiting with it. The request
    /// runs in a task of its own, so a caller that gives up does not stop
    /// it for the others.
    pub(crate) async fn read_index<F, Fut>(self: &Arc<Self>, ask: F) -> Result<u64, ConsensusError>
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Result<u64, ConsensusError>> + Send,
    {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut batch = self.lock();
            batch.waiting.push(tx);
            !std::mem::replace(&mut batch.in_flight, true)
        };
        if start {
            let this = self.clone();
            tokio::spawn(async move { this.serve(ask).await });
        }
        rx.await.unwrap_or_else(|_| {
            Err(ConsensusError::Unavailable(
                "the read index request was dropped".into(),
            ))
        })
    }

    /// Asks for every batch of waiting reads in turn, until none waits.
    async fn serve<F, Fut>(&self, ask: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<u64, ConsensusError>>,
    {
        loop {
            tokio::task::yield_now().await;
            let batch = {
                let mut batch = self.lock();
                if batch.waiting.is_empty() {
                    batch.in_flight = false;
                    return;
                }
                std::mem::take(&mut batch.waiting)
            };
            let result = ask().await;
            for waiter in batch {
                let _ = waiter.send(match &result {
                    Ok(index) => Ok(*index),
                    Err(e) => Err(e.shared()),
                });
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Batch> {
        // A panic while holding the lock leaves the batch as it was.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;

    type Asked = std::pin::Pin<Box<dyn Future<Output = Result<u64, ConsensusError>> + Send>>;

    /// An `ask` whose requests answer with their own number (1, 2, ...),
    /// after `round_trip`, counted in `asked`.
    fn numbered(asked: &Arc<AtomicU64>, round_trip: Duration) -> impl Fn() -> Asked + Clone {
        let asked = asked.clone();
        move || {
            let asked = asked.clone();
            Box::pin(async move {
                let n = asked.fetch_add(1, Ordering::SeqCst) + 1;
                if !round_trip.is_zero() {
                    tokio::time::sleep(round_trip).await;
                }
                Ok(n)
            })
        }
    }

    #[tokio::test]
    async fn reads_waiting_together_share_one_request_asked_after_they_arrived() {
        let batch = Arc::new(ReadIndexBatch::default());
        let asked = Arc::new(AtomicU64::new(0));
        let ask = numbered(&asked, Duration::from_millis(50));
        let first = tokio::spawn({
            let (batch, ask) = (batch.clone(), ask.clone());
            async move { batch.read_index(ask).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        // Twenty reads arrive while the first request is out.
        let later: Vec<_> = (0..20)
            .map(|_| {
                let (batch, ask) = (batch.clone(), ask.clone());
                tokio::spawn(async move { batch.read_index(ask).await })
            })
            .collect();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        for read in later {
            // Not the request already out when they came: the next one.
            assert_eq!(read.await.unwrap().unwrap(), 2);
        }
        assert_eq!(asked.load(Ordering::SeqCst), 2);
        // With nobody waiting the batch is idle, and the next read asks anew.
        assert_eq!(batch.read_index(ask).await.unwrap(), 3);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_woken_while_the_request_is_being_started_joins_it() {
        let batch = Arc::new(ReadIndexBatch::default());
        let asked = Arc::new(AtomicU64::new(0));
        let ask = numbered(&asked, Duration::ZERO);
        let arrived = Arc::new(tokio::sync::Notify::new());
        // The second read is woken (its query "arrives") after the first
        // has started the request task, before that task first runs.
        let second = tokio::spawn({
            let (batch, ask, arrived) = (batch.clone(), ask.clone(), arrived.clone());
            async move {
                arrived.notified().await;
                batch.read_index(ask).await
            }
        });
        tokio::task::yield_now().await;
        let (first, ()) = tokio::join!(batch.read_index(ask), async { arrived.notify_one() });
        assert_eq!(first.unwrap(), 1);
        assert_eq!(
            second.await.unwrap().unwrap(),
            1,
            "the second read asked on its own"
        );
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_request_fails_its_batch_only() {
        let batch = Arc::new(ReadIndexBatch::default());
        // The first request is refused, the next answered. (A batch still
        // being served asks with the closure that started it.)
        let asked = Arc::new(AtomicU64::new(0));
        let ask = move || {
            let asked = asked.clone();
            async move {
                match asked.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(ConsensusError::NotLeader { leader: Some(2) }),
                    _ => Ok(7),
                }
            }
        };
        let e = batch.read_index(ask.clone()).await.unwrap_err();
        assert!(
            matches!(e, ConsensusError::NotLeader { leader: Some(2) }),
            "{e}"
        );
        assert_eq!(batch.read_index(ask).await.unwrap(), 7);
    }
}

//! Memory bounds of DataFusion queries: each query's sorts, joins and
//! aggregations reserve from a pool of its own, and every query's pool
//! from the node's, so one query cannot take more than its share and all
//! of them together not more than the node's. Over either, the query
//! fails with 53200 and the node goes on. Nothing spills to disk: a
//! metadata node's disk holds its data, not scratch files.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use datafusion::common::{resources_datafusion_err, Result};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{
    GreedyMemoryPool, MemoryLimit, MemoryPool, MemoryReservation,
};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

/// How much memory DataFusion queries may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryMemory {
    /// One query.
    pub per_query: usize,
    /// All queries of the node together.
    pub per_node: usize,
}

impl Default for QueryMemory {
    fn default() -> Self {
        QueryMemory {
            per_query: 512 << 20,
            per_node: 2048 << 20,
        }
    }
}

/// The node's pool and the runtime every query's is derived from.
pub(super) struct Pools {
    node: Arc<dyn MemoryPool>,
    per_query: usize,
    base: Arc<RuntimeEnv>,
}

impl Pools {
    pub(super) fn new(limits: QueryMemory) -> Result<Pools> {
        let node: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(limits.per_node));
        let base = RuntimeEnvBuilder::new()
            .with_memory_pool(node.clone())
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()?;
        Ok(Pools {
            node,
            per_query: limits.per_query,
            base,
        })
    }

    /// The runtime the session's planning uses (the node's pool).
    pub(super) fn base(&self) -> Arc<RuntimeEnv> {
        self.base.clone()
    }

    /// A runtime for one query, with a pool of its own.
    pub(super) fn for_query(&self) -> Result<Arc<RuntimeEnv>> {
        let pool = QueryPool {
            node: self.node.clone(),
            limit: self.per_query,
            used: AtomicUsize::new(0),
        };
        RuntimeEnvBuilder::from_runtime_env(&self.base)
            .with_memory_pool(Arc::new(pool))
            .build_arc()
    }
}

/// One query's share of the node's pool.
#[derive(Debug)]
struct QueryPool {
    node: Arc<dyn MemoryPool>,
    limit: usize,
    used: AtomicUsize,
}

impl fmt::Display for QueryPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query pool of {} bytes", self.limit)
    }
}

impl MemoryPool for QueryPool {
    fn name(&self) -> &str {
        "query"
    }

    fn register(&self, consumer: &datafusion::execution::memory_pool::MemoryConsumer) {
        self.node.register(consumer)
    }

    fn unregister(&self, consumer: &datafusion::execution::memory_pool::MemoryConsumer) {
        self.node.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.node.grow(reservation, additional);
        self.used.fetch_add(additional, Ordering::Relaxed);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.node.shrink(reservation, shrink);
        self.used.fetch_sub(shrink, Ordering::Relaxed);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let before = self.used.fetch_add(additional, Ordering::Relaxed);
        if before + additional > self.limit {
            self.used.fetch_sub(additional, Ordering::Relaxed);
            return Err(resources_datafusion_err!(
                "the query needs more than its {} bytes of memory (query_memory_bytes)",
                self.limit
            ));
        }
        if let Err(e) = self.node.try_grow(reservation, additional) {
            self.used.fetch_sub(additional, Ordering::Relaxed);
            return Err(resources_datafusion_err!(
                "the node's queries need more than node_query_memory_bytes: {e}"
            ));
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::MemoryConsumer;

    #[test]
    fn a_query_is_bounded_by_its_pool_and_all_by_the_node() {
        let pools = Pools::new(QueryMemory {
            per_query: 100,
            per_node: 150,
        })
        .unwrap();
        let a = pools.for_query().unwrap();
        let b = pools.for_query().unwrap();
        let ra = MemoryConsumer::new("a").register(&a.memory_pool);
        ra.try_grow(90).unwrap();
        assert!(ra.try_grow(20).is_err(), "over the query's own limit");
        let rb = MemoryConsumer::new("b").register(&b.memory_pool);
        let e = rb.try_grow(90).unwrap_err();
        assert!(e.to_string().contains("node_query_memory_bytes"), "{e}");
        drop(ra);
        rb.try_grow(90).unwrap();
        assert_eq!(pools.node.reserved(), 90);
    }
}

//! Finding rows, below both planners: bucketdb's own planner and the
//! DataFusion table providers derive the same [`Access`] path from a
//! filter and walk it over the same [`RowSource`], so both find rows the
//! same way. `object_versions` is read through [`versions`], which merges
//! current objects with their stored versions.

mod access;
mod source;
pub mod versions;
mod walk;

pub use access::Access;
pub use source::{KeyedVisit, RowSource};
pub use walk::MAX_SHORT_GETS;

#[cfg(test)]
pub use source::MemRows;

//! bucketdb SQL layer: the fixed catalog of built-in tables, parsing
//! (sqlparser, PostgreSQL dialect), binding, write planning into KV batches,
//! reads with key-range access paths, and session settings.

mod access;
mod aggregate;
mod analytic;
mod bind;
mod catalog;
mod copy;
mod copy_in;
mod error;
mod exec;
mod expr;
mod interrupt;
mod listing;
mod plan;
mod session;
mod source;
mod system;
mod table_fn;
mod txn;
mod value;
mod versions;

pub use error::{SqlError, SqlResult};
pub use exec::{Engine, Output};
pub use interrupt::Interrupt;
pub use plan::{OutColumn, Prepared};
pub use session::{version_string, Session, SERVER_VERSION};
pub use value::{SqlType, Value};

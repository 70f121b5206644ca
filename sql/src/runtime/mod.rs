//! Runtime helpers every layer may use: stopping a statement, the clock a
//! statement reads once, running blocking work on the async runtime, and
//! the chunked row stream results travel in.

mod blocking;
mod clock;
mod interrupt;
mod stream;

pub use blocking::{cpu_bound, run_sync, Work};
pub use clock::now_micros;
pub use interrupt::Interrupt;
pub use stream::{RowChunks, RowStream};

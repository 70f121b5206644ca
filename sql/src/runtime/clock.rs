//! The wall clock, read once per statement on the node that plans it:
//! replicas never read it (the value travels in the log entry).

/// Now, in microseconds since the Unix epoch (UTC).
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

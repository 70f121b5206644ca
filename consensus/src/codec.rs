//! Encoding of log entries and Raft metadata: a format-version byte, then
//! MessagePack with named fields, so that fields added by later openraft
//! versions or by us do not break decoding of old entries.

use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;

const FORMAT_V1: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, io::Error> {
    let mut out = vec![FORMAT_V1];
    rmp_serde::encode::write_named(&mut out, value)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(out)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, io::Error> {
    match bytes.split_first() {
        Some((&FORMAT_V1, rest)) => {
            rmp_serde::from_slice(rest).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "unknown encoding version",
        )),
    }
}

#[cfg(test)]
mod tests {
    use bucketdb_storage::{Datum, KvBatch, KvOp};

    use super::*;
    use crate::types::Command;

    #[test]
    fn command_round_trips_and_garbage_is_refused() {
        let cmd = Command::Write(KvBatch {
            preconditions: vec![],
            ops: vec![KvOp::Put {
                key: vec![1, 2],
                columns: vec![Datum::Text("x".into()), Datum::Int(3)],
            }],
            timestamp: 0,
        });
        let bytes = encode(&cmd).unwrap();
        assert_eq!(decode::<Command>(&bytes).unwrap(), cmd);
        assert!(decode::<Command>(&[1, 0xc1]).is_err());
        assert!(decode::<Command>(&[7]).is_err());
    }
}

//! Key encoding of the built-in tables in the `sm_data` column family.
//!
//! Every key starts with a one-byte table tag, then the table's primary key.
//! The bucket name is the leading component of every bucket-scoped key so
//! that buckets can later be split over several Raft groups by key range.
//! Bucket names never contain `0x00` (S3 rules, checked by [`crate::rules`]),
//! so `0x00` terminates the bucket component; the object key is the last
//! component and is stored raw, which keeps RocksDB's byte order equal to
//! S3's (UTF-8 byte) listing order.

/// Table tag of `buckets` rows.
pub const TAG_BUCKETS: u8 = 0x10;
/// Tag of a bucket's statistics row (maintained by the state machine).
pub const TAG_BUCKET_STATS: u8 = 0x11;
/// Table tag of `objects` rows.
pub const TAG_OBJECTS: u8 = 0x20;

const SEP: u8 = 0x00;

/// Key of a `buckets` row.
pub fn bucket(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + name.len());
    k.push(TAG_BUCKETS);
    k.extend_from_slice(name.as_bytes());
    k
}

/// First key of the `buckets` table.
pub fn buckets_start() -> Vec<u8> {
    vec![TAG_BUCKETS]
}

/// Key of a bucket's statistics row.
pub fn bucket_stats(name: &str) -> Vec<u8> {
    bucket_stats_raw(name.as_bytes())
}

/// [`bucket_stats`] of a name as stored bytes.
pub fn bucket_stats_raw(name: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + name.len());
    k.push(TAG_BUCKET_STATS);
    k.extend_from_slice(name);
    k
}

/// Key of an `objects` row.
pub fn object(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = objects_prefix(bucket);
    k.extend_from_slice(key.as_bytes());
    k
}

/// Prefix shared by every object of `bucket`.
pub fn objects_prefix(bucket: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + bucket.len());
    k.push(TAG_OBJECTS);
    k.extend_from_slice(bucket.as_bytes());
    k.push(SEP);
    k
}

/// First key of the `objects` table.
pub fn objects_start() -> Vec<u8> {
    vec![TAG_OBJECTS]
}

/// The smallest key greater than every key that starts with `prefix`, or
/// `None` when no such key exists (the prefix is all `0xff`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A decoded key: which table and its primary-key components.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodedKey<'a> {
    Bucket { name: &'a [u8] },
    Object { bucket: &'a [u8], key: &'a [u8] },
}

/// Splits a stored key into its table and components.
pub fn decode(key: &[u8]) -> Option<DecodedKey<'_>> {
    let (&tag, rest) = key.split_first()?;
    match tag {
        TAG_BUCKETS => Some(DecodedKey::Bucket { name: rest }),
        TAG_OBJECTS => {
            let pos = rest.iter().position(|&b| b == SEP)?;
            Some(DecodedKey::Object {
                bucket: &rest[..pos],
                key: &rest[pos + 1..],
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_sort_by_bucket_then_key() {
        let mut keys = vec![
            object("b2", "a"),
            object("b1", "z"),
            object("b1", "a/b"),
            object("b1", "a"),
            object("b", "zzz"),
        ];
        keys.sort();
        assert_eq!(
            keys,
            vec![
                object("b", "zzz"),
                object("b1", "a"),
                object("b1", "a/b"),
                object("b1", "z"),
                object("b2", "a"),
            ]
        );
    }

    #[test]
    fn prefix_of_a_bucket_does_not_cover_a_longer_bucket() {
        let p = objects_prefix("b1");
        assert!(object("b1", "x").starts_with(&p));
        assert!(!object("b10", "x").starts_with(&p));
    }

    #[test]
    fn decode_round_trips() {
        assert_eq!(
            decode(&object("bkt", "a\0b")),
            Some(DecodedKey::Object {
                bucket: b"bkt",
                key: b"a\0b"
            })
        );
        assert_eq!(
            decode(&bucket("bkt")),
            Some(DecodedKey::Bucket { name: b"bkt" })
        );
        assert_eq!(decode(&[0x99]), None);
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }
}

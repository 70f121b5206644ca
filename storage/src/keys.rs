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
/// Tag of noncurrent object versions and delete markers (see
/// [`crate::versioning`]); the current version lives under [`TAG_OBJECTS`].
pub const TAG_VERSIONS: u8 = 0x21;
/// Table tag of `multipart_uploads` rows.
pub const TAG_UPLOADS: u8 = 0x30;
/// Table tag of `multipart_parts` rows.
pub const TAG_PARTS: u8 = 0x40;
/// Tag of a role (a user or a group of privileges); the key is its name.
pub const TAG_ROLES: u8 = 0x60;
/// Tag of the privileges a role holds on one table: role, 0x00, table name.
pub const TAG_GRANTS: u8 = 0x61;
/// Tag of a role's membership in another role: member, 0x00, granted role.
pub const TAG_MEMBERS: u8 = 0x62;
/// Tag of the cluster's own facts (its id), written once by the state
/// machine's first proposer.
pub const TAG_CLUSTER: u8 = 0x70;

const SEP: u8 = 0x00;

/// Key of the cluster id, `[Text(id)]`.
pub fn cluster_id() -> Vec<u8> {
    let mut k = vec![TAG_CLUSTER];
    k.extend_from_slice(b"id");
    k
}

/// Key of the revision base, `[Int(base)]`: what the state machine adds
/// to a log index to make an entry's revision. It is 0 until a restore
/// brings versions made by another cluster (see
/// [`crate::batch::KvOp::Restore`]), whose log positions are past this one's.
pub fn revision_base() -> Vec<u8> {
    let mut k = vec![TAG_CLUSTER];
    k.extend_from_slice(b"revision_base");
    k
}

/// Key of a `buckets` row. Names are `&str` from SQL and bytes from a
/// decoded key; every key builder takes both.
pub fn bucket(name: impl AsRef<[u8]>) -> Vec<u8> {
    let name = name.as_ref();
    let mut k = Vec::with_capacity(1 + name.len());
    k.push(TAG_BUCKETS);
    k.extend_from_slice(name);
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

/// Key of a row of a bucket-scoped table: `tag`, bucket, 0x00, `name`.
pub fn child(tag: u8, bucket: impl AsRef<[u8]>, name: impl AsRef<[u8]>) -> Vec<u8> {
    let mut k = child_prefix(tag, bucket);
    k.extend_from_slice(name.as_ref());
    k
}

/// Prefix shared by every row of `bucket` in a bucket-scoped table.
pub fn child_prefix(tag: u8, bucket: impl AsRef<[u8]>) -> Vec<u8> {
    let bucket = bucket.as_ref();
    let mut k = Vec::with_capacity(2 + bucket.len());
    k.push(tag);
    k.extend_from_slice(bucket);
    k.push(SEP);
    k
}

/// Key of a role.
pub fn role(name: impl AsRef<[u8]>) -> Vec<u8> {
    let name = name.as_ref();
    let mut k = Vec::with_capacity(1 + name.len());
    k.push(TAG_ROLES);
    k.extend_from_slice(name);
    k
}

/// Key of the privileges `role` holds on `table`.
pub fn grant(role: impl AsRef<[u8]>, table: impl AsRef<[u8]>) -> Vec<u8> {
    child(TAG_GRANTS, role, table)
}

/// Key of `member`'s membership in `granted`.
pub fn membership(member: impl AsRef<[u8]>, granted: impl AsRef<[u8]>) -> Vec<u8> {
    child(TAG_MEMBERS, member, granted)
}

/// Key of an `objects` row.
pub fn object(bucket: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Vec<u8> {
    child(TAG_OBJECTS, bucket, key)
}

/// Prefix shared by every object of `bucket`.
pub fn objects_prefix(bucket: impl AsRef<[u8]>) -> Vec<u8> {
    child_prefix(TAG_OBJECTS, bucket)
}

/// First key of the `objects` table.
pub fn objects_start() -> Vec<u8> {
    vec![TAG_OBJECTS]
}

/// Prefix shared by every stored version of `bucket`.
pub fn versions_prefix(bucket: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + bucket.len());
    k.push(TAG_VERSIONS);
    k.extend_from_slice(bucket);
    k.push(SEP);
    k
}

/// Where the versions of object keys from `raw` on begin: a bound in the
/// versions space that corresponds to the object-key bound `raw`.
///
/// Object keys may contain 0x00, so the key is escaped (0x00 becomes
/// 0x00 0xff) and ended with 0x00 0x01: the escaping keeps byte order, and
/// the versions of one key stay together, ahead of every longer key.
pub fn versions_bound(bucket: &[u8], raw: &[u8]) -> Vec<u8> {
    let mut k = versions_prefix(bucket);
    for &b in raw {
        k.push(b);
        if b == SEP {
            k.push(0xff);
        }
    }
    k
}

/// Prefix shared by the stored versions of one object.
pub fn key_versions_prefix(bucket: &[u8], key: &[u8]) -> Vec<u8> {
    let mut k = versions_bound(bucket, key);
    k.extend_from_slice(&[SEP, 0x01]);
    k
}

/// Key of a stored version; `seq` is the log index that made it. Newer
/// versions (higher `seq`) sort first.
pub fn version(bucket: &[u8], key: &[u8], seq: u64) -> Vec<u8> {
    let mut k = key_versions_prefix(bucket, key);
    k.extend_from_slice(&(u64::MAX - seq).to_be_bytes());
    k
}

/// Key of a `multipart_uploads` row.
pub fn upload(bucket: impl AsRef<[u8]>, upload_id: impl AsRef<[u8]>) -> Vec<u8> {
    child(TAG_UPLOADS, bucket, upload_id)
}

/// Prefix shared by every part of one upload. Upload ids never contain
/// 0x00 (checked by [`crate::rules`]), so it ends the upload id; the part
/// number follows as 4 big-endian bytes, which sort numerically.
pub fn parts_prefix(bucket: impl AsRef<[u8]>, upload_id: impl AsRef<[u8]>) -> Vec<u8> {
    let mut k = child(TAG_PARTS, bucket, upload_id);
    k.push(SEP);
    k
}

/// Key of a `multipart_parts` row.
pub fn part(bucket: impl AsRef<[u8]>, upload_id: impl AsRef<[u8]>, part_number: u32) -> Vec<u8> {
    let mut k = parts_prefix(bucket, upload_id);
    k.extend_from_slice(&part_number.to_be_bytes());
    k
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
    Bucket {
        name: &'a [u8],
    },
    Object {
        bucket: &'a [u8],
        key: &'a [u8],
    },
    Upload {
        bucket: &'a [u8],
        upload_id: &'a [u8],
    },
    Part {
        bucket: &'a [u8],
        upload_id: &'a [u8],
        part_number: u32,
    },
    Version {
        bucket: &'a [u8],
        key: Vec<u8>,
        seq: u64,
    },
    Role {
        name: &'a [u8],
    },
    Grant {
        role: &'a [u8],
        table: &'a [u8],
    },
    Membership {
        member: &'a [u8],
        granted: &'a [u8],
    },
    /// One of the cluster's own facts, by name.
    Cluster {
        name: &'a [u8],
    },
}

/// Splits a stored key into its table and components.
pub fn decode(key: &[u8]) -> Option<DecodedKey<'_>> {
    let (&tag, rest) = key.split_first()?;
    match tag {
        TAG_BUCKETS => Some(DecodedKey::Bucket { name: rest }),
        TAG_ROLES => Some(DecodedKey::Role { name: rest }),
        TAG_CLUSTER => Some(DecodedKey::Cluster { name: rest }),
        TAG_GRANTS | TAG_MEMBERS => {
            let pos = rest.iter().position(|&b| b == SEP)?;
            let (first, second) = (&rest[..pos], &rest[pos + 1..]);
            Some(if tag == TAG_GRANTS {
                DecodedKey::Grant {
                    role: first,
                    table: second,
                }
            } else {
                DecodedKey::Membership {
                    member: first,
                    granted: second,
                }
            })
        }
        TAG_VERSIONS => decode_version(rest),
        TAG_OBJECTS | TAG_UPLOADS | TAG_PARTS => {
            let pos = rest.iter().position(|&b| b == SEP)?;
            let (bucket, name) = (&rest[..pos], &rest[pos + 1..]);
            match tag {
                TAG_OBJECTS => Some(DecodedKey::Object { bucket, key: name }),
                TAG_UPLOADS => Some(DecodedKey::Upload {
                    bucket,
                    upload_id: name,
                }),
                _ => {
                    let (upload_id, tail) = name.split_at(name.len().checked_sub(5)?);
                    let (&sep, number) = tail.split_first()?;
                    if sep != SEP {
                        return None;
                    }
                    Some(DecodedKey::Part {
                        bucket,
                        upload_id,
                        part_number: u32::from_be_bytes(number.try_into().ok()?),
                    })
                }
            }
        }
        _ => None,
    }
}

/// Decodes the part of a version key after its tag.
fn decode_version(rest: &[u8]) -> Option<DecodedKey<'_>> {
    let pos = rest.iter().position(|&b| b == SEP)?;
    let (bucket, name) = (&rest[..pos], &rest[pos + 1..]);
    let (escaped, tail) = name.split_at(name.len().checked_sub(10)?);
    if tail[..2] != [SEP, 0x01] {
        return None;
    }
    let mut key = Vec::with_capacity(escaped.len());
    let mut bytes = escaped.iter();
    while let Some(&b) = bytes.next() {
        key.push(b);
        if b == SEP && bytes.next() != Some(&0xff) {
            return None;
        }
    }
    let inverted = u64::from_be_bytes(tail[2..].try_into().ok()?);
    Some(DecodedKey::Version {
        bucket,
        key,
        seq: u64::MAX - inverted,
    })
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
        assert_eq!(
            decode(&part("bkt", "up-1", 7)),
            Some(DecodedKey::Part {
                bucket: b"bkt",
                upload_id: b"up-1",
                part_number: 7
            })
        );
        assert_eq!(
            decode(&upload("bkt", "up-1")),
            Some(DecodedKey::Upload {
                bucket: b"bkt",
                upload_id: b"up-1"
            })
        );
        assert_eq!(decode(&[TAG_PARTS, b'b', 0, 1]), None);
        assert_eq!(decode(&[0x99]), None);
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn versions_group_by_key_newest_first() {
        let v = |k: &str, seq| version(b"b", k.as_bytes(), seq);
        let mut keys = vec![v("a\0b", 1), v("a", 1), v("a", 9), v("a\0", 5), v("b", 2)];
        keys.sort();
        assert_eq!(
            keys,
            vec![v("a", 9), v("a", 1), v("a\0", 5), v("a\0b", 1), v("b", 2)]
        );
        assert_eq!(
            decode(&v("a\0b", 7)),
            Some(DecodedKey::Version {
                bucket: b"b",
                key: b"a\0b".to_vec(),
                seq: 7
            })
        );
        // Object-key bounds map to version-key bounds that keep order.
        assert!(versions_bound(b"b", b"a\0") > v("a", 1));
        assert!(versions_bound(b"b", b"a\0") < v("a\0", 1));
        assert!(versions_bound(b"b", b"b") > v("a\0b", 1));
        assert_eq!(decode(&[TAG_VERSIONS, b'b', 0, b'k']), None);
    }

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }
}

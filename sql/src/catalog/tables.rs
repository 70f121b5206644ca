//! The five built-in tables, column by column.

use bucketdb_storage::versioning;

use super::{Check, Column, Default, ForeignKey, Table, TableId, VERSIONING};
use crate::value::SqlType;

const fn col(name: &'static str, ty: SqlType, default: Default, check: Check) -> Column {
    Column {
        name,
        ty,
        default,
        check,
    }
}

pub fn buckets() -> Table {
    use SqlType::*;
    Table {
        id: TableId::Buckets,
        name: "buckets",
        columns: vec![
            col("name", Text, Default::Null, Check::NotNull),
            col("owner", Text, Default::Null, Check::None),
            col("region", Text, Default::Text("default"), Check::NotNull),
            col(
                "versioning",
                Text,
                Default::Text("disabled"),
                Check::OneOf(VERSIONING),
            ),
            col("created_at", Timestamptz, Default::Now, Check::NotNull),
            col("tags", Json, Default::Null, Check::Json),
        ],
        key: vec![0],
        foreign_key: None,
    }
}

pub fn objects() -> Table {
    use SqlType::*;
    Table {
        id: TableId::Objects,
        name: "objects",
        columns: vec![
            col("bucket", Text, Default::Null, Check::NotNull),
            col("key", Text, Default::Null, Check::NotNull),
            col(
                "version_id",
                Text,
                Default::Assigned(versioning::NULL_VERSION),
                Check::NotNull,
            ),
            col("size", Int8, Default::Int(0), Check::NonNegative),
            col("etag", Text, Default::Null, Check::None),
            col("content_type", Text, Default::Null, Check::None),
            col(
                "storage_class",
                Text,
                Default::Text("STANDARD"),
                Check::NotNull,
            ),
            col("last_modified", Timestamptz, Default::Now, Check::NotNull),
            col("user_metadata", Json, Default::Null, Check::Json),
            col("tags", Json, Default::Null, Check::Json),
        ],
        key: vec![0, 1],
        foreign_key: Some(in_bucket("objects_bucket_fkey")),
    }
}

pub fn versions() -> Table {
    use SqlType::*;
    let c = |name, ty| col(name, ty, Default::Null, Check::None);
    Table {
        id: TableId::Versions,
        name: "object_versions",
        columns: vec![
            c("bucket", Text),
            c("key", Text),
            c("version_id", Text),
            c("is_latest", Bool),
            c("is_delete_marker", Bool),
            c("size", Int8),
            c("etag", Text),
            c("content_type", Text),
            c("storage_class", Text),
            c("last_modified", Timestamptz),
            c("user_metadata", Json),
            c("tags", Json),
        ],
        // Access paths use (bucket, key); a version is named by its
        // version id within them.
        key: vec![0, 1, 2],
        // A version outlives its object but not its bucket: a bucket with
        // versions cannot be dropped.
        foreign_key: Some(in_bucket("object_versions_bucket_fkey")),
    }
}

pub fn uploads() -> Table {
    use SqlType::*;
    Table {
        id: TableId::Uploads,
        name: "multipart_uploads",
        columns: vec![
            col("bucket", Text, Default::Null, Check::NotNull),
            col("key", Text, Default::Null, Check::NotNull),
            col("upload_id", Text, Default::Null, Check::NotNull),
            col("initiated_at", Timestamptz, Default::Now, Check::NotNull),
            col("owner", Text, Default::Null, Check::None),
            col("user_metadata", Json, Default::Null, Check::Json),
        ],
        // Upload ids are unique within a bucket; parts name their upload
        // by (bucket, upload_id).
        key: vec![0, 2],
        foreign_key: Some(in_bucket("multipart_uploads_bucket_fkey")),
    }
}

pub fn parts() -> Table {
    use SqlType::*;
    Table {
        id: TableId::Parts,
        name: "multipart_parts",
        columns: vec![
            col("bucket", Text, Default::Null, Check::NotNull),
            col("upload_id", Text, Default::Null, Check::NotNull),
            col("part_number", Int8, Default::Null, Check::NotNull),
            col("size", Int8, Default::Int(0), Check::NonNegative),
            col("etag", Text, Default::Null, Check::None),
            col("last_modified", Timestamptz, Default::Now, Check::NotNull),
        ],
        key: vec![0, 1, 2],
        foreign_key: Some(ForeignKey {
            name: "multipart_parts_bucket_upload_id_fkey",
            columns: vec![0, 1],
            parent: TableId::Uploads,
            parent_columns: vec![0, 2],
        }),
    }
}

/// The key of a table whose first column names a bucket.
fn in_bucket(name: &'static str) -> ForeignKey {
    ForeignKey {
        name,
        columns: vec![0],
        parent: TableId::Buckets,
        parent_columns: vec![0],
    }
}

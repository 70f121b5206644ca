//! The fixed catalog: the built-in tables, their columns, keys and defaults.

use bucketdb_storage::{keys, rules, versioning};

use crate::error::{SqlError, SqlResult};
use crate::value::{SqlType, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableId {
    Buckets,
    Objects,
    Uploads,
    Parts,
    /// `object_versions`: read-only but for DELETE; made of the `objects`
    /// rows and the stored versions (see [`crate::versions`]).
    Versions,
}

/// What a column holds when an INSERT does not name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    Null,
    Text(&'static str),
    Int(i64),
    /// The statement's timestamp, fixed by the planner on the leader.
    Now,
    /// Assigned by the state machine when it applies the write (version
    /// ids); a statement may only leave it at this placeholder.
    Assigned(&'static str),
}

/// Extra rule a column's value must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    None,
    NotNull,
    Json,
    NonNegative,
    OneOf(&'static [&'static str]),
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: &'static str,
    pub ty: SqlType,
    pub default: Default,
    pub check: Check,
}

#[derive(Debug)]
pub struct Table {
    pub id: TableId,
    pub name: &'static str,
    pub columns: Vec<Column>,
    /// Positions of the primary-key columns, in key order.
    pub key: Vec<usize>,
}

const fn col(name: &'static str, ty: SqlType, default: Default, check: Check) -> Column {
    Column {
        name,
        ty,
        default,
        check,
    }
}

pub const VERSIONING: &[&str] = &["disabled", "enabled", "suspended"];

fn buckets() -> Table {
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
            col("tags", Text, Default::Null, Check::Json),
        ],
        key: vec![0],
    }
}

fn objects() -> Table {
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
            col("user_metadata", Text, Default::Null, Check::Json),
            col("tags", Text, Default::Null, Check::Json),
        ],
        key: vec![0, 1],
    }
}

fn versions() -> Table {
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
            c("user_metadata", Text),
            c("tags", Text),
        ],
        // Access paths use (bucket, key); a version is named by its
        // version id within them.
        key: vec![0, 1, 2],
    }
}

fn uploads() -> Table {
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
            col("user_metadata", Text, Default::Null, Check::Json),
        ],
        // Upload ids are unique within a bucket; parts name their upload
        // by (bucket, upload_id).
        key: vec![0, 2],
    }
}

fn parts() -> Table {
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
    }
}

/// All built-in tables, built once.
#[derive(Debug)]
pub struct Catalog {
    pub buckets: Table,
    pub objects: Table,
    pub uploads: Table,
    pub parts: Table,
    pub versions: Table,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog {
            buckets: buckets(),
            objects: objects(),
            uploads: uploads(),
            parts: parts(),
            versions: versions(),
        }
    }

    pub fn table(&self, name: &str) -> SqlResult<&Table> {
        match name {
            "buckets" => Ok(&self.buckets),
            "objects" => Ok(&self.objects),
            "multipart_uploads" => Ok(&self.uploads),
            "multipart_parts" => Ok(&self.parts),
            "object_versions" => Ok(&self.versions),
            other => Err(SqlError::undefined_table(format!(
                "relation \"{other}\" does not exist"
            ))),
        }
    }

    pub fn get(&self, id: TableId) -> &Table {
        match id {
            TableId::Buckets => &self.buckets,
            TableId::Objects => &self.objects,
            TableId::Uploads => &self.uploads,
            TableId::Parts => &self.parts,
            TableId::Versions => &self.versions,
        }
    }
}

impl std::default::Default for Catalog {
    fn default() -> Self {
        Catalog::new()
    }
}

impl Table {
    pub fn column_index(&self, name: &str) -> SqlResult<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                SqlError::undefined_column(format!(
                    "column \"{name}\" of relation \"{}\" does not exist",
                    self.name
                ))
            })
    }

    pub fn is_key_column(&self, idx: usize) -> bool {
        self.key.contains(&idx)
    }

    /// The storage key of a complete row.
    pub fn row_key(&self, row: &[Value]) -> SqlResult<Vec<u8>> {
        let text = |i: usize| match &row[i] {
            Value::Text(s) => Ok(s.as_str()),
            _ => Err(SqlError::not_null_violation(format!(
                "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                self.columns[i].name, self.name
            ))),
        };
        Ok(match self.id {
            TableId::Buckets => keys::bucket(text(0)?),
            TableId::Objects => keys::object(text(0)?, text(1)?),
            TableId::Uploads => keys::upload(text(0)?, text(2)?),
            TableId::Parts => keys::part(text(0)?, text(1)?, self.part_number(row)?),
            TableId::Versions => {
                return Err(SqlError::internal(
                    "object_versions rows are named by their sequence, not their columns",
                ))
            }
        })
    }

    /// Checks a complete row against the column rules and S3 naming rules.
    /// The state machine re-checks the naming rules when it applies.
    pub fn check_row(&self, row: &[Value]) -> SqlResult<()> {
        for (c, v) in self.columns.iter().zip(row) {
            match (c.check, v) {
                (Check::NotNull, Value::Null) => {
                    return Err(SqlError::not_null_violation(format!(
                        "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                        c.name, self.name
                    )))
                }
                (Check::Json, Value::Text(s)) => {
                    if let Err(e) = serde_json::from_str::<serde_json::Value>(s) {
                        return Err(SqlError::invalid_text_representation(format!(
                            "invalid input syntax for type json in column \"{}\": {e}",
                            c.name
                        )));
                    }
                }
                (Check::NonNegative, Value::Int(i)) if *i < 0 => {
                    return Err(SqlError::check_violation(format!(
                        "column \"{}\" of relation \"{}\" must not be negative",
                        c.name, self.name
                    )))
                }
                (Check::OneOf(allowed), Value::Text(s)) if !allowed.contains(&s.as_str()) => {
                    return Err(SqlError::check_violation(format!(
                        "invalid value \"{s}\" for column \"{}\": expected one of {}",
                        c.name,
                        allowed.join(", ")
                    )))
                }
                (Check::OneOf(_), Value::Null) => {
                    return Err(SqlError::not_null_violation(format!(
                        "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                        c.name, self.name
                    )))
                }
                _ => {}
            }
        }
        let name_rule = |r: Result<(), String>| r.map_err(SqlError::check_violation);
        match self.id {
            TableId::Buckets => {
                if let Value::Text(n) = &row[0] {
                    name_rule(rules::check_bucket_name(n.as_bytes()))?;
                }
            }
            TableId::Objects => {
                if let Value::Text(k) = &row[1] {
                    name_rule(rules::check_object_key(k.as_bytes()))?;
                }
            }
            TableId::Uploads => {
                if let Value::Text(id) = &row[2] {
                    name_rule(rules::check_upload_id(id.as_bytes()))?;
                }
            }
            TableId::Parts => {
                if let Value::Text(id) = &row[1] {
                    name_rule(rules::check_upload_id(id.as_bytes()))?;
                }
                self.part_number(row)?;
            }
            TableId::Versions => {}
        }
        Ok(())
    }

    /// Refuses a new row that sets a column the database assigns.
    pub fn check_assigned(&self, row: &[Value]) -> SqlResult<()> {
        for (c, v) in self.columns.iter().zip(row) {
            if let Default::Assigned(placeholder) = c.default {
                if !matches!(v, Value::Text(t) if t == placeholder) {
                    return Err(SqlError::generated_always(format!(
                        "cannot insert a non-DEFAULT value into column \"{}\": it is assigned by the database",
                        c.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// Refuses writes other than DELETE to a table that is read-only.
    pub fn check_writable(&self, statement: &str) -> SqlResult<()> {
        if self.id == TableId::Versions {
            return Err(SqlError::wrong_object_type(format!(
                "cannot {statement} {}: write objects instead (only DELETE removes a version)",
                self.name
            )));
        }
        Ok(())
    }

    /// A part row's part number, checked to be 1–10000.
    fn part_number(&self, row: &[Value]) -> SqlResult<u32> {
        let n = match &row[2] {
            Value::Int(n) => *n,
            _ => {
                return Err(SqlError::not_null_violation(
                    "null value in column \"part_number\" of relation \"multipart_parts\" violates not-null constraint",
                ))
            }
        };
        let n = u32::try_from(n).unwrap_or(0);
        rules::check_part_number(n).map_err(SqlError::check_violation)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket_row(name: &str, tags: Value) -> Vec<Value> {
        vec![
            Value::Text(name.into()),
            Value::Null,
            Value::Text("default".into()),
            Value::Text("disabled".into()),
            Value::Timestamp(0),
            tags,
        ]
    }

    #[test]
    fn storage_counts_sizes_from_the_size_column() {
        let c = Catalog::new();
        assert_eq!(
            c.objects.column_index("size").unwrap(),
            bucketdb_storage::stats::OBJECT_SIZE_COLUMN
        );
    }

    #[test]
    fn storage_reads_versioning_and_version_ids_where_the_catalog_puts_them() {
        let c = Catalog::new();
        assert_eq!(
            c.buckets.column_index("versioning").unwrap(),
            versioning::BUCKET_VERSIONING_COLUMN
        );
        assert_eq!(
            c.objects.column_index("version_id").unwrap(),
            versioning::OBJECT_VERSION_ID_COLUMN
        );
        assert_eq!(
            c.objects.column_index("last_modified").unwrap(),
            versioning::OBJECT_LAST_MODIFIED_COLUMN
        );
        assert_eq!(c.objects.columns.len(), versioning::OBJECT_COLUMNS);
    }

    #[test]
    fn rows_are_checked() {
        let c = Catalog::new();
        assert!(c
            .buckets
            .check_row(&bucket_row("good-name", Value::Null))
            .is_ok());
        let e = c
            .buckets
            .check_row(&bucket_row("Bad", Value::Null))
            .unwrap_err();
        assert_eq!(e.code, "23514");
        let e = c
            .buckets
            .check_row(&bucket_row("good", Value::Text("{oops".into())))
            .unwrap_err();
        assert_eq!(e.code, "22P02");
        let mut r = bucket_row("good", Value::Null);
        r[3] = Value::Text("sometimes".into());
        assert_eq!(c.buckets.check_row(&r).unwrap_err().code, "23514");
        assert_eq!(c.table("nope").unwrap_err().code, "42P01");
    }
}

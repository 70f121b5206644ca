//! A row of a built-in table: its values as read, the key it is stored
//! at, and the rules it must follow before it is proposed. The state
//! machine re-checks the S3 naming rules when it applies.

use bucketdb_storage::{keys, rules, StoredRow};

use super::{Check, Default, Table, TableId};
use crate::error::{SqlError, SqlResult};
use crate::value::{check_json, Value};

impl Table {
    /// A stored row's values, one per column (columns added after the row
    /// was written read as NULL).
    pub fn values(&self, row: &StoredRow) -> Vec<Value> {
        let mut v: Vec<Value> = row.columns.iter().map(Value::from_datum).collect();
        v.resize(self.columns.len(), Value::Null);
        v
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
                    check_json(s).map_err(|e| e.with_context(format!("column \"{}\"", c.name)))?
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
                "cannot {statement} {}: write objects instead (DELETE removes a version; COPY restores dumped ones)",
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
    use bucketdb_storage::versioning;

    use super::super::Catalog;
    use super::*;
    use crate::error::SqlState;

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
        assert_eq!(e.state, SqlState::CheckViolation);
        let e = c
            .buckets
            .check_row(&bucket_row("good", Value::Text("{oops".into())))
            .unwrap_err();
        assert_eq!(e.state, SqlState::InvalidTextRepresentation);
        let mut r = bucket_row("good", Value::Null);
        r[3] = Value::Text("sometimes".into());
        assert_eq!(
            c.buckets.check_row(&r).unwrap_err().state,
            SqlState::CheckViolation
        );
        assert_eq!(c.table("nope").unwrap_err().state, SqlState::UndefinedTable);
    }
}

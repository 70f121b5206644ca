//! The constraint views of `information_schema`: `table_constraints`,
//! `key_column_usage`, `referential_constraints` and
//! `constraint_column_usage`, made from the built-in tables' primary and
//! foreign keys ([`Catalog::constraints`]).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{Result, ScalarValue};

use crate::catalog::{Catalog, Constraint, ConstraintKind};

/// The views' names.
pub const NAMES: [&str; 4] = [
    "table_constraints",
    "key_column_usage",
    "referential_constraints",
    "constraint_column_usage",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    TableConstraints,
    KeyColumnUsage,
    ReferentialConstraints,
    ConstraintColumnUsage,
}

/// A cell: text, or an integer (the ordinal positions).
enum Cell {
    Text(Option<String>),
    Int(Option<i32>),
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(Some(s.into()))
}

impl View {
    pub fn of(name: &str) -> Option<View> {
        Some(match name {
            "table_constraints" => View::TableConstraints,
            "key_column_usage" => View::KeyColumnUsage,
            "referential_constraints" => View::ReferentialConstraints,
            "constraint_column_usage" => View::ConstraintColumnUsage,
            _ => return None,
        })
    }

    /// The view's columns, in PostgreSQL's order.
    fn columns(self) -> &'static [&'static str] {
        match self {
            View::TableConstraints => &[
                "constraint_catalog",
                "constraint_schema",
                "constraint_name",
                "table_catalog",
                "table_schema",
                "table_name",
                "constraint_type",
                "is_deferrable",
                "initially_deferred",
                "enforced",
                "nulls_distinct",
            ],
            View::KeyColumnUsage => &[
                "constraint_catalog",
                "constraint_schema",
                "constraint_name",
                "table_catalog",
                "table_schema",
                "table_name",
                "column_name",
                "ordinal_position",
                "position_in_unique_constraint",
            ],
            View::ReferentialConstraints => &[
                "constraint_catalog",
                "constraint_schema",
                "constraint_name",
                "unique_constraint_catalog",
                "unique_constraint_schema",
                "unique_constraint_name",
                "match_option",
                "update_rule",
                "delete_rule",
            ],
            View::ConstraintColumnUsage => &[
                "table_catalog",
                "table_schema",
                "table_name",
                "column_name",
                "constraint_catalog",
                "constraint_schema",
                "constraint_name",
            ],
        }
    }

    /// The rows one constraint contributes.
    fn rows(self, k: &Constraint, db: &str, out: &mut Vec<Vec<Cell>>) {
        let named = || vec![text(db), text("public"), text(&k.name)];
        let table = |name: &str| vec![text(db), text("public"), text(name)];
        match self {
            View::TableConstraints => {
                let mut row = named();
                row.extend(table(k.table.name));
                row.push(text(match k.kind {
                    ConstraintKind::PrimaryKey => "PRIMARY KEY",
                    ConstraintKind::ForeignKey => "FOREIGN KEY",
                }));
                row.extend([text("NO"), text("NO"), text("YES"), Cell::Text(None)]);
                out.push(row);
            }
            View::KeyColumnUsage => {
                for (i, &c) in k.columns.iter().enumerate() {
                    let mut row = named();
                    row.extend(table(k.table.name));
                    row.push(text(k.table.columns[c].name));
                    row.push(Cell::Int(Some(i as i32 + 1)));
                    // A foreign key's column matches the referenced key's
                    // column at the same place (the key is the whole
                    // referenced primary key, in order).
                    row.push(Cell::Int(k.references.map(|_| i as i32 + 1)));
                    out.push(row);
                }
            }
            View::ReferentialConstraints => {
                let Some((parent, _)) = k.references else {
                    return;
                };
                let mut row = named();
                row.extend([text(db), text("public"), text(parent.key_constraint())]);
                row.extend([text("NONE"), text("NO ACTION"), text("NO ACTION")]);
                out.push(row);
            }
            View::ConstraintColumnUsage => {
                // The columns the constraint depends on: its own for a
                // primary key, the referenced ones for a foreign key.
                let (t, columns) = k.references.unwrap_or((k.table, k.columns));
                for &c in columns {
                    let mut row = table(t.name);
                    row.push(text(t.columns[c].name));
                    row.extend(named());
                    out.push(row);
                }
            }
        }
    }

    pub fn batch(self, catalog: &Catalog, db: &str) -> Result<RecordBatch> {
        let mut rows = Vec::new();
        for k in catalog.constraints() {
            self.rows(&k, db, &mut rows);
        }
        let names = self.columns();
        let mut fields = Vec::with_capacity(names.len());
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let values = rows.iter().map(|r| match &r[i] {
                Cell::Text(s) => ScalarValue::Utf8(s.clone()),
                Cell::Int(v) => ScalarValue::Int32(*v),
            });
            let ty = match *name {
                "ordinal_position" | "position_in_unique_constraint" => DataType::Int32,
                _ => DataType::Utf8,
            };
            let array = match rows.is_empty() {
                true => datafusion::arrow::array::new_empty_array(&ty),
                false => ScalarValue::iter_to_array(values)?,
            };
            fields.push(Field::new(*name, array.data_type().clone(), true));
            arrays.push(array);
        }
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;

    #[test]
    fn every_view_has_its_columns_and_the_built_in_keys() {
        let c = Catalog::new();
        for name in NAMES {
            let view = View::of(name).unwrap();
            let b = view.batch(&c, "bucketdb").unwrap();
            assert_eq!(b.num_columns(), view.columns().len(), "{name}");
            assert!(b.num_rows() > 0, "{name}");
        }
        let usage = View::KeyColumnUsage.batch(&c, "bucketdb").unwrap();
        let names: Vec<_> = usage
            .column(2)
            .as_string::<i32>()
            .iter()
            .flatten()
            .collect();
        let columns: Vec<_> = usage
            .column(6)
            .as_string::<i32>()
            .iter()
            .flatten()
            .collect();
        let at = names
            .iter()
            .position(|n| *n == "objects_bucket_fkey")
            .unwrap();
        assert_eq!(columns[at], "bucket");
        let refs = View::ReferentialConstraints.batch(&c, "bucketdb").unwrap();
        let unique = refs.column(5).as_string::<i32>();
        let parents: Vec<_> = unique.iter().flatten().collect();
        assert!(parents.contains(&"buckets_pkey"), "{parents:?}");
        assert!(parents.contains(&"multipart_uploads_pkey"), "{parents:?}");
    }
}

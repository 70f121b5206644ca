//! The built-in tables' constraints as a catalog lists them: each table's
//! primary key (and the unique index that stands for it) and the foreign
//! key the state machine enforces. `pg_constraint`, `pg_index` and
//! `information_schema`'s constraint views are made from these, so tools
//! that reflect keys (ORMs, psql's `\d`) see what bucketdb enforces.

use super::{Catalog, Table, TableId};

/// The tables in the order catalogs list them.
const ORDER: [TableId; 5] = [
    TableId::Buckets,
    TableId::Objects,
    TableId::Uploads,
    TableId::Parts,
    TableId::Versions,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    PrimaryKey,
    ForeignKey,
}

/// One constraint of a built-in table.
#[derive(Debug, Clone)]
pub struct Constraint<'a> {
    /// The table's position in [`Catalog::tables`].
    pub table_index: usize,
    pub table: &'a Table,
    pub kind: ConstraintKind,
    pub name: String,
    /// The constrained columns, 0-based, in key order.
    pub columns: &'a [usize],
    /// For a foreign key: the referenced table and its columns.
    pub references: Option<(&'a Table, &'a [usize])>,
}

impl Catalog {
    /// The built-in tables, in a fixed order.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        ORDER.into_iter().map(|id| self.get(id))
    }

    /// Every table's primary key, then its foreign key.
    pub fn constraints(&self) -> Vec<Constraint<'_>> {
        let mut out = Vec::new();
        for (table_index, table) in self.tables().enumerate() {
            out.push(Constraint {
                table_index,
                table,
                kind: ConstraintKind::PrimaryKey,
                name: table.key_constraint(),
                columns: &table.key,
                references: None,
            });
            if let Some(fk) = &table.foreign_key {
                let parent = self.get(fk.parent);
                out.push(Constraint {
                    table_index,
                    table,
                    kind: ConstraintKind::ForeignKey,
                    name: fk.name.to_string(),
                    columns: &fk.columns,
                    references: Some((parent, &fk.parent_columns)),
                });
            }
        }
        out
    }
}

impl Constraint<'_> {
    /// Column names of `positions` in `table`, comma-separated.
    fn names(table: &Table, positions: &[usize]) -> String {
        positions
            .iter()
            .map(|&i| table.columns[i].name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The constraint as `pg_get_constraintdef` prints it; `qualified`
    /// names the referenced table with its schema.
    pub fn definition(&self, qualified: bool) -> String {
        let columns = Self::names(self.table, self.columns);
        let schema = if qualified { "public." } else { "" };
        match self.references {
            None => format!("PRIMARY KEY ({columns})"),
            Some((parent, parent_columns)) => format!(
                "FOREIGN KEY ({columns}) REFERENCES {schema}{}({})",
                parent.name,
                Self::names(parent, parent_columns)
            ),
        }
    }

    /// The primary key's index as `pg_get_indexdef` prints it.
    pub fn index_definition(&self) -> String {
        format!(
            "CREATE UNIQUE INDEX {} ON public.{} USING btree ({})",
            self.name,
            self.table.name,
            Self::names(self.table, self.columns)
        )
    }

    /// Whether `table` is this constraint's or the one it references.
    pub fn involves(&self, table: &Table) -> bool {
        self.table.id == table.id || self.references.is_some_and(|(p, _)| p.id == table.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_foreign_keys_print_as_postgresql_prints_them() {
        let c = Catalog::new();
        let all = c.constraints();
        let find = |name: &str| all.iter().find(|k| k.name == name).unwrap();
        assert_eq!(
            find("objects_pkey").definition(false),
            "PRIMARY KEY (bucket, key)"
        );
        assert_eq!(
            find("objects_pkey").index_definition(),
            "CREATE UNIQUE INDEX objects_pkey ON public.objects USING btree (bucket, key)"
        );
        assert_eq!(
            find("objects_bucket_fkey").definition(false),
            "FOREIGN KEY (bucket) REFERENCES buckets(name)"
        );
        assert_eq!(
            find("multipart_parts_bucket_upload_id_fkey").definition(true),
            "FOREIGN KEY (bucket, upload_id) REFERENCES public.multipart_uploads(bucket, upload_id)"
        );
        assert_eq!(
            all.iter()
                .filter(|k| k.kind == ConstraintKind::PrimaryKey)
                .count(),
            5
        );
        assert!(find("objects_bucket_fkey").involves(&c.buckets));
        assert!(!find("objects_pkey").involves(&c.buckets));
    }
}

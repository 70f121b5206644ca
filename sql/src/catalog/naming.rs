//! Naming storage keys to a client: which table a key belongs to, a key
//! written as PostgreSQL writes one in an error detail, and the SQL error
//! a refusal of the state machine stands for.

use bucketdb_storage::keys::{self, DecodedKey};
use bucketdb_storage::{Rejection, Violation};

use super::{Catalog, Table};
use crate::error::SqlError;

impl Catalog {
    /// The table whose row is stored at `key` (`objects` for a key of no
    /// table: the error that names it still reads sensibly).
    pub fn table_of_key(&self, key: &[u8]) -> &Table {
        match keys::decode(key) {
            Some(DecodedKey::Bucket { .. }) => &self.buckets,
            Some(DecodedKey::Upload { .. }) => &self.uploads,
            Some(DecodedKey::Part { .. }) => &self.parts,
            Some(DecodedKey::Version { .. }) => &self.versions,
            // Role keys are written by role statements, which name their
            // own errors; the cluster's keys by no statement.
            Some(DecodedKey::Object { .. })
            | Some(DecodedKey::Role { .. })
            | Some(DecodedKey::Grant { .. })
            | Some(DecodedKey::Membership { .. })
            | Some(DecodedKey::Cluster { .. })
            | None => &self.objects,
        }
    }
}

/// `(bucket, key)=(photos, a.jpg)`: a key's columns and values.
fn describe_key(key: &[u8]) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match keys::decode(key) {
        Some(DecodedKey::Bucket { name }) => format!("(name)=({})", text(name)),
        Some(DecodedKey::Object { bucket, key }) => {
            format!("(bucket, key)=({}, {})", text(bucket), text(key))
        }
        Some(DecodedKey::Upload { bucket, upload_id }) => {
            format!(
                "(bucket, upload_id)=({}, {})",
                text(bucket),
                text(upload_id)
            )
        }
        Some(DecodedKey::Part {
            bucket,
            upload_id,
            part_number,
        }) => format!(
            "(bucket, upload_id, part_number)=({}, {}, {part_number})",
            text(bucket),
            text(upload_id)
        ),
        Some(DecodedKey::Version { bucket, key, .. }) => {
            format!("(bucket, key)=({}, {})", text(bucket), text(&key))
        }
        Some(DecodedKey::Role { name }) => format!("(rolname)=({})", text(name)),
        Some(DecodedKey::Grant { role, table }) => {
            format!("(role, table)=({}, {})", text(role), text(table))
        }
        Some(DecodedKey::Membership { member, granted }) => {
            format!("(member, role)=({}, {})", text(member), text(granted))
        }
        Some(DecodedKey::Cluster { name }) => format!("(cluster)=({})", text(name)),
        None => "(?)".into(),
    }
}

/// The error of a second row at `key` in `table`.
pub fn duplicate_key(table: &Table, key: &[u8]) -> SqlError {
    SqlError::unique_violation(format!(
        "duplicate key value violates unique constraint \"{}\": Key {} already exists.",
        table.key_constraint(),
        describe_key(key)
    ))
}

/// Maps the state machine's refusal to the SQL error a client expects.
pub fn rejection_error(table: &Table, r: &Rejection) -> SqlError {
    match r.violation {
        Violation::UniqueViolation => duplicate_key(table, &r.key),
        Violation::MissingParent => SqlError::foreign_key_violation(format!(
            "insert or update on table \"{}\" violates foreign key constraint \"{}\": {}",
            table.name,
            table.foreign_key.as_ref().map_or("parent", |k| k.name),
            r.detail
        )),
        Violation::HasChildren => SqlError::foreign_key_violation(format!(
            "update or delete on table \"{}\" violates a foreign key constraint: {}",
            table.name, r.detail
        )),
        Violation::InvalidValue => SqlError::check_violation(r.detail.clone()),
        Violation::Conflict => {
            SqlError::serialization_failure("could not serialize access due to concurrent update")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    #[test]
    fn keys_are_named_by_their_table_and_columns() {
        let c = Catalog::new();
        let k = keys::object("photos", "a.jpg");
        assert_eq!(c.table_of_key(&k).name, "objects");
        assert_eq!(c.table_of_key(&keys::bucket("photos")).name, "buckets");
        let e = duplicate_key(&c.objects, &k);
        assert_eq!(e.state, SqlState::UniqueViolation);
        assert!(
            e.message
                .contains("\"objects_pkey\": Key (bucket, key)=(photos, a.jpg)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn refusals_map_to_their_sqlstate() {
        let c = Catalog::new();
        let refused = |violation| Rejection {
            key: keys::bucket("b"),
            violation,
            detail: "why".into(),
        };
        for (violation, state) in [
            (Violation::UniqueViolation, SqlState::UniqueViolation),
            (Violation::MissingParent, SqlState::ForeignKeyViolation),
            (Violation::HasChildren, SqlState::ForeignKeyViolation),
            (Violation::InvalidValue, SqlState::CheckViolation),
            (Violation::Conflict, SqlState::SerializationFailure),
        ] {
            assert_eq!(
                rejection_error(&c.buckets, &refused(violation)).state,
                state,
                "{violation:?}"
            );
        }
    }
}

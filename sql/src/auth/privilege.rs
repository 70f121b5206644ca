//! Table privileges as a set of bits (what a grant row stores).

use sqlparser::ast::Action;

use crate::error::{SqlError, SqlResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Privileges(u8);

impl Privileges {
    pub const NONE: Privileges = Privileges(0);
    pub const SELECT: Privileges = Privileges(1);
    pub const INSERT: Privileges = Privileges(2);
    pub const UPDATE: Privileges = Privileges(4);
    pub const DELETE: Privileges = Privileges(8);
    pub const ALL: Privileges = Privileges(15);

    /// From stored bits; bits of no privilege are dropped.
    pub fn from_bits(bits: i64) -> Privileges {
        Privileges((bits & 15) as u8)
    }

    pub fn bits(self) -> i64 {
        self.0 as i64
    }

    pub fn union(self, other: Privileges) -> Privileges {
        Privileges(self.0 | other.0)
    }

    pub fn minus(self, other: Privileges) -> Privileges {
        Privileges(self.0 & !other.0)
    }

    pub fn intersects(self, other: Privileges) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The privileges as PostgreSQL's ACL letters, in its order
    /// (`a`ppend = INSERT, `r`ead = SELECT, `w`rite = UPDATE, `d`elete).
    pub fn acl_letters(self) -> String {
        [
            (Privileges::INSERT, 'a'),
            (Privileges::SELECT, 'r'),
            (Privileges::UPDATE, 'w'),
            (Privileges::DELETE, 'd'),
        ]
        .iter()
        .filter(|(p, _)| self.0 & p.0 != 0)
        .map(|(_, c)| *c)
        .collect()
    }

    /// The privileges a list such as `has_table_privilege`'s second
    /// argument names (`'SELECT, INSERT WITH GRANT OPTION'`). PostgreSQL's
    /// TRUNCATE, REFERENCES, TRIGGER and MAINTAIN, and grant options, are
    /// granted on no bucketdb table: they come back as `superuser_only`.
    pub fn of_list(text: &str) -> SqlResult<Named> {
        let mut named = Named::default();
        for word in text.split(',') {
            let word = word.trim().to_ascii_uppercase();
            let (word, grant_option) = match word.strip_suffix("WITH GRANT OPTION") {
                Some(w) => (w.trim_end().to_string(), true),
                None => (word, false),
            };
            let p = match word.as_str() {
                "SELECT" => Privileges::SELECT,
                "INSERT" => Privileges::INSERT,
                "UPDATE" => Privileges::UPDATE,
                "DELETE" => Privileges::DELETE,
                "TRUNCATE" | "REFERENCES" | "TRIGGER" | "MAINTAIN" => {
                    named.superuser_only = true;
                    continue;
                }
                _ => {
                    return Err(SqlError::invalid_parameter_value(format!(
                        "unrecognized privilege type: \"{}\"",
                        word.to_ascii_lowercase()
                    )))
                }
            };
            if grant_option {
                named.superuser_only = true;
            } else {
                named.kept = named.kept.union(p);
            }
        }
        Ok(named)
    }

    /// The privileges a GRANT or REVOKE names.
    pub fn of_actions(actions: &[Action]) -> SqlResult<Privileges> {
        let mut out = Privileges::NONE;
        for a in actions {
            let p = match a {
                Action::Select { columns: None } => Privileges::SELECT,
                Action::Insert { columns: None } => Privileges::INSERT,
                Action::Update { columns: None } => Privileges::UPDATE,
                Action::Delete => Privileges::DELETE,
                Action::Select { .. } | Action::Insert { .. } | Action::Update { .. } => {
                    return Err(SqlError::feature_not_supported(
                        "column privileges are not supported",
                    ))
                }
                other => {
                    return Err(SqlError::feature_not_supported(format!(
                        "privilege {other} is not supported: tables take SELECT, INSERT, UPDATE and DELETE"
                    )))
                }
            };
            out = out.union(p);
        }
        Ok(out)
    }
}

/// The privileges a list names (see [`Privileges::of_list`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Named {
    /// Those a grant can hold.
    pub kept: Privileges,
    /// Whether it names any only a superuser holds.
    pub superuser_only: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_and_sets_combine() {
        let p = Privileges::SELECT.union(Privileges::INSERT);
        assert_eq!(Privileges::from_bits(p.bits()), p);
        assert_eq!(Privileges::from_bits(0xff), Privileges::ALL);
        assert_eq!(
            Privileges::ALL.minus(p).minus(Privileges::UPDATE),
            Privileges::DELETE
        );
        assert!(p.minus(p).is_empty());
    }

    #[test]
    fn lists_name_kept_and_superuser_only_privileges() {
        let n = Privileges::of_list("select, Insert").unwrap();
        assert_eq!(n.kept, Privileges::SELECT.union(Privileges::INSERT));
        assert!(!n.superuser_only);
        let n = Privileges::of_list("TRUNCATE,SELECT WITH GRANT OPTION").unwrap();
        assert_eq!(n.kept, Privileges::NONE);
        assert!(n.superuser_only);
        let e = Privileges::of_list("SELEC").unwrap_err();
        assert_eq!(e.state, crate::error::SqlState::InvalidParameterValue);
        assert_eq!(Privileges::ALL.acl_letters(), "arwd");
        assert_eq!(Privileges::SELECT.acl_letters(), "r");
    }
}

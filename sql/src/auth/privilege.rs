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

    pub fn is_empty(self) -> bool {
        self.0 == 0
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
}

//! Access paths: which keys a statement must look at, derived from the
//! conjuncts of its WHERE clause on the primary key. The full condition is
//! still applied to every row found, so an access path only has to cover
//! every matching row; it makes point lookups and key-range scans (bucket =,
//! key IN, key LIKE 'prefix%', key ranges) touch only their keys.

use crate::catalog::{Table, TableId};
use crate::expr::{CmpOp, Expr};

/// Bounds on one text key column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bounds {
    pub lower: Option<(Expr, bool)>,
    pub upper: Option<(Expr, bool)>,
    /// A LIKE pattern whose literal prefix bounds the column.
    pub like: Option<Expr>,
}

impl Bounds {
    pub fn is_empty(&self) -> bool {
        self.lower.is_none() && self.upper.is_none() && self.like.is_none()
    }
}

/// How to find a table's candidate rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Access {
    /// Values of the first key column (`=` or `IN`).
    pub first: Option<Vec<Expr>>,
    /// Values of the second key column, for `objects` with `first` set.
    pub second: Option<Vec<Expr>>,
    /// Bounds on the first key column without `first` (buckets), or on the
    /// second with `first` (objects).
    pub bounds: Bounds,
}

fn row_independent(e: &Expr) -> bool {
    e.is_row_independent()
}

fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    if let Expr::And(a, b) = e {
        conjuncts(a, out);
        conjuncts(b, out);
    } else {
        out.push(e);
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::LtEq => CmpOp::GtEq,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::GtEq => CmpOp::LtEq,
        o => o,
    }
}

impl Access {
    /// Derives the access path of `table` from a bound filter.
    pub fn derive(table: &Table, filter: Option<&Expr>) -> Access {
        let mut access = Access::default();
        let Some(filter) = filter else {
            return access;
        };
        let mut parts = vec![];
        conjuncts(filter, &mut parts);
        let (k0, k1) = (table.key[0], table.key.get(1).copied());
        let mut eq: [Option<Vec<Expr>>; 2] = [None, None];
        let mut bounds: [Bounds; 2] = [Bounds::default(), Bounds::default()];
        for p in parts {
            let (col, kind) = match p {
                Expr::Cmp(op, a, b) => match (&**a, &**b) {
                    (Expr::Column(c), v) if row_independent(v) => {
                        (*c, (Some(*op), vec![v.clone()]))
                    }
                    (v, Expr::Column(c)) if row_independent(v) => {
                        (*c, (Some(flip(*op)), vec![v.clone()]))
                    }
                    _ => continue,
                },
                Expr::InList {
                    expr,
                    list,
                    negated: false,
                } => match &**expr {
                    Expr::Column(c) if list.iter().all(row_independent) => {
                        (*c, (Some(CmpOp::Eq), list.clone()))
                    }
                    _ => continue,
                },
                Expr::Like {
                    expr,
                    pattern,
                    negated: false,
                    case_insensitive: false,
                } => match &**expr {
                    Expr::Column(c) if row_independent(pattern) => {
                        (*c, (None, vec![(**pattern).clone()]))
                    }
                    _ => continue,
                },
                _ => continue,
            };
            let slot = if col == k0 {
                0
            } else if Some(col) == k1 {
                1
            } else {
                continue;
            };
            let (op, mut vals) = kind;
            match op {
                Some(CmpOp::Eq) => {
                    if eq[slot].is_none() {
                        eq[slot] = Some(vals);
                    }
                }
                Some(CmpOp::Gt) | Some(CmpOp::GtEq) => {
                    bounds[slot]
                        .lower
                        .get_or_insert((vals.remove(0), op == Some(CmpOp::GtEq)));
                }
                Some(CmpOp::Lt) | Some(CmpOp::LtEq) => {
                    bounds[slot]
                        .upper
                        .get_or_insert((vals.remove(0), op == Some(CmpOp::LtEq)));
                }
                Some(CmpOp::NotEq) => {}
                None => {
                    bounds[slot].like.get_or_insert(vals.remove(0));
                }
            }
        }
        let [eq0, eq1] = eq;
        let [b0, b1] = bounds;
        match table.id {
            TableId::Buckets => {
                access.first = eq0;
                if access.first.is_none() {
                    access.bounds = b0;
                }
            }
            TableId::Objects | TableId::Uploads | TableId::Parts | TableId::Versions => {
                access.first = eq0;
                if access.first.is_some() {
                    access.second = eq1;
                    // A part's key continues after the upload id, so key
                    // bounds on the upload id do not translate to a range.
                    if access.second.is_none() && table.id != TableId::Parts {
                        access.bounds = b1;
                    }
                }
            }
        }
        access
    }

    /// One line for EXPLAIN: how the rows are found.
    pub fn describe(&self, table: &Table) -> String {
        let bounds = |b: &Bounds, col: &str| {
            let mut parts = vec![];
            if let Some((_, inclusive)) = &b.lower {
                parts.push(format!("{col} {} …", if *inclusive { ">=" } else { ">" }));
            }
            if let Some((_, inclusive)) = &b.upper {
                parts.push(format!("{col} {} …", if *inclusive { "<=" } else { "<" }));
            }
            if b.like.is_some() {
                parts.push(format!("{col} LIKE prefix"));
            }
            parts.join(", ")
        };
        let n = |v: &[Expr]| v.len();
        match (table.id, &self.first, &self.second) {
            (TableId::Versions, Some(b), Some(k)) => format!(
                "Versions of {} bucket(s) × {} key(s), current and stored merged",
                n(b),
                n(k)
            ),
            (TableId::Versions, Some(b), None) => format!(
                "Versions in {} bucket(s), current and stored merged{}{}",
                n(b),
                if self.bounds.is_empty() { "" } else { ": " },
                bounds(&self.bounds, "key")
            ),
            (TableId::Versions, None, _) => {
                "Versions in every bucket, current and stored merged".into()
            }
            (TableId::Buckets, Some(names), _) => {
                format!("Point get on buckets: {} name(s)", n(names))
            }
            (TableId::Buckets, None, _) if !self.bounds.is_empty() => {
                format!("Range seek on buckets: {}", bounds(&self.bounds, "name"))
            }
            (TableId::Parts, Some(b), Some(u)) => format!(
                "Prefix scan of multipart_parts: {} bucket(s) × {} upload(s)",
                n(b),
                n(u)
            ),
            (_, Some(b), Some(k)) => format!(
                "Point get on {}: {} bucket(s) × {} {}(s)",
                table.name,
                n(b),
                n(k),
                table.columns[table.key[1]].name
            ),
            (_, Some(b), None) if !self.bounds.is_empty() => format!(
                "Range seek on {} within {} bucket(s): {}",
                table.name,
                n(b),
                bounds(&self.bounds, table.columns[table.key[1]].name)
            ),
            (_, Some(b), None) => {
                format!("Prefix scan of {} in {} bucket(s)", table.name, n(b))
            }
            (_, _, _) => format!("Full scan of {}", table.name),
        }
    }

    /// Whether the path reads single keys only.
    pub fn is_point(&self, table: &Table) -> bool {
        match table.id {
            TableId::Buckets => self.first.is_some(),
            TableId::Objects | TableId::Uploads => self.first.is_some() && self.second.is_some(),
            TableId::Parts | TableId::Versions => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    use super::*;
    use crate::bind::{Binder, Ctx, Scope};
    use crate::catalog::Catalog;
    use crate::value::SqlType;

    fn access(table: &Table, sql: &str) -> Access {
        let mut scope = Scope::default();
        for c in &table.columns {
            scope.push(table.name, c.name, c.ty, false);
        }
        let e = Parser::new(&PostgreSqlDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_expr()
            .unwrap();
        let (f, _) = Binder::default()
            .bind(&e, &scope, Ctx::want(SqlType::Bool))
            .unwrap();
        Access::derive(table, Some(&f))
    }

    #[test]
    fn key_predicates_become_access_paths() {
        let c = Catalog::new();
        let a = access(&c.objects, "bucket = 'b' AND key = 'obj-' || $1");
        assert!(a.is_point(&c.objects));
        let a = access(
            &c.objects,
            "bucket = $1 AND key LIKE 'photos/%' AND size > 3",
        );
        assert!(!a.is_point(&c.objects));
        assert!(a.first.is_some() && a.bounds.like.is_some());
        let a = access(&c.objects, "key = 'x'");
        assert_eq!(a, Access::default(), "a key without its bucket cannot seek");
        let a = access(&c.buckets, "name IN ('a', 'b')");
        assert!(a.is_point(&c.buckets));
        let a = access(&c.buckets, "name >= 'm' OR name = 'a'");
        assert_eq!(a, Access::default(), "a disjunction is not a range");
        let a = access(&c.objects, "bucket = 'b' AND key = lower(key)");
        assert!(
            a.second.is_none(),
            "a value that depends on the row is not a key"
        );
    }
}

//! What a statement needs the session's role to hold, read off the parsed
//! statement before it runs: privileges on the built-in tables it reads
//! and writes, or a superuser for cluster administration and role
//! management.
//!
//! As PostgreSQL: a write needs its privilege on the table written, and
//! SELECT too where it reads that table's rows (WHERE, RETURNING, ON
//! CONFLICT DO UPDATE); every other table a statement names needs SELECT;
//! table functions need SELECT on the tables they read. Catalog relations
//! (`pg_catalog`, `information_schema`) are open to every role.

use std::ops::ControlFlow;

use sqlparser::ast::{
    self, CopySource, Expr, FromTable, ObjectName, ObjectNamePart, OnConflictAction, OnInsert,
    Statement, TableObject,
};

use super::privilege::Privileges;
use super::roles::Roles;
use crate::bind::ident;
use crate::catalog::{Catalog, TableId};
use crate::error::{SqlError, SqlResult};
use crate::functions::{AdminFn, TableFn};

/// The privileges a statement needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Access {
    /// What only a superuser may do, named for the error.
    pub superuser: Option<String>,
    pub tables: Vec<(TableId, Privileges)>,
}

/// What a relation a statement names stands for.
enum Relation {
    Table(TableId),
    /// Cluster state and administration.
    Cluster(String),
    /// A catalog relation or a name that planning will refuse.
    Open,
}

fn relation(catalog: &Catalog, name: &ObjectName) -> Relation {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => ident(i),
            other => other.to_string(),
        })
        .collect();
    let Some(last) = parts.last() else {
        return Relation::Open;
    };
    if parts.len() > 1 && parts[parts.len() - 2] != "public" {
        return Relation::Open;
    }
    if let Ok(t) = catalog.table(last) {
        return Relation::Table(t.id);
    }
    match TableFn::lookup(last) {
        Some(TableFn::ListObjects) => Relation::Table(TableId::Objects),
        Some(TableFn::ListObjectVersions) => Relation::Table(TableId::Versions),
        Some(TableFn::BucketStats) => Relation::Table(TableId::Buckets),
        Some(TableFn::ClusterNodes | TableFn::ClusterStatus | TableFn::ClusterCheck) => {
            Relation::Cluster(last.clone())
        }
        None => Relation::Open,
    }
}

impl Access {
    /// The access `stmt` needs.
    pub fn of(catalog: &Catalog, stmt: &Statement) -> Access {
        let mut a = Access::default();
        match stmt {
            Statement::CreateRole(_)
            | Statement::AlterRole { .. }
            | Statement::Grant(_)
            | Statement::Revoke(_) => a.superuser = Some("manage roles".into()),
            Statement::Drop {
                object_type: ast::ObjectType::Role | ast::ObjectType::User,
                ..
            } => a.superuser = Some("manage roles".into()),
            Statement::Explain { statement, .. } => return Access::of(catalog, statement),
            Statement::Insert(ins) => {
                let mut needed = Privileges::INSERT;
                if ins.returning.is_some() {
                    needed = needed.union(Privileges::SELECT);
                }
                if let Some(OnInsert::OnConflict(c)) = &ins.on {
                    if matches!(c.action, OnConflictAction::DoUpdate(_)) {
                        needed = needed.union(Privileges::UPDATE).union(Privileges::SELECT);
                    }
                }
                let target = match &ins.table {
                    TableObject::TableName(n) => Some(n),
                    _ => None,
                };
                a.dml(catalog, stmt, target, needed);
            }
            Statement::Update(up) => {
                let reads = up.selection.is_some() || up.returning.is_some();
                let target = match &up.table.relation {
                    ast::TableFactor::Table { name, .. } => Some(name),
                    _ => None,
                };
                a.dml(catalog, stmt, target, Privileges::UPDATE.with(reads));
            }
            Statement::Delete(del) => {
                let reads = del.selection.is_some() || del.returning.is_some();
                let tables = match &del.from {
                    FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
                };
                let target = tables.first().and_then(|t| match &t.relation {
                    ast::TableFactor::Table { name, .. } => Some(name),
                    _ => None,
                });
                a.dml(catalog, stmt, target, Privileges::DELETE.with(reads));
            }
            Statement::Copy { source, to, .. } => match source {
                CopySource::Table { table_name, .. } => {
                    let needed = if *to {
                        Privileges::SELECT
                    } else {
                        Privileges::INSERT
                    };
                    a.add(catalog, table_name, needed);
                }
                CopySource::Query(q) => a.reads(catalog, &**q, None),
            },
            other => a.reads(catalog, other, None),
        }
        a.functions(stmt);
        a
    }

    /// A write of `target` needing `needed`, reading every other relation.
    fn dml(
        &mut self,
        catalog: &Catalog,
        stmt: &Statement,
        target: Option<&ObjectName>,
        needed: Privileges,
    ) {
        if let Some(t) = target {
            self.add(catalog, t, needed);
        }
        self.reads(catalog, stmt, target);
    }

    /// SELECT on every relation `node` names, but one mention of `skip`
    /// (the table a write names as its target).
    fn reads<V: ast::Visit>(&mut self, catalog: &Catalog, node: &V, skip: Option<&ObjectName>) {
        let mut skip = skip;
        let mut names = vec![];
        let _ = ast::visit_relations(node, |name| {
            if skip == Some(name) {
                skip = None;
            } else {
                names.push(name.clone());
            }
            ControlFlow::<()>::Continue(())
        });
        for name in names {
            self.add(catalog, &name, Privileges::SELECT);
        }
    }

    fn add(&mut self, catalog: &Catalog, name: &ObjectName, needed: Privileges) {
        match relation(catalog, name) {
            Relation::Table(id) => match self.tables.iter_mut().find(|(t, _)| *t == id) {
                Some((_, p)) => *p = p.union(needed),
                None => self.tables.push((id, needed)),
            },
            Relation::Cluster(f) => {
                self.superuser.get_or_insert(format!("call {f}()"));
            }
            Relation::Open => {}
        }
    }

    /// Cluster administration functions called anywhere in the statement.
    fn functions(&mut self, stmt: &Statement) {
        let _ = ast::visit_expressions(stmt, |e| {
            if let Expr::Function(f) = e {
                if let Some(ObjectNamePart::Identifier(i)) = f.name.0.last() {
                    let name = ident(i);
                    let admin = AdminFn::lookup(&name).is_some_and(|a| a.needs_superuser());
                    if admin || TableFn::lookup(&name).is_some_and(|t| !t.reads_data()) {
                        self.superuser.get_or_insert(format!("call {name}()"));
                    }
                }
            }
            ControlFlow::<()>::Continue(())
        });
    }

    /// Whether the statement needs nothing at all (SET, SHOW, BEGIN, …).
    pub fn is_empty(&self) -> bool {
        self.superuser.is_none() && self.tables.is_empty()
    }

    /// Checks the access against what `user` holds in `roles`.
    pub fn check(&self, catalog: &Catalog, roles: &Roles, user: &str) -> SqlResult<()> {
        if roles.is_superuser(user) {
            return Ok(());
        }
        if let Some(what) = &self.superuser {
            return Err(SqlError::insufficient_privilege(format!(
                "permission denied to {what}: superuser required"
            )));
        }
        for (table, needed) in &self.tables {
            roles.require(catalog, user, *table, *needed)?;
        }
        Ok(())
    }
}

impl Privileges {
    /// This privilege, plus SELECT when the statement reads the rows.
    fn with(self, reads: bool) -> Privileges {
        if reads {
            self.union(Privileges::SELECT)
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn access(sql: &str) -> Access {
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        Access::of(&Catalog::new(), &stmt)
    }

    const S: Privileges = Privileges::SELECT;

    #[test]
    fn statements_need_what_they_touch() {
        use TableId::*;
        let cases: &[(&str, &[(TableId, Privileges)])] = &[
            ("SELECT * FROM objects", &[(Objects, S)]),
            ("SELECT * FROM public.buckets b JOIN objects o ON o.bucket = b.name", &[(Buckets, S), (Objects, S)]),
            ("SELECT * FROM pg_catalog.pg_class", &[]),
            ("SELECT * FROM list_objects('b')", &[(Objects, S)]),
            ("INSERT INTO objects (bucket, key) VALUES ('b', 'k')", &[(Objects, Privileges::INSERT)]),
            ("INSERT INTO objects SELECT * FROM objects", &[(Objects, Privileges::INSERT.union(S))]),
            ("INSERT INTO buckets (name) VALUES ('b') RETURNING name", &[(Buckets, Privileges::INSERT.union(S))]),
            ("INSERT INTO buckets (name) VALUES ('b') ON CONFLICT (name) DO UPDATE SET owner = 'x'", &[(Buckets, Privileges::ALL.minus(Privileges::DELETE))]),
            ("UPDATE objects SET size = 1", &[(Objects, Privileges::UPDATE)]),
            ("UPDATE objects SET size = 1 WHERE bucket = 'b'", &[(Objects, Privileges::UPDATE.union(S))]),
            ("DELETE FROM objects", &[(Objects, Privileges::DELETE)]),
            ("DELETE FROM objects WHERE key IN (SELECT name FROM buckets)", &[(Objects, Privileges::DELETE.union(S)), (Buckets, S)]),
            ("COPY objects FROM STDIN", &[(Objects, Privileges::INSERT)]),
            ("COPY objects TO STDOUT", &[(Objects, S)]),
            ("COPY (SELECT * FROM buckets) TO STDOUT", &[(Buckets, S)]),
            ("EXPLAIN DELETE FROM buckets", &[(Buckets, Privileges::DELETE)]),
            ("SET consistency = 'local'", &[]),
        ];
        for (sql, want) in cases {
            let a = access(sql);
            assert_eq!(a.superuser, None, "{sql}");
            assert_eq!(a.tables, *want, "{sql}");
        }
    }

    #[test]
    fn administration_needs_a_superuser() {
        for sql in [
            "SELECT cluster_promote(2)",
            "SELECT * FROM cluster_nodes()",
            "SELECT * FROM cluster_status()",
            "SELECT cluster_add_learner(2, 'a:1', 'b:2')",
            "CREATE ROLE app LOGIN PASSWORD 'x'",
            "ALTER ROLE app NOLOGIN",
            "DROP ROLE app",
            "GRANT SELECT ON objects TO app",
            "REVOKE SELECT ON objects FROM app",
        ] {
            assert!(access(sql).superuser.is_some(), "{sql}");
        }
        assert!(access("SELECT set_config('consistency', 'local', false)")
            .superuser
            .is_none());
    }
}

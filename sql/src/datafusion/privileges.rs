//! Catalog functions whose answer depends on who asks: `session_user` /
//! `current_user`, `has_table_privilege`, `pg_get_userbyid`,
//! `current_setting`, `current_schema(s)`, and the `relacl` column `\dp`
//! reads from `pg_class`.
//!
//! DataFusion's session is shared by every query (see [`super::DataFusion`]),
//! so these are planned as placeholders. When a query's physical plan is
//! made, inside `planning_for`, the optimizer simplifies every expression;
//! a placeholder's `simplify` then replaces itself with the same function
//! bound to that query's scope: its session user and settings and the
//! roles its own rows hold. Outside a query a placeholder refuses to run.

use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::datasource::{provider_as_source, ViewTable};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    col, ColumnarValue, Expr, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, TypeSignature, Volatility,
};

use super::provider::{planning, QueryScope};
use super::roles::{external, role_oid};
use crate::auth::{Privileges, Roles, BOOTSTRAP_SUPERUSER};
use crate::catalog::Catalog;
use crate::error::{SqlError, SqlResult};
use crate::settings::Settings;

/// What a scoped function answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Question {
    /// The session's role.
    SessionUser,
    /// Whether a role may act on a table (`has_table_privilege`).
    TablePrivilege,
    /// A role's name from its OID.
    UserById,
    /// A table's ACL, as `pg_class.relacl`.
    TableAcl,
    /// A setting's value (`current_setting(name [, missing_ok])`), as
    /// `SHOW` gives it.
    Setting,
    /// `current_schemas(include_implicit)`: the search path's schemas.
    Schemas,
    /// `current_schema()`: the first of them (NULL: none).
    Schema,
}

/// `current_schemas(include_implicit)` per row: the schemas of the
/// search path that exist, `pg_catalog` first when implicit ones count
/// and the path does not name it (PostgreSQL searches it first then).
fn schemas(settings: &Settings, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let implicit = args
        .first()
        .ok_or_else(|| DataFusionError::Plan("current_schemas needs an argument".into()))?
        .to_array(rows)?;
    let implicit = cast(&implicit, &DataType::Boolean)?;
    let listed = settings.search_path_schemas();
    let mut b = ListBuilder::new(StringBuilder::new())
        .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    for with_implicit in implicit.as_boolean() {
        let Some(with_implicit) = with_implicit else {
            b.append(false);
            continue;
        };
        if with_implicit && !listed.contains(&"pg_catalog") {
            b.values().append_value("pg_catalog");
        }
        for schema in &listed {
            b.values().append_value(schema);
        }
        b.append(true);
    }
    Ok(ColumnarValue::Array(Arc::new(b.finish())))
}

/// `current_setting(name [, missing_ok])` per row: an unknown name is
/// 42704 unless `missing_ok`, then NULL.
fn setting(settings: &Settings, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let names = args
        .first()
        .ok_or_else(|| DataFusionError::Plan("current_setting needs a name".into()))?
        .to_array(rows)?;
    let names = cast(&names, &DataType::Utf8)?;
    let missing_ok = match args.get(1) {
        Some(a) => Some(cast(&a.to_array(rows)?, &DataType::Boolean)?),
        None => None,
    };
    let out = names
        .as_string::<i32>()
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let Some(name) = name else { return Ok(None) };
            match settings.show(name) {
                Ok(v) => Ok(Some(v)),
                Err(_) if missing_ok.as_ref().is_some_and(|m| m.as_boolean().value(i)) => Ok(None),
                Err(e) => Err(external(e)),
            }
        })
        .collect::<Result<StringArray>>()?;
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// The names a relation may be given that are not bucketdb tables:
/// `pg_catalog.X` and `information_schema.X`.
type CatalogRelations = Arc<BTreeSet<String>>;

/// A function of [`Question`]; `scope` is set once bound to a query.
#[derive(Clone)]
struct Scoped {
    name: &'static str,
    question: Question,
    signature: Signature,
    catalog: Arc<Catalog>,
    relations: CatalogRelations,
    scope: Option<Arc<QueryScope>>,
}

impl fmt::Debug for Scoped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(bound: {})", self.name, self.scope.is_some())
    }
}

impl PartialEq for Scoped {
    fn eq(&self, other: &Self) -> bool {
        let same_scope = match (&self.scope, &other.scope) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        self.name == other.name && same_scope
    }
}

impl Eq for Scoped {}

impl Hash for Scoped {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.scope.as_ref().map(Arc::as_ptr).hash(state);
    }
}

impl ScalarUDFImpl for Scoped {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.question {
            Question::SessionUser | Question::UserById | Question::Setting | Question::Schema => {
                DataType::Utf8
            }
            Question::TablePrivilege => DataType::Boolean,
            Question::TableAcl | Question::Schemas => acl_type(),
        })
    }

    fn simplify(&self, args: Vec<Expr>, _: &SimplifyContext) -> Result<ExprSimplifyResult> {
        match (&self.scope, planning()) {
            (None, Some(scope)) => {
                let bound = Scoped {
                    scope: Some(scope),
                    ..self.clone()
                };
                let udf = Arc::new(ScalarUDF::new_from_impl(bound));
                Ok(ExprSimplifyResult::Simplified(Expr::ScalarFunction(
                    ScalarFunction::new_udf(udf, args),
                )))
            }
            _ => Ok(ExprSimplifyResult::Original(args)),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(scope) = &self.scope else {
            return Err(DataFusionError::Internal(format!(
                "{} ran outside a query",
                self.name
            )));
        };
        let user = scope.user();
        if self.question == Question::SessionUser {
            return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(user.into()))));
        }
        if self.question == Question::Schema {
            let first = scope
                .settings
                .search_path_schemas()
                .first()
                .map(|s| s.to_string());
            return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(first)));
        }
        let rows = args.number_rows;
        match self.question {
            Question::Setting => return setting(&scope.settings, &args.args, rows),
            Question::Schemas => return schemas(&scope.settings, &args.args, rows),
            _ => {}
        }
        let roles = scope.roles().map_err(external)?;
        let texts = args
            .args
            .iter()
            .map(|a| {
                let a = a.to_array(rows)?;
                Ok(cast(&a, &DataType::Utf8)?)
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let out: ArrayRef = match self.question {
            Question::SessionUser | Question::Setting | Question::Schemas | Question::Schema => {
                unreachable!("answered above")
            }
            Question::TablePrivilege => {
                let (who, table, privs) = match texts.as_slice() {
                    [t, p] => (None, t, p),
                    [u, t, p] => (Some(u), t, p),
                    _ => return Err(DataFusionError::Plan(format!("{} arity", self.name))),
                };
                let answers = (0..rows)
                    .map(|i| {
                        fn get(a: &ArrayRef, i: usize) -> Option<&str> {
                            let s = a.as_string::<i32>();
                            s.is_valid(i).then(|| s.value(i))
                        }
                        let asker = match who {
                            Some(w) => get(w, i),
                            None => Some(user),
                        };
                        match (asker, get(table, i), get(privs, i)) {
                            (Some(u), Some(t), Some(p)) => self
                                .table_privilege(roles, u, t, p)
                                .map(Some)
                                .map_err(external),
                            _ => Ok(None),
                        }
                    })
                    .collect::<Result<BooleanArray>>()?;
                Arc::new(answers)
            }
            Question::UserById => {
                let oids = cast(&texts[0], &DataType::Int64)?;
                let names: StringArray = oids
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|oid| oid.map(|oid| user_by_id(roles, oid)))
                    .collect();
                Arc::new(names)
            }
            Question::TableAcl => {
                let mut b = ListBuilder::new(StringBuilder::new())
                    .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true)));
                for name in texts[0].as_string::<i32>() {
                    match name.and_then(|n| self.table_acl(roles, n)) {
                        Some(items) => {
                            for item in items {
                                b.values().append_value(item);
                            }
                            b.append(true);
                        }
                        None => b.append(false),
                    }
                }
                Arc::new(b.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// A text array (`aclitem[]` and `name[]` are sent as text arrays).
fn acl_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

/// `pg_get_userbyid`: the role's name, or PostgreSQL's text for an OID no
/// role has.
fn user_by_id(roles: &Roles, oid: i64) -> String {
    roles
        .iter()
        .find(|r| i64::from(role_oid(&r.name)) == oid)
        .map_or_else(|| format!("unknown (OID={oid})"), |r| r.name.clone())
}

/// The parts of a relation name as given (`public.objects`,
/// `"objects"`): quoted parts keep their case, others are folded.
fn name_parts(text: &str) -> Vec<String> {
    text.split('.')
        .map(|p| {
            let p = p.trim();
            match p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => p.to_ascii_lowercase(),
            }
        })
        .collect()
}

/// What a relation name given to a privilege function is.
enum Relation<'a> {
    /// A bucketdb table.
    Table(&'a str),
    /// A catalog relation everyone may read (PostgreSQL grants SELECT on
    /// them to PUBLIC).
    Catalog,
    /// `pg_authid`, which only superusers read.
    Authid,
}

impl Scoped {
    fn relation<'a>(&'a self, text: &str) -> SqlResult<Relation<'a>> {
        let parts = name_parts(text);
        let (schema, name) = match parts.as_slice() {
            [name] => (None, name),
            [schema, name] | [_, schema, name] => (Some(schema.as_str()), name),
            _ => {
                return Err(SqlError::invalid_parameter_value(format!(
                    "improper relation name (too many dotted names): {text}"
                )))
            }
        };
        let catalog_name = |schema: &str| format!("{schema}.{name}");
        let builtin = matches!(schema, None | Some("public"))
            .then(|| self.catalog.table(name).ok())
            .flatten();
        if let Some(t) = builtin {
            return Ok(Relation::Table(t.name));
        }
        let in_catalog = match schema {
            None => self.relations.contains(&catalog_name("pg_catalog")),
            Some(s) => self.relations.contains(&catalog_name(s)),
        };
        match (in_catalog, name.as_str(), schema) {
            (true, "pg_authid", None | Some("pg_catalog")) => Ok(Relation::Authid),
            (true, _, _) => Ok(Relation::Catalog),
            _ => Err(SqlError::undefined_table(format!(
                "relation \"{text}\" does not exist"
            ))),
        }
    }

    /// `has_table_privilege(user, table, privileges)`: whether `user`
    /// holds any of the privileges named.
    fn table_privilege(
        &self,
        roles: &Roles,
        user: &str,
        table: &str,
        privs: &str,
    ) -> SqlResult<bool> {
        if roles.get(user).is_none() && !user.eq_ignore_ascii_case("public") {
            return Err(SqlError::undefined_object(format!(
                "role \"{user}\" does not exist"
            )));
        }
        let named = Privileges::of_list(privs)?;
        let relation = self.relation(table)?;
        if roles.is_superuser(user) {
            return Ok(true);
        }
        let held = match relation {
            Relation::Table(name) => roles.privileges(user, name),
            Relation::Catalog => Privileges::SELECT,
            Relation::Authid => Privileges::NONE,
        };
        Ok(held.intersects(named.kept))
    }

    /// `pg_class.relacl` for relation `name`: NULL (the owner's default)
    /// unless a bucketdb table has grants; then the owner's entry and one
    /// per grantee, as PostgreSQL prints aclitems (`reader=r/postgres`).
    fn table_acl(&self, roles: &Roles, name: &str) -> Option<Vec<String>> {
        let table = self.catalog.table(name).ok()?;
        let grants: Vec<String> = roles
            .grants_on(table.name)
            .filter(|(_, p)| !p.is_empty())
            .map(|(role, p)| format!("{role}={}/{BOOTSTRAP_SUPERUSER}", p.acl_letters()))
            .collect();
        if grants.is_empty() {
            return None;
        }
        let owner = format!(
            "{BOOTSTRAP_SUPERUSER}={}/{BOOTSTRAP_SUPERUSER}",
            Privileges::ALL.acl_letters()
        );
        Some(std::iter::once(owner).chain(grants).collect())
    }
}

/// The placeholders, to register in the shared session.
#[derive(Debug)]
pub struct ScopedFunctions {
    catalog: Arc<Catalog>,
    relations: CatalogRelations,
}

impl ScopedFunctions {
    /// `relations` are the catalog relations' qualified names.
    pub fn new(catalog: Arc<Catalog>, relations: BTreeSet<String>) -> ScopedFunctions {
        ScopedFunctions {
            catalog,
            relations: Arc::new(relations),
        }
    }

    fn placeholder(&self, name: &'static str, question: Question, signature: Signature) -> Scoped {
        Scoped {
            name,
            question,
            signature,
            catalog: self.catalog.clone(),
            relations: self.relations.clone(),
            scope: None,
        }
    }

    /// Registers the functions, replacing pg_catalog's fixed answers.
    pub fn register(&self, ctx: &SessionContext) {
        let text = |n| TypeSignature::Uniform(n, vec![DataType::Utf8]);
        let privilege = || Signature::one_of(vec![text(2), text(3)], Volatility::Stable);
        let functions = [
            (
                "session_user",
                Question::SessionUser,
                Signature::nullary(Volatility::Stable),
            ),
            (
                "current_user",
                Question::SessionUser,
                Signature::nullary(Volatility::Stable),
            ),
            ("has_table_privilege", Question::TablePrivilege, privilege()),
            // No column privileges: any column's is the table's.
            (
                "has_any_column_privilege",
                Question::TablePrivilege,
                privilege(),
            ),
            (
                "current_setting",
                Question::Setting,
                Signature::one_of(
                    vec![
                        TypeSignature::Exact(vec![DataType::Utf8]),
                        TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
                    ],
                    Volatility::Stable,
                ),
            ),
            (
                "current_schema",
                Question::Schema,
                Signature::nullary(Volatility::Stable),
            ),
            (
                "current_schemas",
                Question::Schemas,
                Signature::exact(vec![DataType::Boolean], Volatility::Stable),
            ),
            (
                "pg_get_userbyid",
                Question::UserById,
                Signature::uniform(1, vec![DataType::Int64], Volatility::Stable),
            ),
        ];
        for (name, question, signature) in functions {
            ctx.register_udf(ScalarUDF::new_from_impl(
                self.placeholder(name, question, signature),
            ));
        }
    }

    /// `pg_class` with a `relacl` column, over the provider's own table.
    pub fn with_acl(&self, pg_class: Arc<dyn TableProvider>) -> Result<Arc<dyn TableProvider>> {
        let acl = Arc::new(ScalarUDF::new_from_impl(self.placeholder(
            "relacl",
            Question::TableAcl,
            Signature::uniform(1, vec![DataType::Utf8], Volatility::Stable),
        )));
        let columns = pg_class
            .schema()
            .fields()
            .iter()
            .map(|f| col(format!("pg_class.{}", f.name())))
            .chain([Expr::ScalarFunction(ScalarFunction::new_udf(
                acl,
                vec![col("pg_class.relname")],
            ))
            .alias("relacl")])
            .collect::<Vec<_>>();
        let plan = LogicalPlanBuilder::scan("pg_class", provider_as_source(pg_class), None)?
            .project(columns)?
            .build()?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scoped() -> Scoped {
        let relations = ["pg_catalog.pg_class", "pg_catalog.pg_authid"]
            .map(String::from)
            .into_iter()
            .collect();
        ScopedFunctions::new(Arc::new(Catalog::new()), relations).placeholder(
            "has_table_privilege",
            Question::TablePrivilege,
            Signature::nullary(Volatility::Stable),
        )
    }

    fn roles() -> Roles {
        use crate::scan::MemRows;
        use bucketdb_storage::{keys, Datum};
        let mut m = MemRows::default();
        let role = |su| vec![Datum::Bool(su), Datum::Bool(true), Datum::Null];
        m.put(keys::role("app"), 1, role(false));
        m.put(keys::role("root"), 2, role(true));
        m.put(keys::grant("app", "objects"), 3, vec![Datum::Int(1)]);
        Roles::load(&m).unwrap()
    }

    #[test]
    fn table_privileges_follow_grants_catalogs_and_superusers() {
        let (f, r) = (scoped(), roles());
        let ask = |u, t, p| f.table_privilege(&r, u, t, p);
        assert!(ask("app", "objects", "SELECT").unwrap());
        assert!(ask("app", "public.objects", "select, delete").unwrap());
        assert!(!ask("app", "objects", "DELETE").unwrap());
        assert!(!ask("app", "buckets", "SELECT").unwrap());
        assert!(!ask("app", "objects", "TRUNCATE").unwrap());
        assert!(ask("app", "pg_class", "SELECT").unwrap());
        assert!(!ask("app", "pg_catalog.pg_authid", "SELECT").unwrap());
        assert!(ask("root", "pg_authid", "SELECT").unwrap());
        assert!(ask("root", "buckets", "TRUNCATE").unwrap());
        let state = |r: SqlResult<bool>| r.unwrap_err().state;
        use crate::error::SqlState;
        assert_eq!(
            state(ask("nobody", "objects", "SELECT")),
            SqlState::UndefinedObject
        );
        assert_eq!(
            state(ask("app", "nothere", "SELECT")),
            SqlState::UndefinedTable
        );
        assert_eq!(
            state(ask("app", "objects", "SELEC")),
            SqlState::InvalidParameterValue
        );
    }

    #[test]
    fn acls_list_the_owner_and_each_grantee() {
        let (f, r) = (scoped(), roles());
        assert_eq!(
            f.table_acl(&r, "objects").unwrap(),
            vec!["postgres=arwd/postgres", "app=r/postgres"]
        );
        assert_eq!(f.table_acl(&r, "buckets"), None);
        assert_eq!(f.table_acl(&r, "pg_class"), None);
        assert_eq!(user_by_id(&r, 10), "postgres");
        assert_eq!(user_by_id(&r, i64::from(role_oid("app"))), "app");
        assert_eq!(user_by_id(&r, 7), "unknown (OID=7)");
    }

    #[test]
    fn relation_names_fold_unless_quoted() {
        assert_eq!(name_parts("Public.Objects"), vec!["public", "objects"]);
        assert_eq!(name_parts("\"Objects\""), vec!["Objects"]);
    }
}

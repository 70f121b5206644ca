//! `pg_roles`, `pg_authid` and `pg_auth_members` from the roles the query's
//! own rows hold (see `QueryScope::roles`), so a catalog query agrees with
//! what the node enforces. `pg_authid` holds the SCRAM verifiers and, as in
//! PostgreSQL, only a superuser may read it; `pg_roles` shows `********`
//! in place of a password.
//!
//! Roles are kept by name, without OIDs; each gets a stable one derived
//! from its name ([`role_oid`]), the same on every node, so the tables
//! (and `pg_get_userbyid`) join on it as PostgreSQL's do.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    new_null_array, ArrayRef, BooleanArray, Int32Array, ListArray, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session as DfSession, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

use super::convert::arrow_type;
use super::provider::planning;
use crate::auth::{Role, Roles, BOOTSTRAP_SUPERUSER};
use crate::error::SqlError;
use crate::value::SqlType;

/// PostgreSQL's OID of the bootstrap superuser.
const BOOTSTRAP_OID: i32 = 10;

/// Role OIDs other than the bootstrap superuser's lie in
/// `[FIRST_OID, FIRST_OID + OID_SPAN)`: above PostgreSQL's built-ins, the
/// tables' and bucketdb's functions' OIDs. With a billion values two roles
/// of a cluster of hundreds share one with odds below one in ten thousand.
const FIRST_OID: u32 = 1_100_000_000;
const OID_SPAN: u32 = 1_000_000_000;

/// The OID `name` is shown with: 10 for `postgres`, otherwise a hash of
/// the name (FNV-1a), stable across nodes and restarts.
pub fn role_oid(name: &str) -> i32 {
    if name == BOOTSTRAP_SUPERUSER {
        return BOOTSTRAP_OID;
    }
    let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    i32::try_from(FIRST_OID + hash % OID_SPAN).unwrap_or(i32::MAX)
}

/// One of the role catalog tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleTableKind {
    Roles,
    Authid,
    AuthMembers,
}

impl RoleTableKind {
    pub const NAMES: [&'static str; 3] = ["pg_roles", "pg_authid", "pg_auth_members"];

    /// The kind of catalog table `name` is, if it is one of these.
    pub fn of(name: &str) -> Option<RoleTableKind> {
        match name.to_ascii_lowercase().as_str() {
            "pg_roles" => Some(RoleTableKind::Roles),
            "pg_authid" => Some(RoleTableKind::Authid),
            "pg_auth_members" => Some(RoleTableKind::AuthMembers),
            _ => None,
        }
    }
}

/// A role catalog table, built from the scanning query's roles.
#[derive(Debug)]
pub struct RoleTable {
    kind: RoleTableKind,
    schema: SchemaRef,
}

impl RoleTable {
    pub fn new(kind: RoleTableKind) -> RoleTable {
        RoleTable {
            kind,
            schema: schema(kind),
        }
    }
}

fn schema(kind: RoleTableKind) -> SchemaRef {
    let b = |name: &str| Field::new(name, DataType::Boolean, false);
    let oid = |name: &str| Field::new(name, DataType::Int32, false);
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    let until = Field::new("rolvaliduntil", valid_until_type(), true);
    let connlimit = Field::new("rolconnlimit", DataType::Int32, false);
    let fields = match kind {
        RoleTableKind::Roles => vec![
            text("rolname", false),
            b("rolsuper"),
            b("rolinherit"),
            b("rolcreaterole"),
            b("rolcreatedb"),
            b("rolcanlogin"),
            b("rolreplication"),
            connlimit,
            text("rolpassword", true),
            until,
            b("rolbypassrls"),
            Field::new(
                "rolconfig",
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                true,
            ),
            oid("oid"),
        ],
        RoleTableKind::Authid => vec![
            oid("oid"),
            text("rolname", false),
            b("rolsuper"),
            b("rolinherit"),
            b("rolcreaterole"),
            b("rolcreatedb"),
            b("rolcanlogin"),
            b("rolreplication"),
            b("rolbypassrls"),
            connlimit,
            text("rolpassword", true),
            until,
        ],
        RoleTableKind::AuthMembers => vec![
            oid("oid"),
            oid("roleid"),
            oid("member"),
            oid("grantor"),
            b("admin_option"),
            b("inherit_option"),
            b("set_option"),
        ],
    };
    Arc::new(Schema::new(fields))
}

/// `rolvaliduntil`: a timestamptz, never set (passwords do not expire).
fn valid_until_type() -> DataType {
    arrow_type(SqlType::Timestamptz)
}

/// The rows of `kind` for `roles`, as columns of `schema`.
fn batch(kind: RoleTableKind, schema: &SchemaRef, roles: &Roles) -> Result<RecordBatch> {
    let all: Vec<&Role> = roles.iter().collect();
    let bools = |f: fn(&Role) -> bool| -> ArrayRef {
        Arc::new(all.iter().map(|r| Some(f(r))).collect::<BooleanArray>())
    };
    let names: ArrayRef = Arc::new(StringArray::from_iter_values(
        all.iter().map(|r| r.name.as_str()),
    ));
    let oids: ArrayRef = Arc::new(Int32Array::from_iter_values(
        all.iter().map(|r| role_oid(&r.name)),
    ));
    let connlimit: ArrayRef = Arc::new(Int32Array::from_iter_values(all.iter().map(|_| -1)));
    let until = || new_null_array(&valid_until_type(), all.len());
    // What a role may do in bucketdb: only superusers manage roles, every
    // role inherits what its granted roles hold, and there is no database
    // creation or replication role.
    let columns: Vec<ArrayRef> = match kind {
        RoleTableKind::Roles => vec![
            names,
            bools(|r| r.superuser),
            bools(|_| true),
            bools(|r| r.superuser),
            bools(|_| false),
            bools(|r| r.login),
            bools(|_| false),
            connlimit,
            Arc::new(StringArray::from_iter(all.iter().map(|_| Some("********")))),
            until(),
            bools(|r| r.superuser),
            Arc::new(ListArray::new_null(
                Arc::new(Field::new_list_field(DataType::Utf8, true)),
                all.len(),
            )),
            oids,
        ],
        RoleTableKind::Authid => vec![
            oids,
            names,
            bools(|r| r.superuser),
            bools(|_| true),
            bools(|r| r.superuser),
            bools(|_| false),
            bools(|r| r.login),
            bools(|_| false),
            bools(|r| r.superuser),
            connlimit,
            Arc::new(StringArray::from_iter(
                all.iter().map(|r| r.verifier.as_deref()),
            )),
            until(),
        ],
        RoleTableKind::AuthMembers => {
            let pairs: Vec<(&str, &str)> = all
                .iter()
                .flat_map(|r| roles.member_of(&r.name).map(|g| (r.name.as_str(), g)))
                .collect();
            let oid_of = |f: fn(&(&str, &str)) -> i32| -> ArrayRef {
                Arc::new(Int32Array::from_iter_values(pairs.iter().map(f)))
            };
            let flag = |v: bool| -> ArrayRef {
                Arc::new(pairs.iter().map(|_| Some(v)).collect::<BooleanArray>())
            };
            vec![
                // The membership's own OID: from the pair, as stable as the
                // roles' (a NUL cannot be in a role name).
                oid_of(|(m, g)| role_oid(&format!("{m}\0{g}"))),
                oid_of(|(_, g)| role_oid(g)),
                oid_of(|(m, _)| role_oid(m)),
                // Only superusers grant roles; the bootstrap one stands
                // for them all.
                oid_of(|_| BOOTSTRAP_OID),
                flag(false),
                flag(true),
                flag(true),
            ]
        }
    };
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

#[async_trait]
impl TableProvider for RoleTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn DfSession,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(scope) = planning() else {
            return Err(DataFusionError::Internal(
                "a role catalog table was scanned outside a query".into(),
            ));
        };
        let roles = scope.roles().map_err(external)?;
        if self.kind == RoleTableKind::Authid && !roles.is_superuser(scope.user()) {
            return Err(external(SqlError::insufficient_privilege(
                "permission denied for table pg_authid",
            )));
        }
        let batch = batch(self.kind, &self.schema, roles)?;
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema.clone(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}

/// A bucketdb error carried through DataFusion (it keeps its SQLSTATE).
pub fn external(e: SqlError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_oids_are_stable_and_apart_from_postgres_own() {
        assert_eq!(role_oid("postgres"), 10);
        let app = role_oid("app");
        assert_eq!(app, role_oid("app"));
        assert_ne!(app, role_oid("apq"));
        assert!(app >= 1_100_000_000, "{app}");
    }

    #[test]
    fn the_tables_show_roles_memberships_and_verifiers_where_due() {
        use crate::scan::MemRows;
        use bucketdb_storage::{keys, Datum};
        let mut m = MemRows::default();
        let verifier = Datum::Text("SCRAM-SHA-256$4096:c2FsdA==$a:b".into());
        m.put(
            keys::role("app"),
            1,
            vec![Datum::Bool(false), Datum::Bool(true), verifier],
        );
        m.put(
            keys::role("reader"),
            2,
            vec![Datum::Bool(false), Datum::Bool(false), Datum::Null],
        );
        m.put(keys::membership("app", "reader"), 3, vec![]);
        let roles = Roles::load(&m).unwrap();
        let roles_kind = RoleTableKind::Roles;
        let b = batch(roles_kind, &schema(roles_kind), &roles).unwrap();
        assert_eq!(b.num_rows(), 3);
        let authid = batch(
            RoleTableKind::Authid,
            &schema(RoleTableKind::Authid),
            &roles,
        )
        .unwrap();
        let pw = authid.column_by_name("rolpassword").unwrap();
        let pw = pw.as_any().downcast_ref::<StringArray>().unwrap();
        assert!(pw
            .iter()
            .any(|v| v.is_some_and(|v| v.starts_with("SCRAM-SHA-256$"))));
        let kind = RoleTableKind::AuthMembers;
        let members = batch(kind, &schema(kind), &roles).unwrap();
        assert_eq!(members.num_rows(), 1);
        let roleid = members.column_by_name("roleid").unwrap();
        let roleid = roleid.as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!(roleid.value(0), role_oid("reader"));
    }
}

//! A statement ready to run many times: which planner planned it, its
//! parameter types and its result columns.

use crate::auth::Access;
use crate::datafusion::DataFusionPlan;
use crate::plan::{Plan, Planned};
use crate::value::{OutColumn, SqlType, Value};

/// Which planner's plan a statement runs.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    /// bucketdb's own planner: point lookups, key ranges, writes, utility.
    /// Boxed: a plan is several times the size of DataFusion's handle.
    Fast(Box<Plan>),
    /// A read bucketdb's planner does not take, planned by DataFusion.
    DataFusion(DataFusionPlan),
    /// `PREPARE name AS statement`: the connection keeps `statement`
    /// under `name`, beside those the extended protocol parses.
    Define {
        name: String,
        statement: Box<Prepared>,
    },
    /// `EXECUTE name (values)`: the connection runs its statement `name`
    /// with these parameter values (text, as a client sends them).
    Execute { name: String, params: Vec<Value> },
}

#[derive(Debug, Clone)]
pub struct Prepared {
    pub(crate) route: Route,
    pub param_types: Vec<SqlType>,
    pub columns: Vec<OutColumn>,
    /// What the session's role must hold to run it; checked at every run,
    /// so a revoked privilege stops a statement prepared before.
    pub(crate) access: Access,
}

impl Prepared {
    pub(super) fn fast(p: Planned, access: Access) -> Prepared {
        Prepared {
            route: Route::Fast(Box::new(p.plan)),
            param_types: p.param_types,
            columns: p.columns,
            access,
        }
    }

    /// A short name of the statement's kind, for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match &self.route {
            Route::Fast(plan) => plan.kind(),
            Route::DataFusion(_) => "analytic",
            Route::Define { .. } => "prepare",
            Route::Execute { .. } => "execute",
        }
    }
}

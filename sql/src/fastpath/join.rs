//! Running a [`LookupJoin`]: for each row the driving table's access path
//! finds, the driving row's values go into the join's condition, the
//! looked-up table's access path is derived from what is left (a point
//! get, or a prefix), and each row it finds is joined to the driving row.
//! The whole condition is applied to the joined row by the caller, so the
//! access paths only have to cover the matches.

use std::ops::ControlFlow;

use crate::catalog::{Catalog, Table};
use crate::error::SqlResult;
use crate::expr::{EvalEnv, Expr};
use crate::plan::LookupJoin;
use crate::scan::{Access, RowSource};
use crate::value::Value;

/// Hands each joined row (in the query's column order) to `visit` until it
/// breaks.
pub(super) fn scan_joined(
    catalog: &Catalog,
    join: &LookupJoin,
    driving: &Table,
    access: &Access,
    view: &dyn RowSource,
    env: &EvalEnv,
    visit: &mut dyn FnMut(Vec<Value>) -> SqlResult<ControlFlow<()>>,
) -> SqlResult<()> {
    let looked_up = catalog.get(join.table);
    let n = looked_up.columns.len();
    access.scan(driving, view, env, &mut |stored| {
        let outer = driving.values(&stored);
        let condition = join.condition.clone().rewrite(&|e| {
            Ok(match e {
                Expr::Column(c) if *c >= n => Some(Expr::Const(outer[*c - n].clone())),
                _ => None,
            })
        })?;
        let mut flow = ControlFlow::Continue(());
        Access::derive(looked_up, Some(&condition)).scan(looked_up, view, env, &mut |found| {
            let inner = looked_up.values(&found);
            let row = if join.looked_up_first {
                inner.into_iter().chain(outer.iter().cloned()).collect()
            } else {
                outer.iter().cloned().chain(inner).collect()
            };
            flow = visit(row)?;
            Ok(flow)
        })?;
        Ok(flow)
    })
}

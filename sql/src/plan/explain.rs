//! What EXPLAIN shows for a plan of bucketdb's own planner: the access
//! path each scan takes, and the steps above it.

use super::Plan;
use crate::catalog::{Catalog, TableId};
use crate::copy::BATCH_ROWS;
use crate::expr::Expr;
use crate::scan::Access;

/// The lines EXPLAIN shows for a plan, outermost step first.
pub(super) fn explain(plan: &Plan, catalog: &Catalog) -> Vec<String> {
    let scan = |id: TableId, access: &Access, filter: &Option<Expr>| {
        let mut lines = vec![access.describe(catalog.get(id))];
        if filter.is_some() {
            lines.push("  Filter: WHERE clause on every row found".into());
        }
        lines
    };
    match plan {
        Plan::Select(s) => {
            let mut lines = vec![];
            let grouped = !s.aggs.is_empty() || !s.group_by.is_empty();
            if s.limit.is_some() || s.offset.is_some() {
                lines.push(if s.order.is_empty() && !grouped {
                    "Limit (stops the scan early)".to_string()
                } else {
                    "Limit".to_string()
                });
            }
            if !s.order.is_empty() {
                lines.push(format!("Sort: {} key(s)", s.order.len()));
            }
            if grouped {
                lines.push(format!(
                    "Aggregate: {} aggregate(s), {} group key(s){}",
                    s.aggs.len(),
                    s.group_by.len(),
                    if s.having.is_some() { ", HAVING" } else { "" }
                ));
            }
            match (s.table, &s.function) {
                (Some(id), _) => {
                    if let Some(j) = &s.join {
                        lines.push(format!(
                            "Lookup join: {} found by key for each row of {}",
                            catalog.get(j.table).name,
                            catalog.get(id).name
                        ));
                    }
                    lines.extend(scan(id, &s.access, &s.filter))
                }
                (None, Some(f)) => {
                    lines.push(format!("Function scan of {}()", f.function.name()));
                    if s.filter.is_some() {
                        lines.push("  Filter: WHERE clause on every row".into());
                    }
                }
                (None, None) => lines.push("Result: one row, no table".into()),
            }
            lines
        }
        Plan::Insert(i) => match &i.select {
            None => vec![format!(
                "Insert into {}: {} row(s), one Raft proposal",
                catalog.get(i.table).name,
                i.rows.len()
            )],
            Some((q, _)) => {
                let mut lines = vec![format!(
                    "Insert into {} from a query, one Raft proposal",
                    catalog.get(i.table).name
                )];
                if let Some(id) = q.table {
                    lines.extend(scan(id, &q.access, &q.filter));
                }
                lines
            }
        },
        Plan::Update(u) => std::iter::once(format!(
            "Update {}: one Raft proposal",
            catalog.get(u.table).name
        ))
        .chain(scan(u.table, &u.access, &u.filter))
        .collect(),
        Plan::Delete(d) => std::iter::once(format!(
            "Delete from {}: one Raft proposal",
            catalog.get(d.table).name
        ))
        .chain(scan(d.table, &d.access, &d.filter))
        .collect(),
        Plan::Explain(lines) => lines.clone(),
        Plan::Admin(_) => vec!["Cluster administration call".into()],
        Plan::Roles(r) => vec![format!("Role change ({})", r.tag())],
        Plan::Begin { .. }
        | Plan::TransactionAccess { .. }
        | Plan::LockShared
        | Plan::Commit
        | Plan::Rollback
        | Plan::Savepoint(_)
        | Plan::Release(_)
        | Plan::RollbackTo(_) => vec!["Transaction control".into()],
        Plan::CopyIn(c) => vec![format!(
            "Copy into {} from the client, {} rows per Raft proposal",
            catalog.get(c.table).name,
            BATCH_ROWS
        )],
        Plan::CopyOut { .. } => vec!["Copy query results to the client".into()],
        Plan::Set { .. }
        | Plan::ResetAll
        | Plan::Show { .. }
        | Plan::ShowAll
        | Plan::Deallocate(_)
        | Plan::DiscardAll => vec!["Utility statement".into()],
    }
}

//! Running a SELECT of bucketdb's own planner: filter each input row, then
//! project it straight out, or group and aggregate, or gather and sort,
//! and apply OFFSET and LIMIT (a LIMIT without ORDER BY or grouping stops
//! the scan early).

use std::collections::HashMap;
use std::ops::ControlFlow;

use super::join::scan_joined;
use crate::catalog::Catalog;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{passes, truthy, AggState, EvalEnv, Expr};
use crate::plan::{Projection, SelectPlan, SortSource};
use crate::scan::RowSource;
use crate::value::Value;

/// The rows a SELECT reads.
pub enum Input<'a> {
    Table(&'a dyn RowSource),
    /// A table function's rows.
    Rows(Vec<Vec<Value>>),
    /// No FROM: one empty row.
    Nothing,
}

/// Aggregation state of a grouped query, one entry per group in the order
/// groups were first seen.
#[derive(Default)]
struct Groups {
    index: HashMap<String, usize>,
    groups: Vec<(Vec<Value>, Vec<AggState>)>,
}

impl Groups {
    fn add(&mut self, s: &SelectPlan, row: &[Value], env: &EvalEnv) -> SqlResult<()> {
        let key = s
            .group_by
            .iter()
            .map(|e| e.eval(row, &[], env))
            .collect::<SqlResult<Vec<_>>>()?;
        // Values are not hashable (floats); their debug form identifies them.
        let id = format!("{key:?}");
        let next = self.groups.len();
        let i = *self.index.entry(id).or_insert(next);
        if i == next {
            self.groups
                .push((key, s.aggs.iter().map(AggState::new).collect()));
        }
        for (state, call) in self.groups[i].1.iter_mut().zip(&s.aggs) {
            state.update(call, row, env)?;
        }
        Ok(())
    }

    /// Each group's slots: aggregate results, then the group's keys. Without
    /// GROUP BY there is exactly one group, even over no rows.
    fn finish(mut self, s: &SelectPlan) -> Vec<Vec<Value>> {
        if self.groups.is_empty() && s.group_by.is_empty() {
            self.groups
                .push((vec![], s.aggs.iter().map(AggState::new).collect()));
        }
        self.groups
            .into_iter()
            .map(|(key, states)| {
                states
                    .into_iter()
                    .map(AggState::finish)
                    .chain(key)
                    .collect()
            })
            .collect()
    }
}

pub(super) fn project(
    p: &Projection,
    row: &[Value],
    aggs: &[Value],
    env: &EvalEnv,
) -> SqlResult<Vec<Value>> {
    p.items.iter().map(|e| e.eval(row, aggs, env)).collect()
}

fn count_arg(e: &Option<Expr>, env: &EvalEnv, what: &str) -> SqlResult<Option<usize>> {
    match e {
        None => Ok(None),
        Some(e) => match e.eval(&[], &[], env)? {
            Value::Null => Ok(None),
            Value::Int(i) if i >= 0 => Ok(Some(i as usize)),
            _ => Err(SqlError::new(
                SqlState::InvalidRowCountInLimitClause,
                format!("{what} must not be negative"),
            )),
        },
    }
}

/// Runs a SELECT, handing each result row to `out` in order until it
/// breaks. Without grouping or ORDER BY a row goes out as soon as the scan
/// finds it; otherwise all are gathered (and sorted) first.
pub(super) fn select_into(
    catalog: &Catalog,
    s: &SelectPlan,
    input: Input<'_>,
    env: &EvalEnv,
    out: &mut dyn FnMut(Vec<Value>) -> SqlResult<ControlFlow<()>>,
) -> SqlResult<()> {
    let limit = count_arg(&s.limit, env, "LIMIT")?;
    let offset = count_arg(&s.offset, env, "OFFSET")?.unwrap_or(0);
    let grouped = !s.aggs.is_empty() || !s.group_by.is_empty();
    let stop_after = match (s.order.is_empty() && !grouped, limit) {
        (true, Some(l)) => Some(l.saturating_add(offset)),
        _ => None,
    };
    // Result rows with their sort keys; `row` is the input row, or empty
    // and `slots` the group's slots in a grouped query.
    let emit = |row: &[Value], slots: &[Value]| -> SqlResult<(Vec<Value>, Vec<Value>)> {
        let values = project(&s.projection, row, slots, env)?;
        let keys = s
            .order
            .iter()
            .map(|k| match &k.source {
                SortSource::Output(i) => Ok(values[*i].clone()),
                SortSource::Input(e) => e.eval(row, slots, env),
            })
            .collect::<SqlResult<Vec<_>>>()?;
        Ok((keys, values))
    };
    let direct = s.order.is_empty() && !grouped;
    let mut groups = Groups::default();
    let mut gathered: Vec<(Vec<Value>, Vec<Value>)> = vec![];
    let mut passed = 0usize;
    let mut visit = |row: Vec<Value>| -> SqlResult<ControlFlow<()>> {
        if stop_after.is_some_and(|n| passed >= n) {
            return Ok(ControlFlow::Break(()));
        }
        if !passes(&s.filter, &row, env)? {
            return Ok(ControlFlow::Continue(()));
        }
        passed += 1;
        if grouped {
            groups.add(s, &row, env)?;
        } else if direct {
            if passed > offset {
                return out(emit(&row, &[])?.1);
            }
        } else {
            gathered.push(emit(&row, &[])?);
        }
        Ok(ControlFlow::Continue(()))
    };
    match (s.table, input) {
        (Some(id), Input::Table(view)) => {
            let table = catalog.get(id);
            match &s.join {
                None => s
                    .access
                    .scan(table, view, env, &mut |stored| visit(table.values(&stored)))?,
                Some(join) => scan_joined(catalog, join, table, &s.access, view, env, &mut visit)?,
            }
        }
        (_, Input::Rows(rows)) => {
            for row in rows {
                if visit(row)?.is_break() {
                    break;
                }
            }
        }
        _ => {
            let _ = visit(vec![])?;
        }
    }
    if grouped {
        for slots in groups.finish(s) {
            if let Some(h) = &s.having {
                if !truthy(&h.eval(&[], &slots, env)?)? {
                    continue;
                }
            }
            gathered.push(emit(&[], &slots)?);
        }
    }
    if direct {
        return Ok(());
    }
    if !s.order.is_empty() {
        gathered.sort_by(|(a, _), (b, _)| {
            for (k, (x, y)) in s.order.iter().zip(a.iter().zip(b)) {
                let o = match (x.is_null(), y.is_null()) {
                    (true, false) if k.nulls_first => std::cmp::Ordering::Less,
                    (false, true) if k.nulls_first => std::cmp::Ordering::Greater,
                    _ if k.desc && x.is_null() == y.is_null() => y.sort_cmp(x),
                    _ => x.sort_cmp(y),
                };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
    let rows = gathered.into_iter().map(|(_, v)| v).skip(offset);
    for row in rows.take(limit.unwrap_or(usize::MAX)) {
        if out(row)?.is_break() {
            break;
        }
    }
    Ok(())
}

/// The rows of a SELECT, gathered.
pub fn select_rows(
    catalog: &Catalog,
    s: &SelectPlan,
    input: Input<'_>,
    env: &EvalEnv,
) -> SqlResult<Vec<Vec<Value>>> {
    let mut rows = vec![];
    select_into(catalog, s, input, env, &mut |row| {
        rows.push(row);
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(rows)
}

/// Whether a SELECT can send rows as its scan finds them: it reads a table
/// and neither groups nor sorts.
/// Point lookups stay inline: a handful of rows gains nothing from a
/// thread and a channel.
pub fn streams(catalog: &Catalog, s: &SelectPlan) -> bool {
    s.table.is_some_and(|t| !s.access.is_point(catalog.get(t)))
        && s.order.is_empty()
        && s.aggs.is_empty()
        && s.group_by.is_empty()
}

/// Whether a SELECT reads the state machine (a table or a data function).
pub fn reads_data(s: &SelectPlan) -> bool {
    s.table.is_some() || s.function.as_ref().is_some_and(|f| f.function.reads_data())
}

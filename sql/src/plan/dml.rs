//! Planning INSERT (VALUES or a query, ON CONFLICT), UPDATE and DELETE
//! on the built-in tables: what a write names, and the expressions that
//! make its rows. Turning a plan into a KV batch is `fastpath`'s.

use sqlparser::ast::{self, AssignmentTarget, SelectItem, SetExpr};

use super::select::{from_table, plan_query, projection, Projection, SelectPlan};
use super::table_scope;
use crate::bind::{ident, object_name, table_name, Binder, Ctx, Scope};
use crate::catalog::{Catalog, Default as ColDefault, Table, TableId};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{default_expr, Expr};
use crate::scan::Access;
use crate::value::SqlType;

#[derive(Debug, Clone)]
pub enum OnConflict {
    Error,
    Nothing,
    /// Assignments and filter over the existing row followed by EXCLUDED.
    Update {
        assignments: Vec<(usize, Expr)>,
        filter: Option<Expr>,
    },
}

#[derive(Debug, Clone)]
pub struct InsertPlan {
    pub table: TableId,
    /// One entry per table column and row: the given value, or the default.
    pub rows: Vec<Vec<Option<Expr>>>,
    /// `INSERT … SELECT`: the query, and the table column each of its
    /// result columns fills (`rows` is then empty).
    pub select: Option<(Box<SelectPlan>, Vec<usize>)>,
    pub on_conflict: OnConflict,
    pub returning: Option<Projection>,
}

#[derive(Debug, Clone)]
pub struct UpdatePlan {
    pub table: TableId,
    pub access: Access,
    pub filter: Option<Expr>,
    pub assignments: Vec<(usize, Expr)>,
    pub returning: Option<Projection>,
}

#[derive(Debug, Clone)]
pub struct DeletePlan {
    pub table: TableId,
    pub access: Access,
    pub filter: Option<Expr>,
    pub returning: Option<Projection>,
}

fn returning(
    items: &Option<Vec<SelectItem>>,
    b: &mut Binder,
    scope: &Scope,
) -> SqlResult<Option<Projection>> {
    items
        .as_ref()
        .map(|i| projection(i, b, scope, false))
        .transpose()
}

fn assignment_column(table: &Table, a: &ast::Assignment) -> SqlResult<usize> {
    match &a.target {
        AssignmentTarget::ColumnName(n) => table.column_index(&object_name(n)?),
        AssignmentTarget::Tuple(_) => Err(SqlError::feature_not_supported(
            "tuple assignment is not supported",
        )),
    }
}

pub(super) fn plan_insert(
    catalog: &Catalog,
    ins: &ast::Insert,
    b: &mut Binder,
) -> SqlResult<InsertPlan> {
    let name = match &ins.table {
        ast::TableObject::TableName(n) => table_name(n)?,
        other => {
            return Err(SqlError::feature_not_supported(format!(
                "INSERT INTO {other}"
            )))
        }
    };
    let table = catalog.table(&name)?;
    table.check_writable("insert into")?;
    let targets: Vec<usize> = if ins.columns.is_empty() {
        (0..table.columns.len()).collect()
    } else {
        ins.columns
            .iter()
            .map(|c| table.column_index(&object_name(c)?))
            .collect::<SqlResult<_>>()?
    };
    for (i, t) in targets.iter().enumerate() {
        if targets[..i].contains(t) {
            return Err(SqlError::syntax(format!(
                "column \"{}\" specified more than once",
                table.columns[*t].name
            )));
        }
    }
    let source = ins
        .source
        .as_ref()
        .ok_or_else(|| SqlError::syntax("INSERT needs VALUES"))?;
    let mut select = None;
    let no_values = vec![];
    let values = match &*source.body {
        SetExpr::Values(v) => &v.rows,
        _ => {
            let q = plan_query(catalog, source, b)?;
            if q.function.is_some() {
                return Err(SqlError::feature_not_supported(
                    "INSERT ... SELECT from a table function",
                ));
            }
            if q.projection.columns.len() != targets.len() {
                return Err(SqlError::syntax(format!(
                    "INSERT has {} target columns but the query returns {}",
                    targets.len(),
                    q.projection.columns.len()
                )));
            }
            select = Some((Box::new(q), targets.clone()));
            &no_values
        }
    };
    let empty = Scope::default();
    let mut rows = vec![];
    for row in values {
        let row = &row.content;
        if row.len() > targets.len() {
            return Err(SqlError::syntax(
                "INSERT has more expressions than target columns",
            ));
        }
        if row.len() < targets.len() {
            return Err(SqlError::syntax(
                "INSERT has more target columns than expressions",
            ));
        }
        let mut full: Vec<Option<Expr>> = vec![None; table.columns.len()];
        for (e, &t) in row.iter().zip(&targets) {
            if matches!(e, ast::Expr::Identifier(i) if i.value.eq_ignore_ascii_case("default")) {
                continue;
            }
            let ty = table.columns[t].ty;
            let (x, _) = b.bind(e, &empty, Ctx::want(ty))?;
            full[t] = Some(Expr::Cast(Box::new(x), ty));
        }
        rows.push(full);
    }
    let on_conflict = match &ins.on {
        None => OnConflict::Error,
        Some(ast::OnInsert::OnConflict(oc)) => {
            if let Some(target) = &oc.conflict_target {
                let cols = match target {
                    ast::ConflictTarget::Columns(c) => c,
                    ast::ConflictTarget::OnConstraint(_) => {
                        return Err(SqlError::feature_not_supported("ON CONFLICT ON CONSTRAINT"))
                    }
                };
                let mut idx = cols
                    .iter()
                    .map(|c| table.column_index(&ident(c)))
                    .collect::<SqlResult<Vec<_>>>()?;
                idx.sort_unstable();
                if idx != table.key {
                    return Err(SqlError::new(
                        SqlState::InvalidColumnReference,
                        "there is no unique or exclusion constraint matching the ON CONFLICT specification",
                    ));
                }
            }
            match &oc.action {
                ast::OnConflictAction::DoNothing => OnConflict::Nothing,
                ast::OnConflictAction::DoUpdate(du) => {
                    if oc.conflict_target.is_none() {
                        return Err(SqlError::syntax(
                            "ON CONFLICT DO UPDATE requires a conflict target",
                        ));
                    }
                    let mut scope = table_scope(table, table.name);
                    for c in &table.columns {
                        scope.push("excluded", c.name, c.ty, true);
                    }
                    let assignments = update_assignments(table, &du.assignments, b, &scope)?;
                    let filter = du
                        .selection
                        .as_ref()
                        .map(|e| b.bind(e, &scope, Ctx::want(SqlType::Bool)).map(|x| x.0))
                        .transpose()?;
                    OnConflict::Update {
                        assignments,
                        filter,
                    }
                }
            }
        }
        Some(_) => return Err(SqlError::feature_not_supported("ON DUPLICATE KEY")),
    };
    let returning = returning(&ins.returning, b, &table_scope(table, table.name))?;
    Ok(InsertPlan {
        table: table.id,
        rows,
        select,
        on_conflict,
        returning,
    })
}

fn update_assignments(
    table: &Table,
    assignments: &[ast::Assignment],
    b: &mut Binder,
    scope: &Scope,
) -> SqlResult<Vec<(usize, Expr)>> {
    let mut out: Vec<(usize, Expr)> = vec![];
    for a in assignments {
        let col = assignment_column(table, a)?;
        if out.iter().any(|(c, _)| *c == col) {
            return Err(SqlError::syntax(format!(
                "multiple assignments to same column \"{}\"",
                table.columns[col].name
            )));
        }
        let ty = table.columns[col].ty;
        let value = if matches!(&a.value, ast::Expr::Identifier(i) if i.value.eq_ignore_ascii_case("default"))
        {
            default_expr(table, col)
        } else if matches!(table.columns[col].default, ColDefault::Assigned(_)) {
            return Err(SqlError::generated_always(format!(
                "column \"{}\" can only be updated to DEFAULT: it is assigned by the database",
                table.columns[col].name
            )));
        } else {
            b.bind(&a.value, scope, Ctx::want(ty))?.0
        };
        out.push((col, Expr::Cast(Box::new(value), ty)));
    }
    Ok(out)
}

fn single_table<'c>(
    catalog: &'c Catalog,
    twj: &ast::TableWithJoins,
    b: &mut Binder,
) -> SqlResult<(&'c Table, String)> {
    if !twj.joins.is_empty() {
        return Err(SqlError::feature_not_supported(
            "joins are not supported yet",
        ));
    }
    from_table(catalog, &twj.relation, b, "is read-only")
}

pub(super) fn plan_update(
    catalog: &Catalog,
    up: &ast::Update,
    b: &mut Binder,
) -> SqlResult<UpdatePlan> {
    if up.from.is_some() || up.limit.is_some() || !up.order_by.is_empty() {
        return Err(SqlError::feature_not_supported(
            "UPDATE ... FROM/ORDER BY/LIMIT",
        ));
    }
    let (table, q) = single_table(catalog, &up.table, b)?;
    table.check_writable("update")?;
    let scope = table_scope(table, &q);
    let assignments = update_assignments(table, &up.assignments, b, &scope)?;
    let filter = up
        .selection
        .as_ref()
        .map(|e| b.bind(e, &scope, Ctx::want(SqlType::Bool)).map(|x| x.0))
        .transpose()?;
    let returning = returning(&up.returning, b, &scope)?;
    Ok(UpdatePlan {
        table: table.id,
        access: Access::derive(table, filter.as_ref()),
        filter,
        assignments,
        returning,
    })
}

pub(super) fn plan_delete(
    catalog: &Catalog,
    del: &ast::Delete,
    b: &mut Binder,
) -> SqlResult<DeletePlan> {
    if del.using.is_some()
        || del.limit.is_some()
        || !del.order_by.is_empty()
        || !del.tables.is_empty()
    {
        return Err(SqlError::feature_not_supported(
            "DELETE ... USING/ORDER BY/LIMIT",
        ));
    }
    let from = match &del.from {
        ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
    };
    let [twj] = from.as_slice() else {
        return Err(SqlError::feature_not_supported(
            "DELETE from several tables",
        ));
    };
    let (table, q) = single_table(catalog, twj, b)?;
    let scope = table_scope(table, &q);
    let filter = del
        .selection
        .as_ref()
        .map(|e| b.bind(e, &scope, Ctx::want(SqlType::Bool)).map(|x| x.0))
        .transpose()?;
    let returning = returning(&del.returning, b, &scope)?;
    Ok(DeletePlan {
        table: table.id,
        access: Access::derive(table, filter.as_ref()),
        filter,
        returning,
    })
}

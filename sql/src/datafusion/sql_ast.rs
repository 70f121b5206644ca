//! SQL syntax trees the rewrites of this module build: function calls and
//! NULL.

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArgumentList,
    FunctionArguments, Ident, ObjectName,
};

/// The call `name(args …)`, with `clauses` (ORDER BY) after the arguments.
pub fn function(name: &str, args: Vec<Expr>, clauses: Vec<FunctionArgumentClause>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses,
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// The call `name(args …)`.
pub fn call(name: &str, args: Vec<Expr>) -> Expr {
    function(name, args, vec![])
}

pub fn null() -> Expr {
    Expr::Value(sqlparser::ast::Value::Null.into())
}

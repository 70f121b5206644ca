//! The answer to a Describe of a prepared statement. PostgreSQL answers a
//! statement that returns no rows (an INSERT, UPDATE, DELETE without
//! RETURNING, a SET) with `NoData`; pgwire's own response sends `NoData`
//! only when the statement also has no parameters, and a RowDescription of
//! no columns otherwise. JDBC takes that for a query and reports its batch
//! update counts as 0, so the response here follows PostgreSQL.

use pgwire::api::results::{DescribeResponse, FieldInfo};
use pgwire::api::Type;

pub struct StatementDescription {
    parameters: Vec<Type>,
    fields: Vec<FieldInfo>,
}

impl StatementDescription {
    pub fn new(parameters: Vec<Type>, fields: Vec<FieldInfo>) -> StatementDescription {
        StatementDescription { parameters, fields }
    }
}

impl DescribeResponse for StatementDescription {
    fn parameters(&self) -> Option<&[Type]> {
        Some(&self.parameters)
    }

    fn fields(&self) -> &[FieldInfo] {
        &self.fields
    }

    fn no_data() -> Self {
        StatementDescription::new(vec![], vec![])
    }

    /// No rows: ParameterDescription is still sent, then NoData.
    fn is_no_data(&self) -> bool {
        self.fields.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_without_columns_has_no_data_whatever_its_parameters() {
        let insert = StatementDescription::new(vec![Type::TEXT, Type::INT8], vec![]);
        assert!(insert.is_no_data());
        assert_eq!(insert.parameters().map(<[Type]>::len), Some(2));
        let select = StatementDescription::new(
            vec![],
            vec![FieldInfo::new(
                "k".into(),
                None,
                None,
                Type::TEXT,
                pgwire::api::results::FieldFormat::Text,
            )],
        );
        assert!(!select.is_no_data());
    }
}

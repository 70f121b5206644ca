//! The rows of a data table function (`list_objects`, `bucket_stats`,
//! `list_object_versions`) read from a statement's read view; the SELECT
//! around the call then filters, sorts and projects them.

use bucketdb_storage::ReadView;

use crate::catalog::Catalog;
use crate::error::{SqlError, SqlResult};
use crate::functions::{list_versions, listing, TableFn};
use crate::runtime::Interrupt;
use crate::value::Value;

pub fn function_rows(
    view: &ReadView,
    catalog: &Catalog,
    function: TableFn,
    args: &[Value],
    interrupt: &Interrupt,
) -> SqlResult<Vec<Vec<Value>>> {
    match function {
        TableFn::ListObjects => listing::list_objects(view, &catalog.objects, args, interrupt),
        TableFn::BucketStats => listing::bucket_stats(view, args),
        TableFn::ListObjectVersions => list_versions::list_object_versions(view, args, interrupt),
        TableFn::ClusterNodes | TableFn::ClusterStatus | TableFn::ClusterCheck => Err(
            SqlError::internal(format!("{}() does not read data", function.name())),
        ),
    }
}

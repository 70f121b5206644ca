//! bucketdb's own functions in `pg_catalog.pg_proc`, so that psql's `\df`
//! (and any tool that browses functions) lists `list_objects`,
//! `cluster_nodes` and the rest with their arguments and results.
//!
//! datafusion-pg-catalog's `pg_proc` is a static export of PostgreSQL's
//! built-ins, all in the `pg_catalog` namespace. The table here yields
//! those, then a row per bucketdb function in `public`. That namespace's
//! OID is handed out by the provider at run time, so it is read from
//! `pg_namespace` of the same provider each time `pg_proc` is scanned. The
//! export's `information_schema` functions carry PostgreSQL's OID for that
//! schema, which the provider's `pg_namespace` does not use: they are
//! given the provider's (pg_dump checks every function's schema exists).

use std::sync::Arc;

use datafusion::arrow::array::{new_null_array, Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::physical_plan::{common::collect, SendableRecordBatchStream};
use datafusion_pg_catalog::pg_catalog::{ArrowTable, PgCatalogStaticTables, PgCatalogTable};
use futures::{stream, TryStreamExt};

use crate::functions::{own_functions, Signature};

use super::builtin_signatures::{self, Described};
use super::catalog_schema::PgCatalog;
use super::regtype::Types;

/// OIDs of bucketdb's functions start here: far above PostgreSQL's own
/// (below 16384) and above what the provider hands out to tables.
const FIRST_OID: i32 = 1_000_000;

/// The namespace bucketdb's functions are listed in.
const NAMESPACE: &str = "public";

/// PostgreSQL's OID of `information_schema`, as the static export has it.
const EXPORTED_INFORMATION_SCHEMA: i32 = 13283;

impl ProcTable {
    /// `pg_proc` over `catalog`, the provider whose `pg_namespace` gives
    /// the namespace OID.
    pub fn new(catalog: Arc<PgCatalog>, statics: &PgCatalogStaticTables) -> Result<ProcTable> {
        let builtin = statics.pg_proc.clone();
        let functions = Arc::new(functions(&builtin)?);
        Ok(ProcTable {
            schema: builtin.schema(),
            catalog,
            builtin,
            functions,
        })
    }

    /// The table, to answer `pg_catalog.pg_proc`.
    pub fn provider(self: &Arc<Self>) -> Result<Arc<dyn TableProvider>> {
        let table = StreamingTable::try_new(self.schema.clone(), vec![self.clone()])?;
        Ok(Arc::new(table))
    }

    /// Registers the functions `\df` calls to describe a function:
    /// bucketdb's, and PostgreSQL's built-ins from the export.
    pub fn register_describe(&self, ctx: &SessionContext, types: &Types) -> Result<()> {
        let mut by_oid = builtin_signatures::builtin(&self.builtin, types)?;
        by_oid.extend(self.functions.iter().map(|(oid, s)| {
            let described = Described {
                arguments: s.arguments.clone(),
                result: s.result.clone(),
            };
            (*oid, described)
        }));
        let by_oid = Arc::new(by_oid);
        let describe = |name: &str, part: fn(&Described) -> String| {
            let by_oid = by_oid.clone();
            create_udf(
                name,
                // int8, so that a literal OID is taken as well as an oid column.
                vec![DataType::Int64],
                DataType::Utf8,
                Volatility::Stable,
                Arc::new(move |args: &[ColumnarValue]| {
                    let oids = ColumnarValue::values_to_arrays(args)?;
                    let oids = super::functions::one_argument::<Int64Type>(&oids)?;
                    let out: StringArray = oids
                        .iter()
                        .map(|oid| Some(part(by_oid.get(&i32::try_from(oid?).ok()?)?)))
                        .collect();
                    Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
                }),
            )
        };
        ctx.register_udf(describe("pg_get_function_arguments", |d| {
            d.arguments.clone()
        }));
        ctx.register_udf(describe("pg_get_function_identity_arguments", |d| {
            identity_arguments(&d.arguments)
        }));
        ctx.register_udf(describe("pg_get_function_result", |d| d.result.clone()));
        // No function has an SQL-standard body (pg_dump asks): NULL.
        ctx.register_udf(create_udf(
            "pg_get_function_sqlbody",
            vec![DataType::Int64],
            DataType::Utf8,
            Volatility::Stable,
            Arc::new(|args: &[ColumnarValue]| {
                let rows = ColumnarValue::values_to_arrays(args)?
                    .first()
                    .map_or(1, |a| a.len());
                Ok(ColumnarValue::Array(new_null_array(&DataType::Utf8, rows)))
            }),
        ));
        Ok(())
    }
}

/// `name type DEFAULT x, OUT o type, …` as `name type, …`: the
/// arguments a call passes, without their defaults.
fn identity_arguments(arguments: &str) -> String {
    arguments
        .split(", ")
        .filter(|a| !a.starts_with("OUT "))
        .map(|a| a.split(" DEFAULT ").next().unwrap_or(a))
        .collect::<Vec<_>>()
        .join(", ")
}

/// bucketdb's functions with their OIDs, leaving out those PostgreSQL
/// already lists as built-ins (`set_config`).
fn functions(builtin: &ArrowTable) -> Result<Vec<(i32, Signature)>> {
    let mut builtin_names = std::collections::HashSet::new();
    for batch in builtin.data() {
        let Some(names) = batch.column_by_name("proname") else {
            continue;
        };
        let names = datafusion::arrow::compute::cast(names, &DataType::Utf8)?;
        builtin_names.extend(
            names
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_string),
        );
    }
    let signatures = own_functions().filter(|s| !builtin_names.contains(s.name));
    Ok((FIRST_OID..).zip(signatures).collect())
}

/// `pg_proc`: PostgreSQL's built-ins, then bucketdb's functions.
#[derive(Debug)]
pub struct ProcTable {
    schema: SchemaRef,
    catalog: Arc<PgCatalog>,
    builtin: Arc<ArrowTable>,
    functions: Arc<Vec<(i32, Signature)>>,
}

impl PartitionStream for ProcTable {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = self.schema.clone();
        let builtin = self.builtin.data().to_vec();
        let catalog = self.catalog.clone();
        let functions = self.functions.clone();
        let own_schema = schema.clone();
        let rows = stream::once(async move {
            let namespace = namespace_oid(&catalog, ctx.clone(), NAMESPACE).await?;
            let information_schema = namespace_oid(&catalog, ctx, "information_schema").await?;
            let mut batches = builtin
                .iter()
                .map(|b| renumbered(b, "pronamespace", information_schema))
                .collect::<Result<Vec<_>>>()?;
            batches.push(function_rows(&own_schema, &functions, namespace)?);
            Ok::<_, DataFusionError>(stream::iter(batches.into_iter().map(Ok)))
        })
        .try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(schema, rows))
    }
}

/// `batch` with the exported `information_schema` OID in its namespace
/// column `column` replaced by the provider's.
pub(super) fn renumbered(
    batch: &RecordBatch,
    column: &str,
    information_schema: i32,
) -> Result<RecordBatch> {
    let Ok(i) = batch.schema().index_of(column) else {
        return Ok(batch.clone());
    };
    let column = batch.column(i);
    let oids = datafusion::arrow::compute::cast(column, &DataType::Int32)?;
    let oids: datafusion::arrow::array::Int32Array = oids
        .as_primitive::<Int32Type>()
        .iter()
        .map(|o| {
            o.map(|o| {
                if o == EXPORTED_INFORMATION_SCHEMA {
                    information_schema
                } else {
                    o
                }
            })
        })
        .collect();
    let mut columns = batch.columns().to_vec();
    columns[i] = datafusion::arrow::compute::cast(&oids, column.data_type())?;
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// The OID `pg_namespace` currently gives the namespace `name`.
pub(super) async fn namespace_oid(
    catalog: &PgCatalog,
    ctx: Arc<TaskContext>,
    name: &str,
) -> Result<i32> {
    let Some(PgCatalogTable::Dynamic(namespaces)) = catalog.build_table_by_name("pg_namespace")?
    else {
        return Err(DataFusionError::Internal(
            "pg_namespace is not a dynamic table".into(),
        ));
    };
    for batch in collect(namespaces.execute(ctx)).await? {
        let (Some(oids), Some(names)) =
            (batch.column_by_name("oid"), batch.column_by_name("nspname"))
        else {
            continue;
        };
        let names = datafusion::arrow::compute::cast(names, &DataType::Utf8)?;
        let oids = datafusion::arrow::compute::cast(oids, &DataType::Int32)?;
        let oids = oids.as_primitive::<Int32Type>();
        if let Some(i) = names
            .as_string::<i32>()
            .iter()
            .position(|n| n == Some(name))
        {
            if oids.is_valid(i) {
                return Ok(oids.value(i));
            }
        }
    }
    Err(DataFusionError::Internal(format!(
        "pg_namespace has no {name}"
    )))
}

/// One `pg_proc` row per function, in the built-in rows' schema: the
/// columns psql and drivers read are filled in, the rest take their
/// type's empty value.
fn function_rows(
    schema: &SchemaRef,
    functions: &[(i32, Signature)],
    namespace: i32,
) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let cells = functions
                .iter()
                .map(|(oid, sig)| cell(field, *oid, sig, namespace))
                .collect::<Result<Vec<_>>>()?;
            if cells.is_empty() {
                return Ok(datafusion::arrow::array::new_empty_array(field.data_type()));
            }
            ScalarValue::iter_to_array(cells)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn cell(field: &Field, oid: i32, sig: &Signature, namespace: i32) -> Result<ScalarValue> {
    let text = |s: &str| ScalarValue::Utf8(Some(s.to_string()));
    let given = match field.name().as_str() {
        "oid" => Some(ScalarValue::Int32(Some(oid))),
        "proname" | "prosrc" => Some(text(sig.name)),
        "pronamespace" => Some(ScalarValue::Int32(Some(namespace))),
        // The bootstrap superuser and the `internal` language.
        "proowner" => Some(ScalarValue::Int32(Some(10))),
        "prolang" => Some(ScalarValue::Int32(Some(12))),
        "prokind" => Some(text("f")),
        "proretset" => Some(ScalarValue::Boolean(Some(sig.returns_set))),
        "pronargs" => Some(ScalarValue::Int16(Some(sig.argument_types.len() as i16))),
        "proargtypes" => Some(text(
            &sig.argument_types
                .iter()
                .map(|t| t.oid().to_string())
                .collect::<Vec<_>>()
                .join(" "),
        )),
        "provolatile" => Some(text("v")),
        // `-`: no planner support function.
        "prosupport" => Some(text("-")),
        // They read or change the cluster: not to run in parallel workers.
        "proparallel" => Some(text("u")),
        // PostgreSQL's defaults for an internal function.
        "procost" => Some(ScalarValue::Float32(Some(1.0))),
        "prorows" => Some(ScalarValue::Float32(Some(if sig.returns_set {
            1000.0
        } else {
            0.0
        }))),
        _ => None,
    };
    match given {
        Some(v) => v.cast_to(field.data_type()),
        None if field.is_nullable() => ScalarValue::try_from(field.data_type()),
        None => ScalarValue::new_default(field.data_type()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::{AdminFn, TableFn};

    #[test]
    fn identity_arguments_leave_out_defaults() {
        assert_eq!(
            identity_arguments("bucket text DEFAULT NULL::text, n integer"),
            "bucket text, n integer"
        );
        assert_eq!(identity_arguments(""), "");
    }

    #[test]
    fn lists_table_and_admin_functions_but_not_postgres_builtins() {
        let statics = PgCatalogStaticTables::try_new().unwrap();
        let listed = functions(&statics.pg_proc).unwrap();
        let names: Vec<&str> = listed.iter().map(|(_, s)| s.name).collect();
        assert!(names.contains(&"list_objects"), "{names:?}");
        assert!(names.contains(&"cluster_promote"), "{names:?}");
        assert!(!names.contains(&"set_config"), "{names:?}");
        let rows = function_rows(&statics.pg_proc.schema(), &listed, 2200).unwrap();
        assert_eq!(rows.num_rows(), listed.len());
    }

    #[test]
    fn signatures_read_like_postgres() {
        let s = TableFn::ListObjects.signature();
        assert!(
            s.arguments.starts_with(
                "bucket text, prefix text DEFAULT ''::text, delimiter text DEFAULT NULL::text"
            ),
            "{}",
            s.arguments
        );
        assert!(s
            .arguments
            .ends_with("max_keys bigint DEFAULT 1000, continuation_token text DEFAULT NULL::text"));
        assert!(
            s.result.starts_with("TABLE(key text, is_prefix boolean"),
            "{}",
            s.result
        );
        let a = AdminFn::Promote.signature();
        assert_eq!(
            (a.arguments.as_str(), a.result.as_str()),
            ("node_id bigint", "bigint")
        );
    }
}

//! What `pg_catalog` says about the built-in tables' keys, defaults and
//! types: `pg_constraint` (primary and foreign keys, `conkey` a real
//! array), `pg_index` with the primary keys' indexes, which `pg_class` also
//! lists, `pg_attrdef`, and `pg_attribute` corrected where
//! datafusion-pg-catalog cannot know (JSON columns are `json`, columns
//! with a default say so). ORMs and psql's `\d` reflect keys from these.
//! `pg_statio_all_tables` lists the tables too (Sequelize joins it to find
//! column comments); its block counts are NULL, as bucketdb does not count
//! blocks per table.
//!
//! A table's OID is datafusion-pg-catalog's, handed out as its tables are
//! first listed, so these tables are made when scanned: from the live
//! `pg_class` and `pg_namespace`, joined to bucketdb's catalog by name.
//! Constraints, indexes and defaults are bucketdb's and have fixed OIDs
//! above the range the library hands out.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, Int16Array, Int16Builder, Int32Array,
    Int64Array, ListBuilder, RecordBatch, StringArray, UInt32Array,
};
use datafusion::arrow::compute::{cast, concat_batches, take};
use datafusion::arrow::datatypes::{
    DataType, Field, Int16Type, Int32Type, Int64Type, Schema, SchemaRef,
};
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion_pg_catalog::pg_catalog::oid_field::{kind, oid_field};

use crate::auth::BOOTSTRAP_SUPERUSER;
use crate::catalog::{Catalog, Constraint, ConstraintKind, Default};
use crate::value::SqlType;

use super::convert::tagged;
use super::information_schema::default_expression;
use super::provider::planning;
use super::roles::role_oid;

/// bucketdb's own catalog objects' OIDs start here: far above the
/// library's counter (16384 and up, one per relation), inside `int4`.
const OID_BASE: i32 = 1_000_000_000;

/// The OID of PostgreSQL's `json` type.
const JSON_OID: i32 = 114;

/// The OID of the btree access method, which every index here is.
const BTREE_OID: i32 = 403;

fn constraint_oid(k: &Constraint) -> i32 {
    let slot = match k.kind {
        ConstraintKind::PrimaryKey => 1,
        ConstraintKind::ForeignKey => 3,
    };
    OID_BASE + 10 * k.table_index as i32 + slot
}

/// The OID of table `table_index`'s primary-key index.
fn index_oid(table_index: usize) -> i32 {
    OID_BASE + 10 * table_index as i32 + 2
}

fn attrdef_oid(table_index: usize, attnum: usize) -> i32 {
    OID_BASE + 1000 + 100 * table_index as i32 + attnum as i32
}

/// Which catalog table a [`KeyTable`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTableKind {
    /// `pg_class` with the primary keys' indexes.
    Class,
    /// `pg_attribute` with bucketdb's types and defaults.
    Attribute,
    Constraint,
    Index,
    AttrDef,
    /// `pg_statio_all_tables`, a view in PostgreSQL.
    StatioTables,
}

impl KeyTableKind {
    /// The tables of this module datafusion-pg-catalog does not have.
    pub const OWN: [&'static str; 1] = ["pg_statio_all_tables"];

    pub fn of(name: &str) -> Option<KeyTableKind> {
        Some(match name.to_ascii_lowercase().as_str() {
            "pg_class" => KeyTableKind::Class,
            "pg_attribute" => KeyTableKind::Attribute,
            "pg_constraint" => KeyTableKind::Constraint,
            "pg_index" => KeyTableKind::Index,
            "pg_attrdef" => KeyTableKind::AttrDef,
            "pg_statio_all_tables" => KeyTableKind::StatioTables,
            _ => return None,
        })
    }
}

/// The library's tables a [`KeyTable`] is made from.
#[derive(Debug, Clone)]
pub struct LiveTables {
    pub pg_class: Arc<dyn TableProvider>,
    pub pg_namespace: Arc<dyn TableProvider>,
    pub pg_attribute: Arc<dyn TableProvider>,
}

/// One of the tables of this module, made when scanned.
#[derive(Debug)]
pub struct KeyTable {
    kind: KeyTableKind,
    schema: SchemaRef,
    live: LiveTables,
    catalog: Arc<Catalog>,
}

impl KeyTable {
    pub fn new(kind: KeyTableKind, live: LiveTables, catalog: Arc<Catalog>) -> KeyTable {
        let schema = match kind {
            KeyTableKind::Class => class_schema(&live.pg_class.schema()),
            KeyTableKind::Attribute => live.pg_attribute.schema(),
            KeyTableKind::Constraint => constraint_schema(),
            KeyTableKind::Index => index_schema(),
            KeyTableKind::AttrDef => attrdef_schema(),
            KeyTableKind::StatioTables => statio_schema(),
        };
        KeyTable {
            kind,
            schema,
            live,
            catalog,
        }
    }

    async fn rows(&self, state: &dyn Session) -> Result<RecordBatch> {
        let classes = read(&self.live.pg_class, state).await?;
        let namespaces = read(&self.live.pg_namespace, state).await?;
        let rels = Relations::find(&self.catalog, &classes, &namespaces)?;
        match self.kind {
            KeyTableKind::Class => self.classes(&classes, &rels),
            KeyTableKind::Attribute => {
                let attributes = read(&self.live.pg_attribute, state).await?;
                self.attributes(&attributes, &rels)
            }
            KeyTableKind::Constraint => self.constraints(&rels),
            KeyTableKind::Index => self.indexes(&rels),
            KeyTableKind::AttrDef => self.attrdefs(&rels),
            KeyTableKind::StatioTables => self.statio(&rels),
        }
    }

    /// `pg_class`: the tables say they have indexes (and, where a foreign
    /// key involves them, triggers, which is how psql knows to list
    /// foreign keys), and each primary key's index is a row.
    fn classes(&self, classes: &RecordBatch, rels: &Relations) -> Result<RecordBatch> {
        let constraints = self.catalog.constraints();
        let mut has_index = bools(classes, "relhasindex")?;
        let mut has_triggers = bools(classes, "relhastriggers")?;
        let mut rows = Vec::new();
        let (mut oids, mut names, mut natts) = (Vec::new(), Vec::new(), Vec::new());
        for (t, table) in self.catalog.tables().enumerate() {
            let Some((row, _)) = rels.tables[t] else {
                continue;
            };
            has_index[row] = true;
            has_triggers[row] |= constraints
                .iter()
                .any(|k| k.kind == ConstraintKind::ForeignKey && k.involves(table));
            rows.push(row as u32);
            oids.push(index_oid(t));
            names.push(table.key_constraint());
            natts.push(table.key.len() as i16);
        }
        // Every relation belongs to the bootstrap superuser (`\dt` shows
        // its name as the owner).
        let owner = Arc::new(Int32Array::from(vec![
            role_oid(BOOTSTRAP_SUPERUSER);
            classes.num_rows()
        ]));
        let tables = with_columns(
            classes,
            vec![
                ("relhasindex", Arc::new(BooleanArray::from(has_index))),
                ("relhastriggers", Arc::new(BooleanArray::from(has_triggers))),
                ("relowner", owner),
            ],
        )?;
        // The indexes' rows start as copies of their tables' (owner
        // included), then say what differs.
        let picked = RecordBatch::try_new(
            tables.schema(),
            tables
                .columns()
                .iter()
                .map(|c| take(c, &UInt32Array::from(rows.clone()), None))
                .collect::<std::result::Result<Vec<_>, _>>()?,
        )?;
        let n = rows.len();
        let indexes = with_columns(
            &picked,
            vec![
                ("oid", Arc::new(Int32Array::from(oids))),
                ("relname", Arc::new(StringArray::from(names))),
                ("reltype", Arc::new(Int32Array::from(vec![0; n]))),
                ("relam", Arc::new(Int32Array::from(vec![BTREE_OID; n]))),
                ("relkind", Arc::new(StringArray::from(vec!["i"; n]))),
                ("relnatts", Arc::new(Int16Array::from(natts))),
                ("relhasindex", Arc::new(BooleanArray::from(vec![false; n]))),
                (
                    "relhastriggers",
                    Arc::new(BooleanArray::from(vec![false; n])),
                ),
            ],
        )?;
        let all = concat_batches(&classes.schema(), [&tables, &indexes])?;
        // No relation has storage options.
        let mut columns = all.columns().to_vec();
        columns.push(new_null_array(&text_list_type(), all.num_rows()));
        Ok(RecordBatch::try_new(
            class_schema(&classes.schema()),
            columns,
        )?)
    }

    /// `pg_attribute`: JSON columns have the `json` type and columns with
    /// a default have `atthasdef`.
    fn attributes(&self, attributes: &RecordBatch, rels: &Relations) -> Result<RecordBatch> {
        let relids = ints(attributes, "attrelid")?;
        let attnums = attributes
            .column_by_name("attnum")
            .ok_or_else(|| missing("attnum"))?
            .as_primitive::<Int16Type>()
            .clone();
        let mut types = ints(attributes, "atttypid")?;
        let mut has_default = bools(attributes, "atthasdef")?;
        let tables: Vec<_> = self.catalog.tables().collect();
        for (row, relid) in relids.iter().enumerate() {
            let Some(t) = rels.table_of(*relid) else {
                continue;
            };
            let Some(column) = usize::try_from(attnums.value(row) - 1)
                .ok()
                .and_then(|i| tables[t].columns.get(i))
            else {
                continue;
            };
            if column.ty == SqlType::Json {
                types[row] = JSON_OID;
            }
            has_default[row] = column.default != Default::Null;
        }
        with_columns(
            attributes,
            vec![
                ("atttypid", Arc::new(Int32Array::from(types))),
                ("atthasdef", Arc::new(BooleanArray::from(has_default))),
            ],
        )
    }

    fn constraints(&self, rels: &Relations) -> Result<RecordBatch> {
        let mut c = ConstraintRows::default();
        for k in self.catalog.constraints() {
            let Some((_, relid)) = rels.tables[k.table_index] else {
                continue;
            };
            let parent = k.references.and_then(|(p, cols)| {
                let t = self.catalog.tables().position(|t| t.id == p.id)?;
                Some((rels.tables[t]?.1, cols, t))
            });
            c.oid.push(constraint_oid(&k));
            c.name.push(k.name.clone());
            c.namespace.push(rels.public);
            c.kind.push(match k.kind {
                ConstraintKind::PrimaryKey => "p",
                ConstraintKind::ForeignKey => "f",
            });
            c.relid.push(relid);
            c.indid.push(match (k.kind, parent) {
                (ConstraintKind::PrimaryKey, _) => index_oid(k.table_index),
                // A foreign key's index is the referenced key's.
                (ConstraintKind::ForeignKey, Some((_, _, t))) => index_oid(t),
                (ConstraintKind::ForeignKey, None) => 0,
            });
            c.frelid.push(parent.map_or(0, |(oid, _, _)| oid));
            c.key.push(Some(attnums(k.columns)));
            c.fkey.push(parent.map(|(_, cols, _)| attnums(cols)));
        }
        c.batch(constraint_schema())
    }

    fn indexes(&self, rels: &Relations) -> Result<RecordBatch> {
        let (mut ids, mut relids, mut natts, mut keys) = (vec![], vec![], vec![], vec![]);
        for (t, table) in self.catalog.tables().enumerate() {
            let Some((_, relid)) = rels.tables[t] else {
                continue;
            };
            ids.push(index_oid(t));
            relids.push(relid);
            natts.push(table.key.len() as i16);
            keys.push(Some(attnums(&table.key)));
        }
        let n = ids.len();
        let yes = || Arc::new(BooleanArray::from(vec![true; n])) as ArrayRef;
        let no = || Arc::new(BooleanArray::from(vec![false; n])) as ArrayRef;
        let zeros = keys
            .iter()
            .map(|k| {
                k.as_ref()
                    .map(|k: &Vec<Option<i16>>| vec![Some(0i16); k.len()])
            })
            .collect::<Vec<_>>();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(ids)),
            Arc::new(Int32Array::from(relids)),
            Arc::new(Int16Array::from(natts.clone())),
            Arc::new(Int16Array::from(natts)),
            yes(), // indisunique
            no(),  // indnullsnotdistinct
            yes(), // indisprimary
            no(),  // indisexclusion
            yes(), // indimmediate
            no(),  // indisclustered
            yes(), // indisvalid
            no(),  // indcheckxmin
            yes(), // indisready
            yes(), // indislive
            no(),  // indisreplident
            int2_lists(keys),
            int2_lists(zeros.clone()), // indcollation: none (C order)
            int2_lists(zeros.clone()), // indclass: the default operator class
            int2_lists(zeros),         // indoption: ascending
            Arc::new(StringArray::from(vec![None::<&str>; n])),
            Arc::new(StringArray::from(vec![None::<&str>; n])),
        ];
        Ok(RecordBatch::try_new(index_schema(), columns)?)
    }

    fn attrdefs(&self, rels: &Relations) -> Result<RecordBatch> {
        let (mut oids, mut relids, mut nums, mut exprs) = (vec![], vec![], vec![], vec![]);
        for (t, table) in self.catalog.tables().enumerate() {
            let Some((_, relid)) = rels.tables[t] else {
                continue;
            };
            for (i, column) in table.columns.iter().enumerate() {
                if let Some(expr) = default_expression(column.default) {
                    oids.push(attrdef_oid(t, i + 1));
                    relids.push(relid);
                    nums.push(i as i16 + 1);
                    exprs.push(expr);
                }
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(oids)),
            Arc::new(Int32Array::from(relids)),
            Arc::new(Int16Array::from(nums)),
            Arc::new(StringArray::from(exprs)),
        ];
        Ok(RecordBatch::try_new(attrdef_schema(), columns)?)
    }

    fn statio(&self, rels: &Relations) -> Result<RecordBatch> {
        let (mut relids, mut names) = (vec![], vec![]);
        for (t, table) in self.catalog.tables().enumerate() {
            if let Some((_, relid)) = rels.tables[t] {
                relids.push(relid);
                names.push(table.name);
            }
        }
        let n = relids.len();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(relids)),
            Arc::new(StringArray::from(vec!["public"; n])),
            Arc::new(StringArray::from(names)),
        ];
        let counts = statio_schema().fields().len() - columns.len();
        columns.extend((0..counts).map(|_| Arc::new(Int64Array::from(vec![None; n])) as ArrayRef));
        Ok(RecordBatch::try_new(statio_schema(), columns)?)
    }
}

#[async_trait]
impl TableProvider for KeyTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = self.rows(state).await?;
        MemTable::try_new(self.schema.clone(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// All of a table's rows, as one batch.
pub(super) async fn read(
    table: &Arc<dyn TableProvider>,
    state: &dyn Session,
) -> Result<RecordBatch> {
    let plan = table.scan(state, None, &[], None).await?;
    let batches = collect(plan, state.task_ctx()).await?;
    Ok(concat_batches(&table.schema(), &batches)?)
}

/// Where the built-in tables are in the live `pg_class`.
struct Relations {
    /// The `public` namespace's OID.
    public: i32,
    /// Per table of [`Catalog::tables`]: its `pg_class` row and OID.
    tables: Vec<Option<(usize, i32)>>,
}

impl Relations {
    fn find(catalog: &Catalog, classes: &RecordBatch, namespaces: &RecordBatch) -> Result<Self> {
        let ns_names = strings(namespaces, "nspname")?;
        let ns_oids = ints(namespaces, "oid")?;
        let public = (0..ns_names.len())
            .find(|&i| ns_names.value(i) == "public")
            .map_or(0, |i| ns_oids[i]);
        let names = strings(classes, "relname")?;
        let spaces = ints(classes, "relnamespace")?;
        let oids = ints(classes, "oid")?;
        let tables = catalog
            .tables()
            .map(|t| {
                (0..names.len())
                    .find(|&i| names.value(i) == t.name && spaces[i] == public)
                    .map(|i| (i, oids[i]))
            })
            .collect();
        Ok(Relations { public, tables })
    }

    /// The position in [`Catalog::tables`] of the table with OID `relid`.
    fn table_of(&self, relid: i32) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.is_some_and(|(_, oid)| oid == relid))
    }
}

/// 1-based column numbers, as `conkey` and `indkey` hold them.
fn attnums(columns: &[usize]) -> Vec<Option<i16>> {
    columns.iter().map(|&i| Some(i as i16 + 1)).collect()
}

fn text_list_type() -> DataType {
    DataType::new_list(DataType::Utf8, true)
}

/// The library's `pg_class` with `reloptions` (pg_dump and psql's `\d+`
/// read it), which it lacks.
fn class_schema(library: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<Field> = library
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("reloptions", text_list_type(), true));
    Arc::new(Schema::new_with_metadata(
        fields,
        library.metadata().clone(),
    ))
}

fn int2_list_type() -> DataType {
    DataType::new_list(DataType::Int16, true)
}

fn int2_lists(lists: Vec<Option<Vec<Option<i16>>>>) -> ArrayRef {
    let mut b = ListBuilder::new(Int16Builder::new())
        .with_field(Arc::new(Field::new_list_field(DataType::Int16, true)));
    for list in lists {
        match list {
            Some(items) => {
                b.values().extend(items);
                b.append(true);
            }
            None => b.append(false),
        }
    }
    Arc::new(b.finish())
}

fn missing(name: &str) -> DataFusionError {
    DataFusionError::Internal(format!("pg_catalog table without column {name}"))
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| missing(name))
}

fn ints(batch: &RecordBatch, name: &str) -> Result<Vec<i32>> {
    let column = batch.column_by_name(name).ok_or_else(|| missing(name))?;
    let column = cast(column, &DataType::Int32)?;
    Ok(column
        .as_primitive::<Int32Type>()
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

fn bools(batch: &RecordBatch, name: &str) -> Result<Vec<bool>> {
    let column = batch.column_by_name(name).ok_or_else(|| missing(name))?;
    Ok(column
        .as_boolean_opt()
        .ok_or_else(|| missing(name))?
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect())
}

/// `batch` with the named columns replaced.
fn with_columns(batch: &RecordBatch, replaced: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut columns = batch.columns().to_vec();
    for (name, array) in replaced {
        let i = schema.index_of(name)?;
        columns[i] = cast(&array, schema.field(i).data_type())?;
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

#[derive(Default)]
struct ConstraintRows {
    oid: Vec<i32>,
    name: Vec<String>,
    namespace: Vec<i32>,
    kind: Vec<&'static str>,
    relid: Vec<i32>,
    indid: Vec<i32>,
    frelid: Vec<i32>,
    key: Vec<Option<Vec<Option<i16>>>>,
    fkey: Vec<Option<Vec<Option<i16>>>>,
}

impl ConstraintRows {
    fn batch(self, schema: SchemaRef) -> Result<RecordBatch> {
        let n = self.oid.len();
        let null_text = || Arc::new(StringArray::from(vec![None::<&str>; n])) as ArrayRef;
        let flag = |v| Arc::new(BooleanArray::from(vec![v; n])) as ArrayRef;
        let zero = || Arc::new(Int32Array::from(vec![0; n])) as ArrayRef;
        // A foreign key's actions: NO ACTION ('a') and MATCH SIMPLE ('s');
        // a primary key has none (' ').
        let fk_text = |fk: &str| {
            Arc::new(StringArray::from(
                self.kind
                    .iter()
                    .map(|k| if *k == "f" { fk } else { " " })
                    .collect::<Vec<_>>(),
            )) as ArrayRef
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(self.oid)),
            Arc::new(StringArray::from(self.name)),
            Arc::new(Int32Array::from(self.namespace)),
            Arc::new(StringArray::from(self.kind.clone())),
            flag(false), // condeferrable
            flag(false), // condeferred
            flag(true),  // convalidated
            Arc::new(Int32Array::from(self.relid)),
            zero(), // contypid
            Arc::new(Int32Array::from(self.indid)),
            zero(), // conparentid
            Arc::new(Int32Array::from(self.frelid)),
            fk_text("a"),
            fk_text("a"),
            fk_text("s"),
            flag(true), // conislocal
            Arc::new(Int16Array::from(vec![0i16; n])),
            flag(true), // connoinherit
            int2_lists(self.key),
            int2_lists(self.fkey),
            null_text(), // conpfeqop
            null_text(), // conppeqop
            null_text(), // conffeqop
            null_text(), // confdelsetcols
            null_text(), // conexclop
            null_text(), // conbin
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

fn constraint_schema() -> SchemaRef {
    let text = |n: &str, nullable| Field::new(n, DataType::Utf8, nullable);
    let flag = |n: &str| Field::new(n, DataType::Boolean, false);
    Arc::new(Schema::new(vec![
        oid_field("oid", kind::OID, false),
        text("conname", false),
        oid_field("connamespace", kind::REGNAMESPACE, false),
        text("contype", false),
        flag("condeferrable"),
        flag("condeferred"),
        flag("convalidated"),
        oid_field("conrelid", kind::REGCLASS, false),
        oid_field("contypid", kind::REGTYPE, false),
        oid_field("conindid", kind::REGCLASS, false),
        oid_field("conparentid", kind::OID, false),
        oid_field("confrelid", kind::REGCLASS, false),
        text("confupdtype", false),
        text("confdeltype", false),
        text("confmatchtype", false),
        flag("conislocal"),
        Field::new("coninhcount", DataType::Int16, false),
        flag("connoinherit"),
        Field::new("conkey", int2_list_type(), true),
        Field::new("confkey", int2_list_type(), true),
        text("conpfeqop", true),
        text("conppeqop", true),
        text("conffeqop", true),
        text("confdelsetcols", true),
        text("conexclop", true),
        text("conbin", true),
    ]))
}

fn index_schema() -> SchemaRef {
    let flag = |n: &str| Field::new(n, DataType::Boolean, false);
    let list = |n: &str, ty| tagged(Field::new(n, int2_list_type(), true), ty);
    Arc::new(Schema::new(vec![
        oid_field("indexrelid", kind::REGCLASS, false),
        oid_field("indrelid", kind::REGCLASS, false),
        Field::new("indnatts", DataType::Int16, false),
        Field::new("indnkeyatts", DataType::Int16, false),
        flag("indisunique"),
        flag("indnullsnotdistinct"),
        flag("indisprimary"),
        flag("indisexclusion"),
        flag("indimmediate"),
        flag("indisclustered"),
        flag("indisvalid"),
        flag("indcheckxmin"),
        flag("indisready"),
        flag("indislive"),
        flag("indisreplident"),
        list("indkey", SqlType::Int2Vector),
        list("indcollation", SqlType::OidVector),
        list("indclass", SqlType::OidVector),
        list("indoption", SqlType::Int2Vector),
        Field::new("indexprs", DataType::Utf8, true),
        Field::new("indpred", DataType::Utf8, true),
    ]))
}

fn attrdef_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        oid_field("oid", kind::OID, false),
        oid_field("adrelid", kind::REGCLASS, false),
        Field::new("adnum", DataType::Int16, false),
        Field::new("adbin", DataType::Utf8, false),
    ]))
}

fn statio_schema() -> SchemaRef {
    let mut fields = vec![
        oid_field("relid", kind::OID, false),
        Field::new("schemaname", DataType::Utf8, false),
        Field::new("relname", DataType::Utf8, false),
    ];
    for count in [
        "heap_blks_read",
        "heap_blks_hit",
        "idx_blks_read",
        "idx_blks_hit",
        "toast_blks_read",
        "toast_blks_hit",
        "tidx_blks_read",
        "tidx_blks_hit",
    ] {
        fields.push(Field::new(count, DataType::Int64, true));
    }
    Arc::new(Schema::new(fields))
}

/// Which definition a [`Definition`] function prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Printed {
    /// `pg_get_constraintdef(oid [, pretty])`.
    Constraint,
    /// `pg_get_indexdef(oid [, column, pretty])`: the whole statement, or
    /// with a column number past 0 that column's name.
    Index,
    /// `pg_get_expr(expr, relation [, pretty])`: `pg_attrdef.adbin` holds
    /// the expression as printed, so it is its own answer.
    Expression,
}

#[derive(Debug, Clone)]
struct Definition {
    printed: Printed,
    signature: Signature,
    catalog: Arc<Catalog>,
    /// Whether a referenced table is named with its schema, as PostgreSQL
    /// does when the search path does not find it (pg_dump empties the
    /// path). Set when a query binds the function (see `simplify`).
    qualify: Option<bool>,
}

impl PartialEq for Definition {
    fn eq(&self, other: &Self) -> bool {
        self.printed == other.printed && self.qualify == other.qualify
    }
}

impl Eq for Definition {}

impl std::hash::Hash for Definition {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.printed.hash(state);
        self.qualify.hash(state);
    }
}

impl ScalarUDFImpl for Definition {
    fn name(&self) -> &str {
        match self.printed {
            Printed::Constraint => "pg_get_constraintdef",
            Printed::Index => "pg_get_indexdef",
            Printed::Expression => "pg_get_expr",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    /// Binds a constraint's definition to the query's search path.
    fn simplify(&self, args: Vec<Expr>, _: &SimplifyContext) -> Result<ExprSimplifyResult> {
        match (self.printed, self.qualify, planning()) {
            (Printed::Constraint, None, Some(scope)) => {
                let bound = Definition {
                    qualify: Some(!scope.settings.search_path_schemas().contains(&"public")),
                    ..self.clone()
                };
                let udf = Arc::new(ScalarUDF::new_from_impl(bound));
                Ok(ExprSimplifyResult::Simplified(Expr::ScalarFunction(
                    ScalarFunction::new_udf(udf, args),
                )))
            }
            _ => Ok(ExprSimplifyResult::Original(args)),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(first) = arrays.first() else {
            return Err(DataFusionError::Plan(format!(
                "{} needs arguments",
                self.name()
            )));
        };
        if self.printed == Printed::Expression {
            return Ok(ColumnarValue::Array(cast(first, &DataType::Utf8)?));
        }
        let oids = cast(first, &DataType::Int64)?;
        let oids = oids.as_primitive::<Int64Type>();
        let column = match arrays.get(1) {
            Some(c) if self.printed == Printed::Index => Some(cast(c, &DataType::Int64)?),
            _ => None,
        };
        let constraints = self.catalog.constraints();
        let out: StringArray = (0..rows)
            .map(|i| {
                if oids.is_null(i) {
                    return None;
                }
                let oid = oids.value(i);
                match self.printed {
                    Printed::Constraint => constraints
                        .iter()
                        .find(|k| i64::from(constraint_oid(k)) == oid)
                        .map(|k| k.definition(self.qualify.unwrap_or(false))),
                    _ => {
                        let key = constraints.iter().find(|k| {
                            k.kind == ConstraintKind::PrimaryKey
                                && i64::from(index_oid(k.table_index)) == oid
                        })?;
                        let n = column
                            .as_ref()
                            .map(|c| c.as_primitive::<Int64Type>())
                            .filter(|c| c.is_valid(i))
                            .map_or(0, |c| c.value(i));
                        match usize::try_from(n) {
                            Ok(0) | Err(_) => Some(key.index_definition()),
                            Ok(n) => key
                                .columns
                                .get(n - 1)
                                .map(|&c| key.table.columns[c].name.to_string())
                                .or(Some(String::new())),
                        }
                    }
                }
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// Registers `pg_get_constraintdef`, `pg_get_indexdef` and `pg_get_expr`
/// over the built-in tables' constraints (the library's print nothing).
pub fn register(ctx: &SessionContext, catalog: &Arc<Catalog>) {
    let any = |arities: &[usize]| {
        Signature::one_of(
            arities.iter().map(|&n| TypeSignature::Any(n)).collect(),
            Volatility::Stable,
        )
    };
    for (printed, arities) in [
        (Printed::Constraint, &[1, 2][..]),
        (Printed::Index, &[1, 3][..]),
        (Printed::Expression, &[2, 3][..]),
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(Definition {
            printed,
            signature: any(arities),
            catalog: catalog.clone(),
            qualify: None,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucketdb_oids_stay_apart() {
        let c = Catalog::new();
        let mut oids: Vec<i32> = c.constraints().iter().map(constraint_oid).collect();
        oids.extend((0..5).map(index_oid));
        for (t, table) in c.tables().enumerate() {
            oids.extend((1..=table.columns.len()).map(|n| attrdef_oid(t, n)));
        }
        let count = oids.len();
        oids.sort();
        oids.dedup();
        assert_eq!(oids.len(), count, "an OID is given twice");
        assert!(oids.iter().all(|&o| o > OID_BASE));
    }

    #[test]
    fn lists_hold_one_based_column_numbers() {
        let a = int2_lists(vec![Some(attnums(&[0, 2])), None]);
        let l = a.as_list::<i32>();
        assert!(l.is_null(1));
        let first = l.value(0);
        let v = first.as_primitive::<Int16Type>();
        assert_eq!(v.values().to_vec(), vec![1, 3]);
    }
}

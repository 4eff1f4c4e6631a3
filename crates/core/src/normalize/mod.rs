//! The relational normalizer, columnar.
//!
//! Records are flattened the way dlt's `relational` normalizer does it (nested objects become
//! `parent__child` columns, lists become child tables `parent__field` with `_dlt_parent_id`,
//! `_dlt_list_idx` and a deterministic `_dlt_id`), but values go straight into typed Arrow
//! builders per table: no per-row dictionaries. Column names are resolved once per distinct
//! key path through a path trie, so the hot loop does a hash lookup per key and an append.

pub mod parallel;
pub mod time;

pub mod buffer;
mod coerce;
pub mod jsondoc;
pub mod jval;

use std::collections::{HashMap, HashSet};

/// Hash map with a fast, non-cryptographic hasher (keys are our own column paths).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType as ArrowType, Field, Schema as ArrowSchema};
use base64::Engine as _;

use crate::error::{Error, ErrorKind, Result};
use crate::naming::NamingConvention;
use crate::schema::{
    C_DLT_ID, C_DLT_LIST_IDX, C_DLT_LOAD_ID, C_DLT_PARENT_ID, C_DLT_ROOT_ID, C_VALUE, Column, DataType, MergeStrategy, Schema, Table,
};
pub use buffer::{DATA_TYPE_META, TableBuffer, arrow_field, arrow_type};
use jval::recycle;
pub use jval::{JScratch, JVal, JsonError};

/// Where normalized batches go (a load package's file writers, a test collector...).
pub trait BatchSink {
    /// Receives a batch of rows of `table`. Batches of a table may differ in columns as the
    /// schema evolves (columns are only ever added).
    fn write_batch(&mut self, table: &str, batch: RecordBatch) -> Result<()>;
}

/// Collects batches in memory; for tests and small loads.
#[derive(Default, Debug)]
pub struct CollectSink {
    /// Batches by table, in arrival order.
    pub batches: Vec<(String, RecordBatch)>,
}

impl BatchSink for CollectSink {
    fn write_batch(&mut self, table: &str, batch: RecordBatch) -> Result<()> {
        self.batches.push((table.to_string(), batch));
        Ok(())
    }
}

impl CollectSink {
    /// Total rows of a table.
    pub fn rows(&self, table: &str) -> usize {
        self.batches.iter().filter(|(t, _)| t == table).map(|(_, b)| b.num_rows()).sum()
    }
}

/// Settings of the normalizer.
#[derive(Debug, Clone)]
pub struct NormalizerOptions {
    /// Rows buffered per table before a batch is handed to the sink.
    pub batch_rows: usize,
    /// Bytes buffered per table before a batch is handed to the sink.
    pub batch_bytes: usize,
    /// Overrides the schema's `max_nesting` (dlt default 1000).
    pub max_nesting: Option<u32>,
    /// Threads normalizing JSON lines in parallel (default: the available cores).
    pub workers: usize,
}

impl Default for NormalizerOptions {
    fn default() -> Self {
        NormalizerOptions {
            batch_rows: 16_384,
            batch_bytes: 16 << 20,
            max_nesting: None,
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }
}

const NO_COL: u32 = u32::MAX;
const ROOT_NODE: u32 = 0;
/// No trie node.
const NO_NODE: u32 = u32::MAX;

/// A node of the key-path trie: one distinct path of object keys inside a row.
struct PathNode {
    children: FastMap<Box<str>, u32>,
    /// Normalized fragments of the path (`["payload", "issue"]`).
    fragments: Vec<Arc<str>>,
    /// Column name of the path (`payload__issue`), shortened as a whole.
    column: Arc<str>,
    /// The list key normalized as a table identifier (last fragment for child tables).
    table_fragment: Arc<str>,
    /// The schema prefers `json` for this column name.
    preferred_json: bool,
    /// The column is `_dlt_id` (a row id supplied in the data).
    is_dlt_id: bool,
    /// The key as it appears in the input.
    key: Box<str>,
    /// The child whose key came first in the last object seen at this path.
    first_hint: u32,
    /// The sibling whose key followed this one in the last object seen.
    next_hint: u32,
    /// The parent node (`NO_NODE` for the root).
    parent: u32,
    /// Nodes whose column names are equal share a group (the first such node), so a record
    /// holding several of them keeps one value; `NO_NODE` while the name is unique.
    col_group: u32,
    /// Likewise for lists that would fill the same nested table.
    list_group: u32,
}

/// Whether two object keys are equal, without calling libc's `memcmp`: keys are short
/// (most under 16 bytes), where the call and its length dispatch cost more than the
/// compare (callgrind, 20k benchmark records: memcmp 30.5 M -> 19.7 M instructions, the
/// caller 5.9 M more). Up to 16 bytes it compares two overlapping words from each end.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n > 16 {
        return a == b;
    }
    if n >= 8 {
        let w = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
        return w(a, 0) == w(b, 0) && w(a, n - 8) == w(b, n - 8);
    }
    if n >= 4 {
        let w = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().expect("4 bytes"));
        return w(a, 0) == w(b, 0) && w(a, n - 4) == w(b, n - 4);
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// The parent of a nested row: its id, the row's position in the parent's list, and
/// whether the parent's id follows from the data (a key or row hash at the root, an id
/// given in the data, or dlt's nested hash of such a parent) rather than from chance.
#[derive(Clone, Copy)]
struct ParentRow<'p> {
    id: &'p str,
    idx: usize,
    deterministic: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowIdType {
    Random,
    KeyHash,
    RowHash,
}

struct TableState {
    name: String,
    /// Fragments of the table path (`["events", "payload", "commits"]`).
    path: Vec<Arc<str>>,
    buf: TableBuffer,
    /// buffer column by column name
    by_name: FastMap<Arc<str>, u32>,
    /// buffer column of a trie node (base column, not variants)
    col_of_node: Vec<u32>,
    /// columns that must not be null
    not_null: Vec<u32>,
    /// per trie node: 0 unknown, 1 object/list flattens, 2 stays JSON (static per table)
    nested_json: Vec<u8>,
    id_type: RowIdType,
    primary_key: Vec<String>,
    propagate_root: bool,
    max_nesting: u32,
    rows_total: u64,
    /// rows_total when the last chunk was committed (frozen mode rolls back to it)
    rows_committed: u64,
    null_only: HashSet<String>,
    /// buffer column per [`Sys`] (or `NO_COL`)
    sys_cols: [u32; 5],
    /// (kind, group or column, node) of the collisions already reported for this table
    noted: Vec<(Collision, u32, u32)>,
}

/// The system columns the normalizer writes on every row.
#[derive(Debug, Clone, Copy)]
enum Sys {
    LoadId = 0,
    Id = 1,
    ParentId = 2,
    ListIdx = 3,
    RootId = 4,
}

impl Sys {
    fn column(self) -> (&'static str, DataType) {
        match self {
            Sys::LoadId => (C_DLT_LOAD_ID, DataType::Text),
            Sys::Id => (C_DLT_ID, DataType::Text),
            Sys::ParentId => (C_DLT_PARENT_ID, DataType::Text),
            Sys::ListIdx => (C_DLT_LIST_IDX, DataType::Bigint),
            Sys::RootId => (C_DLT_ROOT_ID, DataType::Text),
        }
    }
}

/// Rows and columns produced per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Rows written.
    pub rows: u64,
}

/// Something the normalizer did to the data that the user should know about. Each is
/// reported once per table and column (or nested table) and run: logged with `tracing::warn!`
/// when first seen and kept in [`Normalizer::warnings`]. `Display` gives the message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NormalizeWarning {
    /// Different keys of a record normalize to the same column (`"A b"`, `"a_b"` and `"aB"`
    /// all become `a_b`). As in dlt, the value found last is kept (keys of an object in
    /// order, the keys of nested objects after those of their parent) and the others are
    /// dropped; the column stays where the first of them put it.
    KeyCollision {
        /// The table.
        table: String,
        /// The column the keys normalize to.
        column: String,
        /// The keys as they appear in the input (a nested key as its path from the row,
        /// joined by `.`), in the order they were first seen colliding.
        keys: Vec<String>,
    },
    /// Lists under different keys of a record would fill the same nested table: as in dlt,
    /// the list found last is kept and the others are dropped.
    ListCollision {
        /// The table of the record.
        table: String,
        /// The nested table the lists would fill.
        nested_table: String,
        /// The keys of the lists (paths joined by `.`).
        keys: Vec<String>,
    },
    /// A column got a second value in one record for another reason: a key repeated within
    /// one JSON object, or a key named like the variant column another key's value went to
    /// (`x__v_text` next to an `x` that did not fit `x`'s type). The first value is kept.
    RepeatedValue {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The key whose value was dropped (its path joined by `.`).
        key: String,
    },
}

impl std::fmt::Display for NormalizeWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |keys: &[String]| keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        match self {
            NormalizeWarning::KeyCollision { table, column, keys } => write!(
                f,
                "keys {} of table `{table}` all normalize to column `{column}`: where a record has several of them, \
                 the last value is kept and the others are dropped (as dlt does)",
                list(keys)
            ),
            NormalizeWarning::ListCollision { table, nested_table, keys } => write!(
                f,
                "lists {} of table `{table}` all normalize to nested table `{nested_table}`: where a record has several \
                 of them, the last list is kept and the others are dropped (as dlt does)",
                list(keys)
            ),
            NormalizeWarning::RepeatedValue { table, column, key } => write!(
                f,
                "column `{column}` of table `{table}` got a second value in one record from key `{key}` (a key repeated \
                 in an object, or named like a variant column): the first value is kept, the later one dropped"
            ),
        }
    }
}

/// What [`NormalizeWarning`] a noted collision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collision {
    Column,
    List,
    Repeated,
}

/// Normalizes records of one load package into per-table Arrow batches.
pub struct Normalizer<'a> {
    schema: Schema,
    naming: Arc<dyn NamingConvention>,
    load_id: String,
    opts: NormalizerOptions,
    sink: &'a mut dyn BatchSink,
    nodes: Vec<PathNode>,
    tables: Vec<TableState>,
    table_index: FastMap<String, usize>,
    child_of: FastMap<(usize, u32), usize>,
    scratch: String,
    /// Emptied per-row vectors, one set per nesting level, reused by [`Normalizer::normalize_row`].
    spare_rows: Vec<RowVecs<'static>>,
    /// Where the current record comes from (`file:line`), for errors.
    origin: Option<(String, u64)>,
    /// Frozen: the schema must not change; a change stops with [`Normalizer::needs_schema_change`].
    frozen: bool,
    schema_change: bool,
    /// Bumped by every schema change.
    generation: u64,
    /// Rows committed by tables dropped by [`Normalizer::update_schema`].
    retired_rows: HashMap<String, u64>,
    /// The first node of each column name, to find keys that normalize to the same column.
    column_nodes: FastMap<Arc<str>, u32>,
    /// The first node of each list path (normalized parent fragments and table fragment).
    list_nodes: FastMap<Vec<Arc<str>>, u32>,
    /// Some nodes share a column or a nested table, so rows are checked for collisions.
    collisions: bool,
    /// What was done to the data that the user should know, one entry per table and column.
    warnings: Vec<NormalizeWarning>,
}

/// A field of a flattened row: trie node and value.
type RowField<'v> = (u32, &'v JVal<'v>);
/// A nested list of a row: trie node and elements.
type RowList<'v> = (u32, &'v [JVal<'v>]);
/// An object still to flatten: its entries, trie node and remaining nesting levels.
type RowObject<'v> = (&'v [(&'v str, JVal<'v>)], u32, i64);

/// The vectors [`Normalizer::normalize_row`] needs, kept empty between rows so a row costs no
/// allocation (stored as `RowVecs<'static>`, re-attached to a row's lifetime by
/// [`RowVecs::recycle`]).
#[derive(Default)]
struct RowVecs<'v> {
    fields: Vec<RowField<'v>>,
    lists: Vec<RowList<'v>>,
    stack: Vec<RowObject<'v>>,
}

impl RowVecs<'_> {
    /// The same (emptied) allocations, for another lifetime.
    fn recycle<'w>(self) -> RowVecs<'w> {
        RowVecs { fields: recycle(self.fields), lists: recycle(self.lists), stack: recycle(self.stack) }
    }
}

impl<'a> Normalizer<'a> {
    /// A normalizer that evolves `schema` and sends batches to `sink`.
    pub fn new(
        schema: Schema,
        naming: Arc<dyn NamingConvention>,
        load_id: &str,
        opts: NormalizerOptions,
        sink: &'a mut dyn BatchSink,
    ) -> Self {
        let root = PathNode {
            children: FastMap::default(),
            fragments: Vec::new(),
            column: Arc::from(""),
            table_fragment: Arc::from(""),
            preferred_json: false,
            is_dlt_id: false,
            key: "".into(),
            first_hint: NO_NODE,
            next_hint: NO_NODE,
            parent: NO_NODE,
            col_group: NO_NODE,
            list_group: NO_NODE,
        };
        Normalizer {
            schema,
            naming,
            load_id: load_id.to_string(),
            opts,
            sink,
            nodes: vec![root],
            tables: Vec::new(),
            table_index: FastMap::default(),
            child_of: FastMap::default(),
            scratch: String::new(),
            spare_rows: Vec::new(),
            origin: None,
            frozen: false,
            schema_change: false,
            generation: 0,
            retired_rows: HashMap::new(),
            column_nodes: FastMap::default(),
            list_nodes: FastMap::default(),
            collisions: false,
            warnings: Vec::new(),
        }
    }

    /// A counter bumped by every schema change this normalizer made.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A normalizer that never changes the schema: a record that would add a table, a column
    /// or a variant fails, and [`Normalizer::needs_schema_change`] tells why. Used by the
    /// parallel workers, whose chunks are redone in order by an unfrozen normalizer when they
    /// need a change, so results equal a sequential run.
    pub fn frozen(
        schema: Schema,
        naming: Arc<dyn NamingConvention>,
        load_id: &str,
        opts: NormalizerOptions,
        sink: &'a mut dyn BatchSink,
    ) -> Self {
        let mut n = Self::new(schema, naming, load_id, opts, sink);
        n.frozen = true;
        n
    }

    /// Whether the last error was a frozen normalizer refusing a schema change.
    pub fn needs_schema_change(&self) -> bool {
        self.schema_change
    }

    fn refuse_change(&mut self, what: String) -> Error {
        self.schema_change = true;
        Error::new(ErrorKind::Schema, format!("schema change needed: {what}"))
    }

    /// Replaces the schema (between chunks; buffers must be empty). Table handles from
    /// [`Normalizer::root_table`] are invalidated.
    pub fn update_schema(&mut self, schema: Schema) {
        for st in &self.tables {
            *self.retired_rows.entry(st.name.clone()).or_default() += st.rows_committed;
        }
        self.schema = schema;
        self.tables.clear();
        self.table_index.clear();
        self.child_of.clear();
        self.schema_change = false;
    }

    /// Drops the rows buffered since the last [`Normalizer::commit_chunk`].
    pub fn discard_chunk(&mut self) -> Result<()> {
        for st in &mut self.tables {
            let cols: Vec<Column> = st.buf.slots().iter().map(|s| s.column.clone()).collect();
            let mut fresh = TableBuffer::new(self.opts.batch_rows.min(4096));
            for c in &cols {
                fresh.add_column(c)?;
            }
            st.buf = fresh;
            st.rows_total = st.rows_committed;
        }
        self.schema_change = false;
        Ok(())
    }

    /// Hands every buffered row to the sink and makes them part of the result.
    pub fn commit_chunk(&mut self) -> Result<()> {
        for t in 0..self.tables.len() {
            self.flush_table(t)?;
            self.tables[t].rows_committed = self.tables[t].rows_total;
        }
        Ok(())
    }

    /// Rows per table so far.
    pub fn stats(&self) -> HashMap<String, TableStats> {
        let mut out: HashMap<String, TableStats> = self.retired_rows.iter().map(|(k, v)| (k.clone(), TableStats { rows: *v })).collect();
        for st in &self.tables {
            out.entry(st.name.clone()).or_default().rows += st.rows_total;
        }
        out
    }

    /// Marks tables as having seen data (what frozen workers could not do themselves).
    pub fn mark_seen(&mut self, tables: impl IntoIterator<Item = String>) {
        for t in tables {
            if let Some(tb) = self.schema.tables.get_mut(&t)
                && !tb.seen_data()
            {
                tb.mark_seen_data();
            }
        }
    }

    /// The schema as evolved so far.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Sets where the next records come from, named in errors (`events.jsonl`, line 12).
    pub fn set_origin(&mut self, file: &str, line: u64) {
        match &mut self.origin {
            Some((f, l)) if f == file => *l = line,
            _ => self.origin = Some((file.to_string(), line)),
        }
    }

    fn located(&self, e: Error) -> Error {
        match &self.origin {
            Some((f, l)) => e.with("file", f.clone()).with("line", l.to_string()),
            None => e,
        }
    }

    /// Normalizes a table name the way dlt does for a resource's table.
    pub fn normalize_table_name(&self, name: &str) -> String {
        self.naming.normalize_tables_path(name)
    }

    /// Registers the root table of a resource (its hints must already be in the schema under
    /// the normalized name) and returns a handle for [`Normalizer::push`].
    pub fn root_table(&mut self, table: &str) -> Result<usize> {
        let table = &self.naming.normalize_tables_path(table);
        if let Some(&i) = self.table_index.get(table) {
            return Ok(i);
        }
        if !self.schema.tables.contains_key(table) {
            if self.frozen {
                return Err(self.refuse_change(format!("new table `{table}`")));
            }
            self.schema.update_table(Table::new(table))?;
            self.generation += 1;
        }
        let t = &self.schema.tables[table];
        if t.write_disposition.is_none() {
            let t = self.schema.tables.get_mut(table).expect("present");
            t.write_disposition = Some(Default::default());
            t.resource.get_or_insert_with(|| table.to_string());
        }
        self.init_table(table, vec![Arc::from(table.as_str())], true)
    }

    fn init_table(&mut self, name: &str, path: Vec<Arc<str>>, is_root: bool) -> Result<usize> {
        let root_name = if is_root { name.to_string() } else { self.schema.root_table(name).map(|t| t.name.clone()).unwrap_or_default() };
        let strategy = self.schema.merge_strategy(&root_name);
        let wd = self.schema.write_disposition(&root_name);
        let merge = wd == crate::schema::WriteDisposition::Merge;
        let root_t = self.schema.tables.get(&root_name);
        let primary_key: Vec<String> =
            root_t.map(|t| t.columns_with_hint("primary_key").iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
        let strategy = if merge { Some(strategy.unwrap_or(MergeStrategy::DeleteInsert)) } else { None };
        let id_type = match strategy {
            Some(MergeStrategy::Upsert) | Some(MergeStrategy::InsertOnly) if is_root => RowIdType::KeyHash,
            Some(MergeStrategy::Scd2) if is_root => {
                let rv = root_t.and_then(|t| t.columns.values().find(|c| c.extra.contains_key("x-row-version")));
                if rv.is_none_or(|c| c.name == C_DLT_ID) { RowIdType::RowHash } else { RowIdType::Random }
            }
            _ => RowIdType::Random,
        };
        if id_type == RowIdType::KeyHash && primary_key.is_empty() {
            return Err(Error::new(
                ErrorKind::Schema,
                format!("merge strategy `{}` needs a primary key", strategy.map(|s| s.as_str()).unwrap_or("")),
            )
            .with("table", root_name.clone())
            .with_hint("declare primary_key on the resource (CLI: --primary-key COL)"));
        }
        let root_key_cfg = self.schema.normalizer_config.get("root_key_propagation").and_then(serde_json::Value::as_bool);
        let propagate_root = match root_key_cfg {
            Some(v) => v,
            None => matches!(strategy, Some(MergeStrategy::DeleteInsert) | Some(MergeStrategy::Upsert) | Some(MergeStrategy::InsertOnly)),
        } || self.schema.nested_tables(&root_name).iter().any(|t| t.columns.values().any(|c| c.hints.root_key));
        if propagate_root && is_root {
            let prop = self.schema.normalizer_config.entry("propagation".to_string()).or_insert_with(|| serde_json::json!({}));
            if let Some(obj) = prop.as_object_mut() {
                let tables = obj.entry("tables").or_insert_with(|| serde_json::json!({}));
                if let Some(tobj) = tables.as_object_mut() {
                    tobj.insert(root_name.clone(), serde_json::json!({C_DLT_ID: C_DLT_ROOT_ID}));
                }
            }
        }
        let max_nesting = self
            .schema
            .tables
            .get(&root_name)
            .and_then(|t| t.extra.get("x-normalizer"))
            .and_then(|x| x.get("max_nesting"))
            .and_then(serde_json::Value::as_u64)
            .map(|v| v as u32)
            .or(self.opts.max_nesting)
            .or_else(|| self.schema.normalizer_config.get("max_nesting").and_then(serde_json::Value::as_u64).map(|v| v as u32))
            .unwrap_or(1000);
        let mut st = TableState {
            name: name.to_string(),
            path,
            buf: TableBuffer::new(self.opts.batch_rows.min(4096)),
            by_name: FastMap::default(),
            sys_cols: [NO_COL; 5],
            col_of_node: Vec::new(),
            not_null: Vec::new(),
            nested_json: Vec::new(),
            id_type,
            primary_key,
            propagate_root,
            max_nesting,
            rows_total: 0,
            rows_committed: 0,
            null_only: HashSet::new(),
            noted: Vec::new(),
        };
        if let Some(t) = self.schema.tables.get(name) {
            for c in t.columns.values().filter(|c| c.is_complete()) {
                let idx = st.buf.add_column(c)? as u32;
                st.by_name.insert(Arc::from(c.name.as_str()), idx);
                if !c.nullable {
                    st.not_null.push(idx);
                }
            }
        }
        self.tables.push(st);
        let i = self.tables.len() - 1;
        self.table_index.insert(name.to_string(), i);
        Ok(i)
    }

    /// [`Self::child_node`] for the key after sibling `prev` (`NO_NODE` for the first key):
    /// records mostly repeat their key order, so the sibling that followed `prev` last time is
    /// checked first, with one string compare instead of a hash lookup.
    #[inline]
    fn child_node_after(&mut self, parent: u32, prev: u32, key: &str) -> u32 {
        let hint = if prev == NO_NODE { self.nodes[parent as usize].first_hint } else { self.nodes[prev as usize].next_hint };
        if hint != NO_NODE && same_key(self.nodes[hint as usize].key.as_bytes(), key.as_bytes()) {
            return hint;
        }
        let c = self.child_node(parent, key);
        if prev == NO_NODE {
            self.nodes[parent as usize].first_hint = c;
        } else {
            self.nodes[prev as usize].next_hint = c;
        }
        c
    }

    fn child_node(&mut self, parent: u32, key: &str) -> u32 {
        if let Some(&n) = self.nodes[parent as usize].children.get(key) {
            return n;
        }
        let norm: Arc<str> = if key.is_empty() || crate::naming::is_blank(key) {
            Arc::from(crate::naming::EMPTY_IDENTIFIER)
        } else {
            Arc::from(self.naming.normalize_path(key))
        };
        let table_fragment: Arc<str> =
            if key.is_empty() || crate::naming::is_blank(key) { norm.clone() } else { Arc::from(self.naming.normalize_tables_path(key)) };
        let p = &self.nodes[parent as usize];
        let mut fragments = p.fragments.clone();
        fragments.push(norm.clone());
        let column: Arc<str> = if fragments.len() == 1 {
            norm.clone()
        } else {
            let fr: Vec<&str> = fragments.iter().map(|s| s.as_ref()).collect();
            Arc::from(self.naming.shorten_fragments(&fr))
        };
        let preferred_json = self.schema.preferred_type(&column) == Some(DataType::Json);
        let is_dlt_id = &*column == C_DLT_ID;
        let id = self.nodes.len() as u32;
        // keys that normalize to a name another path already has (dlt: keys of one dict)
        let col_group = match self.column_nodes.get(&column) {
            Some(&first) => first,
            None => {
                self.column_nodes.insert(column.clone(), id);
                NO_NODE
            }
        };
        let mut list_path: Vec<Arc<str>> = fragments[..fragments.len() - 1].to_vec();
        list_path.push(table_fragment.clone());
        let list_group = match self.list_nodes.get(&list_path) {
            Some(&first) => first,
            None => {
                self.list_nodes.insert(list_path, id);
                NO_NODE
            }
        };
        self.nodes.push(PathNode {
            children: FastMap::default(),
            fragments,
            column,
            table_fragment,
            preferred_json,
            is_dlt_id,
            key: key.into(),
            first_hint: NO_NODE,
            next_hint: NO_NODE,
            parent,
            col_group,
            list_group,
        });
        if col_group != NO_NODE {
            self.nodes[col_group as usize].col_group = col_group;
            self.collisions = true;
        }
        if list_group != NO_NODE {
            self.nodes[list_group as usize].list_group = list_group;
            self.collisions = true;
        }
        self.nodes[parent as usize].children.insert(key.into(), id);
        id
    }

    /// A key as it appears in the input: its path of keys from the row, joined by `.`.
    fn key_path(&self, node: u32) -> String {
        let mut keys = Vec::new();
        let mut n = node;
        while n != ROOT_NODE && n != NO_NODE {
            keys.push(&*self.nodes[n as usize].key);
            n = self.nodes[n as usize].parent;
        }
        keys.reverse();
        keys.join(".")
    }

    /// Keeps one value per column and one list per nested table where different keys of a
    /// row normalize to the same name. dlt flattens a row into a dict in the same order as
    /// `fields` and `lists` were collected (the keys of an object in order, nested objects
    /// after their parent's keys, last in first out), so its last assignment wins, at the
    /// place where the name first appeared: so here. Runs only once some names collide.
    /// A key repeated within one object (the same node twice) is left alone: the column
    /// keeps its first value ([`Normalizer::write_field`]).
    #[cold]
    #[inline(never)]
    fn merge_collisions(&mut self, t: usize, fields: &mut Vec<RowField<'_>>, lists: &mut Vec<RowList<'_>>) {
        let nodes = &self.nodes;
        let mut noted = Vec::new();
        keep_last_per_group(fields, |n| nodes[n as usize].col_group, |g, kept, n| noted.push((Collision::Column, g, kept, n)));
        keep_last_per_group(lists, |n| nodes[n as usize].list_group, |g, kept, n| noted.push((Collision::List, g, kept, n)));
        for (kind, g, kept, n) in noted {
            self.note_collision(t, kind, g, kept, n);
        }
    }

    fn note_collision(&mut self, t: usize, kind: Collision, key: u32, a: u32, b: u32) {
        let st = &mut self.tables[t];
        let new_a = !st.noted.contains(&(kind, key, a));
        let new_b = a != b && !st.noted.contains(&(kind, key, b));
        if !new_a && !new_b {
            return; // the common case where every record collides: known already
        }
        for (n, new) in [(a, new_a), (b, new_b)] {
            if new {
                st.noted.push((kind, key, n));
            }
        }
        let table = st.name.clone();
        let keys: Vec<String> = [a, b].iter().map(|n| self.key_path(*n)).collect();
        let w = match kind {
            Collision::Column => NormalizeWarning::KeyCollision { table, column: self.nodes[a as usize].column.to_string(), keys },
            Collision::List => NormalizeWarning::ListCollision { nested_table: self.child_table_name(t, a), table, keys },
            Collision::Repeated => {
                let column = self.tables[t].buf.slots()[key as usize].column.name.clone();
                NormalizeWarning::RepeatedValue { table, column, key: keys[1].clone() }
            }
        };
        self.add_warning(w);
    }

    /// Adds a warning, or the new keys of one already given for its table and column; a new
    /// one is logged unless this is a frozen worker (the coordinator logs what it merges).
    fn add_warning(&mut self, w: NormalizeWarning) {
        use NormalizeWarning as W;
        for have in &mut self.warnings {
            match (have, &w) {
                (W::KeyCollision { table, column, keys }, W::KeyCollision { table: t2, column: c2, keys: k2 })
                | (W::ListCollision { table, nested_table: column, keys }, W::ListCollision { table: t2, nested_table: c2, keys: k2 })
                    if table == t2 && column == c2 =>
                {
                    for k in k2 {
                        if !keys.contains(k) {
                            keys.push(k.clone());
                        }
                    }
                    return;
                }
                (W::RepeatedValue { table, column, .. }, W::RepeatedValue { table: t2, column: c2, .. }) if table == t2 && column == c2 => {
                    return;
                }
                _ => {}
            }
        }
        if !self.frozen {
            tracing::warn!("{w}");
        }
        self.warnings.push(w);
    }

    /// Warnings about the data so far (see [`NormalizeWarning`]), one per table and column,
    /// the parallel workers' included once [`crate::parallel::normalize_parallel`] returned.
    pub fn warnings(&self) -> &[NormalizeWarning] {
        &self.warnings
    }

    /// Takes the warnings (see [`Normalizer::warnings`]), e.g. before [`Normalizer::finish`].
    pub fn take_warnings(&mut self) -> Vec<NormalizeWarning> {
        std::mem::take(&mut self.warnings)
    }

    /// Adds another normalizer's warnings (a parallel worker's), skipping those already
    /// given for the same table and column; new ones are logged.
    pub fn merge_warnings(&mut self, warnings: impl IntoIterator<Item = NormalizeWarning>) {
        for w in warnings {
            self.add_warning(w);
        }
    }

    #[inline]
    fn node_col(&self, t: usize, node: u32) -> u32 {
        let st = &self.tables[t];
        st.col_of_node.get(node as usize).copied().unwrap_or(NO_COL)
    }

    fn is_nested_type(&mut self, t: usize, node: u32, r_lvl: i64) -> bool {
        if r_lvl <= 0 {
            return true;
        }
        match self.tables[t].nested_json.get(node as usize) {
            Some(1) => return false,
            Some(2) => return true,
            _ => {}
        }
        let r = self.is_nested_type_slow(t, node);
        let st = &mut self.tables[t];
        if st.nested_json.len() <= node as usize {
            st.nested_json.resize(node as usize + 1, 0);
        }
        st.nested_json[node as usize] = if r { 2 } else { 1 };
        r
    }

    fn is_nested_type_slow(&mut self, t: usize, node: u32) -> bool {
        let c = self.node_col(t, node);
        if c != NO_COL {
            return self.tables[t].buf.slots()[c as usize].column.data_type == Some(DataType::Json);
        }
        let name = self.nodes[node as usize].column.clone();
        if let Some(col) = self.schema.tables.get(&self.tables[t].name).and_then(|tb| tb.columns.get(name.as_ref()))
            && let Some(dt) = col.data_type
        {
            return dt == DataType::Json;
        }
        self.nodes[node as usize].preferred_json
    }

    /// Normalizes one record into the root table `t` (from [`Normalizer::root_table`]).
    /// Non-object records are wrapped as `{"value": record}`.
    pub fn push(&mut self, t: usize, record: &JVal<'_>) -> Result<()> {
        let wrapped;
        let items: &[(&str, JVal<'_>)] = match record {
            JVal::Obj(m) => m,
            other => {
                wrapped = [(C_VALUE, *other)];
                &wrapped
            }
        };
        let r_lvl = self.tables[t].max_nesting as i64;
        self.normalize_row(t, items, record, None, None, r_lvl).map_err(|e| self.located(e))
    }

    /// Normalizes a data item as dlt takes what a resource yields: a list is a batch of
    /// records, each normalized on its own (`[]` gives none; an element that is not an object
    /// becomes `{"value": element}`, a nested list included), anything else is one record.
    /// Returns the records. An error in a batch names the element (`element`, 1-based).
    #[inline]
    pub fn push_item(&mut self, t: usize, item: &JVal<'_>) -> Result<u64> {
        match item {
            JVal::Arr(records) => {
                for (i, r) in records.iter().enumerate() {
                    self.push(t, r).map_err(|e| e.with("element", (i + 1).to_string()))?;
                }
                Ok(records.len() as u64)
            }
            record => self.push(t, record).map(|()| 1),
        }
    }

    fn normalize_row<'v>(
        &mut self,
        t: usize,
        items: &'v [(&'v str, JVal<'v>)],
        original: &'v JVal<'v>,
        parent: Option<ParentRow<'_>>,
        root_id: Option<&str>,
        r_lvl: i64,
    ) -> Result<()> {
        let RowVecs { mut fields, mut lists, mut stack } = self.spare_rows.pop().unwrap_or_default().recycle();
        stack.push((items, ROOT_NODE, r_lvl));
        while let Some((cur, node, lvl)) = stack.pop() {
            let mut prev = NO_NODE;
            for (k, v) in cur {
                let child = self.child_node_after(node, prev, k);
                prev = child;
                match v {
                    JVal::Obj(m) if !self.is_nested_type(t, child, lvl) => stack.push((*m, child, lvl - 1)),
                    JVal::Arr(a) if !self.is_nested_type(t, child, lvl) => lists.push((child, *a)),
                    _ => fields.push((child, v)),
                }
            }
        }
        if self.collisions {
            self.merge_collisions(t, &mut fields, &mut lists);
        }

        // row id
        let user_id = fields.iter().find(|(n, v)| self.nodes[*n as usize].is_dlt_id && !v.is_null());
        // Whether this row's id follows from the data (see `ParentRow::deterministic`).
        let deterministic = user_id.is_some()
            || match parent {
                Some(p) => p.deterministic,
                None => self.tables[t].id_type != RowIdType::Random,
            };
        let row_id: RowId = if let Some((_, v)) = user_id {
            RowId::Given(match v {
                JVal::Str(s) => s.to_string(),
                other => other.to_json(),
            })
        } else if let Some(p) = parent {
            self.child_id(p, t)
        } else {
            match self.tables[t].id_type {
                RowIdType::Random => RowId::random(),
                RowIdType::KeyHash => self.key_hash(t, &fields)?,
                RowIdType::RowHash => {
                    self.scratch.clear();
                    if let JVal::Obj(m) = original {
                        let filtered: Vec<(&str, JVal)> =
                            m.iter().filter(|(k, _)| !k.starts_with(crate::schema::DLT_PREFIX)).copied().collect();
                        JVal::Obj(&filtered).write_json(&mut self.scratch, true);
                    } else {
                        original.write_json(&mut self.scratch, true);
                    }
                    RowId::hashed(self.scratch.as_bytes())
                }
            }
        };
        let row_id = row_id.as_str();

        for (node, v) in &fields {
            self.write_field(t, *node, v)?;
        }
        if let Some(rid) = root_id {
            self.write_system_str(t, Sys::RootId, rid)?;
        }
        if parent.is_none() {
            let lid = std::mem::take(&mut self.load_id);
            let r = self.write_system_str(t, Sys::LoadId, &lid);
            self.load_id = lid;
            r?;
        }
        if let Some(p) = parent {
            self.write_system_str(t, Sys::ParentId, p.id)?;
            self.write_system_i64(t, Sys::ListIdx, p.idx as i64)?;
        }
        if user_id.is_none() {
            self.write_system_str(t, Sys::Id, row_id)?;
        }
        self.end_row(t)?;

        let child_root: Option<&str> =
            if self.tables[t].propagate_root || root_id.is_some() { Some(root_id.unwrap_or(row_id)) } else { None };
        for &(node, seq) in &lists {
            if seq.is_empty() {
                continue; // an empty list makes no rows and no table
            }
            let ct = self.child_table(t, node)?;
            for (idx, el) in seq.iter().enumerate() {
                let me = ParentRow { id: row_id, idx, deterministic };
                match el {
                    JVal::Obj(m) => {
                        self.normalize_row(ct, m, el, Some(me), child_root, r_lvl - 1)?;
                    }
                    JVal::Arr(_) => {
                        let wrapped = [("list", *el)];
                        let w = JVal::Null;
                        self.normalize_row(ct, &wrapped, &w, Some(me), child_root, r_lvl - 2)?;
                    }
                    scalar => {
                        let value_node = self.child_node(ROOT_NODE, C_VALUE);
                        let id = self.child_id(me, ct);
                        self.write_field(ct, value_node, scalar)?;
                        if let Some(rid) = child_root {
                            self.write_system_str(ct, Sys::RootId, rid)?;
                        }
                        self.write_system_str(ct, Sys::ParentId, row_id)?;
                        self.write_system_i64(ct, Sys::ListIdx, idx as i64)?;
                        self.write_system_str(ct, Sys::Id, id.as_str())?;
                        self.end_row(ct)?;
                    }
                }
            }
        }
        self.spare_rows.push(RowVecs { fields, lists, stack }.recycle());
        Ok(())
    }

    /// The id of a nested row of table `t` under `parent`.
    ///
    /// Under a parent whose id follows from the data this is dlt's nested row id,
    /// `digest128(f"{parent_id}_{table}_{idx}", 10)`, byte for byte: upsert and scd2 find
    /// nested rows again by it, also in tables dlt loaded. Under a random parent id the
    /// hash of it would be just as random, so the row gets a fresh random id of the same
    /// shape instead (one SHAKE-128 permutation per nested row was ~11% of the CPU of a
    /// load to parquet in a `perf` profile of the benchmark).
    fn child_id(&mut self, parent: ParentRow<'_>, t: usize) -> RowId {
        if !parent.deterministic {
            return RowId::random();
        }
        self.scratch.clear();
        self.scratch.push_str(parent.id);
        self.scratch.push('_');
        self.scratch.push_str(&self.tables[t].name);
        self.scratch.push('_');
        push_decimal(&mut self.scratch, parent.idx);
        RowId::hashed(self.scratch.as_bytes())
    }

    fn key_hash(&mut self, t: usize, fields: &[RowField<'_>]) -> Result<RowId> {
        let pk = self.tables[t].primary_key.clone();
        let mut parts: Vec<(&str, &JVal)> = Vec::with_capacity(pk.len());
        for k in &pk {
            let v = fields.iter().find(|(n, _)| &*self.nodes[*n as usize].column == k.as_str()).map(|(_, v)| *v);
            match v {
                Some(v) => parts.push((k.as_str(), v)),
                None => {
                    return Err(Error::invalid_data(format!("primary key column `{k}` is missing in a record"))
                        .with("table", self.tables[t].name.clone())
                        .with("column", k.clone())
                        .with_hint("every record of a merge table with a primary key must carry the key"));
                }
            }
        }
        parts.sort_by(|a, b| a.0.cmp(b.0));
        self.scratch.clear();
        self.scratch.push('{');
        for (i, (k, v)) in parts.iter().enumerate() {
            if i > 0 {
                self.scratch.push(',');
            }
            jval::write_json_str(&mut self.scratch, k);
            self.scratch.push(':');
            v.write_json(&mut self.scratch, true);
        }
        self.scratch.push('}');
        Ok(RowId::hashed(self.scratch.as_bytes()))
    }

    /// The path of the nested table that the list at `node` of a row of `t` fills.
    fn child_table_path(&self, t: usize, node: u32) -> Vec<Arc<str>> {
        let mut path = self.tables[t].path.clone();
        let n = &self.nodes[node as usize];
        path.extend(n.fragments[..n.fragments.len() - 1].iter().cloned());
        path.push(n.table_fragment.clone());
        path
    }

    /// The name of the nested table that the list at `node` of a row of `t` fills.
    fn child_table_name(&self, t: usize, node: u32) -> String {
        let path = self.child_table_path(t, node);
        let fr: Vec<&str> = path.iter().map(|s| s.as_ref()).collect();
        self.naming.shorten_fragments(&fr)
    }

    fn child_table(&mut self, t: usize, node: u32) -> Result<usize> {
        if let Some(&c) = self.child_of.get(&(t, node)) {
            return Ok(c);
        }
        let path = self.child_table_path(t, node);
        let fr: Vec<&str> = path.iter().map(|s| s.as_ref()).collect();
        let name = self.naming.shorten_fragments(&fr);
        let parent_name = self.tables[t].name.clone();
        let ct = match self.table_index.get(&name) {
            Some(&i) => i,
            None => {
                if !self.schema.tables.contains_key(&name) {
                    if self.frozen {
                        return Err(self.refuse_change(format!("new table `{name}`")));
                    }
                    self.schema.update_table(Table::nested(&name, &parent_name))?;
                    self.generation += 1;
                }
                self.init_table(&name, path, false)?
            }
        };
        self.child_of.insert((t, node), ct);
        Ok(ct)
    }

    fn write_system_str(&mut self, t: usize, sys: Sys, v: &str) -> Result<()> {
        let idx = self.sys_col(t, sys)?;
        if let Some(buffer::ColBuf::Str(b)) = self.tables[t].buf.cell(idx) {
            b.append_value(v);
        }
        Ok(())
    }

    fn write_system_i64(&mut self, t: usize, sys: Sys, v: i64) -> Result<()> {
        let idx = self.sys_col(t, sys)?;
        if let Some(buffer::ColBuf::I64(b)) = self.tables[t].buf.cell(idx) {
            b.append_value(v);
        }
        Ok(())
    }

    /// The buffer column of a system column, remembered per table (this runs several times
    /// per row). A table's buffer never drops or reorders columns, so the index stays valid.
    #[inline]
    fn sys_col(&mut self, t: usize, sys: Sys) -> Result<usize> {
        let cached = self.tables[t].sys_cols[sys as usize];
        if cached != NO_COL {
            return Ok(cached as usize);
        }
        let (name, dt) = sys.column();
        let idx = self.system_col(t, name, dt)?;
        self.tables[t].sys_cols[sys as usize] = idx as u32;
        Ok(idx)
    }

    fn system_col(&mut self, t: usize, name: &str, dt: DataType) -> Result<usize> {
        if let Some(&i) = self.tables[t].by_name.get(name) {
            return Ok(i as usize);
        }
        let mut col = Column::new(name, dt);
        self.schema.apply_default_hints(&mut col);
        self.add_column(t, col)
    }

    fn add_column(&mut self, t: usize, mut col: Column) -> Result<usize> {
        let tname = self.tables[t].name.clone();
        if self.frozen {
            return Err(self.refuse_change(format!("new column `{}` in `{tname}`", col.name)));
        }
        self.generation += 1;
        let table = self.schema.tables.get_mut(&tname).expect("table registered");
        if let Some(existing) = table.columns.get(&col.name) {
            // user hints declared before data win
            let mut merged = existing.clone();
            let inferred_type = col.data_type;
            merged.merge_from(&Column { data_type: None, ..col.clone() });
            if merged.data_type.is_none() {
                merged.data_type = inferred_type;
            }
            if existing.nullable && !col.nullable {
                merged.nullable = false;
            }
            col = merged;
        }
        table.add_column(col.clone());
        let col = table.columns[&col.name].clone();
        let st = &mut self.tables[t];
        let idx = st.buf.add_column(&col)?;
        st.by_name.insert(Arc::from(col.name.as_str()), idx as u32);
        if !col.nullable {
            st.not_null.push(idx as u32);
        }
        Ok(idx)
    }

    fn write_field(&mut self, t: usize, node: u32, v: &JVal<'_>) -> Result<()> {
        let mut col = self.node_col(t, node);
        if col == NO_COL {
            let name = self.nodes[node as usize].column.clone();
            if let Some(&i) = self.tables[t].by_name.get(&name) {
                col = i;
                let st = &mut self.tables[t];
                if st.col_of_node.len() <= node as usize {
                    st.col_of_node.resize(node as usize + 1, NO_COL);
                }
                st.col_of_node[node as usize] = i;
            }
        }
        if v.is_null() {
            return self.write_null(t, node, col);
        }
        if col != NO_COL {
            let dt = self.tables[t].buf.slots()[col as usize].column.data_type.unwrap_or(DataType::Text);
            match self.tables[t].buf.cell(col as usize) {
                None => {
                    // a key repeated in one object, or named like a variant column: the
                    // first value stays (different keys of one name are merged before)
                    self.note_collision(t, Collision::Repeated, col, node, node);
                    return Ok(());
                }
                Some(cell) => {
                    if coerce::append(cell, dt, v) {
                        return Ok(());
                    }
                }
            }
            return self.write_variant(t, node, v);
        }
        // a new column
        let name = self.nodes[node as usize].column.clone();
        let inferred = self.infer_type(&name, v);
        let mut c = Column::new(name.as_ref(), inferred);
        self.schema.apply_default_hints(&mut c);
        let idx = self.add_column(t, c)?;
        let st = &mut self.tables[t];
        if st.col_of_node.len() <= node as usize {
            st.col_of_node.resize(node as usize + 1, NO_COL);
        }
        st.col_of_node[node as usize] = idx as u32;
        let dt = st.buf.slots()[idx].column.data_type.unwrap_or(inferred);
        let cell = st.buf.cell(idx).expect("new column is empty in this row");
        if coerce::append(cell, dt, v) {
            Ok(())
        } else {
            // a declared or preferred type the value does not fit
            self.write_variant(t, node, v)
        }
    }

    fn write_null(&mut self, t: usize, node: u32, col: u32) -> Result<()> {
        let name = self.nodes[node as usize].column.clone();
        if col != NO_COL {
            if !self.tables[t].buf.slots()[col as usize].column.nullable {
                return Err(Error::invalid_data(format!("column `{name}` is not nullable but received null"))
                    .with("table", self.tables[t].name.clone())
                    .with("column", name.to_string())
                    .with_hint("send a value for this column, or drop its not-null hint"));
            }
            return Ok(());
        }
        let declared = self.schema.tables.get(&self.tables[t].name).and_then(|tb| tb.columns.get(name.as_ref()));
        if declared.is_some_and(|c| !c.nullable) || self.schema.is_not_null_by_hint(&name) {
            return Err(Error::invalid_data(format!("column `{name}` is not nullable but received null"))
                .with("table", self.tables[t].name.clone())
                .with("column", name.to_string()));
        }
        if self.tables[t].null_only.len() < 10_000 {
            self.tables[t].null_only.insert(name.to_string());
        }
        Ok(())
    }

    fn write_variant(&mut self, t: usize, node: u32, v: &JVal<'_>) -> Result<()> {
        let base = self.nodes[node as usize].column.clone();
        let py = coerce::py_type(v);
        let vname = self.naming.shorten_fragments(&[&base, &format!("v_{}", py.as_str())]);
        let idx = match self.tables[t].by_name.get(vname.as_str()) {
            Some(&i) => i as usize,
            None => {
                let mut c = Column::new(&vname, py);
                c.hints.variant = true;
                self.add_column(t, c)?
            }
        };
        let dt = self.tables[t].buf.slots()[idx].column.data_type.unwrap_or(py);
        let Some(cell) = self.tables[t].buf.cell(idx) else {
            self.note_collision(t, Collision::Repeated, idx as u32, node, node);
            return Ok(());
        };
        if coerce::append(cell, dt, v) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Schema,
                format!("value of type {py} cannot be stored in column `{base}` nor in its variant `{vname}` ({dt})"),
            )
            .with("table", self.tables[t].name.clone())
            .with("column", base.to_string()))
        }
    }

    fn infer_type(&self, name: &str, v: &JVal<'_>) -> DataType {
        let mut dt = coerce::py_type(v);
        for d in &self.schema.settings.detections {
            let hit = match (d.as_str(), v) {
                ("iso_timestamp", JVal::Str(s)) => crate::time::parse_iso_datetime(s).map(|_| DataType::Timestamp),
                ("iso_date", JVal::Str(s)) => crate::time::parse_iso_date(s).map(|_| DataType::Date),
                ("large_integer", JVal::UInt(_)) => Some(DataType::Wei),
                ("timestamp", JVal::Int(_) | JVal::Float(_)) => {
                    let secs = match v {
                        JVal::Int(i) => *i as f64,
                        JVal::Float(f) => *f,
                        _ => 0.0,
                    };
                    let now = chrono::Utc::now().timestamp() as f64;
                    let five_years = 5.0 * 365.25 * 86400.0;
                    ((now - five_years)..=(now + five_years)).contains(&secs).then_some(DataType::Timestamp)
                }
                _ => None,
            };
            if let Some(h) = hit {
                dt = h;
                break;
            }
        }
        if let Some(p) = self.schema.preferred_type(name) {
            dt = p;
        }
        dt
    }

    fn end_row(&mut self, t: usize) -> Result<()> {
        let st = &mut self.tables[t];
        let rows = st.buf.rows();
        for &c in &st.not_null {
            if st.buf.slots()[c as usize].buf.len() <= rows {
                let col = st.buf.slots()[c as usize].column.name.clone();
                return Err(Error::invalid_data(format!("column `{col}` is not nullable but a record has no value for it"))
                    .with("table", st.name.clone())
                    .with("column", col)
                    .with_hint("send a value for this column in every record, or drop its not-null hint"));
            }
        }
        st.buf.end_row();
        st.rows_total += 1;
        // a frozen normalizer keeps a chunk's rows until the chunk commits (it may be discarded)
        if !self.frozen
            && (st.buf.rows() >= self.opts.batch_rows
                || (st.buf.rows().is_multiple_of(1024) && st.buf.bytes_estimate() >= self.opts.batch_bytes))
        {
            self.flush_table(t)?;
        }
        Ok(())
    }

    fn flush_table(&mut self, t: usize) -> Result<()> {
        if self.tables[t].buf.rows() == 0 {
            return Ok(());
        }
        let batch = self.tables[t].buf.take_batch()?;
        let name = self.tables[t].name.clone();
        if !self.frozen
            && let Some(tb) = self.schema.tables.get_mut(&name)
            && !tb.seen_data()
        {
            tb.mark_seen_data();
        }
        self.sink.write_batch(&name, batch)
    }

    /// Normalizes an Arrow batch into root table `t`: names are normalized, types mapped to
    /// dlt's, `_dlt_load_id` and `_dlt_id` added. No flattening.
    pub fn push_arrow(&mut self, t: usize, batch: &RecordBatch) -> Result<()> {
        self.flush_table(t)?;
        let tname = self.tables[t].name.clone();
        let mut inputs: HashMap<String, ArrayRef> = HashMap::new();
        for (f, a) in batch.schema().fields().iter().zip(batch.columns()) {
            let name = self.naming.normalize_path(f.name());
            let dt = dlt_type_of_arrow(f.data_type()).ok_or_else(|| {
                Error::new(ErrorKind::Unsupported, format!("Arrow type {} of column `{}` is not supported", f.data_type(), f.name()))
                    .with("table", tname.clone())
                    .with("column", f.name().to_string())
                    .with_hint("nested Arrow types (struct, list, map) are not loaded yet: flatten them or load the data as JSON records")
            })?;
            if !self.tables[t].by_name.contains_key(name.as_str()) {
                if a.null_count() == a.len() && !self.schema.tables[&tname].columns.contains_key(&name) {
                    continue; // a column seen only as null is not created
                }
                let mut c = Column::new(&name, dt);
                if let ArrowType::Decimal128(p, s) = f.data_type() {
                    c.precision = Some(*p as u32);
                    c.scale = Some(*s as u32);
                }
                if let ArrowType::Timestamp(_, None) = f.data_type() {
                    c.timezone = Some(false);
                }
                self.schema.apply_default_hints(&mut c);
                self.add_column(t, c)?;
            }
            inputs.insert(name, a.clone());
        }
        self.system_col(t, C_DLT_LOAD_ID, DataType::Text)?;
        self.system_col(t, C_DLT_ID, DataType::Text)?;
        let n = batch.num_rows();
        let schema = self.tables[t].buf.arrow_schema();
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            let arr: ArrayRef = match f.name().as_str() {
                C_DLT_LOAD_ID if !inputs.contains_key(C_DLT_LOAD_ID) => Arc::new(StringArray::from(vec![self.load_id.as_str(); n])),
                C_DLT_ID if !inputs.contains_key(C_DLT_ID) => Arc::new(StringArray::from_iter_values((0..n).map(|_| random_dlt_id()))),
                name => match inputs.get(name) {
                    Some(a) if a.data_type() == f.data_type() => a.clone(),
                    Some(a) => arrow_cast::cast(a, f.data_type()).map_err(|e| {
                        Error::invalid_data(format!("column `{name}` of type {} cannot be cast to {}: {e}", a.data_type(), f.data_type()))
                            .with("table", tname.clone())
                            .with("column", name.to_string())
                    })?,
                    None => arrow_array::new_null_array(f.data_type(), n),
                },
            };
            if !f.is_nullable() && arr.null_count() > 0 {
                return Err(Error::invalid_data(format!("column `{}` is not nullable but has nulls", f.name()))
                    .with("table", tname.clone())
                    .with("column", f.name().to_string()));
            }
            cols.push(arr);
        }
        let out = RecordBatch::try_new(schema, cols)?;
        self.tables[t].rows_total += n as u64;
        if n > 0 {
            if let Some(tb) = self.schema.tables.get_mut(&tname) {
                tb.mark_seen_data();
            }
            self.sink.write_batch(&tname, out)?;
        }
        Ok(())
    }

    /// Flushes every buffer and returns the evolved schema and rows per table.
    /// Columns seen only as null are reported in the log and not created.
    pub fn finish(mut self) -> Result<(Schema, HashMap<String, TableStats>)> {
        for t in 0..self.tables.len() {
            self.flush_table(t)?;
        }
        let mut stats = HashMap::new();
        for st in &self.tables {
            let tb = &self.schema.tables[&st.name];
            let null_only: Vec<&String> = st.null_only.iter().filter(|c| !tb.columns.contains_key(c.as_str())).collect();
            if !null_only.is_empty() {
                tracing::info!(table = %st.name, columns = ?null_only, "columns seen only with null values were not created");
            }
            stats.insert(st.name.clone(), TableStats { rows: st.rows_total });
        }
        Ok((self.schema, stats))
    }
}

/// The dlt type of an Arrow type, for Arrow input.
pub fn dlt_type_of_arrow(t: &ArrowType) -> Option<DataType> {
    Some(match t {
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => DataType::Text,
        ArrowType::Boolean => DataType::Bool,
        ArrowType::Int8 | ArrowType::Int16 | ArrowType::Int32 | ArrowType::Int64 => DataType::Bigint,
        ArrowType::UInt8 | ArrowType::UInt16 | ArrowType::UInt32 | ArrowType::UInt64 => DataType::Bigint,
        ArrowType::Float16 | ArrowType::Float32 | ArrowType::Float64 => DataType::Double,
        ArrowType::Timestamp(_, _) => DataType::Timestamp,
        ArrowType::Date32 | ArrowType::Date64 => DataType::Date,
        ArrowType::Time32(_) | ArrowType::Time64(_) => DataType::Time,
        ArrowType::Decimal128(_, _) | ArrowType::Decimal256(_, _) => DataType::Decimal,
        ArrowType::Binary | ArrowType::LargeBinary | ArrowType::BinaryView | ArrowType::FixedSizeBinary(_) => DataType::Binary,
        ArrowType::Null => DataType::Text,
        _ => return None,
    })
}

/// Appends `n` in decimal without the formatting machinery (runs once per child row).
fn push_decimal(out: &mut String, n: usize) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// A random row id as dlt makes it: 10 random bytes, standard base64 without padding.
pub fn random_dlt_id() -> String {
    RowId::random().as_str().to_string()
}

/// A row id. dlt's own ids, random or hashed, are 10 bytes in 14 base64 characters and are
/// kept on the stack (no allocation per row); an id given in the data may be anything.
enum RowId {
    Short([u8; 14]),
    Given(String),
}

impl RowId {
    /// dlt's `uniq_id_base64(10)`: 10 random bytes.
    fn random() -> RowId {
        let mut raw = [0u8; 10];
        fastrand::fill(&mut raw);
        RowId::encode(&raw)
    }

    /// dlt's `digest128(value, 10)`: SHAKE-128 of `value`, 10 bytes.
    fn hashed(value: &[u8]) -> RowId {
        let mut raw = [0u8; 10];
        crate::naming::shake128_into(value, &mut raw);
        RowId::encode(&raw)
    }

    fn encode(raw: &[u8; 10]) -> RowId {
        let mut b = [0u8; 14];
        base64::engine::general_purpose::STANDARD_NO_PAD.encode_slice(raw, &mut b).expect("10 bytes are 14 base64 characters");
        RowId::Short(b)
    }

    fn as_str(&self) -> &str {
        match self {
            RowId::Short(b) => std::str::from_utf8(b).expect("base64 is ASCII"),
            RowId::Given(s) => s,
        }
    }
}

/// Arrow schema of a schema table (complete columns in order).
pub fn table_arrow_schema(t: &Table) -> Arc<ArrowSchema> {
    Arc::new(ArrowSchema::new(t.columns.values().filter(|c| c.is_complete()).map(arrow_field).collect::<Vec<Field>>()))
}

/// Entries of one row whose trie nodes share a group (keys that normalize to one column or
/// one nested table) collapse into the first one's place with the last one's value, as dlt's
/// dict assignment does; `noted(group, kept, dropped)` hears of each. Nodes without a group
/// (`NO_NODE`) stay as they are.
fn keep_last_per_group<V: Copy>(items: &mut Vec<(u32, V)>, group: impl Fn(u32) -> u32, mut noted: impl FnMut(u32, u32, u32)) {
    let mut w = 0;
    for r in 0..items.len() {
        let (node, v) = items[r];
        let g = group(node);
        if g != NO_NODE
            && let Some(k) = items[..w].iter().position(|(m, _)| *m != node && group(*m) == g)
        {
            items[k].1 = v;
            noted(g, items[k].0, node);
            continue;
        }
        items[w] = (node, v);
        w += 1;
    }
    items.truncate(w);
}

#[cfg(test)]
mod tests;

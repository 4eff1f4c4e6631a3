//! Schemas the dlt way: tables with ordered columns, hints, write dispositions, evolution,
//! versioning with a content hash, and dlt's stored-schema format (engine version 11) in YAML
//! or JSON.

pub mod naming;

mod stored;
mod types;

use indexmap::IndexMap;
use serde_json::Value;

pub use stored::canonical_json;
pub use types::{DataType, MergeStrategy, ReplaceStrategy, SortOrder, TableFormat, WriteDisposition};

use crate::error::{Error, ErrorKind, Result};

/// Engine version of dlt's stored schema this code reads and writes.
pub const ENGINE_VERSION: u64 = 11;
/// `_dlt_loads` table name.
pub const LOADS_TABLE: &str = "_dlt_loads";
/// `_dlt_version` table name.
pub const VERSION_TABLE: &str = "_dlt_version";
/// `_dlt_pipeline_state` table name.
pub const STATE_TABLE: &str = "_dlt_pipeline_state";
/// Row id column.
pub const C_DLT_ID: &str = "_dlt_id";
/// Load id column of root tables.
pub const C_DLT_LOAD_ID: &str = "_dlt_load_id";
/// Parent row id column of nested tables.
pub const C_DLT_PARENT_ID: &str = "_dlt_parent_id";
/// Root row id column of nested tables (root-key propagation).
pub const C_DLT_ROOT_ID: &str = "_dlt_root_id";
/// Position in the parent's list.
pub const C_DLT_LIST_IDX: &str = "_dlt_list_idx";
/// Column of nested tables made from lists of scalars.
pub const C_VALUE: &str = "value";
/// Prefix of dlt's own tables and columns.
pub const DLT_PREFIX: &str = "_dlt";

/// One column and its hints (`TColumnSchema`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Column {
    /// Normalized name.
    pub name: String,
    /// Type; a column without one is incomplete (hints waiting for data).
    pub data_type: Option<DataType>,
    /// Nullable (default true).
    pub nullable: bool,
    /// Precision: text length, timestamp fractional digits, decimal precision, bigint bits.
    pub precision: Option<u32>,
    /// Decimal scale.
    pub scale: Option<u32>,
    /// Timestamp with time zone (default true when absent).
    pub timezone: Option<bool>,
    /// Boolean hints.
    pub hints: ColumnHints,
    /// `dedup_sort` hint for merge.
    pub dedup_sort: Option<SortOrder>,
    /// Free text.
    pub description: Option<String>,
    /// `x-*` keys, kept as they are.
    pub extra: IndexMap<String, Value>,
}

/// Boolean column hints; all default to false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ColumnHints {
    /// Auto-created variant column.
    pub variant: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Part of the merge key.
    pub merge_key: bool,
    /// Partition column.
    pub partition: bool,
    /// Cluster column.
    pub cluster: bool,
    /// Unique.
    pub unique: bool,
    /// Sort column.
    pub sort: bool,
    /// Row identity (`_dlt_id`).
    pub row_key: bool,
    /// Parent row reference (`_dlt_parent_id`).
    pub parent_key: bool,
    /// Root row reference (`_dlt_root_id`).
    pub root_key: bool,
    /// Merge: a truthy value deletes the row.
    pub hard_delete: bool,
    /// Incremental cursor.
    pub incremental: bool,
}

/// Names of the boolean hints, in the order they are written.
pub const BOOL_HINTS: [&str; 12] = [
    "variant",
    "primary_key",
    "merge_key",
    "partition",
    "cluster",
    "unique",
    "sort",
    "row_key",
    "parent_key",
    "root_key",
    "hard_delete",
    "incremental",
];

impl ColumnHints {
    /// Reads a hint by name.
    pub fn get(&self, name: &str) -> Option<bool> {
        Some(match name {
            "variant" => self.variant,
            "primary_key" => self.primary_key,
            "merge_key" => self.merge_key,
            "partition" => self.partition,
            "cluster" => self.cluster,
            "unique" => self.unique,
            "sort" => self.sort,
            "row_key" => self.row_key,
            "parent_key" => self.parent_key,
            "root_key" => self.root_key,
            "hard_delete" => self.hard_delete,
            "incremental" => self.incremental,
            _ => return None,
        })
    }
    /// Sets a hint by name; false when the name is not a boolean hint.
    pub fn set(&mut self, name: &str, v: bool) -> bool {
        let slot = match name {
            "variant" => &mut self.variant,
            "primary_key" => &mut self.primary_key,
            "merge_key" => &mut self.merge_key,
            "partition" => &mut self.partition,
            "cluster" => &mut self.cluster,
            "unique" => &mut self.unique,
            "sort" => &mut self.sort,
            "row_key" => &mut self.row_key,
            "parent_key" => &mut self.parent_key,
            "root_key" => &mut self.root_key,
            "hard_delete" => &mut self.hard_delete,
            "incremental" => &mut self.incremental,
            _ => return false,
        };
        *slot = v;
        true
    }
}

impl Column {
    /// A nullable column of a type.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        Column { name: name.into(), data_type: Some(data_type), nullable: true, ..Default::default() }
    }
    /// A column with hints only (no type yet).
    pub fn incomplete(name: impl Into<String>) -> Self {
        Column { name: name.into(), data_type: None, nullable: true, ..Default::default() }
    }
    /// Has a name and a type.
    pub fn is_complete(&self) -> bool {
        self.data_type.is_some()
    }
    /// Builder: not null.
    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }
    /// Builder: sets a boolean hint.
    pub fn hint(mut self, name: &str) -> Self {
        self.hints.set(name, true);
        self
    }
    /// Builder: description.
    pub fn describe(mut self, d: &str) -> Self {
        self.description = Some(d.to_string());
        self
    }
    /// Builder: precision.
    pub fn with_precision(mut self, p: u32) -> Self {
        self.precision = Some(p);
        self
    }
    /// Merges `other`'s explicitly set properties over this column (user hints win).
    pub fn merge_from(&mut self, other: &Column) {
        if other.data_type.is_some() {
            self.data_type = other.data_type;
        }
        if !other.nullable {
            self.nullable = false;
        }
        if other.precision.is_some() {
            self.precision = other.precision;
        }
        if other.scale.is_some() {
            self.scale = other.scale;
        }
        if other.timezone.is_some() {
            self.timezone = other.timezone;
        }
        for h in BOOL_HINTS {
            if other.hints.get(h) == Some(true) {
                self.hints.set(h, true);
            }
        }
        if other.dedup_sort.is_some() {
            self.dedup_sort = other.dedup_sort;
        }
        if other.description.is_some() {
            self.description = other.description.clone();
        }
        for (k, v) in &other.extra {
            self.extra.insert(k.clone(), v.clone());
        }
    }
}

/// One table (`TTableSchema`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Normalized name.
    pub name: String,
    /// Ordered columns.
    pub columns: IndexMap<String, Column>,
    /// Write disposition (root tables; nested tables inherit).
    pub write_disposition: Option<WriteDisposition>,
    /// Parent table: set on nested (child) tables.
    pub parent: Option<String>,
    /// Resource that produced the table (root tables).
    pub resource: Option<String>,
    /// Table format.
    pub table_format: Option<TableFormat>,
    /// File format (`preferred` or a loader file format).
    pub file_format: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Schema contract, as dlt writes it.
    pub schema_contract: Option<Value>,
    /// `x-*` keys (`x-normalizer`, `x-merge-strategy`, ...).
    pub extra: IndexMap<String, Value>,
}

impl Table {
    /// A new root table.
    pub fn new(name: impl Into<String>) -> Self {
        Table { name: name.into(), ..Default::default() }
    }
    /// A new nested table.
    pub fn nested(name: impl Into<String>, parent: impl Into<String>) -> Self {
        Table { name: name.into(), parent: Some(parent.into()), ..Default::default() }
    }
    /// Has a parent.
    pub fn is_nested(&self) -> bool {
        self.parent.is_some()
    }
    /// Has at least one complete column.
    pub fn has_complete_columns(&self) -> bool {
        self.columns.values().any(Column::is_complete)
    }
    /// Adds a column at the end, or merges it over an existing column of the same name.
    /// A column that becomes complete moves to the end (dlt does the same).
    pub fn add_column(&mut self, col: Column) {
        if let Some(existing) = self.columns.get_mut(&col.name) {
            let was_complete = existing.is_complete();
            existing.merge_from(&col);
            if !was_complete && existing.is_complete() {
                let c = self.columns.shift_remove(&col.name).expect("present");
                self.columns.insert(c.name.clone(), c);
            }
        } else {
            self.columns.insert(col.name.clone(), col);
        }
    }
    /// Columns with a hint set, in order.
    pub fn columns_with_hint(&self, hint: &str) -> Vec<&Column> {
        self.columns.values().filter(|c| c.hints.get(hint) == Some(true)).collect()
    }
    /// Whether this table has received rows (`x-normalizer.seen-data`).
    pub fn seen_data(&self) -> bool {
        self.extra.get("x-normalizer").and_then(|v| v.get("seen-data")).and_then(Value::as_bool).unwrap_or(false)
    }
    /// Marks the table as having received rows.
    pub fn mark_seen_data(&mut self) {
        let e = self.extra.entry("x-normalizer".to_string()).or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(m) = e {
            m.insert("seen-data".into(), Value::Bool(true));
        }
    }
    /// `x-merge-strategy` if set.
    pub fn merge_strategy_hint(&self) -> Option<MergeStrategy> {
        self.extra.get("x-merge-strategy").and_then(Value::as_str).and_then(|s| s.parse().ok())
    }
    /// Whether the table is one of dlt's own (`_dlt*`).
    pub fn is_dlt_table(&self) -> bool {
        self.name.starts_with(DLT_PREFIX)
    }
}

/// `settings` of a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Type detections in order (`iso_timestamp` by default).
    pub detections: Vec<String>,
    /// hint → simple regexes (exact names, or `re:` prefixed regex).
    pub default_hints: IndexMap<String, Vec<String>>,
    /// simple regex → preferred data type.
    pub preferred_types: IndexMap<String, DataType>,
    /// Schema-wide contract.
    pub schema_contract: Option<Value>,
}

impl Default for Settings {
    fn default() -> Self {
        let mut default_hints = IndexMap::new();
        default_hints.insert(
            "not_null".to_string(),
            [C_DLT_ID, C_DLT_ROOT_ID, C_DLT_PARENT_ID, C_DLT_LIST_IDX, C_DLT_LOAD_ID].map(String::from).to_vec(),
        );
        default_hints.insert("parent_key".into(), vec![C_DLT_PARENT_ID.into()]);
        default_hints.insert("root_key".into(), vec![C_DLT_ROOT_ID.into()]);
        default_hints.insert("unique".into(), vec![C_DLT_ID.into()]);
        default_hints.insert("row_key".into(), vec![C_DLT_ID.into()]);
        Settings { detections: vec!["iso_timestamp".into()], default_hints, preferred_types: IndexMap::new(), schema_contract: None }
    }
}

/// A schema: named set of tables, settings and normalizer config, with a version and hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// Name (a valid identifier, ≤64 chars).
    pub name: String,
    /// Version, bumped when content changes.
    pub version: u64,
    /// Content hash of the stored version (empty for a new schema).
    pub version_hash: String,
    /// Up to 10 previous hashes, newest first.
    pub previous_hashes: Vec<String>,
    /// Description.
    pub description: Option<String>,
    /// Tables in order.
    pub tables: IndexMap<String, Table>,
    /// Settings.
    pub settings: Settings,
    /// Naming convention name (`snake_case`).
    pub naming: String,
    /// Relational normalizer config (`normalizers.json.config`), e.g. `max_nesting`, `propagation`.
    pub normalizer_config: IndexMap<String, Value>,
}

impl Schema {
    /// A new schema with dlt's system tables.
    pub fn new(name: &str) -> Self {
        let mut s = Schema {
            name: name.to_string(),
            version: 1,
            version_hash: String::new(),
            previous_hashes: Vec::new(),
            description: None,
            tables: IndexMap::new(),
            settings: Settings::default(),
            naming: "snake_case".into(),
            normalizer_config: IndexMap::new(),
        };
        s.tables.insert(VERSION_TABLE.into(), version_table());
        s.tables.insert(LOADS_TABLE.into(), loads_table());
        s
    }

    /// Validates a schema name: dlt requires a valid identifier of at most 64 characters.
    pub fn validate_name(name: &str) -> Result<()> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Schema, format!("invalid schema name `{name}`"))
                .with_hint("a schema name is a letter or `_` followed by letters, digits or `_`, at most 64 characters"))
        }
    }

    /// A table by name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// Data tables (not `_dlt*`), in order.
    pub fn data_tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values().filter(|t| !t.is_dlt_table())
    }

    /// The root table of `name` (itself when it has no parent).
    pub fn root_table(&self, name: &str) -> Option<&Table> {
        let mut t = self.tables.get(name)?;
        while let Some(p) = &t.parent {
            t = self.tables.get(p)?;
        }
        Some(t)
    }

    /// Every nested table below `root`, depth first in schema order (not including `root`).
    pub fn nested_tables(&self, root: &str) -> Vec<&Table> {
        let mut out = Vec::new();
        let mut frontier = vec![root.to_string()];
        while let Some(p) = frontier.pop() {
            for t in self.tables.values() {
                if t.parent.as_deref() == Some(p.as_str()) {
                    out.push(t);
                    frontier.push(t.name.clone());
                }
            }
        }
        out
    }

    /// Write disposition of a table, inherited from its root.
    pub fn write_disposition(&self, table: &str) -> WriteDisposition {
        self.root_table(table).and_then(|t| t.write_disposition).unwrap_or_default()
    }

    /// Table format of a table, inherited from its root.
    pub fn table_format(&self, table: &str) -> Option<TableFormat> {
        self.root_table(table).and_then(|t| t.table_format)
    }

    /// File format hint of a table, inherited from its root.
    pub fn file_format(&self, table: &str) -> Option<&str> {
        self.root_table(table).and_then(|t| t.file_format.as_deref())
    }

    /// Merge strategy of a table, inherited from its root.
    pub fn merge_strategy(&self, table: &str) -> Option<MergeStrategy> {
        self.root_table(table).and_then(Table::merge_strategy_hint)
    }

    /// The preferred type for a column name (`settings.preferred_types`), first match wins.
    pub fn preferred_type(&self, column: &str) -> Option<DataType> {
        self.settings.preferred_types.iter().find(|(pat, _)| simple_regex_match(pat, column)).map(|(_, t)| *t)
    }

    /// Applies `settings.default_hints` to a newly inferred column.
    pub fn apply_default_hints(&self, col: &mut Column) {
        for (hint, patterns) in &self.settings.default_hints {
            if patterns.iter().any(|p| simple_regex_match(p, &col.name)) {
                if hint == "not_null" {
                    col.nullable = false;
                } else {
                    col.hints.set(hint, true);
                }
            }
        }
    }

    /// Whether a column name matches the `not_null` default hint.
    pub fn is_not_null_by_hint(&self, column: &str) -> bool {
        self.settings.default_hints.get("not_null").is_some_and(|pats| pats.iter().any(|p| simple_regex_match(p, column)))
    }

    /// Adds or merges a table. A nested table needs its parent to exist.
    pub fn update_table(&mut self, partial: Table) -> Result<()> {
        if let Some(parent) = &partial.parent
            && !self.tables.contains_key(parent)
        {
            return Err(Error::new(ErrorKind::Schema, format!("parent table `{parent}` of `{}` does not exist", partial.name)));
        }
        match self.tables.get_mut(&partial.name) {
            None => {
                self.tables.insert(partial.name.clone(), partial);
            }
            Some(t) => {
                if partial.parent.is_some() && partial.parent != t.parent {
                    return Err(Error::new(
                        ErrorKind::Schema,
                        format!("table `{}` cannot change its parent from {:?} to {:?}", t.name, t.parent, partial.parent),
                    ));
                }
                for (_, c) in partial.columns {
                    t.add_column(c);
                }
                if partial.write_disposition.is_some() {
                    t.write_disposition = partial.write_disposition;
                }
                if partial.resource.is_some() {
                    t.resource = partial.resource;
                }
                if partial.table_format.is_some() {
                    t.table_format = partial.table_format;
                }
                if partial.file_format.is_some() {
                    t.file_format = partial.file_format;
                }
                if partial.description.is_some() {
                    t.description = partial.description;
                }
                if partial.schema_contract.is_some() {
                    t.schema_contract = partial.schema_contract;
                }
                for (k, v) in partial.extra {
                    t.extra.insert(k, v);
                }
            }
        }
        Ok(())
    }

    /// Adds the `_dlt_pipeline_state` table if missing.
    pub fn ensure_state_table(&mut self) {
        if !self.tables.contains_key(STATE_TABLE) {
            self.tables.insert(STATE_TABLE.into(), pipeline_state_table());
        }
    }

    /// Content hash as dlt computes it (sha3-256 over sorted-key JSON plus column order).
    pub fn content_hash(&self) -> String {
        stored::content_hash(self)
    }

    /// Recomputes the hash; bumps `version` when content changed since the stored hash.
    /// Returns whether the version changed.
    pub fn bump_version(&mut self) -> bool {
        let h = self.content_hash();
        if self.version_hash.is_empty() {
            self.version_hash = h;
            return false;
        }
        if h != self.version_hash {
            let old = std::mem::replace(&mut self.version_hash, h);
            self.version += 1;
            self.previous_hashes.retain(|p| p != &old);
            self.previous_hashes.insert(0, old);
            self.previous_hashes.truncate(10);
            true
        } else {
            false
        }
    }

    /// Whether content differs from the stored hash.
    pub fn is_modified(&self) -> bool {
        self.version_hash.is_empty() || self.content_hash() != self.version_hash
    }

    /// The stored-schema document (dlt's `to_dict`).
    pub fn to_value(&self) -> Value {
        stored::to_value(self)
    }
    /// dlt's stored-schema YAML.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(&self.to_value()).expect("a JSON value serializes to YAML")
    }
    /// dlt's stored-schema JSON (pretty).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.to_value()).expect("serializable")
    }
    /// Reads a stored schema document (YAML or JSON; engine versions up to 11, `complex` read as `json`).
    pub fn from_value(v: &Value) -> Result<Schema> {
        stored::from_value(v)
    }
    /// Reads dlt's stored-schema YAML.
    pub fn from_yaml(text: &str) -> Result<Schema> {
        let v: Value = serde_norway::from_str(text).map_err(|e| Error::new(ErrorKind::Schema, format!("cannot parse schema YAML: {e}")))?;
        Self::from_value(&v)
    }
    /// Reads a stored schema JSON document.
    pub fn from_json(text: &str) -> Result<Schema> {
        let v: Value = serde_json::from_str(text).map_err(|e| Error::new(ErrorKind::Schema, format!("cannot parse schema JSON: {e}")))?;
        Self::from_value(&v)
    }
}

/// dlt's simple regex: `re:` prefix = regex search, otherwise exact match.
pub fn simple_regex_match(pattern: &str, name: &str) -> bool {
    if let Some(re) = pattern.strip_prefix("re:") {
        // cached compile: patterns are few and small
        use std::collections::HashMap;
        use std::sync::{LazyLock, Mutex};
        static CACHE: LazyLock<Mutex<HashMap<String, Option<regex::Regex>>>> = LazyLock::new(Default::default);
        let mut c = CACHE.lock().expect("regex cache");
        let r = c.entry(re.to_string()).or_insert_with(|| regex::Regex::new(re).ok());
        r.as_ref().is_some_and(|r| r.is_match(name))
    } else {
        pattern == name
    }
}

/// The `_dlt_version` table as dlt defines it.
pub fn version_table() -> Table {
    let mut t = Table::new(VERSION_TABLE);
    for c in [
        Column::new("version", DataType::Bigint).not_null().describe("Numeric version of the schema, incremented on each schema change"),
        Column::new("engine_version", DataType::Bigint).not_null().describe("Version of the dlt schema engine that created this schema"),
        Column::new("inserted_at", DataType::Timestamp).not_null().describe("Timestamp when this schema version was stored"),
        Column::new("schema_name", DataType::Text).not_null().describe("Name of the schema"),
        Column::new("version_hash", DataType::Text).not_null().describe("Unique hash of the schema content, used to detect changes"),
        Column::new("schema", DataType::Text).not_null().describe("JSON representation of the complete schema definition"),
    ] {
        t.add_column(c);
    }
    t.write_disposition = Some(WriteDisposition::Skip);
    t.resource = Some(VERSION_TABLE.into());
    t.description = Some("Created by DLT. Tracks schema updates".into());
    t
}

/// The `_dlt_loads` table as dlt defines it.
pub fn loads_table() -> Table {
    let mut t = Table::new(LOADS_TABLE);
    for c in [
        Column::new("load_id", DataType::Text).not_null().with_precision(64).describe("Unique identifier of the load operation"),
        Column::new("schema_name", DataType::Text).describe("Name of the schema associated with this load"),
        Column::new("status", DataType::Bigint).not_null().describe("Status of the load operation (0 = success)"),
        Column::new("inserted_at", DataType::Timestamp).not_null().describe("Timestamp when the load was completed"),
        Column::new("schema_version_hash", DataType::Text).describe("Hash of the schema version used during this load"),
    ] {
        t.add_column(c);
    }
    t.write_disposition = Some(WriteDisposition::Skip);
    t.resource = Some(LOADS_TABLE.into());
    t.description = Some("Created by DLT. Tracks completed loads".into());
    t
}

/// The `_dlt_pipeline_state` table as dlt defines it.
pub fn pipeline_state_table() -> Table {
    let mut t = Table::new(STATE_TABLE);
    for c in [
        Column::new("version", DataType::Bigint).not_null().describe("Numeric version of the pipeline state"),
        Column::new("engine_version", DataType::Bigint).not_null().describe("Version of the dlt state engine"),
        Column::new("pipeline_name", DataType::Text).not_null().describe("Name of the pipeline this state belongs to"),
        Column::new("state", DataType::Text).not_null().describe("Compressed JSON representation of the pipeline state"),
        Column::new("created_at", DataType::Timestamp).not_null().describe("Timestamp when this state was created"),
        Column::new("version_hash", DataType::Text).describe("Hash of the state content, used to detect changes"),
        Column::new(C_DLT_LOAD_ID, DataType::Text)
            .not_null()
            .with_precision(64)
            .describe("Load identifier linking this row to its load operation"),
        Column::new(C_DLT_ID, DataType::Text).not_null().hint("unique").hint("row_key"),
    ] {
        t.add_column(c);
    }
    t.write_disposition = Some(WriteDisposition::Append);
    t.file_format = Some("preferred".into());
    t.resource = Some(STATE_TABLE.into());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_schema_has_system_tables_and_hints() {
        let s = Schema::new("events");
        assert!(s.table(LOADS_TABLE).is_some());
        assert!(s.table(VERSION_TABLE).is_some());
        assert!(s.is_not_null_by_hint("_dlt_id"));
        assert!(!s.is_not_null_by_hint("id"));
        let mut c = Column::new("_dlt_id", DataType::Text);
        s.apply_default_hints(&mut c);
        assert!(!c.nullable && c.hints.unique && c.hints.row_key);
    }

    #[test]
    fn version_bumps_only_on_change() {
        let mut s = Schema::new("x");
        assert!(!s.bump_version());
        let v = s.version;
        assert!(!s.bump_version());
        s.update_table(Table::new("t")).unwrap();
        s.tables.get_mut("t").unwrap().add_column(Column::new("a", DataType::Text));
        assert!(s.bump_version());
        assert_eq!(s.version, v + 1);
        assert_eq!(s.previous_hashes.len(), 1);
    }

    #[test]
    fn hash_depends_on_column_order_not_table_order() {
        let mut a = Schema::new("x");
        let mut t = Table::new("t");
        t.add_column(Column::new("a", DataType::Text));
        t.add_column(Column::new("b", DataType::Text));
        a.update_table(t.clone()).unwrap();
        a.update_table(Table::new("u")).unwrap();
        let mut b = Schema::new("x");
        b.update_table(Table::new("u")).unwrap();
        b.update_table(t).unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        let mut c = Schema::new("x");
        let mut t2 = Table::new("t");
        t2.add_column(Column::new("b", DataType::Text));
        t2.add_column(Column::new("a", DataType::Text));
        c.update_table(t2).unwrap();
        c.update_table(Table::new("u")).unwrap();
        assert_ne!(a.content_hash(), c.content_hash());
    }

    #[test]
    fn nested_table_needs_parent() {
        let mut s = Schema::new("x");
        assert!(s.update_table(Table::nested("t__c", "t")).is_err());
        s.update_table(Table::new("t")).unwrap();
        s.update_table(Table::nested("t__c", "t")).unwrap();
        assert_eq!(s.root_table("t__c").unwrap().name, "t");
        assert_eq!(s.nested_tables("t").len(), 1);
    }

    #[test]
    fn incomplete_column_moves_to_end_when_completed() {
        let mut t = Table::new("t");
        t.add_column(Column::incomplete("id").hint("primary_key"));
        t.add_column(Column::new("x", DataType::Text));
        t.add_column(Column::new("id", DataType::Bigint));
        let names: Vec<_> = t.columns.keys().cloned().collect();
        assert_eq!(names, vec!["x", "id"]);
        assert!(t.columns["id"].hints.primary_key);
    }

    #[test]
    fn simple_regex() {
        assert!(simple_regex_match("re:^_dlt", "_dlt_id"));
        assert!(!simple_regex_match("_dlt", "_dlt_id"));
        assert!(simple_regex_match("_dlt_id", "_dlt_id"));
    }
}

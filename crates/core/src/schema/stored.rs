//! dlt's stored-schema document (engine version 11): writing, reading and hashing.

use base64::Engine as _;
use indexmap::IndexMap;
use serde_json::{Map, Value, json};
use sha3::{Digest, Sha3_256};

use super::{BOOL_HINTS, Column, DataType, ENGINE_VERSION, Schema, Settings, SortOrder, Table};
use crate::error::{Error, ErrorKind, Result};

const RELATIONAL_MODULE: &str = "dlt.common.normalizers.json.relational";

fn column_to_value(c: &Column) -> Value {
    let mut m = Map::new();
    if let Some(t) = c.data_type {
        m.insert("data_type".into(), Value::String(t.as_str().into()));
    }
    m.insert("nullable".into(), Value::Bool(c.nullable));
    if let Some(p) = c.precision {
        m.insert("precision".into(), json!(p));
    }
    if let Some(s) = c.scale {
        m.insert("scale".into(), json!(s));
    }
    if let Some(tz) = c.timezone {
        m.insert("timezone".into(), Value::Bool(tz));
    }
    for h in BOOL_HINTS {
        if c.hints.get(h) == Some(true) {
            m.insert(h.into(), Value::Bool(true));
        }
    }
    if let Some(d) = c.dedup_sort {
        m.insert("dedup_sort".into(), Value::String(d.as_str().into()));
    }
    if let Some(d) = &c.description {
        m.insert("description".into(), Value::String(d.clone()));
    }
    for (k, v) in &c.extra {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

fn table_to_value(t: &Table) -> Value {
    let mut m = Map::new();
    let cols: Map<String, Value> = t.columns.iter().map(|(k, c)| (k.clone(), column_to_value(c))).collect();
    m.insert("columns".into(), Value::Object(cols));
    if let Some(wd) = t.write_disposition {
        m.insert("write_disposition".into(), Value::String(wd.as_str().into()));
    }
    if let Some(f) = &t.file_format {
        m.insert("file_format".into(), Value::String(f.clone()));
    }
    if let Some(p) = &t.parent {
        m.insert("parent".into(), Value::String(p.clone()));
    }
    if let Some(r) = &t.resource {
        m.insert("resource".into(), Value::String(r.clone()));
    }
    if let Some(tf) = t.table_format {
        m.insert("table_format".into(), Value::String(tf.as_str().into()));
    }
    if let Some(d) = &t.description {
        m.insert("description".into(), Value::String(d.clone()));
    }
    if let Some(c) = &t.schema_contract {
        m.insert("schema_contract".into(), c.clone());
    }
    for (k, v) in &t.extra {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

fn settings_to_value(s: &Settings) -> Value {
    let mut m = Map::new();
    m.insert("detections".into(), json!(s.detections));
    let hints: Map<String, Value> = s.default_hints.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    m.insert("default_hints".into(), Value::Object(hints));
    if !s.preferred_types.is_empty() {
        let p: Map<String, Value> = s.preferred_types.iter().map(|(k, v)| (k.clone(), Value::String(v.as_str().into()))).collect();
        m.insert("preferred_types".into(), Value::Object(p));
    }
    if let Some(c) = &s.schema_contract {
        m.insert("schema_contract".into(), c.clone());
    }
    Value::Object(m)
}

fn body(s: &Schema) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("engine_version".into(), json!(ENGINE_VERSION));
    m.insert("name".into(), Value::String(s.name.clone()));
    if let Some(d) = &s.description {
        m.insert("description".into(), Value::String(d.clone()));
    }
    let tables: Map<String, Value> = s.tables.iter().map(|(k, t)| (k.clone(), table_to_value(t))).collect();
    m.insert("tables".into(), Value::Object(tables));
    m.insert("settings".into(), settings_to_value(&s.settings));
    let mut json_norm = Map::new();
    json_norm.insert("module".into(), Value::String(RELATIONAL_MODULE.into()));
    if !s.normalizer_config.is_empty() {
        json_norm.insert("config".into(), Value::Object(s.normalizer_config.clone().into_iter().collect()));
    }
    m.insert("normalizers".into(), json!({"names": s.naming, "json": Value::Object(json_norm)}));
    m
}

pub(super) fn to_value(s: &Schema) -> Value {
    let mut m = Map::new();
    m.insert("version".into(), json!(s.version));
    m.insert("version_hash".into(), Value::String(s.version_hash.clone()));
    for (k, v) in body(s) {
        m.insert(k, v);
    }
    m.insert("previous_hashes".into(), json!(s.previous_hashes));
    Value::Object(m)
}

/// Compact JSON with keys sorted at every level (the input of dlt's schema hash).
pub fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).expect("string"));
                out.push(':');
                canonical_json(&m[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).expect("scalar")),
    }
}

pub(super) fn content_hash(s: &Schema) -> String {
    let mut text = String::new();
    canonical_json(&Value::Object(body(s)), &mut text);
    let mut h = Sha3_256::new();
    h.update(text.as_bytes());
    // the sorted JSON loses column order: hash it separately, tables sorted by name
    let mut names: Vec<&String> = s.tables.keys().collect();
    names.sort();
    for n in names {
        h.update(n.as_bytes());
        for c in s.tables[n.as_str()].columns.keys() {
            h.update(c.as_bytes());
        }
    }
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Schema, msg)
}

fn column_from_value(name: &str, v: &Value) -> Result<Column> {
    let m = v.as_object().ok_or_else(|| err(format!("column `{name}` is not a mapping")))?;
    let mut c = Column::incomplete(name);
    for (k, val) in m {
        match k.as_str() {
            "name" => {}
            "data_type" => {
                let s = val.as_str().ok_or_else(|| err(format!("column `{name}`: data_type must be a string")))?;
                c.data_type = Some(s.parse::<DataType>().map_err(|e| e.with("column", name))?);
            }
            "nullable" => c.nullable = val.as_bool().unwrap_or(true),
            "precision" => c.precision = val.as_u64().map(|x| x as u32),
            "scale" => c.scale = val.as_u64().map(|x| x as u32),
            "timezone" => c.timezone = val.as_bool(),
            "dedup_sort" => c.dedup_sort = val.as_str().and_then(|s| s.parse::<SortOrder>().ok()),
            "description" => c.description = val.as_str().map(String::from),
            h if BOOL_HINTS.contains(&h) => {
                c.hints.set(h, val.as_bool().unwrap_or(false));
            }
            other => {
                // x- keys and hints we do not model are kept verbatim
                c.extra.insert(other.to_string(), val.clone());
            }
        }
    }
    Ok(c)
}

fn table_from_value(name: &str, v: &Value) -> Result<Table> {
    let m = v.as_object().ok_or_else(|| err(format!("table `{name}` is not a mapping")))?;
    let mut t = Table::new(name);
    for (k, val) in m {
        match k.as_str() {
            "name" => {}
            "columns" => {
                let cols = val.as_object().ok_or_else(|| err(format!("table `{name}`: columns must be a mapping")))?;
                for (cn, cv) in cols {
                    t.columns.insert(cn.clone(), column_from_value(cn, cv).map_err(|e| e.with("table", name))?);
                }
            }
            "write_disposition" => t.write_disposition = val.as_str().map(str::parse).transpose()?,
            "parent" => t.parent = val.as_str().map(String::from),
            "resource" => t.resource = val.as_str().map(String::from),
            "table_format" => t.table_format = val.as_str().map(str::parse).transpose()?,
            "file_format" => t.file_format = val.as_str().map(String::from),
            "description" => t.description = val.as_str().map(String::from),
            "schema_contract" => t.schema_contract = Some(val.clone()),
            other => {
                t.extra.insert(other.to_string(), val.clone());
            }
        }
    }
    if t.parent.is_none() {
        if t.write_disposition.is_none() {
            t.write_disposition = Some(super::WriteDisposition::Append);
        }
        if t.resource.is_none() {
            t.resource = Some(name.to_string());
        }
    }
    Ok(t)
}

pub(super) fn from_value(v: &Value) -> Result<Schema> {
    let m = v.as_object().ok_or_else(|| err("a stored schema must be a mapping"))?;
    let engine = m.get("engine_version").and_then(Value::as_u64).unwrap_or(ENGINE_VERSION);
    if engine > ENGINE_VERSION {
        return Err(err(format!("schema engine version {engine} is newer than this stevedore supports ({ENGINE_VERSION})"))
            .with_hint("upgrade stevedore"));
    }
    let name = m.get("name").and_then(Value::as_str).ok_or_else(|| err("stored schema has no `name`"))?;
    let mut s = Schema::new(name);
    s.tables.clear();
    s.version = m.get("version").and_then(Value::as_u64).unwrap_or(1);
    s.version_hash = m.get("version_hash").and_then(Value::as_str).unwrap_or_default().to_string();
    s.previous_hashes = m
        .get("previous_hashes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default();
    s.description = m.get("description").and_then(Value::as_str).map(String::from);
    if let Some(tables) = m.get("tables").and_then(Value::as_object) {
        for (tn, tv) in tables {
            s.tables.insert(tn.clone(), table_from_value(tn, tv)?);
        }
    }
    if let Some(st) = m.get("settings").and_then(Value::as_object) {
        let mut settings = Settings { default_hints: IndexMap::new(), ..Settings::default() };
        if let Some(d) = st.get("detections").and_then(Value::as_array) {
            settings.detections = d.iter().filter_map(|x| x.as_str().map(String::from)).collect();
        }
        if let Some(h) = st.get("default_hints").and_then(Value::as_object) {
            for (k, v) in h {
                let pats = v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect());
                settings.default_hints.insert(k.clone(), pats.unwrap_or_default());
            }
        } else {
            settings.default_hints = Settings::default().default_hints;
        }
        if let Some(p) = st.get("preferred_types").and_then(Value::as_object) {
            for (k, v) in p {
                if let Some(t) = v.as_str() {
                    settings.preferred_types.insert(k.clone(), t.parse()?);
                }
            }
        }
        settings.schema_contract = st.get("schema_contract").cloned();
        s.settings = settings;
    }
    if let Some(n) = m.get("normalizers").and_then(Value::as_object) {
        if let Some(names) = n.get("names").and_then(Value::as_str) {
            s.naming = names.to_string();
        }
        if let Some(cfg) = n.get("json").and_then(|j| j.get("config")).and_then(Value::as_object) {
            s.normalizer_config = cfg.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        }
    }
    for req in [super::VERSION_TABLE, super::LOADS_TABLE] {
        if !s.tables.contains_key(req) {
            let t = if req == super::VERSION_TABLE { super::version_table() } else { super::loads_table() };
            s.tables.insert(req.into(), t);
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn yaml_round_trip_keeps_everything() {
        let mut s = Schema::new("events");
        let mut t = Table::new("events");
        t.write_disposition = Some(WriteDisposition::Merge);
        t.resource = Some("events".into());
        t.add_column(Column::new("id", DataType::Bigint).not_null().hint("primary_key"));
        t.add_column(Column::new("amount", DataType::Decimal));
        t.columns.get_mut("amount").unwrap().precision = Some(10);
        t.columns.get_mut("amount").unwrap().scale = Some(2);
        t.extra.insert("x-merge-strategy".into(), serde_json::json!("upsert"));
        s.update_table(t).unwrap();
        s.update_table(Table::nested("events__items", "events")).unwrap();
        s.bump_version();
        let y = s.to_yaml();
        assert!(y.contains("engine_version: 11"), "{y}");
        assert!(y.contains("primary_key: true"));
        let back = Schema::from_yaml(&y).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.content_hash(), s.version_hash);
    }

    #[test]
    fn reads_dlt_complex_as_json() {
        let y = "version: 3\nversion_hash: abc\nengine_version: 9\nname: x\ntables:\n  t:\n    columns:\n      c:\n        data_type: complex\n";
        let s = Schema::from_yaml(y).unwrap();
        assert_eq!(s.tables["t"].columns["c"].data_type, Some(DataType::Json));
        assert_eq!(s.tables["t"].write_disposition, Some(WriteDisposition::Append));
        assert!(s.tables.contains_key(LOADS_TABLE));
    }

    #[test]
    fn newer_engine_is_rejected() {
        let y = "engine_version: 99\nname: x\n";
        assert!(Schema::from_yaml(y).is_err());
    }
}

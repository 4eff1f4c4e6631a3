//! Pipeline state: `state.json` in the working folder, synced to the destination with every
//! load whose state changed (dlt's `_dlt_pipeline_state`, engine version 4).

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha3::{Digest, Sha3_256};

use crate::error::{Error, Result};

/// dlt's state engine version.
pub const STATE_ENGINE_VERSION: u64 = 4;

/// The pipeline state document.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineState {
    /// The whole document, including `_local`.
    pub doc: Map<String, Value>,
}

const HASH_EXCLUDED: [&str; 4] = ["_local", "_state_version", "_state_engine_version", "_version_hash"];

impl PipelineState {
    /// A fresh state.
    pub fn new(pipeline_name: &str, dataset_name: &str) -> Self {
        let mut doc = Map::new();
        doc.insert("_state_version".into(), json!(0));
        doc.insert("_state_engine_version".into(), json!(STATE_ENGINE_VERSION));
        doc.insert("pipeline_name".into(), json!(pipeline_name));
        doc.insert("dataset_name".into(), json!(dataset_name));
        doc.insert("schema_names".into(), json!([]));
        doc.insert("sources".into(), json!({}));
        doc.insert("_local".into(), json!({"first_run": true}));
        PipelineState { doc }
    }

    /// Reads `state.json`, if any.
    pub fn read(path: &Path) -> Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(b) => {
                let v: Value = serde_json::from_slice(&b).map_err(|e| {
                    Error::invalid_data(format!("pipeline state is corrupted: {e}")).with("path", path.display().to_string())
                })?;
                match v {
                    Value::Object(doc) => Ok(Some(PipelineState { doc })),
                    _ => Err(Error::invalid_data("pipeline state is not an object").with("path", path.display().to_string())),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read pipeline state", path, e)),
        }
    }

    /// Writes `state.json` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::package::write_atomic(path, &serde_json::to_vec_pretty(&Value::Object(self.doc.clone()))?)
    }

    /// Sets a top-level key.
    pub fn set(&mut self, key: &str, v: Value) {
        self.doc.insert(key.into(), v);
    }

    /// A `_local` key.
    pub fn local(&self, key: &str) -> Option<&Value> {
        self.doc.get("_local").and_then(|l| l.get(key))
    }

    /// Sets a `_local` key (never synced).
    pub fn set_local(&mut self, key: &str, v: Value) {
        let l = self.doc.entry("_local").or_insert_with(|| json!({}));
        if let Value::Object(m) = l {
            m.insert(key.into(), v);
        }
    }

    /// Content hash (base64 sha3-256 of sorted JSON without `_local` and version keys).
    pub fn content_hash(&self) -> String {
        let mut m = self.doc.clone();
        for k in HASH_EXCLUDED {
            m.remove(k);
        }
        let mut text = String::new();
        crate::schema::canonical_json(&Value::Object(m), &mut text);
        base64::engine::general_purpose::STANDARD.encode(Sha3_256::digest(text.as_bytes()))
    }

    /// Bumps `_state_version` when the content changed; returns the current hash.
    pub fn bump_version(&mut self) -> String {
        let h = self.content_hash();
        if self.doc.get("_version_hash").and_then(Value::as_str) != Some(h.as_str()) {
            let v = self.doc.get("_state_version").and_then(Value::as_u64).unwrap_or(0) + 1;
            self.doc.insert("_state_version".into(), json!(v));
            self.doc.insert("_version_hash".into(), json!(h.clone()));
        }
        h
    }

    /// The document without `_local`, as synced to the destination.
    pub fn synced_doc(&self) -> Value {
        let mut m = self.doc.clone();
        m.remove("_local");
        Value::Object(m)
    }
}

/// dlt's compressed state: base64(zlib level 9(JSON)).
pub fn compress_state(doc: &Value) -> String {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(9));
    enc.write_all(serde_json::to_string(doc).expect("json").as_bytes()).expect("in-memory write");
    base64::engine::general_purpose::STANDARD.encode(enc.finish().expect("in-memory write"))
}

/// Reverses [`compress_state`].
pub fn decompress_state(s: &str) -> Result<Value> {
    use std::io::Read;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| Error::invalid_data(format!("stored state is not base64: {e}")))?;
    let mut out = String::new();
    flate2::read::ZlibDecoder::new(&raw[..])
        .read_to_string(&mut out)
        .map_err(|e| Error::invalid_data(format!("stored state does not decompress: {e}")))?;
    Ok(serde_json::from_str(&out)?)
}

/// The `_dlt_pipeline_state` row of a state document for a load.
pub fn state_row(doc: &Value, load_id: &str, created_at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "version": doc.get("_state_version").cloned().unwrap_or(json!(1)),
        "engine_version": STATE_ENGINE_VERSION,
        "pipeline_name": doc.get("pipeline_name").cloned().unwrap_or(Value::Null),
        "state": compress_state(doc),
        "created_at": created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        "version_hash": doc.get("_version_hash").cloned().unwrap_or(Value::Null),
        "_dlt_load_id": load_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_local_and_versions_bump() {
        let mut s = PipelineState::new("p", "d");
        let h1 = s.bump_version();
        assert_eq!(s.doc["_state_version"], json!(1));
        s.set_local("first_run", json!(false));
        assert_eq!(s.bump_version(), h1);
        assert_eq!(s.doc["_state_version"], json!(1));
        s.set("sources", json!({"x": {"cursor": 5}}));
        assert_ne!(s.bump_version(), h1);
        assert_eq!(s.doc["_state_version"], json!(2));
    }

    #[test]
    fn compression_round_trips() {
        let d = json!({"a": [1, 2, {"b": "ü"}]});
        assert_eq!(decompress_state(&compress_state(&d)).unwrap(), d);
    }
}

//! Reading what a pipeline left on disk: its stored schema, last load and package counts.

use super::*;

/// Reads a schema file saved by [`save_schema`].
pub fn read_schema(path: &Path) -> Result<Option<Schema>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(Schema::from_json(&t).map_err(|e| e.with("path", path.display().to_string()))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read schema", path, e)),
    }
}

/// Saves a schema as JSON (atomically).
pub fn save_schema(path: &Path, schema: &Schema) -> Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::io("create folder", p, e))?;
    }
    crate::package::write_atomic(path, schema.to_json_pretty().as_bytes())
}

/// What `stevedore info` shows: the last load of a pipeline in `pipelines_dir`.
pub fn last_load(pipelines_dir: &Path, pipeline: &str) -> Result<Option<Value>> {
    let p = pipelines_dir.join(pipeline).join("last_load.json");
    match std::fs::read(&p) {
        Ok(b) => Ok(Some(serde_json::from_slice(&b)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read last load", &p, e)),
    }
}

/// The stored schema of a pipeline in `pipelines_dir`.
pub fn stored_schema(pipelines_dir: &Path, pipeline: &str) -> Result<Option<Schema>> {
    read_schema(&pipelines_dir.join(pipeline).join("schemas").join(format!("{pipeline}.schema.json")))
}

/// Status of the packages of a pipeline: (pending, loaded, aborted) counts.
pub fn package_counts(pipelines_dir: &Path, pipeline: &str) -> Result<(usize, usize, usize)> {
    let s = LoadStorage::open(&pipelines_dir.join(pipeline))?;
    let loaded = s.loaded()?;
    let aborted = loaded.iter().filter(|p| p.completed_status() == Some(PackageStatus::Aborted)).count();
    Ok((s.pending()?.len(), loaded.len() - aborted, aborted))
}

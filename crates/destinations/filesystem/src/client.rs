//! The filesystem client: uploads job files under the layout, replaces tables, writes dlt's
//! state folders (`_dlt_loads`, `_dlt_pipeline_state`, `_dlt_version`) and the `init` file.
//!
//! Order of writes, so that a reader trusting `_dlt_loads` never sees a partial load:
//! data files (each written under a temporary name and renamed by the store), then, for
//! replaced tables, removal of the files that are not part of this load, then the state file,
//! and the `_dlt_loads/<schema>__<load_id>.jsonl` marker last.
//!
//! The bucket I/O (atomic puts, uploads within a per-client memory budget of
//! [`MEMORY_BUDGET_MIB`](stevedore_object_store::io::MEMORY_BUDGET_MIB), listing, deletes) is `stevedore_object_store::io`'s, shared with the
//! staging chain.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use object_store::ObjectStoreExt;
use serde_json::{Value, json};
use stevedore_core::destination::{DestinationClient, FollowupJob, JobInfo, JobOutcome, PackageInfo};
use stevedore_core::schema::{LOADS_TABLE, MergeStrategy, STATE_TABLE, TableFormat, VERSION_TABLE, WriteDisposition};
use stevedore_core::table_format::{TableFormatWriter, TableLocation, TableWrite, TableWriteMode};
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_object_store::Bucket;

use crate::config::{CurrentDatetime, FilesystemConfig};
use crate::layout::{Layout, PathParams};

/// Format of the followup job that removes a replaced table's old files.
pub const CLEANUP_FORMAT: &str = "replace_cleanup";

/// Format of the followup job that commits a table-format table's job files (one per table
/// and load).
pub const TABLE_COMMIT_FORMAT: &str = "table_commit";

/// The payload of a [`CLEANUP_FORMAT`] followup: a replaced table's files to keep (this
/// load's); every other file of the table is removed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplaceCleanup {
    /// The table.
    pub table: String,
    /// Its schema (the folder of its files with some layouts).
    pub schema_name: String,
    /// Paths of the files to keep, relative to the dataset folder.
    pub keep: Vec<String>,
}

/// The payload of a [`TABLE_COMMIT_FORMAT`] followup: the job files committed to a table
/// format (Delta) in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableCommit {
    /// The table.
    pub table: String,
    /// The package's job files of the table.
    pub files: Vec<std::path::PathBuf>,
}

/// File id and extension the paths of a package are checked with before its first write: a
/// file id has 10 characters, and `jsonl.gz` is the longest extension of a data file.
const SAMPLE_FILE_ID: &str = "0000000000";
const SAMPLE_EXT: &str = "jsonl.gz";

/// A client bound to one dataset folder.
pub struct FilesystemClient {
    pub(crate) bucket: Bucket,
    /// The bucket as table formats reach it (`deltalake_storage_options` applied).
    pub(crate) table_store: Bucket,
    pub(crate) table_formats: crate::TableFormats,
    pub(crate) memory: stevedore_object_store::io::UploadBudget,
    pub(crate) dataset: String,
    pub(crate) layout: Layout,
    pub(crate) config: FilesystemConfig,
    pub(crate) pipeline_name: String,
}

fn hex_of_b64(h: &str) -> String {
    match base64::engine::general_purpose::STANDARD.decode(h) {
        Ok(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Err(_) => h.chars().filter(|c| c.is_ascii_alphanumeric()).collect(),
    }
}

impl FilesystemClient {
    /// `path` under the dataset folder, as a path under the bucket.
    pub(crate) fn rel(&self, path: &str) -> String {
        format!("{}/{}", self.dataset, path)
    }

    fn current_datetime(&self, package: &PackageInfo) -> chrono::DateTime<chrono::Utc> {
        match &self.config.current_datetime {
            Some(CurrentDatetime::Fixed(d)) => *d,
            Some(CurrentDatetime::Callback(f)) => f(),
            None => package.created_at,
        }
    }

    /// Relative path (under the dataset) of a job's file. A path that would leave the dataset
    /// folder or has a name the file system refuses is a configuration error of the job's table.
    pub fn job_path(&self, package: &PackageInfo, job: &JobInfo) -> Result<String> {
        let ext = job.extension();
        self.layout
            .render(&PathParams {
                schema_name: &package.schema.name,
                table_name: &job.table,
                load_id: &package.load_id,
                file_id: &job.file_id,
                ext: &ext,
                current_datetime: self.current_datetime(package),
                load_package_timestamp: package.created_at,
            })
            .map_err(|e| self.layout_error(&e, &job.table))
    }

    /// A layout error of `table` as a configuration error naming the layout and the table.
    fn layout_error(&self, e: &crate::layout::LayoutError, table: &str) -> Error {
        crate::config::layout_error(e, &self.config.layout).with("table", table.to_string())
    }

    /// The table prefix of `table` (see [`Layout::table_prefix`]), checked.
    fn table_prefix(&self, schema_name: &str, table: &str) -> Result<String> {
        self.layout.table_prefix(schema_name, table).map_err(|e| self.layout_error(&e, table))
    }

    /// Checks, before anything of `package` is written, that the paths of its files stay under
    /// the dataset folder with names the file system accepts: the data files and prefixes of
    /// every table (rendered with a sample file id and the longest extension; values of extra
    /// placeholder callbacks are checked when each file is rendered) and the state files.
    fn check_package_paths(&self, package: &PackageInfo) -> Result<()> {
        let schema = &package.schema;
        let mut tables: Vec<&str> = package.tables.iter().map(|(t, _)| t.as_str()).collect();
        tables.extend(package.replace_tables.iter().map(String::as_str));
        for table in tables {
            if table == STATE_TABLE {
                continue;
            }
            self.table_prefix(&schema.name, table)?;
            if schema.table(table).is_some() && !matches!(self.table_writer(package, table), Ok(None)) {
                // a table format: files are named by its writer under the prefix (a format
                // without a writer fails its jobs, as before)
                continue;
            }
            let params = PathParams {
                schema_name: &schema.name,
                table_name: table,
                load_id: &package.load_id,
                file_id: SAMPLE_FILE_ID,
                ext: SAMPLE_EXT,
                current_datetime: self.current_datetime(package),
                load_package_timestamp: package.created_at,
            };
            self.layout.check_paths(&params).map_err(|e| self.layout_error(&e, table))?;
        }
        let hex = hex_of_b64(&schema.version_hash);
        let system = [
            format!("{LOADS_TABLE}/{}__{}.jsonl", schema.name, package.load_id),
            format!("{STATE_TABLE}/{}__{}__{hex}.jsonl", package.pipeline_name, package.load_id),
            format!("{VERSION_TABLE}/{}__{}__{hex}.jsonl", schema.name, package.load_id),
        ];
        for rel in system {
            crate::layout::check_path(&rel).map_err(|problem| {
                Error::config(format!("the state file `{rel}` cannot be written: {problem}"))
                    .with("schema", schema.name.clone())
                    .with("pipeline", package.pipeline_name.clone())
                    .with_hint(format!(
                        "use a pipeline (schema) name without `/`, `\\` or NUL, short enough for this file name to fit in {} bytes",
                        crate::layout::MAX_SEGMENT_BYTES
                    ))
            })?;
        }
        Ok(())
    }

    async fn cleanup_replaced(&self, job: ReplaceCleanup) -> Result<()> {
        let ReplaceCleanup { table, schema_name: schema, keep } = job;
        let keep: HashSet<String> = keep.into_iter().collect();
        let doomed: Vec<String> = self.table_files(&schema, &table).await?.into_iter().filter(|rel| !keep.contains(rel)).collect();
        let removed = self.bucket.delete_many(doomed, &self.dataset).await?;
        tracing::debug!(table = %table, removed, "replace: removed files of earlier loads");
        Ok(())
    }

    /// Every file of `table` in the bucket (paths under the bucket), found by its table prefix.
    pub(crate) async fn table_files(&self, schema_name: &str, table: &str) -> Result<Vec<String>> {
        let prefix = self.rel(&self.table_prefix(schema_name, table)?);
        let dir = self.rel(&self.layout.table_dir(schema_name, table).map_err(|e| self.layout_error(&e, table))?);
        let init = format!("{}/init", self.dataset);
        Ok(self
            .bucket
            .list(&dir)
            .await?
            .into_iter()
            .filter(|rel| rel.starts_with(&prefix) && !rel.ends_with("/init") && *rel != init)
            .collect())
    }

    /// The writer of `table`'s table format; `None` when the table is plain files. A table
    /// format without a registered writer is an error naming the feature to enable.
    fn table_writer(&self, package: &PackageInfo, table: &str) -> Result<Option<&Arc<dyn TableFormatWriter>>> {
        let Some(format) = package.plan(table)?.table_format else { return Ok(None) };
        if !matches!(format, TableFormat::Delta | TableFormat::Iceberg) {
            return Ok(None); // hive / native: plain files
        }
        match self.table_formats.get(format.as_str()) {
            Some(w) => Ok(Some(w)),
            None => Err(Error::new(
                ErrorKind::Unsupported,
                format!("table `{table}` has table_format `{format}`, which this build of the filesystem destination cannot write"),
            )
            .with("table", table.to_string())
            .with_hint(match format {
                TableFormat::Delta => {
                    "build stevedore with feature `delta` (the CLI has it by default), or register a writer with Filesystem::builder().table_format(..)"
                }
                _ => "only the `delta` table format is implemented; remove the table_format hint to write plain files",
            })),
        }
    }

    /// Where `table`'s table-format table lives: `<bucket>/<dataset>/<table prefix>` (dlt's
    /// layout rule: the table has its own folder).
    fn table_location(&self, schema_name: &str, table: &str) -> Result<TableLocation> {
        self.layout.check_table_own_folder().map_err(|e| {
            Error::config(format!("table `{table}` is a table-format table but the layout does not give it its own folder: {e}"))
                .with("layout", self.config.layout.clone())
                .with_hint("use a layout that starts with {table_name}/ (the default does)")
        })?;
        let prefix = self.table_prefix(schema_name, table)?;
        let rel = self.rel(prefix.trim_end_matches('/'));
        let (url, store) = match &self.table_store.url {
            stevedore_object_store::BucketUrl::Local(root) => (format!("file://{}", root.join(&rel).display()), None),
            _ => (self.table_store.url_of(&rel), Some(self.table_store.store.clone())),
        };
        let mut secrets = self.table_store.context().secrets.expose().clone();
        secrets.extend(
            self.config
                .deltalake_storage_options
                .expose()
                .iter()
                .filter(|(k, v)| {
                    let k = k.to_ascii_lowercase();
                    !v.is_empty() && ["key", "secret", "token", "password", "sas", "signature"].iter().any(|s| k.contains(s))
                })
                .map(|(_, v)| v.clone()),
        );
        Ok(TableLocation {
            url,
            store,
            storage_options: self.config.deltalake_storage_options.clone(),
            secrets: stevedore_core::config::Secret::new(secrets),
        })
    }

    /// What one table's commit of this package does.
    fn table_write(
        &self,
        package: &PackageInfo,
        table: &str,
        files: Vec<std::path::PathBuf>,
        writer: &dyn TableFormatWriter,
    ) -> Result<TableWrite> {
        let schema = &package.schema;
        let t = schema.table(table).cloned().ok_or_else(|| {
            Error::new(ErrorKind::State, format!("table `{table}` is not in the package schema")).with("load_id", package.load_id.clone())
        })?;
        let mode = if package.replace_tables.iter().any(|r| r == table) {
            TableWriteMode::Overwrite
        } else {
            match package.plan(table)?.disposition {
                WriteDisposition::Replace => TableWriteMode::Overwrite,
                WriteDisposition::Merge => {
                    let strategy = schema
                        .merge_strategy(table)
                        .or_else(|| writer.merge_strategies().first().copied())
                        .unwrap_or(MergeStrategy::Upsert);
                    let keys: Vec<String> = if t.is_nested() {
                        vec![stevedore_core::schema::C_DLT_ID.to_string()]
                    } else {
                        t.columns_with_hint("primary_key").into_iter().map(|c| c.name.clone()).collect()
                    };
                    if keys.is_empty() {
                        // dlt: merge without a key appends
                        TableWriteMode::Append
                    } else {
                        TableWriteMode::Merge { strategy, keys }
                    }
                }
                _ => TableWriteMode::Append,
            }
        };
        Ok(TableWrite {
            table: t,
            location: self.table_location(&schema.name, table)?,
            files,
            mode,
            pipeline_name: package.pipeline_name.clone(),
            load_id: package.load_id.clone(),
        })
    }

    async fn commit_table(&self, package: &PackageInfo, job: TableCommit) -> Result<()> {
        let TableCommit { table, files } = job;
        let Some(writer) = self.table_writer(package, &table)? else {
            return Err(Error::new(ErrorKind::State, format!("table `{table}` has no table format")));
        };
        let write = self.table_write(package, &table, files, writer.as_ref())?;
        let started = std::time::Instant::now();
        let commit =
            writer.commit(&write).await.map_err(|e| if e.context_value("table").is_some() { e } else { e.with("table", table.clone()) })?;
        tracing::info!(
            table = %table,
            format = %writer.format(),
            mode = %write.mode,
            version = ?commit.version,
            rows = commit.rows,
            already_committed = commit.already_committed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "table format commit"
        );
        Ok(())
    }

    async fn cleanup_state_files(&self) -> Result<()> {
        if self.config.max_state_files <= 0 {
            return Ok(());
        }
        let mut mine: Vec<(f64, String)> = Vec::new();
        for rel in self.bucket.list(&self.rel(STATE_TABLE)).await? {
            let name = rel.rsplit('/').next().unwrap_or_default();
            let base = name.strip_suffix(".jsonl").unwrap_or(name);
            let parts: Vec<&str> = base.rsplitn(3, "__").collect();
            if parts.len() == 3
                && parts[2] == self.pipeline_name
                && let Ok(lid) = parts[1].parse::<f64>()
            {
                mine.push((lid, rel));
            }
        }
        mine.sort_by(|a, b| b.0.total_cmp(&a.0));
        let old: Vec<String> = mine.into_iter().skip(self.config.max_state_files as usize).map(|(_, rel)| rel).collect();
        self.bucket.delete_many(old, &self.dataset).await?;
        Ok(())
    }
}

#[async_trait]
impl DestinationClient for FilesystemClient {
    async fn begin_package(&self, package: &PackageInfo) -> Result<()> {
        self.check_package_paths(package)
    }

    async fn initialize_storage(&self) -> Result<()> {
        let init = self.rel("init");
        match self.bucket.store.head(&self.bucket.key(&init)).await {
            Ok(_) => Ok(()),
            Err(e) if self.bucket.classify(&e) == stevedore_object_store::Failure::NotFound => {
                self.bucket.put_atomic(&init, br#"{"initial_version":2,"current_version":2}"#.to_vec()).await
            }
            Err(e) => Err(self.bucket.error("check", &init, e)),
        }
    }

    async fn migrate_schema(&self, package: &PackageInfo) -> Result<()> {
        let schema = &package.schema;
        let hex = hex_of_b64(&schema.version_hash);
        let existing = self.bucket.list(&self.rel(VERSION_TABLE)).await?;
        let suffix = format!("__{hex}.jsonl");
        if existing
            .iter()
            .any(|p| p.rsplit('/').next().is_some_and(|n| n.starts_with(&format!("{}__", schema.name)) && n.ends_with(&suffix)))
        {
            return Ok(());
        }
        let now = chrono::Utc::now();
        let ts = format!("{}.{:06}", now.timestamp(), now.timestamp_subsec_micros());
        let doc = json!({
            "version_hash": schema.version_hash,
            "schema_name": schema.name,
            "version": schema.version,
            "engine_version": stevedore_core::schema::ENGINE_VERSION,
            "inserted_at": now.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
            "schema": serde_json::to_string(&schema.to_value())?,
        });
        self.bucket.put_atomic(&self.rel(&format!("{VERSION_TABLE}/{}__{ts}__{hex}.jsonl", schema.name)), serde_json::to_vec(&doc)?).await
    }

    async fn run_job(&self, package: &PackageInfo, job: &JobInfo) -> Result<JobOutcome> {
        if job.format == CLEANUP_FORMAT {
            self.cleanup_replaced(job.payload().await?).await?;
            return Ok(JobOutcome::default());
        }
        if job.table == STATE_TABLE {
            // the state goes to `_dlt_pipeline_state/` at complete_load, like dlt does
            return Ok(JobOutcome::default());
        }
        if job.format == TABLE_COMMIT_FORMAT {
            self.commit_table(package, job.payload().await?).await?;
            return Ok(JobOutcome::default());
        }
        if !job.is_data() {
            return Err(
                Error::new(ErrorKind::Unsupported, format!("filesystem cannot run `{}` jobs", job.format)).with("job", job.job_id())
            );
        }
        if let Some(writer) = self.table_writer(package, &job.table)? {
            // a table-format table: nothing is uploaded now; the file is checked (before any
            // commit of the package) and committed by the table's followup job
            if job.format != "parquet" {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("table `{}` has table_format `{}` but its job file is {}", job.table, writer.format(), job.format),
                )
                .with("table", job.table.clone())
                .with_hint("table-format tables are written as parquet; load the package again with a current stevedore"));
            }
            let write = self.table_write(package, &job.table, vec![job.path.clone()], writer.as_ref())?;
            writer
                .check(&write, &job.path)
                .await
                .map_err(|e| if e.context_value("table").is_some() { e } else { e.with("table", job.table.clone()) })?;
            return Ok(JobOutcome::default());
        }
        let rel = self.rel(&self.job_path(package, job)?);
        self.bucket.upload_file(&job.path, &rel, &self.memory).await.map_err(|e| e.with("table", job.table.clone()))?;
        Ok(JobOutcome { remote_url: Some(self.bucket.url_of(&rel)) })
    }

    async fn discard_package(&self, package: &PackageInfo, jobs: &[JobInfo]) -> Result<()> {
        let mut doomed = Vec::new();
        for job in jobs {
            // the state is written at complete_load; table-format files are not visible
            // before their table's commit, which is a followup
            if job.table == STATE_TABLE || self.table_writer(package, &job.table)?.is_some() {
                continue;
            }
            // a path that cannot be rendered was never written
            if let Ok(path) = self.job_path(package, job) {
                doomed.push(self.rel(&path));
            }
        }
        let n = self.bucket.remove_written(doomed, &self.dataset).await?;
        tracing::info!(load_id = %package.load_id, files = n, "removed the files of an aborted load");
        Ok(())
    }

    async fn create_followup_jobs(&self, package: &PackageInfo, completed: &[JobInfo]) -> Result<Vec<FollowupJob>> {
        let mut out = Vec::new();
        // one commit per table-format table: the tables with rows in this package, and the
        // replaced ones without rows (an empty overwrite, so a replace with no rows empties
        // them, as it does plain tables; dlt leaves such nested Delta tables untouched)
        let mut commit_tables: Vec<&str> = package.tables.iter().map(|(t, _)| t.as_str()).collect();
        for t in &package.replace_tables {
            if !commit_tables.contains(&t.as_str()) {
                commit_tables.push(t);
            }
        }
        for table in commit_tables {
            if self.table_writer(package, table)?.is_none() {
                continue;
            }
            let files = completed.iter().filter(|j| j.table == table && j.is_data()).map(|j| j.path.clone()).collect();
            out.push(FollowupJob::with_payload(table, TABLE_COMMIT_FORMAT, &TableCommit { table: table.to_string(), files })?);
        }
        for table in &package.replace_tables {
            if self.table_writer(package, table)?.is_some() {
                continue; // replaced by the overwrite commit
            }
            let keep: Vec<String> = completed
                .iter()
                .filter(|j| &j.table == table && j.is_data())
                .map(|j| match &j.remote_url {
                    Some(u) => {
                        Ok(u.strip_prefix(&format!("{}/", self.bucket.url.display().trim_end_matches('/'))).unwrap_or(u).to_string())
                    }
                    None => Ok(self.rel(&self.job_path(package, j)?)),
                })
                .collect::<Result<_>>()?;
            let cleanup = ReplaceCleanup { table: table.clone(), schema_name: package.schema.name.clone(), keep };
            out.push(FollowupJob::with_payload(table.clone(), CLEANUP_FORMAT, &cleanup)?);
        }
        Ok(out)
    }

    async fn complete_load(&self, package: &PackageInfo) -> Result<()> {
        let schema = &package.schema;
        let hex = hex_of_b64(&schema.version_hash);
        if let Some(doc) = &package.state {
            let row = stevedore_core::state::state_row(doc, &package.load_id, package.created_at);
            let rel = self.rel(&format!("{STATE_TABLE}/{}__{}__{hex}.jsonl", package.pipeline_name, package.load_id));
            self.bucket.put_atomic(&rel, serde_json::to_vec(&row)?).await?;
            self.cleanup_state_files().await?;
        }
        let marker = json!({
            "load_id": package.load_id,
            "schema_name": schema.name,
            "status": 0,
            "inserted_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
            "schema_version_hash": schema.version_hash,
        });
        self.bucket
            .put_atomic(&self.rel(&format!("{LOADS_TABLE}/{}__{}.jsonl", schema.name, package.load_id)), serde_json::to_vec(&marker)?)
            .await
    }

    async fn stored_state(&self, pipeline_name: &str) -> Result<Option<Value>> {
        let mut best: Option<(f64, String)> = None;
        for rel in self.bucket.list(&self.rel(STATE_TABLE)).await? {
            let name = rel.rsplit('/').next().unwrap_or_default();
            let base = name.strip_suffix(".jsonl").unwrap_or(name);
            let parts: Vec<&str> = base.rsplitn(3, "__").collect();
            if parts.len() == 3
                && parts[2] == pipeline_name
                && let Ok(l) = parts[1].parse::<f64>()
                && best.as_ref().is_none_or(|(b, _)| l > *b)
            {
                best = Some((l, rel));
            }
        }
        let Some((_, rel)) = best else { return Ok(None) };
        let data = self.bucket.store.get(&self.bucket.key(&rel)).await.map_err(|e| self.bucket.error("read", &rel, e))?;
        let bytes = data.bytes().await.map_err(|e| self.bucket.error("read", &rel, e))?;
        let row: Value = serde_json::from_slice(&bytes)?;
        let state = row["state"].as_str().ok_or_else(|| Error::invalid_data("state file has no `state`").with("path", rel.clone()))?;
        Ok(Some(stevedore_core::state::decompress_state(state)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Followups written before payloads were typed (the `json!` documents below are what the
    /// earlier writer produced) still read, so packages left pending by it resume.
    #[test]
    fn followups_of_earlier_versions_still_read() {
        let earlier = json!({"table": "events", "schema_name": "s", "keep": ["events/1.a.jsonl"]});
        let cleanup: ReplaceCleanup = serde_json::from_slice(&serde_json::to_vec(&earlier).unwrap()).unwrap();
        assert_eq!((cleanup.table.as_str(), cleanup.schema_name.as_str(), cleanup.keep.len()), ("events", "s", 1));
        let earlier = json!({"table": "events", "files": ["/p/load/new/1/new_jobs/events.a.0.parquet"]});
        let commit: TableCommit = serde_json::from_slice(&serde_json::to_vec(&earlier).unwrap()).unwrap();
        assert_eq!(commit.files, vec![std::path::PathBuf::from("/p/load/new/1/new_jobs/events.a.0.parquet")]);
    }
}

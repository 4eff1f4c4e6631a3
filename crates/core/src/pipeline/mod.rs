//! The pipeline: extract and normalize a source into a load package, then load it.
//!
//! ```no_run
//! # async fn demo() -> stevedore_core::Result<()> {
//! use stevedore_core::pipeline::Pipeline;
//! use stevedore_core::source::Resource;
//! # let destination: std::sync::Arc<dyn stevedore_core::destination::Destination> = unimplemented!();
//! let pipeline = Pipeline::builder("events").destination(destination).build()?;
//! let info = pipeline
//!     .run(Resource::from_values("events", vec![serde_json::json!({"id": 1, "tags": ["a"]})]))
//!     .await?;
//! println!("{info}");
//! # Ok(()) }
//! ```

pub mod lock;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use serde_json::{Value, json};

use crate::config::{Config, SectionSpec};
use crate::destination::Destination;
use crate::error::{Error, ErrorKind, Result};
use crate::fingerprint::{self, ContentDigest, Fingerprint, Recorder, ValueDigest};
use crate::loader::{JobMetrics, LoaderOptions, PackageLoad, Staging, load_package};
use crate::lock::PipelineLock;
use crate::naming::{NamingConvention, SnakeCase};
use crate::normalize::{BatchSink, JVal, Normalizer, NormalizerOptions};
use crate::package::{LoadStorage, Manifest, ManifestTable, Package, PackageStatus};
use crate::schema::{Column, Schema, Table, TableFormat, WriteDisposition};
use crate::source::{InputKind, ResourceData, Source, input_kind, open_json, read_csv, read_parquet};
use crate::staging::StagingDestination;
use crate::state::{PipelineState, state_row};
use crate::writers::{FileFormat, TableWriter, WriterConfig};

mod builder;
mod extract;
mod hints;
mod info;
mod inspect;
mod specs;

pub use self::builder::*;
use self::extract::*;
use self::hints::*;
pub use self::info::*;
pub use self::inspect::*;
pub use self::specs::*;

/// A named pipeline with a working folder, a destination and a dataset.
pub struct Pipeline {
    name: String,
    working_dir: PathBuf,
    destination: Arc<dyn Destination>,
    staging: Option<Arc<dyn StagingDestination>>,
    /// Preferred and possible loader file formats (the staging formats through a staging
    /// storage).
    formats: (FileFormat, Vec<FileFormat>),
    dataset_name: String,
    config: Config,
    format: Option<FileFormat>,
    compression: bool,
    file_max_items: Option<usize>,
    file_max_bytes: Option<u64>,
    loader: LoaderOptions,
    normalizer: NormalizerOptions,
    progress: Option<ProgressFn>,
    wait_for_lock: bool,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("name", &self.name)
            .field("working_dir", &self.working_dir)
            .field("destination", &self.destination)
            .field("staging", &self.staging)
            .field("dataset_name", &self.dataset_name)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A builder for a pipeline named `name`.
    pub fn builder(name: &str) -> PipelineBuilder {
        PipelineBuilder {
            name: name.into(),
            destination: None,
            staging: None,
            dataset_name: None,
            pipelines_dir: None,
            config: None,
            format: None,
            progress: None,
            wait_for_lock: false,
        }
    }
    /// Name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Working folder (`<pipelines_dir>/<name>`).
    pub fn working_dir(&self) -> &Path {
        &self.working_dir
    }
    /// Dataset name.
    pub fn dataset_name(&self) -> &str {
        &self.dataset_name
    }
    /// Configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// Default schema name (the pipeline name).
    pub fn schema_name(&self) -> &str {
        &self.name
    }

    fn schema_path(&self) -> PathBuf {
        self.working_dir.join("schemas").join(format!("{}.schema.json", self.schema_name()))
    }

    /// The stored schema, if the pipeline ran before.
    pub fn schema(&self) -> Result<Option<Schema>> {
        read_schema(&self.schema_path())
    }

    fn naming(&self) -> Arc<dyn NamingConvention> {
        let caps = self.destination.capabilities();
        Arc::new(SnakeCase::new(caps.max_identifier_length))
    }

    fn emit(&self, p: Progress) {
        if let Some(f) = &self.progress {
            f(&p);
        }
    }

    /// Takes the pipeline's lock (see [`crate::lock`]) for one run.
    async fn lock(&self) -> Result<PipelineLock> {
        if !self.wait_for_lock {
            return PipelineLock::try_acquire(&self.working_dir, &self.name);
        }
        let dir = self.working_dir.clone();
        let name = self.name.clone();
        let progress = self.progress.clone();
        tokio::task::spawn_blocking(move || {
            PipelineLock::acquire_waiting(&dir, &name, |holder| {
                tracing::info!(pipeline = %name, holder, "waiting for another run of the pipeline to finish");
                if let Some(p) = &progress {
                    p(&Progress::WaitingForLock { holder: holder.to_string() });
                }
            })
        })
        .await
        .map_err(|e| Error::internal(format!("lock task failed: {e}")))?
    }

    /// The pipeline's load storage, without packages an interrupted extract left unfinished.
    fn storage(&self) -> Result<LoadStorage> {
        let storage = LoadStorage::open(&self.working_dir)?;
        let dropped = storage.discard_unfinished()?;
        if dropped > 0 {
            tracing::info!(count = dropped, "discarded unfinished (never loadable) packages");
        }
        Ok(storage)
    }

    /// Loads packages left pending by an earlier run (after a crash or a transient failure).
    pub async fn load_pending(&self) -> Result<Vec<PackageLoad>> {
        Ok(self.resume().await?.packages)
    }

    /// Finishes the packages left pending by earlier runs and loads nothing new (`stevedore
    /// load --resume-only`).
    pub async fn resume(&self) -> Result<LoadInfo> {
        let _lock = self.lock().await?;
        let storage = self.storage()?;
        let pending = storage.pending()?;
        let mut info = self.info_for(Vec::new());
        if pending.is_empty() {
            info.notes.push("no pending load packages: nothing to resume".into());
        }
        if let Some(last) = pending.last() {
            let (tables, records) = package_tables(last)?;
            info.tables = tables;
            info.records = records;
        }
        let t = Instant::now();
        self.load_pending_into(&storage, &pending, None, &mut info).await?;
        info.load_elapsed = t.elapsed();
        Ok(info)
    }

    /// Loads `pending` (oldest first) into `info`, with a note for each; `same_as` is the
    /// package that already held this run's input and why nothing new was loaded for it.
    async fn load_pending_into(
        &self,
        storage: &LoadStorage,
        pending: &[Package],
        same_as: Option<(&str, &str)>,
        info: &mut LoadInfo,
    ) -> Result<()> {
        for pkg in pending {
            match same_as {
                Some((lid, what)) if lid == pkg.load_id => {
                    let (tables, records) = package_tables(pkg)?;
                    info.tables = tables;
                    info.records = records;
                    let note = format!("resumed load {lid}; the input was already in it, {what}");
                    tracing::info!("{note}");
                    info.notes.push(note);
                }
                _ => info.notes.push(format!("resumed load {} left pending by an earlier run", pkg.load_id)),
            }
            info.packages.push(self.load_one(storage, pkg).await?);
        }
        Ok(())
    }

    /// Drops the packages left pending by earlier runs for good (dlt's `dlt pipeline NAME
    /// drop-pending-packages`): what their jobs already wrote to the destination is removed,
    /// then the packages are deleted. Returns their load ids.
    pub async fn drop_pending_packages(&self) -> Result<Vec<String>> {
        let _lock = self.lock().await?;
        let storage = self.storage()?;
        let mut dropped = Vec::new();
        for pkg in storage.pending()? {
            let mut info = pkg.info()?;
            info.plan_tables(&self.destination.capabilities());
            let client = self.destination.client(&self.dataset_name, &self.name).await?;
            crate::loader::discard(&pkg, client.as_ref(), &info).await?;
            dropped.push(pkg.load_id.clone());
            pkg.remove()?;
        }
        Ok(dropped)
    }

    fn info_for(&self, packages: Vec<PackageLoad>) -> LoadInfo {
        LoadInfo {
            pipeline_name: self.name.clone(),
            destination_name: self.destination.name().to_string(),
            destination_location: self.destination.display_location(),
            staging_location: self.staging.as_ref().map(|s| s.display_location()),
            dataset_name: self.dataset_name.clone(),
            packages,
            tables: BTreeMap::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
            records: 0,
            normalize_elapsed: Duration::ZERO,
            load_elapsed: Duration::ZERO,
        }
    }

    async fn load_one(&self, storage: &LoadStorage, pkg: &Package) -> Result<PackageLoad> {
        let client = self.destination.client(&self.dataset_name, &self.name).await?;
        let progress = |m: &JobMetrics| self.emit(Progress::Job(m.clone()));
        let stage_client = match &self.staging {
            Some(s) => Some(s.client(&self.dataset_name, &self.name).await?),
            None => None,
        };
        let caps = self.destination.capabilities();
        let staging = stage_client
            .as_deref()
            .map(|c| Staging { client: c, truncate_before_load: caps.truncate_tables_on_staging_destination_before_load });
        let r = load_package(storage, pkg, client.as_ref(), &caps, staging.as_ref(), &self.loader, &progress).await;
        let record = match &r {
            Ok(p) => json!({"load_id": p.load_id, "status": p.status, "finished_at": chrono::Utc::now(),
                "jobs": p.jobs.len(), "elapsed_s": p.elapsed.as_secs_f64()}),
            Err(e) => json!({"load_id": pkg.load_id, "status": "failed", "finished_at": chrono::Utc::now(), "error": e.to_string()}),
        };
        let mut last = record;
        if let Ok(m) = storage.loaded().and_then(|l| l.into_iter().find(|p| p.load_id == pkg.load_id).map(|p| p.manifest()).transpose())
            && let Some(m) = m
        {
            last["tables"] = json!(m.tables);
        }
        last["destination"] = json!(self.destination.name());
        last["location"] = json!(self.destination.display_location());
        last["dataset_name"] = json!(self.dataset_name);
        crate::package::write_atomic(&self.working_dir.join("last_load.json"), &serde_json::to_vec_pretty(&last)?)?;
        r
    }

    /// Extracts and normalizes `source` into a new load package, then loads every pending
    /// package (older ones first) and the new one. On bad input nothing of the new package
    /// becomes visible.
    ///
    /// Exactly once under a rerun: when a package left pending by an earlier run (a crash, a
    /// kill, a failed connection, a full disk) was extracted from the same input (see
    /// [`crate::fingerprint`]), that package is finished and the input is not loaded a second
    /// time. One run per pipeline at a time (see [`crate::lock`]).
    pub async fn run(&self, source: impl Into<Source>) -> Result<LoadInfo> {
        let source = source.into();
        let _lock = self.lock().await?;
        let storage = self.storage()?;
        let pending = storage.pending()?;
        let mut info = self.info_for(Vec::new());

        let t0 = Instant::now();
        let mut same_as: Option<(String, &str)> = None;
        if let Some(fp) = fingerprint::before_reading(&source)?
            && let Some(p) = find_pending(&pending, &fp)?
        {
            same_as = Some((p.load_id.clone(), "not extracted again"));
        }
        let mut new_pkg = None;
        if same_as.is_none() {
            match self.extract_normalize(&storage, source, &pending)? {
                Extracted::New { pkg, tables, records, warnings } => {
                    info.tables = tables;
                    info.records = records;
                    info.warnings = warnings;
                    new_pkg = Some(pkg);
                }
                Extracted::AlreadyPending { load_id } => same_as = Some((load_id, "the copy read now was dropped")),
            }
        }
        info.normalize_elapsed = t0.elapsed();

        let t1 = Instant::now();
        self.load_pending_into(&storage, &pending, same_as.as_ref().map(|(l, w)| (l.as_str(), *w)), &mut info).await?;
        if let Some(pkg) = new_pkg {
            info.packages.push(self.load_one(&storage, &pkg).await?);
        }
        info.load_elapsed = t1.elapsed();
        Ok(info)
    }

    fn writer_config(&self, schema: &Schema, table: &str) -> WriterConfig {
        let caps = self.destination.capabilities();
        let preferred = self.formats.0;
        // the root table carries the hints; child tables created during this run are not in
        // the snapshot yet, so their root is found by name
        let root = schema.root_table(table).or_else(|| {
            schema.data_tables().filter(|t| !t.is_nested() && table.starts_with(&format!("{}__", t.name))).max_by_key(|t| t.name.len())
        });
        let hinted = root.and_then(|t| t.file_format.as_deref()).and_then(FileFormat::parse);
        // a table-format table (delta, iceberg) is always written as parquet, whatever
        // loader_file_format says (as in dlt)
        let table_format = root.and_then(|t| t.table_format);
        let format = if table == crate::schema::STATE_TABLE {
            preferred
        } else if matches!(table_format, Some(TableFormat::Delta | TableFormat::Iceberg)) {
            FileFormat::Parquet
        } else {
            hinted.or(self.format).unwrap_or(preferred)
        };
        let mut cfg = WriterConfig::new(format);
        cfg.compression = self.compression;
        cfg.file_max_items = self.file_max_items;
        cfg.file_max_bytes = self.file_max_bytes.or(caps.recommended_file_size);
        cfg.sql_literals = caps.insert_values_literals;
        if !caps.compress_parquet_job_files && self.staging.is_none() {
            cfg.parquet_compression = parquet::basic::Compression::UNCOMPRESSED;
        }
        cfg
    }

    fn extract_normalize(&self, storage: &LoadStorage, source: Source, pending: &[Package]) -> Result<Extracted> {
        if let Some(f) = self.format
            && !self.formats.1.contains(&f)
        {
            let through = if self.staging.is_some() { " through a staging storage" } else { "" };
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("destination {} does not accept {} files{through}", self.destination.name(), f.extension()),
            )
            .with_hint(format!("use one of: {}", self.formats.1.iter().map(|f| f.extension()).collect::<Vec<_>>().join(", "))));
        }
        // load ids grow: after every package this pipeline ever made (`pending` are all the
        // loadable ones; this run holds the lock, so no other appears)
        let loaded = storage.loaded()?;
        let last_id = loaded.iter().chain(pending).map(|p| p.load_id.clone()).max();
        let now = chrono::Utc::now();
        let load_id = crate::time::new_load_id(now, last_id.as_deref());
        let pkg = storage.create(&load_id)?;
        let n = match self.normalize_into(&pkg, &load_id, now, source) {
            Ok(n) => n,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&pkg.dir);
                return Err(e);
            }
        };
        if let Some(p) = n.manifest.inputs.as_ref().map(|fp| find_pending(pending, fp)).transpose()?.flatten() {
            // the input was read and it is what a pending package holds: that package loads
            // it; this copy is dropped before it becomes loadable
            let _ = std::fs::remove_dir_all(&pkg.dir);
            return Ok(Extracted::AlreadyPending { load_id: p.load_id.clone() });
        }
        let pkg = storage.commit(pkg, &n.manifest, &n.schema)?;
        save_schema(&self.schema_path(), &n.schema)?;
        if n.manifest.state.is_some() {
            let state_path = self.working_dir.join("state.json");
            if let Some(mut st) = PipelineState::read(&state_path)? {
                let h = st.content_hash();
                st.set_local("_last_extracted_hash", json!(h));
                st.set_local("first_run", json!(false));
                st.write(&state_path)?;
            }
        }
        Ok(Extracted::New { pkg, tables: n.tables, records: n.manifest.records, warnings: n.warnings })
    }

    fn normalize_into(
        &self,
        pkg: &Package,
        load_id: &str,
        created_at: chrono::DateTime<chrono::Utc>,
        source: Source,
    ) -> Result<Normalized> {
        let naming = self.naming();
        let mut schema = self.schema()?.unwrap_or_else(|| Schema::new(self.schema_name()));

        // apply resource hints before data, so declared types and keys win
        let mut roots = Vec::new();
        for r in &source.resources {
            let table = naming.normalize_tables_path(r.hints.table_name.as_deref().unwrap_or(&r.name));
            apply_hints(&mut schema, &table, &r.name, &r.hints, naming.as_ref())?;
            roots.push(table);
        }

        // state
        let state_path = self.working_dir.join("state.json");
        let mut state = PipelineState::read(&state_path)?.unwrap_or_else(|| PipelineState::new(&self.name, &self.dataset_name));
        state.set("dataset_name", json!(self.dataset_name));
        state.set("default_schema_name", json!(self.schema_name()));
        state.set("schema_names", json!([self.schema_name()]));
        state.set("destination_name", json!(self.destination.name()));
        state.set("destination_type", json!(self.destination.name()));
        let h = state.bump_version();
        state.write(&state_path)?;
        let state_changed = state.local("_last_extracted_hash").and_then(Value::as_str) != Some(h.as_str());
        let state_doc = state_changed.then(|| state.synced_doc());
        if state_doc.is_some() {
            schema.ensure_state_table();
        }

        let snapshot = schema.clone();
        let config_for = |t: &str| self.writer_config(&snapshot, t);
        let mut sink = PackageSink { dir: pkg.new_jobs_dir(), writers: HashMap::new(), config_for: &config_for };
        let mut ctx = RunCtx {
            naming: naming.clone(),
            load_id: load_id.to_string(),
            dir: pkg.new_jobs_dir(),
            config_for: &config_for,
            worker_sinks: Vec::new(),
            worker_rows: HashMap::new(),
        };
        let mut records: u64 = 0;
        let mut inputs = Recorder::default();
        let warnings: Vec<String>;
        let (schema, stats) = {
            let mut n = Normalizer::new(schema, naming.clone(), load_id, self.normalizer.clone(), &mut sink);
            for (r, table) in source.resources.into_iter().zip(roots.iter()) {
                inputs.resource(&r);
                self.push_resource(&mut n, table, r.data, &mut records, &mut ctx, &mut inputs)?;
            }
            if let Some(doc) = &state_doc {
                let t = n.root_table(crate::schema::STATE_TABLE)?;
                let row = state_row(doc, load_id, created_at);
                n.push(t, &JVal::from_value(&row, &bumpalo::Bump::new()))?;
            }
            n.mark_seen(ctx.worker_rows.iter().filter(|(_, r)| **r > 0).map(|(t, _)| t.clone()));
            warnings = n.take_warnings().iter().map(ToString::to_string).collect();
            n.finish()?
        };
        let mut tables: BTreeMap<String, TableMetrics> = BTreeMap::new();
        sink.finish_into(&mut tables)?;
        for ws in ctx.worker_sinks {
            ws.finish_into(&mut tables)?;
        }
        for (name, st) in &stats {
            let rows = st.rows + ctx.worker_rows.get(name).copied().unwrap_or(0);
            if rows > 0 {
                tables.entry(name.clone()).or_default().rows = rows;
            }
        }
        for (name, rows) in &ctx.worker_rows {
            if *rows > 0 && !stats.contains_key(name) {
                tables.entry(name.clone()).or_default().rows = *rows;
            }
        }
        let mut schema = schema;
        schema.bump_version();
        let mut replace_tables = Vec::new();
        for root in &roots {
            if schema.write_disposition(root) == WriteDisposition::Replace {
                replace_tables.push(root.clone());
                replace_tables.extend(schema.nested_tables(root).into_iter().map(|t| t.name.clone()));
            }
        }
        let manifest = Manifest {
            format_version: crate::package::PACKAGE_FORMAT_VERSION,
            load_id: load_id.to_string(),
            pipeline_name: self.name.clone(),
            schema_name: schema.name.clone(),
            created_at,
            tables: tables
                .iter()
                .filter(|(_, m)| m.rows > 0)
                .map(|(n, m)| ManifestTable { name: n.clone(), write_disposition: schema.write_disposition(n), rows: m.rows })
                .collect(),
            replace_tables,
            state: state_doc,
            inputs: inputs.finish(),
            records,
        };
        Ok(Normalized { manifest, schema, tables, warnings })
    }

    fn push_resource<'c>(
        &self,
        n: &mut Normalizer<'_>,
        root: &str,
        data: ResourceData,
        records: &mut u64,
        ctx: &mut RunCtx<'c>,
        inputs: &mut Recorder,
    ) -> Result<()> {
        let t = n.root_table(root)?;
        match data {
            ResourceData::Values(it) => {
                let mut arena = bumpalo::Bump::new();
                let mut digest = ValueDigest::default();
                for v in it {
                    let v = v?;
                    digest.add(&v);
                    // an array value is a batch of records, as in dlt
                    let k = n.push_item(t, &JVal::from_value(&v, &arena))?;
                    arena.reset();
                    for _ in 0..k {
                        self.count(records);
                    }
                }
                inputs.input(digest.id());
            }
            ResourceData::JsonLines { origin, reader } => {
                let digest = ContentDigest::new(&origin);
                self.push_jsonl(n, root, &origin, Box::new(digest.reader(reader)), records, ctx)?;
                inputs.input(digest.id());
            }
            ResourceData::Arrow(it) => {
                inputs.unknown();
                for b in it {
                    let b = b?;
                    *records += b.num_rows() as u64;
                    n.push_arrow(t, &b)?;
                }
            }
            ResourceData::Files(files) => {
                for f in files {
                    if f.as_os_str() == "-" {
                        let digest = ContentDigest::new("-");
                        let reader: Box<dyn BufRead + Send> =
                            Box::new(digest.reader(std::io::BufReader::with_capacity(1 << 20, std::io::stdin())));
                        self.push_jsonl(n, root, "-", reader, records, ctx)?;
                        inputs.input(digest.id());
                        continue;
                    }
                    inputs.input(fingerprint::file_id(&f)?);
                    match input_kind(&f)? {
                        InputKind::JsonLines => {
                            let r = open_json(&f)?;
                            self.push_jsonl(n, root, &f.display().to_string(), r, records, ctx)?;
                        }
                        kind @ (InputKind::Csv | InputKind::Parquet) => {
                            let batches = if kind == InputKind::Csv {
                                read_csv(&f, self.normalizer.batch_rows)?
                            } else {
                                read_parquet(&f, self.normalizer.batch_rows)?
                            };
                            for b in batches {
                                let b = b?;
                                *records += b.num_rows() as u64;
                                n.push_arrow(t, &b)?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn count(&self, records: &mut u64) {
        *records += 1;
        if (*records).is_multiple_of(50_000) {
            self.emit(Progress::Extracted { records: *records });
        }
    }

    fn push_jsonl<'c>(
        &self,
        n: &mut Normalizer<'_>,
        root: &str,
        origin: &str,
        mut reader: Box<dyn BufRead + Send>,
        records: &mut u64,
        ctx: &mut RunCtx<'c>,
    ) -> Result<()> {
        let base = *records;
        let on_records = |r: u64| {
            if r / 50_000 != r.saturating_sub(1) / 50_000 || r.is_multiple_of(50_000) {
                self.emit(Progress::Extracted { records: base + r });
            }
        };
        let workers = self.normalizer.workers;
        if workers <= 1 {
            *records += crate::parallel::normalize_sequential(n, root, origin, &mut reader, &on_records)?;
            return Ok(());
        }
        let config_for = ctx.config_for;
        let dir = ctx.dir.clone();
        let make_sink = move || PackageSink { dir: dir.clone(), writers: HashMap::new(), config_for };
        let out = crate::parallel::normalize_parallel(
            n,
            root,
            origin,
            &mut *reader,
            workers,
            ctx.naming.clone(),
            &ctx.load_id,
            &self.normalizer,
            &make_sink,
            &on_records,
        )?;
        tracing::debug!(chunks = out.chunks, sequential = out.sequential_chunks, "parallel normalization");
        *records += out.records;
        ctx.worker_sinks.extend(out.sinks);
        for (t, r) in out.worker_rows {
            *ctx.worker_rows.entry(t).or_default() += r;
        }
        Ok(())
    }
}

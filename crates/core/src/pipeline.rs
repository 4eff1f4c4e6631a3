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

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use serde_json::{Value, json};

use crate::config::{Config, KeySpec, SectionSpec, ValueKind};
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

/// `[data_writer]` / `[normalize.data_writer]` keys.
pub static DATA_WRITER_SPEC: SectionSpec = SectionSpec {
    path: &["normalize", "data_writer"],
    alt_paths: &[&["data_writer"]],
    keys: &[
        KeySpec::new("disable_compression", ValueKind::Bool, "write jsonl/csv without gzip"),
        KeySpec::new("buffer_max_items", ValueKind::Integer, "rows buffered per table before a batch is written"),
        KeySpec::new("file_max_items", ValueKind::Integer, "rotate job files after this many rows"),
        KeySpec::new("file_max_bytes", ValueKind::Integer, "rotate job files at this size"),
    ],
    children: &[],
};

/// `[load]` keys.
pub static LOAD_SPEC: SectionSpec = SectionSpec {
    path: &["load"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("workers", ValueKind::Integer, "parallel load jobs"),
        KeySpec::new("raise_on_failed_jobs", ValueKind::Bool, "abort the package when a job fails"),
        KeySpec::new("raise_on_max_retries", ValueKind::Integer, "attempts per job and run for transient errors"),
        KeySpec::new("delete_completed_jobs", ValueKind::Bool, "delete job files of loaded packages"),
        KeySpec::new("truncate_staging_dataset", ValueKind::Bool, "empty staging tables after a load"),
    ],
    children: &[],
};

/// `[normalize]` keys.
pub static NORMALIZE_SPEC: SectionSpec = SectionSpec {
    path: &["normalize"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("max_nesting", ValueKind::Integer, "nesting depth below which nested data stays JSON"),
        KeySpec::new("workers", ValueKind::Integer, "threads normalizing JSON lines (default: available cores)"),
    ],
    children: &[&DATA_WRITER_SPEC_CHILD],
};

static DATA_WRITER_SPEC_CHILD: SectionSpec = SectionSpec { path: &["data_writer"], ..DATA_WRITER_SPEC };

/// `[pipeline]` keys.
pub static PIPELINE_SPEC: SectionSpec = SectionSpec {
    path: &["pipeline"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("pipelines_dir", ValueKind::String, "where pipeline working folders live (default ~/.stevedore/pipelines)"),
        KeySpec::new("dataset_name", ValueKind::String, "dataset name (default <pipeline>_dataset)"),
    ],
    children: &[],
};

/// `[runtime]` keys.
pub static RUNTIME_SPEC: SectionSpec = SectionSpec {
    path: &["runtime"],
    alt_paths: &[],
    keys: &[KeySpec::new("log_level", ValueKind::String, "log level (error, warn, info, debug)")],
    children: &[],
};

/// The config sections the core reads; destinations add their own.
pub fn core_specs() -> Vec<&'static SectionSpec> {
    vec![&DATA_WRITER_SPEC, &LOAD_SPEC, &NORMALIZE_SPEC, &PIPELINE_SPEC, &RUNTIME_SPEC]
}

/// Progress events for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Records normalized so far.
    Extracted {
        /// Records so far.
        records: u64,
    },
    /// A job finished.
    Job(JobMetrics),
    /// Another run holds the pipeline; this one waits for it (`wait_for_lock`).
    WaitingForLock {
        /// Who holds it (`process 1234`).
        holder: String,
    },
}

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Builds a [`Pipeline`].
pub struct PipelineBuilder {
    name: String,
    destination: Option<Arc<dyn Destination>>,
    staging: Option<Arc<dyn StagingDestination>>,
    dataset_name: Option<String>,
    pipelines_dir: Option<PathBuf>,
    config: Option<Config>,
    format: Option<FileFormat>,
    progress: Option<ProgressFn>,
    wait_for_lock: bool,
}

impl PipelineBuilder {
    /// When another run holds this pipeline: wait for it (`true`) instead of failing at once
    /// (the default). Runs of one pipeline never overlap: they would mix their packages.
    pub fn wait_for_lock(mut self, wait: bool) -> Self {
        self.wait_for_lock = wait;
        self
    }
    /// Sets the destination.
    pub fn destination(mut self, d: Arc<dyn Destination>) -> Self {
        self.destination = Some(d);
        self
    }
    /// Loads through a staging storage (dlt's `staging="filesystem"`): job files are uploaded
    /// there first (under `<bucket>/<dataset>/`, the destination's dataset name), and the
    /// destination loads them from the bucket. The destination must support staging; the
    /// file format is the destination's preferred staging format the staging storage holds
    /// (see [`crate::staging::staging_file_formats`]).
    pub fn staging(mut self, s: Arc<dyn StagingDestination>) -> Self {
        self.staging = Some(s);
        self
    }
    /// Sets the dataset name (default `<pipeline>_dataset`).
    pub fn dataset_name(mut self, n: &str) -> Self {
        self.dataset_name = Some(n.into());
        self
    }
    /// Folder holding pipeline working folders (default `~/.stevedore/pipelines`).
    pub fn pipelines_dir(mut self, p: impl Into<PathBuf>) -> Self {
        self.pipelines_dir = Some(p.into());
        self
    }
    /// Configuration (default: discovered from the current folder and environment).
    pub fn config(mut self, c: Config) -> Self {
        self.config = Some(c);
        self
    }
    /// Loader file format for all tables (default: the destination's preferred format).
    pub fn loader_file_format(mut self, f: FileFormat) -> Self {
        self.format = Some(f);
        self
    }
    /// A progress callback.
    pub fn progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
    /// Builds the pipeline; reads settings and validates them.
    pub fn build(self) -> Result<Pipeline> {
        crate::schema::Schema::validate_name(&self.name).map_err(|e| {
            Error::config(format!("invalid pipeline name `{}`", self.name)).with_hint(e.hint().unwrap_or_default().to_string())
        })?;
        let destination =
            self.destination.ok_or_else(|| Error::config("no destination set").with_hint("call .destination(...) on the builder"))?;
        let config = match self.config {
            Some(c) => c,
            None => Config::from_env()?,
        }
        .with_pipeline_name(&self.name);
        let pipelines_dir = match self.pipelines_dir {
            Some(p) => p,
            None => match config.get_str(&[&["pipeline"]], "pipelines_dir")? {
                Some(p) => PathBuf::from(p),
                None => default_pipelines_dir()?,
            },
        };
        let dataset_name = match self.dataset_name {
            Some(d) => d,
            None => config.get_str(&[&["pipeline"]], "dataset_name")?.unwrap_or_else(|| format!("{}_dataset", self.name)),
        };
        let dw: &[&[&str]] = &[&["normalize", "data_writer"], &["data_writer"]];
        let compression = !config.get_bool(dw, "disable_compression")?.unwrap_or(false);
        let buffer_max_items = config.get_u64(dw, "buffer_max_items")?.map(|v| v as usize);
        let file_max_items = config.get_u64(dw, "file_max_items")?.map(|v| v as usize);
        let file_max_bytes = config.get_u64(dw, "file_max_bytes")?;
        let load: &[&[&str]] = &[&["load"]];
        let mut loader = LoaderOptions::default();
        if let Some(w) = config.get_u64(load, "workers")? {
            loader.workers = w.max(1) as usize;
        }
        if let Some(r) = config.get_bool(load, "raise_on_failed_jobs")? {
            loader.raise_on_failed_jobs = r;
        }
        if let Some(r) = config.get_u64(load, "raise_on_max_retries")? {
            loader.max_attempts = r.max(1) as u32;
        }
        if let Some(r) = config.get_bool(load, "delete_completed_jobs")? {
            loader.delete_completed_jobs = r;
        }
        if let Some(r) = config.get_bool(load, "truncate_staging_dataset")? {
            loader.truncate_staging_dataset = r;
        }
        let caps = destination.capabilities();
        if let Some(w) = caps.max_parallel_load_jobs {
            loader.workers = loader.workers.min(w);
        }
        // the chain is checked before anything is extracted
        let stage_formats = self.staging.as_ref().map(|s| (s.name().to_string(), s.supported_file_formats()));
        let formats = crate::staging::staging_file_formats(
            destination.name(),
            &caps,
            stage_formats.as_ref().map(|(n, f)| (n.as_str(), f.as_slice())),
        )?;
        let mut normalizer = NormalizerOptions::default();
        if let Some(b) = buffer_max_items {
            normalizer.batch_rows = b.max(1);
        }
        if let Some(m) = config.get_u64(&[&["normalize"]], "max_nesting")? {
            normalizer.max_nesting = Some(m as u32);
        }
        if let Some(w) = config.get_u64(&[&["normalize"]], "workers")? {
            normalizer.workers = w.max(1) as usize;
        }
        Ok(Pipeline {
            working_dir: pipelines_dir.join(&self.name),
            name: self.name,
            destination,
            staging: self.staging,
            formats,
            dataset_name,
            config,
            format: self.format,
            compression,
            file_max_items,
            file_max_bytes,
            loader,
            normalizer,
            progress: self.progress,
            wait_for_lock: self.wait_for_lock,
        })
    }
}

/// `~/.stevedore/pipelines`.
pub fn default_pipelines_dir() -> Result<PathBuf> {
    let home =
        std::env::var_os("HOME").ok_or_else(|| Error::config("HOME is not set").with_hint("pass a pipelines folder (--pipelines-dir)"))?;
    Ok(PathBuf::from(home).join(".stevedore").join("pipelines"))
}

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

/// Rows, files and bytes per table of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableMetrics {
    /// Rows.
    pub rows: u64,
    /// Job files.
    pub files: u64,
    /// Bytes of job files.
    pub bytes: u64,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    /// Pipeline name.
    pub pipeline_name: String,
    /// Destination type.
    pub destination_name: String,
    /// Displayable destination location (no secrets).
    pub destination_location: String,
    /// Displayable staging storage location (no secrets), when loading through one.
    pub staging_location: Option<String>,
    /// Dataset.
    pub dataset_name: String,
    /// Packages loaded in this run (resumed ones first).
    pub packages: Vec<PackageLoad>,
    /// Per table of the new package (or of the pending package that already held the input).
    pub tables: BTreeMap<String, TableMetrics>,
    /// What the run did besides loading its input: packages resumed, input found already in a
    /// pending package.
    pub notes: Vec<String>,
    /// Data-related warnings (e.g. keys that normalized to one column).
    pub warnings: Vec<String>,
    /// Records read from the source.
    pub records: u64,
    /// Time spent extracting and normalizing.
    pub normalize_elapsed: Duration,
    /// Time spent loading.
    pub load_elapsed: Duration,
}

impl LoadInfo {
    /// Rows of all tables.
    pub fn rows(&self) -> u64 {
        self.tables.values().map(|t| t.rows).sum()
    }
    /// Bytes of all job files.
    pub fn bytes(&self) -> u64 {
        self.tables.values().map(|t| t.bytes).sum()
    }
    /// Load ids in this run.
    pub fn load_ids(&self) -> Vec<&str> {
        self.packages.iter().map(|p| p.load_id.as_str()).collect()
    }
}

impl fmt::Display for LoadInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Pipeline {} loaded {} package(s) to {} at {} (dataset {})",
            self.pipeline_name,
            self.packages.len(),
            self.destination_name,
            self.destination_location,
            self.dataset_name
        )?;
        if let Some(s) = &self.staging_location {
            writeln!(f, "  staged at {s}")?;
        }
        for n in &self.notes {
            writeln!(f, "  {n}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        for p in &self.packages {
            let failed = p.jobs.iter().filter(|j| j.state == crate::loader::JobState::Failed).count();
            writeln!(f, "  load {}: {} jobs, {} failed, {:?}", p.load_id, p.jobs.len(), failed, p.status)?;
        }
        for (t, m) in &self.tables {
            writeln!(f, "  {t}: {} rows in {} file(s), {} bytes", m.rows, m.files, m.bytes)?;
        }
        write!(
            f,
            "  {} records, {} rows; normalize {:.2?}, load {:.2?}",
            self.records,
            self.rows(),
            self.normalize_elapsed,
            self.load_elapsed
        )
    }
}

struct PackageSink<'a> {
    dir: PathBuf,
    writers: HashMap<String, TableWriter>,
    config_for: &'a (dyn Fn(&str) -> WriterConfig + Sync),
}

impl PackageSink<'_> {
    /// Closes every file; adds files and bytes per table to `tables`.
    fn finish_into(self, tables: &mut BTreeMap<String, TableMetrics>) -> Result<()> {
        for (name, w) in self.writers {
            let files = w.finish().map_err(|e| Error::new(ErrorKind::Io, e.to_string()).with("table", name.clone()))?;
            let m = tables.entry(name).or_default();
            for f in files {
                m.files += 1;
                m.bytes += f.bytes;
            }
        }
        Ok(())
    }
}

/// What one extract+normalize run shares between resources.
struct RunCtx<'c> {
    naming: Arc<dyn NamingConvention>,
    load_id: String,
    dir: PathBuf,
    config_for: &'c (dyn Fn(&str) -> WriterConfig + Sync),
    /// Sinks of parallel workers, finished after normalization.
    worker_sinks: Vec<PackageSink<'c>>,
    /// Rows per table written by parallel workers.
    worker_rows: HashMap<String, u64>,
}

impl BatchSink for PackageSink<'_> {
    fn write_batch(&mut self, table: &str, batch: RecordBatch) -> Result<()> {
        if !self.writers.contains_key(table) {
            let cfg = (self.config_for)(table);
            self.writers.insert(table.to_string(), TableWriter::new(&self.dir, table, cfg));
        }
        let w = self.writers.get_mut(table).expect("inserted");
        w.write(&batch).map_err(|e| Error::new(ErrorKind::Io, e.to_string()).with("table", table.to_string()))
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
            let info = pkg.info()?;
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
        let staging = stage_client.as_deref().map(|c| Staging {
            client: c,
            truncate_before_load: self.destination.capabilities().truncate_tables_on_staging_destination_before_load,
        });
        let r = load_package(storage, pkg, client.as_ref(), staging.as_ref(), &self.loader, &progress).await;
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

fn apply_hints(
    schema: &mut Schema,
    table: &str,
    resource: &str,
    h: &crate::source::TableHints,
    naming: &dyn NamingConvention,
) -> Result<()> {
    let mut t = Table::new(table);
    t.resource = Some(resource.to_string());
    t.write_disposition =
        h.write_disposition.or_else(|| schema.table(table).and_then(|t| t.write_disposition)).or(Some(WriteDisposition::Append));
    t.table_format = h.table_format;
    t.file_format = h.file_format.map(|f| f.extension().to_string());
    if let Some(s) = h.merge_strategy {
        t.extra.insert("x-merge-strategy".into(), json!(s.as_str()));
    }
    if let Some(m) = h.max_nesting {
        t.extra.insert("x-normalizer".into(), json!({"max_nesting": m}));
    }
    for c in &h.columns {
        let mut c = c.clone();
        c.name = naming.normalize_path(&c.name);
        t.add_column(c);
    }
    if h.merge_strategy == Some(crate::schema::MergeStrategy::Scd2) {
        let o = h.scd2.clone().unwrap_or_default();
        let (from, to) = o.validity_column_names.clone().unwrap_or_else(|| ("_dlt_valid_from".into(), "_dlt_valid_to".into()));
        for (name, key) in [(from, "x-valid-from"), (to, "x-valid-to")] {
            let mut c = Column::new(naming.normalize_path(&name), crate::schema::DataType::Timestamp);
            c.extra.insert(key.into(), json!(true));
            t.add_column(c);
        }
        let rv =
            o.row_version_column_name.as_deref().map(|n| naming.normalize_path(n)).unwrap_or_else(|| crate::schema::C_DLT_ID.to_string());
        let mut c = Column::incomplete(rv);
        c.extra.insert("x-row-version".into(), json!(true));
        t.add_column(c);
        if let Some(a) = &o.active_record_timestamp {
            t.extra.insert("x-active-record-timestamp".into(), json!(a));
        }
        if let Some(b) = &o.boundary_timestamp {
            t.extra.insert("x-boundary-timestamp".into(), json!(b));
        }
    }
    for k in &h.primary_key {
        t.add_column(Column::incomplete(naming.normalize_path(k)).hint("primary_key").not_null());
    }
    for k in &h.merge_key {
        t.add_column(Column::incomplete(naming.normalize_path(k)).hint("merge_key"));
    }
    if let Some(existing) = schema.table(table) {
        if existing.is_nested() {
            return Err(Error::new(ErrorKind::Schema, format!("table `{table}` is a nested table and cannot take resource rows"))
                .with_hint("choose another table name"));
        }
        // re-declared keys replace the old ones
        let mut ex = existing.clone();
        for hint in ["primary_key", "merge_key"] {
            if t.columns.values().any(|c| c.hints.get(hint) == Some(true)) {
                for c in ex.columns.values_mut() {
                    c.hints.set(hint, false);
                }
            }
        }
        schema.tables.insert(table.to_string(), ex);
    }
    schema.update_table(t)
}

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

/// What one extraction produced.
enum Extracted {
    /// A new package, committed.
    New {
        /// The package.
        pkg: Package,
        /// Per table.
        tables: BTreeMap<String, TableMetrics>,
        /// Records read.
        records: u64,
        /// Warnings of the normalizer.
        warnings: Vec<String>,
    },
    /// The input was read and equals what pending package `load_id` holds: nothing new.
    AlreadyPending {
        /// The pending package.
        load_id: String,
    },
}

/// A package's contents, before it is committed.
struct Normalized {
    manifest: Manifest,
    schema: Schema,
    tables: BTreeMap<String, TableMetrics>,
    warnings: Vec<String>,
}

/// The pending package extracted from the same input as `fp`, if any.
fn find_pending<'p>(pending: &'p [Package], fp: &Fingerprint) -> Result<Option<&'p Package>> {
    for p in pending {
        if p.manifest()?.inputs.as_ref() == Some(fp) {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// Rows per table (from the manifest), files and bytes (from the job files) of a package, and
/// the records it was extracted from.
fn package_tables(pkg: &Package) -> Result<(BTreeMap<String, TableMetrics>, u64)> {
    let m = pkg.manifest()?;
    let mut tables: BTreeMap<String, TableMetrics> = BTreeMap::new();
    for t in &m.tables {
        tables.entry(t.name.clone()).or_default().rows = t.rows;
    }
    for j in pkg.data_jobs()? {
        let e = tables.entry(j.table.clone()).or_default();
        e.files += 1;
        e.bytes += std::fs::metadata(&j.path).map(|m| m.len()).unwrap_or(0);
    }
    Ok((tables, m.records))
}

//! The plugin traits a destination crate implements: [`Destination`] (a factory with
//! capabilities) and [`DestinationClient`] (one connected client per load package).
//!
//! Contract, in the order the loader calls it for a package:
//! 1. [`DestinationClient::initialize_storage`] creates the dataset if missing (idempotent);
//! 2. [`DestinationClient::migrate_schema`] adds new tables and columns (idempotent: called
//!    again when a package is resumed);
//! 3. [`DestinationClient::run_job`] for every job file, in parallel; a job must be idempotent:
//!    a job that ran before a crash may run again and must not duplicate rows;
//! 4. [`DestinationClient::create_followup_jobs`] once all data jobs finished; the followups
//!    (merge SQL, replace cleanup...) then run through `run_job` too;
//! 5. [`DestinationClient::complete_load`] writes the load marker (`_dlt_loads`) last: data of a
//!    load id is valid only once this marker exists.
//!
//! Optional abilities are declared in [`Capabilities`], never discovered by downcasting.

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;

use crate::error::{Error, ErrorKind, Result};
use crate::schema::{MergeStrategy, ReplaceStrategy, Schema, TableFormat, WriteDisposition};
use crate::writers::{FileFormat, SqlLiterals};

/// What a destination can do.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Capabilities {
    /// Format written when the user does not choose.
    pub preferred_loader_file_format: FileFormat,
    /// Formats the destination accepts.
    pub supported_loader_file_formats: Vec<FileFormat>,
    /// Maximum table identifier length (naming shortens longer names).
    pub max_identifier_length: Option<usize>,
    /// Maximum column identifier length.
    pub max_column_identifier_length: Option<usize>,
    /// Supported merge strategies; empty means merge falls back to append.
    pub supported_merge_strategies: Vec<MergeStrategy>,
    /// Supported replace strategies; the first is the default.
    pub supported_replace_strategies: Vec<ReplaceStrategy>,
    /// Recommended maximum job file size (rotation), if any.
    pub recommended_file_size: Option<u64>,
    /// Upper bound of parallel jobs, if the destination has one.
    pub max_parallel_load_jobs: Option<usize>,
    /// Whether `_dlt_pipeline_state` rows are loaded as a table (SQL) or kept as files.
    pub state_as_table: bool,
    /// Format staged files are written in when loading through a staging storage, if the
    /// destination prefers one (see [`crate::staging::staging_file_formats`]).
    pub preferred_staging_file_format: Option<FileFormat>,
    /// Formats the destination loads from a staging storage; empty: no staging support.
    pub supported_staging_file_formats: Vec<FileFormat>,
    /// Remove the staged files of a load's tables from the staging bucket before the load
    /// (dlt's `truncate_tables_on_staging_destination_before_load`, default true; a
    /// destination reads it from its config section).
    pub truncate_tables_on_staging_destination_before_load: bool,
    /// How `insert_values` job files for this destination write literals (dlt's
    /// `escape_literal`). Default PostgreSQL's.
    pub insert_values_literals: SqlLiterals,
    /// The write dispositions whose tables load into a staging dataset first (SQL
    /// destinations: merge and replace); empty: no staging dataset. The plan of each table
    /// says where its rows go ([`TablePlan::dataset`]).
    pub staging_dataset_dispositions: Vec<WriteDisposition>,
    /// Whether parquet job files are compressed (snappy, dlt's default). A destination that
    /// only reads its job files back on this machine (PostgreSQL's COPY) sets it to false:
    /// compressing a file that never leaves the disk, then decompressing it, is CPU spent
    /// for nothing. Files written for a staging storage are compressed regardless.
    pub compress_parquet_job_files: bool,
}

impl Capabilities {
    /// Capabilities with a preferred format and nothing else.
    pub fn new(preferred: FileFormat) -> Self {
        Capabilities {
            preferred_loader_file_format: preferred,
            supported_loader_file_formats: vec![preferred],
            max_identifier_length: None,
            max_column_identifier_length: None,
            supported_merge_strategies: Vec::new(),
            supported_replace_strategies: vec![ReplaceStrategy::TruncateAndInsert],
            recommended_file_size: None,
            max_parallel_load_jobs: None,
            state_as_table: true,
            preferred_staging_file_format: None,
            supported_staging_file_formats: Vec::new(),
            truncate_tables_on_staging_destination_before_load: true,
            insert_values_literals: SqlLiterals::Postgres,
            staging_dataset_dispositions: Vec::new(),
            compress_parquet_job_files: true,
        }
    }
}

/// What a job file is, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A data file in a loader file format.
    Data(FileFormat),
    /// A reference to a file uploaded to the staging storage (`.reference`, its remote URL).
    Reference,
    /// A followup made by the destination (merge SQL, replace cleanup...).
    Followup,
}

/// One job file of a load package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// Table the rows belong to.
    pub table: String,
    /// 10 hex chars, unique in the package.
    pub file_id: String,
    /// Retries so far (part of the file name).
    pub retry_count: u32,
    /// Extension without compression (`parquet`, `jsonl`, `csv`, `sql`, `reference`, ...).
    pub format: String,
    /// Gzip-compressed (`.gz` suffix).
    pub compressed: bool,
    /// Path of the file on local disk.
    pub path: PathBuf,
    /// Where a completed job put its data (kept in `<job file>.remote_url` beside the job).
    pub remote_url: Option<String>,
}

impl JobInfo {
    /// Parses `<table>.<file_id>.<retry>.<ext>[.gz]`.
    pub fn parse(path: PathBuf) -> Option<JobInfo> {
        let name = path.file_name()?.to_str()?.to_string();
        let parts: Vec<&str> = name.split('.').collect();
        let (parts, compressed) = match parts.last() {
            Some(&"gz") => (&parts[..parts.len() - 1], true),
            _ => (&parts[..], false),
        };
        if parts.len() != 4 {
            return None;
        }
        Some(JobInfo {
            table: parts[0].to_string(),
            file_id: parts[1].to_string(),
            retry_count: parts[2].parse().ok()?,
            format: parts[3].to_string(),
            compressed,
            path,
            remote_url: None,
        })
    }
    /// The file name for these fields.
    pub fn file_name(&self) -> String {
        format!("{}.{}.{}.{}{}", self.table, self.file_id, self.retry_count, self.format, if self.compressed { ".gz" } else { "" })
    }
    /// Stable id across retries: `<table>.<file_id>.<ext>`.
    pub fn job_id(&self) -> String {
        format!("{}.{}.{}", self.table, self.file_id, self.extension())
    }
    /// Extension including compression (`jsonl.gz`).
    pub fn extension(&self) -> String {
        if self.compressed { format!("{}.gz", self.format) } else { self.format.clone() }
    }
    /// What the job is.
    pub fn kind(&self) -> JobKind {
        match FileFormat::parse(&self.format) {
            Some(f) => JobKind::Data(f),
            None if self.format == crate::staging::REFERENCE_FORMAT => JobKind::Reference,
            None => JobKind::Followup,
        }
    }
    /// Whether this is a data job (a file in a loader file format).
    pub fn is_data(&self) -> bool {
        matches!(self.kind(), JobKind::Data(_))
    }
    /// Whether this is a reference to a staged file.
    pub fn is_reference(&self) -> bool {
        self.kind() == JobKind::Reference
    }
    /// Whether this is a followup made by the destination.
    pub fn is_followup(&self) -> bool {
        self.kind() == JobKind::Followup
    }
}

/// Where a table's rows are loaded first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// The final dataset.
    Final,
    /// The staging dataset (merge and replace tables of destinations that have one); a
    /// followup moves the rows to the final dataset.
    Staging,
}

/// What the loader decided about one table of a package, once, from the package's frozen
/// schema and the destination's capabilities: every job of the table runs by it, and
/// destinations read it instead of asking the schema again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TablePlan {
    /// The table.
    pub table: String,
    /// Its root table (itself for a root table): dispositions, formats and followups are
    /// decided per root.
    pub root_table: String,
    /// The write disposition (the root's).
    pub disposition: WriteDisposition,
    /// For merge: the table's `x-merge-strategy`, else the destination's first supported one,
    /// else `delete-insert`. `None` for append and replace.
    pub merge_strategy: Option<MergeStrategy>,
    /// The table format (`delta`, `iceberg`), if the root has one.
    pub table_format: Option<TableFormat>,
    /// Where the rows are loaded first.
    pub dataset: Dataset,
}

impl TablePlan {
    /// The plan of `table` in `schema` for a destination that can do `caps`.
    pub fn new(schema: &Schema, table: &str, caps: &Capabilities) -> TablePlan {
        let disposition = schema.write_disposition(table);
        let merge_strategy = (disposition == WriteDisposition::Merge).then(|| {
            schema.merge_strategy(table).or_else(|| caps.supported_merge_strategies.first().copied()).unwrap_or(MergeStrategy::DeleteInsert)
        });
        let is_dlt = schema.table(table).is_some_and(|t| t.is_dlt_table());
        let dataset = if !is_dlt && caps.staging_dataset_dispositions.contains(&disposition) { Dataset::Staging } else { Dataset::Final };
        TablePlan {
            table: table.to_string(),
            root_table: schema.root_table(table).map(|t| t.name.clone()).unwrap_or_else(|| table.to_string()),
            disposition,
            merge_strategy,
            table_format: schema.table_format(table),
            dataset,
        }
    }
}

/// What the client gets to know about the package being loaded.
#[derive(Debug, Clone)]
pub struct PackageInfo {
    /// Load id.
    pub load_id: String,
    /// Pipeline name.
    pub pipeline_name: String,
    /// Schema of the package (frozen).
    pub schema: Schema,
    /// When the package was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Tables with jobs in this package and their dispositions.
    pub tables: Vec<(String, WriteDisposition)>,
    /// Tables (root and nested) replaced by this package, even those with no rows.
    pub replace_tables: Vec<String>,
    /// The pipeline state document to store with this load, if it changed.
    pub state: Option<serde_json::Value>,
    /// Where the staged files are, when the load goes through a staging storage (set by the
    /// loader; `None` otherwise).
    pub staging: Option<crate::staging::StagingLocation>,
    /// The formats of each table's data job files (`parquet`, `jsonl`...), so a destination
    /// can refuse what its loads cannot carry before anything is uploaded.
    pub data_formats: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    /// The plan of every table of the schema (set by the loader with [`PackageInfo::plan_tables`]).
    pub plans: std::collections::BTreeMap<String, TablePlan>,
}

impl PackageInfo {
    /// Plans every table of the schema for a destination that can do `caps` (the loader does
    /// this once per package, before the destination sees it).
    pub fn plan_tables(&mut self, caps: &Capabilities) {
        self.plans = self.schema.tables.keys().map(|t| (t.clone(), TablePlan::new(&self.schema, t, caps))).collect();
    }

    /// The plan of `table`; an error names a table the package's schema does not have.
    pub fn plan(&self, table: &str) -> Result<&TablePlan> {
        self.plans.get(table).ok_or_else(|| {
            Error::new(ErrorKind::Internal, format!("no load plan for table `{table}` in package {}", self.load_id))
                .with("table", table.to_string())
                .with_hint(if self.plans.is_empty() {
                    "the package was not planned: call PackageInfo::plan_tables with the destination's capabilities"
                } else {
                    "the table is not in the package's schema"
                })
        })
    }
}

/// A followup job produced by the destination (merge SQL, replace cleanup...).
///
/// Its payload is a type of the destination's own, written into the package as JSON by
/// [`FollowupJob::with_payload`] and read back, typed, by [`JobInfo::payload`] when the job
/// runs (also after a crash: the file is what makes the followup resumable).
#[derive(Debug, Clone)]
pub struct FollowupJob {
    /// Table it concerns.
    pub table: String,
    /// Extension (e.g. `sql`, `cleanup`); must not be a data format or `reference`.
    pub format: String,
    /// File content.
    pub content: Vec<u8>,
}

impl FollowupJob {
    /// A followup of `table` whose file holds `payload` as JSON.
    pub fn with_payload<P: serde::Serialize>(table: impl Into<String>, format: impl Into<String>, payload: &P) -> Result<Self> {
        let format = format.into();
        let content = serde_json::to_vec(payload)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot write the payload of a `{format}` followup: {e}")))?;
        Ok(FollowupJob { table: table.into(), format, content })
    }
}

impl JobInfo {
    /// The typed payload of this followup job, read from its file (written by
    /// [`FollowupJob::with_payload`]). A file that does not hold one is a state error naming
    /// the job and the file.
    pub async fn payload<P: serde::de::DeserializeOwned>(&self) -> Result<P> {
        let bytes = tokio::fs::read(&self.path).await.map_err(|e| Error::io("read followup job file", &self.path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(ErrorKind::State, format!("the `{}` followup job file does not hold its payload: {e}", self.format))
                .with("job", self.job_id())
                .with("file", self.path.display().to_string())
                .with_hint(
                    "the package's files were changed or cut short: drop the package (`stevedore drop-pending-packages`) and load again",
                )
        })
    }
}

/// Result of a job.
#[derive(Debug, Clone, Default)]
pub struct JobOutcome {
    /// Where the data landed (URL or path), if it has a location.
    pub remote_url: Option<String>,
}

/// A destination factory: name, capabilities and a client per load.
#[async_trait]
pub trait Destination: Send + Sync + fmt::Debug {
    /// Destination type (`filesystem`, `postgres`).
    fn name(&self) -> &str;
    /// What it can do.
    fn capabilities(&self) -> Capabilities;
    /// A client for `dataset_name`. Configuration problems should surface here, before any
    /// data is written (preflight).
    async fn client(&self, dataset_name: &str, pipeline_name: &str) -> Result<Box<dyn DestinationClient>>;
    /// A displayable location, never containing secrets (e.g. `file:///data/x`).
    fn display_location(&self) -> String;
}

/// A client bound to one dataset, used for one load package.
#[async_trait]
pub trait DestinationClient: Send + Sync {
    /// Called each time the loader starts or resumes `package`, before
    /// [`DestinationClient::initialize_storage`] (which runs only on the first attempt).
    /// Default: nothing.
    async fn begin_package(&self, _package: &PackageInfo) -> Result<()> {
        Ok(())
    }
    /// Creates the dataset if missing. Idempotent.
    async fn initialize_storage(&self) -> Result<()>;
    /// Brings the destination schema up to `package.schema` (new tables and columns). Idempotent.
    async fn migrate_schema(&self, package: &PackageInfo) -> Result<()>;
    /// Runs one job. Must be idempotent (a job may run again after a crash).
    async fn run_job(&self, package: &PackageInfo, job: &JobInfo) -> Result<JobOutcome>;
    /// Followups to run after all data jobs completed (default: none).
    async fn create_followup_jobs(&self, _package: &PackageInfo, _completed: &[JobInfo]) -> Result<Vec<FollowupJob>> {
        Ok(Vec::new())
    }
    /// Writes the load marker. Called once, last. Idempotent.
    async fn complete_load(&self, package: &PackageInfo) -> Result<()>;
    /// Removes what the data jobs of a package that will never be completed wrote (a job
    /// failed for good, or the package was dropped with `drop-pending-packages`), so that no
    /// data of a load without a marker stays visible: for files, each job's file and any
    /// temporary file of an interrupted write. `jobs` are the package's data jobs in every
    /// state; removing what is not there is not an error. Called only while no followup of the
    /// package has run, and again on the next run if it was interrupted. Default: nothing.
    async fn discard_package(&self, _package: &PackageInfo, _jobs: &[JobInfo]) -> Result<()> {
        Ok(())
    }
    /// Empties the staging dataset's tables after a completed load (`[load]
    /// truncate_staging_dataset`). Default: nothing (no staging dataset).
    async fn truncate_staging_dataset(&self, _package: &PackageInfo) -> Result<()> {
        Ok(())
    }
    /// The newest pipeline state stored by a completed load, if the destination keeps one.
    async fn stored_state(&self, _pipeline_name: &str) -> Result<Option<serde_json::Value>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Table;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Cleanup {
        table: String,
        keep: Vec<String>,
    }

    /// A followup's payload goes into its file as JSON and comes back typed; a file that does
    /// not hold it is a state error naming the job, the file and what to do.
    #[tokio::test]
    async fn followup_payloads_are_typed_both_ways() {
        let payload = Cleanup { table: "events".into(), keep: vec!["events/1.a.jsonl".into()] };
        let f = FollowupJob::with_payload("events", "replace_cleanup", &payload).unwrap();
        assert_eq!((f.table.as_str(), f.format.as_str()), ("events", "replace_cleanup"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.0123456789.0.replace_cleanup");
        std::fs::write(&path, &f.content).unwrap();
        let job = JobInfo::parse(path.clone()).unwrap();
        assert!(job.is_followup());
        assert_eq!(job.payload::<Cleanup>().await.unwrap(), payload);

        std::fs::write(&path, &f.content[..f.content.len() / 2]).unwrap();
        let e = job.payload::<Cleanup>().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::State);
        let msg = format!("{e} {:?}", e.hint());
        assert!(msg.contains("replace_cleanup") && msg.contains("events.0123456789.0.replace_cleanup") && msg.contains("drop"), "{msg}");
        // another payload type is refused the same way
        std::fs::write(&path, b"{\"statements\": []}").unwrap();
        assert_eq!(job.payload::<Cleanup>().await.unwrap_err().kind(), ErrorKind::State);
    }

    /// Plans follow the root's disposition, hint and format; the dataset comes from the
    /// destination's staging-dataset dispositions, and system tables always load directly.
    #[test]
    fn tables_are_planned_from_their_root_and_the_destinations_capabilities() {
        let mut schema = Schema::new("s");
        let mut orders = Table::new("orders");
        orders.write_disposition = Some(WriteDisposition::Merge);
        orders.extra.insert("x-merge-strategy".into(), serde_json::json!("scd2"));
        schema.tables.insert("orders".into(), orders);
        schema.tables.insert("orders__items".into(), Table::nested("orders__items", "orders"));
        let mut users = Table::new("users");
        users.write_disposition = Some(WriteDisposition::Merge);
        users.table_format = Some(TableFormat::Delta);
        schema.tables.insert("users".into(), users);
        let mut events = Table::new("events");
        events.write_disposition = Some(WriteDisposition::Replace);
        schema.tables.insert("events".into(), events);
        schema.tables.insert("logs".into(), Table::new("logs"));
        let mut state = Table::new(crate::schema::STATE_TABLE);
        state.write_disposition = Some(WriteDisposition::Merge);
        schema.tables.insert(crate::schema::STATE_TABLE.into(), state);

        let mut sql = Capabilities::new(FileFormat::Parquet);
        sql.supported_merge_strategies = vec![MergeStrategy::Upsert, MergeStrategy::DeleteInsert];
        sql.staging_dataset_dispositions = vec![WriteDisposition::Merge, WriteDisposition::Replace];
        let mut info = PackageInfo {
            load_id: "1".into(),
            pipeline_name: "p".into(),
            schema,
            created_at: chrono::Utc::now(),
            tables: Vec::new(),
            replace_tables: Vec::new(),
            state: None,
            staging: None,
            data_formats: Default::default(),
            plans: Default::default(),
        };
        assert!(info.plan("orders").unwrap_err().to_string().contains("no load plan"));
        info.plan_tables(&sql);

        let items = info.plan("orders__items").unwrap();
        assert_eq!(items.root_table, "orders");
        assert_eq!(
            (items.disposition, items.merge_strategy, items.dataset),
            (WriteDisposition::Merge, Some(MergeStrategy::Scd2), Dataset::Staging)
        );
        let users = info.plan("users").unwrap();
        assert_eq!(
            (users.merge_strategy, users.table_format),
            (Some(MergeStrategy::Upsert), Some(TableFormat::Delta)),
            "no hint: the first supported"
        );
        assert_eq!((info.plan("events").unwrap().dataset, info.plan("events").unwrap().merge_strategy), (Dataset::Staging, None));
        assert_eq!(info.plan("logs").unwrap().dataset, Dataset::Final);
        assert_eq!(info.plan(crate::schema::STATE_TABLE).unwrap().dataset, Dataset::Final, "system tables load directly");
        assert!(info.plan("nope").unwrap_err().to_string().contains("nope"));

        // a destination with a staging dataset for merge only, and one without
        let mut merge_only = sql.clone();
        merge_only.staging_dataset_dispositions = vec![WriteDisposition::Merge];
        info.plan_tables(&merge_only);
        assert_eq!((info.plan("orders").unwrap().dataset, info.plan("events").unwrap().dataset), (Dataset::Staging, Dataset::Final));
        info.plan_tables(&Capabilities::new(FileFormat::Jsonl));
        assert_eq!(info.plan("orders").unwrap().dataset, Dataset::Final);
        assert_eq!(info.plan("users").unwrap().merge_strategy, Some(MergeStrategy::DeleteInsert), "nothing supported: delete-insert");
    }
}

//! A SQLite destination for stevedore, written the way a third party would write one: it
//! depends only on the facade crate `stevedore` (plus `rusqlite` and Arrow for values), has
//! its own config section `[destination.sqlite]` and registers itself in a
//! [`stevedore::Registry`]. `docs/extending.md` walks through it.
//!
//! ```no_run
//! # async fn demo() -> stevedore::Result<()> {
//! use std::sync::Arc;
//! use stevedore::{Pipeline, Resource};
//! let pipeline = Pipeline::builder("events")
//!     .destination(Arc::new(sqlite_destination::Sqlite::new("data/events.db")))
//!     .dataset_name("events_data")
//!     .build()?;
//! pipeline.run(Resource::from_values("events", vec![stevedore::serde_json::json!({"id": 1})])).await?;
//! # Ok(()) }
//! ```
//!
//! Layout: SQLite has no schemas, so, as dlt's sqlalchemy destination does, every dataset is
//! a database file of its own beside the main one, `<main stem>__<dataset>.db`, attached
//! under the dataset's name; merge staging tables live in `<main stem>__<dataset>_staging.db`,
//! attached as `<dataset>_staging`. A reader opens the dataset's file (see
//! [`Sqlite::dataset_path`]) or the main file and `ATTACH`es it.
//!
//! Loading:
//! * `migrate_schema` creates tables and adds new columns (`ALTER TABLE ADD COLUMN`) from the
//!   package schema, dlt's types mapped to SQLite affinities ([`sqlite_type`]); replaced
//!   tables are emptied there (truncate-and-insert), merge staging tables too.
//! * every job runs in one transaction that also records the job in `_dlt_sqlite_jobs`; a job
//!   found there is not run again, so a job re-run after a crash never duplicates rows.
//! * merge (`delete-insert` and `upsert`): data jobs fill the staging tables, then one
//!   followup job per root table deletes the rows whose primary key (else merge key) is in
//!   staging, with their nested rows, and inserts the staged rows (one per key, the last one
//!   staged), all in one transaction.
//! * `complete_load` writes the `_dlt_loads` row; `_dlt_version` gets a row per schema
//!   version, `_dlt_pipeline_state` is loaded as a table.
//!
//! * through the staging chain (`.staging(filesystem)`): the job files are uploaded to the
//!   staging bucket and each reference job fetches its file back
//!   ([`stevedore::staging::fetch_reference`]) and loads it as above, as a warehouse's `COPY`
//!   would read it from the bucket.
//!
//! Not supported: `scd2` and `insert-only` merges (not declared, so the pipeline refuses them
//! early), the `hard_delete` and `dedup_sort` hints.

#![warn(missing_docs)]

mod client;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use stevedore::config::Config;
use stevedore::destination::{Capabilities, Destination, DestinationClient};
use stevedore::schema::{DataType, MergeStrategy, ReplaceStrategy, WriteDisposition};
use stevedore::{Error, FileFormat, Registry, Result};

/// The destination's name in the registry and in `[destination.sqlite]`.
pub const NAME: &str = "sqlite";

stevedore::config_section! {
    /// `[destination.sqlite]`: the keys this destination reads, declared once: the spec
    /// (validation, environment names, the reference) and the typed struct come from this
    /// block. Unknown keys in the section are configuration errors (the registry validates
    /// against the spec).
    pub static SQLITE_SPEC = ["destination", "sqlite"];
    /// Resolved `[destination.sqlite]` settings.
    #[derive(Debug, Clone)]
    pub struct SqliteConfig {
        /// path of the main database file; datasets are files beside it
        pub database: String = "stevedore.db".into() => "`stevedore.db`",
        /// create UNIQUE indexes for columns with the unique hint
        pub create_indexes: bool = true => "true",
        /// through the staging chain: remove the staged files of a load's tables before it
        pub truncate_tables_on_staging_destination_before_load: bool = true => "true",
    }
}

/// The SQLite destination.
#[derive(Debug, Clone)]
pub struct Sqlite {
    database: PathBuf,
    create_indexes: bool,
    truncate_staged: bool,
}

impl Sqlite {
    /// A destination whose main database file is `database`.
    pub fn new(database: impl Into<PathBuf>) -> Self {
        Sqlite { database: database.into(), create_indexes: true, truncate_staged: true }
    }

    /// Whether columns with the `unique` hint (`_dlt_id`) get a UNIQUE index (default true).
    pub fn create_indexes(mut self, on: bool) -> Self {
        self.create_indexes = on;
        self
    }

    /// Through the staging chain, whether the staged files of a load's tables are removed
    /// from the staging bucket before the load (dlt's
    /// `truncate_tables_on_staging_destination_before_load`, default true); with `false` the
    /// bucket keeps every load's files.
    pub fn truncate_staged_files(mut self, on: bool) -> Self {
        self.truncate_staged = on;
        self
    }

    /// Reads `[destination.sqlite]` from layered configuration (files, environment:
    /// `DESTINATION__SQLITE__DATABASE`, ...).
    pub fn from_config(config: &Config) -> Result<Self> {
        let c = SqliteConfig::read(config)?;
        let d = Sqlite::new(c.database)
            .create_indexes(c.create_indexes)
            .truncate_staged_files(c.truncate_tables_on_staging_destination_before_load);
        Ok(d)
    }

    /// The main database file.
    pub fn database(&self) -> &Path {
        &self.database
    }

    /// The database file holding `dataset`: `<main stem>__<dataset>.db` beside the main file.
    pub fn dataset_path(&self, dataset: &str) -> PathBuf {
        let stem = self.database.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "stevedore".into());
        self.database.with_file_name(format!("{stem}__{dataset}.db"))
    }

    /// The staging dataset's name for `dataset`.
    pub fn staging_dataset(dataset: &str) -> String {
        format!("{dataset}_staging")
    }
}

/// dlt's data types as SQLite column types (their affinities: INTEGER, REAL, TEXT, BLOB).
/// Timestamps, dates and times are ISO 8601 text (what SQLite's date functions read);
/// decimals and wei are text so that no digit is lost to a float.
pub fn sqlite_type(t: DataType) -> &'static str {
    match t {
        DataType::Bigint | DataType::Bool => "INTEGER",
        DataType::Double => "REAL",
        DataType::Binary => "BLOB",
        DataType::Text | DataType::Json | DataType::Timestamp | DataType::Date | DataType::Time | DataType::Decimal | DataType::Wei => {
            "TEXT"
        }
    }
}

#[async_trait]
impl Destination for Sqlite {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::new(FileFormat::Parquet);
        c.supported_loader_file_formats = vec![FileFormat::Parquet, FileFormat::Jsonl];
        // through the staging chain: parquet or jsonl files staged in a bucket
        c.preferred_staging_file_format = Some(FileFormat::Parquet);
        c.supported_staging_file_formats = vec![FileFormat::Parquet, FileFormat::Jsonl];
        c.truncate_tables_on_staging_destination_before_load = self.truncate_staged;
        c.supported_merge_strategies = vec![MergeStrategy::DeleteInsert, MergeStrategy::Upsert];
        c.supported_replace_strategies = vec![ReplaceStrategy::TruncateAndInsert];
        // merge tables load into the staging database first, then the merge followup moves them
        c.staging_dataset_dispositions = vec![WriteDisposition::Merge];
        // one writer at a time: SQLite locks the whole database file
        c.max_parallel_load_jobs = Some(1);
        c.state_as_table = true;
        c
    }

    async fn client(&self, dataset_name: &str, _pipeline_name: &str) -> Result<Box<dyn DestinationClient>> {
        let bad = dataset_name.is_empty()
            || dataset_name.contains(['/', '\\', '\0'])
            || dataset_name.contains("..")
            || dataset_name.starts_with('.');
        if bad {
            return Err(Error::config(format!("dataset name `{dataset_name}` cannot name a database file"))
                .with_hint("use letters, digits and `_`"));
        }
        Ok(Box::new(client::SqliteClient::open(self, dataset_name).await?))
    }

    fn display_location(&self) -> String {
        format!("sqlite:///{}", self.database.display())
    }
}

/// Builds the destination from configuration: the factory [`register`] installs.
pub fn from_config(config: &Config) -> Result<Arc<dyn Destination>> {
    Ok(Arc::new(Sqlite::from_config(config)?))
}

/// Registers `sqlite` and its `[destination.sqlite]` section in a registry.
pub fn register(registry: &mut Registry) {
    registry.register(NAME, &SQLITE_SPEC, from_config);
}

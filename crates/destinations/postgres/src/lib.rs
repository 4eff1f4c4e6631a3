//! stevedore-postgres: the PostgreSQL destination (dlt's `postgres`).
//!
//! * The dataset is a schema; dlt's `_dlt_loads`, `_dlt_version` and `_dlt_pipeline_state`
//!   live in it with dlt's columns. The schema is migrated (new tables, new columns) before
//!   any job runs.
//! * Data loads with **binary COPY**: parquet and jsonl job files are read as Arrow batches
//!   and encoded as binary COPY rows; csv job files use `COPY ... (FORMAT csv)`. Jobs run in
//!   parallel on a connection pool (dlt's `insert_values` files run as INSERT statements); each job commits together with a row in
//!   `<dataset>._stevedore_jobs`, so a job run again (after a crash) never duplicates rows.
//! * Merge and replace tables load into the **staging dataset** (`<dataset>_staging` by
//!   default, `staging_dataset_name_layout`), then one followup transaction per root table
//!   moves the rows into the final tables: a failure at any point leaves the final tables as
//!   they were. Two pipelines sharing staging tables are serialized by advisory locks, one per
//!   staging root table, held for the whole package.
//!
//! ```no_run
//! # fn demo() -> stevedore_core::Result<()> {
//! use stevedore_postgres::Postgres;
//! let destination = Postgres::builder()
//!     .connection_string("postgresql://loader:secret@localhost:5432/dlt_data")?
//!     .staging_dataset_name_layout("staging_%s")
//!     .build()?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod client;
pub mod config;

use std::sync::Arc;

use async_trait::async_trait;
use stevedore_core::config::Config;
use stevedore_core::destination::{Capabilities, Destination, DestinationClient};
use stevedore_core::naming::{NamingConvention, SnakeCase};
use stevedore_core::schema::{MergeStrategy, ReplaceStrategy};
use stevedore_core::writers::FileFormat;
use stevedore_core::{Error, Result};
use tokio_postgres_rustls::MakeRustlsConnect;

pub use client::{JOBS_TABLE, PostgresBackend, PostgresClient, SQL_JOB_FORMAT, STAGING_OWNER_TABLE};
pub use config::{CREDENTIALS_SPEC, Credentials, POSTGRES_SPEC, PostgresConfig, SslMode};

/// Destination name.
pub const NAME: &str = "postgres";
/// URL schemes of connection strings.
pub const SCHEMES: &[&str] = &["postgres", "postgresql"];

/// The PostgreSQL destination.
#[derive(Clone)]
pub struct Postgres {
    config: PostgresConfig,
    credentials: Credentials,
    tls: MakeRustlsConnect,
    fault_after_statements: Option<usize>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").field("credentials", &self.credentials).field("config", &self.config).finish_non_exhaustive()
    }
}

/// Builds a [`Postgres`] destination.
#[derive(Debug, Clone, Default)]
pub struct PostgresBuilder {
    config: PostgresConfig,
    fault_after_statements: Option<usize>,
}

impl PostgresBuilder {
    /// Starts from layered configuration (`[destination.postgres]`, credentials included).
    pub fn from_config(config: &Config) -> Result<Self> {
        Ok(PostgresBuilder { config: PostgresConfig::from_config(config)?, fault_after_statements: None })
    }
    /// Sets the credentials.
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.config.credentials = Some(c);
        self
    }
    /// Sets the credentials from a connection string.
    pub fn connection_string(mut self, conn: &str) -> Result<Self> {
        self.config.credentials = Some(Credentials::parse(conn)?);
        Ok(self)
    }
    /// `staging_dataset_name_layout`: a pattern with `%s` (replaced by the dataset name) or a
    /// fixed name shared by all datasets.
    pub fn staging_dataset_name_layout(mut self, layout: &str) -> Self {
        self.config.staging_dataset_name_layout = layout.into();
        self
    }
    /// The replace strategy.
    pub fn replace_strategy(mut self, s: ReplaceStrategy) -> Self {
        self.config.replace_strategy = Some(s);
        self
    }
    /// Whether `UNIQUE` constraints are created for unique columns.
    pub fn create_indexes(mut self, b: bool) -> Self {
        self.config.create_indexes = b;
        self
    }
    /// Whether dataset names go through the naming convention.
    pub fn enable_dataset_name_normalization(mut self, b: bool) -> Self {
        self.config.enable_dataset_name_normalization = b;
        self
    }
    /// Connections for parallel jobs.
    pub fn pool_size(mut self, n: usize) -> Self {
        self.config.pool_size = n.max(1);
        self
    }
    /// Test hook: followup SQL jobs kill their own connection after this many statements.
    #[doc(hidden)]
    pub fn fault_after_statements(mut self, n: usize) -> Self {
        self.fault_after_statements = Some(n);
        self
    }
    /// Validates the settings (no connection yet: that happens when a load starts).
    pub fn build(self) -> Result<Postgres> {
        let credentials = self.config.credentials.clone().ok_or_else(|| {
            Error::config("no credentials for the postgres destination").with_hint(
                "set DESTINATION__POSTGRES__CREDENTIALS=postgresql://user:password@host:5432/database, or [destination.postgres.credentials] in .stevedore/secrets.toml",
            )
        })?;
        stevedore_sql::check_staging_layout(&self.config.staging_dataset_name_layout)?;
        let tls = stevedore_pgwire::tls_connector(&credentials)?;
        Ok(Postgres { config: self.config, credentials, tls, fault_after_statements: self.fault_after_statements })
    }
}

impl Postgres {
    /// A builder with dlt's defaults.
    pub fn builder() -> PostgresBuilder {
        PostgresBuilder::default()
    }

    /// The dataset (schema) name used for `dataset_name`.
    pub fn dataset_name(&self, dataset_name: &str) -> String {
        if self.config.enable_dataset_name_normalization {
            SnakeCase::new(Some(63)).normalize_table_identifier(dataset_name)
        } else {
            dataset_name.to_string()
        }
    }

    /// The staging dataset name for `dataset_name`: the layout with `%s` replaced by the
    /// (normalized) dataset name, or the layout itself; an error when it equals the dataset.
    pub fn staging_dataset_name(&self, dataset_name: &str) -> Result<String> {
        let normalize = self.config.enable_dataset_name_normalization.then_some(63);
        stevedore_sql::staging_dataset_name(&self.dataset_name(dataset_name), &self.config.staging_dataset_name_layout, normalize)
    }
}

#[async_trait]
impl Destination for Postgres {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::new(FileFormat::Parquet);
        // merge and replace tables load into the staging dataset, then a followup moves them
        c.staging_dataset_dispositions = stevedore_sql::STAGING_DATASET_DISPOSITIONS.to_vec();
        c.supported_loader_file_formats = vec![FileFormat::Parquet, FileFormat::Jsonl, FileFormat::Csv, FileFormat::InsertValues];
        c.max_identifier_length = Some(63);
        c.max_column_identifier_length = Some(63);
        c.supported_merge_strategies =
            vec![MergeStrategy::DeleteInsert, MergeStrategy::Upsert, MergeStrategy::Scd2, MergeStrategy::InsertOnly];
        c.supported_replace_strategies =
            vec![ReplaceStrategy::TruncateAndInsert, ReplaceStrategy::InsertFromStaging, ReplaceStrategy::StagingOptimized];
        c.max_parallel_load_jobs = Some(self.config.pool_size);
        c.state_as_table = true;
        // job files are read back on this machine by COPY: snappy would be spent twice for nothing
        c.compress_parquet_job_files = false;
        c.insert_values_literals = stevedore_sql::Dialect::insert_values_literals(&stevedore_sql::PostgresDialect::default());
        c
    }

    async fn client(&self, dataset_name: &str, _pipeline_name: &str) -> Result<Box<dyn DestinationClient>> {
        let dataset = self.dataset_name(dataset_name);
        if dataset.is_empty() {
            return Err(Error::config("the dataset name is empty").with_hint("pass a dataset name"));
        }
        let staging = self.staging_dataset_name(dataset_name)?;
        let client = client::connect(client::ClientSettings {
            pg: self.credentials.pg_config(),
            tls: self.tls.clone(),
            display: self.credentials.to_string(),
            dataset,
            staging_dataset: staging,
            create_indexes: self.config.create_indexes,
            replace_strategy: self.config.replace_strategy,
            merge_strategies: self.capabilities().supported_merge_strategies,
            pool_size: self.config.pool_size,
            fault_after_statements: self.fault_after_statements,
        })
        .await?;
        Ok(Box::new(client))
    }

    fn display_location(&self) -> String {
        self.credentials.to_string()
    }
}

/// The destination built from layered config, as the facade's registry does it.
pub fn from_config(config: &Config) -> Result<Arc<dyn Destination>> {
    Ok(Arc::new(PostgresBuilder::from_config(config)?.build()?))
}

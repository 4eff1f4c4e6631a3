//! stevedore-snowflake: the Snowflake destination (dlt's `snowflake`).
//!
//! * The dataset is a Snowflake schema in the configured database; identifiers fold to upper
//!   case as dlt folds them (`"SCHEMA"."TABLE"."COLUMN"`), types are dlt 1.31's Snowflake
//!   types (tz-aware timestamps `TIMESTAMP_LTZ`, or `TIMESTAMP_TZ` with `use_timestamp_tz`),
//!   `CLUSTER BY` comes from `cluster` hints. dlt's `_dlt_loads`, `_dlt_version` and
//!   `_dlt_pipeline_state` live in the schema.
//! * Without staging, job files (parquet preferred) are `PUT` to the table's stage (or
//!   `stage_name`) and loaded with `COPY INTO ... MATCH_BY_COLUMN_NAME`; through a staging
//!   bucket, COPY reads the staged file from `s3://` or `azure://` with forwarded credentials,
//!   or from `@stage_name` with `FILES = (...)`.
//! * Merge and replace tables load into the staging dataset; the followup SQL runs in one
//!   transaction per root table (see [`backend`] for how DDL and transactions are kept apart).
//! * The client is stevedore's own ([`rest`]): Snowflake's REST protocol with password or
//!   key-pair (JWT) login, Arrow IPC results, PUT uploads.
//!
//! ```no_run
//! # fn demo() -> stevedore_core::Result<()> {
//! use stevedore_snowflake::{Credentials, Snowflake};
//! let destination = Snowflake::builder()
//!     .credentials(Credentials::parse("snowflake://loader:secret@xy12345.eu-central-1/DLT_DATA?warehouse=COMPUTE_WH")?)
//!     .build()?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod backend;
pub mod config;
pub mod dialect;
pub mod rest;
pub mod stage;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use stevedore_core::config::Config;
use stevedore_core::destination::{Capabilities, Destination, DestinationClient};
use stevedore_core::naming::{NamingConvention, SnakeCase};
use stevedore_core::schema::{MergeStrategy, ReplaceStrategy};
use stevedore_core::writers::FileFormat;
use stevedore_core::{Error, Result};
use stevedore_sql::client::{SqlClient, SqlClientSettings};

pub use backend::SnowflakeBackend;
pub use config::{CREDENTIALS_SPEC, Credentials, CsvFormat, SNOWFLAKE_SPEC, SnowflakeConfig};
pub use dialect::SnowflakeDialect;

/// Job file size (bytes) at which files rotate: what one stage upload holds in memory.
pub const RECOMMENDED_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Destination name.
pub const NAME: &str = "snowflake";

/// The Snowflake client: the shared SQL client on the Snowflake backend.
pub type SnowflakeClient = SqlClient<SnowflakeBackend>;

/// The Snowflake destination.
#[derive(Debug, Clone)]
pub struct Snowflake {
    config: SnowflakeConfig,
}

/// Builds a [`Snowflake`] destination.
#[derive(Debug, Clone, Default)]
pub struct SnowflakeBuilder {
    config: SnowflakeConfig,
}

impl SnowflakeBuilder {
    /// Starts from layered configuration (`[destination.snowflake]`, credentials included).
    pub fn from_config(config: &Config) -> Result<Self> {
        Ok(SnowflakeBuilder { config: SnowflakeConfig::from_config(config)? })
    }
    /// Sets the credentials.
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.config.credentials = c;
        self
    }
    /// A named stage (`stage_name`).
    pub fn stage_name(mut self, s: &str) -> Self {
        self.config.stage_name = Some(s.into());
        self
    }
    /// Keep files PUT to an internal stage (default true).
    pub fn keep_staged_files(mut self, keep: bool) -> Self {
        self.config.keep_staged_files = keep;
        self
    }
    /// `TIMESTAMP_TZ` instead of `TIMESTAMP_LTZ`.
    pub fn use_timestamp_tz(mut self, b: bool) -> Self {
        self.config.use_timestamp_tz = b;
        self
    }
    /// The replace strategy.
    pub fn replace_strategy(mut self, s: ReplaceStrategy) -> Self {
        self.config.replace_strategy = Some(s);
        self
    }
    /// `staging_dataset_name_layout`.
    pub fn staging_dataset_name_layout(mut self, layout: &str) -> Self {
        self.config.staging_dataset_name_layout = layout.into();
        self
    }
    /// Validates the settings (no request yet: the login happens when a load starts).
    pub fn build(self) -> Result<Snowflake> {
        self.config.credentials.validate()?;
        stevedore_sql::check_staging_layout(&self.config.staging_dataset_name_layout)?;
        Ok(Snowflake { config: self.config })
    }
}

impl Snowflake {
    /// A builder with dlt's defaults.
    pub fn builder() -> SnowflakeBuilder {
        SnowflakeBuilder::default()
    }

    /// The settings.
    pub fn config(&self) -> &SnowflakeConfig {
        &self.config
    }

    /// The dataset name used for `dataset_name` (dlt's snake_case normalization).
    pub fn dataset_name(&self, dataset_name: &str) -> String {
        SnakeCase::new(Some(255)).normalize_table_identifier(dataset_name)
    }

    /// The staging dataset name.
    pub fn staging_dataset_name(&self, dataset_name: &str) -> Result<String> {
        stevedore_sql::staging_dataset_name(&self.dataset_name(dataset_name), &self.config.staging_dataset_name_layout, Some(255))
    }

    fn dialect(&self) -> SnowflakeDialect {
        SnowflakeDialect { use_timestamp_tz: self.config.use_timestamp_tz, create_indexes: self.config.create_indexes }
    }
}

#[async_trait]
impl Destination for Snowflake {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        // parquet first: typed, and loaded by column name (dlt prefers jsonl)
        let mut c = Capabilities::new(FileFormat::Parquet);
        // merge and replace tables load into the staging dataset, then a followup moves them
        c.staging_dataset_dispositions = stevedore_sql::STAGING_DATASET_DISPOSITIONS.to_vec();
        c.supported_loader_file_formats = vec![FileFormat::Parquet, FileFormat::Jsonl, FileFormat::Csv];
        c.preferred_staging_file_format = Some(FileFormat::Parquet);
        c.supported_staging_file_formats = vec![FileFormat::Parquet, FileFormat::Jsonl, FileFormat::Csv];
        c.max_identifier_length = Some(255);
        c.max_column_identifier_length = Some(255);
        c.supported_merge_strategies =
            vec![MergeStrategy::DeleteInsert, MergeStrategy::Upsert, MergeStrategy::Scd2, MergeStrategy::InsertOnly];
        c.supported_replace_strategies =
            vec![ReplaceStrategy::TruncateAndInsert, ReplaceStrategy::InsertFromStaging, ReplaceStrategy::StagingOptimized];
        c.max_parallel_load_jobs = Some(4);
        // a job file is uploaded to the stage in one request, from memory (and encrypted into a
        // second buffer): rotation at 64 MiB bounds that, as the drivers' multipart threshold does
        c.recommended_file_size = Some(RECOMMENDED_FILE_SIZE);
        c.state_as_table = true;
        c.truncate_tables_on_staging_destination_before_load = self.config.truncate_tables_on_staging_destination_before_load;
        c
    }

    async fn client(&self, dataset_name: &str, _pipeline_name: &str) -> Result<Box<dyn DestinationClient>> {
        let dataset = self.dataset_name(dataset_name);
        if dataset.is_empty() {
            return Err(Error::config("the dataset name is empty").with_hint("pass a dataset name"));
        }
        let staging = self.staging_dataset_name(dataset_name)?;
        let c = &self.config;
        let rest = Arc::new(rest::Rest::new(&c.credentials, c.query_tag.clone(), c.http_timeout)?);
        // log in now: a wrong account, endpoint or password fails here, once, before any job
        let session = rest.login().await.map_err(|e| e.with("endpoint", rest.base().to_string()))?;
        let backend = SnowflakeBackend {
            rest,
            pool: Arc::new(Mutex::new(vec![session])),
            dialect: self.dialect(),
            display: c.credentials.to_string(),
            dataset: dataset.clone(),
            staging_dataset: staging.clone(),
            stage_name: c.stage_name.clone(),
            keep_staged_files: c.keep_staged_files,
            csv_format: c.csv_format.clone(),
        };
        Ok(Box::new(SqlClient::new(
            backend,
            SqlClientSettings {
                dataset,
                staging_dataset: staging,
                replace_strategy: c.replace_strategy.unwrap_or(ReplaceStrategy::TruncateAndInsert),
                merge_strategies: self.capabilities().supported_merge_strategies,
                fault_after_statements: None,
            },
        )))
    }

    fn display_location(&self) -> String {
        self.config.credentials.to_string()
    }
}

/// The destination built from layered config, as the facade's registry does it.
pub fn from_config(config: &Config) -> Result<Arc<dyn Destination>> {
    Ok(Arc::new(SnowflakeBuilder::from_config(config)?.build()?))
}

//! stevedore-bigquery: the BigQuery destination (dlt's `bigquery`).
//!
//! * The dataset is a BigQuery dataset (created in `location`, default `US`); dlt's
//!   `_dlt_loads`, `_dlt_version` and `_dlt_pipeline_state` live in it with dlt's columns and
//!   dlt's BigQuery types. Tables get `PARTITION BY` from a `partition` hint and `CLUSTER BY`
//!   from `cluster` hints.
//! * Job files load with BigQuery **load jobs**: through a `gs://` staging bucket (reference
//!   jobs, parquet preferred) or, without staging, by uploading the job file (jsonl
//!   preferred, uncompressed). Each load job's id is derived from the load and the job file,
//!   and looked up before it is inserted, so a resumed load never loads a file twice.
//! * Merge and replace tables load into the staging dataset; the followup SQL runs as one
//!   multi-statement transaction per root table (see [`backend`] for how transactions map).
//!
//! ```no_run
//! # fn demo() -> stevedore_core::Result<()> {
//! use stevedore_bigquery::{BigQuery, Credentials};
//! let destination = BigQuery::builder()
//!     .credentials(Credentials::emulator("stevedore-test", "http://127.0.0.1:9050"))
//!     .location("EU")
//!     .build()?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod adc;
pub mod backend;
pub mod config;
pub mod dialect;
pub mod rest;

use std::sync::Arc;

use async_trait::async_trait;
use stevedore_core::config::Config;
use stevedore_core::destination::{Capabilities, Destination, DestinationClient};
use stevedore_core::naming::{NamingConvention, SnakeCase};
use stevedore_core::schema::{MergeStrategy, ReplaceStrategy};
use stevedore_core::writers::FileFormat;
use stevedore_core::{Error, Result};
use stevedore_sql::client::{SqlClient, SqlClientSettings};

pub use backend::BigQueryBackend;
pub use config::{BIGQUERY_SPEC, BigQueryConfig, CREDENTIALS_SPEC, Credentials};
pub use dialect::BigQueryDialect;

/// Destination name.
pub const NAME: &str = "bigquery";

/// The BigQuery client: the shared SQL client on the BigQuery backend.
pub type BigQueryClient = SqlClient<BigQueryBackend>;

/// The BigQuery destination.
#[derive(Debug, Clone)]
pub struct BigQuery {
    config: BigQueryConfig,
}

/// Builds a [`BigQuery`] destination.
#[derive(Debug, Clone, Default)]
pub struct BigQueryBuilder {
    config: BigQueryConfig,
}

impl BigQueryBuilder {
    /// Starts from layered configuration (`[destination.bigquery]`, credentials included).
    pub fn from_config(config: &Config) -> Result<Self> {
        Ok(BigQueryBuilder { config: BigQueryConfig::from_config(config)? })
    }
    /// Sets the credentials.
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.config.credentials = c;
        self
    }
    /// The dataset and job location (`US`, `EU`, `europe-west3`...).
    pub fn location(mut self, l: &str) -> Self {
        self.config.location = l.into();
        self
    }
    /// `staging_dataset_name_layout`.
    pub fn staging_dataset_name_layout(mut self, layout: &str) -> Self {
        self.config.staging_dataset_name_layout = layout.into();
        self
    }
    /// The replace strategy.
    pub fn replace_strategy(mut self, s: ReplaceStrategy) -> Self {
        self.config.replace_strategy = Some(s);
        self
    }
    /// Validates the settings (no request yet: that happens when a load starts).
    pub fn build(self) -> Result<BigQuery> {
        // a project and credentials, Google's default ones included (no request yet)
        self.config.credentials.resolve()?;
        stevedore_sql::check_staging_layout(&self.config.staging_dataset_name_layout)?;
        Ok(BigQuery { config: self.config })
    }
}

impl BigQuery {
    /// A builder with dlt's defaults.
    pub fn builder() -> BigQueryBuilder {
        BigQueryBuilder::default()
    }

    /// The settings.
    pub fn config(&self) -> &BigQueryConfig {
        &self.config
    }

    /// The dataset name used for `dataset_name` (dlt's snake_case normalization).
    pub fn dataset_name(&self, dataset_name: &str) -> String {
        SnakeCase::new(Some(1024)).normalize_table_identifier(dataset_name)
    }

    /// The staging dataset name: the layout with `%s` replaced by the dataset name, or the
    /// layout itself; an error when it equals the dataset.
    pub fn staging_dataset_name(&self, dataset_name: &str) -> Result<String> {
        stevedore_sql::staging_dataset_name(&self.dataset_name(dataset_name), &self.config.staging_dataset_name_layout, Some(1024))
    }
}

#[async_trait]
impl Destination for BigQuery {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::new(FileFormat::Jsonl);
        // merge and replace tables load into the staging dataset, then a followup moves them
        c.staging_dataset_dispositions = stevedore_sql::STAGING_DATASET_DISPOSITIONS.to_vec();
        c.supported_loader_file_formats = vec![FileFormat::Jsonl, FileFormat::Parquet];
        c.preferred_staging_file_format = Some(FileFormat::Parquet);
        c.supported_staging_file_formats = vec![FileFormat::Parquet, FileFormat::Jsonl];
        c.max_identifier_length = Some(1024);
        c.max_column_identifier_length = Some(300);
        c.supported_merge_strategies = vec![MergeStrategy::DeleteInsert, MergeStrategy::Upsert, MergeStrategy::Scd2];
        c.supported_replace_strategies =
            vec![ReplaceStrategy::TruncateAndInsert, ReplaceStrategy::InsertFromStaging, ReplaceStrategy::StagingOptimized];
        // load jobs queue on BigQuery's side; a few at a time keep the client light
        c.max_parallel_load_jobs = Some(8);
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
        let rest = Arc::new(rest::Rest::new(&self.config)?);
        // one request now: a wrong endpoint, project or key fails here, once, before any job
        rest.probe().await.map_err(|e| {
            e.with("project", self.config.credentials.project_id.clone()).with("endpoint", self.config.credentials.endpoint())
        })?;
        let backend = BigQueryBackend {
            rest,
            dialect: BigQueryDialect,
            display: self.config.credentials.to_string(),
            dataset: dataset.clone(),
            staging_dataset: staging.clone(),
        };
        Ok(Box::new(SqlClient::new(
            backend,
            SqlClientSettings {
                dataset,
                staging_dataset: staging,
                replace_strategy: self.config.replace_strategy.unwrap_or(ReplaceStrategy::TruncateAndInsert),
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
    Ok(Arc::new(BigQueryBuilder::from_config(config)?.build()?))
}

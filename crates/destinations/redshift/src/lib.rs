//! stevedore-redshift: the Amazon Redshift destination (dlt's `redshift`).
//!
//! * Redshift speaks the PostgreSQL wire protocol: connections, TLS and transactions are the
//!   shared `stevedore-pgwire` pieces; the dataset is a schema holding dlt's `_dlt_loads`,
//!   `_dlt_version` and `_dlt_pipeline_state` with dlt's Redshift types.
//! * **Through the staging chain** (what the seed recommends): job files are uploaded to an
//!   `s3://` bucket (jsonl preferred, parquet accepted) and each one is loaded with
//!   `COPY ... FROM 's3://...'`, reading the bucket with `staging_iam_role` or the bucket's
//!   forwarded AWS keys. **Without staging**: dlt's `insert_values` files run as `INSERT`
//!   statements under Redshift's 16 MiB statement limit, one transaction per job.
//! * Merge (delete-insert, scd2; no upsert) and replace tables load into the staging dataset,
//!   then one followup transaction per root table moves the rows: a failure at any point
//!   leaves the final tables as they were.
//!
//! ```no_run
//! # fn demo() -> stevedore_core::Result<()> {
//! use stevedore_redshift::Redshift;
//! let destination = Redshift::builder()
//!     .connection_string("redshift://loader:secret@cluster.example.com/dlt_data?connect_timeout=15")?
//!     .staging_iam_role("arn:aws:iam::123456789012:role/redshift-loader")
//!     .build()?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod backend;
pub mod config;
pub mod dialect;

use std::sync::Arc;

use async_trait::async_trait;
use stevedore_core::config::Config;
use stevedore_core::destination::{Capabilities, Destination, DestinationClient};
use stevedore_core::naming::{NamingConvention, SnakeCase};
use stevedore_core::schema::{MergeStrategy, ReplaceStrategy};
use stevedore_core::writers::FileFormat;
use stevedore_core::{Error, Result};
use stevedore_pgwire::Flavor;
use stevedore_sql::client::{SqlClient, SqlClientSettings};
use tokio_postgres_rustls::MakeRustlsConnect;

pub use backend::RedshiftBackend;
pub use config::{CREDENTIALS_SPEC, Credentials, REDSHIFT_SPEC, RedshiftConfig, SslMode};
pub use dialect::{CopyCredentials, CopyStatement, RedshiftDialect, copy_sql};

/// Destination name.
pub const NAME: &str = "redshift";

/// The Redshift client: the shared SQL client on the Redshift backend.
pub type RedshiftClient = SqlClient<RedshiftBackend>;

/// The Redshift destination.
#[derive(Clone)]
pub struct Redshift {
    config: RedshiftConfig,
    credentials: Credentials,
    tls: MakeRustlsConnect,
}

impl std::fmt::Debug for Redshift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redshift").field("credentials", &self.credentials).field("config", &self.config).finish_non_exhaustive()
    }
}

/// Builds a [`Redshift`] destination.
#[derive(Debug, Clone, Default)]
pub struct RedshiftBuilder {
    config: RedshiftConfig,
}

impl RedshiftBuilder {
    /// Starts from layered configuration (`[destination.redshift]`, credentials included).
    pub fn from_config(config: &Config) -> Result<Self> {
        Ok(RedshiftBuilder { config: RedshiftConfig::from_config(config)? })
    }
    /// Sets the credentials.
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.config.credentials = Some(c);
        self
    }
    /// Sets the credentials from a connection string (`redshift://` or `postgresql://`).
    pub fn connection_string(mut self, conn: &str) -> Result<Self> {
        self.config.credentials = Some(Credentials::parse_as(conn, Flavor::Redshift)?);
        Ok(self)
    }
    /// `staging_iam_role`: the role Redshift's COPY reads the staging bucket with.
    pub fn staging_iam_role(mut self, arn: &str) -> Self {
        self.config.staging_iam_role = Some(arn.to_string());
        self
    }
    /// `has_case_sensitive_identifiers`.
    pub fn has_case_sensitive_identifiers(mut self, b: bool) -> Self {
        self.config.has_case_sensitive_identifiers = b;
        self
    }
    /// `staging_dataset_name_layout`: a pattern with `%s` or a fixed name.
    pub fn staging_dataset_name_layout(mut self, layout: &str) -> Self {
        self.config.staging_dataset_name_layout = layout.into();
        self
    }
    /// The replace strategy.
    pub fn replace_strategy(mut self, s: ReplaceStrategy) -> Self {
        self.config.replace_strategy = Some(s);
        self
    }
    /// Connections for parallel jobs.
    pub fn pool_size(mut self, n: usize) -> Self {
        self.config.pool_size = n.max(1);
        self
    }
    /// Tests on a PostgreSQL stand-in: staged files are read back from the bucket and loaded
    /// with `COPY ... FROM STDIN` (the `COPY ... FROM 's3://'` statement is still built).
    pub fn stand_in_copy(mut self, b: bool) -> Self {
        self.config.stand_in_copy = b;
        self
    }
    /// Validates the settings (no connection yet: that happens when a load starts).
    pub fn build(self) -> Result<Redshift> {
        let credentials = self.config.credentials.clone().ok_or_else(|| {
            Error::config("no credentials for the redshift destination").with_hint(
                "set DESTINATION__REDSHIFT__CREDENTIALS=redshift://loader:<password>@host/dlt_data?connect_timeout=15, or [destination.redshift.credentials] in .stevedore/secrets.toml",
            )
        })?;
        stevedore_sql::check_staging_layout(&self.config.staging_dataset_name_layout)?;
        let tls = stevedore_pgwire::tls_connector(&credentials)?;
        Ok(Redshift { config: self.config, credentials, tls })
    }
}

impl Redshift {
    /// A builder with dlt's defaults.
    pub fn builder() -> RedshiftBuilder {
        RedshiftBuilder::default()
    }

    /// The settings.
    pub fn config(&self) -> &RedshiftConfig {
        &self.config
    }

    /// The dataset (schema) name used for `dataset_name`.
    pub fn dataset_name(&self, dataset_name: &str) -> String {
        if self.config.enable_dataset_name_normalization {
            SnakeCase::new(Some(dialect::MAX_IDENTIFIER_LENGTH)).normalize_table_identifier(dataset_name)
        } else {
            dataset_name.to_string()
        }
    }

    /// The staging dataset name for `dataset_name`.
    pub fn staging_dataset_name(&self, dataset_name: &str) -> Result<String> {
        let normalize = self.config.enable_dataset_name_normalization.then_some(dialect::MAX_IDENTIFIER_LENGTH);
        stevedore_sql::staging_dataset_name(&self.dataset_name(dataset_name), &self.config.staging_dataset_name_layout, normalize)
    }

    fn dialect(&self) -> RedshiftDialect {
        RedshiftDialect { case_sensitive: self.config.has_case_sensitive_identifiers }
    }
}

#[async_trait]
impl Destination for Redshift {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::new(FileFormat::InsertValues);
        // merge and replace tables load into the staging dataset, then a followup moves them
        c.staging_dataset_dispositions = stevedore_sql::STAGING_DATASET_DISPOSITIONS.to_vec();
        c.supported_loader_file_formats = vec![FileFormat::InsertValues];
        c.preferred_staging_file_format = Some(FileFormat::Jsonl);
        c.supported_staging_file_formats = vec![FileFormat::Jsonl, FileFormat::Parquet];
        c.max_identifier_length = Some(dialect::MAX_IDENTIFIER_LENGTH);
        c.max_column_identifier_length = Some(dialect::MAX_IDENTIFIER_LENGTH);
        c.supported_merge_strategies = vec![MergeStrategy::DeleteInsert, MergeStrategy::Scd2];
        c.supported_replace_strategies =
            vec![ReplaceStrategy::TruncateAndInsert, ReplaceStrategy::InsertFromStaging, ReplaceStrategy::StagingOptimized];
        c.max_parallel_load_jobs = Some(self.config.pool_size);
        c.state_as_table = true;
        c.truncate_tables_on_staging_destination_before_load = self.config.truncate_tables_on_staging_destination_before_load;
        c.insert_values_literals = stevedore_sql::Dialect::insert_values_literals(&self.dialect());
        c
    }

    async fn client(&self, dataset_name: &str, _pipeline_name: &str) -> Result<Box<dyn DestinationClient>> {
        let dataset = self.dataset_name(dataset_name);
        if dataset.is_empty() {
            return Err(Error::config("the dataset name is empty").with_hint("pass a dataset name"));
        }
        let staging = self.staging_dataset_name(dataset_name)?;
        let display = self.credentials.to_string();
        let pool = stevedore_pgwire::pool(self.credentials.pg_config(), self.tls.clone(), self.config.pool_size)?;
        // one connection now: a wrong password or an unreachable cluster fails here, once
        drop(stevedore_pgwire::connection(&pool, &display).await.map_err(|e| e.retryable(false))?);
        let backend = RedshiftBackend {
            pool,
            display,
            dialect: self.dialect(),
            staging_iam_role: self.config.staging_iam_role.clone(),
            stand_in_copy: self.config.stand_in_copy,
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
        self.credentials.to_string()
    }
}

/// The destination built from layered config, as the facade's registry does it.
pub fn from_config(config: &Config) -> Result<Arc<dyn Destination>> {
    Ok(Arc::new(RedshiftBuilder::from_config(config)?.build()?))
}

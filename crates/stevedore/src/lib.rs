//! stevedore: load data into files, buckets and warehouses the dlt way, in Rust.
//!
//! This facade re-exports the core and one module per enabled destination crate, and keeps
//! a [`Registry`] that builds destinations by name from layered configuration.
//!
//! ```no_run
//! use std::sync::Arc;
//! use stevedore::{Pipeline, Resource, filesystem::Filesystem};
//!
//! # async fn demo() -> stevedore::Result<()> {
//! let destination = Filesystem::builder().bucket_url("./lake").build()?;
//! let pipeline = Pipeline::builder("events").destination(Arc::new(destination)).build()?;
//! let info = pipeline
//!     .run(Resource::from_values("events", vec![serde_json::json!({"id": 1, "tags": ["a", "b"]})]))
//!     .await?;
//! println!("{info}");
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

pub use serde_json;
pub use stevedore_core;
pub use stevedore_core::config::{self, Config};
pub use stevedore_core::config_section;
pub use stevedore_core::destination::{self, Destination, DestinationClient};
pub use stevedore_core::pipeline::{self, LoadInfo, Pipeline, PipelineBuilder, Progress};
pub use stevedore_core::schema::{self, Column, DataType, MergeStrategy, Schema, TableFormat, WriteDisposition};
pub use stevedore_core::source::{self, Resource, Scd2Options, Source};
pub use stevedore_core::staging::{self, StagingDestination};
pub use stevedore_core::writers::{self, FileFormat};
pub use stevedore_core::{Error, ErrorKind, Result, loader, naming, normalize, package, state, time};

/// The filesystem destination: local disk, plus `s3://` (feature `s3`), `az://` (feature
/// `azure`) and `gs://` (feature `gcs`) buckets.
#[cfg(feature = "filesystem")]
pub mod filesystem {
    pub use stevedore_filesystem::*;
}

/// The Delta table format of the filesystem destination (feature `delta`).
#[cfg(feature = "delta")]
pub mod delta {
    pub use stevedore_delta::*;
}

/// Whether this build writes Delta tables (feature `delta`).
pub const DELTA: bool = cfg!(feature = "delta");

/// The filesystem destination from layered config, with the table formats of this build
/// registered (Delta with feature `delta`).
#[cfg(feature = "filesystem")]
pub fn filesystem_from_config(config: &Config) -> Result<Arc<dyn Destination>> {
    Ok(Arc::new(with_table_formats(stevedore_filesystem::FilesystemBuilder::from_config(config)?).build()?))
}

/// A filesystem destination builder with the table formats of this build registered (Delta
/// with feature `delta`); start here instead of `Filesystem::builder()` to write Delta tables.
#[cfg(feature = "filesystem")]
pub fn filesystem_builder() -> stevedore_filesystem::FilesystemBuilder {
    with_table_formats(stevedore_filesystem::Filesystem::builder())
}

/// Registers the table-format writers of this build on a filesystem builder.
#[cfg(feature = "filesystem")]
fn with_table_formats(b: stevedore_filesystem::FilesystemBuilder) -> stevedore_filesystem::FilesystemBuilder {
    #[cfg(feature = "delta")]
    let b = b.table_format(stevedore_delta::writer());
    b
}

/// The PostgreSQL destination.
#[cfg(feature = "postgres")]
pub mod postgres {
    pub use stevedore_postgres::*;
}

/// The BigQuery destination.
#[cfg(feature = "bigquery")]
pub mod bigquery {
    pub use stevedore_bigquery::*;
}

/// The Redshift destination.
#[cfg(feature = "redshift")]
pub mod redshift {
    pub use stevedore_redshift::*;
}

/// The Snowflake destination.
#[cfg(feature = "snowflake")]
pub mod snowflake {
    pub use stevedore_snowflake::*;
}

/// The SQL machinery shared by warehouse destinations (dialects, DDL, merge SQL).
#[cfg(any(feature = "postgres", feature = "bigquery", feature = "redshift", feature = "snowflake"))]
pub mod sql {
    pub use stevedore_sql::*;
}

type Factory = Arc<dyn Fn(&Config) -> Result<Arc<dyn Destination>> + Send + Sync>;
type StagingFactory = Arc<dyn Fn(&Config) -> Result<Arc<dyn StagingDestination>> + Send + Sync>;

/// The filesystem as a staging storage, from `[destination.filesystem]` (bucket URL and
/// credentials), as dlt configures `staging="filesystem"`.
#[cfg(feature = "filesystem")]
pub fn filesystem_staging_from_config(config: &Config) -> Result<Arc<dyn StagingDestination>> {
    Ok(Arc::new(stevedore_filesystem::FilesystemBuilder::from_config(config)?.build()?))
}

/// Destination factories by name. Build one with [`Registry::with_builtins`] (every enabled
/// destination crate registered) or start empty and [`Registry::register`] your own.
#[derive(Clone, Default)]
pub struct Registry {
    factories: BTreeMap<String, Factory>,
    staging: BTreeMap<String, StagingFactory>,
    specs: Vec<&'static config::SectionSpec>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("destinations", &self.names()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with every destination enabled by features.
    pub fn with_builtins() -> Self {
        #[allow(unused_mut)]
        let mut r = Self::new();
        #[cfg(feature = "filesystem")]
        r.register(stevedore_filesystem::NAME, &stevedore_filesystem::FILESYSTEM_SPEC, filesystem_from_config);
        #[cfg(feature = "filesystem")]
        r.register_staging(stevedore_filesystem::NAME, filesystem_staging_from_config);
        #[cfg(feature = "postgres")]
        r.register(stevedore_postgres::NAME, &stevedore_postgres::POSTGRES_SPEC, stevedore_postgres::from_config);
        #[cfg(feature = "bigquery")]
        r.register(stevedore_bigquery::NAME, &stevedore_bigquery::BIGQUERY_SPEC, stevedore_bigquery::from_config);
        #[cfg(feature = "redshift")]
        r.register(stevedore_redshift::NAME, &stevedore_redshift::REDSHIFT_SPEC, stevedore_redshift::from_config);
        #[cfg(feature = "snowflake")]
        r.register(stevedore_snowflake::NAME, &stevedore_snowflake::SNOWFLAKE_SPEC, stevedore_snowflake::from_config);
        r
    }

    /// Registers a destination factory and the config section it reads.
    pub fn register(
        &mut self,
        name: &str,
        spec: &'static config::SectionSpec,
        factory: impl Fn(&Config) -> Result<Arc<dyn Destination>> + Send + Sync + 'static,
    ) {
        self.factories.insert(name.to_string(), Arc::new(factory));
        self.specs.push(spec);
    }

    /// Registers a staging storage factory (its config section is registered with
    /// [`Registry::register`] when it is also a destination, as the filesystem is).
    pub fn register_staging(
        &mut self,
        name: &str,
        factory: impl Fn(&Config) -> Result<Arc<dyn StagingDestination>> + Send + Sync + 'static,
    ) {
        self.staging.insert(name.to_string(), Arc::new(factory));
    }

    /// Builds a staging storage by name from configuration.
    pub fn staging(&self, name: &str, config: &Config) -> Result<Arc<dyn StagingDestination>> {
        let f = self.staging.get(name).ok_or_else(|| {
            Error::config(format!("unknown staging storage `{name}`")).with_hint(format!(
                "staging storages in this build: {}",
                self.staging.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
            ))
        })?;
        f(config)
    }

    /// Registered names.
    pub fn names(&self) -> Vec<&str> {
        self.factories.keys().map(String::as_str).collect()
    }

    /// Config sections known to the core and the registered destinations (for validation).
    pub fn specs(&self) -> Vec<&'static config::SectionSpec> {
        let mut v = stevedore_core::pipeline::core_specs();
        v.extend(self.specs.iter().copied());
        v
    }

    /// Builds a destination by name from configuration.
    pub fn destination(&self, name: &str, config: &Config) -> Result<Arc<dyn Destination>> {
        let f = self.factories.get(name).ok_or_else(|| {
            Error::config(format!("unknown destination `{name}`"))
                .with_hint(format!("destinations in this build: {}", self.names().join(", ")))
        })?;
        f(config)
    }
}

//! stevedore-sql: the machinery every SQL warehouse destination shares.
//!
//! * [`dialect`]: the [`Dialect`] trait (type mapping, identifier quoting and length, the
//!   statement shapes that differ between warehouses) and [`PostgresDialect`];
//! * [`ddl`]: `CREATE TABLE` / `ALTER TABLE ADD COLUMN` from the diff between a schema and
//!   `information_schema`;
//! * [`jobs`]: the SQL of replace (`insert-from-staging`, `staging-optimized`) and of every
//!   merge strategy (`delete-insert`, `upsert`, `insert-only`, `scd2`), root and nested tables;
//! * [`client`]: [`client::SqlClient`], the destination client every SQL destination shares
//!   (migration, jobs, followups, load markers, state), on a [`client::SqlBackend`] the
//!   destination crate supplies (connections, transactions, how a file gets into a table);
//! * [`jwt`]: the RS256 tokens Snowflake's key-pair login and BigQuery's service accounts sign;
//! * [`system`]: dlt's system tables (`_dlt_loads`, `_dlt_version`, `_dlt_pipeline_state`) and
//!   the statements around them.
//!
//! Identifiers always go through [`Dialect::quote_identifier`]; values never become SQL text
//! except for timestamps rendered by [`Dialect::timestamp_literal`].

#![warn(missing_docs)]

pub mod client;
pub mod ddl;
pub mod dialect;
pub mod jobs;
pub mod jwt;
pub mod system;

pub use dialect::{Dialect, PostgresDialect};
pub use jobs::{MergeContext, Names, TableChain, merge_sql, replace_sql};

use stevedore_core::schema::{ReplaceStrategy, WriteDisposition};

/// The dispositions whose tables a SQL destination loads into its staging dataset
/// ([`stevedore_core::destination::Capabilities::staging_dataset_dispositions`]): merge, and
/// replace with every strategy (stevedore runs `truncate-and-insert` through staging too, so
/// the final tables change in one transaction).
pub const STAGING_DATASET_DISPOSITIONS: [WriteDisposition; 2] = [WriteDisposition::Merge, WriteDisposition::Replace];

/// The replace strategy: the configured one, else the first supported one.
pub fn replace_strategy(configured: Option<ReplaceStrategy>, supported: &[ReplaceStrategy]) -> ReplaceStrategy {
    configured.or_else(|| supported.first().copied()).unwrap_or(ReplaceStrategy::TruncateAndInsert)
}

/// Refuses an empty `staging_dataset_name_layout` when a destination is built.
pub fn check_staging_layout(layout: &str) -> stevedore_core::Result<()> {
    if layout.trim().is_empty() {
        return Err(stevedore_core::Error::config("staging_dataset_name_layout is empty").with_hint("use e.g. %s_staging"));
    }
    Ok(())
}

/// The staging dataset name for the (already normalized) dataset `dataset`: `layout` with `%s`
/// replaced by it, or `layout` itself, normalized as a table identifier of at most
/// `max_length` characters when `max_length` is given; an error when it equals the dataset
/// (loading would empty the final tables).
pub fn staging_dataset_name(dataset: &str, layout: &str, max_length: Option<usize>) -> stevedore_core::Result<String> {
    use stevedore_core::naming::{NamingConvention, SnakeCase};
    let raw = if layout.contains("%s") { layout.replace("%s", dataset) } else { layout.to_string() };
    let name = match max_length {
        Some(n) => SnakeCase::new(Some(n)).normalize_table_identifier(&raw),
        None => raw,
    };
    if name == dataset {
        return Err(stevedore_core::Error::config(format!("the staging dataset name `{name}` equals the dataset name"))
            .with("staging_dataset_name_layout", layout.to_string())
            .with_hint("loading would empty the final tables; choose a layout like %s_staging"));
    }
    Ok(name)
}

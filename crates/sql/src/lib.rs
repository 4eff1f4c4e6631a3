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
pub mod system;

pub use dialect::{Dialect, PostgresDialect};
pub use jobs::{MergeContext, Names, TableChain, merge_sql, replace_sql};

use stevedore_core::schema::{MergeStrategy, ReplaceStrategy, Schema, WriteDisposition};

/// Whether rows of `table` load into the staging dataset: merge tables, and replace tables
/// (every replace strategy: stevedore runs `truncate-and-insert` through staging too, so the
/// final tables change in one transaction).
pub fn loads_to_staging(schema: &Schema, table: &str) -> bool {
    matches!(schema.write_disposition(table), WriteDisposition::Merge | WriteDisposition::Replace)
}

/// The merge strategy of a table: its hint, else the first supported one.
pub fn merge_strategy(schema: &Schema, table: &str, supported: &[MergeStrategy]) -> MergeStrategy {
    schema.merge_strategy(table).or_else(|| supported.first().copied()).unwrap_or(MergeStrategy::DeleteInsert)
}

/// The replace strategy: the configured one, else the first supported one.
pub fn replace_strategy(configured: Option<ReplaceStrategy>, supported: &[ReplaceStrategy]) -> ReplaceStrategy {
    configured.or_else(|| supported.first().copied()).unwrap_or(ReplaceStrategy::TruncateAndInsert)
}

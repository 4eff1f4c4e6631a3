//! The SQL destination client every SQL warehouse shares: migration (an `information_schema`
//! diff, DDL, `_dlt_version`), data and reference jobs into final or staging tables, replace
//! and merge followups through the staging dataset, `_dlt_loads`, the stored state, the
//! job-idempotency table and staging truncation. A destination crate supplies a
//! [`SqlBackend`]: its connection and transactions ([`SqlTransaction`]), how a job file gets
//! into a table (COPY, a load job...), its [`Dialect`], and optional hooks (locks).
//!
//! **Idempotent jobs.** Every job commits in one transaction together with its row in
//! `<dataset>._stevedore_jobs` (`load_id`, `job_id`); a job found there is skipped, so a job
//! run again after a crash does not duplicate rows. The first migration of a package records
//! a `__package_started__` row: the staging tables of the package are emptied only then, so
//! a resumed package keeps what its finished jobs staged.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use stevedore_core::destination::{Dataset, DestinationClient, FollowupJob, JobInfo, JobOutcome, PackageInfo};
use stevedore_core::schema::{
    C_DLT_ID, C_DLT_LOAD_ID, C_DLT_PARENT_ID, Column, MergeStrategy, ReplaceStrategy, Schema, Table, VERSION_TABLE, WriteDisposition,
};
use stevedore_core::{Error, ErrorKind, Result};

use crate::ddl::{StorageColumn, StorageTables, migration_sql, table_diff};
use crate::{Dialect, MergeContext, Names, TableChain, merge_sql, replace_sql, system};

/// Format of followup SQL jobs (content: `{"statements": [...]}`).
pub const SQL_JOB_FORMAT: &str = "sql";

/// The payload of a [`SQL_JOB_FORMAT`] followup: statements run in one transaction, with the
/// job's record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SqlJob {
    /// The statements, in order.
    pub statements: Vec<String>,
}
/// Completed jobs, in the dataset.
pub const JOBS_TABLE: &str = "_stevedore_jobs";
/// The job id recorded by a package's first migration.
pub const PACKAGE_STARTED: &str = "__package_started__";
/// Unique constraints of new tables not built yet (see [`SqlBackend::deferred_unique_columns`]),
/// in the dataset: `table_name`, `column_name`.
pub const PENDING_INDEXES_TABLE: &str = "_stevedore_pending_indexes";

/// A bind parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Text.
    Text(String),
    /// A 64-bit integer.
    Int(i64),
    /// A list of texts (`= ANY($n)` in PostgreSQL).
    TextList(Vec<String>),
}

/// One row of a query result, every value as text (`None` for NULL).
pub type SqlRow = Vec<Option<String>>;

/// Work on one connection inside a transaction. Dropping it without [`SqlTransaction::commit`]
/// must roll back (or discard the connection).
#[async_trait]
pub trait SqlTransaction: Send {
    /// Runs one or more statements without parameters.
    async fn batch(&mut self, sql: &str) -> Result<()>;
    /// Runs one statement with parameters; returns the rows affected.
    async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64>;
    /// Runs a query with parameters.
    async fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<SqlRow>>;
    /// Commits.
    async fn commit(self) -> Result<()>
    where
        Self: Sized;
}

/// What a SQL destination crate supplies to [`SqlClient`].
#[async_trait]
pub trait SqlBackend: Send + Sync + 'static {
    /// Its transactions.
    type Tx: SqlTransaction + 'static;
    /// The dialect (types, quoting, statement shapes).
    fn dialect(&self) -> &dyn Dialect;
    /// Bind parameter `n` (1-based): `$1`, `?`, `@p1`.
    fn param(&self, n: usize) -> String;
    /// A displayable location without secrets (`postgresql://host:5432/db`).
    fn display(&self) -> &str;
    /// A transaction on a connection of the pool.
    async fn begin(&self) -> Result<Self::Tx>;
    /// Loads one data job file, or the staged file of a reference job, into `qualified` (the
    /// final or staging table `table`), inside `tx`. Returns the rows loaded.
    async fn load_file(&self, tx: &mut Self::Tx, package: &PackageInfo, job: &JobInfo, table: &Table, qualified: &str) -> Result<u64>;
    /// Whether `e` says that a table or schema does not exist (nothing loaded yet).
    fn is_missing_relation(&self, e: &Error) -> bool;
    /// Whether `e` is a unique-key violation (the same job recorded twice by two runs).
    fn is_unique_violation(&self, _e: &Error) -> bool {
        false
    }
    /// `information_schema.columns` of some tables of a schema: table, column, data type,
    /// nullable (`YES`/`NO`), numeric precision and scale, with parameters the schema name
    /// ([`Param::Text`]) and the table names ([`Param::TextList`]). `schema` is the unquoted
    /// schema name too, for warehouses whose `INFORMATION_SCHEMA` is per dataset (BigQuery).
    fn information_schema_columns_sql(&self, schema: &str) -> String;
    /// `CREATE SCHEMA IF NOT EXISTS` for a quoted schema name.
    fn create_schema_sql(&self, schema: &str) -> String {
        format!("CREATE SCHEMA IF NOT EXISTS {schema}")
    }
    /// `CREATE TABLE IF NOT EXISTS` of the job table (`load_id`, `job_id`).
    fn jobs_table_ddl(&self, qualified: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {qualified} (load_id varchar(256) NOT NULL, job_id varchar(1024) NOT NULL, PRIMARY KEY (load_id, job_id))"
        )
    }
    /// A timestamp bind parameter (a UTC RFC 3339 text is bound): `CAST($n AS text)::timestamptz` in PostgreSQL.
    fn timestamp_param(&self, n: usize) -> String {
        self.param(n)
    }
    /// Called each time a package starts or resumes, with the roots of the tables it loads
    /// through the staging dataset (PostgreSQL takes its staging locks here).
    async fn begin_package(&self, _client: &SqlClient<Self>, _package: &PackageInfo, _staging_roots: &BTreeSet<String>) -> Result<()>
    where
        Self: Sized,
    {
        Ok(())
    }
    /// Serializes migrations of `dataset` inside `tx` (PostgreSQL: an advisory lock).
    async fn lock_dataset(&self, _tx: &mut Self::Tx, _dataset: &str) -> Result<()> {
        Ok(())
    }
    /// Called in the migration transaction after the staging dataset was created, before its
    /// tables are migrated.
    async fn after_create_staging(&self, _tx: &mut Self::Tx, _names: &Names<'_>) -> Result<()> {
        Ok(())
    }
    /// Called in the migration transaction after `ALTER TABLE` added `columns` to the
    /// existing `table` (its schema name, not case-folded) of dataset `schema`.
    async fn after_add_columns(&self, _tx: &mut Self::Tx, _schema: &str, _table: &str, _columns: &[&Column]) -> Result<()> {
        Ok(())
    }
    /// Called after a package's staging tables were emptied, in the same transaction
    /// (PostgreSQL records which load owns them).
    async fn claim_staging(&self, _tx: &mut Self::Tx, _names: &Names<'_>, _load_id: &str, _tables: &[String]) -> Result<()> {
        Ok(())
    }
    /// Called after a load's `_dlt_loads` row committed: the load is complete (Snowflake logs its
    /// pooled sessions out here; a later call may open new ones).
    async fn after_complete_load(&self) -> Result<()> {
        Ok(())
    }
    /// A statement that breaks the connection, run before statement `n` of a followup when
    /// the fault hook asks for it (tests).
    fn fault_statement(&self) -> Option<&'static str> {
        None
    }
    /// The columns of a new final table whose `UNIQUE` constraints this backend builds once,
    /// after the package's data jobs, instead of at `CREATE TABLE`: a b-tree built from sorted
    /// rows costs a fraction of one maintained row by row during COPY. None by default. A
    /// table with such columns is created without column hints; its pending constraints are
    /// recorded in [`PENDING_INDEXES_TABLE`] in the migration's transaction, and the load's
    /// completion builds them ([`SqlBackend::build_deferred_unique_sql`]) before it writes the
    /// load marker: a crash in between leaves them pending, for the resumed package or the next
    /// one of the dataset.
    fn deferred_unique_columns(&self, _table: &Table) -> Vec<String> {
        Vec::new()
    }
    /// Whether this backend may have deferred unique constraints to build when a load
    /// completes (then [`PENDING_INDEXES_TABLE`] is read there); false by default.
    fn defers_unique_constraints(&self) -> bool {
        false
    }
    /// The statements that build the pending unique constraints `columns` of `table` and
    /// remove their rows from `pending` (both qualified), run in one transaction.
    fn build_deferred_unique_sql(&self, _qualified: &str, _pending: &str, _table: &str, _columns: &[String]) -> Vec<String> {
        Vec::new()
    }
}

/// Settings of a [`SqlClient`].
#[derive(Debug, Clone)]
pub struct SqlClientSettings {
    /// The dataset (schema).
    pub dataset: String,
    /// The staging dataset.
    pub staging_dataset: String,
    /// The replace strategy (`truncate-and-insert` runs through staging too).
    pub replace_strategy: ReplaceStrategy,
    /// Merge strategies the destination supports; the first is the default.
    pub merge_strategies: Vec<MergeStrategy>,
    /// Test hook: break the connection before this statement of a followup.
    pub fault_after_statements: Option<usize>,
}

/// The generic SQL destination client.
pub struct SqlClient<B: SqlBackend> {
    /// The destination's backend.
    pub backend: B,
    /// Its settings.
    pub settings: SqlClientSettings,
}

/// The schema document stored in `_dlt_version.schema`: JSON, or, when longer than the
/// dialect's bounded text type, compressed as dlt compresses it (zlib, base64); readers take both.
fn schema_document(dialect: &dyn Dialect, schema: &Schema) -> Result<String> {
    let doc = schema.to_value();
    let text = serde_json::to_string(&doc)?;
    Ok(match dialect.max_text_data_type_length() {
        Some(max) if text.len() > max => stevedore_core::state::compress_state(&doc),
        _ => text,
    })
}

fn to_i64(v: &Option<String>) -> Option<i64> {
    v.as_deref().and_then(|s| s.trim().parse().ok())
}

impl<B: SqlBackend> SqlClient<B> {
    /// A client on `backend`.
    pub fn new(backend: B, settings: SqlClientSettings) -> Self {
        SqlClient { backend, settings }
    }

    /// The dataset (schema) name.
    pub fn dataset(&self) -> &str {
        &self.settings.dataset
    }

    /// The staging dataset (schema) name.
    pub fn staging_dataset(&self) -> &str {
        &self.settings.staging_dataset
    }

    /// Qualified names in the dataset and the staging dataset.
    pub fn names(&self) -> Names<'_> {
        Names::new(self.backend.dialect(), &self.settings.dataset, &self.settings.staging_dataset)
    }

    /// Refuses, before anything is loaded (final or staging tables alike), a merge table
    /// whose strategy hint the destination does not support, naming those it does.
    pub fn check_merge_strategies(&self, package: &PackageInfo) -> Result<()> {
        let schema = &package.schema;
        let supported = &self.settings.merge_strategies;
        for (t, _) in &package.tables {
            let Some(root) = schema.root_table(t) else { continue };
            if schema.write_disposition(&root.name) != WriteDisposition::Merge {
                continue;
            }
            if let Some(s) = schema.merge_strategy(&root.name)
                && !supported.contains(&s)
            {
                let names: Vec<String> = supported.iter().map(|m| m.to_string()).collect();
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("the {} destination does not support the `{s}` merge strategy", self.backend.dialect().name()),
                )
                .with("table", root.name.clone())
                .with_hint(format!("use one of: {}", names.join(", ")))
                .retryable(false));
            }
        }
        Ok(())
    }

    /// Roots of the merge/replace tables a package loads (through the staging dataset).
    pub fn staging_roots(&self, package: &PackageInfo) -> BTreeSet<String> {
        let s = &package.schema;
        package
            .tables
            .iter()
            .map(|(t, _)| t)
            .chain(package.replace_tables.iter())
            .filter(|t| package.plan(t).is_ok_and(|p| p.dataset == Dataset::Staging))
            .filter_map(|t| s.root_table(t).map(|r| r.name.clone()))
            .collect()
    }

    /// The tables of the chains of `roots`.
    pub fn chain_tables<'s>(schema: &'s Schema, roots: &BTreeSet<String>) -> Vec<&'s Table> {
        roots.iter().filter_map(|r| TableChain::from_schema(schema, r)).flat_map(|c| c.tables).collect()
    }

    /// Creates or alters `tables` of dataset `schema` to hold their complete columns, then
    /// tells the backend which columns it added to existing tables.
    #[allow(clippy::too_many_arguments)]
    async fn apply_migration(
        &self,
        tx: &mut B::Tx,
        schema: &str,
        tables: &[&Table],
        existing: &StorageTables,
        qualify: &(dyn Fn(&str) -> String + Sync),
        hints: bool,
        during: &'static str,
    ) -> Result<()> {
        for s in migration_sql(self.backend.dialect(), tables, existing, qualify, hints)? {
            tracing::debug!(sql = %s, "migrating");
            tx.batch(&s).await.map_err(|e| e.with("during", during).with("statement", s.clone()))?;
        }
        for t in tables {
            let Some(stored) = existing.get(&t.name) else { continue };
            let added = table_diff(t, Some(stored));
            if !added.is_empty() {
                self.backend.after_add_columns(tx, schema, &t.name, &added).await.map_err(|e| e.with("during", during))?;
            }
        }
        Ok(())
    }

    async fn existing_columns(&self, tx: &mut B::Tx, schema: &str, tables: &[&Table]) -> Result<StorageTables> {
        // the catalog holds case-folded names (upper case on Snowflake): ask for those, and
        // map what it reports back to the schema's names, as dlt does
        let d = self.backend.dialect();
        let folded: HashMap<String, &Table> = tables.iter().map(|t| (d.casefold(&t.name), *t)).collect();
        let names: Vec<String> = folded.keys().cloned().collect();
        let rows = tx
            .query(&self.backend.information_schema_columns_sql(schema), &[Param::Text(d.casefold(schema)), Param::TextList(names)])
            .await
            .map_err(|e| e.with("reading", "information_schema"))?;
        let mut out = StorageTables::new();
        for r in rows {
            let get = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let (t, c) = (get(0), get(1));
            let (t, c) = match folded.get(&t) {
                Some(table) => {
                    let col = table.columns.keys().find(|n| d.casefold(n) == c).cloned().unwrap_or(c);
                    (table.name.clone(), col)
                }
                None => (t, c),
            };
            let col = StorageColumn {
                name: c.clone(),
                db_type: get(2),
                nullable: get(3) == "YES",
                precision: r.get(4).and_then(to_i64),
                scale: r.get(5).and_then(to_i64),
            };
            out.entry(t).or_default().insert(c, col);
        }
        Ok(out)
    }

    /// Whether `job_id` of `load_id` committed (false before the job table exists).
    pub async fn job_done(&self, tx: &mut B::Tx, load_id: &str, job_id: &str) -> Result<bool> {
        let sql = format!(
            "SELECT 1 FROM {} WHERE load_id = {} AND job_id = {}",
            self.names().final_table(JOBS_TABLE),
            self.backend.param(1),
            self.backend.param(2)
        );
        match tx.query(&sql, &[Param::Text(load_id.into()), Param::Text(job_id.into())]).await {
            Ok(r) => Ok(!r.is_empty()),
            Err(e) if self.backend.is_missing_relation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn mark_done(&self, tx: &mut B::Tx, load_id: &str, job_id: &str) -> Result<()> {
        let sql = format!(
            "INSERT INTO {} (load_id, job_id) VALUES ({}, {})",
            self.names().final_table(JOBS_TABLE),
            self.backend.param(1),
            self.backend.param(2)
        );
        tx.execute(&sql, &[Param::Text(load_id.into()), Param::Text(job_id.into())]).await.map(|_| ())
    }

    async fn truncate_staging(&self, tx: &mut B::Tx, tables: &[&Table]) -> Result<()> {
        let names = self.names();
        for t in tables {
            tx.batch(&self.backend.dialect().truncate_table(&names.staging_table(&t.name))).await?;
        }
        Ok(())
    }

    async fn run_load(&self, package: &PackageInfo, job: &JobInfo) -> Result<u64> {
        let schema = &package.schema;
        let table = schema.table(&job.table).ok_or_else(|| {
            Error::new(ErrorKind::State, format!("table `{}` of job {} is not in the package schema", job.table, job.job_id()))
        })?;
        let qualified = match package.plan(&job.table)?.dataset {
            Dataset::Staging => self.names().staging_table(&job.table),
            Dataset::Final => self.names().final_table(&job.table),
        };
        let mut tx = self.backend.begin().await?;
        if self.job_done(&mut tx, &package.load_id, &job.job_id()).await? {
            tracing::info!(job = %job.job_id(), "job already loaded; skipped");
            return Ok(0);
        }
        let rows = self.backend.load_file(&mut tx, package, job, table, &qualified).await?;
        self.mark_done(&mut tx, &package.load_id, &job.job_id()).await?;
        match tx.commit().await {
            Ok(()) => Ok(rows),
            // another run recorded the same job meanwhile: its rows are there once
            Err(e) if self.backend.is_unique_violation(&e) => Ok(0),
            Err(e) => Err(e),
        }
    }

    async fn run_sql(&self, package: &PackageInfo, job: &JobInfo) -> Result<()> {
        let SqlJob { statements: stmts } = job.payload().await?;
        let mut tx = self.backend.begin().await?;
        if self.job_done(&mut tx, &package.load_id, &job.job_id()).await? {
            return Ok(());
        }
        for (i, s) in stmts.iter().enumerate() {
            if self.settings.fault_after_statements == Some(i)
                && let Some(f) = self.backend.fault_statement()
            {
                let _ = tx.batch(f).await;
            }
            tx.batch(s).await.map_err(|e| e.with("table", job.table.clone()).with("statement", s.chars().take(300).collect::<String>()))?;
        }
        self.mark_done(&mut tx, &package.load_id, &job.job_id()).await?;
        tx.commit().await
    }

    /// The pending unique constraints of the dataset's tables that `schema` knows (those of
    /// an earlier, interrupted package included), per table.
    async fn pending_unique(&self, schema: &Schema) -> Result<Vec<(String, Vec<String>)>> {
        let sql = format!("SELECT table_name, column_name FROM {} ORDER BY 1, 2", self.names().final_table(PENDING_INDEXES_TABLE));
        let mut tx = self.backend.begin().await?;
        let rows = match tx.query(&sql, &[]).await {
            Ok(r) => r,
            Err(e) if self.backend.is_missing_relation(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e.with("reading", PENDING_INDEXES_TABLE)),
        };
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in rows {
            let (Some(Some(t)), Some(Some(c))) = (r.first(), r.get(1)) else { continue };
            if schema.table(t).is_none() {
                continue; // another schema's table: its own pipeline builds it
            }
            match out.last_mut() {
                Some((last, cols)) if last == t => cols.push(c.clone()),
                _ => out.push((t.clone(), vec![c.clone()])),
            }
        }
        Ok(out)
    }

    /// Builds the pending unique constraints of the tables `schema` knows, one transaction per
    /// table, the tables in parallel (each on its own connection).
    async fn build_pending_unique(&self, schema: &Schema) -> Result<()> {
        if !self.backend.defers_unique_constraints() {
            return Ok(());
        }
        let names = self.names();
        let pending = names.final_table(PENDING_INDEXES_TABLE);
        let builds = self.pending_unique(schema).await?.into_iter().map(|(table, columns)| {
            let stmts = self.backend.build_deferred_unique_sql(&names.final_table(&table), &pending, &table, &columns);
            async move {
                let started = std::time::Instant::now();
                let mut tx = self.backend.begin().await?;
                for s in &stmts {
                    tx.batch(s).await.map_err(|e| {
                        let e = e
                            .with("table", table.clone())
                            .with("columns", columns.join(", "))
                            .with("during", "building the unique constraints deferred after the data jobs");
                        if self.backend.is_unique_violation(&e) {
                            e.with_hint("the table holds duplicate values in a unique column (rows written by another tool?); delete them and run again: the load resumes here, its rows are in place but it has no load marker yet")
                        } else {
                            e
                        }
                    })?;
                }
                tx.commit().await?;
                tracing::debug!(table = %table, columns = ?columns, elapsed = ?started.elapsed(), "built deferred unique constraints");
                Ok::<(), Error>(())
            }
        });
        futures::future::try_join_all(builds).await.map(|_| ())
    }

    async fn insert_version(&self, tx: &mut B::Tx, schema: &Schema, staging: bool) -> Result<()> {
        let names = self.names();
        let p = |i: usize| self.backend.param(i);
        if !tx.query(&system::version_exists_sql(&names, staging, &p), &[Param::Text(schema.version_hash.clone())]).await?.is_empty() {
            return Ok(());
        }
        let sql = system::insert_version_sql(&names, staging, &p).replacen(&self.backend.param(3), &self.backend.timestamp_param(3), 1);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        tx.execute(
            &sql,
            &[
                Param::Int(schema.version as i64),
                Param::Int(stevedore_core::schema::ENGINE_VERSION as i64),
                Param::Text(now),
                Param::Text(schema.name.clone()),
                Param::Text(schema.version_hash.clone()),
                Param::Text(schema_document(self.backend.dialect(), schema)?),
            ],
        )
        .await
        .map(|_| ())
    }
}

#[async_trait]
impl<B: SqlBackend> DestinationClient for SqlClient<B> {
    async fn begin_package(&self, package: &PackageInfo) -> Result<()> {
        self.check_merge_strategies(package)?;
        let roots = self.staging_roots(package);
        self.backend.begin_package(self, package, &roots).await
    }

    async fn initialize_storage(&self) -> Result<()> {
        Ok(()) // schemas are created by migrate_schema, in its transaction
    }

    async fn migrate_schema(&self, package: &PackageInfo) -> Result<()> {
        let schema = &package.schema;
        let names = self.names();
        let mut tx = self.backend.begin().await?;
        let m = |e: Error| e.with("during", "schema migration");
        self.backend.lock_dataset(&mut tx, &self.settings.dataset).await?;
        tx.batch(&self.backend.create_schema_sql(&names.final_schema())).await.map_err(m)?;
        tx.batch(&self.backend.jobs_table_ddl(&names.final_table(JOBS_TABLE))).await.map_err(m)?;
        let tables: Vec<&Table> = schema.tables.values().filter(|t| t.has_complete_columns()).collect();
        let existing = self.existing_columns(&mut tx, &self.settings.dataset, &tables).await?;
        let qualify = |t: &str| names.final_table(t);
        // new tables loaded straight into the final dataset get their unique constraints
        // after the data jobs (see `SqlBackend::deferred_unique_columns`)
        let mut deferred: Vec<(&Table, Vec<String>)> = Vec::new();
        let mut immediate: Vec<&Table> = Vec::new();
        for t in &tables {
            let cols = if existing.contains_key(&t.name)
                || t.is_dlt_table()
                || !package.plan(&t.name).is_ok_and(|p| p.dataset == Dataset::Final)
            {
                Vec::new()
            } else {
                self.backend.deferred_unique_columns(t)
            };
            if cols.is_empty() { immediate.push(t) } else { deferred.push((t, cols)) }
        }
        let deferred_tables: Vec<&Table> = deferred.iter().map(|(t, _)| *t).collect();
        self.apply_migration(&mut tx, &self.settings.dataset, &immediate, &existing, &qualify, true, "schema migration").await?;
        self.apply_migration(&mut tx, &self.settings.dataset, &deferred_tables, &existing, &qualify, false, "schema migration").await?;
        if !deferred.is_empty() {
            let pending = names.final_table(PENDING_INDEXES_TABLE);
            tx.batch(&format!(
                "CREATE TABLE IF NOT EXISTS {pending} (table_name varchar(1024) NOT NULL, column_name varchar(1024) NOT NULL, PRIMARY KEY (table_name, column_name))"
            ))
            .await
            .map_err(m)?;
            let sql =
                format!("INSERT INTO {pending} (table_name, column_name) VALUES ({}, {})", self.backend.param(1), self.backend.param(2));
            for (t, cols) in &deferred {
                for c in cols {
                    tx.execute(&sql, &[Param::Text(t.name.clone()), Param::Text(c.clone())]).await.map_err(m)?;
                }
            }
        }
        self.insert_version(&mut tx, schema, false).await.map_err(m)?;

        // the staging dataset: every staging-eligible table (and `_dlt_version`), like dlt
        let staging_tables: Vec<&Table> = schema
            .tables
            .values()
            .filter(|t| {
                t.has_complete_columns() && (t.name == VERSION_TABLE || package.plan(&t.name).is_ok_and(|p| p.dataset == Dataset::Staging))
            })
            .collect();
        if staging_tables.iter().any(|t| !t.is_dlt_table()) {
            self.backend.lock_dataset(&mut tx, &self.settings.staging_dataset).await?;
            tx.batch(&self.backend.create_schema_sql(&names.staging_schema())).await.map_err(m)?;
            self.backend.after_create_staging(&mut tx, &names).await.map_err(m)?;
            let existing = self.existing_columns(&mut tx, &self.settings.staging_dataset, &staging_tables).await?;
            let qualify = |t: &str| names.staging_table(t);
            // merge staging tables get no UNIQUE constraints (a key twice in one load is
            // deduplicated by the merge); replace staging tables keep them, because
            // `staging-optimized` turns them into the final tables
            let (replace, other): (Vec<&Table>, Vec<&Table>) =
                staging_tables.iter().partition(|t| schema.write_disposition(&t.name) == WriteDisposition::Replace && !t.is_dlt_table());
            let staging = &self.settings.staging_dataset;
            self.apply_migration(&mut tx, staging, &replace, &existing, &qualify, true, "staging schema migration").await?;
            self.apply_migration(&mut tx, staging, &other, &existing, &qualify, false, "staging schema migration").await?;
            self.insert_version(&mut tx, schema, true).await.map_err(m)?;
        }
        // empty this package's staging tables, once per package
        if !self.job_done(&mut tx, &package.load_id, PACKAGE_STARTED).await? {
            let roots = self.staging_roots(package);
            if !roots.is_empty() {
                let chain = Self::chain_tables(schema, &roots);
                self.truncate_staging(&mut tx, &chain).await?;
                let tnames: Vec<String> = chain.iter().map(|t| t.name.clone()).collect();
                self.backend.claim_staging(&mut tx, &names, &package.load_id, &tnames).await.map_err(m)?;
            }
            self.mark_done(&mut tx, &package.load_id, PACKAGE_STARTED).await.map_err(m)?;
        }
        tx.commit().await.map_err(m)
    }

    async fn run_job(&self, package: &PackageInfo, job: &JobInfo) -> Result<JobOutcome> {
        if job.format == SQL_JOB_FORMAT {
            self.run_sql(package, job).await?;
            return Ok(JobOutcome::default());
        }
        let rows = self.run_load(package, job).await?;
        tracing::debug!(job = %job.job_id(), rows, "loaded");
        let target = match package.plan(&job.table)?.dataset {
            Dataset::Staging => &self.settings.staging_dataset,
            Dataset::Final => &self.settings.dataset,
        };
        Ok(JobOutcome { remote_url: Some(format!("{}/{}.{}", self.backend.display(), target, job.table)) })
    }

    async fn create_followup_jobs(&self, package: &PackageInfo, _completed: &[JobInfo]) -> Result<Vec<FollowupJob>> {
        let schema = &package.schema;
        let names = self.names();
        let with_rows: BTreeSet<String> = package.tables.iter().filter_map(|(t, _)| schema.root_table(t).map(|r| r.name.clone())).collect();
        let mut out = Vec::new();
        for root in self.staging_roots(package) {
            let Some(chain) = TableChain::from_schema(schema, &root) else { continue };
            let stmts = match schema.write_disposition(&root) {
                WriteDisposition::Replace => {
                    let s = match self.settings.replace_strategy {
                        ReplaceStrategy::TruncateAndInsert => ReplaceStrategy::InsertFromStaging,
                        other => other,
                    };
                    replace_sql(&names, &chain, s)?
                }
                WriteDisposition::Merge => {
                    if !with_rows.contains(&root) {
                        continue;
                    }
                    let strategy = package.plan(&root)?.merge_strategy.unwrap_or(MergeStrategy::DeleteInsert);
                    merge_sql(&names, &chain, strategy, &MergeContext::new(package.created_at))?
                }
                _ => continue,
            };
            out.push(FollowupJob::with_payload(root.clone(), SQL_JOB_FORMAT, &SqlJob { statements: stmts })?);
        }
        Ok(out)
    }

    /// An aborted load's rows in final tables (append jobs load straight into them) are
    /// deleted by load id: root rows by `_dlt_load_id`, nested rows through their parents'
    /// `_dlt_id`s, deepest first, in one transaction with the load's job records. Rows in
    /// staging tables are never visible and are emptied before the next load that uses them.
    async fn discard_package(&self, package: &PackageInfo, jobs: &[JobInfo]) -> Result<()> {
        let schema = &package.schema;
        let mut tables: Vec<&Table> = jobs
            .iter()
            .filter(|j| package.plan(&j.table).is_ok_and(|p| p.dataset == Dataset::Final))
            .filter_map(|j| schema.table(&j.table))
            .collect();
        tables.sort_by_key(|t| (std::cmp::Reverse(crate::jobs::nesting_depth(schema, t)), t.name.clone()));
        tables.dedup_by(|a, b| a.name == b.name);
        let names = self.names();
        let q = |c: &str| self.backend.dialect().quote_identifier(c);
        let p1 = self.backend.param(1);
        // rows of `t` that belong to the load: a predicate on `t`'s columns
        let belongs = |t: &Table| -> String {
            let mut pred = format!("{} = {p1}", q(C_DLT_LOAD_ID));
            let mut chain = vec![t];
            while let Some(parent) = chain.last().and_then(|c| c.parent.as_deref()).and_then(|p| schema.table(p)) {
                chain.push(parent);
            }
            // from the root down: each level's rows are those whose parent is in the level above
            for pair in chain.windows(2).rev() {
                pred = format!("{} IN (SELECT {} FROM {} WHERE {pred})", q(C_DLT_PARENT_ID), q(C_DLT_ID), names.final_table(&pair[1].name));
            }
            pred
        };
        let mut tx = self.backend.begin().await?;
        let mut removed = 0;
        let load_id = [Param::Text(package.load_id.clone())];
        for t in &tables {
            let sql = format!("DELETE FROM {} WHERE {}", names.final_table(&t.name), belongs(t));
            removed += tx.execute(&sql, &load_id).await.map_err(|e| e.with("table", t.name.clone()))?;
        }
        let sql = format!("DELETE FROM {} WHERE load_id = {p1}", names.final_table(JOBS_TABLE));
        tx.execute(&sql, &load_id).await?;
        tx.commit().await?;
        tracing::info!(load_id = %package.load_id, rows = removed, "removed the rows of an aborted load");
        Ok(())
    }

    async fn complete_load(&self, package: &PackageInfo) -> Result<()> {
        self.build_pending_unique(&package.schema).await?;
        let names = self.names();
        let p = |i: usize| self.backend.param(i);
        let mut tx = self.backend.begin().await?;
        if !tx.query(&system::load_exists_sql(&names, &p), &[Param::Text(package.load_id.clone())]).await?.is_empty() {
            drop(tx);
            return self.backend.after_complete_load().await;
        }
        let sql = system::insert_load_sql(&names, &p).replacen(&self.backend.param(3), &self.backend.timestamp_param(3), 1);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        tx.execute(
            &sql,
            &[
                Param::Text(package.load_id.clone()),
                Param::Text(package.schema.name.clone()),
                Param::Text(now),
                Param::Text(package.schema.version_hash.clone()),
            ],
        )
        .await
        .map_err(|e| e.with("during", "writing the load marker"))?;
        tx.commit().await?;
        self.backend.after_complete_load().await
    }

    async fn truncate_staging_dataset(&self, package: &PackageInfo) -> Result<()> {
        // only this package's tables: other staging tables may be in use by other loads
        let roots = self.staging_roots(package);
        let tables = Self::chain_tables(&package.schema, &roots);
        let mut tx = self.backend.begin().await?;
        self.truncate_staging(&mut tx, &tables).await?;
        tx.commit().await
    }

    async fn stored_state(&self, pipeline_name: &str) -> Result<Option<serde_json::Value>> {
        let names = self.names();
        let p = |i: usize| self.backend.param(i);
        let mut tx = self.backend.begin().await?;
        match tx.query(&system::stored_state_sql(&names, &p), &[Param::Text(pipeline_name.to_string())]).await {
            Ok(rows) => match rows.first().and_then(|r| r.get(3).cloned().flatten()) {
                Some(state) => Ok(Some(stevedore_core::state::decompress_state(&state)?)),
                None => Ok(None),
            },
            Err(e) if self.backend.is_missing_relation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `sql` followup written before payloads were typed (`json!({"statements": [...]})`)
    /// still reads, so a package left pending by an earlier version resumes.
    #[test]
    fn sql_jobs_of_earlier_versions_still_read() {
        let earlier = serde_json::to_vec(&serde_json::json!({"statements": ["DELETE FROM a", "INSERT INTO a SELECT 1"]})).unwrap();
        let job: SqlJob = serde_json::from_slice(&earlier).unwrap();
        assert_eq!(job.statements, vec!["DELETE FROM a".to_string(), "INSERT INTO a SELECT 1".to_string()]);
    }
}

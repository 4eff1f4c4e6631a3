//! The PostgreSQL client: migration, COPY jobs, followup SQL, load markers, locks.
//!
//! **Isolation of the staging dataset.** Staging tables keep dlt's names
//! (`<staging dataset>.<table>`). Before anything else, a package takes one session-level
//! advisory lock per staging root table it loads (sorted, so two packages never deadlock) on
//! a dedicated connection, and holds them until the load is over (the client is dropped, or
//! the process dies: the server releases them with the connection). A second pipeline loading
//! the same tables into the same staging dataset waits; pipelines on other tables run in
//! parallel. `<staging>._stevedore_staging_owner` records which load filled each staging
//! table, so a package resumed after a crash notices when another load reused its staging
//! tables meanwhile and stops instead of merging someone else's rows.
//!
//! **Idempotent jobs.** Every job (COPY or followup SQL) commits in one transaction together
//! with its row in `<dataset>._stevedore_jobs` (`load_id`, `job_id`); a job found there is
//! skipped, so a job run again after a crash does not duplicate rows.

use std::collections::BTreeSet;
use std::pin::pin;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::SinkExt;
use serde_json::json;
use sha3::{Digest, Sha3_256};
use stevedore_core::destination::{DestinationClient, FollowupJob, JobInfo, JobOutcome, PackageInfo};
use stevedore_core::schema::{
    C_DLT_ID, C_DLT_LOAD_ID, C_DLT_PARENT_ID, Column, DataType, MergeStrategy, ReplaceStrategy, Schema, Table, VERSION_TABLE, WriteDisposition,
};
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_sql::ddl::{INFORMATION_SCHEMA_COLUMNS, StorageColumn, StorageTables, complete_columns, migration_sql};
use stevedore_sql::{Dialect, MergeContext, Names, PostgresDialect, TableChain, loads_to_staging, merge_sql, replace_sql, system};
use tokio::sync::Mutex;
use tokio_postgres::GenericClient;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::copy::{self, Target, pg_kind};
use crate::error::pg_err;

/// Format of followup SQL jobs (content: `{"statements": [...]}`).
pub const SQL_JOB_FORMAT: &str = "sql";
/// Completed jobs, in the dataset.
pub const JOBS_TABLE: &str = "_stevedore_jobs";
/// Which load filled each staging table, in the staging dataset.
pub const STAGING_OWNER_TABLE: &str = "_stevedore_staging_owner";
const STARTED: &str = "__package_started__";
const CHUNK: usize = 1 << 20;

pub(crate) struct ClientSettings {
    pub pg: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub display: String,
    pub dataset: String,
    pub staging_dataset: String,
    pub create_indexes: bool,
    pub replace_strategy: Option<ReplaceStrategy>,
    pub pool_size: usize,
    pub fault_after_statements: Option<usize>,
}

/// A client bound to one dataset (and its staging dataset), used for one load package.
pub struct PostgresClient {
    pool: Pool,
    pg: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    display: String,
    dataset: String,
    staging_dataset: String,
    dialect: PostgresDialect,
    replace_strategy: ReplaceStrategy,
    lock_conn: Mutex<Option<tokio_postgres::Client>>,
    fault_after_statements: Option<usize>,
}

/// How many parents `t` has up to its root.
fn nesting_depth(schema: &Schema, t: &Table) -> usize {
    let mut depth = 0;
    let mut cur = t.parent.as_deref();
    while let Some(p) = cur {
        depth += 1;
        cur = schema.table(p).and_then(|t| t.parent.as_deref());
    }
    depth
}

fn lock_key(parts: &[&str]) -> i64 {
    let mut h = Sha3_256::new();
    h.update(b"stevedore\0");
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

impl PostgresClient {
    pub(crate) async fn connect(s: ClientSettings) -> Result<Self> {
        let mgr = Manager::from_config(s.pg.clone(), s.tls.clone(), ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(mgr)
            .max_size(s.pool_size.max(1))
            .build()
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot build the connection pool: {e}")))?;
        let client = PostgresClient {
            pool,
            pg: s.pg,
            tls: s.tls,
            display: s.display,
            dataset: s.dataset,
            staging_dataset: s.staging_dataset,
            dialect: PostgresDialect { create_indexes: s.create_indexes },
            replace_strategy: s.replace_strategy.unwrap_or(ReplaceStrategy::TruncateAndInsert),
            lock_conn: Mutex::new(None),
            fault_after_statements: s.fault_after_statements,
        };
        // fail fast: a wrong password or an unreachable server is reported once, before any job
        let conn = client.conn().await.map_err(|e| e.retryable(false))?;
        drop(conn);
        Ok(client)
    }

    /// The dataset (schema) name.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    /// The staging dataset (schema) name.
    pub fn staging_dataset(&self) -> &str {
        &self.staging_dataset
    }

    fn names(&self) -> Names<'_> {
        Names::new(&self.dialect, &self.dataset, &self.staging_dataset)
    }

    async fn conn(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| {
            let err = match e {
                deadpool_postgres::PoolError::Backend(e) => pg_err(&format!("connecting to {}", self.display), e),
                other => Error::new(ErrorKind::Destination, format!("connecting to {} failed: {other}", self.display)).retryable(true),
            };
            if err.kind() == ErrorKind::Auth { err } else { err.with_hint("check that the server runs and the host, port and database are right") }
        })
    }

    /// Roots of the merge/replace tables this package loads (through the staging dataset).
    fn staging_roots(&self, package: &PackageInfo) -> BTreeSet<String> {
        let s = &package.schema;
        package
            .tables
            .iter()
            .map(|(t, _)| t)
            .chain(package.replace_tables.iter())
            .filter(|t| s.table(t).is_some() && loads_to_staging(s, t))
            .filter_map(|t| s.root_table(t).map(|r| r.name.clone()))
            .collect()
    }

    fn chain_tables<'s>(schema: &'s Schema, roots: &BTreeSet<String>) -> Vec<&'s Table> {
        roots.iter().filter_map(|r| TableChain::from_schema(schema, r)).flat_map(|c| c.tables).collect()
    }

    async fn existing_columns(client: &impl GenericClient, schema: &str, tables: &[&Table]) -> Result<StorageTables> {
        let names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
        let rows = client.query(INFORMATION_SCHEMA_COLUMNS, &[&schema, &names]).await.map_err(|e| pg_err("reading information_schema", e))?;
        let mut out = StorageTables::new();
        for r in rows {
            let t: String = r.get(0);
            let c: String = r.get(1);
            let col = StorageColumn { name: c.clone(), db_type: r.get(2), nullable: r.get::<_, String>(3) == "YES", precision: r.get(4), scale: r.get(5) };
            out.entry(t).or_default().insert(c, col);
        }
        Ok(out)
    }

    async fn job_done(&self, client: &impl GenericClient, load_id: &str, job_id: &str) -> Result<bool> {
        let sql = format!(
            "SELECT 1 FROM {} WHERE load_id = $1 AND job_id = $2",
            self.names().final_table(JOBS_TABLE)
        );
        match client.query_opt(&sql, &[&load_id, &job_id]).await {
            Ok(r) => Ok(r.is_some()),
            Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "42P01" || d.code().code() == "3F000") => Ok(false),
            Err(e) => Err(pg_err("checking completed jobs", e)),
        }
    }

    async fn mark_done(&self, client: &impl GenericClient, load_id: &str, job_id: &str) -> Result<()> {
        let sql = format!("INSERT INTO {} (load_id, job_id) VALUES ($1, $2)", self.names().final_table(JOBS_TABLE));
        client.execute(&sql, &[&load_id, &job_id]).await.map_err(|e| pg_err("recording the job", e))?;
        Ok(())
    }

    async fn truncate_staging(&self, client: &impl GenericClient, tables: &[&Table]) -> Result<()> {
        if tables.is_empty() {
            return Ok(());
        }
        let names = self.names();
        let list: Vec<String> = tables.iter().map(|t| names.staging_table(&t.name)).collect();
        client.batch_execute(&format!("TRUNCATE TABLE {}", list.join(", "))).await.map_err(|e| pg_err("truncating staging tables", e))
    }

    async fn run_copy(&self, package: &PackageInfo, job: &JobInfo) -> Result<u64> {
        let schema = &package.schema;
        let table = schema.table(&job.table).ok_or_else(|| {
            Error::new(ErrorKind::State, format!("table `{}` of job {} is not in the package schema", job.table, job.job_id()))
        })?;
        let qualified = if loads_to_staging(schema, &job.table) {
            self.names().staging_table(&job.table)
        } else {
            self.names().final_table(&job.table)
        };
        let cols: Vec<Column> = complete_columns(table).into_iter().cloned().collect();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| pg_err("starting a transaction", e))?;
        if self.job_done(&*tx, &package.load_id, &job.job_id()).await? {
            tracing::info!(job = %job.job_id(), "job already loaded; skipped");
            return Ok(0);
        }
        if job.format == "insert_values" {
            let rows = self.exec_insert_values(&tx, job, &qualified).await.map_err(|e| e.with("job", job.job_id()))?;
            self.mark_done(&*tx, &package.load_id, &job.job_id()).await?;
            tx.commit().await.map_err(|e| pg_err("committing the job", e))?;
            return Ok(rows);
        }
        let (stmt, rx, producer) = match job.format.as_str() {
            "parquet" | "jsonl" => self.binary_producer(job, &cols, &qualified)?,
            "csv" => self.csv_producer(job, &cols, &qualified)?,
            other => {
                return Err(Error::new(ErrorKind::Unsupported, format!("postgres cannot load `{other}` job files"))
                    .with("job", job.job_id())
                    .with_hint("use parquet, jsonl or csv"));
            }
        };
        let res = self.feed_copy(&tx, &stmt, rx).await;
        let produced = producer.await.map_err(|e| Error::internal(format!("job reader panicked: {e}")))?;
        // a reader error explains a failed COPY better than the aborted COPY does
        produced.map_err(|e| e.with("job", job.job_id()))?;
        let rows = res.map_err(|e| e.with("table", job.table.clone()).with("job", job.job_id()))?;
        self.mark_done(&*tx, &package.load_id, &job.job_id()).await?;
        match tx.commit().await {
            Ok(()) => Ok(rows),
            Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "23505") => Ok(0),
            Err(e) => Err(pg_err("committing the job", e)),
        }
    }

    async fn feed_copy(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        stmt: &str,
        mut rx: tokio::sync::mpsc::Receiver<Bytes>,
    ) -> Result<u64> {
        let sink = tx.copy_in::<_, Bytes>(stmt).await.map_err(|e| pg_err("starting COPY", e))?;
        let mut sink = pin!(sink);
        while let Some(chunk) = rx.recv().await {
            sink.send(chunk).await.map_err(|e| pg_err("COPY", e))?;
        }
        sink.as_mut().finish().await.map_err(|e| pg_err("COPY", e))
    }

    #[allow(clippy::type_complexity)]
    fn binary_producer(
        &self,
        job: &JobInfo,
        cols: &[Column],
        qualified: &str,
    ) -> Result<(String, tokio::sync::mpsc::Receiver<Bytes>, tokio::task::JoinHandle<Result<()>>)> {
        let path = job.path.clone();
        let table = job.table.clone();
        let (batches, file_cols): (Box<dyn Iterator<Item = Result<arrow_array::RecordBatch>> + Send>, Vec<String>) =
            if job.format == "parquet" {
                let it = copy::read_parquet(&path)?;
                let mut it = it.peekable();
                let names = match it.peek() {
                    Some(Ok(b)) => b.schema().fields().iter().map(|f| f.name().clone()).collect(),
                    _ => cols.iter().map(|c| c.name.clone()).collect(),
                };
                (Box::new(it), names)
            } else {
                let reader = copy::open_text(&path)?;
                (Box::new(copy::JsonlBatches::new(reader, cols.to_vec(), &table)), cols.iter().map(|c| c.name.clone()).collect())
            };
        // the COPY column list: file columns the table has, in file order
        let targets: Vec<Target> = file_cols
            .iter()
            .filter_map(|n| cols.iter().find(|c| &c.name == n))
            .map(|c| Target { name: c.name.clone(), kind: pg_kind(c) })
            .collect();
        let list = targets.iter().map(|t| self.dialect.quote_identifier(&t.name)).collect::<Vec<_>>().join(", ");
        let stmt = format!("COPY {qualified} ({list}) FROM STDIN WITH (FORMAT binary)");
        // Two chunks in flight and 2,048-row parquet batches keep a job near 4 MiB: at the
        // hand-over from normalization the loader's first jobs otherwise pushed the peak RSS
        // from ~120 to ~160 MB (1M records, 2 cores; load ~1 s slower, still above psql \copy).
        let (txc, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
        let handle = tokio::task::spawn_blocking(move || -> Result<()> {
            let mut buf = BytesMut::with_capacity(CHUNK + CHUNK / 4);
            copy::write_header(&mut buf);
            for b in batches {
                let b = b?;
                let idx: Vec<Option<usize>> = targets.iter().map(|t| b.schema().index_of(&t.name).ok()).collect();
                // encode in slices so chunks stay small
                let mut off = 0;
                while off < b.num_rows() {
                    let len = 8192.min(b.num_rows() - off);
                    copy::encode_batch(&b.slice(off, len), &idx, &targets, &table, &mut buf)?;
                    off += len;
                    if buf.len() >= CHUNK && txc.blocking_send(buf.split().freeze()).is_err() {
                        return Ok(()); // the COPY failed; its error is reported
                    }
                }
            }
            copy::write_trailer(&mut buf);
            let _ = txc.blocking_send(buf.freeze());
            Ok(())
        });
        Ok((stmt, rx, handle))
    }

    #[allow(clippy::type_complexity)]
    fn csv_producer(
        &self,
        job: &JobInfo,
        cols: &[Column],
        qualified: &str,
    ) -> Result<(String, tokio::sync::mpsc::Receiver<Bytes>, tokio::task::JoinHandle<Result<()>>)> {
        use std::io::{BufRead, Read};
        let mut reader = copy::open_text(&job.path)?;
        let mut header = String::new();
        reader.read_line(&mut header).map_err(|e| Error::io("read job file", &job.path, e))?;
        let mut names = Vec::new();
        for h in header.trim_end_matches(['\r', '\n']).split(',') {
            let n = h.trim().trim_matches('"').replace("\"\"", "\"");
            let c = cols.iter().find(|c| c.name == n).ok_or_else(|| {
                Error::new(ErrorKind::InvalidData, format!("csv job file header names column `{n}` that table `{}` does not have", job.table))
                    .with("table", job.table.clone())
                    .with("column", n.clone())
            })?;
            if c.data_type == Some(DataType::Binary) {
                return Err(Error::new(ErrorKind::Unsupported, format!("binary column `{n}` cannot be loaded from csv into postgres"))
                    .with("table", job.table.clone())
                    .with_hint("use the parquet or jsonl loader file format for tables with binary columns"));
            }
            names.push(self.dialect.quote_identifier(&n));
        }
        let stmt = format!("COPY {qualified} ({}) FROM STDIN WITH (FORMAT csv, DELIMITER ',', NULL '', ENCODING 'utf-8')", names.join(", "));
        let (txc, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
        let path = job.path.clone();
        let handle = tokio::task::spawn_blocking(move || -> Result<()> {
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = reader.read(&mut buf).map_err(|e| Error::io("read job file", &path, e))?;
                if n == 0 {
                    return Ok(());
                }
                if txc.blocking_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                    return Ok(());
                }
            }
        });
        Ok((stmt, rx, handle))
    }

    /// Runs an `insert_values` job file: the `INSERT INTO {}(..) VALUES` header with the
    /// qualified table, rows sent in chunks of about 8 MiB (one row per line), all in the
    /// caller's transaction.
    async fn exec_insert_values(&self, tx: &deadpool_postgres::Transaction<'_>, job: &JobInfo, qualified: &str) -> Result<u64> {
        let path = job.path.clone();
        let text = tokio::task::spawn_blocking(move || -> Result<String> {
            use std::io::Read;
            let mut s = String::new();
            copy::open_text(&path)?.read_to_string(&mut s).map_err(|e| Error::io("read job file", &path, e))?;
            Ok(s)
        })
        .await
        .map_err(|e| Error::internal(format!("job reader panicked: {e}")))??;
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        if !header.starts_with("INSERT INTO {}(") {
            return Err(Error::invalid_data("insert_values job file does not start with `INSERT INTO {}(`").with("table", job.table.clone()));
        }
        let header = header.replacen("{}", qualified, 1);
        let _values = lines.next();
        let mut rows = 0u64;
        let mut chunk = String::new();
        for line in lines {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            if chunk.is_empty() {
                chunk.push_str(&header);
                chunk.push_str("\nVALUES\n");
            } else {
                chunk.push_str(",\n");
            }
            chunk.push_str(line.trim_end_matches([',', ';']));
            rows += 1;
            if chunk.len() >= 8 << 20 {
                chunk.push(';');
                tx.batch_execute(&chunk).await.map_err(|e| pg_err("INSERT", e).with("table", job.table.clone()))?;
                chunk.clear();
            }
        }
        if !chunk.is_empty() {
            chunk.push(';');
            tx.batch_execute(&chunk).await.map_err(|e| pg_err("INSERT", e).with("table", job.table.clone()))?;
        }
        Ok(rows)
    }

    async fn run_sql(&self, package: &PackageInfo, job: &JobInfo) -> Result<()> {
        let content = tokio::fs::read(&job.path).await.map_err(|e| Error::io("read job file", &job.path, e))?;
        let doc: serde_json::Value = serde_json::from_slice(&content)
            .map_err(|e| Error::new(ErrorKind::State, format!("corrupted sql job file: {e}")).with("job", job.job_id()))?;
        let stmts: Vec<String> = doc["statements"].as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| pg_err("starting a transaction", e))?;
        if self.job_done(&*tx, &package.load_id, &job.job_id()).await? {
            return Ok(());
        }
        for (i, s) in stmts.iter().enumerate() {
            if self.fault_after_statements == Some(i) {
                let _ = tx.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())").await;
            }
            tx.batch_execute(s).await.map_err(|e| pg_err("followup SQL", e).with("table", job.table.clone()).with("statement", s.chars().take(300).collect::<String>()))?;
        }
        self.mark_done(&*tx, &package.load_id, &job.job_id()).await?;
        tx.commit().await.map_err(|e| pg_err("committing followup SQL", e))
    }
}

#[async_trait]
impl DestinationClient for PostgresClient {
    async fn begin_package(&self, package: &PackageInfo) -> Result<()> {
        let roots = self.staging_roots(package);
        if roots.is_empty() {
            return Ok(());
        }
        let mut guard = self.lock_conn.lock().await;
        if guard.is_some() {
            return Ok(());
        }
        let (client, connection) = self.pg.connect(self.tls.clone()).await.map_err(|e| pg_err(&format!("connecting to {}", self.display), e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut keys: Vec<(i64, String)> = roots.iter().map(|r| (lock_key(&[&self.staging_dataset, r]), r.clone())).collect();
        keys.sort();
        keys.dedup();
        for (k, root) in &keys {
            let got: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[k]).await.map_err(|e| pg_err("taking the staging lock", e))?.get(0);
            if !got {
                tracing::info!(table = %root, staging = %self.staging_dataset, "another load uses this staging table; waiting for it to finish");
                client.execute("SELECT pg_advisory_lock($1)", &[k]).await.map_err(|e| pg_err("taking the staging lock", e))?;
            }
        }
        // a resumed package: were our staging tables reused by another load meanwhile?
        if self.job_done(&client, &package.load_id, STARTED).await? {
            let sql = format!(
                "SELECT table_name, load_id FROM {} WHERE table_name = ANY($1) AND load_id <> $2",
                self.names().staging_table(STAGING_OWNER_TABLE)
            );
            let tables: Vec<String> = Self::chain_tables(&package.schema, &roots).iter().map(|t| t.name.clone()).collect();
            if let Ok(rows) = client.query(&sql, &[&tables, &package.load_id]).await {
                if let Some(r) = rows.first() {
                    let t: String = r.get(0);
                    let other: String = r.get(1);
                    return Err(Error::new(
                        ErrorKind::State,
                        format!("staging table `{t}` was refilled by load {other} while this load was interrupted; its staged rows are gone"),
                    )
                    .with("load_id", package.load_id.clone())
                    .with_hint("the final tables are unchanged; extract and load the data again"));
                }
            }
        }
        *guard = Some(client);
        Ok(())
    }

    async fn initialize_storage(&self) -> Result<()> {
        Ok(()) // schemas are created by migrate_schema, under the migration lock
    }

    async fn migrate_schema(&self, package: &PackageInfo) -> Result<()> {
        let schema = &package.schema;
        let names = self.names();
        let d: &dyn Dialect = &self.dialect;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| pg_err("starting a transaction", e))?;
        let m = |e| pg_err("schema migration", e);
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(&["migrate", &self.dataset])]).await.map_err(m)?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {0}; CREATE TABLE IF NOT EXISTS {1} (load_id varchar NOT NULL, job_id varchar NOT NULL, finished_at timestamp with time zone NOT NULL DEFAULT now(), PRIMARY KEY (load_id, job_id))",
            names.final_schema(),
            names.final_table(JOBS_TABLE)
        ))
        .await
        .map_err(m)?;
        let tables: Vec<&Table> = schema.tables.values().filter(|t| t.has_complete_columns()).collect();
        let existing = Self::existing_columns(&*tx, &self.dataset, &tables).await?;
        let qualify = |t: &str| names.final_table(t);
        for s in migration_sql(d, &tables, &existing, &qualify, true)? {
            tracing::debug!(sql = %s, "migrating");
            tx.batch_execute(&s).await.map_err(|e| pg_err("schema migration", e).with("statement", s.clone()))?;
        }
        let p = |i: usize| format!("${i}");
        let schema_json = serde_json::to_string(&schema.to_value())?;
        let now = chrono::Utc::now();
        let insert_version = |staging: bool| system::insert_version_sql(&names, staging, &p);
        let version = schema.version as i64;
        let engine = stevedore_core::schema::ENGINE_VERSION as i64;
        let ts = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let has_version = tx
            .query_opt(&system::version_exists_sql(&names, false, &p), &[&schema.version_hash])
            .await
            .map_err(m)?
            .is_some();
        if !has_version {
            tx.execute(
                &format!("{} ", insert_version(false)).replace("$3", "CAST($3 AS text)::timestamptz"),
                &[&version, &engine, &ts, &schema.name, &schema.version_hash, &schema_json],
            )
            .await
            .map_err(m)?;
        }

        // the staging dataset: every staging-eligible table (and `_dlt_version`), like dlt
        let staging_tables: Vec<&Table> = schema
            .tables
            .values()
            .filter(|t| t.has_complete_columns() && (t.name == VERSION_TABLE || (!t.is_dlt_table() && loads_to_staging(schema, &t.name))))
            .collect();
        if staging_tables.iter().any(|t| !t.is_dlt_table()) {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(&["migrate", &self.staging_dataset])]).await.map_err(m)?;
            tx.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {0}; CREATE TABLE IF NOT EXISTS {1} (table_name varchar PRIMARY KEY, load_id varchar NOT NULL, claimed_at timestamp with time zone NOT NULL DEFAULT now())",
                names.staging_schema(),
                names.staging_table(STAGING_OWNER_TABLE)
            ))
            .await
            .map_err(m)?;
            let existing = Self::existing_columns(&*tx, &self.staging_dataset, &staging_tables).await?;
            let qualify = |t: &str| names.staging_table(t);
            // merge staging tables get no UNIQUE constraints (a key twice in one load is
            // deduplicated by the merge); replace staging tables keep them, because
            // `staging-optimized` turns them into the final tables
            let (replace, other): (Vec<&Table>, Vec<&Table>) =
                staging_tables.iter().partition(|t| schema.write_disposition(&t.name) == WriteDisposition::Replace && !t.is_dlt_table());
            let mut stmts = migration_sql(d, &replace, &existing, &qualify, true)?;
            stmts.extend(migration_sql(d, &other, &existing, &qualify, false)?);
            for s in stmts {
                tx.batch_execute(&s).await.map_err(|e| pg_err("staging schema migration", e).with("statement", s.clone()))?;
            }
            let has = tx
                .query_opt(&system::version_exists_sql(&names, true, &p), &[&schema.version_hash])
                .await
                .map_err(m)?
                .is_some();
            if !has {
                tx.execute(
                    &insert_version(true).replace("$3", "CAST($3 AS text)::timestamptz"),
                    &[&version, &engine, &ts, &schema.name, &schema.version_hash, &schema_json],
                )
                .await
                .map_err(m)?;
            }
        }
        // truncate this package's staging tables, once per package (the locks are held)
        let roots = self.staging_roots(package);
        if !roots.is_empty() && !self.job_done(&*tx, &package.load_id, STARTED).await? {
            let chain = Self::chain_tables(schema, &roots);
            self.truncate_staging(&*tx, &chain).await?;
            let sql = format!(
                "INSERT INTO {} (table_name, load_id) SELECT unnest($1::text[]), $2 ON CONFLICT (table_name) DO UPDATE SET load_id = EXCLUDED.load_id, claimed_at = now()",
                names.staging_table(STAGING_OWNER_TABLE)
            );
            let tnames: Vec<String> = chain.iter().map(|t| t.name.clone()).collect();
            tx.execute(&sql, &[&tnames, &package.load_id]).await.map_err(m)?;
        }
        let started = format!(
            "INSERT INTO {} (load_id, job_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            names.final_table(JOBS_TABLE)
        );
        tx.execute(&started, &[&package.load_id, &STARTED]).await.map_err(m)?;
        tx.commit().await.map_err(m)
    }

    async fn run_job(&self, package: &PackageInfo, job: &JobInfo) -> Result<JobOutcome> {
        if job.format == SQL_JOB_FORMAT {
            self.run_sql(package, job).await?;
            return Ok(JobOutcome::default());
        }
        let rows = self.run_copy(package, job).await?;
        tracing::debug!(job = %job.job_id(), rows, "loaded");
        let target = if loads_to_staging(&package.schema, &job.table) { &self.staging_dataset } else { &self.dataset };
        Ok(JobOutcome { remote_url: Some(format!("{}/{}.{}", self.display, target, job.table)) })
    }

    async fn create_followup_jobs(&self, package: &PackageInfo, _completed: &[JobInfo]) -> Result<Vec<FollowupJob>> {
        let schema = &package.schema;
        let names = self.names();
        let with_rows: BTreeSet<String> =
            package.tables.iter().filter_map(|(t, _)| schema.root_table(t).map(|r| r.name.clone())).collect();
        let mut out = Vec::new();
        for root in self.staging_roots(package) {
            let Some(chain) = TableChain::from_schema(schema, &root) else { continue };
            let stmts = match schema.write_disposition(&root) {
                WriteDisposition::Replace => {
                    let s = match self.replace_strategy {
                        ReplaceStrategy::TruncateAndInsert => ReplaceStrategy::InsertFromStaging,
                        other => other,
                    };
                    replace_sql(&names, &chain, s)?
                }
                WriteDisposition::Merge => {
                    if !with_rows.contains(&root) {
                        continue;
                    }
                    let strategy = stevedore_sql::merge_strategy(schema, &root, &[MergeStrategy::DeleteInsert]);
                    merge_sql(&names, &chain, strategy, &MergeContext::new(package.created_at))?
                }
                _ => continue,
            };
            out.push(FollowupJob { table: root.clone(), format: SQL_JOB_FORMAT.into(), content: serde_json::to_vec(&json!({"statements": stmts}))? });
        }
        Ok(out)
    }

    /// An aborted load's rows in final tables (append jobs COPY straight into them) are
    /// deleted by load id: root rows by `_dlt_load_id`, nested rows through their parents'
    /// `_dlt_id`s, deepest first, in one transaction with the load's job records. Rows in
    /// staging tables are never visible and are emptied before the next load that uses them.
    async fn discard_package(&self, package: &PackageInfo, jobs: &[JobInfo]) -> Result<()> {
        let schema = &package.schema;
        let mut tables: Vec<&Table> = jobs
            .iter()
            .filter(|j| !loads_to_staging(schema, &j.table))
            .filter_map(|j| schema.table(&j.table))
            .collect();
        tables.sort_by_key(|t| (std::cmp::Reverse(nesting_depth(schema, t)), t.name.clone()));
        tables.dedup_by(|a, b| a.name == b.name);
        let names = self.names();
        let q = |c: &str| self.dialect.quote_identifier(c);
        // rows of `t` that belong to the load: a predicate on `t`'s columns
        let belongs = |t: &Table| -> String {
            let mut pred = format!("{} = $1", q(C_DLT_LOAD_ID));
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
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(|e| pg_err("starting a transaction", e))?;
        let mut removed = 0;
        for t in &tables {
            let sql = format!("DELETE FROM {} WHERE {}", names.final_table(&t.name), belongs(t));
            removed += tx.execute(&sql, &[&package.load_id]).await.map_err(|e| pg_err("removing an aborted load's rows", e).with("table", t.name.clone()))?;
        }
        let sql = format!("DELETE FROM {} WHERE load_id = $1", names.final_table(JOBS_TABLE));
        tx.execute(&sql, &[&package.load_id]).await.map_err(|e| pg_err("removing an aborted load's job records", e))?;
        tx.commit().await.map_err(|e| pg_err("committing the removal of an aborted load", e))?;
        tracing::info!(load_id = %package.load_id, rows = removed, "removed the rows of an aborted load");
        Ok(())
    }

    async fn complete_load(&self, package: &PackageInfo) -> Result<()> {
        let names = self.names();
        let p = |i: usize| format!("${i}");
        let conn = self.conn().await?;
        let exists = conn
            .query_opt(&system::load_exists_sql(&names, &p), &[&package.load_id])
            .await
            .map_err(|e| pg_err("checking the load marker", e))?
            .is_some();
        if exists {
            return Ok(());
        }
        let sql = system::insert_load_sql(&names, &p).replace("$3", "now()").replace("$4", "$3");
        conn.execute(&sql, &[&package.load_id, &package.schema.name, &package.schema.version_hash])
            .await
            .map_err(|e| pg_err("writing the load marker", e))?;
        Ok(())
    }

    async fn truncate_staging_dataset(&self, package: &PackageInfo) -> Result<()> {
        // only this package's tables: their locks are held, other staging tables may be in use
        let roots = self.staging_roots(package);
        let tables = Self::chain_tables(&package.schema, &roots);
        let conn = self.conn().await?;
        self.truncate_staging(&**conn, &tables).await
    }

    async fn stored_state(&self, pipeline_name: &str) -> Result<Option<serde_json::Value>> {
        let names = self.names();
        let p = |i: usize| format!("${i}");
        let conn = self.conn().await?;
        match conn.query_opt(&system::stored_state_sql(&names, &p), &[&pipeline_name]).await {
            Ok(Some(row)) => {
                let state: String = row.get(3);
                Ok(Some(stevedore_core::state::decompress_state(&state)?))
            }
            Ok(None) => Ok(None),
            Err(e) if e.as_db_error().is_some_and(|d| matches!(d.code().code(), "42P01" | "3F000")) => Ok(None),
            Err(e) => Err(pg_err("reading the stored state", e)),
        }
    }
}

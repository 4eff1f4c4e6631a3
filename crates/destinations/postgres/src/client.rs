//! The PostgreSQL backend of the shared SQL client (`stevedore_sql::client`): connections
//! and transactions from a pool, binary COPY of parquet and jsonl job files, CSV COPY,
//! `insert_values` files, and the staging locks.
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
//! Migration, followups, idempotent jobs (`_stevedore_jobs`), load markers and the stored
//! state are the shared client's.

use std::collections::BTreeSet;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use sha3::{Digest, Sha3_256};
use stevedore_core::destination::{JobInfo, PackageInfo};
use stevedore_core::schema::{Column, ReplaceStrategy, Table};
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_sql::client::{PACKAGE_STARTED, Param, SqlBackend, SqlClient, SqlClientSettings, SqlTransaction};
use stevedore_sql::ddl::{INFORMATION_SCHEMA_COLUMNS, complete_columns};
use stevedore_sql::{Dialect, Names, PostgresDialect};
use tokio::sync::Mutex;
use tokio_postgres_rustls::MakeRustlsConnect;

use stevedore_pgwire::{PgTx, load, pg_err};

pub use stevedore_sql::client::{JOBS_TABLE, SQL_JOB_FORMAT};

/// Which load filled each staging table, in the staging dataset.
pub const STAGING_OWNER_TABLE: &str = "_stevedore_staging_owner";
/// `insert_values` rows go in statements of about this many bytes.
const INSERT_CHUNK: usize = 8 << 20;

/// The PostgreSQL client: the shared SQL client on the PostgreSQL backend.
pub type PostgresClient = SqlClient<PostgresBackend>;

pub(crate) struct ClientSettings {
    pub pg: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub display: String,
    pub dataset: String,
    pub staging_dataset: String,
    pub create_indexes: bool,
    pub replace_strategy: Option<ReplaceStrategy>,
    pub merge_strategies: Vec<stevedore_core::schema::MergeStrategy>,
    pub pool_size: usize,
    pub fault_after_statements: Option<usize>,
}

/// Connections, COPY and locks of one PostgreSQL client.
pub struct PostgresBackend {
    pool: Pool,
    pg: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    display: String,
    dialect: PostgresDialect,
    lock_conn: Mutex<Option<tokio_postgres::Client>>,
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

/// Connects: a pool, and one connection checked at once, so that a wrong password or an
/// unreachable server is reported once, before any job.
pub(crate) async fn connect(s: ClientSettings) -> Result<PostgresClient> {
    let pool = stevedore_pgwire::pool(s.pg.clone(), s.tls.clone(), s.pool_size)?;
    let backend = PostgresBackend {
        pool,
        pg: s.pg,
        tls: s.tls,
        display: s.display,
        dialect: PostgresDialect { create_indexes: s.create_indexes },
        lock_conn: Mutex::new(None),
    };
    let conn = backend.conn().await.map_err(|e| e.retryable(false))?;
    drop(conn);
    Ok(SqlClient::new(
        backend,
        SqlClientSettings {
            dataset: s.dataset,
            staging_dataset: s.staging_dataset,
            replace_strategy: s.replace_strategy.unwrap_or(ReplaceStrategy::TruncateAndInsert),
            merge_strategies: s.merge_strategies,
            fault_after_statements: s.fault_after_statements,
        },
    ))
}

impl PostgresBackend {
    async fn conn(&self) -> Result<deadpool_postgres::Object> {
        stevedore_pgwire::connection(&self.pool, &self.display).await
    }
}

fn sqlstate(e: &Error) -> Option<&str> {
    e.context_value("sqlstate")
}

#[async_trait]
impl SqlBackend for PostgresBackend {
    type Tx = PgTx;

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn param(&self, n: usize) -> String {
        format!("${n}")
    }

    fn display(&self) -> &str {
        &self.display
    }

    async fn begin(&self) -> Result<PgTx> {
        PgTx::begin(self.conn().await?).await
    }

    async fn load_file(&self, tx: &mut PgTx, _package: &PackageInfo, job: &JobInfo, table: &Table, qualified: &str) -> Result<u64> {
        let client = tx.client();
        if job.format == "insert_values" {
            return load::insert_values_file(client, job, qualified, INSERT_CHUNK).await;
        }
        let cols: Vec<Column> = complete_columns(table).into_iter().cloned().collect();
        match job.format.as_str() {
            "parquet" | "jsonl" => load::copy_arrow_file(client, &self.dialect, job, &cols, qualified).await,
            "csv" => load::copy_csv_file(client, &self.dialect, job, &cols, qualified).await,
            other => Err(Error::new(ErrorKind::Unsupported, format!("postgres cannot load `{other}` job files"))
                .with("job", job.job_id())
                .with_hint("use parquet, jsonl or csv")),
        }
    }

    fn is_missing_relation(&self, e: &Error) -> bool {
        matches!(sqlstate(e), Some("42P01" | "3F000"))
    }

    fn is_unique_violation(&self, e: &Error) -> bool {
        sqlstate(e) == Some("23505")
    }

    fn information_schema_columns_sql(&self, _schema: &str) -> String {
        INFORMATION_SCHEMA_COLUMNS.to_string()
    }

    fn jobs_table_ddl(&self, qualified: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {qualified} (load_id varchar NOT NULL, job_id varchar NOT NULL, finished_at timestamp with time zone NOT NULL DEFAULT now(), PRIMARY KEY (load_id, job_id))"
        )
    }

    fn timestamp_param(&self, n: usize) -> String {
        format!("CAST(${n} AS text)::timestamptz")
    }

    async fn begin_package(&self, client: &SqlClient<Self>, package: &PackageInfo, roots: &BTreeSet<String>) -> Result<()> {
        if roots.is_empty() {
            return Ok(());
        }
        let mut guard = self.lock_conn.lock().await;
        if guard.is_some() {
            return Ok(());
        }
        let (conn, connection) =
            self.pg.connect(self.tls.clone()).await.map_err(|e| pg_err(&format!("connecting to {}", self.display), e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let staging = client.staging_dataset();
        let mut keys: Vec<(i64, String)> = roots.iter().map(|r| (lock_key(&[staging, r]), r.clone())).collect();
        keys.sort();
        keys.dedup();
        for (k, root) in &keys {
            let got: bool =
                conn.query_one("SELECT pg_try_advisory_lock($1)", &[k]).await.map_err(|e| pg_err("taking the staging lock", e))?.get(0);
            if !got {
                tracing::info!(table = %root, staging = %staging, "another load uses this staging table; waiting for it to finish");
                conn.execute("SELECT pg_advisory_lock($1)", &[k]).await.map_err(|e| pg_err("taking the staging lock", e))?;
            }
        }
        // a resumed package: were our staging tables reused by another load meanwhile?
        let names = client.names();
        let started = conn
            .query_opt(
                &format!("SELECT 1 FROM {} WHERE load_id = $1 AND job_id = $2", names.final_table(JOBS_TABLE)),
                &[&package.load_id, &PACKAGE_STARTED],
            )
            .await
            .map(|r| r.is_some())
            .unwrap_or(false);
        if started {
            let sql = format!(
                "SELECT table_name, load_id FROM {} WHERE table_name = ANY($1) AND load_id <> $2",
                names.staging_table(STAGING_OWNER_TABLE)
            );
            let tables: Vec<String> = SqlClient::<Self>::chain_tables(&package.schema, roots).iter().map(|t| t.name.clone()).collect();
            if let Ok(rows) = conn.query(&sql, &[&tables, &package.load_id]).await
                && let Some(r) = rows.first()
            {
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
        *guard = Some(conn);
        Ok(())
    }

    async fn lock_dataset(&self, tx: &mut PgTx, dataset: &str) -> Result<()> {
        tx.client()
            .execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(&["migrate", dataset])])
            .await
            .map(|_| ())
            .map_err(|e| pg_err("taking the migration lock", e))
    }

    async fn after_create_staging(&self, tx: &mut PgTx, names: &Names<'_>) -> Result<()> {
        tx.batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} (table_name varchar PRIMARY KEY, load_id varchar NOT NULL, claimed_at timestamp with time zone NOT NULL DEFAULT now())",
            names.staging_table(STAGING_OWNER_TABLE)
        ))
        .await
    }

    async fn claim_staging(&self, tx: &mut PgTx, names: &Names<'_>, load_id: &str, tables: &[String]) -> Result<()> {
        let sql = format!(
            "INSERT INTO {} (table_name, load_id) SELECT unnest($1::text[]), $2 ON CONFLICT (table_name) DO UPDATE SET load_id = EXCLUDED.load_id, claimed_at = now()",
            names.staging_table(STAGING_OWNER_TABLE)
        );
        tx.execute(&sql, &[Param::TextList(tables.to_vec()), Param::Text(load_id.to_string())]).await.map(|_| ())
    }

    fn fault_statement(&self) -> Option<&'static str> {
        Some("SELECT pg_terminate_backend(pg_backend_pid())")
    }

    fn defers_unique_constraints(&self) -> bool {
        // even with `create_indexes = false` now: an earlier load may have left some pending
        true
    }

    fn deferred_unique_columns(&self, table: &Table) -> Vec<String> {
        table.columns.values().filter(|c| self.dialect.column_hints(c).contains(&"UNIQUE")).map(|c| c.name.clone()).collect()
    }

    fn build_deferred_unique_sql(&self, qualified: &str, pending: &str, table: &str, columns: &[String]) -> Vec<String> {
        // `ADD UNIQUE (c)` names the constraint `<table>_<c>_key`, as an inline `UNIQUE` does.
        // The row lock makes a second load of the same table (another pipeline) wait, then
        // find nothing left to build.
        let literal = table.replace('\'', "''");
        let adds: String =
            columns.iter().map(|c| format!("ALTER TABLE {qualified} ADD UNIQUE ({});\n", self.dialect.quote_identifier(c))).collect();
        vec![format!(
            "DO $stevedore$ BEGIN\nPERFORM 1 FROM {pending} WHERE table_name = '{literal}' FOR UPDATE;\nIF FOUND THEN\n{adds}DELETE FROM {pending} WHERE table_name = '{literal}';\nEND IF;\nEND $stevedore$"
        )]
    }
}

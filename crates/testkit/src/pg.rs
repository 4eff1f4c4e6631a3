//! PostgreSQL for tests: the server URL comes only from `STEVEDORE_PG_URL` and `psql` from
//! `STEVEDORE_PSQL` (the service harness sets both). Without them a test prints why it skips
//! and returns, unless `STEVEDORE_TEST_REQUIRE` names `postgres`: then it fails.

use std::path::PathBuf;
use std::process::Command;

/// The server URL, or None after printing `SKIP: ...` (panics when postgres is required).
pub fn url() -> Option<String> {
    match std::env::var("STEVEDORE_PG_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            if crate::required("postgres") {
                panic!(
                    "postgres is required (STEVEDORE_TEST_REQUIRE) but STEVEDORE_PG_URL is not set; run `cargo xtask services up postgres`"
                );
            }
            eprintln!("SKIP: postgres not running (cargo xtask services up postgres)");
            None
        }
    }
}

/// The `psql` binary for independent checks, if `STEVEDORE_PSQL` is set.
pub fn psql() -> Option<PathBuf> {
    std::env::var_os("STEVEDORE_PSQL").filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Runs `sql` with psql against `url` (unaligned, tuples only, `|` separated) and returns the
/// output lines; panics when psql fails.
pub fn psql_query(psql: &std::path::Path, url: &str, sql: &str) -> Vec<String> {
    let out =
        Command::new(psql).args(["-X", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]).output().expect("run psql");
    assert!(out.status.success(), "psql failed: {}\n{sql}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

/// A unique dataset (schema) name for a test: `<prefix>_<pid>_<random>`.
pub fn unique_dataset(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{nanos:x}", std::process::id())
}

/// Connects to `url` without TLS (the test server), driving the connection on the runtime.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (db, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    db
}

fn quote(id: &str) -> String {
    format!("\"{}\"", id.replace('"', "\"\""))
}

/// The conformance kit's reader of a PostgreSQL dataset (schema): rows with `row_to_json`,
/// columns from `information_schema`; a missing table or schema reads as `None`.
pub struct PgReader {
    /// The connection.
    pub db: tokio_postgres::Client,
}

#[async_trait::async_trait]
impl crate::conformance::TableReader for PgReader {
    async fn rows(&self, dataset: &str, table: &str) -> Result<Option<Vec<crate::conformance::Row>>, String> {
        let sql = format!("SELECT row_to_json(t)::text FROM {}.{} t", quote(dataset), quote(table));
        match self.db.query(&sql, &[]).await {
            Ok(rows) => rows
                .iter()
                .map(|r| serde_json::from_str(&r.get::<_, String>(0)).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, String>>()
                .map(Some),
            Err(e) if e.as_db_error().is_some_and(|d| matches!(d.code().code(), "42P01" | "3F000")) => Ok(None),
            Err(e) => Err(format!("{sql}: {e}")),
        }
    }
    async fn columns(&self, dataset: &str, table: &str) -> Result<Option<std::collections::BTreeSet<String>>, String> {
        let rows = self
            .db
            .query(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
                &[&dataset, &table],
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok((!rows.is_empty()).then(|| rows.iter().map(|r| r.get::<_, String>(0)).collect()))
    }
}

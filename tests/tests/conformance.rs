//! The destination conformance kit (`stevedore_testkit::conformance`) against the built-in
//! destinations through the facade: the filesystem on local disk (parquet job files read
//! back with the `parquet` crate) and PostgreSQL (read back with plain tokio-postgres
//! queries; skipped when `STEVEDORE_PG_URL` is unset, a failure when `STEVEDORE_TEST_REQUIRE`
//! names postgres).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use stevedore::FileFormat;
use stevedore::filesystem::Filesystem;
use stevedore::postgres::Postgres;
use stevedore_testkit::conformance::{Kit, LocalParquetReader, Row, TableReader, run_all};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filesystem_local_parquet() {
    let dir = tempfile::Builder::new().prefix("stevedore-kit-fs-").tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    let fs = Filesystem::builder().bucket_url(&bucket.display().to_string()).build().unwrap();
    let kit = Kit::new("kitfs", Arc::new(fs), Arc::new(LocalParquetReader::new(&bucket))).loader_file_format(FileFormat::Parquet);
    let report = run_all(&kit).await;
    println!("{report}");
    report.assert_passed();
    // plain files have no merge and the filesystem loads no staged files: those scenarios
    // are skipped by capabilities, the rest ran
    let skipped: Vec<&str> = report.skipped().iter().map(|(n, _)| *n).collect();
    let expected = ["merge_delete_insert", "merge_upsert", "merge_insert_only", "merge_scd2", "staged_load", "staged_resume"];
    assert_eq!(skipped, expected, "{report}");
    assert_eq!(report.passed().len(), stevedore_testkit::conformance::SCENARIOS.len() - expected.len(), "{report}");
}

/// Reads a PostgreSQL dataset (schema) with `row_to_json`.
struct PgReader {
    db: tokio_postgres::Client,
}

#[async_trait]
impl TableReader for PgReader {
    async fn rows(&self, dataset: &str, table: &str) -> Result<Option<Vec<Row>>, String> {
        let sql = format!("SELECT row_to_json(t)::text FROM {}.{} t", quote(dataset), quote(table));
        match self.db.query(&sql, &[]).await {
            Ok(rows) => rows
                .iter()
                .map(|r| serde_json::from_str::<Row>(&r.get::<_, String>(0)).map_err(|e| e.to_string()))
                .collect::<Result<Vec<Row>, String>>()
                .map(Some),
            Err(e) if e.as_db_error().is_some_and(|d| matches!(d.code().code(), "42P01" | "3F000")) => Ok(None),
            Err(e) => Err(format!("{sql}: {e}")),
        }
    }
    async fn columns(&self, dataset: &str, table: &str) -> Result<Option<BTreeSet<String>>, String> {
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

fn quote(id: &str) -> String {
    format!("\"{}\"", id.replace('"', "\"\""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(url) = stevedore_testkit::pg::url() else { return };
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect to STEVEDORE_PG_URL");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let pg = Postgres::builder().connection_string(&url).unwrap().build().unwrap();
    let kit = Kit::new("kitpg", Arc::new(pg), Arc::new(PgReader { db }));
    let report = run_all(&kit).await;
    println!("{report}");
    report.assert_passed();
    // every merge strategy is declared; PostgreSQL loads job files directly (no staging
    // formats, as in dlt), so only the staged scenarios are skipped
    let skipped: Vec<&str> = report.skipped().iter().map(|(n, _)| *n).collect();
    assert_eq!(skipped, ["staged_load", "staged_resume"], "{report}");
}

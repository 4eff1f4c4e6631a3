//! The destination conformance kit (`stevedore_testkit::conformance`) against the built-in
//! destinations through the facade: the filesystem on local disk (parquet job files read
//! back with the `parquet` crate) and PostgreSQL (read back with plain tokio-postgres
//! queries; skipped when `STEVEDORE_PG_URL` is unset, a failure when `STEVEDORE_TEST_REQUIRE`
//! names postgres).

use std::sync::Arc;

use stevedore::FileFormat;
use stevedore::filesystem::Filesystem;
use stevedore::postgres::Postgres;
use stevedore_testkit::conformance::{Kit, LocalParquetReader, run_all};
use stevedore_testkit::pg::PgReader;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(url) = stevedore_testkit::pg::url() else { return };
    let db = stevedore_testkit::pg::connect(&url).await;
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

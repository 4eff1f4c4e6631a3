//! The Redshift destination on its PostgreSQL 15 stand-in (there is no Redshift server or
//! emulator in the package registries). The stand-in is a database of the `cargo xtask`
//! PostgreSQL service with the smallest set of shims, listed in docs/destinations/redshift.md:
//! `super` and `varbinary` domains, `json_parse` and `from_hex` functions, and
//! `standard_conforming_strings = off` (Redshift keeps backslash escapes in plain strings).
//! The conformance kit runs without staging (insert_values files) and through an S3 staging
//! bucket on moto, where staged files are read back the way COPY would read them.

use std::sync::Arc;

use stevedore::filesystem::{Credentials as FsCredentials, Filesystem};
use stevedore::redshift::Redshift;
use stevedore_testkit::conformance::{Kit, run_all};
use stevedore_testkit::pg::{PgReader, connect};
use stevedore_testkit::remote::{Service, TestBucket};

const DB: &str = "stevedore_redshift_stand_in";

const SHIMS: &[&str] = &[
    "DO $$ BEGIN CREATE DOMAIN super AS jsonb; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    "DO $$ BEGIN CREATE DOMAIN varbinary AS bytea; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    "CREATE OR REPLACE FUNCTION json_parse(text) RETURNS jsonb AS 'SELECT $1::jsonb' LANGUAGE sql IMMUTABLE",
    "CREATE OR REPLACE FUNCTION from_hex(text) RETURNS bytea AS 'SELECT decode($1, ''hex'')' LANGUAGE sql IMMUTABLE",
];

/// The stand-in database (created once, with its shims) and its `redshift://` URL.
async fn stand_in() -> Option<(String, tokio_postgres::Client)> {
    let url = stevedore_testkit::pg::url()?;
    let admin = connect(&url).await;
    if admin.query(&format!("SELECT 1 FROM pg_database WHERE datname = '{DB}'"), &[]).await.unwrap().is_empty() {
        // two test binaries may race to create it
        let _ = admin.batch_execute(&format!("CREATE DATABASE {DB}")).await;
    }
    // the tests of this binary set it at once: PostgreSQL refuses a concurrent update of the
    // same catalog row ("tuple concurrently updated"), so try again; checked below
    for attempt in 1.. {
        match admin.batch_execute(&format!("ALTER DATABASE {DB} SET standard_conforming_strings = off")).await {
            Ok(()) => break,
            Err(e) if attempt < 20 => {
                eprintln!("ALTER DATABASE {DB}: {e}; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => panic!("ALTER DATABASE {DB}: {e}"),
        }
    }
    let mut u = url::Url::parse(&url).unwrap();
    u.set_path(&format!("/{DB}"));
    let db = connect(u.as_str()).await;
    for s in SHIMS {
        let _ = db.batch_execute(s).await; // concurrent CREATE OR REPLACE may collide; checked below
    }
    db.batch_execute("SELECT NULL::super, NULL::varbinary, json_parse('{}'), from_hex('00')").await.expect("stand-in shims");
    let scs: String = db.query_one("SHOW standard_conforming_strings", &[]).await.unwrap().get(0);
    assert_eq!(scs, "off", "the stand-in reads strings as Redshift does");
    let redshift_url = format!("redshift{}", &u.as_str()[u.scheme().len()..]);
    Some((redshift_url, db))
}

/// Every scenario passes but `hostile_identifiers`, whose 120-character column name Redshift
/// keeps (127) and PostgreSQL cuts at 63 bytes (the 127-character rule is a unit test of the
/// dialect), and the `also` scenarios named.
fn assert_only_stand_in_failures(report: &stevedore_testkit::conformance::Report, also: &[&str]) {
    let failed: Vec<(&str, &str)> = report.failed();
    let mut names: Vec<&str> = failed.iter().map(|(n, _)| *n).collect();
    names.sort();
    let mut expected: Vec<&str> = also.iter().copied().chain(["hostile_identifiers"]).collect();
    expected.sort();
    assert_eq!(names, expected, "{report}");
    let (_, why) = failed.iter().find(|(n, _)| *n == "hostile_identifiers").unwrap();
    assert!(why.contains("long_column") && why.contains("missing"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redshift_passes_the_conformance_kit_with_insert_values() {
    let Some((url, db)) = stand_in().await else { return };
    let rs = Redshift::builder().connection_string(&url).unwrap().build().unwrap();
    let kit = Kit::new("kitrs", Arc::new(rs), Arc::new(PgReader { db }));
    let report = run_all(&kit).await;
    println!("{report}");
    // the staged scenarios run in the S3 chain test below
    assert_only_stand_in_failures(&report, &["staged_load", "staged_resume"]);
    let skipped: Vec<&str> = report.skipped().iter().map(|(n, _)| *n).collect();
    assert_eq!(skipped, ["merge_upsert", "merge_insert_only"], "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redshift_passes_the_conformance_kit_through_the_s3_chain() {
    let Some((url, db)) = stand_in().await else { return };
    let Some(bucket) = TestBucket::create(Service::S3, "rs") else { return };
    let staging = Filesystem::builder()
        .bucket_url(&bucket.url("stage"))
        .credentials(
            FsCredentials::new()
                .with_aws_keys(bucket.var("STEVEDORE_S3_KEY_ID"), bucket.var("STEVEDORE_S3_SECRET"))
                .with_endpoint_url(bucket.var("STEVEDORE_S3_ENDPOINT"))
                .with_region_name("us-east-1"),
        )
        .build()
        .unwrap();
    let rs = Redshift::builder().connection_string(&url).unwrap().stand_in_copy(true).build().unwrap();
    let kit = Kit::new("kitrss3", Arc::new(rs), Arc::new(PgReader { db })).staging(Arc::new(staging)).through_staging();
    let report = run_all(&kit).await;
    println!("{report}");
    assert_only_stand_in_failures(&report, &[]);
    let skipped: Vec<&str> = report.skipped().iter().map(|(n, _)| *n).collect();
    assert_eq!(skipped, ["merge_upsert", "merge_insert_only"], "{report}");
    // the staged files are in the bucket, as jsonl.gz (Redshift's preferred staging format)
    let keys = bucket.keys("stage");
    assert!(keys.iter().any(|k| k.ends_with(".jsonl.gz")), "{keys:?}");
}

//! The filesystem destination on remote buckets, against local servers: moto (`s3://`),
//! azurite (`az://`), fake-gcs-server (`gs://`).
//!
//! The local-disk scenarios again, per scheme: append, replace (`event` next to `events`),
//! merge as append, layouts with placeholders under a bucket path suffix, state files,
//! resume after a crash (`STEVEDORE_FAULT_ABORT_AFTER_JOBS`), a file large enough for a
//! multipart upload; on S3 also a replace over more than 1000 files and a server that goes
//! away in the middle of a load (a TCP proxy that drops every connection). Objects are read
//! back with the vendors' Python clients and pyarrow, never with stevedore itself.
//!
//! Bad input, per scheme: a missing bucket, wrong or missing credentials, an unreachable
//! endpoint: each fails before anything is written, names the bucket and the setting, holds
//! no secret, and auth failures are not retried.
//!
//! Endpoints come from the environment only (see `stevedore_testkit::remote`); without them
//! every test prints `SKIP: ...` and passes, unless `STEVEDORE_TEST_REQUIRE` names the service.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stevedore::filesystem::{Credentials, Filesystem, FilesystemBuilder};
use stevedore::{Config, Destination, ErrorKind, FileFormat, Pipeline, Progress, Resource, WriteDisposition};
use stevedore_testkit::remote::{FaultProxy, Service, StubHttpServer, TestBucket, closed_port, unique_name};

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn region(b: &TestBucket) -> String {
    b.env.get("STEVEDORE_S3_REGION").cloned().or_else(|| std::env::var("STEVEDORE_S3_REGION").ok()).unwrap_or_else(|| "us-east-1".into())
}

/// Credentials for the test server, as a user would configure them.
fn credentials(b: &TestBucket) -> Credentials {
    match b.service {
        Service::S3 => Credentials::new()
            .with_aws_keys(b.var("STEVEDORE_S3_KEY_ID"), b.var("STEVEDORE_S3_SECRET"))
            .with_endpoint_url(b.var("STEVEDORE_S3_ENDPOINT"))
            .with_region_name(&region(b)),
        Service::Azure => Credentials::new()
            .with_azure_account_key(b.var("STEVEDORE_AZURE_ACCOUNT"), b.var("STEVEDORE_AZURE_KEY"))
            .with_endpoint_url(b.var("STEVEDORE_AZURE_ENDPOINT")),
        Service::Gcs => Credentials::new().with_endpoint_url(b.var("STEVEDORE_GCS_ENDPOINT")),
    }
}

/// The same credentials as environment variables for the CLI.
fn cli_env(b: &TestBucket) -> Vec<(String, String)> {
    let p = "DESTINATION__FILESYSTEM__CREDENTIALS__";
    let kv = |k: &str, v: &str| (format!("{p}{k}"), v.to_string());
    match b.service {
        Service::S3 => vec![
            kv("AWS_ACCESS_KEY_ID", b.var("STEVEDORE_S3_KEY_ID")),
            kv("AWS_SECRET_ACCESS_KEY", b.var("STEVEDORE_S3_SECRET")),
            kv("ENDPOINT_URL", b.var("STEVEDORE_S3_ENDPOINT")),
            kv("REGION_NAME", &region(b)),
        ],
        Service::Azure => vec![
            kv("AZURE_STORAGE_ACCOUNT_NAME", b.var("STEVEDORE_AZURE_ACCOUNT")),
            kv("AZURE_STORAGE_ACCOUNT_KEY", b.var("STEVEDORE_AZURE_KEY")),
            kv("ENDPOINT_URL", b.var("STEVEDORE_AZURE_ENDPOINT")),
        ],
        // shared credentials section, as the seed describes for GCS (and BigQuery)
        Service::Gcs => vec![("DESTINATION__CREDENTIALS__ENDPOINT_URL".into(), b.var("STEVEDORE_GCS_ENDPOINT").into())],
    }
}

fn destination(b: &TestBucket, prefix: &str, tweak: impl FnOnce(FilesystemBuilder) -> FilesystemBuilder) -> Arc<dyn Destination> {
    let builder = Filesystem::builder().bucket_url(&b.url(prefix)).credentials(credentials(b));
    Arc::new(tweak(builder).build().expect("build the destination"))
}

fn pipeline(name: &str, dest: Arc<dyn Destination>, dir: &Path, settings: &[(&str, toml::Value)]) -> Pipeline {
    let mut config = Config::empty();
    for (k, v) in settings {
        config.set_explicit(k, v.clone());
    }
    Pipeline::builder(name).destination(dest).pipelines_dir(dir).config(config).build().expect("pipeline")
}

fn events(n: usize, start: usize) -> Vec<Value> {
    (start..start + n).map(|i| json!({"id": i, "name": format!("event {i}"), "value": i as f64 * 1.5, "tags": ["a", "b"]})).collect()
}

fn rows_of(info: &stevedore::LoadInfo, table: &str) -> u64 {
    info.tables.get(table).map(|t| t.rows).unwrap_or(0)
}

fn assert_no_secret(text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "secret `{s}` leaked into: {text}");
    }
}

macro_rules! skip_unless {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return,
        }
    };
}

/// One `#[test]` per scheme for each scenario.
macro_rules! per_scheme {
    ($($name:ident),* $(,)?) => {
        mod s3 { $( #[test] fn $name() { super::$name(super::Service::S3) } )* }
        mod az { $( #[test] fn $name() { super::$name(super::Service::Azure) } )* }
        mod gs { $( #[test] fn $name() { super::$name(super::Service::Gcs) } )* }
    };
}

per_scheme!(
    append,
    replace_keeps_sibling_tables,
    merge_falls_back_to_append,
    layout_placeholders_under_a_path_suffix,
    state_and_init_files,
    resume_after_abort,
    large_file,
    missing_bucket_fails_before_writing,
    unreachable_endpoint_fails_fast,
    server_errors_are_retried_briefly_then_reported_as_retryable,
    rejected_credentials_fail_fast_without_retry,
    missing_credentials_are_named,
);

// ------------------------------------------------------------------------------------------------
// scenarios
// ------------------------------------------------------------------------------------------------

fn append(s: Service) {
    let b = skip_unless!(TestBucket::create(s, "append"));
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline("app", destination(&b, "lake", |x| x), dir.path(), &[]);
    let rt = rt();
    let first = rt.block_on(p.run(Resource::from_values("events", events(30, 0)))).expect("first load");
    let second = rt.block_on(p.run(Resource::from_values("events", events(20, 30)))).expect("second load");
    assert_eq!(rows_of(&first, "events") + rows_of(&second, "events"), 50);

    let t = b.table("lake/app_dataset/events/");
    assert_eq!(t.rows, 50, "{t:?}");
    assert_eq!(t.files.len(), 2, "{t:?}");
    assert_eq!(t.load_ids.len(), 2);
    assert!(t.files.iter().all(|f| f.ends_with(".jsonl.gz")), "{t:?}");
    let child = b.table("lake/app_dataset/events__tags/");
    assert_eq!(child.rows, 100, "{child:?}");
    let loads = b.keys("lake/app_dataset/_dlt_loads/");
    assert_eq!(loads.len(), 2, "{loads:?}");
    // nothing outside the path suffix
    assert!(b.keys("").iter().all(|k| k.starts_with("lake/app_dataset/")), "{:?}", b.keys(""));
}

fn replace_keeps_sibling_tables(s: Service) {
    let b = skip_unless!(TestBucket::create(s, "replace"));
    let dir = tempfile::tempdir().unwrap();
    let dest = destination(&b, "lake", |x| x);
    let fmt = [("normalize.data_writer.file_max_items", toml::Value::Integer(7))];
    let p = pipeline("rep", dest.clone(), dir.path(), &fmt);
    let rt = rt();
    let load = |event_rows: usize, events_rows: usize, wd: WriteDisposition| {
        let mut resources = vec![Resource::from_values("event", events(event_rows, 0)).with_write_disposition(wd)];
        if events_rows > 0 {
            resources.push(Resource::from_values("events", events(events_rows, 0)));
        }
        rt.block_on(p.run(resources)).expect("load")
    };
    load(20, 30, WriteDisposition::Append);
    load(20, 0, WriteDisposition::Append);
    let before = b.table("lake/rep_dataset/event/");
    assert_eq!(before.rows, 40);
    let info = load(5, 0, WriteDisposition::Replace);
    assert_eq!(rows_of(&info, "event"), 5);

    let event = b.table("lake/rep_dataset/event/");
    assert_eq!(event.rows, 5, "{event:?}");
    assert_eq!(event.files.len(), 1, "{event:?}");
    assert_eq!(event.load_ids, vec![info.load_ids().last().unwrap().to_string()]);
    let child = b.table("lake/rep_dataset/event__tags/");
    assert_eq!(child.rows, 10, "child tables are replaced too: {child:?}");
    let events_t = b.table("lake/rep_dataset/events/");
    assert_eq!(events_t.rows, 30, "`events` is not touched when `event` is replaced: {events_t:?}");
    assert_eq!(events_t.files.len(), 5, "{events_t:?}");

    // parquet, read back with pyarrow
    drop(p);
    let pq = Pipeline::builder("rep")
        .destination(dest)
        .pipelines_dir(dir.path())
        .config(Config::empty())
        .loader_file_format(FileFormat::Parquet)
        .build()
        .unwrap();
    rt.block_on(pq.run(Resource::from_values("event", events(8, 100)).with_write_disposition(WriteDisposition::Replace)))
        .expect("parquet replace");
    let event = b.table("lake/rep_dataset/event/");
    assert_eq!(event.rows, 8, "{event:?}");
    assert!(event.files.iter().all(|f| f.ends_with(".parquet")), "{event:?}");
    assert!(event.columns.contains(&"value".to_string()) && event.columns.contains(&"_dlt_id".to_string()), "{event:?}");
    assert_eq!(b.table("lake/rep_dataset/events/").rows, 30);
}

fn merge_falls_back_to_append(s: Service) {
    let b = skip_unless!(TestBucket::create(s, "merge"));
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline("mrg", destination(&b, "lake", |x| x), dir.path(), &[]);
    let rt = rt();
    for _ in 0..2 {
        rt.block_on(
            p.run(Resource::from_values("users", events(10, 0)).with_write_disposition(WriteDisposition::Merge).with_primary_key(["id"])),
        )
        .expect("merge load");
    }
    let t = b.table("lake/mrg_dataset/users/");
    assert_eq!(t.rows, 20, "merge falls back to append on the filesystem: {t:?}");
    assert_eq!(t.files.len(), 2);
}

fn layout_placeholders_under_a_path_suffix(s: Service) {
    let b = skip_unless!(TestBucket::create(s, "layout"));
    let dir = tempfile::tempdir().unwrap();
    let layout = "{table_name}/{owner}/{YYYY}-{MM}-{DD}/{ddd}/{load_id}.{file_id}.{ext}";
    let dest = destination(&b, "deep/er/lake", |x| {
        x.layout(layout)
            .extra_placeholder("owner", "admin")
            .current_datetime(stevedore::filesystem::CurrentDatetime::Fixed("2024-04-14T08:32:00Z".parse().unwrap()))
    });
    let p = pipeline("lay", dest, dir.path(), &[]);
    let rt = rt();
    rt.block_on(p.run(Resource::from_values("events", events(12, 0)))).expect("load");
    let keys = b.keys("deep/er/lake/lay_dataset/events/");
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("deep/er/lake/lay_dataset/events/admin/2024-04-14/sun/"), "{keys:?}");
    assert!(keys[0].ends_with(".jsonl.gz"), "{keys:?}");
    // replace finds the table's files under the layout
    rt.block_on(p.run(Resource::from_values("events", events(3, 50)).with_write_disposition(WriteDisposition::Replace))).expect("replace");
    let t = b.table("deep/er/lake/lay_dataset/events/");
    assert_eq!((t.rows, t.files.len()), (3, 1), "{t:?}");
    // system folders ignore the layout
    assert_eq!(b.keys("deep/er/lake/lay_dataset/_dlt_loads/").len(), 2);
}

fn state_and_init_files(s: Service) {
    let b = skip_unless!(TestBucket::create(s, "state"));
    let dir = tempfile::tempdir().unwrap();
    let dest = destination(&b, "lake", |x| x);
    let p = pipeline("stp", dest.clone(), dir.path(), &[]);
    let rt = rt();
    let info = rt.block_on(p.run(Resource::from_values("events", events(5, 0)))).expect("load");
    let load_id = info.load_ids()[0].to_string();

    let init = b.text("lake/stp_dataset/init");
    assert_eq!(serde_json::from_str::<Value>(&init).unwrap(), json!({"initial_version": 2, "current_version": 2}));
    let marker_key = format!("lake/stp_dataset/_dlt_loads/stp__{load_id}.jsonl");
    let marker: Value = serde_json::from_str(&b.text(&marker_key)).expect("marker json");
    assert_eq!(marker["load_id"], json!(load_id));
    assert_eq!(marker["status"], json!(0));
    let versions = b.keys("lake/stp_dataset/_dlt_version/");
    assert_eq!(versions.len(), 1, "{versions:?}");
    let v: Value = serde_json::from_str(&b.text(&versions[0])).unwrap();
    assert_eq!(v["schema_name"], json!("stp"));
    let states = b.keys("lake/stp_dataset/_dlt_pipeline_state/");
    assert_eq!(states.len(), 1, "{states:?}");
    assert!(states[0].contains(&format!("/stp__{load_id}__")), "{states:?}");
    let st: Value = serde_json::from_str(&b.text(&states[0])).unwrap();
    assert_eq!(st["pipeline_name"], json!("stp"));

    // the state reads back through the destination
    let stored =
        rt.block_on(async { dest.client("stp_dataset", "stp").await?.stored_state("stp").await }).expect("stored state").expect("a state");
    assert_eq!(stored["pipeline_name"], json!("stp"));
}

fn stevedore_cmd(project: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stevedore"));
    c.current_dir(project);
    for (k, _) in std::env::vars() {
        if k.starts_with("DESTINATION__") || k.starts_with("AWS_") || k.starts_with("AZURE_") || k == "STORAGE_EMULATOR_HOST" {
            c.env_remove(k);
        }
    }
    c.env("STEVEDORE_PROJECT_DIR", project);
    c
}

fn resume_after_abort(s: Service) {
    let b = skip_unless!(TestBucket::create(s, "resume"));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let lines: Vec<String> = events(95, 0).iter().map(|v| v.to_string()).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let pipelines = dir.path().join("pipelines");
    let load = |fault: Option<&str>| {
        let mut c = stevedore_cmd(dir.path());
        c.envs(cli_env(&b))
            .env("NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS", "10")
            .env("LOAD__WORKERS", "1")
            .args(["load", input.to_str().unwrap(), "--table", "events", "--pipeline", "res", "--bucket-url", &b.url("lake")])
            .arg("--pipelines-dir")
            .arg(&pipelines);
        if let Some(n) = fault {
            c.env("STEVEDORE_FAULT_ABORT_AFTER_JOBS", n);
        }
        c.output().expect("run stevedore")
    };
    let out = load(Some("3"));
    assert!(!out.status.success(), "the fault hook aborts the process");
    assert!(String::from_utf8_lossy(&out.stderr).contains("fault injection"), "{}", String::from_utf8_lossy(&out.stderr));
    let partial = b.keys("lake/res_dataset/");
    assert!(b.keys("lake/res_dataset/_dlt_loads/").is_empty(), "no load marker after a crash: {partial:?}");
    let uploaded = b.keys("lake/res_dataset/events/").len() + b.keys("lake/res_dataset/events__tags/").len();
    assert!((1..29).contains(&uploaded), "some but not all files went up before the crash: {partial:?}");

    // the same command again finishes the pending package and loads nothing twice
    let out = load(None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("the input was already in it, not extracted again"), "{stdout}");
    let t = b.table("lake/res_dataset/events/");
    assert_eq!(t.rows, 95, "exact rows after resume: {t:?}");
    assert_eq!(t.files.len(), 10, "{t:?}");
    assert_eq!(t.load_ids.len(), 1);
    assert_eq!(b.keys("lake/res_dataset/_dlt_loads/").len(), 1);
    assert_eq!(b.table("lake/res_dataset/events__tags/").rows, 190);
}

fn large_file(s: Service) {
    let b = skip_unless!(TestBucket::create(s, "large"));
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        "big",
        destination(&b, "lake", |x| x),
        dir.path(),
        &[("normalize.data_writer.disable_compression", toml::Value::Boolean(true))],
    );
    // ~20 MiB of jsonl in one job file: S3 and Azure take it in 8 MiB parts, GCS (local
    // server) in one request
    let blob = "x".repeat(100 * 1024);
    let rows: Vec<Value> = (0..200).map(|i| json!({"id": i, "blob": format!("{i}{blob}")})).collect();
    let t0 = Instant::now();
    let info = rt().block_on(p.run(Resource::from_values("blobs", rows))).expect("load");
    let elapsed = t0.elapsed();
    let bytes = info.tables["blobs"].bytes;
    assert!(bytes > 16 << 20, "{bytes}");
    let t = b.table("lake/big_dataset/blobs/");
    assert_eq!((t.rows, t.files.len()), (200, 1), "{t:?}");
    assert_eq!(b.size(&t.files[0]), bytes, "the object has the job file's size");
    eprintln!("large file: {bytes} bytes to {}:// in {elapsed:.2?}", s.scheme());
}

// ------------------------------------------------------------------------------------------------
// bad input
// ------------------------------------------------------------------------------------------------

/// Runs a one-row load and returns its error and how long it took.
fn failing_load(dest: Arc<dyn Destination>, dir: &Path) -> (stevedore::Error, Duration) {
    let p = pipeline("bad", dest, dir, &[]);
    let t0 = Instant::now();
    let e = rt().block_on(p.run(Resource::from_values("events", events(1, 0)))).expect_err("the load must fail");
    (e, t0.elapsed())
}

fn missing_bucket_fails_before_writing(s: Service) {
    let (env, _) = skip_unless!(TestBucket::prerequisites(s));
    let name = unique_name("missing");
    let creds = match s {
        Service::S3 => Credentials::new()
            .with_aws_keys(&env["STEVEDORE_S3_KEY_ID"], &env["STEVEDORE_S3_SECRET"])
            .with_endpoint_url(&env["STEVEDORE_S3_ENDPOINT"]),
        Service::Azure => Credentials::new()
            .with_azure_account_key(&env["STEVEDORE_AZURE_ACCOUNT"], &env["STEVEDORE_AZURE_KEY"])
            .with_endpoint_url(&env["STEVEDORE_AZURE_ENDPOINT"]),
        Service::Gcs => Credentials::new().with_endpoint_url(&env["STEVEDORE_GCS_ENDPOINT"]),
    };
    let url = format!("{}://{name}/lake", s.scheme());
    let dest: Arc<dyn Destination> = Arc::new(Filesystem::builder().bucket_url(&url).credentials(creds).build().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (e, took) = failing_load(dest, dir.path());
    let text = format!("{e}");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e:?}");
    assert!(!e.is_retryable());
    assert!(text.contains(&format!("bucket `{name}`")) && text.contains("bucket_url"), "{text}");
    let secrets: Vec<&str> = match s {
        Service::S3 => vec![&env["STEVEDORE_S3_SECRET"]],
        Service::Azure => vec![&env["STEVEDORE_AZURE_KEY"]],
        Service::Gcs => vec![],
    };
    assert_no_secret(&format!("{e:?}"), &secrets.iter().filter(|s| s.len() > 6).copied().collect::<Vec<_>>());
    assert!(took < Duration::from_secs(10), "{took:?}");
    // the package stays pending: nothing was written anywhere
    assert!(Path::new(&dir.path().join("bad")).exists());
}

fn unreachable_endpoint_fails_fast(s: Service) {
    // a closed local port: connection refused
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let secret = "UNREACHABLE-s3cr3t-VALUE";
    let creds = match s {
        Service::S3 => Credentials::new().with_aws_keys("AKIATESTUNREACHABLE", secret).with_endpoint_url(&endpoint),
        Service::Azure => Credentials::new()
            .with_azure_account_key("devstoreaccount1", "VU5SRUFDSEFCTEUtczNjcjN0LVZBTFVF")
            .with_endpoint_url(&format!("{endpoint}/devstoreaccount1")),
        Service::Gcs => Credentials::new().with_endpoint_url(&endpoint),
    };
    let url = format!("{}://nowhere/lake", s.scheme());
    let dest: Arc<dyn Destination> = Arc::new(Filesystem::builder().bucket_url(&url).credentials(creds).build().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (e, took) = failing_load(dest, dir.path());
    let text = format!("{e}");
    assert_eq!(e.kind(), ErrorKind::Destination, "{e:?}");
    assert!(e.is_retryable(), "an unreachable endpoint may come back: {e:?}");
    assert!(text.contains("bucket `nowhere`") && text.contains("endpoint_url") && text.contains(&endpoint), "{text}");
    assert_no_secret(&format!("{e:?}"), &[secret, "VU5SRUFDSEFCTEUtczNjcjN0LVZBTFVF", "AKIATESTUNREACHABLE"]);
    assert!(took < Duration::from_secs(15), "bounded retries: {took:?}");
}

fn server_errors_are_retried_briefly_then_reported_as_retryable(s: Service) {
    // a server that answers 503 to everything: the client retries a few times, quickly, then
    // the preflight fails with a retryable error (the loader would retry the job)
    let stub = StubHttpServer::start("503 Service Unavailable", "text/plain", "SlowDown, please");
    let creds = match s {
        Service::S3 => Credentials::new().with_aws_keys("AKIA503TEST", "s3cr3t-503").with_endpoint_url(&stub.url()),
        Service::Azure => Credentials::new()
            .with_azure_account_key("devstoreaccount1", "NTAzLXMzY3IzdC1rZXk=")
            .with_endpoint_url(&format!("{}/devstoreaccount1", stub.url())),
        Service::Gcs => Credentials::new().with_endpoint_url(&stub.url()),
    };
    let dest: Arc<dyn Destination> =
        Arc::new(Filesystem::builder().bucket_url(&format!("{}://busy/lake", s.scheme())).credentials(creds).build().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (e, took) = failing_load(dest, dir.path());
    assert_eq!(e.kind(), ErrorKind::Destination, "{e:?}");
    assert!(e.is_retryable(), "{e:?}");
    assert!(format!("{e}").contains("bucket `busy`"), "{e}");
    let n = stub.requests();
    assert!((2..=5).contains(&n), "a few retries, bounded: {n} requests");
    eprintln!("{}: 503 answered {n} times, failed after {took:.2?}", s.scheme());
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_no_secret(&format!("{e:?}"), &["s3cr3t-503", "NTAzLXMzY3IzdC1rZXk="]);
}

fn rejected_credentials_fail_fast_without_retry(s: Service) {
    let dir = tempfile::tempdir().unwrap();
    match s {
        Service::Azure => {
            // azurite checks the shared key signature
            let b = skip_unless!(TestBucket::create(s, "wrongkey"));
            let wrong = "V1JPTkcta2V5LXMzY3IzdC12YWx1ZS0xMjM0NTY3OA=="; // base64 of a made-up key
            let dest: Arc<dyn Destination> = Arc::new(
                Filesystem::builder()
                    .bucket_url(&b.url("lake"))
                    .credentials(
                        Credentials::new()
                            .with_azure_account_key(b.var("STEVEDORE_AZURE_ACCOUNT"), wrong)
                            .with_endpoint_url(b.var("STEVEDORE_AZURE_ENDPOINT")),
                    )
                    .build()
                    .unwrap(),
            );
            let (e, took) = failing_load(dest, dir.path());
            check_auth_error(&e, &b.name, &["azure_storage_account_key"], &[wrong]);
            assert!(took < Duration::from_secs(3), "auth failures are not retried: {took:?}");
            assert!(b.keys("").is_empty(), "nothing written: {:?}", b.keys(""));
        }
        Service::S3 | Service::Gcs => {
            // moto and fake-gcs-server accept any credentials: a stub plays the server that
            // refuses them, and counts the requests
            let _ = skip_unless!(stevedore_testkit::remote::require_service(s.name(), s.vars()));
            let stub = if s == Service::S3 {
                StubHttpServer::start(
                    "403 Forbidden",
                    "application/xml",
                    "<?xml version=\"1.0\"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>",
                )
            } else {
                StubHttpServer::start(
                    "401 Unauthorized",
                    "application/json",
                    r#"{"error":{"code":401,"message":"Anonymous caller does not have storage.objects.list access","errors":[{"message":"denied","reason":"required"}]}}"#,
                )
            };
            let secret = "WRONG-s3cr3t-access-KEY";
            let creds = if s == Service::S3 {
                Credentials::new().with_aws_keys("AKIAWRONGKEYID", secret).with_endpoint_url(&stub.url())
            } else {
                Credentials::new().with_endpoint_url(&stub.url())
            };
            let dest: Arc<dyn Destination> =
                Arc::new(Filesystem::builder().bucket_url(&format!("{}://refused/lake", s.scheme())).credentials(creds).build().unwrap());
            let (e, took) = failing_load(dest, dir.path());
            let settings: &[&str] =
                if s == Service::S3 { &["aws_access_key_id", "aws_secret_access_key"] } else { &["private_key", "client_email"] };
            check_auth_error(&e, "refused", settings, &[secret, "AKIAWRONGKEYID"]);
            assert_eq!(stub.requests(), 1, "one request, no retry: {:?}", stub.request_lines());
            assert!(stub.request_lines()[0].starts_with("GET "), "only a list request: {:?}", stub.request_lines());
            assert!(took < Duration::from_secs(3), "{took:?}");
        }
    }
}

fn check_auth_error(e: &stevedore::Error, bucket: &str, settings: &[&str], secrets: &[&str]) {
    let text = format!("{e}");
    assert_eq!(e.kind(), ErrorKind::Auth, "{e:?}");
    assert!(!e.is_retryable(), "{e:?}");
    assert!(text.contains(&format!("bucket `{bucket}`")), "{text}");
    for s in settings {
        assert!(text.contains(s), "the message names `{s}`: {text}");
    }
    assert_no_secret(&format!("{e:?}"), secrets);
}

fn missing_credentials_are_named(s: Service) {
    match s {
        Service::S3 => {
            // the CLI with no keys anywhere and the instance metadata service disabled
            let b = skip_unless!(TestBucket::create(s, "nocreds"));
            let dir = tempfile::tempdir().unwrap();
            let input = dir.path().join("in.jsonl");
            std::fs::write(&input, "{\"id\": 1}\n").unwrap();
            let t0 = Instant::now();
            let out = stevedore_cmd(dir.path())
                .env("DESTINATION__FILESYSTEM__CREDENTIALS__ENDPOINT_URL", b.var("STEVEDORE_S3_ENDPOINT"))
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-such-file"))
                .env("AWS_CONFIG_FILE", dir.path().join("no-such-file"))
                .args(["load", input.to_str().unwrap(), "--table", "events", "--pipeline", "noc", "--bucket-url", &b.url("lake")])
                .arg("--pipelines-dir")
                .arg(dir.path().join("p"))
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success());
            assert!(stderr.contains("no AWS credentials found for bucket") && stderr.contains(&b.name), "{stderr}");
            assert!(stderr.contains("aws_access_key_id") && stderr.contains("aws_secret_access_key"), "{stderr}");
            assert!(t0.elapsed() < Duration::from_secs(10));
            assert!(b.keys("").is_empty());
        }
        Service::Azure => {
            let _ = skip_unless!(stevedore_testkit::remote::require_service(s.name(), s.vars()));
            let mut c = Credentials::new().with_azure_account_key("x", "TUlTU0lORy1zM2NyM3Q=");
            c.azure_storage_account_name = None;
            let e = Filesystem::builder().bucket_url("az://container/lake").credentials(c).build().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            let t = format!("{e:?}");
            assert!(t.contains("azure_storage_account_name is missing") && t.contains("`container`"), "{t}");
            assert_no_secret(&t, &["TUlTU0lORy1zM2NyM3Q="]);
        }
        Service::Gcs => {
            let _ = skip_unless!(stevedore_testkit::remote::require_service(s.name(), s.vars()));
            let mut c = Credentials::new().with_gcp_service_account(
                "proj",
                "sa@proj.iam.gserviceaccount.com",
                "-----BEGIN PRIVATE KEY-----\nMISSING-s3cr3t\n-----END PRIVATE KEY-----\n",
            );
            c.client_email = None;
            let e = Filesystem::builder().bucket_url("gs://bucket/lake").credentials(c).build().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            let t = format!("{e:?}");
            assert!(t.contains("client_email is missing") && t.contains("`bucket`"), "{t}");
            assert_no_secret(&t, &["MISSING-s3cr3t"]);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// settings through the CLI: an AWS profile and kwargs; GCS's emulator variable
// ------------------------------------------------------------------------------------------------

fn cli_load(project: &Path, b: &TestBucket, envs: &[(&str, String)], pipeline_name: &str) -> std::process::Output {
    let input = project.join("in.jsonl");
    let lines: Vec<String> = events(12, 0).iter().map(|v| v.to_string()).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    stevedore_cmd(project)
        .envs(envs.iter().map(|(k, v)| (k.to_string(), v.clone())))
        .args(["load", input.to_str().unwrap(), "--table", "events", "--pipeline", pipeline_name, "--bucket-url", &b.url("lake")])
        .arg("--pipelines-dir")
        .arg(project.join("p"))
        .output()
        .expect("run stevedore")
}

#[test]
fn s3_profile_name_and_kwargs_through_the_cli() {
    let b = skip_unless!(TestBucket::create(Service::S3, "profile"));
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("aws-credentials");
    std::fs::write(
        &creds,
        format!(
            "[default]\naws_access_key_id = nope\n\n[stv]\naws_access_key_id = {}\naws_secret_access_key = {}\nregion = {}\n",
            b.var("STEVEDORE_S3_KEY_ID"),
            b.var("STEVEDORE_S3_SECRET"),
            region(&b)
        ),
    )
    .unwrap();
    let out = cli_load(
        dir.path(),
        &b,
        &[
            ("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string()),
            ("AWS_CONFIG_FILE", dir.path().join("none").display().to_string()),
            ("DESTINATION__FILESYSTEM__CREDENTIALS__PROFILE_NAME", "stv".into()),
            ("DESTINATION__FILESYSTEM__CREDENTIALS__ENDPOINT_URL", b.var("STEVEDORE_S3_ENDPOINT").into()),
            ("DESTINATION__FILESYSTEM__KWARGS", r#"{"use_ssl": false, "auto_mkdir": true}"#.into()),
            ("DESTINATION__FILESYSTEM__CLIENT_KWARGS", r#"{"verify": false}"#.into()),
        ],
        "prof",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(b.table("lake/prof_dataset/events/").rows, 12);

    // a profile that does not exist is named, with the files searched
    let out = cli_load(
        dir.path(),
        &b,
        &[
            ("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string()),
            ("AWS_CONFIG_FILE", dir.path().join("none").display().to_string()),
            ("DESTINATION__FILESYSTEM__CREDENTIALS__PROFILE_NAME", "nosuch".into()),
            ("DESTINATION__FILESYSTEM__CREDENTIALS__ENDPOINT_URL", b.var("STEVEDORE_S3_ENDPOINT").into()),
        ],
        "prof2",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("AWS profile `nosuch` was not found") && stderr.contains("profile_name"), "{stderr}");
    assert_no_secret(&stderr, &[b.var("STEVEDORE_S3_SECRET")].into_iter().filter(|s| s.len() > 6).collect::<Vec<_>>());
}

#[test]
fn s3_trace_logs_hold_no_secret() {
    let b = skip_unless!(TestBucket::create(Service::S3, "logs"));
    let dir = tempfile::tempdir().unwrap();
    let out = cli_load(
        dir.path(),
        &b,
        &[
            ("DESTINATION__FILESYSTEM__CREDENTIALS__AWS_ACCESS_KEY_ID", "AKIATRACELOGKEYID".into()),
            ("DESTINATION__FILESYSTEM__CREDENTIALS__AWS_SECRET_ACCESS_KEY", "TRACE-log-s3cr3t".into()),
            ("DESTINATION__FILESYSTEM__CREDENTIALS__ENDPOINT_URL", b.var("STEVEDORE_S3_ENDPOINT").into()),
            ("RUST_LOG", "trace".into()),
        ],
        "logs",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.lines().count() > 10, "trace logging is on: {stderr}");
    assert_no_secret(&stderr, &["AKIATRACELOGKEYID", "TRACE-log-s3cr3t"]);
}

#[test]
fn gs_endpoint_from_storage_emulator_host() {
    let b = skip_unless!(TestBucket::create(Service::Gcs, "emuhost"));
    let dir = tempfile::tempdir().unwrap();
    let out = cli_load(dir.path(), &b, &[("STORAGE_EMULATOR_HOST", b.var("STEVEDORE_GCS_ENDPOINT").into())], "emu");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(b.table("lake/emu_dataset/events/").rows, 12);
}

// ------------------------------------------------------------------------------------------------
// Azure only: SAS tokens
// ------------------------------------------------------------------------------------------------

#[test]
fn az_sas_token_loads_and_a_bad_one_is_refused_without_leaking_the_signature() {
    let b = skip_unless!(TestBucket::create(Service::Azure, "sas"));
    let sas = b.sas_token();
    assert!(sas.contains("sig="), "{sas}");
    let dest = |token: &str| -> Arc<dyn Destination> {
        Arc::new(
            Filesystem::builder()
                .bucket_url(&b.url("lake"))
                .credentials(
                    Credentials::new()
                        .with_azure_sas_token(b.var("STEVEDORE_AZURE_ACCOUNT"), token)
                        .with_endpoint_url(b.var("STEVEDORE_AZURE_ENDPOINT")),
                )
                .build()
                .unwrap(),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline("sas", dest(&sas), dir.path(), &[]);
    rt().block_on(p.run(Resource::from_values("events", events(7, 0)))).expect("load with a SAS token");
    assert_eq!(b.table("lake/sas_dataset/events/").rows, 7);

    // a tampered signature: refused, and neither the token nor its signature is printed
    let sig = sas.split('&').find_map(|kv| kv.strip_prefix("sig=")).unwrap().to_string();
    // change the first character only: cutting the end could split a `%2B`-style escape and
    // make the token unparseable instead of wrong
    let first = if sig.starts_with('A') { 'B' } else { 'A' };
    let bad_sig = format!("{first}{}", &sig[1..]);
    let bad = sas.replace(&sig, &bad_sig);
    let (e, took) = failing_load(dest(&bad), tempfile::tempdir().unwrap().path());
    check_auth_error(&e, &b.name, &["azure_storage_sas_token"], &[&bad, &bad_sig]);
    assert!(!format!("{e:?}").contains(&bad_sig[..12]), "{e:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

// ------------------------------------------------------------------------------------------------
// S3 only: pagination over 1000 files, a server that goes away mid-load
// ------------------------------------------------------------------------------------------------

#[test]
fn s3_replace_deletes_more_than_1000_files() {
    let b = skip_unless!(TestBucket::create(Service::S3, "replace1k"));
    let t0 = Instant::now();
    b.put_many("lake/k_dataset/big", 1100);
    b.put_many("lake/k_dataset/bigger", 3);
    let seeded = t0.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline("k", destination(&b, "lake", |x| x), dir.path(), &[]);
    let t1 = Instant::now();
    rt().block_on(p.run(Resource::from_values("big", events(4, 0)).with_write_disposition(WriteDisposition::Replace)))
        .expect("replace load");
    let replaced = t1.elapsed();
    let t = b.table("lake/k_dataset/big/");
    assert_eq!((t.files.len(), t.rows), (1, 4), "only the new file is left: {} files", t.files.len());
    assert_eq!(b.keys("lake/k_dataset/bigger/").len(), 3, "`bigger` is another table");
    eprintln!("seeded 1103 objects in {seeded:.2?}; replace over 1100 files in {replaced:.2?}");
}

fn s3_fault_setup(tag: &str) -> Option<(TestBucket, Arc<FaultProxy>)> {
    let b = TestBucket::create(Service::S3, tag)?;
    let proxy = FaultProxy::start(b.var("STEVEDORE_S3_ENDPOINT"));
    Some((b, proxy))
}

fn proxied_destination(b: &TestBucket, proxy: &FaultProxy) -> Arc<dyn Destination> {
    let creds = Credentials::new()
        .with_aws_keys(b.var("STEVEDORE_S3_KEY_ID"), b.var("STEVEDORE_S3_SECRET"))
        .with_endpoint_url(&proxy.url())
        .with_region_name(&region(b));
    Arc::new(Filesystem::builder().bucket_url(&b.url("lake")).credentials(creds).build().unwrap())
}

fn fault_pipeline(
    name: &str,
    dest: Arc<dyn Destination>,
    dir: &Path,
    on_job: impl Fn(usize) + Send + Sync + 'static,
    attempts: i64,
    workers: i64,
) -> Pipeline {
    let mut config = Config::empty();
    config.set_explicit("normalize.data_writer.file_max_items", toml::Value::Integer(5));
    config.set_explicit("load.workers", toml::Value::Integer(workers));
    config.set_explicit("load.raise_on_max_retries", toml::Value::Integer(attempts));
    let done = Arc::new(AtomicUsize::new(0));
    Pipeline::builder(name)
        .destination(dest)
        .pipelines_dir(dir)
        .config(config)
        .progress(move |p| {
            if let Progress::Job(m) = p
                && m.state == "completed"
            {
                on_job(done.fetch_add(1, Ordering::SeqCst) + 1);
            }
        })
        .build()
        .unwrap()
}

#[test]
fn s3_server_gone_mid_load_is_retried() {
    let (b, proxy) = skip_unless!(s3_fault_setup("fault-retry"));
    let dir = tempfile::tempdir().unwrap();
    let p2 = proxy.clone();
    let stopped_at = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let s2 = stopped_at.clone();
    let p = fault_pipeline(
        "flt",
        proxied_destination(&b, &proxy),
        dir.path(),
        move |done| {
            if done == 4 {
                // the server "goes away": every connection dropped, new ones refused, for 1.5 s
                p2.stop();
                *s2.lock().unwrap() = Some(Instant::now());
                let p3 = p2.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(1500));
                    p3.restart();
                });
            }
        },
        5,
        2,
    );
    let t0 = Instant::now();
    let info = rt().block_on(p.run(Resource::from_values("events", events(120, 0)))).expect("the load completes on retry");
    assert!(stopped_at.lock().unwrap().is_some(), "the fault happened during the load");
    let retried: Vec<_> = info.packages[0].jobs.iter().filter(|j| j.attempts > 1).map(|j| (&j.job_id, j.attempts)).collect();
    assert!(!retried.is_empty(), "some jobs were retried: {:?}", info.packages[0].jobs);
    let t = b.table("lake/flt_dataset/events/");
    assert_eq!((t.rows, t.files.len()), (120, 24), "exact rows: {t:?}");
    assert_eq!(b.table("lake/flt_dataset/events__tags/").rows, 240);
    assert_eq!(b.keys("lake/flt_dataset/_dlt_loads/").len(), 1);
    eprintln!("fault retried: {} jobs needed more than one attempt; load took {:.2?}", retried.len(), t0.elapsed());
}

#[test]
fn s3_server_gone_mid_load_resumes_on_the_next_run() {
    let (b, proxy) = skip_unless!(s3_fault_setup("fault-resume"));
    let dir = tempfile::tempdir().unwrap();
    let p2 = proxy.clone();
    let p = fault_pipeline(
        "frs",
        proxied_destination(&b, &proxy),
        dir.path(),
        move |done| {
            if done == 4 {
                p2.stop(); // and it stays away for the rest of this run
            }
        },
        2,
        10,
    );
    let rt = rt();
    let e = rt.block_on(p.run(Resource::from_values("events", events(120, 0)))).expect_err("the run fails while the server is away");
    assert!(e.is_retryable(), "{e:?}");
    assert!(b.keys("lake/frs_dataset/_dlt_loads/").is_empty());
    let partial = b.keys("lake/frs_dataset/events/").len();
    assert!(partial < 24, "{partial}");
    proxy.restart();
    let loads = rt.block_on(p.load_pending()).expect("resume");
    assert_eq!(loads.len(), 1);
    let t = b.table("lake/frs_dataset/events/");
    assert_eq!((t.rows, t.files.len()), (120, 24), "exact rows after resume: {t:?}");
    assert_eq!(b.keys("lake/frs_dataset/_dlt_loads/").len(), 1);
}

// ------------------------------------------------------------------------------------------------
// configuration through files and the environment (no server needed)
// ------------------------------------------------------------------------------------------------

#[test]
fn secrets_never_reach_debug_or_errors_of_a_configured_destination() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join(".stevedore");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("secrets.toml"),
        "[destination.filesystem]\nbucket_url = \"s3://cfg-bucket/lake\"\n[destination.filesystem.credentials]\n\
         aws_access_key_id = \"AKIAFROMSECRETSTOML\"\naws_secret_access_key = \"secret-FROM-secrets-toml\"\n\
         endpoint_url = \"http://127.0.0.1:1\"\n\
         [destination.credentials]\nclient_email = \"sa@p.iam.gserviceaccount.com\"\nproject_id = \"p\"\n\
         private_key = \"-----BEGIN PRIVATE KEY-----\\nSHARED-pk-s3cr3t\\n-----END PRIVATE KEY-----\\n\"\n",
    )
    .unwrap();
    let config = Config::load(dir.path(), &Default::default()).unwrap();
    let fs = stevedore::filesystem::FilesystemConfig::from_config(&config).unwrap();
    let c = &fs.store.credentials;
    assert!(c.aws_access_key_id.is_some() && c.private_key.is_some(), "shared [destination.credentials] is read");
    assert_eq!(c.client_email.as_ref().unwrap().value, "sa@p.iam.gserviceaccount.com");
    assert!(c.private_key.as_ref().unwrap().origin.contains("secrets.toml"), "{:?}", c.private_key);
    let dest = stevedore::filesystem::from_config(&config).unwrap();
    let dbg = format!("{dest:?} {fs:?}");
    assert_no_secret(&dbg, &["AKIAFROMSECRETSTOML", "secret-FROM-secrets-toml", "SHARED-pk-s3cr3t"]);
    assert!(dbg.contains("cfg-bucket"));
    // a secret in config.toml is refused, as dlt does
    std::fs::write(cfg.join("config.toml"), "[destination.filesystem.credentials]\naws_session_token = \"in-config\"\n").unwrap();
    let e = match Config::load(dir.path(), &Default::default()) {
        Err(e) => stevedore::Error::from(e),
        Ok(config) => stevedore::filesystem::FilesystemConfig::from_config(&config).unwrap_err(),
    };
    assert!(format!("{e}").contains("aws_session_token") && !format!("{e:?}").contains("in-config"), "{e:?}");
}

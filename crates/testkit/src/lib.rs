//! Test helpers shared by stevedore's test suites.
//!
//! * [`python`]: the Python interpreter with the independent readers (pyarrow, duckdb)
//!   installed by `cargo xtask venv`. When `STEVEDORE_TEST_REQUIRE` names `python` (as
//!   `cargo xtask test` and CI set it), a missing interpreter fails the test; run bare with
//!   `cargo test`, the test prints why it skips and returns.
//! * [`run_python`]: runs a script and parses its last stdout line as JSON.
//! * [`gen_events`]: the benchmark generator `../shared/bench/gen_events.py`.
//! * [`service`] and its shortcuts [`postgres_url`], [`s3`], [`azure`], [`gcs`]: the test
//!   services started by `cargo xtask services up` (or `cargo xtask test`), found through the
//!   variables `cargo xtask services env` prints (see `docs/testing.md` for the contract).
//!   Missing: the test fails when `STEVEDORE_TEST_REQUIRE` names the service, else it prints
//!   `SKIP: ...` and gets `None`.

#![warn(missing_docs)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether CI requires a capability (`STEVEDORE_TEST_REQUIRE=python,postgres,...`).
pub fn required(capability: &str) -> bool {
    std::env::var("STEVEDORE_TEST_REQUIRE")
        .map(|v| v.split(',').any(|c| c.trim() == capability || c.trim() == "all"))
        .unwrap_or(false)
}

/// The Python interpreter with pyarrow and duckdb, or None (after printing why) when it is
/// not available and not required. Panics when it is required but missing.
pub fn python() -> Option<PathBuf> {
    let p = std::env::var_os("STEVEDORE_PYTHON").map(PathBuf::from);
    let ok = p.as_ref().is_some_and(|p| {
        Command::new(p).args(["-c", "import pyarrow, duckdb"]).output().map(|o| o.status.success()).unwrap_or(false)
    });
    if ok {
        return p;
    }
    let why = match &p {
        None => "STEVEDORE_PYTHON is not set".to_string(),
        Some(p) => format!("{} cannot import pyarrow and duckdb", p.display()),
    };
    if required("python") {
        panic!("the independent Python readers are required (STEVEDORE_TEST_REQUIRE) but unavailable: {why}; run `cargo xtask venv`");
    }
    eprintln!("SKIP: {why}; run the suite with `cargo xtask test` to check outputs with pyarrow/duckdb");
    None
}

/// Runs `script` with `args` under `python`, returns the last stdout line parsed as JSON.
/// Panics with stderr when the script fails.
pub fn run_python(python: &Path, script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python).arg("-c").arg(script).args(args).output().expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed ({}):\n{stderr}\n{stdout}", out.status);
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("null");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("python output is not JSON ({e}): {last}\n{stderr}"))
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    let mut p = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    p.pop();
    p.pop();
    p
}

/// `../shared` beside the workspace (the benchmark generator lives there).
pub fn shared_dir() -> PathBuf {
    workspace_root().join("..").join("shared")
}

/// Writes `n` generated events to `out` with `../shared/bench/gen_events.py` (stdlib Python).
pub fn gen_events(n: usize, out: &Path) {
    let script = shared_dir().join("bench").join("gen_events.py");
    assert!(script.exists(), "{} is missing: the test data generator lives in ../shared/bench", script.display());
    let py = std::env::var_os("STEVEDORE_PYTHON").unwrap_or_else(|| "python3".into());
    let st = Command::new(py).arg(&script).arg(n.to_string()).arg(out).status().expect("run gen_events.py");
    assert!(st.success(), "gen_events.py failed");
}

/// A committed test data file (`tests/data/...`).
pub fn test_data(rel: &str) -> PathBuf {
    workspace_root().join("tests").join("data").join(rel)
}

/// The variables `vars` of a test service, when all are set (and not empty). When one is
/// missing: panics if `STEVEDORE_TEST_REQUIRE` names `capability` (CI and `cargo xtask test`),
/// else prints `SKIP: <capability> not running (...)` and returns `None`, so a bare
/// `cargo test` skips the test. `capability` is the service's name in `cargo xtask services`
/// (`postgres`, `s3`, `azure`, `gcs`).
///
/// ```no_run
/// let Some(env) = stevedore_testkit::service("s3", &["STEVEDORE_S3_ENDPOINT"]) else { return };
/// let endpoint = &env["STEVEDORE_S3_ENDPOINT"];
/// ```
pub fn service(capability: &str, vars: &[&str]) -> Option<HashMap<String, String>> {
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    for var in vars {
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => {
                found.insert((*var).to_string(), v);
            }
            _ => missing.push(*var),
        }
    }
    if missing.is_empty() {
        return Some(found);
    }
    if required(capability) {
        panic!(
            "the test service `{capability}` is required (STEVEDORE_TEST_REQUIRE) but not running: \
             {} not set; run the suite with `cargo xtask test`, or start it with \
             `cargo xtask services up {capability}` and `eval \"$(cargo xtask services env)\"`",
            missing.join(", ")
        );
    }
    eprintln!(
        "SKIP: {capability} not running (start it with cargo xtask services up {capability}) \
         [{} not set]",
        missing.join(", ")
    );
    None
}

/// `STEVEDORE_PG_URL`: `postgresql://postgres@127.0.0.1:55432/postgres` (superuser `postgres`,
/// trust auth), or `None` after a `SKIP:` line (see [`service`]).
pub fn postgres_url() -> Option<String> {
    service("postgres", &["STEVEDORE_PG_URL"]).map(|mut v| v.remove("STEVEDORE_PG_URL").unwrap_or_default())
}

/// The S3 server (moto): path-style endpoint and static credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Env {
    /// `STEVEDORE_S3_ENDPOINT`, e.g. `http://127.0.0.1:9020` (use path-style addressing).
    pub endpoint: String,
    /// `STEVEDORE_S3_KEY_ID`.
    pub key_id: String,
    /// `STEVEDORE_S3_SECRET`.
    pub secret: String,
    /// `STEVEDORE_S3_REGION`, e.g. `us-east-1`.
    pub region: String,
}

/// The S3 server's settings, or `None` after a `SKIP:` line (see [`service`]).
pub fn s3() -> Option<S3Env> {
    let mut v = service(
        "s3",
        &["STEVEDORE_S3_ENDPOINT", "STEVEDORE_S3_KEY_ID", "STEVEDORE_S3_SECRET", "STEVEDORE_S3_REGION"],
    )?;
    let mut take = |k: &str| v.remove(k).unwrap_or_default();
    Some(S3Env {
        endpoint: take("STEVEDORE_S3_ENDPOINT"),
        key_id: take("STEVEDORE_S3_KEY_ID"),
        secret: take("STEVEDORE_S3_SECRET"),
        region: take("STEVEDORE_S3_REGION"),
    })
}

/// The Azure Blob server (azurite) with its development account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureEnv {
    /// `STEVEDORE_AZURE_ENDPOINT`: the blob endpoint including the account,
    /// e.g. `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: String,
    /// `STEVEDORE_AZURE_ACCOUNT`: `devstoreaccount1`.
    pub account: String,
    /// `STEVEDORE_AZURE_KEY`: the account key (azurite's well-known one).
    pub key: String,
}

/// The Azure Blob server's settings, or `None` after a `SKIP:` line (see [`service`]).
pub fn azure() -> Option<AzureEnv> {
    let mut v = service(
        "azure",
        &["STEVEDORE_AZURE_ENDPOINT", "STEVEDORE_AZURE_ACCOUNT", "STEVEDORE_AZURE_KEY"],
    )?;
    let mut take = |k: &str| v.remove(k).unwrap_or_default();
    Some(AzureEnv {
        endpoint: take("STEVEDORE_AZURE_ENDPOINT"),
        account: take("STEVEDORE_AZURE_ACCOUNT"),
        key: take("STEVEDORE_AZURE_KEY"),
    })
}

/// `STEVEDORE_GCS_ENDPOINT` of the GCS server (fake-gcs-server, JSON API, no buckets: tests
/// create their own), e.g. `http://127.0.0.1:9024`, or `None` after a `SKIP:` line.
pub fn gcs() -> Option<String> {
    service("gcs", &["STEVEDORE_GCS_ENDPOINT"]).map(|mut v| v.remove("STEVEDORE_GCS_ENDPOINT").unwrap_or_default())
}

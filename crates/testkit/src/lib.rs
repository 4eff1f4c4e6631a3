//! Test helpers shared by stevedore's test suites.
//!
//! * [`python`]: the Python interpreter with the independent readers (pyarrow, duckdb)
//!   installed by `cargo xtask venv`. When `STEVEDORE_TEST_REQUIRE` names `python` (as
//!   `cargo xtask test` and CI set it), a missing interpreter fails the test; run bare with
//!   `cargo test`, the test prints why it skips and returns.
//! * [`run_python`]: runs a script and parses its last stdout line as JSON.
//! * [`gen_events`]: the benchmark generator `../shared/bench/gen_events.py`.
//! * [`remote`]: local bucket servers (S3, Azure, GCS) from the environment, per-test
//!   buckets read back with the vendors' Python clients, a TCP fault proxy, an HTTP stub.

#![warn(missing_docs)]

pub mod remote;

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

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

//! `cargo xtask`: stevedore's developer tasks (the alias lives in `.cargo/config.toml`).
//!
//! Standard library only, so it compiles in seconds and never waits for the workspace's
//! dependency graph. Each task is one row of [`TASKS`] and one module:
//!
//! - `venv` ([`venv`]): the Python venv with the independent readers (pyarrow, duckdb)
//!   that tests check stevedore's output with;
//! - `services` ([`services`]): the test services (PostgreSQL, S3/Azure/GCS emulators), one
//!   row each in `services/table.rs`;
//! - `docs` ([`docs`]): regenerate the key tables of `docs/config.md`;
//! - `test` ([`test`]): the whole test suite, with the environment the tests expect (the
//!   venv, and every service up, through [`test::TestEnv`]).

mod bench;
mod docs;
mod proc;
mod services;
mod summary;
mod test;
mod venv;

use std::fmt;
use std::process::ExitCode;

/// A failure to report to the user: printed as `error: ...`, exit status 1.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Result of every fallible xtask step.
pub type Result<T> = std::result::Result<T, Error>;

/// Return early with an [`Error`] built like `format!`.
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::Error(format!($($arg)*))) };
}
pub(crate) use bail;

/// One `cargo xtask` subcommand.
struct Task {
    name: &'static str,
    args: &'static str,
    about: &'static str,
    run: fn(&[String]) -> Result<ExitCode>,
}

const TASKS: &[Task] = &[
    Task {
        name: "venv",
        args: "[--dlt] [--force]",
        about: "create or refresh the Python venv with the pinned test readers (pyarrow, duckdb, deltalake,\n\
                boto3, azure-storage-blob, google-cloud-storage, psycopg)\n\
                --dlt also installs dlt (for scripts/dlt_compat_expected.py); --force runs pip even if up to date",
        run: venv::main,
    },
    Task {
        name: "services",
        args: "up|down|env|status [NAME...]",
        about: "the test services on 127.0.0.1: postgres, s3 (moto), azure (azurite), gcs (fake-gcs-server)\n\
                up installs (once) and starts them; env prints their `export VAR=value` lines",
        run: services::main,
    },
    Task {
        name: "test",
        args: "[--skip-doc] [--skip-lint] [--no-services] [NEXTEST_ARGS...]",
        about: "ensure the venv, start the test services, check `cargo fmt` and clippy, run `cargo nextest run --workspace --no-fail-fast\n\
                NEXTEST_ARGS` (`cargo test` when cargo-nextest is missing) and `cargo test --workspace --doc`,\n\
                then stop the services it started",
        run: test::main,
    },
    Task {
        name: "bench",
        args: "[--sizes 100000,1000000] [--runs N] [--dlt-runs N] [--skip-dlt] [--with-10m] [--no-write]",
        about: "stevedore vs dlt and vs the parse floor on the same generated input, medians;\n\
                writes docs/benchmarks.md (not part of the test suite)",
        run: bench::main,
    },
    Task {
        name: "docs",
        args: "",
        about: "rewrite the key tables of docs/config.md from the config sections the code declares",
        run: docs::main,
    },
    Task { name: "help", args: "", about: "print this help", run: help },
];

fn usage() -> String {
    let mut s = String::from("usage: cargo xtask <task> [args]\n\ntasks:\n");
    for t in TASKS {
        s.push_str(&format!("  {} {}\n", t.name, t.args).replace(" \n", "\n"));
        for line in t.about.lines() {
            s.push_str(&format!("      {}\n", line.trim()));
        }
    }
    s.push_str(
        "\nenvironment:\n\
         \x20 STEVEDORE_CACHE        cache folder for the venvs and the services (default ~/.cache/stevedore)\n\
         \x20 STEVEDORE_BASE_PYTHON  Python 3.11+ that creates the venvs (default python3)\n\
         \x20 STEVEDORE_PORT_<NAME>  port of a test service (e.g. STEVEDORE_PORT_S3=9120)\n\
         \x20 CARGO_TARGET_DIR       cargo's build folder, as usual\n\
         \n`test` runs the tests with STEVEDORE_PYTHON=<venv python>, the services' variables and\n\
         STEVEDORE_TEST_REQUIRE=python,postgres,s3,azure,gcs,bigquery,snowflake (tests that need one of them fail\n\
         instead of skipping). See docs/testing.md.\n",
    );
    s
}

fn help(_: &[String]) -> Result<ExitCode> {
    print!("{}", usage());
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        print!("{}", usage());
        return ExitCode::SUCCESS;
    };
    let name = match name.as_str() {
        "-h" | "--help" => "help",
        other => other,
    };
    let Some(task) = TASKS.iter().find(|t| t.name == name) else {
        eprint!("xtask: unknown task `{name}`\n\n{}", usage());
        return ExitCode::from(2);
    };
    match (task.run)(&args[1..]) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask {name}: error: {e}");
            ExitCode::FAILURE
        }
    }
}

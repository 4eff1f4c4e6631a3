//! `cargo xtask test`: the whole test suite with the environment the tests expect.
//!
//! Steps: ensure the readers' venv and bring the test services up (both at once), then check
//! formatting and lints (`cargo fmt --check`, clippy with warnings as errors), then run the
//! tests with nextest (or `cargo test` when cargo-nextest is missing), then the doctests
//! (nextest cannot run them), then stop the services this run started (also when tests fail,
//! on an error, and, through the services' watchdog, when xtask is interrupted). Every test
//! step runs even when an earlier one failed; the task fails if any did, and ends with one
//! line `summary: N passed, N failed, N skipped` counted from the runners' own closing lines.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::proc::{self, cargo, workspace_root};
use crate::services;
use crate::summary::{Counts, Format, strip_ansi};
use crate::venv;
use crate::{Error, Result, bail};

/// Names the capabilities that must be present; a test that needs one of them fails
/// instead of skipping.
const REQUIRE_VAR: &str = "STEVEDORE_TEST_REQUIRE";

const USAGE: &str = "usage: cargo xtask test [--skip-doc] [--skip-lint] [--no-services] [NEXTEST_ARGS...]";

/// What the test processes are told about their environment: variables to set and the
/// capabilities that must be there (`STEVEDORE_TEST_REQUIRE`, comma separated).
/// The venv provides `python`; each test service provides its name and variables.
#[derive(Debug, Default)]
pub struct TestEnv {
    vars: Vec<(String, OsString)>,
    require: Vec<String>,
}

impl TestEnv {
    /// Record that `capability` is present and set up by `vars`.
    pub fn provide(&mut self, capability: &str, vars: impl IntoIterator<Item = (&'static str, OsString)>) {
        self.vars.extend(vars.into_iter().map(|(k, v)| (k.to_string(), v)));
        if !self.require.iter().any(|r| r == capability) {
            self.require.push(capability.to_string());
        }
    }

    /// Set `vars` without requiring a capability (a service whose tests may still skip).
    pub fn set(&mut self, vars: impl IntoIterator<Item = (&'static str, OsString)>) {
        self.vars.extend(vars.into_iter().map(|(k, v)| (k.to_string(), v)));
    }

    /// The variables to set, `STEVEDORE_TEST_REQUIRE` merged with what the caller already
    /// asked for in `inherited`.
    fn vars(&self, inherited: Option<&str>) -> Vec<(String, OsString)> {
        let mut require: Vec<String> = Vec::new();
        let asked = inherited.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty());
        for name in asked.chain(self.require.iter().map(String::as_str)) {
            if !require.iter().any(|r| r == name) {
                require.push(name.to_string());
            }
        }
        let mut vars = self.vars.clone();
        vars.push((REQUIRE_VAR.to_string(), require.join(",").into()));
        vars
    }
}

/// One command of the suite.
struct Step {
    name: &'static str,
    cmd: Command,
    format: Format,
}

/// How a step went.
struct Outcome {
    name: &'static str,
    status: ExitStatus,
    counts: Option<Counts>,
    /// A check step (no tests): its status is printed without counts.
    checks_only: bool,
    took: Duration,
}

pub fn main(args: &[String]) -> Result<ExitCode> {
    let mut skip_doc = false;
    let mut skip_lint = false;
    let mut no_services = false;
    let mut rest = args;
    while let Some(first) = rest.first() {
        match first.as_str() {
            "--skip-doc" => skip_doc = true,
            "--skip-lint" => skip_lint = true,
            "--no-services" => no_services = true,
            "-h" | "--help" => {
                println!(
                    "{USAGE}\n\nensure the venv and start every test service (`cargo xtask services up`;\n\
                     not with --no-services), check formatting and lints (`cargo fmt --all --check`,\n\
                     `cargo clippy --workspace --all-targets -- -D warnings`; skipped with --skip-lint),\n\
                     then run `cargo nextest run --workspace --no-fail-fast NEXTEST_ARGS`\n\
                     (`cargo test --workspace --no-fail-fast --lib --bins --tests NEXTEST_ARGS` without\n\
                     cargo-nextest) and \
                     `cargo test --workspace --doc` (skipped with --skip-doc), with\n\
                     STEVEDORE_PYTHON=<venv python>, the services' variables and\n\
                     {REQUIRE_VAR}=python,<the services>; then stop the services this run started"
                );
                return Ok(ExitCode::SUCCESS);
            }
            _ => break,
        }
        rest = &rest[1..];
    }
    let root = workspace_root()?;

    // The venv's pip and the services' installs and starts run at the same time.
    let start = Instant::now();
    let (python, session) = thread::scope(|s| {
        let venv = s.spawn(|| venv::ensure(&venv::READERS, &[], false));
        let session = if no_services {
            Ok(None)
        } else {
            services::Session::start(services::SERVICES.iter().collect::<Vec<_>>().as_slice()).map(Some)
        };
        let python = venv.join().unwrap_or_else(|_| Err(Error("the venv thread panicked".into())));
        (python, session)
    });
    // On an error below, dropping the session stops the services it started.
    let mut session = session?;
    let python = python?;
    let mut env = TestEnv::default();
    env.provide("python", [("STEVEDORE_PYTHON", python.into_os_string())]);
    if let Some(session) = &session {
        for r in &session.running {
            let vars = r.env.iter().map(|(k, v)| (*k, OsString::from(v)));
            if r.service.required {
                env.provide(r.service.name, vars);
            } else {
                env.set(vars);
            }
        }
    }
    println!("test environment ready in {:.1}s (venv and services)", start.elapsed().as_secs_f64());

    let vars = env.vars(std::env::var(REQUIRE_VAR).ok().as_deref());
    for (k, v) in &vars {
        println!("test environment: {k}={}", v.to_string_lossy());
    }

    let mut steps = Vec::new();
    if !skip_lint {
        // Checks first: a formatting slip or a lint shows in the summary next to the tests.
        let mut fmt = cargo();
        fmt.args(["fmt", "--all", "--check"]);
        steps.push(Step { name: "format (cargo fmt --check)", cmd: fmt, format: Format::Check });
        let mut clippy = cargo();
        clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
        steps.push(Step { name: "lints (cargo clippy -D warnings)", cmd: clippy, format: Format::Check });
    }
    let mut tests = cargo();
    if has_nextest(&root) {
        tests.args(["nextest", "run", "--workspace", "--no-fail-fast"]).args(rest);
        steps.push(Step { name: "tests (nextest)", cmd: tests, format: Format::Nextest });
    } else {
        println!("cargo-nextest is not installed: running `cargo test` (install it: cargo install cargo-nextest --locked)");
        // the targets nextest runs; doctests are a step of their own
        let targets = ["--lib", "--bins", "--tests"];
        tests.args(["test", "--workspace", "--no-fail-fast"]).args(targets).args(rest);
        steps.push(Step { name: "tests (cargo test)", cmd: tests, format: Format::Libtest });
    }
    if !skip_doc {
        let mut doc = cargo();
        doc.args(["test", "--workspace", "--doc"]);
        steps.push(Step { name: "doctests", cmd: doc, format: Format::Libtest });
    }

    let color = io::stderr().is_terminal() && std::env::var_os("CARGO_TERM_COLOR").is_none();
    let mut outcomes = Vec::new();
    for mut step in steps {
        step.cmd.current_dir(&root).envs(vars.iter().map(|(k, v)| (k, v)));
        if color {
            step.cmd.env("CARGO_TERM_COLOR", "always");
        }
        outcomes.push(run_step(step)?);
    }
    if let Some(session) = session.as_mut() {
        println!("\n==> stopping the test services this run started");
        session.stop();
    }
    Ok(report(&outcomes))
}

/// Whether `cargo nextest` runs.
fn has_nextest(root: &Path) -> bool {
    let mut cmd = cargo();
    cmd.args(["nextest", "--version"]).current_dir(root);
    matches!(proc::capture(&mut cmd, ""), Ok(Some(_)))
}

/// Run one step, passing its output through line by line and keeping its result lines.
fn run_step(mut step: Step) -> Result<Outcome> {
    println!("\n==> {}: {}", step.name, proc::display(&step.cmd));
    let start = Instant::now();
    let mut child = step
        .cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| proc::spawn_error(&step.cmd, e, "cargo is needed to run the tests"))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else { bail!("{}: no pipes to the child", step.name) };
    let format = step.format;
    let from_stderr = thread::spawn(move || forward(stderr, io::stderr(), format));
    let mut lines = forward(stdout, io::stdout(), format);
    lines.extend(from_stderr.join().unwrap_or_default());
    let status = child.wait().map_err(|e| Error(format!("{}: waiting for cargo: {e}", step.name)))?;
    Ok(Outcome { name: step.name, status, counts: format.counts(&lines), checks_only: format == Format::Check, took: start.elapsed() })
}

/// Copy `from` to `to` line by line as it comes and return the lines `format` reads.
fn forward(from: impl Read, mut to: impl Write, format: Format) -> Vec<String> {
    let mut reader = BufReader::new(from);
    let mut buf = Vec::new();
    let mut kept = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        // A closed terminal must not stop the run: keep reading so the child never blocks.
        let _ = to.write_all(&buf).and_then(|()| to.flush());
        let line = strip_ansi(&String::from_utf8_lossy(&buf));
        if format.is_result_line(&line) {
            kept.push(line.trim().to_string());
        }
    }
    kept
}

/// Print one line per step and the closing summary; the exit code says whether all passed.
fn report(outcomes: &[Outcome]) -> ExitCode {
    println!("\n==> xtask test");
    let mut total = Counts::default();
    let mut all_counted = true;
    for o in outcomes {
        let state = if o.status.success() { "ok".to_string() } else { format!("FAILED ({})", proc::describe_status(o.status)) };
        let counts = match o.counts {
            Some(_) if o.checks_only => String::new(),
            Some(c) => {
                total += c;
                c.to_string()
            }
            None => {
                all_counted = false;
                "no test results reported".to_string()
            }
        };
        let counts = if counts.is_empty() { String::new() } else { format!(": {counts}") };
        println!("{}: {state}{counts} in {:.1}s", o.name, o.took.as_secs_f64());
    }
    let failed: Vec<&str> = outcomes.iter().filter(|o| !o.status.success()).map(|o| o.name).collect();
    if failed.is_empty() {
        if all_counted {
            println!("summary: {total}");
        } else {
            println!("summary: all steps passed (some reported no test counts)");
        }
        ExitCode::SUCCESS
    } else {
        if all_counted && total.failed > 0 {
            println!("summary: {total}");
        } else {
            println!("summary: FAILED: {}", failed.join(", "));
        }
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_merges_with_what_the_caller_asked_for() {
        let mut env = TestEnv::default();
        env.provide("python", [("STEVEDORE_PYTHON", OsString::from("/v/bin/python"))]);
        let vars = env.vars(Some("postgres, python"));
        assert_eq!(vars[0], ("STEVEDORE_PYTHON".to_string(), OsString::from("/v/bin/python")));
        assert_eq!(vars[1], (REQUIRE_VAR.to_string(), OsString::from("postgres,python")));
        assert_eq!(env.vars(None)[1].1, OsString::from("python"));
    }

    #[test]
    fn forward_copies_everything_and_keeps_result_lines() {
        let input = "running 1 test\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\nno newline";
        let mut out = Vec::new();
        let kept = forward(input.as_bytes(), &mut out, Format::Libtest);
        assert_eq!(out, input.as_bytes());
        assert_eq!(Format::Libtest.counts(&kept), Some(Counts { passed: 1, failed: 0, skipped: 0 }));
    }
}

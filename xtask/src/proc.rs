//! Paths and child processes shared by the tasks.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use crate::{Error, Result, bail};

/// The cache folder outside the checkout: `$STEVEDORE_CACHE`, else `~/.cache/stevedore`.
/// Always absolute, because its paths are handed to tests that run in other folders.
pub fn cache_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("STEVEDORE_CACHE").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => Path::new(&home).join(".cache").join("stevedore"),
            None => bail!("neither STEVEDORE_CACHE nor HOME is set: set STEVEDORE_CACHE to a cache folder"),
        },
    };
    std::path::absolute(&dir).map_err(|e| Error(format!("cache folder {}: {e}", dir.display())))
}

/// The workspace root: the parent of the xtask package, which `cargo run` names in
/// `CARGO_MANIFEST_DIR`; else the nearest folder above the current one whose `Cargo.toml`
/// declares `[workspace]`.
pub fn workspace_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR")
        && let Some(root) = Path::new(&dir).parent()
        && root.join("Cargo.toml").is_file()
    {
        return Ok(root.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| Error(format!("current folder: {e}")))?;
    for dir in cwd.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|s| s.lines().any(|l| l.trim() == "[workspace]")) {
            return Ok(dir.to_path_buf());
        }
    }
    bail!("no Cargo workspace above {}: run this as `cargo xtask` inside the stevedore checkout", cwd.display())
}

/// The cargo that runs us (`$CARGO`), so the same toolchain builds the tests.
///
/// Without the variables `cargo run` set for the xtask binary itself: build scripts that
/// watch them (ring's watches `CARGO_MANIFEST_DIR`) would otherwise see a different value
/// than in a `cargo build` typed by hand, and each switch rebuilt ring and everything above
/// it (DataFusion included, minutes on 2 cores).
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_run_variable) {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// Whether `name` is one of the variables `cargo run` sets for the program it runs.
fn is_run_variable(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || matches!(name, "CARGO_MANIFEST_DIR" | "CARGO_MANIFEST_PATH" | "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE")
}

/// A command as a shell line, for the log.
pub fn display(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(quote).collect::<Vec<_>>().join(" ")
}

fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c));
    if plain { s.into_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

/// Turn a spawn error into a message that says what to install.
pub fn spawn_error(cmd: &Command, e: io::Error, hint: &str) -> Error {
    let program = cmd.get_program().to_string_lossy();
    if e.kind() == io::ErrorKind::NotFound {
        Error(format!("{program} not found: {hint}"))
    } else {
        Error(format!("cannot run {program}: {e}"))
    }
}

/// Print the command, run it with inherited stdio and return its status.
pub fn run(cmd: &mut Command, hint: &str) -> Result<ExitStatus> {
    println!("$ {}", display(cmd));
    cmd.stdin(Stdio::null());
    cmd.status().map_err(|e| spawn_error(cmd, e, hint))
}

/// Run quietly and return stdout when the command succeeds; `None` when it ran and failed.
pub fn capture(cmd: &mut Command, hint: &str) -> Result<Option<String>> {
    cmd.stdin(Stdio::null()).stderr(Stdio::null());
    let out = cmd.output().map_err(|e| spawn_error(cmd, e, hint))?;
    Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// `exit status 3` / `signal 9`, for messages.
pub fn describe_status(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => format!("{status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_run_variables_are_not_passed_on() {
        assert!(is_run_variable("CARGO_MANIFEST_DIR"));
        assert!(is_run_variable("CARGO_PKG_VERSION"));
        assert!(!is_run_variable("CARGO_TARGET_DIR"), "the target dir is ours to pass");
        assert!(!is_run_variable("CARGO_HOME"));
        assert!(!is_run_variable("CARGO"));
        let cmd = cargo();
        let removed: Vec<_> = cmd.get_envs().filter(|(_, v)| v.is_none()).map(|(k, _)| k.to_owned()).collect();
        if std::env::var_os("CARGO_MANIFEST_DIR").is_some() {
            assert!(removed.iter().any(|k| k == "CARGO_MANIFEST_DIR"), "{removed:?}");
        }
    }

    #[test]
    fn display_quotes_only_what_a_shell_would_split() {
        let mut cmd = Command::new("cargo");
        cmd.args(["nextest", "run", "-E", "test(a b)", "--x=1", ""]);
        assert_eq!(display(&cmd), "cargo nextest run -E 'test(a b)' --x=1 ''");
    }
}

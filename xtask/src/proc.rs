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
            None => bail!(
                "neither STEVEDORE_CACHE nor HOME is set: set STEVEDORE_CACHE to a cache folder"
            ),
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
        if std::fs::read_to_string(&manifest)
            .is_ok_and(|s| s.lines().any(|l| l.trim() == "[workspace]"))
        {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(
        "no Cargo workspace above {}: run this as `cargo xtask` inside the stevedore checkout",
        cwd.display()
    )
}

/// The cargo that runs us (`$CARGO`), so the same toolchain builds the tests.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// A command as a shell line, for the log.
pub fn display(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
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
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
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
    fn display_quotes_only_what_a_shell_would_split() {
        let mut cmd = Command::new("cargo");
        cmd.args(["nextest", "run", "-E", "test(a b)", "--x=1", ""]);
        assert_eq!(display(&cmd), "cargo nextest run -E 'test(a b)' --x=1 ''");
    }
}

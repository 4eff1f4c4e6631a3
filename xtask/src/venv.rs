//! `cargo xtask venv`: the Python venv holding the independent readers the tests use.
//!
//! The venv lives in the cache folder (`$STEVEDORE_CACHE/venv`), outside the checkout, so
//! fresh clones reuse it. A stamp file in the venv lists the interpreter and the exact pins
//! installed; when it already covers what is asked for, nothing is run but one interpreter
//! probe, so a warm run is instant.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::proc::{self, cache_dir};
use crate::{Error, Result, bail};

/// A venv under the cache folder with exact pins. Test services that need their own Python
/// tools (moto, fakesnow, ...) can use the same machinery with a spec of their own.
pub struct VenvSpec {
    /// Folder name under the cache folder.
    pub dir: &'static str,
    /// The oldest Python (major, minor) every pinned wheel supports.
    pub min_python: (u32, u32),
    /// Exact pins, `name==version`.
    pub requirements: &'static [&'static str],
}

/// The readers tests check stevedore's output with (`STEVEDORE_PYTHON`): files (pyarrow,
/// duckdb, deltalake) and the test services' own clients (boto3 for S3, azure-storage-blob,
/// google-cloud-storage, google-cloud-bigquery, psycopg for PostgreSQL).
pub const READERS: VenvSpec = VenvSpec {
    dir: "venv",
    // pyarrow 26 and duckdb 2.0 require Python >= 3.11
    min_python: (3, 11),
    requirements: &[
        "pyarrow==26.0.1",
        "duckdb==2.0.0",
        "deltalake==1.6.6",
        "boto3==1.44.5",
        "azure-storage-blob==12.31.1",
        "google-cloud-storage==3.17.1",
        "google-cloud-bigquery==3.47.0",
        "psycopg[binary]==3.3.9",
    ],
};

/// Added by `venv --dlt`: dlt itself, for `scripts/dlt_compat_expected.py`.
pub const DLT: &[&str] = &["dlt==1.31.0", "psycopg2-binary==2.9.13"];

const STAMP: &str = ".stevedore-requirements";
const USAGE: &str = "usage: cargo xtask venv [--dlt] [--force]";

pub fn main(args: &[String]) -> Result<ExitCode> {
    let mut extra: Vec<&str> = Vec::new();
    let mut force = false;
    for arg in args {
        match arg.as_str() {
            "--dlt" => extra.extend_from_slice(DLT),
            "--force" => force = true,
            "-h" | "--help" => {
                println!(
                    "{USAGE}\n\ncreate or refresh {dir} under $STEVEDORE_CACHE (default ~/.cache/stevedore) with {reqs}\n\
                     --dlt    also install {dlt} (for scripts/dlt_compat_expected.py)\n\
                     --force  run pip even when the stamp says the venv is up to date",
                    dir = READERS.dir,
                    reqs = READERS.requirements.join(" "),
                    dlt = DLT.join(" "),
                );
                return Ok(ExitCode::SUCCESS);
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    let python = ensure(&READERS, &extra, force)?;
    println!("STEVEDORE_PYTHON={}", python.display());
    Ok(ExitCode::SUCCESS)
}

/// Make sure the venv of `spec` exists with `spec.requirements` and `extra` installed, and
/// return its interpreter. Pins installed earlier (e.g. by `--dlt`) are kept, unless `force`.
pub fn ensure(spec: &VenvSpec, extra: &[&str], force: bool) -> Result<PathBuf> {
    let dir = cache_dir()?.join(spec.dir);
    let python = venv_python(&dir);
    let stamp_path = dir.join(STAMP);
    let wanted: Vec<&str> = spec.requirements.iter().chain(extra).copied().collect();

    let mut interpreter = identify(&python);
    let stamp = read_stamp(&stamp_path);
    if let (Some(id), Some(stamp)) = (&interpreter, &stamp)
        && !force
        && stamp.interpreter == *id
        && wanted.iter().all(|w| stamp.requirements.iter().any(|r| r == w))
    {
        println!("venv up to date: {} ({id}; {})", dir.display(), stamp.requirements.join(" "));
        return Ok(python);
    }

    if interpreter.is_none() {
        create(spec, &dir)?;
        interpreter = identify(&python);
    }
    let Some(interpreter) = interpreter else {
        bail!("the venv's interpreter {} does not run; delete {} and retry", python.display(), dir.display())
    };
    check_version(&interpreter, spec.min_python, &python.display().to_string())?;

    let previous = match stamp {
        Some(s) if !force && s.interpreter == interpreter => s.requirements,
        _ => Vec::new(),
    };
    let install = merge(&previous, &wanted);
    // No stamp while pip runs: a failed or interrupted install is retried next time.
    if let Err(e) = fs::remove_file(&stamp_path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        bail!("cannot remove {}: {e}", stamp_path.display());
    }
    println!("installing into {}: {}", dir.display(), install.join(" "));
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]).args(&install);
    let status = proc::run(&mut pip, "the venv has no interpreter")?;
    if !status.success() {
        bail!("pip install failed ({}): see pip's output above (PyPI must be reachable)", proc::describe_status(status));
    }
    let stamp = Stamp { interpreter, requirements: install };
    let tmp = dir.join(format!("{STAMP}.tmp"));
    fs::write(&tmp, stamp.render())
        .and_then(|()| fs::rename(&tmp, &stamp_path))
        .map_err(|e| Error(format!("cannot write {}: {e}", stamp_path.display())))?;
    println!("venv ready: {} ({}; {})", dir.display(), stamp.interpreter, stamp.requirements.join(" "));
    Ok(python)
}

fn venv_python(dir: &Path) -> PathBuf {
    if cfg!(windows) { dir.join("Scripts").join("python.exe") } else { dir.join("bin").join("python") }
}

/// The interpreter Python programs must create the venv with.
pub(crate) fn base_python() -> Command {
    match std::env::var_os("STEVEDORE_BASE_PYTHON").filter(|v| !v.is_empty()) {
        Some(p) => Command::new(p),
        None => Command::new(if cfg!(windows) { "python" } else { "python3" }),
    }
}

const VERSION_PROBE: &str = "import sys; print('%d.%d.%d' % sys.version_info[:3], sys.base_prefix)";

/// `python <version> <base prefix>` of a venv's interpreter; `None` if it is missing or broken
/// (e.g. the Python it was made from was removed).
fn identify(python: &Path) -> Option<String> {
    if !python.exists() {
        return None;
    }
    let out = Command::new(python).args(["-c", VERSION_PROBE]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    (out.status.success() && !text.trim().is_empty()).then(|| format!("python {}", text.trim()))
}

fn create(spec: &VenvSpec, dir: &Path) -> Result<()> {
    let (major, minor) = spec.min_python;
    let hint = format!("install Python {major}.{minor}+ (or set STEVEDORE_BASE_PYTHON to one)");
    let mut probe = base_python();
    let name = probe.get_program().to_string_lossy().into_owned();
    let Some(out) = proc::capture(probe.args(["-c", VERSION_PROBE]), &hint)? else { bail!("{name} does not run: {hint}") };
    check_version(&format!("python {}", out.trim()), spec.min_python, &name)?;

    let mut venv = base_python();
    venv.args(["-m", "venv"]);
    if dir.exists() {
        println!("venv at {} is broken: recreating it", dir.display());
        venv.arg("--clear");
    } else {
        println!("creating venv at {}", dir.display());
    }
    venv.arg(dir);
    let status = proc::run(&mut venv, &hint)?;
    if !status.success() {
        bail!(
            "`{}` failed ({}); on Debian/Ubuntu the venv module is in the python3-venv package",
            proc::display(&venv),
            proc::describe_status(status)
        );
    }
    Ok(())
}

/// Fail unless `interpreter` (`python X.Y.Z ...`) is at least `min`.
fn check_version(interpreter: &str, min: (u32, u32), who: &str) -> Result<()> {
    let version = interpreter.split_whitespace().nth(1).unwrap_or("");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let found = (parts.next().flatten(), parts.next().flatten());
    match found {
        (Some(major), Some(minor)) if (major, minor) >= min => Ok(()),
        _ => bail!(
            "{who} is Python {version}, but the pinned packages need Python {}.{}+: install one \
             (or set STEVEDORE_BASE_PYTHON to one)",
            min.0,
            min.1
        ),
    }
}

/// What the stamp file in a venv records.
#[derive(Debug, PartialEq)]
struct Stamp {
    interpreter: String,
    requirements: Vec<String>,
}

impl Stamp {
    fn render(&self) -> String {
        let mut s = String::from("# written by `cargo xtask venv`: installed pins; delete to force a reinstall\n");
        s.push_str(&self.interpreter);
        s.push('\n');
        for r in &self.requirements {
            s.push_str(r);
            s.push('\n');
        }
        s
    }

    fn parse(text: &str) -> Option<Stamp> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
        let interpreter = lines.next().filter(|l| l.starts_with("python "))?.to_string();
        Some(Stamp { interpreter, requirements: lines.map(String::from).collect() })
    }
}

fn read_stamp(path: &Path) -> Option<Stamp> {
    Stamp::parse(&fs::read_to_string(path).ok()?)
}

/// The normalized project name of a pin (`Foo_Bar==1` -> `foo-bar`).
fn project_name(requirement: &str) -> String {
    let end = requirement.find(|c: char| "=<>!~;[ ".contains(c)).unwrap_or(requirement.len());
    requirement[..end].to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The pins to install: everything wanted, plus earlier pins of other projects.
fn merge(previous: &[String], wanted: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in wanted {
        if !out.iter().any(|o| project_name(o) == project_name(w)) {
            out.push((*w).to_string());
        }
    }
    for p in previous {
        if !out.iter().any(|o| project_name(o) == project_name(p)) {
            out.push(p.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_earlier_extras_and_lets_new_pins_win() {
        let previous = vec!["pyarrow==25.0.0".to_string(), "dlt==1.31.0".to_string()];
        let merged = merge(&previous, &["pyarrow==26.0.1", "duckdb==2.0.0"]);
        assert_eq!(merged, ["pyarrow==26.0.1", "duckdb==2.0.0", "dlt==1.31.0"]);
    }

    #[test]
    fn project_names_are_normalized() {
        assert_eq!(project_name("Typing_Extensions==4.1"), "typing-extensions");
        assert_eq!(project_name("moto[server]==5.2.5"), "moto");
    }

    #[test]
    fn stamp_round_trips() {
        let stamp = Stamp {
            interpreter: "python 3.11.7 /usr".to_string(),
            requirements: vec!["pyarrow==26.0.1".to_string(), "duckdb==2.0.0".to_string()],
        };
        assert_eq!(Stamp::parse(&stamp.render()), Some(stamp));
        assert_eq!(Stamp::parse("# only a comment\n"), None);
    }

    #[test]
    fn version_check() {
        assert!(check_version("python 3.11.7 /usr", (3, 11), "python3").is_ok());
        assert!(check_version("python 3.12.0 /usr", (3, 11), "python3").is_ok());
        let err = check_version("python 3.9.2 /usr", (3, 11), "python3").unwrap_err();
        assert!(err.0.contains("need Python 3.11+"), "{err}");
        assert!(check_version("python garbage", (3, 11), "python3").is_err());
    }
}

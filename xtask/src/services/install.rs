//! Installing a service into its folder `$STEVEDORE_CACHE/emu/<name>`, once.
//!
//! A stamp file in the folder records what was installed (the pins of the service's row). When
//! it matches the table, nothing is run but a quick check that the install still works, so a
//! fresh clone on a warm machine reuses it; otherwise the folder is wiped and installed anew,
//! with the installer's output in `emu/logs/<name>-install.log`.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process::tail;
use super::{Ctx, Install, Service};
use crate::{Error, Result, bail, proc, venv};

/// The stamp file in each service folder.
pub const STAMP: &str = ".stevedore-stamp";

/// What the stamp of `ctx.dir` says is installed (comment lines dropped), if anything.
pub fn installed(ctx: &Ctx) -> Option<String> {
    let text = fs::read_to_string(ctx.dir.join(STAMP)).ok()?;
    let body: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    (!body.is_empty()).then(|| body.join("\n"))
}

fn write_stamp(ctx: &Ctx, text: &str) -> Result<()> {
    let path = ctx.dir.join(STAMP);
    let tmp = ctx.dir.join(format!("{STAMP}.tmp"));
    fs::write(&tmp, format!("# written by `cargo xtask services`: what is installed here; delete to reinstall\n{text}\n"))
        .and_then(|()| fs::rename(&tmp, &path))
        .map_err(|e| Error(format!("cannot write {}: {e}", path.display())))
}

/// Make sure `svc` is installed; `Some(time taken)` when something was installed now.
pub fn ensure(svc: &Service, ctx: &Ctx) -> Result<Option<Duration>> {
    let stamp = installed(ctx);
    match svc.install {
        Install::Pip(pins) => {
            let want = format!("pip {}", pins.join(" "));
            if stamp.as_deref() == Some(want.as_str()) && venv_works(ctx) {
                return Ok(None);
            }
            fresh(ctx, &want, |log| pip(ctx, pins, log)).map(Some)
        }
        Install::Npm(pins) => {
            let want = format!("npm {}", pins.join(" "));
            if stamp.as_deref() == Some(want.as_str()) && ctx.dir.join("node_modules").is_dir() {
                return Ok(None);
            }
            fresh(ctx, &want, |log| npm(ctx, pins, log)).map(Some)
        }
        Install::System(check) => {
            let start = Instant::now();
            mkdir(&ctx.dir)?;
            let log = ctx.install_log();
            if let Some(parent) = log.parent() {
                mkdir(parent)?;
            }
            let (text, installed_now) = check(ctx, &log)?;
            if stamp.as_deref() != Some(text.as_str()) {
                write_stamp(ctx, &text)?;
            }
            Ok(installed_now.then(|| start.elapsed()))
        }
    }
}

/// Wipe `ctx.dir`, run `install`, then write the stamp `want`.
fn fresh(ctx: &Ctx, want: &str, install: impl FnOnce(&Path) -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    let log = ctx.install_log();
    println!("{}: installing {want} into {} (log: {})", ctx.name, ctx.dir.display(), log.display());
    if ctx.dir.exists() {
        fs::remove_dir_all(&ctx.dir).map_err(|e| Error(format!("cannot remove {}: {e}", ctx.dir.display())))?;
    }
    mkdir(&ctx.dir)?;
    if let Some(parent) = log.parent() {
        mkdir(parent)?;
    }
    File::create(&log).map_err(|e| Error(format!("cannot create {}: {e}", log.display())))?;
    install(&log).map_err(|e| Error(format!("{}: install failed: {e}", ctx.name)))?;
    write_stamp(ctx, want)?;
    let took = start.elapsed();
    println!("{}: installed {want} in {:.1}s", ctx.name, took.as_secs_f64());
    Ok(took)
}

fn mkdir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error(format!("cannot create {}: {e}", dir.display())))
}

/// Run `cmd` with its output appended to `log`; on failure the error carries the log's tail.
pub fn run_logged(cmd: &mut Command, log: &Path, hint: &str) -> Result<()> {
    let mut out = File::options().create(true).append(true).open(log).map_err(|e| Error(format!("cannot open {}: {e}", log.display())))?;
    let _ = writeln!(out, "$ {}", proc::display(cmd));
    let err = out.try_clone().map_err(|e| Error(format!("cannot open {}: {e}", log.display())))?;
    let status = cmd.stdin(Stdio::null()).stdout(out).stderr(err).status().map_err(|e| proc::spawn_error(cmd, e, hint))?;
    if !status.success() {
        bail!("`{}` failed ({})\n{}", proc::display(cmd), proc::describe_status(status), tail(log, 30));
    }
    Ok(())
}

fn venv_python(ctx: &Ctx) -> std::path::PathBuf {
    ctx.dir.join("bin").join("python")
}

/// The venv's interpreter still runs (the Python it was made from may have gone).
fn venv_works(ctx: &Ctx) -> bool {
    Command::new(venv_python(ctx))
        .args(["-c", ""])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn pip(ctx: &Ctx, pins: &[&str], log: &Path) -> Result<()> {
    let mut make = venv::base_python();
    make.args(["-m", "venv"]).arg(&ctx.dir);
    run_logged(&mut make, log, "install Python 3.11+ with its venv module (or set STEVEDORE_BASE_PYTHON)")?;
    let mut install = Command::new(venv_python(ctx));
    install.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]).args(pins);
    run_logged(&mut install, log, "the new venv has no interpreter").map_err(|e| Error(format!("{e}\n(PyPI must be reachable)")))
}

/// `name@version` -> (`name`, `version`), scoped names (`@scope/name@1.0`) included.
fn split_pin(pin: &str) -> Option<(&str, &str)> {
    let (name, version) = pin.rsplit_once('@')?;
    (!name.is_empty() && !version.is_empty()).then_some((name, version))
}

fn package_json(name: &str, pins: &[&str]) -> Result<String> {
    let mut deps = Vec::new();
    for pin in pins {
        let Some((package, version)) = split_pin(pin) else { bail!("npm pin `{pin}` is not name@version") };
        deps.push(format!("    \"{package}\": \"{version}\""));
    }
    Ok(format!(
        "{{\n  \"name\": \"stevedore-emu-{name}\",\n  \"version\": \"0.0.0\",\n  \"private\": true,\n  \
         \"description\": \"written by cargo xtask services\",\n  \"dependencies\": {{\n{}\n  }}\n}}\n",
        deps.join(",\n")
    ))
}

fn npm(ctx: &Ctx, pins: &[&str], log: &Path) -> Result<()> {
    let manifest = ctx.dir.join("package.json");
    fs::write(&manifest, package_json(ctx.name, pins)?).map_err(|e| Error(format!("cannot write {}: {e}", manifest.display())))?;
    let mut install = Command::new("npm");
    install
        .args(["install", "--no-audit", "--no-fund", "--no-update-notifier", "--omit=dev"])
        .env("npm_config_update_notifier", "false")
        .current_dir(&ctx.dir);
    run_logged(&mut install, log, "install Node.js 20+ with npm (Debian: apt-get install nodejs npm)")
        .map_err(|e| Error(format!("{e}\n(the npm registry must be reachable)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_pins() {
        assert_eq!(split_pin("azurite@3.35.0"), Some(("azurite", "3.35.0")));
        assert_eq!(split_pin("@scope/x@1.2.3"), Some(("@scope/x", "1.2.3")));
        assert_eq!(split_pin("azurite"), None);
        let json = package_json("azure", &["azurite@3.35.0"]).unwrap();
        assert!(json.contains("\"azurite\": \"3.35.0\""), "{json}");
        assert!(json.contains("\"name\": \"stevedore-emu-azure\""), "{json}");
    }
}

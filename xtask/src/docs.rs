//! `cargo xtask docs`: regenerate what the docs derive from the code. Today the key tables of
//! `docs/config.md` (between `<!-- keys: PATH -->` markers), rendered from the config sections
//! the core and the built-in destinations declare, by the `config_docs` test with
//! `STEVEDORE_UPDATE_DOCS=1` (the same test fails in `cargo xtask test` when they are stale).

use std::process::ExitCode;

use crate::proc::{self, cargo, workspace_root};
use crate::{Result, bail};

pub fn main(args: &[String]) -> Result<ExitCode> {
    if let Some(a) = args.first() {
        if a == "-h" || a == "--help" {
            println!("usage: cargo xtask docs\n\nrewrite the key tables of docs/config.md from the declared config sections");
            return Ok(ExitCode::SUCCESS);
        }
        bail!("cargo xtask docs takes no arguments (got `{a}`)");
    }
    let root = workspace_root()?;
    let mut cmd = cargo();
    // --workspace, as every other build here: features unify the same way, nothing rebuilds
    cmd.args(["test", "--workspace", "--test", "config_docs"]).env("STEVEDORE_UPDATE_DOCS", "1").current_dir(&root);
    let status = proc::run(&mut cmd, "cargo is needed to render the docs")?;
    if !status.success() {
        bail!("rendering docs/config.md failed ({})", proc::describe_status(status));
    }
    println!("docs/config.md: key tables rendered from the declared config sections");
    Ok(ExitCode::SUCCESS)
}

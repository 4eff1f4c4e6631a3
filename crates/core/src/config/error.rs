//! Configuration errors ([`ConfigError`], [`Problem`]).

use super::*;

// ------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------

/// One problem found by [`Config::validate`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Problem {
    /// A key no registered spec knows.
    UnknownKey {
        /// The key as written.
        key: String,
        /// Dotted section it was found in.
        section: String,
        /// Where it was found.
        origin: Source,
        /// Keys (and sub-sections) valid in that section.
        valid: Vec<String>,
        /// Closest valid key.
        suggestion: Option<String>,
    },
    /// A top-level table that is neither a known section nor a pipeline-name prefix.
    UnknownSection {
        /// The table name.
        name: String,
        /// Where it was found.
        origin: Source,
        /// Closest known section.
        suggestion: Option<String>,
    },
    /// A value of the wrong type.
    WrongType {
        /// Dotted key.
        key: String,
        /// Where it was found.
        origin: Source,
        /// Expected kind, e.g. "an integer".
        expected: &'static str,
        /// Found type, e.g. "string".
        found: &'static str,
    },
    /// A secret key in `config.toml`.
    SecretInConfigFile {
        /// Dotted key.
        key: String,
        /// Where it was found.
        origin: Source,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnknownKey { key, section, origin, valid, suggestion } => {
                write!(f, "unknown key `{key}` in [{section}] ({origin})")?;
                if let Some(s) = suggestion {
                    write!(f, "; did you mean `{s}`?")?;
                }
                if valid.is_empty() {
                    write!(f, "; this section takes no keys, remove it")
                } else {
                    write!(f, "; valid keys: {}; fix or remove it", valid.join(", "))
                }
            }
            Problem::UnknownSection { name, origin, suggestion } => {
                write!(f, "unknown section [{name}] ({origin})")?;
                if let Some(s) = suggestion {
                    write!(f, "; did you mean [{s}]?")?;
                }
                write!(
                    f,
                    "; known sections: {}; a pipeline-name table must contain known sections \
                     ([{name}.destination...]); user settings belong under [sources]",
                    KNOWN_SECTIONS.join(", ")
                )
            }
            Problem::WrongType { key, origin, expected, found } => {
                write!(f, "`{key}` ({origin}) must be {expected}, found {found}; fix the value")
            }
            Problem::SecretInConfigFile { key, origin } => write!(
                f,
                "secret `{key}` found in {origin}; config.toml must not hold secrets, move it to \
                 secrets.toml or the environment variable {}",
                env_var_name(&key.split('.').collect::<Vec<_>>())
            ),
        }
    }
}

/// Configuration errors. Messages say what is wrong, where (file:line or variable name) and what
/// to do; they never contain a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read config file {}: {source}; check that it exists and is readable", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `STEVEDORE_CONFIG_DIR` points at a folder that does not exist.
    #[error("config folder {} (from {ENV_CONFIG_DIR}) does not exist; create it or fix the variable", path.display())]
    ConfigDirMissing {
        /// The folder.
        path: PathBuf,
    },
    /// A file is not valid TOML.
    #[error("{}:{line}:{column}: invalid TOML: {message}; fix the syntax there", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Parser message (contains no value).
        message: String,
    },
    /// A value has the wrong type.
    #[error("`{key}` ({origin}) must be {expected}, found {found}; fix the value there")]
    Type {
        /// Dotted key the value was found under.
        key: String,
        /// Where it was found.
        origin: Source,
        /// Expected kind.
        expected: &'static str,
        /// Found type.
        found: &'static str,
    },
    /// A required key was not found anywhere.
    #[error(
        "missing config `{key}` for [{section}]; looked for {} and environment variables {}; \
         set one in config.toml/secrets.toml or the environment",
        tried.join(", "), env_vars.join(", ")
    )]
    Missing {
        /// The key.
        key: String,
        /// Dotted canonical section.
        section: String,
        /// Dotted candidates tried, in order.
        tried: Vec<String>,
        /// Environment variable names tried, in order.
        env_vars: Vec<String>,
    },
    /// A secret was found in `config.toml`.
    #[error(
        "secret `{key}` found in {origin}; config.toml must not hold secrets, move it to \
         secrets.toml or the environment variable {env_var}"
    )]
    SecretInConfigFile {
        /// Dotted key.
        key: String,
        /// Where it was found.
        origin: Source,
        /// The environment variable to use instead.
        env_var: String,
    },
    /// [`Config::validate`] found problems.
    #[error("{}", format_problems(problems))]
    Invalid {
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

pub(super) fn format_problems(problems: &[Problem]) -> String {
    let mut out = format!("{} configuration problem{}:", problems.len(), if problems.len() == 1 { "" } else { "s" });
    for p in problems {
        out.push_str("\n  - ");
        out.push_str(&p.to_string());
    }
    out
}

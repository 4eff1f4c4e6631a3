//! Layered configuration with dlt's section and key names.
//!
//! # Layers
//!
//! Later wins: built-in defaults < `config.toml` < `secrets.toml` < environment < explicit values
//! (code or command-line flags). The two files are read from `<project>/.stevedore/`; when the
//! project has no `.stevedore/` folder but has a `.dlt/` folder, `.dlt/config.toml` and
//! `.dlt/secrets.toml` are read instead, so dlt users can keep their files. `STEVEDORE_CONFIG_DIR`
//! points directly at a folder holding the two files and `STEVEDORE_PROJECT_DIR` overrides the
//! project directory (see [`Config::discover`]).
//!
//! # Lookup
//!
//! A consumer asks for key `k` of a section such as `["destination", "filesystem"]`. Like dlt,
//! the candidates are tried most specific first: `destination.filesystem.k`, `destination.k`,
//! `k`. When a pipeline name is set ([`Config::with_pipeline_name`]) the same candidates prefixed
//! with `<pipeline_name>.` are tried first, over all layers, before the unprefixed ones (this is
//! dlt's order: a pipeline-specific value in `config.toml` beats a generic environment variable).
//! Within one pass, layers are searched from the highest priority down and, within a layer,
//! candidates from the most specific; the first hit wins.
//!
//! A spec may list alternative section paths ([`SectionSpec::alt_paths`]); for several paths the
//! candidates are each path's own pop sequence (without the root) in the given order, then the
//! bare key. For the data writer (`["normalize", "data_writer"]` then `["data_writer"]`) that is
//! `normalize.data_writer.k`, `normalize.k`, `data_writer.k`, `k`.
//!
//! # Environment
//!
//! Environment variables are named like dlt's: path components joined by `__`, upper-cased:
//! `DESTINATION__FILESYSTEM__BUCKET_URL`, `NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION`,
//! `<PIPELINE>__LOAD__WORKERS`. Values are parsed as TOML literals where they parse to a
//! boolean, a number, an array or an inline table; JSON objects and arrays are accepted too;
//! anything else stays a string (see [`parse_env_value`]). String getters always return the
//! variable's text unchanged.
//!
//! # Secrets
//!
//! Keys marked secret in a [`SectionSpec`] resolve to [`Secret`] values whose `Debug` and
//! `Display` print `***`. Like dlt, a secret found in `config.toml` is an error: that file is
//! meant to be committed. Errors never contain values; [`redact`] removes known secret values
//! from any other text.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// Name of stevedore's project configuration folder.
pub const STEVEDORE_DIR: &str = ".stevedore";
/// Name of dlt's project configuration folder, read when [`STEVEDORE_DIR`] is absent.
pub const DLT_DIR: &str = ".dlt";
/// File holding non-secret configuration.
pub const CONFIG_FILE: &str = "config.toml";
/// File holding secrets (never commit it).
pub const SECRETS_FILE: &str = "secrets.toml";
/// Environment variable overriding the project directory.
pub const ENV_PROJECT_DIR: &str = "STEVEDORE_PROJECT_DIR";
/// Environment variable pointing directly at a folder holding `config.toml` / `secrets.toml`.
pub const ENV_CONFIG_DIR: &str = "STEVEDORE_CONFIG_DIR";

/// Top-level sections stevedore knows; their contents are validated against registered specs.
pub const KNOWN_SECTIONS: &[&str] =
    &["destination", "load", "normalize", "extract", "data_writer", "runtime", "pipeline", "pipelines", "schema"];

/// Top-level sections that are user territory (`sources`) or dlt features stevedore does not
/// use; validation skips them so copied dlt files stay valid.
pub const IGNORED_SECTIONS: &[&str] =
    &["sources", "destinations", "datasets", "providers", "dbt_package_runner", "dbt_cloud", "dashboard", "workspace"];

/// Maximum nesting of child specs followed (guards against cyclic statics).
const MAX_SPEC_DEPTH: usize = 16;

// ------------------------------------------------------------------------------------------------
// Specs
// ------------------------------------------------------------------------------------------------

/// The expected type of a configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueKind {
    /// A string (from the environment: the variable's text as is).
    String,
    /// `true` / `false` (strings `"true"` / `"false"` in any case are accepted).
    Bool,
    /// A 64-bit signed integer (numeric strings are accepted).
    Integer,
    /// A floating point number (integers and numeric strings are accepted).
    Float,
    /// A table (TOML table, inline table, or a TOML/JSON object in a string).
    Table,
    /// An array (TOML array or a TOML/JSON array in a string).
    Array,
    /// Any value, checked by the consumer.
    Any,
}

impl ValueKind {
    /// Human wording used in error messages, e.g. "an integer".
    pub fn describe(self) -> &'static str {
        match self {
            ValueKind::String => "a string",
            ValueKind::Bool => "a boolean (true or false)",
            ValueKind::Integer => "an integer",
            ValueKind::Float => "a number",
            ValueKind::Table => "a table",
            ValueKind::Array => "an array",
            ValueKind::Any => "any value",
        }
    }
}

/// One known key of a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Key name as written in TOML (`bucket_url`).
    pub name: &'static str,
    /// Expected type.
    pub kind: ValueKind,
    /// Whether the value is a secret: wrapped in [`Secret`], refused from `config.toml`.
    pub secret: bool,
    /// One-line description for docs and `config` listings.
    pub doc: &'static str,
}

impl KeySpec {
    /// A non-secret key.
    pub const fn new(name: &'static str, kind: ValueKind, doc: &'static str) -> Self {
        KeySpec { name, kind, secret: false, doc }
    }

    /// A secret key.
    pub const fn secret(name: &'static str, kind: ValueKind, doc: &'static str) -> Self {
        KeySpec { name, kind, secret: true, doc }
    }
}

/// The keys a consumer reads from one section, registered for lookup and validation.
///
/// `children` are nested sub-sections (e.g. `credentials`) whose `path` is *relative* to the
/// parent (usually one segment), so one credentials spec can serve several destinations. A child
/// may also be given as one native string value (`credentials = "postgresql://..."`).
#[derive(Debug, Clone, Copy)]
pub struct SectionSpec {
    /// Canonical section path, e.g. `&["destination", "filesystem"]`; relative for children.
    pub path: &'static [&'static str],
    /// Further section paths tried after `path`, e.g. `&[&["data_writer"]]`.
    pub alt_paths: &'static [&'static [&'static str]],
    /// Known keys.
    pub keys: &'static [KeySpec],
    /// Nested sub-sections.
    pub children: &'static [&'static SectionSpec],
}

impl SectionSpec {
    /// The key spec named `name`.
    pub fn key(&self, name: &str) -> Option<&KeySpec> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// `path` followed by `alt_paths`.
    pub fn lookup_paths(&self) -> Vec<&'static [&'static str]> {
        let mut out = vec![self.path];
        out.extend(self.alt_paths.iter().copied());
        out
    }

    /// Whether this section or any child holds a secret key.
    pub fn has_secrets(&self) -> bool {
        fn inner(spec: &SectionSpec, depth: usize) -> bool {
            depth < MAX_SPEC_DEPTH && (spec.keys.iter().any(|k| k.secret) || spec.children.iter().any(|c| inner(c, depth + 1)))
        }
        inner(self, 0)
    }
}

// ------------------------------------------------------------------------------------------------
// Values and sources
// ------------------------------------------------------------------------------------------------

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A built-in default set with [`Config::set_default`].
    Default,
    /// A TOML file, with the 1-based line of the key when known.
    File {
        /// Path of the file.
        path: PathBuf,
        /// 1-based line of the key.
        line: Option<usize>,
    },
    /// An environment variable.
    Env {
        /// Variable name, e.g. `DESTINATION__FILESYSTEM__BUCKET_URL`.
        var: String,
    },
    /// A value set in code or from a command-line flag.
    Explicit,
}

impl Source {
    fn is_config_file(&self) -> bool {
        matches!(self, Source::File { path, .. } if path.file_name().is_some_and(|n| n == CONFIG_FILE))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("built-in default"),
            Source::File { path, line: Some(line) } => write!(f, "{}:{line}", path.display()),
            Source::File { path, line: None } => write!(f, "{}", path.display()),
            Source::Env { var } => write!(f, "environment variable {var}"),
            Source::Explicit => f.write_str("explicit value (code or command line)"),
        }
    }
}

/// A value found by [`Config::get`] with its origin.
///
/// `Debug` shows the value: use [`Config::resolve`] (which wraps secret keys in [`Secret`]) or
/// [`Config::get_secret_str`] for secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigValue {
    /// The value; environment values are already parsed by [`parse_env_value`].
    pub value: toml::Value,
    /// Where it came from.
    pub source: Source,
    /// Dotted key path it was found under, e.g. `destination.bucket_url`.
    pub key: String,
}

/// A value that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub const fn new(value: T) -> Self {
        Secret(value)
    }

    /// Reads the secret value. Do not log it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A resolved key: plain, or a secret whose value is hidden from `Debug`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolvedValue {
    /// A non-secret value.
    Plain(ConfigValue),
    /// A secret value.
    Secret(Secret<ConfigValue>),
}

impl ResolvedValue {
    /// The value and its source (exposes secrets).
    pub fn expose(&self) -> &ConfigValue {
        match self {
            ResolvedValue::Plain(v) => v,
            ResolvedValue::Secret(s) => s.expose(),
        }
    }

    /// Whether the key is secret.
    pub fn is_secret(&self) -> bool {
        matches!(self, ResolvedValue::Secret(_))
    }

    /// Where the value came from (safe to print).
    pub fn source(&self) -> &Source {
        &self.expose().source
    }

    /// The value as a string slice, when it is a string (exposes secrets).
    pub fn as_str(&self) -> Option<&str> {
        self.expose().value.as_str()
    }
}

/// All keys of one [`SectionSpec`] resolved over the layers. `Debug` never shows secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedSection {
    /// Canonical section path.
    pub path: Vec<String>,
    /// The section given as one native string value (e.g. a connection string), to be parsed
    /// by the consumer. Secret when the spec holds any secret key.
    pub native: Option<ResolvedValue>,
    /// Resolved keys (missing keys are absent); values are coerced to the key's kind.
    pub values: BTreeMap<String, ResolvedValue>,
    /// Resolved child sections, by their relative path joined with `.`.
    pub children: BTreeMap<String, ResolvedSection>,
}

impl ResolvedSection {
    /// A resolved key.
    pub fn get(&self, key: &str) -> Option<&ResolvedValue> {
        self.values.get(key)
    }

    /// A resolved child section.
    pub fn child(&self, name: &str) -> Option<&ResolvedSection> {
        self.children.get(name)
    }

    /// The textual form of every secret value in this section and its children, for [`redact`].
    pub fn secret_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        let secrets = self.native.iter().chain(self.values.values());
        for v in secrets.filter(|v| v.is_secret()) {
            collect_leaf_strings(&v.expose().value, &mut out);
        }
        for c in self.children.values() {
            out.extend(c.secret_values());
        }
        out
    }
}

fn collect_leaf_strings(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Array(a) => a.iter().for_each(|v| collect_leaf_strings(v, out)),
        toml::Value::Table(t) => t.values().for_each(|v| collect_leaf_strings(v, out)),
        other => out.push(other.to_string()),
    }
}

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

fn format_problems(problems: &[Problem]) -> String {
    let mut out = format!("{} configuration problem{}:", problems.len(), if problems.len() == 1 { "" } else { "s" });
    for p in problems {
        out.push_str("\n  - ");
        out.push_str(&p.to_string());
    }
    out
}

// ------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------

/// dlt's environment variable name for a key path: `["destination","filesystem","bucket_url"]`
/// gives `DESTINATION__FILESYSTEM__BUCKET_URL`.
pub fn env_var_name<S: AsRef<str>>(path: &[S]) -> String {
    path.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join("__").to_uppercase()
}

/// Parses an environment variable's text: a TOML literal when it is a boolean, an integer, a
/// finite float, an array or an inline table; else a JSON object or array; else the text as a
/// string (quotes are kept, `nan`, dates and anything else stay strings).
pub fn parse_env_value(raw: &str) -> toml::Value {
    if let Ok(v) = raw.parse::<toml::Value>() {
        match &v {
            toml::Value::Boolean(_) | toml::Value::Integer(_) | toml::Value::Array(_) | toml::Value::Table(_) => return v,
            toml::Value::Float(f) if f.is_finite() => return v,
            _ => {}
        }
    }
    let trimmed = raw.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(raw)
        && let Some(v) = json_to_toml(json)
    {
        return v;
    }
    toml::Value::String(raw.to_string())
}

fn json_to_toml(json: serde_json::Value) -> Option<toml::Value> {
    Some(match json {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(b) => toml::Value::Boolean(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        serde_json::Value::String(s) => toml::Value::String(s),
        serde_json::Value::Array(a) => toml::Value::Array(a.into_iter().filter_map(json_to_toml).collect()),
        serde_json::Value::Object(o) => toml::Value::Table(o.into_iter().filter_map(|(k, v)| Some((k, json_to_toml(v)?))).collect()),
    })
}

/// Replaces every occurrence of each non-empty secret (and its percent-encoded form, as it
/// appears in URLs such as `s3://key:secret@host`) in `text` with `***`.
pub fn redact<S: AsRef<str>>(text: &str, secrets: &[S]) -> String {
    let mut needles: Vec<String> = Vec::new();
    for s in secrets {
        let s = s.as_ref();
        if s.is_empty() {
            continue;
        }
        needles.push(s.to_string());
        let encoded = percent_encode(s);
        if encoded != s {
            needles.push(encoded);
        }
    }
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    needles.dedup();
    let mut out = text.to_string();
    for n in &needles {
        if out.contains(n.as_str()) {
            out = out.replace(n.as_str(), "***");
        }
    }
    out
}

/// Replaces the password of a URL's user info (`scheme://user:password@host/...`) with `***`.
pub fn redact_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let auth_start = scheme_end + 3;
    let rest = &url[auth_start..];
    let auth_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_len];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_string();
    };
    format!("{}{}***{}", &url[..auth_start], &authority[..=colon], &url[auth_start + at..])
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Optimal-string-alignment edit distance (a transposition counts as one edit).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate closest to `word`, if close enough to be a likely typo.
pub fn suggest<'a, I: IntoIterator<Item = &'a str>>(word: &str, candidates: I) -> Option<String> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= limit && *d < word.chars().count().max(c.chars().count()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a datetime",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// Coerces `value` to `kind`; `raw_env` is the environment variable's text when the value is a
/// whole environment variable.
fn coerce_value(value: &toml::Value, raw_env: Option<&str>, kind: ValueKind) -> Option<toml::Value> {
    use toml::Value as V;
    match (kind, value) {
        (ValueKind::Any, v) => Some(v.clone()),
        (ValueKind::String, V::String(_)) => Some(value.clone()),
        (ValueKind::String, _) if raw_env.is_some() => raw_env.map(|r| V::String(r.to_string())),
        (ValueKind::String, V::Datetime(d)) => Some(V::String(d.to_string())),
        (ValueKind::Bool, V::Boolean(_)) => Some(value.clone()),
        (ValueKind::Bool, V::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(V::Boolean(true)),
            "false" => Some(V::Boolean(false)),
            _ => None,
        },
        (ValueKind::Integer, V::Integer(_)) => Some(value.clone()),
        (ValueKind::Integer, V::String(s)) => s.trim().parse::<i64>().ok().map(V::Integer),
        (ValueKind::Float, V::Float(_)) => Some(value.clone()),
        (ValueKind::Float, V::Integer(i)) => Some(V::Float(*i as f64)),
        (ValueKind::Float, V::String(s)) => s.trim().parse::<f64>().ok().map(V::Float),
        (ValueKind::Table, V::Table(_)) | (ValueKind::Array, V::Array(_)) => Some(value.clone()),
        (ValueKind::Table, V::String(s)) => Some(parse_env_value(s)).filter(|v| v.is_table()),
        (ValueKind::Array, V::String(s)) => Some(parse_env_value(s)).filter(|v| v.is_array()),
        _ => None,
    }
}

fn insert_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut t = table;
    for seg in init {
        let entry = t.entry(seg.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        t = match entry {
            toml::Value::Table(inner) => inner,
            _ => unreachable!("entry was just made a table"),
        };
    }
    t.insert(last.clone(), value);
}

fn deep_merge(dst: &mut toml::Table, src: toml::Table) {
    for (k, v) in src {
        match (dst.get_mut(&k), v) {
            (Some(toml::Value::Table(d)), toml::Value::Table(s)) => deep_merge(d, s),
            (_, v) => {
                dst.insert(k, v);
            }
        }
    }
}

fn split_dotted(dotted: &str) -> Vec<String> {
    dotted.split('.').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn owned_paths(section_paths: &[&[&str]]) -> Vec<Vec<String>> {
    section_paths.iter().map(|p| p.iter().map(|s| s.to_string()).collect()).collect()
}

/// dlt's candidate key paths, most specific first (see the module docs).
fn candidates(section_paths: &[Vec<String>], key: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for p in section_paths {
        for n in (1..=p.len()).rev() {
            let mut c = p[..n].to_vec();
            c.push(key.to_string());
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out.push(vec![key.to_string()]);
    out
}

fn line_of(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

// ------------------------------------------------------------------------------------------------
// Layers
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Explicit,
    Env,
    Secrets,
    ConfigFile,
    Default,
}

/// Highest priority first.
const LAYERS: [Layer; 5] = [Layer::Explicit, Layer::Env, Layer::Secrets, Layer::ConfigFile, Layer::Default];

#[derive(Clone, Default)]
struct TreeLayer {
    table: toml::Table,
    file: Option<PathBuf>,
    lines: HashMap<Vec<String>, usize>,
}

impl TreeLayer {
    fn section(&self, path: &[String]) -> Option<&toml::Table> {
        let mut t = &self.table;
        for seg in path {
            t = t.get(seg)?.as_table()?;
        }
        Some(t)
    }

    fn lookup(&self, path: &[String]) -> Option<&toml::Value> {
        let (last, init) = path.split_last()?;
        self.section(init)?.get(last)
    }

    fn load(path: &Path) -> Result<Option<TreeLayer>, ConfigError> {
        if !path.is_file() {
            return Ok(None);
        }
        let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        let table = src.parse::<toml::Table>().map_err(|e| {
            let (line, column) = line_of(&src, e.span().map_or(0, |s| s.start));
            ConfigError::Parse { path: path.to_path_buf(), line, column, message: e.message().trim().replace('\n', "; ") }
        })?;
        let mut lines = HashMap::new();
        if let Ok(doc) = toml::de::DeTable::parse(&src) {
            collect_lines(doc.get_ref(), &src, &mut Vec::new(), &mut lines);
        }
        Ok(Some(TreeLayer { table, file: Some(path.to_path_buf()), lines }))
    }
}

fn collect_lines(table: &toml::de::DeTable<'_>, src: &str, prefix: &mut Vec<String>, out: &mut HashMap<Vec<String>, usize>) {
    for (k, v) in table.iter() {
        prefix.push(k.get_ref().to_string());
        out.entry(prefix.clone()).or_insert_with(|| line_of(src, k.span().start).0);
        if let Some(t) = v.get_ref().as_table() {
            collect_lines(t, src, prefix, out);
        }
        prefix.pop();
    }
}

fn leaf_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => leaf_keys(t, &key, out),
            _ => out.push(key),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Config
// ------------------------------------------------------------------------------------------------

/// The layered configuration provider. `Debug` lists keys and files, never values.
#[derive(Clone, Default)]
pub struct Config {
    defaults: TreeLayer,
    config_file: TreeLayer,
    secrets_file: TreeLayer,
    explicit: TreeLayer,
    env: BTreeMap<String, String>,
    pipeline_name: Option<String>,
    config_dir: Option<PathBuf>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = |t: &TreeLayer| {
            let mut out = Vec::new();
            leaf_keys(&t.table, "", &mut out);
            out
        };
        let env_vars: Vec<&String> = self.env.keys().filter(|k| k.contains("__")).collect();
        f.debug_struct("Config")
            .field("pipeline_name", &self.pipeline_name)
            .field("config_dir", &self.config_dir)
            .field("files", &self.files())
            .field("default_keys", &keys(&self.defaults))
            .field("config_file_keys", &keys(&self.config_file))
            .field("secrets_file_keys", &keys(&self.secrets_file))
            .field("env_vars", &env_vars)
            .field("explicit_keys", &keys(&self.explicit))
            .finish()
    }
}

impl Config {
    /// A configuration with no files, no environment and no values.
    pub fn empty() -> Config {
        Config::default()
    }

    /// Loads the files of `project_dir` (`.stevedore/`, else `.dlt/`, or the folder named by
    /// `STEVEDORE_CONFIG_DIR` in `env`, relative to `project_dir` unless absolute) and takes
    /// `env` as the environment layer. Missing files are fine; a missing `STEVEDORE_CONFIG_DIR`
    /// folder, unreadable or malformed files are errors.
    pub fn load(project_dir: &Path, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let dir = if let Some(dir) = env.get(ENV_CONFIG_DIR).filter(|d| !d.is_empty()) {
            let dir = project_dir.join(dir);
            if !dir.is_dir() {
                return Err(ConfigError::ConfigDirMissing { path: dir });
            }
            Some(dir)
        } else {
            [STEVEDORE_DIR, DLT_DIR].iter().map(|d| project_dir.join(d)).find(|d| d.is_dir())
        };
        let mut cfg = Config { env: env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), ..Config::default() };
        if let Some(dir) = &dir {
            if let Some(layer) = TreeLayer::load(&dir.join(CONFIG_FILE))? {
                cfg.config_file = layer;
            }
            if let Some(layer) = TreeLayer::load(&dir.join(SECRETS_FILE))? {
                cfg.secrets_file = layer;
            }
        }
        cfg.config_dir = dir;
        Ok(cfg)
    }

    /// Like [`Config::load`], with the project directory taken from `STEVEDORE_PROJECT_DIR` in
    /// `env` when set (relative to `default_dir` unless absolute), else `default_dir`.
    pub fn discover(default_dir: &Path, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let project = match env.get(ENV_PROJECT_DIR).filter(|d| !d.is_empty()) {
            Some(dir) => default_dir.join(dir),
            None => default_dir.to_path_buf(),
        };
        Config::load(&project, env)
    }

    /// [`Config::discover`] from the current directory and the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        let cwd = std::env::current_dir().map_err(|source| ConfigError::Io { path: PathBuf::from("."), source })?;
        let env: HashMap<String, String> =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        Config::discover(&cwd, &env)
    }

    /// Sets the pipeline name: `<name>.`-prefixed keys are tried first.
    pub fn with_pipeline_name(mut self, name: &str) -> Config {
        self.pipeline_name = Some(name.to_string()).filter(|n| !n.is_empty());
        self
    }

    /// The pipeline name, if set.
    pub fn pipeline_name(&self) -> Option<&str> {
        self.pipeline_name.as_deref()
    }

    /// The folder the files were looked for in, if any.
    pub fn config_dir(&self) -> Option<&Path> {
        self.config_dir.as_deref()
    }

    /// The files that were read (config.toml, then secrets.toml).
    pub fn files(&self) -> Vec<PathBuf> {
        [&self.config_file, &self.secrets_file].iter().filter_map(|l| l.file.clone()).collect()
    }

    /// Sets an explicit value (code or CLI flag), the highest layer, under a dotted path such as
    /// `destination.filesystem.bucket_url`.
    pub fn set_explicit(&mut self, dotted_path: &str, value: toml::Value) {
        insert_path(&mut self.explicit.table, &split_dotted(dotted_path), value);
    }

    /// Sets a built-in default, the lowest layer, under a dotted path.
    pub fn set_default(&mut self, dotted_path: &str, value: toml::Value) {
        insert_path(&mut self.defaults.table, &split_dotted(dotted_path), value);
    }

    fn tree(&self, layer: Layer) -> &TreeLayer {
        match layer {
            Layer::Explicit => &self.explicit,
            Layer::Secrets => &self.secrets_file,
            Layer::ConfigFile => &self.config_file,
            Layer::Default | Layer::Env => &self.defaults,
        }
    }

    fn lookup_in(&self, layer: Layer, path: &[String]) -> Option<ConfigValue> {
        let key = path.join(".");
        if layer == Layer::Env {
            let var = env_var_name(path);
            let raw = self.env.get(&var)?;
            return Some(ConfigValue { value: parse_env_value(raw), source: Source::Env { var }, key });
        }
        let tree = self.tree(layer);
        let value = tree.lookup(path)?.clone();
        let source = match layer {
            Layer::Default => Source::Default,
            Layer::Explicit => Source::Explicit,
            _ => Source::File { path: tree.file.clone().unwrap_or_default(), line: tree.lines.get(path).copied() },
        };
        Some(ConfigValue { value, source, key })
    }

    /// Candidate full key paths in lookup order (pipeline-prefixed first).
    fn full_candidates(&self, section_paths: &[Vec<String>], key: &str) -> Vec<Vec<String>> {
        let cands = candidates(section_paths, key);
        let mut out = Vec::new();
        if let Some(p) = &self.pipeline_name {
            for c in &cands {
                let mut full = vec![p.clone()];
                full.extend(c.iter().cloned());
                out.push(full);
            }
        }
        out.extend(cands);
        out
    }

    fn get_owned(&self, section_paths: &[Vec<String>], key: &str) -> Option<ConfigValue> {
        let cands = candidates(section_paths, key);
        if let Some(p) = &self.pipeline_name {
            let prefixed: Vec<Vec<String>> = cands.iter().map(|c| std::iter::once(p.clone()).chain(c.iter().cloned()).collect()).collect();
            for layer in LAYERS {
                for c in &prefixed {
                    if let Some(v) = self.lookup_in(layer, c) {
                        return Some(v);
                    }
                }
            }
        }
        for layer in LAYERS {
            for c in &cands {
                if let Some(v) = self.lookup_in(layer, c) {
                    return Some(v);
                }
            }
        }
        None
    }

    /// Looks `key` up under `section_paths` (the spec's path, then alternatives) with dlt's
    /// fallback rules; see the module docs.
    pub fn get(&self, section_paths: &[&[&str]], key: &str) -> Option<ConfigValue> {
        self.get_owned(&owned_paths(section_paths), key)
    }

    /// Like [`Config::get`], but a missing key is an error listing every key and environment
    /// variable tried.
    pub fn require(&self, section_paths: &[&[&str]], key: &str) -> Result<ConfigValue, ConfigError> {
        let paths = owned_paths(section_paths);
        self.get_owned(&paths, key).ok_or_else(|| {
            let tried = self.full_candidates(&paths, key);
            ConfigError::Missing {
                key: key.to_string(),
                section: paths.first().map(|p| p.join(".")).unwrap_or_default(),
                tried: tried.iter().map(|c| c.join(".")).collect(),
                env_vars: tried.iter().map(|c| env_var_name(c)).collect(),
            }
        })
    }

    fn raw_env(&self, source: &Source) -> Option<&str> {
        match source {
            Source::Env { var } => self.env.get(var).map(String::as_str),
            _ => None,
        }
    }

    fn coerce(&self, cv: &ConfigValue, kind: ValueKind) -> Result<toml::Value, ConfigError> {
        coerce_value(&cv.value, self.raw_env(&cv.source), kind).ok_or_else(|| ConfigError::Type {
            key: cv.key.clone(),
            origin: cv.source.clone(),
            expected: kind.describe(),
            found: type_name(&cv.value),
        })
    }

    fn get_kind(&self, section_paths: &[&[&str]], key: &str, kind: ValueKind) -> Result<Option<(toml::Value, ConfigValue)>, ConfigError> {
        match self.get(section_paths, key) {
            None => Ok(None),
            Some(cv) => Ok(Some((self.coerce(&cv, kind)?, cv))),
        }
    }

    /// A string value (environment variables: their text unchanged).
    pub fn get_str(&self, section_paths: &[&[&str]], key: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.get_kind(section_paths, key, ValueKind::String)?.and_then(|(v, _)| match v {
            toml::Value::String(s) => Some(s),
            _ => None,
        }))
    }

    /// A secret string; like dlt, refused when it comes from `config.toml`.
    pub fn get_secret_str(&self, section_paths: &[&[&str]], key: &str) -> Result<Option<Secret<String>>, ConfigError> {
        match self.get_kind(section_paths, key, ValueKind::String)? {
            None => Ok(None),
            Some((_, cv)) if cv.source.is_config_file() => Err(secret_in_config(&cv)),
            Some((v, _)) => Ok(v.as_str().map(|s| Secret::new(s.to_string()))),
        }
    }

    /// A boolean value.
    pub fn get_bool(&self, section_paths: &[&[&str]], key: &str) -> Result<Option<bool>, ConfigError> {
        Ok(self.get_kind(section_paths, key, ValueKind::Bool)?.and_then(|(v, _)| v.as_bool()))
    }

    /// A signed integer value.
    pub fn get_i64(&self, section_paths: &[&[&str]], key: &str) -> Result<Option<i64>, ConfigError> {
        Ok(self.get_kind(section_paths, key, ValueKind::Integer)?.and_then(|(v, _)| v.as_integer()))
    }

    /// A non-negative integer value.
    pub fn get_u64(&self, section_paths: &[&[&str]], key: &str) -> Result<Option<u64>, ConfigError> {
        match self.get_kind(section_paths, key, ValueKind::Integer)? {
            None => Ok(None),
            Some((v, cv)) => match v.as_integer().and_then(|i| u64::try_from(i).ok()) {
                Some(u) => Ok(Some(u)),
                None => Err(ConfigError::Type {
                    key: cv.key,
                    origin: cv.source,
                    expected: "a non-negative integer",
                    found: "a negative integer",
                }),
            },
        }
    }

    /// A floating point value (integers accepted).
    pub fn get_f64(&self, section_paths: &[&[&str]], key: &str) -> Result<Option<f64>, ConfigError> {
        Ok(self.get_kind(section_paths, key, ValueKind::Float)?.and_then(|(v, _)| v.as_float()))
    }

    /// A table value (from one layer; see [`Config::section_table`] for a merged view).
    pub fn get_table(&self, section_paths: &[&[&str]], key: &str) -> Result<Option<toml::Table>, ConfigError> {
        Ok(self.get_kind(section_paths, key, ValueKind::Table)?.and_then(|(v, _)| match v {
            toml::Value::Table(t) => Some(t),
            _ => None,
        }))
    }

    /// The merged view of the section at exactly `path` over all layers (lowest first, later
    /// wins, tables merged deeply; pipeline-prefixed sections on top). Environment variables
    /// `PATH__SUB__KEY` contribute `sub.key`. No fallback to parent sections.
    pub fn section_table(&self, path: &[&str]) -> toml::Table {
        let base: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        let mut fulls = vec![base.clone()];
        if let Some(p) = &self.pipeline_name {
            fulls.push(std::iter::once(p.clone()).chain(base.iter().cloned()).collect());
        }
        let mut out = toml::Table::new();
        for full in &fulls {
            for layer in LAYERS.iter().rev() {
                self.merge_layer_section(*layer, full, &mut out);
            }
        }
        out
    }

    fn merge_layer_section(&self, layer: Layer, full: &[String], out: &mut toml::Table) {
        if layer != Layer::Env {
            if let Some(t) = self.tree(layer).section(full) {
                deep_merge(out, t.clone());
            }
            return;
        }
        if full.is_empty() {
            return;
        }
        let name = env_var_name(full);
        if let Some(raw) = self.env.get(&name)
            && let toml::Value::Table(t) = parse_env_value(raw)
        {
            deep_merge(out, t);
        }
        let prefix = format!("{name}__");
        for (var, raw) in &self.env {
            if let Some(rest) = var.strip_prefix(&prefix) {
                let segs: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
                if segs.iter().any(String::is_empty) {
                    continue;
                }
                match parse_env_value(raw) {
                    toml::Value::Table(t) => {
                        let mut sub = toml::Table::new();
                        insert_path(&mut sub, &segs, toml::Value::Table(t));
                        deep_merge(out, sub);
                    }
                    v => insert_path(out, &segs, v),
                }
            }
        }
    }

    /// Resolves every key of `spec` (and its children) over the layers, coercing values to their
    /// kind and wrapping secret keys in [`Secret`]. Missing keys are left out. Errors on a type
    /// mismatch or a secret found in `config.toml`.
    pub fn resolve(&self, spec: &SectionSpec) -> Result<ResolvedSection, ConfigError> {
        let paths: Vec<Vec<String>> = spec.lookup_paths().iter().map(|p| p.iter().map(|s| s.to_string()).collect()).collect();
        self.resolve_at(spec, paths, 0)
    }

    fn resolve_at(&self, spec: &SectionSpec, paths: Vec<Vec<String>>, depth: usize) -> Result<ResolvedSection, ConfigError> {
        let mut section = ResolvedSection {
            path: paths.first().cloned().unwrap_or_default(),
            native: None,
            values: BTreeMap::new(),
            children: BTreeMap::new(),
        };
        for ks in spec.keys {
            if let Some(mut cv) = self.get_owned(&paths, ks.name) {
                cv.value = self.coerce(&cv, ks.kind)?;
                let rv = if ks.secret {
                    if cv.source.is_config_file() {
                        return Err(secret_in_config(&cv));
                    }
                    ResolvedValue::Secret(Secret::new(cv))
                } else {
                    ResolvedValue::Plain(cv)
                };
                section.values.insert(ks.name.to_string(), rv);
            }
        }
        if depth >= MAX_SPEC_DEPTH {
            return Ok(section);
        }
        for child in spec.children {
            let child_paths: Vec<Vec<String>> =
                paths.iter().map(|p| p.iter().cloned().chain(child.path.iter().map(|s| s.to_string())).collect()).collect();
            let mut resolved = self.resolve_at(child, child_paths, depth + 1)?;
            if let [name] = child.path
                && let Some(cv) = self.get_owned(&paths, name)
                && !cv.value.is_table()
            {
                let mut cv = cv;
                cv.value = coerce_value(&cv.value, self.raw_env(&cv.source), ValueKind::String).ok_or_else(|| ConfigError::Type {
                    key: cv.key.clone(),
                    origin: cv.source.clone(),
                    expected: "a table or a string (native value)",
                    found: type_name(&cv.value),
                })?;
                resolved.native = Some(if child.has_secrets() {
                    if cv.source.is_config_file() {
                        return Err(secret_in_config(&cv));
                    }
                    ResolvedValue::Secret(Secret::new(cv))
                } else {
                    ResolvedValue::Plain(cv)
                });
            }
            section.children.insert(child.path.join("."), resolved);
        }
        Ok(section)
    }

    /// Checks every key found in the files, and in environment variables whose first segment is
    /// a known top-level section, against `specs`. Keys under sections no spec is registered for
    /// are not checked; `sources` and other dlt-only sections are skipped; an unknown top-level
    /// table is accepted as a pipeline-name prefix when it contains known sections. Reports all
    /// problems at once.
    pub fn validate(&self, specs: &[&SectionSpec]) -> Result<(), ConfigError> {
        let mut root = Node::default();
        for spec in specs {
            for p in spec.lookup_paths() {
                let path: Vec<String> = p.iter().map(|s| s.to_string()).collect();
                root.insert(&path, spec, 0);
            }
        }
        let mut problems = Vec::new();
        let mut v = Validator { root: &root, problems: &mut problems };
        for layer in [&self.config_file, &self.secrets_file] {
            let Some(file) = &layer.file else { continue };
            let origin = Origin::File { layer, is_config: file.file_name().is_some_and(|n| n == CONFIG_FILE) };
            v.walk_root(&layer.table, &mut Vec::new(), &origin, true);
        }
        for (var, raw) in &self.env {
            let segs: Vec<String> = var.split("__").map(str::to_lowercase).collect();
            if segs.len() < 2 || segs.iter().any(String::is_empty) {
                continue;
            }
            let top_known = |s: &str| KNOWN_SECTIONS.contains(&s) || root.children.contains_key(s);
            let relevant = top_known(&segs[0])
                || (self.pipeline_name.as_deref().is_some_and(|p| p.to_lowercase() == segs[0]) && segs.len() >= 3 && top_known(&segs[1]));
            if !relevant {
                continue;
            }
            let mut table = toml::Table::new();
            insert_path(&mut table, &segs, parse_env_value(raw));
            let origin = Origin::Env { var, raw, path: segs };
            v.walk_root(&table, &mut Vec::new(), &origin, true);
        }
        if problems.is_empty() { Ok(()) } else { Err(ConfigError::Invalid { problems }) }
    }
}

fn secret_in_config(cv: &ConfigValue) -> ConfigError {
    ConfigError::SecretInConfigFile {
        key: cv.key.clone(),
        origin: cv.source.clone(),
        env_var: env_var_name(&cv.key.split('.').collect::<Vec<_>>()),
    }
}

// ------------------------------------------------------------------------------------------------
// Validation
// ------------------------------------------------------------------------------------------------

#[derive(Default)]
struct Node<'a> {
    specs: Vec<&'a SectionSpec>,
    children: BTreeMap<String, Node<'a>>,
}

impl<'a> Node<'a> {
    fn insert(&mut self, path: &[String], spec: &'a SectionSpec, depth: usize) {
        let mut node = &mut *self;
        for seg in path {
            node = node.children.entry(seg.clone()).or_default();
        }
        node.specs.push(spec);
        if depth < MAX_SPEC_DEPTH {
            for child in spec.children {
                let mut cp = path.to_vec();
                cp.extend(child.path.iter().map(|s| s.to_string()));
                self.insert(&cp, child, depth + 1);
            }
        }
    }

    fn is_spec(&self) -> bool {
        !self.specs.is_empty()
    }

    fn own_key(&self, name: &str) -> Option<&'a KeySpec> {
        self.specs.iter().find_map(|s| s.key(name))
    }

    /// Keys valid here: own keys and, through dlt's fallback, keys of every descendant spec.
    fn any_key(&self, name: &str) -> Option<&'a KeySpec> {
        self.own_key(name).or_else(|| self.children.values().find_map(|c| c.any_key(name)))
    }

    fn all_key_names(&self, out: &mut BTreeSet<&'a str>) {
        for s in &self.specs {
            out.extend(s.keys.iter().map(|k| k.name));
        }
        for c in self.children.values() {
            c.all_key_names(out);
        }
    }

    /// Own keys then sub-section names, for messages.
    fn valid_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.specs {
            for k in s.keys {
                if !out.iter().any(|o| o == k.name) {
                    out.push(k.name.to_string());
                }
            }
        }
        out.extend(self.children.keys().cloned());
        out
    }
}

enum Origin<'a> {
    File { layer: &'a TreeLayer, is_config: bool },
    Env { var: &'a str, raw: &'a str, path: Vec<String> },
}

impl Origin<'_> {
    fn source(&self, path: &[String]) -> Source {
        match self {
            Origin::File { layer, .. } => {
                Source::File { path: layer.file.clone().unwrap_or_default(), line: layer.lines.get(path).copied() }
            }
            Origin::Env { var, .. } => Source::Env { var: var.to_string() },
        }
    }

    fn raw_for(&self, path: &[String]) -> Option<&str> {
        match self {
            Origin::Env { raw, path: p, .. } if p.as_slice() == path => Some(raw),
            _ => None,
        }
    }

    fn is_config_file(&self) -> bool {
        matches!(self, Origin::File { is_config: true, .. })
    }
}

struct Validator<'n, 'a> {
    root: &'n Node<'a>,
    problems: &'n mut Vec<Problem>,
}

impl Validator<'_, '_> {
    fn walk_root(&mut self, table: &toml::Table, path: &mut Vec<String>, origin: &Origin<'_>, allow_pipeline: bool) {
        let root = self.root;
        for (k, v) in table {
            path.push(k.clone());
            let known = KNOWN_SECTIONS.contains(&k.as_str());
            if IGNORED_SECTIONS.contains(&k.as_str()) {
                // user territory or dlt-only
            } else if let Some(node) = root.children.get(k) {
                match v {
                    toml::Value::Table(t) => self.walk(node, t, path, origin),
                    other => self.problems.push(Problem::WrongType {
                        key: path.join("."),
                        origin: origin.source(path),
                        expected: "a table (section)",
                        found: type_name(other),
                    }),
                }
            } else if known {
                // known section without a registered spec: nothing to check against
            } else if let toml::Value::Table(t) = v {
                let is_top = |s: &str| KNOWN_SECTIONS.contains(&s) || IGNORED_SECTIONS.contains(&s) || root.children.contains_key(s);
                if allow_pipeline && t.iter().any(|(kk, vv)| vv.is_table() && is_top(kk)) {
                    self.walk_root(t, path, origin, false);
                } else {
                    let names = KNOWN_SECTIONS.iter().copied().chain(root.children.keys().map(String::as_str));
                    self.problems.push(Problem::UnknownSection {
                        name: path.join("."),
                        origin: origin.source(path),
                        suggestion: suggest(k, names),
                    });
                }
            }
            // root-level scalars are user territory (dlt's bare-key fallback)
            path.pop();
        }
    }

    fn check_kind(&mut self, ks: &KeySpec, v: &toml::Value, path: &[String], origin: &Origin<'_>) {
        if coerce_value(v, origin.raw_for(path), ks.kind).is_none() {
            self.problems.push(Problem::WrongType {
                key: path.join("."),
                origin: origin.source(path),
                expected: ks.kind.describe(),
                found: type_name(v),
            });
        }
        if ks.secret && origin.is_config_file() {
            self.problems.push(Problem::SecretInConfigFile { key: path.join("."), origin: origin.source(path) });
        }
    }

    fn walk(&mut self, node: &Node<'_>, table: &toml::Table, path: &mut Vec<String>, origin: &Origin<'_>) {
        for (k, v) in table {
            path.push(k.clone());
            if let Some(child) = node.children.get(k) {
                match v {
                    toml::Value::Table(t) => self.walk(child, t, path, origin),
                    // a native value; from the environment any text is one
                    other if child.is_spec() && (other.is_str() || origin.raw_for(path).is_some()) => {
                        let secret = child.specs.iter().any(|s| s.has_secrets());
                        if secret && origin.is_config_file() {
                            self.problems.push(Problem::SecretInConfigFile { key: path.join("."), origin: origin.source(path) });
                        }
                    }
                    other => self.problems.push(Problem::WrongType {
                        key: path.join("."),
                        origin: origin.source(path),
                        expected: if child.is_spec() { "a table or a string (native value)" } else { "a table" },
                        found: type_name(other),
                    }),
                }
            } else if let Some(ks) = node.any_key(k) {
                self.check_kind(ks, v, path, origin);
            } else {
                let mut names = BTreeSet::new();
                node.all_key_names(&mut names);
                names.extend(node.children.keys().map(String::as_str));
                let suggestion = suggest(k, names.iter().copied());
                // Under a registered section every key must be known. Under a mere prefix (e.g.
                // `[destination]`, shared with destinations not registered here) only likely
                // typos of known keys are reported; unregistered sub-sections are left alone.
                if node.is_spec() || (!v.is_table() && suggestion.is_some()) {
                    let section = path[..path.len() - 1].join(".");
                    self.problems.push(Problem::UnknownKey {
                        key: k.clone(),
                        section,
                        origin: origin.source(path),
                        valid: node.valid_names(),
                        suggestion,
                    });
                }
            }
            path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use tempfile::TempDir;

    static AWS_CREDENTIALS: SectionSpec = SectionSpec {
        path: &["credentials"],
        alt_paths: &[],
        keys: &[
            KeySpec::new("aws_access_key_id", ValueKind::String, "access key id"),
            KeySpec::secret("aws_secret_access_key", ValueKind::String, "secret key"),
            KeySpec::new("endpoint_url", ValueKind::String, "endpoint"),
        ],
        children: &[],
    };
    static FILESYSTEM: SectionSpec = SectionSpec {
        path: &["destination", "filesystem"],
        alt_paths: &[],
        keys: &[
            KeySpec::new("bucket_url", ValueKind::String, "bucket url"),
            KeySpec::new("layout", ValueKind::String, "file layout"),
            KeySpec::new("extra_placeholders", ValueKind::Table, "layout placeholders"),
            KeySpec::new("dataset_name", ValueKind::String, "dataset"),
        ],
        children: &[&AWS_CREDENTIALS],
    };
    static PG_CREDENTIALS: SectionSpec = SectionSpec {
        path: &["credentials"],
        alt_paths: &[],
        keys: &[
            KeySpec::new("database", ValueKind::String, "database"),
            KeySpec::new("username", ValueKind::String, "user"),
            KeySpec::secret("password", ValueKind::String, "password"),
            KeySpec::new("host", ValueKind::String, "host"),
            KeySpec::new("port", ValueKind::Integer, "port"),
        ],
        children: &[],
    };
    static POSTGRES: SectionSpec = SectionSpec {
        path: &["destination", "postgres"],
        alt_paths: &[],
        keys: &[KeySpec::new("dataset_name", ValueKind::String, "dataset")],
        children: &[&PG_CREDENTIALS],
    };
    static DATA_WRITER: SectionSpec = SectionSpec {
        path: &["normalize", "data_writer"],
        alt_paths: &[&["data_writer"]],
        keys: &[
            KeySpec::new("buffer_max_items", ValueKind::Integer, "buffer"),
            KeySpec::new("file_max_items", ValueKind::Integer, "rotate files"),
            KeySpec::new("disable_compression", ValueKind::Bool, "no gzip"),
        ],
        children: &[],
    };
    static LOAD: SectionSpec = SectionSpec {
        path: &["load"],
        alt_paths: &[],
        keys: &[
            KeySpec::new("workers", ValueKind::Integer, "parallel jobs"),
            KeySpec::new("raise_on_failed_jobs", ValueKind::Bool, "raise"),
            KeySpec::new("truncate_staging_dataset", ValueKind::Bool, "truncate"),
        ],
        children: &[],
    };
    static NORMALIZE: SectionSpec = SectionSpec {
        path: &["normalize"],
        alt_paths: &[],
        keys: &[KeySpec::new("workers", ValueKind::Integer, "workers")],
        children: &[],
    };
    const ALL: &[&SectionSpec] = &[&FILESYSTEM, &POSTGRES, &DATA_WRITER, &LOAD, &NORMALIZE];
    const FS: &[&[&str]] = &[&["destination", "filesystem"]];
    const DW: &[&[&str]] = &[&["normalize", "data_writer"], &["data_writer"]];

    /// A project dir with files at relative paths.
    fn project(files: &[(&str, &str)]) -> TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = dir.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        dir
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn load(files: &[(&str, &str)], vars: &[(&str, &str)]) -> (TempDir, Config) {
        let dir = project(files);
        let cfg = Config::load(dir.path(), &env(vars)).unwrap();
        (dir, cfg)
    }

    fn str_of(cfg: &Config, paths: &[&[&str]], key: &str) -> Option<String> {
        cfg.get_str(paths, key).unwrap()
    }

    fn problems(cfg: &Config) -> Vec<Problem> {
        match cfg.validate(ALL) {
            Ok(()) => Vec::new(),
            Err(ConfigError::Invalid { problems }) => problems,
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    #[test]
    fn layer_precedence_defaults_config_secrets_env_explicit() {
        let (dir, mut cfg) = load(
            &[
                (".stevedore/config.toml", "[load]\na = 'config'\nb = 'config'\nc = 'config'\nd = 'config'\n"),
                (".stevedore/secrets.toml", "[load]\na = 'secrets'\nb = 'secrets'\nc = 'secrets'\n"),
            ],
            &[("LOAD__A", "env"), ("LOAD__B", "env")],
        );
        for key in ["a", "b", "c", "d", "e"] {
            cfg.set_default(&format!("load.{key}"), toml::Value::String("default".into()));
        }
        cfg.set_explicit("load.a", toml::Value::String("explicit".into()));
        let l: &[&[&str]] = &[&["load"]];
        assert_eq!(str_of(&cfg, l, "a").as_deref(), Some("explicit"));
        assert_eq!(str_of(&cfg, l, "b").as_deref(), Some("env"));
        assert_eq!(str_of(&cfg, l, "c").as_deref(), Some("secrets"));
        assert_eq!(str_of(&cfg, l, "d").as_deref(), Some("config"));
        assert_eq!(str_of(&cfg, l, "e").as_deref(), Some("default"));
        assert_eq!(cfg.get(l, "a").unwrap().source, Source::Explicit);
        assert_eq!(cfg.get(l, "b").unwrap().source, Source::Env { var: "LOAD__B".into() });
        let config_toml = dir.path().join(".stevedore/config.toml");
        assert_eq!(cfg.get(l, "d").unwrap().source, Source::File { path: config_toml.clone(), line: Some(5) });
        assert_eq!(cfg.get(l, "e").unwrap().source, Source::Default);
        assert_eq!(cfg.files(), vec![config_toml, dir.path().join(".stevedore/secrets.toml")]);
        assert!(cfg.get(l, "missing").is_none());
    }

    #[test]
    fn dlt_folder_is_read_only_when_stevedore_folder_is_absent() {
        let (dir, cfg) =
            load(&[(".dlt/config.toml", "[destination.filesystem]\nbucket_url = 'dlt'\n"), (".dlt/secrets.toml", "x = 1\n")], &[]);
        assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("dlt"));
        assert_eq!(cfg.files().len(), 2);
        assert_eq!(cfg.config_dir(), Some(dir.path().join(".dlt").as_path()));

        let (dir, cfg) = load(
            &[
                (".dlt/config.toml", "[destination.filesystem]\nbucket_url = 'dlt'\n"),
                (".stevedore/secrets.toml", "[destination.filesystem]\nlayout = 'sd'\n"),
            ],
            &[],
        );
        assert_eq!(str_of(&cfg, FS, "bucket_url"), None, ".dlt must be ignored when .stevedore exists");
        assert_eq!(str_of(&cfg, FS, "layout").as_deref(), Some("sd"));
        assert_eq!(cfg.files(), vec![dir.path().join(".stevedore/secrets.toml")]);

        let (_dir, cfg) = load(&[], &[]);
        assert!(cfg.files().is_empty());
        assert!(cfg.config_dir().is_none());
    }

    #[test]
    fn config_dir_and_project_dir_variables() {
        let dir = project(&[("elsewhere/config.toml", "[load]\nworkers = 7\n"), ("proj/.stevedore/config.toml", "[load]\nworkers = 3\n")]);
        let cfg = Config::load(dir.path(), &env(&[(ENV_CONFIG_DIR, "elsewhere")])).unwrap();
        assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(7));
        let abs = dir.path().join("elsewhere").display().to_string();
        let cfg = Config::load(Path::new("/nonexistent"), &env(&[(ENV_CONFIG_DIR, &abs)])).unwrap();
        assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(7));

        let cfg = Config::discover(dir.path(), &env(&[(ENV_PROJECT_DIR, "proj")])).unwrap();
        assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(3));
        let cfg = Config::discover(&dir.path().join("proj"), &env(&[])).unwrap();
        assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(3));

        let err = Config::load(dir.path(), &env(&[(ENV_CONFIG_DIR, "nope")])).unwrap_err();
        assert!(matches!(err, ConfigError::ConfigDirMissing { .. }));
        assert!(err.to_string().contains("nope") && err.to_string().contains(ENV_CONFIG_DIR));
    }

    #[test]
    fn section_fallback_to_parent_and_root() {
        let (_d, cfg) = load(&[(".stevedore/config.toml", "dataset_name = 'root'\n[destination]\nbucket_url = 'file:///generic'\n")], &[]);
        assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("file:///generic"));
        assert_eq!(cfg.get(FS, "bucket_url").unwrap().key, "destination.bucket_url");
        assert_eq!(str_of(&cfg, FS, "dataset_name").as_deref(), Some("root"));

        let (_d, cfg) = load(
            &[(
                ".stevedore/config.toml",
                "[destination]\nbucket_url = 'file:///generic'\n[destination.filesystem]\nbucket_url = 's3://specific'\n",
            )],
            &[],
        );
        assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("s3://specific"));
        // another destination still sees the generic value
        assert_eq!(str_of(&cfg, &[&["destination", "other"]], "bucket_url").as_deref(), Some("file:///generic"));
    }

    #[test]
    fn pipeline_name_prefix_wins() {
        let files = [(
            ".stevedore/config.toml",
            "[destination.filesystem]\nbucket_url = 'generic'\n[mypipe.destination.filesystem]\nbucket_url = 'mine'\n",
        )];
        let vars = [("DESTINATION__FILESYSTEM__BUCKET_URL", "from-env")];
        let (_d, cfg) = load(&files, &vars);
        assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("from-env"));
        let cfg = cfg.with_pipeline_name("mypipe");
        assert_eq!(cfg.pipeline_name(), Some("mypipe"));
        // like dlt: a pipeline-specific value in any layer beats generic ones in all layers
        assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("mine"));
        assert_eq!(cfg.get(FS, "bucket_url").unwrap().key, "mypipe.destination.filesystem.bucket_url");
        let cfg = cfg.with_pipeline_name("other");
        assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("from-env"));

        let (_d, cfg) = load(&files, &[("MYPIPE__DESTINATION__FILESYSTEM__BUCKET_URL", "env-mine")]);
        let cfg = cfg.with_pipeline_name("mypipe");
        assert_eq!(str_of(&cfg, FS, "bucket_url").as_deref(), Some("env-mine"));
    }

    #[test]
    fn env_values_are_parsed_as_toml_or_json_literals() {
        assert_eq!(parse_env_value("true"), toml::Value::Boolean(true));
        assert_eq!(parse_env_value("false"), toml::Value::Boolean(false));
        assert_eq!(parse_env_value("42"), toml::Value::Integer(42));
        assert_eq!(parse_env_value("1.5"), toml::Value::Float(1.5));
        assert_eq!(parse_env_value("[1, 2]"), toml::Value::Array(vec![1.into(), 2.into()]));
        let t = parse_env_value("{a = 1, b = 'x'}");
        assert_eq!(t.get("a"), Some(&toml::Value::Integer(1)));
        assert_eq!(t.get("b"), Some(&toml::Value::String("x".into())));
        let j = parse_env_value(r#"{"a": 1, "b": {"c": "d"}, "n": null}"#);
        assert_eq!(j.get("a"), Some(&toml::Value::Integer(1)));
        assert_eq!(j.get("b").and_then(|b| b.get("c")), Some(&toml::Value::String("d".into())));
        assert!(j.get("n").is_none());
        for s in ["s3://bucket/path", "nan", "inf", "2024-01-01", "'quoted'", " 5 ", "", "True"] {
            assert_eq!(parse_env_value(s), toml::Value::String(s.into()), "{s:?}");
        }

        let (_d, cfg) = load(
            &[],
            &[
                ("DATA_WRITER__DISABLE_COMPRESSION", "true"),
                ("LOAD__WORKERS", "8"),
                ("LOAD__RAISE_ON_FAILED_JOBS", "False"),
                ("DESTINATION__FILESYSTEM__EXTRA_PLACEHOLDERS", "{env = 'prod', n = 2}"),
                ("DESTINATION__FILESYSTEM__LAYOUT", r#"{"json": true}"#),
                ("DESTINATION__FILESYSTEM__DATASET_NAME", "123"),
                ("LOAD__RATIO", "2"),
            ],
        );
        assert_eq!(cfg.get_bool(DW, "disable_compression").unwrap(), Some(true));
        assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(8));
        assert_eq!(cfg.get_bool(&[&["load"]], "raise_on_failed_jobs").unwrap(), Some(false));
        assert_eq!(cfg.get_f64(&[&["load"]], "ratio").unwrap(), Some(2.0));
        let t = cfg.get_table(FS, "extra_placeholders").unwrap().unwrap();
        assert_eq!(t.get("env"), Some(&toml::Value::String("prod".into())));
        assert_eq!(t.get("n"), Some(&toml::Value::Integer(2)));
        assert!(cfg.get(FS, "layout").unwrap().value.is_table());
        // strings from the environment are the variable's text, even when they look like numbers
        assert_eq!(str_of(&cfg, FS, "dataset_name").as_deref(), Some("123"));
        assert_eq!(str_of(&cfg, FS, "layout").as_deref(), Some(r#"{"json": true}"#));
    }

    #[test]
    fn data_writer_both_section_forms() {
        let (_d, cfg) = load(&[(".stevedore/config.toml", "[data_writer]\nbuffer_max_items = 100\nfile_max_items = 5\n")], &[]);
        assert_eq!(cfg.get_u64(DW, "buffer_max_items").unwrap(), Some(100));

        let (_d, cfg) = load(
            &[(
                ".stevedore/config.toml",
                "[data_writer]\nbuffer_max_items = 100\nfile_max_items = 5\n\
                 [normalize.data_writer]\nbuffer_max_items = 200\n",
            )],
            &[],
        );
        assert_eq!(cfg.get_u64(DW, "buffer_max_items").unwrap(), Some(200));
        assert_eq!(cfg.get_u64(DW, "file_max_items").unwrap(), Some(5));
        let r = cfg.resolve(&DATA_WRITER).unwrap();
        assert_eq!(r.get("buffer_max_items").unwrap().expose().value, toml::Value::Integer(200));
        assert_eq!(r.get("file_max_items").unwrap().expose().key, "data_writer.file_max_items");
        assert!(cfg.validate(ALL).is_ok());

        let (_d, cfg) =
            load(&[], &[("DATA_WRITER__DISABLE_COMPRESSION", "false"), ("NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION", "true")]);
        assert_eq!(cfg.get_bool(DW, "disable_compression").unwrap(), Some(true));
        let (_d, cfg) = load(&[], &[("DATA_WRITER__DISABLE_COMPRESSION", "true")]);
        assert_eq!(cfg.get_bool(DW, "disable_compression").unwrap(), Some(true));
        let r = cfg.resolve(&DATA_WRITER).unwrap();
        assert_eq!(r.get("disable_compression").unwrap().expose().value, toml::Value::Boolean(true));
    }

    #[test]
    fn unknown_key_error_names_file_line_key_and_suggestion() {
        let (dir, cfg) = load(&[(".stevedore/config.toml", "[destination.filesystem]\nlayout = 'x'\nbucket_ur = 's3://b'\n")], &[]);
        let err = cfg.validate(ALL).unwrap_err();
        let msg = err.to_string();
        let file = dir.path().join(".stevedore/config.toml");
        assert!(msg.contains(&format!("{}:3", file.display())), "{msg}");
        assert!(msg.contains("`bucket_ur`"), "{msg}");
        assert!(msg.contains("[destination.filesystem]"), "{msg}");
        assert!(msg.contains("did you mean `bucket_url`?"), "{msg}");
        assert!(msg.contains("valid keys: bucket_url, layout, extra_placeholders, dataset_name, credentials"), "{msg}");
        let ConfigError::Invalid { problems: found } = err else { panic!() };
        assert_eq!(found.len(), 1);
        assert!(matches!(&found[0], Problem::UnknownKey { suggestion: Some(s), .. } if s == "bucket_url"));

        // nested child section and a typo in a child name
        let (_d, cfg) = load(
            &[(
                ".stevedore/secrets.toml",
                "[destination.filesystem.credentials]\naws_acess_key_id = 'a'\n[destination.filesystem.credentals]\nx = 1\n",
            )],
            &[],
        );
        let p = problems(&cfg);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p.iter().any(
            |p| matches!(p, Problem::UnknownKey { key, suggestion: Some(s), .. } if key == "aws_acess_key_id" && s == "aws_access_key_id")
        ));
        assert!(
            p.iter()
                .any(|p| matches!(p, Problem::UnknownKey { key, suggestion: Some(s), .. } if key == "credentals" && s == "credentials"))
        );
    }

    #[test]
    fn validation_accepts_fallbacks_sources_and_unregistered_sections() {
        let (_d, cfg) = load(
            &[
                (
                    ".stevedore/config.toml",
                    "api_key_for_my_source = 1\n\
                 [sources.chess]\nanything = 1\n\
                 [runtime]\nlog_level = 'INFO'\n\
                 [destination]\nbucket_url = 'x'\nreplace_strategy = 'insert-from-staging'\n\
                 [destination.bigquery]\nlocation = 'EU'\n\
                 [destination.filesystem]\naws_access_key_id = 'fallback for credentials'\n\
                 [normalize]\nworkers = 2\nbuffer_max_items = 10\n\
                 [pipelines.x]\ny = 1\n",
                ),
                (".stevedore/secrets.toml", "[destination.postgres]\ncredentials = 'postgresql://u:p@h/db'\n"),
            ],
            &[
                ("PATH", "/bin"),
                ("HOME", "/root"),
                ("FOO__BAR", "1"),
                ("RUNTIME__LOG_LEVEL", "x"),
                ("DESTINATION__DUCKDB__CREDENTIALS", "x"),
            ],
        );
        assert_eq!(problems(&cfg), Vec::new());
        // a likely typo directly under [destination] is still reported
        let (_d, cfg) = load(&[(".stevedore/config.toml", "[destination]\nbuckt_url = 'x'\n")], &[]);
        let p = problems(&cfg);
        assert!(matches!(&p[..], [Problem::UnknownKey { suggestion: Some(s), .. }] if s == "bucket_url"), "{p:?}");
    }

    #[test]
    fn unknown_env_var_under_known_section() {
        let (_d, cfg) = load(
            &[],
            &[
                ("DESTINATION__FILESYSTEM__BUKET_URL", "s3://x"),
                ("DESTINATION__FILESYSTEM__BUCKET_URL", "s3://ok"),
                ("LOAD__WORKRS", "3"),
                ("LOAD__WORKERS", "3"),
                ("PATH", "/usr/bin"),
            ],
        );
        let err = cfg.validate(ALL).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("2 configuration problems"), "{msg}");
        assert!(msg.contains("environment variable DESTINATION__FILESYSTEM__BUKET_URL"), "{msg}");
        assert!(msg.contains("did you mean `bucket_url`?"), "{msg}");
        assert!(msg.contains("environment variable LOAD__WORKRS"), "{msg}");
        assert!(msg.contains("did you mean `workers`?"), "{msg}");
        assert!(!msg.contains("s3://x"), "values are not printed: {msg}");
    }

    #[test]
    fn unknown_top_level_section_and_pipeline_prefix_validation() {
        let (_d, cfg) = load(
            &[(
                ".stevedore/config.toml",
                "[destinaton.filesystem]\nbucket_url = 'x'\n\
                 [mypipe.destination.filesystem]\nbucket_ur = 'y'\n\
                 [mypipe.load]\nworkers = 4\n",
            )],
            &[],
        );
        let p = problems(&cfg);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p.iter().any(|p| matches!(p, Problem::UnknownSection { name, suggestion: Some(s), origin: Source::File { line: Some(1), .. } } if name == "destinaton" && s == "destination")));
        assert!(p.iter().any(|p| matches!(p, Problem::UnknownKey { section, key, origin: Source::File { line: Some(4), .. }, .. } if section == "mypipe.destination.filesystem" && key == "bucket_ur")));
        let msg = cfg.validate(ALL).unwrap_err().to_string();
        assert!(msg.contains("did you mean [destination]?"), "{msg}");

        // pipeline-prefixed environment variables are validated once the name is known
        let (_d, cfg) = load(&[], &[("MYPIPE__LOAD__WORKRS", "3")]);
        assert!(cfg.validate(ALL).is_ok());
        let cfg = cfg.with_pipeline_name("mypipe");
        let p = problems(&cfg);
        assert!(matches!(&p[..], [Problem::UnknownKey { section, .. }] if section == "mypipe.load"), "{p:?}");
    }

    #[test]
    fn validation_checks_value_types() {
        let (_d, cfg) = load(
            &[(
                ".stevedore/config.toml",
                "[load]\nworkers = 'many'\nraise_on_failed_jobs = 'true'\n[destination.postgres]\ncredentials = 5\n",
            )],
            &[("DATA_WRITER__BUFFER_MAX_ITEMS", "lots"), ("NORMALIZE__WORKERS", "4"), ("DESTINATION__FILESYSTEM__DATASET_NAME", "123")],
        );
        let p = problems(&cfg);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().any(|p| matches!(p, Problem::WrongType { key, expected: "an integer", .. } if key == "load.workers")));
        assert!(
            p.iter()
                .any(|p| matches!(p, Problem::WrongType { key, origin: Source::Env { .. }, .. } if key == "data_writer.buffer_max_items"))
        );
        assert!(p.iter().any(|p| matches!(p, Problem::WrongType { key, .. } if key == "destination.postgres.credentials")));
    }

    #[test]
    fn secrets_are_redacted_in_debug_display_and_errors() {
        let (_d, mut cfg) = load(
            &[
                (".stevedore/config.toml", "[destination.postgres.credentials]\ndatabase = 'db'\nusername = 'loader'\n"),
                (".stevedore/secrets.toml", "[destination.postgres.credentials]\npassword = 'hunter2-very-secret'\n"),
            ],
            &[("DESTINATION__FILESYSTEM__CREDENTIALS__AWS_SECRET_ACCESS_KEY", "AKIA-env-secret")],
        );
        cfg.set_explicit("load.workers", toml::Value::Integer(1));
        let pg = cfg.resolve(&POSTGRES).unwrap();
        let creds = pg.child("credentials").unwrap();
        let pw = creds.get("password").unwrap();
        assert!(pw.is_secret());
        assert_eq!(pw.as_str(), Some("hunter2-very-secret"));
        assert_eq!(creds.get("username").unwrap().as_str(), Some("loader"));
        let debug = format!("{pg:?} {pg:#?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("loader"));
        let fs = cfg.resolve(&FILESYSTEM).unwrap();
        let debug = format!("{fs:?}");
        assert!(!debug.contains("AKIA-env-secret"), "{debug}");
        let config_debug = format!("{cfg:?} {cfg:#?}");
        assert!(!config_debug.contains("hunter2") && !config_debug.contains("AKIA"), "{config_debug}");
        assert!(config_debug.contains("destination.postgres.credentials.password"));

        let secret = Secret::new("hunter2".to_string());
        assert_eq!(format!("{secret} {secret:?}"), "*** ***");
        assert_eq!(secret.expose(), "hunter2");
        let s = cfg.get_secret_str(&[&["destination", "postgres", "credentials"]], "password").unwrap().unwrap();
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s.into_inner(), "hunter2-very-secret");

        let mut secrets = pg.secret_values();
        secrets.extend(fs.secret_values());
        assert_eq!(secrets, vec!["hunter2-very-secret".to_string(), "AKIA-env-secret".to_string()]);
        let text = "connect postgresql://loader:hunter2-very-secret@host failed; key AKIA-env-secret";
        assert_eq!(redact(text, &secrets), "connect postgresql://loader:***@host failed; key ***");

        // a type error on a secret never shows the value
        let (_d, cfg) = load(&[(".stevedore/secrets.toml", "[destination.postgres.credentials]\npassword = 987654321\n")], &[]);
        let err = cfg.resolve(&POSTGRES).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("destination.postgres.credentials.password") && msg.contains("secrets.toml:2"), "{msg}");
        assert!(!msg.contains("987654321") && !format!("{err:?}").contains("987654321"), "{msg}");
    }

    #[test]
    fn secret_in_config_toml_is_refused() {
        let (_d, cfg) = load(&[(".stevedore/config.toml", "[destination.postgres.credentials]\npassword = 'leaked-pw'\n")], &[]);
        let err = cfg.resolve(&POSTGRES).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ConfigError::SecretInConfigFile { .. }));
        assert!(msg.contains("config.toml:2") && msg.contains("DESTINATION__POSTGRES__CREDENTIALS__PASSWORD"), "{msg}");
        assert!(!msg.contains("leaked-pw"));
        assert!(cfg.get_secret_str(&[&["destination", "postgres", "credentials"]], "password").is_err());
        let p = problems(&cfg);
        assert!(matches!(&p[..], [Problem::SecretInConfigFile { key, .. }] if key == "destination.postgres.credentials.password"), "{p:?}");
        assert!(!cfg.validate(ALL).unwrap_err().to_string().contains("leaked-pw"));
    }

    #[test]
    fn native_credentials_string_from_env_or_file() {
        let url = "postgresql://loader:p%40ss@localhost:5432/db";
        let (_d, cfg) = load(&[], &[("DESTINATION__POSTGRES__CREDENTIALS", url), ("DESTINATION__POSTGRES__CREDENTIALS__HOST", "h2")]);
        let pg = cfg.resolve(&POSTGRES).unwrap();
        let creds = pg.child("credentials").unwrap();
        let native = creds.native.as_ref().unwrap();
        assert!(native.is_secret());
        assert_eq!(native.as_str(), Some(url));
        assert_eq!(creds.get("host").unwrap().as_str(), Some("h2"));
        assert!(!format!("{pg:?}").contains("p%40ss"));
        assert_eq!(cfg.get_str(&[&["destination", "postgres"]], "credentials").unwrap().as_deref(), Some(url));
        assert!(cfg.validate(ALL).is_ok());
        let (_d, cfg2) = load(&[], &[("DESTINATION__POSTGRES__CREDENTIALS", "12345")]);
        assert!(cfg2.validate(ALL).is_ok());
        let native = cfg2.resolve(&POSTGRES).unwrap().children["credentials"].native.clone();
        assert_eq!(native.unwrap().as_str(), Some("12345"));
        // the password as a plain secret is found in its percent-encoded URL form too
        assert_eq!(redact(url, &["p@ss"]), "postgresql://loader:***@localhost:5432/db");
        assert_eq!(redact_url_password(url), "postgresql://loader:***@localhost:5432/db");
        assert_eq!(redact_url_password("s3://bucket/path"), "s3://bucket/path");
        assert_eq!(redact_url_password("s3://key@bucket/a:b@c"), "s3://key@bucket/a:b@c");

        let (_d, cfg) = load(&[(".stevedore/secrets.toml", "[destination.postgres]\ncredentials = 'postgresql://a:b@h/db'\n")], &[]);
        let pg = cfg.resolve(&POSTGRES).unwrap();
        assert_eq!(pg.child("credentials").unwrap().native.as_ref().unwrap().as_str(), Some("postgresql://a:b@h/db"));
    }

    #[test]
    fn credentials_table_resolved_key_by_key_over_layers() {
        let (_d, cfg) = load(
            &[(
                ".stevedore/secrets.toml",
                "[destination.filesystem.credentials]\naws_access_key_id = 'file-id'\naws_secret_access_key = 'file-secret'\n",
            )],
            &[("DESTINATION__FILESYSTEM__CREDENTIALS__AWS_ACCESS_KEY_ID", "env-id"), ("DESTINATION__FILESYSTEM__BUCKET_URL", "s3://b")],
        );
        let fs = cfg.resolve(&FILESYSTEM).unwrap();
        assert_eq!(fs.get("bucket_url").unwrap().as_str(), Some("s3://b"));
        let c = fs.child("credentials").unwrap();
        assert_eq!(c.path, vec!["destination", "filesystem", "credentials"]);
        assert_eq!(c.get("aws_access_key_id").unwrap().as_str(), Some("env-id"));
        assert_eq!(c.get("aws_secret_access_key").unwrap().as_str(), Some("file-secret"));
        assert!(c.native.is_none());
        assert!(c.get("endpoint_url").is_none());
    }

    #[test]
    fn malformed_toml_error_names_file_and_line() {
        let dir = project(&[(".stevedore/secrets.toml", "[load]\nworkers = 3\npassword = \"unterminated-secret\n")]);
        let err = Config::load(dir.path(), &env(&[])).unwrap_err();
        let msg = err.to_string();
        let file = dir.path().join(".stevedore/secrets.toml");
        assert!(matches!(err, ConfigError::Parse { line: 3, .. }), "{err:?}");
        assert!(msg.contains(&format!("{}:3:", file.display())), "{msg}");
        assert!(msg.contains("invalid TOML"), "{msg}");
        assert!(!msg.contains("unterminated-secret"), "{msg}");
    }

    #[test]
    fn section_table_merges_all_layers() {
        let (_d, mut cfg) = load(
            &[(".stevedore/config.toml", "[destination.filesystem.extra_placeholders]\na = 'config'\nb = 'config'\n")],
            &[("DESTINATION__FILESYSTEM__EXTRA_PLACEHOLDERS__B", "env"), ("DESTINATION__FILESYSTEM__EXTRA_PLACEHOLDERS__N", "3")],
        );
        cfg.set_default("destination.filesystem.extra_placeholders.d", "default".into());
        cfg.set_explicit("destination.filesystem.extra_placeholders.e", "explicit".into());
        let t = cfg.section_table(&["destination", "filesystem", "extra_placeholders"]);
        assert_eq!(t.get("a"), Some(&toml::Value::String("config".into())));
        assert_eq!(t.get("b"), Some(&toml::Value::String("env".into())));
        assert_eq!(t.get("n"), Some(&toml::Value::Integer(3)));
        assert_eq!(t.get("d"), Some(&toml::Value::String("default".into())));
        assert_eq!(t.get("e"), Some(&toml::Value::String("explicit".into())));
        let fs = cfg.section_table(&["destination", "filesystem"]);
        assert!(fs.get("extra_placeholders").unwrap().get("n").is_some());
        let cfg = cfg.with_pipeline_name("p");
        assert_eq!(cfg.section_table(&["destination", "filesystem", "extra_placeholders"]).len(), 5);
    }

    #[test]
    fn typed_getters_name_key_and_source_on_mismatch() {
        let (dir, cfg) =
            load(&[(".stevedore/config.toml", "[load]\n\nworkers = 'many'\nneg = -1\n")], &[("DATA_WRITER__BUFFER_MAX_ITEMS", "lots")]);
        let msg = cfg.get_u64(&[&["load"]], "workers").unwrap_err().to_string();
        let file = dir.path().join(".stevedore/config.toml");
        assert!(msg.contains("`load.workers`") && msg.contains(&format!("{}:3", file.display())), "{msg}");
        assert!(msg.contains("must be an integer, found a string"), "{msg}");
        let msg = cfg.get_u64(DW, "buffer_max_items").unwrap_err().to_string();
        assert!(msg.contains("environment variable DATA_WRITER__BUFFER_MAX_ITEMS"), "{msg}");
        let msg = cfg.get_u64(&[&["load"]], "neg").unwrap_err().to_string();
        assert!(msg.contains("non-negative"), "{msg}");
        assert_eq!(cfg.get_i64(&[&["load"]], "neg").unwrap(), Some(-1));
        assert!(cfg.get_bool(&[&["load"]], "workers").is_err());
        assert!(cfg.get_str(&[&["load"]], "neg").is_err());
    }

    #[test]
    fn require_lists_every_key_and_variable_tried() {
        let cfg = Config::empty().with_pipeline_name("p");
        let err = cfg.require(FS, "bucket_url").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("p.destination.filesystem.bucket_url, p.destination.bucket_url, p.bucket_url, destination.filesystem.bucket_url, destination.bucket_url, bucket_url"), "{msg}");
        assert!(msg.contains("DESTINATION__FILESYSTEM__BUCKET_URL") && msg.contains("P__DESTINATION__FILESYSTEM__BUCKET_URL"), "{msg}");
        let mut cfg = cfg;
        cfg.set_explicit("destination.filesystem.bucket_url", "file:///x".into());
        assert_eq!(cfg.require(FS, "bucket_url").unwrap().value.as_str(), Some("file:///x"));
    }

    #[test]
    fn explicit_and_default_values_and_dotted_paths() {
        let mut cfg = Config::empty();
        assert!(cfg.files().is_empty());
        cfg.set_default("load.workers", 20.into());
        assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(20));
        cfg.set_explicit("load.workers", 4.into());
        assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(4));
        // replacing a scalar by a deeper path turns it into a table
        cfg.set_explicit("load", 1.into());
        cfg.set_explicit("load.workers", 5.into());
        assert_eq!(cfg.get_u64(&[&["load"]], "workers").unwrap(), Some(5));
        assert_eq!(env_var_name(&["normalize", "data_writer", "file_max_items"]), "NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS");
    }

    #[test]
    fn edit_distance_and_suggestions() {
        assert_eq!(edit_distance("bucket_url", "bucket_url"), 0);
        assert_eq!(edit_distance("bukcet_url", "bucket_url"), 1);
        assert_eq!(edit_distance("bucket_ur", "bucket_url"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(suggest("workrs", ["workers", "layout"]).as_deref(), Some("workers"));
        assert_eq!(suggest("zzz", ["workers", "layout"]), None);
        assert_eq!(suggest("a", ["b"]), None);
    }
}

//! Resolved values and where they came from ([`Source`], [`ConfigValue`], [`Secret`], [`ResolvedSection`]).

use super::*;

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
    pub(super) fn is_config_file(&self) -> bool {
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

pub(super) fn collect_leaf_strings(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Array(a) => a.iter().for_each(|v| collect_leaf_strings(v, out)),
        toml::Value::Table(t) => t.values().for_each(|v| collect_leaf_strings(v, out)),
        other => out.push(other.to_string()),
    }
}

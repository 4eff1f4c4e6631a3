//! Specs: the sections and keys a consumer declares ([`SectionSpec`], [`KeySpec`], [`ValueKind`]).

use super::*;

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

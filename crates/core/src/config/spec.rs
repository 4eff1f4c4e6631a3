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
    /// What the key does, for the configuration reference (`docs/config.md` is generated
    /// from it) and listings; Markdown.
    pub doc: &'static str,
    /// The default as the reference shows it (Markdown; empty: none).
    pub default: &'static str,
}

impl KeySpec {
    /// A non-secret key.
    pub const fn new(name: &'static str, kind: ValueKind, doc: &'static str) -> Self {
        KeySpec { name, kind, secret: false, doc, default: "" }
    }

    /// A secret key.
    pub const fn secret(name: &'static str, kind: ValueKind, doc: &'static str) -> Self {
        KeySpec { name, kind, secret: true, doc, default: "" }
    }

    /// The same key with the default the reference shows.
    pub const fn with_default(mut self, default: &'static str) -> Self {
        self.default = default;
        self
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

    /// The section's table in the configuration reference: one row per key (default,
    /// meaning, secrets marked), then one row per child section listing its keys with their
    /// defaults. `docs/config.md` holds these tables between `<!-- keys: PATH -->` and
    /// `<!-- /keys -->` markers; a test regenerates and compares them.
    pub fn reference_table(&self) -> String {
        let mut out = String::from("| key | default | meaning |\n|---|---|---|\n");
        for k in self.keys {
            let default = if k.default.is_empty() { "none" } else { k.default };
            let secret = if k.secret { " (secret)" } else { "" };
            out.push_str(&format!("| `{}` | {default} | {}{secret} |\n", k.name, k.doc));
        }
        for child in self.children {
            let path: Vec<&str> = self.path.iter().chain(child.path.iter()).copied().collect();
            let keys: Vec<String> = child
                .keys
                .iter()
                .map(|k| {
                    let mut s = format!("`{}`", k.name);
                    if k.secret {
                        s.push('*');
                    }
                    if !k.default.is_empty() {
                        s.push_str(&format!(" ({})", k.default));
                    }
                    s
                })
                .collect();
            let secrets = if child.keys.iter().any(|k| k.secret) { " (* = secret)" } else { "" };
            out.push_str(&format!("| `[{}]` | | {}{secrets} |\n", path.join("."), keys.join(", ")));
        }
        out
    }
}

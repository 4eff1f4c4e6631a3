//! Validation of the files and the environment against the declared specs (unknown keys with suggestions, types, secrets).

use super::*;

// ------------------------------------------------------------------------------------------------
// Validation
// ------------------------------------------------------------------------------------------------

#[derive(Default)]
pub(super) struct Node<'a> {
    pub(super) specs: Vec<&'a SectionSpec>,
    pub(super) children: BTreeMap<String, Node<'a>>,
}

impl<'a> Node<'a> {
    pub(super) fn insert(&mut self, path: &[String], spec: &'a SectionSpec, depth: usize) {
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

    pub(super) fn is_spec(&self) -> bool {
        !self.specs.is_empty()
    }

    pub(super) fn own_key(&self, name: &str) -> Option<&'a KeySpec> {
        self.specs.iter().find_map(|s| s.key(name))
    }

    /// Keys valid here: own keys and, through dlt's fallback, keys of every descendant spec.
    pub(super) fn any_key(&self, name: &str) -> Option<&'a KeySpec> {
        self.own_key(name).or_else(|| self.children.values().find_map(|c| c.any_key(name)))
    }

    pub(super) fn all_key_names(&self, out: &mut BTreeSet<&'a str>) {
        for s in &self.specs {
            out.extend(s.keys.iter().map(|k| k.name));
        }
        for c in self.children.values() {
            c.all_key_names(out);
        }
    }

    /// Own keys then sub-section names, for messages.
    pub(super) fn valid_names(&self) -> Vec<String> {
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

pub(super) enum Origin<'a> {
    File { layer: &'a TreeLayer, is_config: bool },
    Env { var: &'a str, raw: &'a str, path: Vec<String> },
}

impl Origin<'_> {
    pub(super) fn source(&self, path: &[String]) -> Source {
        match self {
            Origin::File { layer, .. } => {
                Source::File { path: layer.file.clone().unwrap_or_default(), line: layer.lines.get(path).copied() }
            }
            Origin::Env { var, .. } => Source::Env { var: var.to_string() },
        }
    }

    pub(super) fn raw_for(&self, path: &[String]) -> Option<&str> {
        match self {
            Origin::Env { raw, path: p, .. } if p.as_slice() == path => Some(raw),
            _ => None,
        }
    }

    pub(super) fn is_config_file(&self) -> bool {
        matches!(self, Origin::File { is_config: true, .. })
    }
}

pub(super) struct Validator<'n, 'a> {
    pub(super) root: &'n Node<'a>,
    pub(super) problems: &'n mut Vec<Problem>,
}

impl Validator<'_, '_> {
    pub(super) fn walk_root(&mut self, table: &toml::Table, path: &mut Vec<String>, origin: &Origin<'_>, allow_pipeline: bool) {
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

    pub(super) fn check_kind(&mut self, ks: &KeySpec, v: &toml::Value, path: &[String], origin: &Origin<'_>) {
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

    pub(super) fn walk(&mut self, node: &Node<'_>, table: &toml::Table, path: &mut Vec<String>, origin: &Origin<'_>) {
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

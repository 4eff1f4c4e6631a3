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

mod error;
mod layer;
mod spec;
#[cfg(test)]
mod tests;
mod text;
mod typed;
mod validate;
mod value;

pub use self::error::*;
use self::layer::*;
pub use self::spec::*;
pub use self::text::*;
pub use self::typed::*;
use self::validate::*;
pub use self::value::*;

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

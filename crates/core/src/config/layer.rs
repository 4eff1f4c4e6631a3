//! The layers (explicit, env, secrets, config file, defaults) and the files behind them.

use super::*;

// ------------------------------------------------------------------------------------------------
// Layers
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layer {
    Explicit,
    Env,
    Secrets,
    ConfigFile,
    Default,
}

/// Highest priority first.
pub(super) const LAYERS: [Layer; 5] = [Layer::Explicit, Layer::Env, Layer::Secrets, Layer::ConfigFile, Layer::Default];

#[derive(Clone, Default)]
pub(super) struct TreeLayer {
    pub(super) table: toml::Table,
    pub(super) file: Option<PathBuf>,
    pub(super) lines: HashMap<Vec<String>, usize>,
}

impl TreeLayer {
    pub(super) fn section(&self, path: &[String]) -> Option<&toml::Table> {
        let mut t = &self.table;
        for seg in path {
            t = t.get(seg)?.as_table()?;
        }
        Some(t)
    }

    pub(super) fn lookup(&self, path: &[String]) -> Option<&toml::Value> {
        let (last, init) = path.split_last()?;
        self.section(init)?.get(last)
    }

    pub(super) fn load(path: &Path) -> Result<Option<TreeLayer>, ConfigError> {
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

pub(super) fn collect_lines(table: &toml::de::DeTable<'_>, src: &str, prefix: &mut Vec<String>, out: &mut HashMap<Vec<String>, usize>) {
    for (k, v) in table.iter() {
        prefix.push(k.get_ref().to_string());
        out.entry(prefix.clone()).or_insert_with(|| line_of(src, k.span().start).0);
        if let Some(t) = v.get_ref().as_table() {
            collect_lines(t, src, prefix, out);
        }
        prefix.pop();
    }
}

pub(super) fn leaf_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => leaf_keys(t, &key, out),
            _ => out.push(key),
        }
    }
}

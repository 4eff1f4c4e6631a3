//! Helpers on names and text: env variable names, env value parsing, redaction, suggestions, TOML paths.

use super::*;

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

pub(super) fn json_to_toml(json: serde_json::Value) -> Option<toml::Value> {
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

pub(super) fn percent_encode(s: &str) -> String {
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

pub(super) fn type_name(v: &toml::Value) -> &'static str {
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
pub(super) fn coerce_value(value: &toml::Value, raw_env: Option<&str>, kind: ValueKind) -> Option<toml::Value> {
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

pub(super) fn insert_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
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

pub(super) fn deep_merge(dst: &mut toml::Table, src: toml::Table) {
    for (k, v) in src {
        match (dst.get_mut(&k), v) {
            (Some(toml::Value::Table(d)), toml::Value::Table(s)) => deep_merge(d, s),
            (_, v) => {
                dst.insert(k, v);
            }
        }
    }
}

pub(super) fn split_dotted(dotted: &str) -> Vec<String> {
    dotted.split('.').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

pub(super) fn owned_paths(section_paths: &[&[&str]]) -> Vec<Vec<String>> {
    section_paths.iter().map(|p| p.iter().map(|s| s.to_string()).collect()).collect()
}

/// dlt's candidate key paths, most specific first (see the module docs).
pub(super) fn candidates(section_paths: &[Vec<String>], key: &str) -> Vec<Vec<String>> {
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

pub(super) fn line_of(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

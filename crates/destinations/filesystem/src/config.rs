//! `[destination.filesystem]` configuration, with dlt's key names.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use stevedore_core::config::{Config, KeySpec, Secret, SectionSpec, ValueKind};
use stevedore_core::{Error, Result};
use stevedore_object_store::{Credentials, StoreOptions};

use crate::layout::{DEFAULT_LAYOUT, ExtraPlaceholder, Layout, LayoutError};

/// Credentials keys dlt accepts for the filesystem (used by the remote schemes).
const CREDENTIAL_KEYS: &[KeySpec] = &[
    KeySpec::secret("aws_access_key_id", ValueKind::String, "S3 access key id"),
    KeySpec::secret("aws_secret_access_key", ValueKind::String, "S3 secret access key"),
    KeySpec::secret("aws_session_token", ValueKind::String, "S3 session token"),
    KeySpec::new("profile_name", ValueKind::String, "AWS profile (static keys in ~/.aws/credentials or ~/.aws/config)"),
    KeySpec::new("region_name", ValueKind::String, "AWS region"),
    KeySpec::new("endpoint_url", ValueKind::String, "S3-compatible endpoint; endpoint override for az:// and gs:// too"),
    KeySpec::new("project_id", ValueKind::String, "GCP project"),
    KeySpec::secret("private_key", ValueKind::String, "GCP service account private key"),
    KeySpec::new("client_email", ValueKind::String, "GCP service account email"),
    KeySpec::new("azure_storage_account_name", ValueKind::String, "Azure storage account"),
    KeySpec::secret("azure_storage_account_key", ValueKind::String, "Azure account key"),
    KeySpec::secret("azure_storage_sas_token", ValueKind::String, "Azure SAS token"),
    KeySpec::new("azure_client_id", ValueKind::String, "Azure service principal client id"),
    KeySpec::secret("azure_client_secret", ValueKind::String, "Azure service principal secret"),
    KeySpec::new("azure_tenant_id", ValueKind::String, "Azure tenant"),
    KeySpec::new("sftp_username", ValueKind::String, "SFTP user (feature sftp)"),
    KeySpec::new("sftp_port", ValueKind::Integer, "SFTP port (feature sftp)"),
    KeySpec::new("sftp_key_filename", ValueKind::String, "SFTP private key file (feature sftp)"),
    KeySpec::secret("sftp_password", ValueKind::String, "SFTP password (not supported: use a key)"),
    KeySpec::secret("sftp_key_passphrase", ValueKind::String, "SFTP key passphrase (not supported: use ssh-agent)"),
];

/// `[destination.filesystem.credentials]`.
pub static CREDENTIALS_SPEC: SectionSpec = SectionSpec { path: &["credentials"], alt_paths: &[], keys: CREDENTIAL_KEYS, children: &[] };

/// `[destination.credentials]`: credentials shared by several destinations (dlt's example:
/// GCP credentials shared by the filesystem and BigQuery). Read after
/// `[destination.filesystem.credentials]`, key by key.
pub static SHARED_CREDENTIALS_SPEC: SectionSpec =
    SectionSpec { path: &["destination", "credentials"], alt_paths: &[], keys: CREDENTIAL_KEYS, children: &[] };

/// `[destination.filesystem]` keys.
pub static FILESYSTEM_SPEC: SectionSpec = SectionSpec {
    path: &["destination", "filesystem"],
    alt_paths: &[],
    keys: &[
        KeySpec::new(
            "bucket_url",
            ValueKind::String,
            "`file:///abs/path`, native absolute or relative path, `s3://bucket/path`, `az://container/path`, `abfss://container@account.dfs.core.windows.net/path`, `gs://bucket/path`; a malformed URL (`s3:/bucket`, `gs:bucket`, `s3//bucket`) or an unknown scheme is refused, never taken as a folder (write `./s3:x` for such a folder)",
        )
        .with_default("`./stevedore_data`"),
        KeySpec::new(
            "layout",
            ValueKind::String,
            "relative to the dataset folder: no `..`, `.` or empty segments, no leading `/`, `\\` or NUL, at most 255 bytes per file or folder name; see the filesystem page",
        )
        .with_default("`{table_name}/{load_id}.{file_id}.{ext}`"),
        KeySpec::new("extra_placeholders", ValueKind::Table, "table of static values for custom placeholders"),
        KeySpec::new("current_datetime", ValueKind::String, "RFC 3339 datetime used by date/time placeholders").with_default("load package time"),
        KeySpec::new("max_state_files", ValueKind::Integer, "state files kept per pipeline; ≤ 0 keeps all").with_default("100"),
        KeySpec::new(
            "kwargs",
            ValueKind::Any,
            "JSON string or table of filesystem options: `use_ssl`, `anon`, `account_host` are mapped to the bucket clients (see the filesystem page); local folders are always created",
        ),
        KeySpec::new(
            "client_kwargs",
            ValueKind::Any,
            "JSON string or table of client options: `verify`, `endpoint_url`, `region_name` are mapped to the bucket clients",
        ),
        KeySpec::new("always_refresh_views", ValueKind::Bool, "dlt SQL-client option; accepted and ignored"),
        KeySpec::new(
            "deltalake_storage_options",
            ValueKind::Any,
            "options for Delta tables (JSON object or table), merged over the credentials: object_store keys (aws_conditional_put, aws_endpoint...) and delta-rs keys (AWS_S3_ALLOW_UNSAFE_RENAME...)",
        ),
        KeySpec::new("replace_strategy", ValueKind::String, "only `truncate-and-insert` applies to plain files").with_default("`truncate-and-insert`"),
    ],
    children: &[&CREDENTIALS_SPEC],
};

/// Default bucket when nothing is configured (the embedded default).
pub const DEFAULT_BUCKET_URL: &str = "./stevedore_data";

/// A `current_datetime` override: a fixed value or a callback.
#[derive(Clone)]
pub enum CurrentDatetime {
    /// A fixed datetime.
    Fixed(DateTime<Utc>),
    /// Called for each file.
    Callback(std::sync::Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>),
}

impl std::fmt::Debug for CurrentDatetime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CurrentDatetime::Fixed(d) => write!(f, "Fixed({d})"),
            CurrentDatetime::Callback(_) => f.write_str("Callback(<callback>)"),
        }
    }
}

/// Resolved filesystem settings.
#[derive(Debug, Clone)]
pub struct FilesystemConfig {
    /// Bucket URL as given.
    pub bucket_url: String,
    /// Layout template.
    pub layout: String,
    /// Extra placeholders.
    pub extra_placeholders: BTreeMap<String, ExtraPlaceholder>,
    /// Override of the datetime used by date/time placeholders.
    pub current_datetime: Option<CurrentDatetime>,
    /// State files kept per pipeline.
    pub max_state_files: i64,
    /// Credentials, `kwargs` and `client_kwargs` for remote buckets.
    pub store: StoreOptions,
    /// `deltalake_storage_options`: options for the Delta tables' store and log, merged over
    /// the credentials (values as strings; may hold secrets).
    pub deltalake_storage_options: Secret<BTreeMap<String, String>>,
}

impl Default for FilesystemConfig {
    fn default() -> Self {
        FilesystemConfig {
            bucket_url: DEFAULT_BUCKET_URL.into(),
            layout: DEFAULT_LAYOUT.into(),
            extra_placeholders: BTreeMap::new(),
            current_datetime: None,
            max_state_files: 100,
            store: StoreOptions::default(),
            deltalake_storage_options: Secret::default(),
        }
    }
}

impl FilesystemConfig {
    /// Reads `[destination.filesystem]` (with dlt's fallbacks) from layered config.
    pub fn from_config(config: &Config) -> Result<Self> {
        let paths: &[&[&str]] = &[&["destination", "filesystem"]];
        let mut c = FilesystemConfig::default();
        if let Some(u) = config.get_str(paths, "bucket_url")? {
            c.bucket_url = u;
        }
        if let Some(l) = config.get_str(paths, "layout")? {
            c.layout = l;
        }
        if let Some(t) = config.get_table(paths, "extra_placeholders")? {
            for (k, v) in t {
                let s = match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                c.extra_placeholders.insert(k, ExtraPlaceholder::Static(s));
            }
        }
        if let Some(d) = config.get_str(paths, "current_datetime")? {
            let dt = DateTime::parse_from_rfc3339(&d)
                .map_err(|e| {
                    Error::config(format!("current_datetime `{d}` is not an RFC 3339 datetime: {e}"))
                        .with_hint("write it like 2024-04-14T08:32:00Z")
                })?
                .with_timezone(&Utc);
            c.current_datetime = Some(CurrentDatetime::Fixed(dt));
        }
        if let Some(n) = config.get_i64(paths, "max_state_files")? {
            c.max_state_files = n;
        }
        c.store = store_options(config)?;
        c.deltalake_storage_options = Secret::new(deltalake_storage_options(config)?);
        Ok(c)
    }

    /// Parses and checks the layout (placeholders, the table-prefix rule replace needs, and
    /// that its literal text keeps files under the dataset folder).
    pub fn parsed_layout(&self) -> Result<Layout> {
        let l = Layout::new(&self.layout, self.extra_placeholders.clone()).map_err(|e| layout_error(&e, &self.layout))?;
        l.check_table_prefix().map_err(|e| layout_error(&e, &self.layout))?;
        Ok(l)
    }

    /// The bucket URL parsed against `cwd`.
    pub fn bucket(&self, cwd: &Path) -> Result<stevedore_object_store::BucketUrl> {
        stevedore_object_store::BucketUrl::parse(&self.bucket_url, cwd)
    }
}

/// A layout error as a configuration error naming the layout, with the error's hint.
pub(crate) fn layout_error(e: &LayoutError, layout: &str) -> Error {
    let err = Error::config(e.to_string()).with("layout", layout.to_string());
    match e.hint() {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

/// Credentials from `[destination.filesystem.credentials]` then `[destination.credentials]`,
/// and `kwargs` / `client_kwargs` from `[destination.filesystem]`.
fn store_options(config: &Config) -> Result<StoreOptions> {
    let fs = config.resolve(&FILESYSTEM_SPEC)?;
    let shared = config.resolve(&SHARED_CREDENTIALS_SPEC)?;
    let mut sections = Vec::new();
    if let Some(c) = fs.child("credentials") {
        sections.push(c);
    }
    sections.push(&shared);
    let mut opts = StoreOptions::new(Credentials::from_sections(&sections)?);
    for name in ["kwargs", "client_kwargs"] {
        if let Some(v) = fs.get(name) {
            let cv = v.expose();
            let origin = cv.source.to_string();
            let m = StoreOptions::parse_kwargs(name, &cv.value, &origin)?;
            if name == "kwargs" {
                opts = opts.with_kwargs(m);
                opts.kwargs_origin.insert("kwargs", origin);
            } else {
                opts = opts.with_client_kwargs(m);
                opts.kwargs_origin.insert("client_kwargs", origin);
            }
        }
    }
    Ok(opts)
}

/// `deltalake_storage_options` as dlt writes it: a stringified JSON object
/// (`'{"AWS_S3_ALLOW_UNSAFE_RENAME": "true"}'`) or a TOML table; values become strings.
fn deltalake_storage_options(config: &Config) -> Result<BTreeMap<String, String>> {
    let fs = config.resolve(&FILESYSTEM_SPEC)?;
    let Some(v) = fs.get("deltalake_storage_options") else { return Ok(BTreeMap::new()) };
    let cv = v.expose();
    let m = StoreOptions::parse_kwargs("deltalake_storage_options", &cv.value, &cv.source.to_string())?;
    Ok(m.into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect())
}

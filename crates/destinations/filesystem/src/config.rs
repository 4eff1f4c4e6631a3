//! `[destination.filesystem]` configuration, with dlt's key names.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use stevedore_core::config::{Config, KeySpec, KeyValue, Secret, SectionSpec, ValueKind};
use stevedore_core::schema::ReplaceStrategy;
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

stevedore_core::config_section! {
    /// `[destination.filesystem]` keys.
    pub static FILESYSTEM_SPEC = ["destination", "filesystem"], children [&CREDENTIALS_SPEC];
    /// Resolved filesystem settings.
    #[derive(Debug, Clone)]
    pub struct FilesystemConfig {
        #[filled]
        /// Credentials (`[destination.filesystem.credentials]`, then `[destination.credentials]`), `kwargs` and `client_kwargs` for remote buckets.
        pub store: StoreOptions,
        /// `file:///abs/path`, native absolute or relative path, `s3://bucket/path`, `az://container/path`, `abfss://container@account.dfs.core.windows.net/path`, `gs://bucket/path`; a malformed URL (`s3:/bucket`, `gs:bucket`, `s3//bucket`) or an unknown scheme is refused, never taken as a folder (write `./s3:x` for such a folder)
        pub bucket_url: String = DEFAULT_BUCKET_URL.into() => "`./stevedore_data`",
        /// relative to the dataset folder: no `..`, `.` or empty segments, no leading `/`, `\` or NUL, at most 255 bytes per file or folder name; see the filesystem page
        pub layout: String = DEFAULT_LAYOUT.into() => "`{table_name}/{load_id}.{file_id}.{ext}`",
        /// table of static values for custom placeholders
        pub extra_placeholders: BTreeMap<String, ExtraPlaceholder> = BTreeMap::new(); read toml::Table => static_placeholders,
        /// RFC 3339 datetime used by date/time placeholders
        pub current_datetime: Option<CurrentDatetime> = None => "load package time"; read String => fixed_datetime,
        /// state files kept per pipeline; ≤ 0 keeps all
        pub max_state_files: i64 = 100 => "100",
        /// JSON string or table of filesystem options: `use_ssl`, `anon`, `account_host` are mapped to the bucket clients (see the filesystem page); local folders are always created
        pub kwargs: Option<Kwargs> = None,
        /// JSON string or table of client options: `verify`, `endpoint_url`, `region_name` are mapped to the bucket clients
        pub client_kwargs: Option<Kwargs> = None,
        /// dlt SQL-client option; accepted and ignored
        pub always_refresh_views: bool = false,
        /// options for Delta tables (JSON object or table), merged over the credentials: object_store keys (aws_conditional_put, aws_endpoint...) and delta-rs keys (AWS_S3_ALLOW_UNSAFE_RENAME...)
        pub deltalake_storage_options: Secret<BTreeMap<String, String>> = Secret::default(); read Kwargs => delta_options,
        /// only `truncate-and-insert` applies to plain files
        pub replace_strategy: Option<ReplaceStrategy> = None => "`truncate-and-insert`",
    }
}

/// A table of options given as a TOML table or a JSON object in a string, with where it was
/// found. `Debug` shows the option names only (values may be secrets).
#[derive(Clone, PartialEq)]
pub struct Kwargs {
    /// The options.
    pub options: serde_json::Map<String, serde_json::Value>,
    /// Where they were found (a file and line, or a variable).
    pub origin: String,
}

impl std::fmt::Debug for Kwargs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kwargs").field("keys", &self.options.keys().collect::<Vec<_>>()).field("origin", &self.origin).finish()
    }
}

impl KeyValue for Kwargs {
    const KIND: ValueKind = ValueKind::Any;
    fn read(config: &Config, paths: &[&[&str]], key: &str) -> Result<Option<Self>> {
        let Some(cv) = config.get(paths, key) else { return Ok(None) };
        let origin = cv.source.to_string();
        let options = StoreOptions::parse_kwargs(key, &cv.value, &origin)?;
        Ok(Some(Kwargs { options, origin }))
    }
}

fn static_placeholders(t: toml::Table) -> Result<BTreeMap<String, ExtraPlaceholder>> {
    Ok(t.into_iter()
        .map(|(k, v)| {
            let s = match v {
                toml::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, ExtraPlaceholder::Static(s))
        })
        .collect())
}

fn fixed_datetime(d: String) -> Result<Option<CurrentDatetime>> {
    let dt = DateTime::parse_from_rfc3339(&d).map_err(|e| {
        Error::config(format!("current_datetime `{d}` is not an RFC 3339 datetime: {e}")).with_hint("write it like 2024-04-14T08:32:00Z")
    })?;
    Ok(Some(CurrentDatetime::Fixed(dt.with_timezone(&Utc))))
}

/// `deltalake_storage_options` as dlt writes it: a stringified JSON object
/// (`'{"AWS_S3_ALLOW_UNSAFE_RENAME": "true"}'`) or a TOML table; values become strings.
fn delta_options(k: Kwargs) -> Result<Secret<BTreeMap<String, String>>> {
    let strings = k.options.into_iter().map(|(k, v)| {
        let v = match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        (k, v)
    });
    Ok(Secret::new(strings.collect()))
}

impl FilesystemConfig {
    /// Reads `[destination.filesystem]` (with dlt's fallbacks) from layered config.
    pub fn from_config(config: &Config) -> Result<Self> {
        let mut c = FilesystemConfig::read(config)?;
        c.store = store_options(config, &c)?;
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
/// and the `kwargs` / `client_kwargs` already read from `[destination.filesystem]`.
fn store_options(config: &Config, c: &FilesystemConfig) -> Result<StoreOptions> {
    let fs = config.resolve(&FILESYSTEM_SPEC)?;
    let shared = config.resolve(&SHARED_CREDENTIALS_SPEC)?;
    let mut sections = Vec::new();
    if let Some(c) = fs.child("credentials") {
        sections.push(c);
    }
    sections.push(&shared);
    let mut opts = StoreOptions::new(Credentials::from_sections(&sections)?);
    if let Some(k) = &c.kwargs {
        opts = opts.with_kwargs(k.options.clone());
        opts.kwargs_origin.insert("kwargs", k.origin.clone());
    }
    if let Some(k) = &c.client_kwargs {
        opts = opts.with_client_kwargs(k.options.clone());
        opts.kwargs_origin.insert("client_kwargs", k.origin.clone());
    }
    Ok(opts)
}

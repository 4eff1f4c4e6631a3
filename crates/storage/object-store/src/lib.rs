//! stevedore-object-store: object stores built from dlt-style bucket URLs and credentials.
//!
//! A bucket URL is what dlt users write in `[destination.filesystem] bucket_url`:
//! `file:///absolute/path`, an absolute native path (`/var/data`), a relative native path
//! (`_storage/data`, resolved against the current folder), `s3://bucket/path`,
//! `az://container/path` (also `abfs://`, `abfss://container@account.dfs.core.windows.net/path`),
//! `gs://bucket/path`. This crate turns one into an [`ObjectStore`] rooted at the bucket plus
//! the path prefix inside it ([`Bucket`]), with credentials named as dlt names them
//! ([`Credentials`]).
//!
//! Schemes built by this crate ([`schemes`]): `file` always; `s3`/`s3a` with feature `aws`;
//! `az`/`abfs`/`abfss` with feature `azure`. `gs://` and the long tail (sftp, webdav) come from
//! `stevedore-opendal`, which builds a [`Bucket`] with the same types.
//!
//! Every remote bucket is checked before data is written ([`Bucket::preflight`]), and every
//! store error becomes a [`stevedore_core::Error`] that names the bucket, says whether a retry
//! may help ([`Failure`]) and never contains a secret ([`Bucket::error`]).
//!
//! The I/O the filesystem destination and the staging chain share lives here too ([`io`]):
//! atomic puts, uploads within a memory budget, listing, delete-many.

#![warn(missing_docs)]

mod error;
pub mod io;
mod options;

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "azure")]
mod azure;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
pub use object_store;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use stevedore_core::config::Secret;
use stevedore_core::{Error, ErrorKind, Result};

pub use error::{Classifier, Failure, classify, classify_chain, redact};
pub use options::{Credentials, SecretSetting, Setting, StoreOptions};

/// URL schemes this crate can open in this build.
pub fn schemes() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut v = vec!["file"];
    #[cfg(feature = "aws")]
    v.extend(aws::SCHEMES);
    #[cfg(feature = "azure")]
    v.extend(azure::SCHEMES);
    v
}

/// A parsed bucket URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketUrl {
    /// A local folder (absolute).
    Local(PathBuf),
    /// A remote bucket: scheme, bucket (or container) and path prefix inside it.
    Remote {
        /// `s3`, `gs`, `az`... (lower case).
        scheme: String,
        /// Bucket or container.
        bucket: String,
        /// Path inside the bucket, without leading or trailing `/`.
        prefix: String,
        /// Host after `@` in `abfss://container@account.dfs.core.windows.net/path`.
        host: Option<String>,
    },
}

/// Schemes stevedore can be built to serve (see [`unsupported_scheme`] for the feature of
/// each); `file` is always built.
pub const KNOWN_SCHEMES: &[&str] = &["file", "s3", "s3a", "az", "abfs", "abfss", "azure", "gs", "gcs", "sftp"];

/// The bucket URL forms, for hints.
const URL_FORMS: &str =
    "s3://bucket/path, az://container/path, gs://bucket/path, file:///absolute/path, or a plain folder path such as data/lake";

/// Length of a leading `scheme:` (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`),
/// colon included.
fn scheme_prefix_len(url: &str) -> Option<usize> {
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))).then_some(colon + 1)
}

/// The right form of a URL of `scheme`, for hints.
fn url_form(scheme: &str) -> String {
    match scheme {
        "file" => "file:///absolute/path".to_string(),
        "az" | "abfs" | "abfss" | "azure" => format!("{scheme}://container/path"),
        "sftp" => "sftp://host[:port]/path".to_string(),
        s => format!("{s}://bucket/path"),
    }
}

/// Refuses text that looks like a URL but is not a well-formed one (`s3:/b`, `gs:b`, `s3//b`),
/// so that it is never taken as a local folder. `url` has no `://`.
fn refuse_malformed_url(url: &str) -> Result<()> {
    let looks_like = if let Some(n) = scheme_prefix_len(url) {
        Some((url[..n - 1].to_ascii_lowercase(), "`://` must follow the scheme"))
    } else {
        url.split_once("//")
            .map(|(head, _)| head.to_ascii_lowercase())
            .filter(|head| KNOWN_SCHEMES.contains(&head.as_str()))
            .map(|head| (head, "`:` is missing after the scheme"))
    };
    let Some((scheme, what)) = looks_like else { return Ok(()) };
    let redacted = redact_userinfo(url);
    let local = format!("./{}", redacted.trim_start_matches("./"));
    let hint = if KNOWN_SCHEMES.contains(&scheme.as_str()) {
        format!("write a URL as {}, or `{local}` for a local folder of that name", url_form(&scheme))
    } else {
        format!("known schemes: {}; write a URL as {URL_FORMS}; for a local folder of that name write `{local}`", KNOWN_SCHEMES.join(", "))
    };
    Err(Error::config(format!("bucket URL `{redacted}` is malformed: {what}")).with("bucket_url", redacted.clone()).with_hint(hint))
}

impl BucketUrl {
    /// Parses a bucket URL; relative native paths are resolved against `cwd`.
    ///
    /// Text that looks like a URL but is not a well-formed one (`s3:/bucket`, `gs:bucket`,
    /// `s3//bucket`, `file:/x`) is refused with [`ErrorKind::Config`], never taken as a local
    /// folder; a local folder whose name has such a form is written `./s3:x`. Any
    /// `scheme://` parses; whether this build serves it is checked when the bucket is opened.
    pub fn parse(url: &str, cwd: &Path) -> Result<BucketUrl> {
        let url = url.trim();
        if url.is_empty() {
            return Err(Error::config("bucket_url is empty")
                .with_hint("set [destination.filesystem] bucket_url, e.g. \"file:///data/lake\", \"./data\" or \"s3://bucket/path\""));
        }
        if let Some(rest) = url.strip_prefix("file://") {
            // file:///abs/path, or file://localhost/abs/path
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            if !rest.starts_with('/') {
                return Err(Error::config(format!("file URL `{}` is not absolute", redact_userinfo(url)))
                    .with_hint("use three slashes for an absolute path: file:///absolute/path, or a plain relative path"));
            }
            let decoded = options::percent_decode(rest);
            return Ok(BucketUrl::Local(PathBuf::from(decoded)));
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            if scheme_prefix_len(url) != Some(scheme.len() + 1) {
                return Err(Error::config(format!("bucket URL `{}` is malformed: `{scheme}` is not a URL scheme", redact_userinfo(url)))
                    .with_hint(format!("write a URL as {URL_FORMS}")));
            }
            let scheme = scheme.to_ascii_lowercase();
            let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if authority.contains(['?', '#']) || prefix.contains(['?', '#']) {
                return Err(Error::config(format!("bucket URL `{}` must not have a query or fragment", redact_userinfo(url)))
                    .with_hint("give credentials and options in [destination.filesystem.credentials], not in the URL"));
            }
            let (bucket, host) = match authority.split_once('@') {
                Some((b, h)) if matches!(scheme.as_str(), "abfs" | "abfss" | "az" | "azure") => (b, Some(h.to_string())),
                Some(_) => return Err(credentials_in_url(url)),
                None => (authority, None),
            };
            // `s3://KEY:SECRET/WITH/SLASHES@bucket`: credentials cut at a `/` of the secret;
            // bucket and container names never have a `:` (an sftp host may have a port)
            if bucket.contains(':') && (scheme != "sftp" || prefix.contains('@')) {
                return Err(credentials_in_url(url));
            }
            if bucket.is_empty() {
                return Err(Error::config(format!("bucket URL `{}` has no bucket name", redact_userinfo(url)))
                    .with("bucket_url", redact_userinfo(url))
                    .with_hint(format!("write {}", url_form(&scheme))));
            }
            return Ok(BucketUrl::Remote { scheme, bucket: bucket.to_string(), prefix: prefix.trim_matches('/').to_string(), host });
        }
        refuse_malformed_url(url)?;
        let p = PathBuf::from(url);
        let abs = if p.is_absolute() { p } else { cwd.join(p) };
        // drop `.` segments so displayed locations stay clean
        Ok(BucketUrl::Local(abs.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()))
    }

    /// Displayable form (never contains credentials).
    pub fn display(&self) -> String {
        match self {
            BucketUrl::Local(p) => format!("file://{}", p.display()),
            BucketUrl::Remote { scheme, bucket, prefix, host } => {
                let authority = match host {
                    Some(h) => format!("{bucket}@{h}"),
                    None => bucket.clone(),
                };
                if prefix.is_empty() { format!("{scheme}://{authority}") } else { format!("{scheme}://{authority}/{prefix}") }
            }
        }
    }

    /// The scheme (`file`, `s3`...).
    pub fn scheme(&self) -> &str {
        match self {
            BucketUrl::Local(_) => "file",
            BucketUrl::Remote { scheme, .. } => scheme,
        }
    }

    /// Whether this is a local folder.
    pub fn is_local(&self) -> bool {
        matches!(self, BucketUrl::Local(_))
    }

    /// The bucket or container name (empty for local folders).
    pub fn bucket(&self) -> &str {
        match self {
            BucketUrl::Local(_) => "",
            BucketUrl::Remote { bucket, .. } => bucket,
        }
    }
}

fn credentials_in_url(url: &str) -> Error {
    Error::config(format!("bucket URL `{}` must not contain credentials", redact_userinfo(url)))
        .with_hint("put credentials in [destination.filesystem.credentials] (or secrets.toml / the environment)")
}

/// `url` with anything that may be user info (credentials) replaced by `***`: from the start
/// of the authority (after `scheme:` and its slashes, or the start of the text) up to the last
/// `@`. Secrets may contain `/` and `@`, so this rather hides too much than too little.
fn redact_userinfo(url: &str) -> String {
    let start = scheme_prefix_len(url).unwrap_or(0);
    let start = start + url[start..].len() - url[start..].trim_start_matches('/').len();
    match url[start..].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &url[start + at..]),
        None => url.to_string(),
    }
}

/// What a bucket's store can do, declared by the code that built it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BucketCaps {
    /// Large files can be uploaded in parts (S3 multipart, Azure blocks), streamed from disk
    /// with bounded memory.
    pub multipart_upload: bool,
    /// Files up to this size go up in one request (read into memory first); larger ones use
    /// multipart upload.
    pub single_put_max: u64,
    /// Job file size to rotate at when this store prefers smaller files (e.g. single-request
    /// uploads only).
    pub recommended_file_size: Option<u64>,
}

impl Default for BucketCaps {
    fn default() -> Self {
        BucketCaps { multipart_upload: true, single_put_max: 8 << 20, recommended_file_size: None }
    }
}

impl BucketCaps {
    /// Sets `multipart_upload`.
    pub fn with_multipart_upload(mut self, v: bool) -> Self {
        self.multipart_upload = v;
        self
    }
    /// Sets `single_put_max`.
    pub fn with_single_put_max(mut self, v: u64) -> Self {
        self.single_put_max = v;
        self
    }
    /// Sets `recommended_file_size`.
    pub fn with_recommended_file_size(mut self, v: Option<u64>) -> Self {
        self.recommended_file_size = v;
        self
    }
}

/// What error messages may say about a bucket: which credentials and endpoint are in use
/// (names and origins, never values), and the secret values to scrub from any text.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct BucketContext {
    /// The credentials in use, e.g. `aws_access_key_id (environment variable X), ...` or
    /// `the default AWS credential chain`.
    pub auth: String,
    /// The settings to fix when credentials are rejected, e.g.
    /// `aws_access_key_id / aws_secret_access_key in [destination.filesystem.credentials]`.
    pub auth_settings: String,
    /// The endpoint in use and where it came from.
    pub endpoint: String,
    /// Secret values to remove from error texts.
    pub secrets: Secret<Vec<String>>,
    /// Backend-specific error classification.
    pub classify: Option<Classifier>,
}

impl BucketContext {
    /// A context with descriptions of the credentials and endpoint in use.
    pub fn new(auth: impl Into<String>, auth_settings: impl Into<String>, endpoint: impl Into<String>) -> Self {
        BucketContext {
            auth: auth.into(),
            auth_settings: auth_settings.into(),
            endpoint: endpoint.into(),
            secrets: Secret::new(Vec::new()),
            classify: None,
        }
    }
    /// Secret values to scrub from error texts.
    pub fn with_secrets(mut self, secrets: Vec<String>) -> Self {
        self.secrets = Secret::new(secrets);
        self
    }
    /// A backend-specific classifier.
    pub fn with_classifier(mut self, c: Classifier) -> Self {
        self.classify = Some(c);
        self
    }
}

impl std::fmt::Debug for BucketContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketContext").field("auth", &self.auth).field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

/// An opened bucket: the store and the path prefix all keys live under.
///
/// `Debug` shows the URL and prefix only: store clients may hold credentials.
#[derive(Clone)]
pub struct Bucket {
    /// The store, rooted at the bucket.
    pub store: Arc<dyn ObjectStore>,
    /// Path inside the store where the bucket URL points (may be empty).
    pub prefix: String,
    /// The URL it came from.
    pub url: BucketUrl,
    /// What the store can do.
    pub caps: BucketCaps,
    context: Arc<BucketContext>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("url", &self.url.display())
            .field("prefix", &self.prefix)
            .field("caps", &self.caps)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

/// Longest time the preflight check may take (connect timeouts and retries included).
pub const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(45);

impl Bucket {
    /// A bucket over `store`; for remote buckets the key prefix is the URL's path.
    pub fn new(store: Arc<dyn ObjectStore>, url: BucketUrl, caps: BucketCaps, context: BucketContext) -> Self {
        let prefix = match &url {
            BucketUrl::Local(_) => String::new(),
            BucketUrl::Remote { prefix, .. } => prefix.clone(),
        };
        Bucket { store, prefix, url, caps, context: Arc::new(context) }
    }

    /// A key inside the bucket prefix.
    pub fn key(&self, rel: &str) -> object_store::path::Path {
        if self.prefix.is_empty() {
            object_store::path::Path::from(rel)
        } else {
            object_store::path::Path::from(format!("{}/{}", self.prefix, rel))
        }
    }

    /// The URL of a key relative to the bucket prefix, for display and reference jobs.
    pub fn url_of(&self, rel: &str) -> String {
        format!("{}/{}", self.url.display().trim_end_matches('/'), rel)
    }

    /// Whether this is a local folder.
    pub fn is_local(&self) -> bool {
        matches!(self.url, BucketUrl::Local(_))
    }

    /// What messages may say about credentials and endpoint.
    pub fn context(&self) -> &BucketContext {
        &self.context
    }

    /// Removes secrets from a text.
    pub fn redact(&self, text: &str) -> String {
        redact(text, self.context.secrets.expose())
    }

    /// A store error's text for a message: redacted, on one line, at most
    /// [`MAX_DETAIL`] characters.
    fn detail(&self, e: &object_store::Error) -> String {
        condense(&self.redact(&e.to_string()))
    }

    /// Classifies a store error.
    pub fn classify(&self, e: &object_store::Error) -> Failure {
        classify(e, self.context.classify)
    }

    /// Turns a store error during `op` on `rel` (relative to the bucket prefix) into an error
    /// that names the bucket, is retryable when the failure is transient, and holds no secret.
    pub fn error(&self, op: &str, rel: &str, e: object_store::Error) -> Error {
        let failure = self.classify(&e);
        let detail = self.detail(&e);
        let (kind, what) = match failure {
            Failure::NotFound => (ErrorKind::NotFound, "not found"),
            Failure::Auth => (ErrorKind::Auth, "refused: credentials missing or rejected"),
            Failure::Connect => (ErrorKind::Destination, "failed: cannot reach the storage endpoint"),
            Failure::Transient => (ErrorKind::Destination, "failed (transient)"),
            Failure::Config => (ErrorKind::Config, "failed: invalid store settings"),
            Failure::Permanent => (ErrorKind::Destination, "failed"),
        };
        let mut err = Error::new(kind, format!("{op} {what}: {detail}"))
            .with("bucket", self.url.display())
            .with("path", rel.to_string())
            .retryable(failure.is_retryable());
        match failure {
            Failure::Auth => {
                err = err.with("credentials", self.context.auth.clone());
                if !self.context.auth_settings.is_empty() {
                    err = err.with_hint(format!("check {}", self.context.auth_settings));
                }
            }
            Failure::Connect if !self.context.endpoint.is_empty() => {
                err = err.with("endpoint", self.context.endpoint.clone());
            }
            _ => {}
        }
        err
    }

    /// Checks, before anything is written, that the bucket exists and its prefix can be listed
    /// with the configured credentials (one list request, first page only). Local folders pass.
    ///
    /// Errors name the bucket and the setting to fix and never contain a secret: a missing
    /// bucket is [`ErrorKind::NotFound`], rejected or missing credentials [`ErrorKind::Auth`]
    /// (not retryable), an unreachable endpoint or a transient failure a retryable
    /// [`ErrorKind::Destination`] error.
    pub async fn preflight(&self) -> Result<()> {
        if self.is_local() {
            return Ok(());
        }
        let prefix = (!self.prefix.is_empty()).then(|| object_store::path::Path::from(self.prefix.as_str()));
        let store = self.store.clone();
        let first = async move {
            let mut s = store.list(prefix.as_ref());
            s.next().await
        };
        let started = std::time::Instant::now();
        let r = tokio::time::timeout(PREFLIGHT_TIMEOUT, first).await;
        tracing::debug!(bucket = %self.url.display(), elapsed_ms = started.elapsed().as_millis() as u64, "bucket preflight");
        match r {
            Err(_) => Err(self.preflight_failure(Failure::Connect, format!("no answer within {} s", PREFLIGHT_TIMEOUT.as_secs()))),
            Ok(None) | Ok(Some(Ok(_))) => Ok(()),
            Ok(Some(Err(e))) => {
                let failure = self.classify(&e);
                Err(self.preflight_failure(failure, self.detail(&e)))
            }
        }
    }

    fn preflight_failure(&self, failure: Failure, detail: String) -> Error {
        let bucket = self.url.bucket();
        let url = self.url.display();
        let ctx = &self.context;
        let e = match failure {
            Failure::NotFound => Error::new(
                ErrorKind::NotFound,
                format!("bucket `{bucket}` does not exist (or is not visible with these credentials): {detail}"),
            )
            .with_hint(
                "create the bucket first (stevedore, like dlt, does not create buckets), or fix bucket_url in [destination.filesystem]",
            ),
            Failure::Auth => {
                let e = Error::new(
                    ErrorKind::Auth,
                    format!("access to bucket `{bucket}` was refused: credentials missing or rejected: {detail}"),
                )
                .with("credentials", ctx.auth.clone());
                if ctx.auth_settings.is_empty() { e } else { e.with_hint(format!("check {}", ctx.auth_settings)) }
            }
            Failure::Connect => {
                Error::new(ErrorKind::Destination, format!("cannot reach the storage endpoint of bucket `{bucket}`: {detail}"))
                    .with("endpoint", ctx.endpoint.clone())
                    .with_hint("check endpoint_url in [destination.filesystem.credentials] and that the service is reachable")
                    .retryable(true)
            }
            Failure::Config => Error::new(ErrorKind::Config, format!("bucket `{bucket}` cannot be used: {detail}")),
            Failure::Transient => {
                Error::new(ErrorKind::Destination, format!("checking bucket `{bucket}` failed with a transient error: {detail}"))
                    .with("endpoint", ctx.endpoint.clone())
                    .retryable(true)
            }
            Failure::Permanent => Error::new(ErrorKind::Destination, format!("checking bucket `{bucket}` failed: {detail}"))
                .with("endpoint", ctx.endpoint.clone()),
        };
        e.with("bucket_url", url)
    }
}

/// Longest store error text kept in a message.
pub const MAX_DETAIL: usize = 600;

/// One line, XML declarations dropped, runs of white space collapsed, cut at [`MAX_DETAIL`].
fn condense(text: &str) -> String {
    let mut t = text.to_string();
    while let Some(i) = t.find("<?xml") {
        match t[i..].find("?>") {
            Some(j) => t.replace_range(i..i + j + 2, ""),
            None => break,
        }
    }
    let mut out = String::with_capacity(t.len());
    for word in t.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.chars().count() > MAX_DETAIL {
        out = out.chars().take(MAX_DETAIL).collect::<String>() + " …";
    }
    out
}

/// Opens a bucket of a scheme this crate builds. Local folders are created when missing
/// (dlt's `auto_mkdir`); remote buckets are not touched until [`Bucket::preflight`] or the
/// first operation.
pub fn open(url: &BucketUrl, options: &StoreOptions) -> Result<Bucket> {
    match url {
        BucketUrl::Local(dir) => {
            let _ = options;
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::io("create bucket folder", dir, e).with_hint("check that the folder is writable or choose another bucket_url")
            })?;
            let store = LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| Error::new(ErrorKind::Config, format!("cannot open {}: {e}", dir.display())))?;
            Ok(Bucket::new(
                Arc::new(store),
                url.clone(),
                BucketCaps::default(),
                BucketContext::new("local files", "", format!("file://{}", dir.display())),
            ))
        }
        #[cfg(feature = "aws")]
        BucketUrl::Remote { scheme, .. } if aws::SCHEMES.contains(&scheme.as_str()) => aws::open(url, options),
        #[cfg(feature = "azure")]
        BucketUrl::Remote { scheme, .. } if azure::SCHEMES.contains(&scheme.as_str()) => azure::open(url, options),
        BucketUrl::Remote { scheme, .. } => Err(unsupported_scheme(scheme, url, &schemes())),
    }
}

/// The error for a scheme this build cannot open, listing the schemes it can: a scheme of
/// [`KNOWN_SCHEMES`] is [`ErrorKind::Unsupported`] naming the feature that builds it, any other
/// scheme a [`ErrorKind::Config`] error (a typo, or a store stevedore does not have).
pub fn unsupported_scheme(scheme: &str, url: &BucketUrl, available: &[&str]) -> Error {
    let feature = match scheme {
        "s3" | "s3a" => Some("s3"),
        "az" | "abfs" | "abfss" | "azure" => Some("azure"),
        "gs" | "gcs" => Some("gcs"),
        "sftp" => Some("sftp"),
        _ => None,
    };
    match feature {
        Some(f) => Error::new(ErrorKind::Unsupported, format!("bucket scheme `{scheme}://` is not available in this build"))
            .with("bucket_url", url.display())
            .with_hint(format!("available schemes: {}; build stevedore with feature `{f}` for {scheme}://", available.join(", "))),
        None => Error::config(format!("unknown bucket URL scheme `{scheme}://` in `{}`", url.display()))
            .with("bucket_url", url.display())
            .with_hint(format!("schemes of this build: {}; write a URL as {URL_FORMS}", available.join(", "))),
    }
}

/// Retry settings of remote stores: few, short retries, so a transient failure surfaces to
/// the loader (which retries whole jobs with its own backoff) within seconds, and a dead
/// endpoint fails the preflight quickly.
#[cfg(any(feature = "aws", feature = "azure"))]
pub(crate) fn retry_config() -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig { init_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(2), base: 2.0 },
        max_retries: 3,
        retry_timeout: Duration::from_secs(20),
    }
}

/// HTTP client options shared by the S3 and Azure stores: short connect timeout, `verify`
/// and `use_ssl` from dlt's kwargs.
#[cfg(any(feature = "aws", feature = "azure"))]
pub(crate) fn client_options(options: &StoreOptions, endpoint: Option<&str>) -> Result<object_store::ClientOptions> {
    let mut co = object_store::ClientOptions::new().with_connect_timeout(Duration::from_secs(5)).with_timeout(Duration::from_secs(120));
    let http_endpoint = endpoint.is_some_and(|e| e.starts_with("http://"));
    if http_endpoint || options.kwarg_bool("use_ssl") == Some(false) {
        co = co.with_allow_http(true);
    }
    match options.verify() {
        options::Verify::Default => {}
        options::Verify::Off => co = co.with_allow_invalid_certificates(true),
        options::Verify::CaBundle(path) => {
            let pem = std::fs::read(&path).map_err(|e| {
                Error::io("read the CA bundle given in client_kwargs.verify", Path::new(&path), e).with("setting", "client_kwargs.verify")
            })?;
            let cert = object_store::Certificate::from_pem(&pem)
                .map_err(|e| Error::config(format!("client_kwargs.verify: `{path}` is not a PEM certificate: {e}")))?;
            co = co.with_root_certificate(cert);
        }
    }
    Ok(co)
}

/// An environment variable, when set and not empty.
#[cfg(any(feature = "aws", feature = "azure"))]
pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_forms() {
        let cwd = Path::new("/work");
        assert_eq!(BucketUrl::parse("file:///abs/p", cwd).unwrap(), BucketUrl::Local("/abs/p".into()));
        assert_eq!(BucketUrl::parse("file://localhost/abs/p", cwd).unwrap(), BucketUrl::Local("/abs/p".into()));
        assert_eq!(BucketUrl::parse("file:///a%20b", cwd).unwrap(), BucketUrl::Local("/a b".into()));
        assert_eq!(BucketUrl::parse("/var/local/data", cwd).unwrap(), BucketUrl::Local("/var/local/data".into()));
        assert_eq!(BucketUrl::parse("_storage/data", cwd).unwrap(), BucketUrl::Local("/work/_storage/data".into()));
        assert!(BucketUrl::parse("file://relative", cwd).is_err());
        assert!(BucketUrl::parse("", cwd).is_err());
    }

    #[test]
    fn parses_remote_forms() {
        let u = BucketUrl::parse("s3://bucket/a/b/", Path::new("/")).unwrap();
        assert_eq!(u, BucketUrl::Remote { scheme: "s3".into(), bucket: "bucket".into(), prefix: "a/b".into(), host: None });
        assert_eq!(u.display(), "s3://bucket/a/b");
        assert_eq!(u.bucket(), "bucket");
        let u = BucketUrl::parse("abfss://cont@acct.dfs.core.windows.net/p", Path::new("/")).unwrap();
        assert_eq!(u.bucket(), "cont");
        assert_eq!(u.display(), "abfss://cont@acct.dfs.core.windows.net/p");
        let e = BucketUrl::parse("s3://KEY:SECRETVALUE@bucket/x", Path::new("/")).unwrap_err();
        assert!(!e.to_string().contains("SECRETVALUE"), "{e}");
        assert!(BucketUrl::parse("s3://b/x?sig=1", Path::new("/")).is_err());
    }

    #[test]
    fn refuses_unbuilt_schemes_naming_the_feature() {
        // gs:// is built by stevedore-opendal, never by this crate
        let u = BucketUrl::parse("gs://bucket/a", Path::new("/")).unwrap();
        let e = open(&u, &StoreOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("gs://"), "{e}");
        assert!(e.hint().unwrap().contains("feature `gcs`"), "{e}");
        let e = unsupported_scheme("sftp", &u, &["file"]);
        assert!(e.to_string().contains("feature `sftp`"), "{e}");
    }

    #[test]
    fn unknown_schemes_are_config_errors_listing_the_known_ones() {
        for url in ["foo://bar", "ftpx://bucket/a", "webdav://h/x"] {
            let u = BucketUrl::parse(url, Path::new("/")).unwrap();
            let e = open(&u, &StoreOptions::default()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{url}: {e}");
            let scheme = url.split("://").next().unwrap();
            assert!(e.message().contains(&format!("unknown bucket URL scheme `{scheme}://`")), "{e}");
            assert_eq!(e.context_value("bucket_url"), Some(url));
            let hint = e.hint().unwrap();
            assert!(hint.contains(&schemes().join(", ")), "{hint}");
            assert!(hint.contains("s3://bucket/path"), "{hint}");
        }
    }

    #[test]
    fn malformed_urls_are_refused_not_taken_as_folders() {
        let cwd = Path::new("/work");
        for (url, what, form) in [
            ("s3:/nobucket", "`://` must follow the scheme", "s3://bucket/path"),
            ("S3:/nobucket/x", "`://` must follow the scheme", "s3://bucket/path"),
            ("s3//x", "`:` is missing after the scheme", "s3://bucket/path"),
            ("gs:x", "`://` must follow the scheme", "gs://bucket/path"),
            ("az:/c", "`://` must follow the scheme", "az://container/path"),
            ("abfss:/c", "`://` must follow the scheme", "abfss://container/path"),
            ("file:/abs/path", "`://` must follow the scheme", "file:///absolute/path"),
            ("file:relative", "`://` must follow the scheme", "file:///absolute/path"),
            ("sftp:host/x", "`://` must follow the scheme", "sftp://host[:port]/path"),
            ("foo:/bar", "`://` must follow the scheme", "s3://bucket/path"),
        ] {
            let e = BucketUrl::parse(url, cwd).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{url}: {e}");
            assert!(e.message().contains(&format!("bucket URL `{url}` is malformed: {what}")), "{url}: {e}");
            let hint = e.hint().unwrap();
            assert!(hint.contains(form), "{url}: {hint}");
            assert!(hint.contains(&format!("`./{url}`")), "a local folder of that name: {hint}");
        }
        let hint = BucketUrl::parse("foo:/bar", cwd).unwrap_err().hint().unwrap().to_string();
        assert!(hint.contains(&KNOWN_SCHEMES.join(", ")), "{hint}");
        for url in ["./x://y", "a b://x", "://x", "1s3://b"] {
            let e = BucketUrl::parse(url, cwd).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{url}: {e}");
            assert!(e.message().contains("is not a URL scheme"), "{url}: {e}");
        }
        for url in ["s3:///x", "gs://"] {
            let e = BucketUrl::parse(url, cwd).unwrap_err();
            assert!(e.message().contains("has no bucket name"), "{url}: {e}");
            assert!(e.hint().unwrap().contains("://bucket/path"), "{url}: {e}");
        }
    }

    #[test]
    fn plain_paths_stay_local_folders() {
        let cwd = Path::new("/work");
        for (url, path) in [
            ("data/lake", "/work/data/lake"),
            ("./x", "/work/x"),
            ("s3data/x", "/work/s3data/x"),
            ("s3/x", "/work/s3/x"),
            ("./s3:x", "/work/s3:x"),
            ("./s3//x", "/work/s3/x"),
            ("/abs/s3:/x", "/abs/s3:/x"),
            ("../lake", "/work/../lake"),
            ("_storage/data", "/work/_storage/data"),
            ("data/user@host", "/work/data/user@host"),
        ] {
            assert_eq!(BucketUrl::parse(url, cwd).unwrap(), BucketUrl::Local(path.into()), "{url}");
        }
    }

    #[test]
    fn credentials_never_appear_in_url_errors() {
        let cwd = Path::new("/");
        for url in [
            "s3://KEY:SECRETVALUE@bucket/x",
            "s3://KEY:SECRET/VALUE@bucket/x",
            "s3://KEY:SECRET/VAL@UE@bucket/x",
            "s3:/KEY:SECRETVALUE@bucket/x",
            "s3:KEY:SECRETVALUE@bucket",
            "s3//KEY:SECRETVALUE@bucket",
            "gs://KEY:SECRETVALUE@bucket/x?y",
            "file://KEY:SECRETVALUE@host/x",
        ] {
            let e = BucketUrl::parse(url, cwd).unwrap_err();
            let text = format!("{e} {:?}", e.hint());
            for part in ["SECRET", "VALUE", "VAL"] {
                assert!(!text.contains(part), "{url}: {text}");
            }
            assert_eq!(e.kind(), ErrorKind::Config, "{url}: {e}");
        }
        assert_eq!(redact_userinfo("s3://K:S/E@C@b/p"), "s3://***@b/p");
        assert_eq!(redact_userinfo("s3:/K:S@b"), "s3:/***@b");
        assert_eq!(redact_userinfo("abfss://cont@acct.dfs.core.windows.net/p"), "abfss://***@acct.dfs.core.windows.net/p");
        assert_eq!(redact_userinfo("s3://bucket/p"), "s3://bucket/p");
        // a port is not a credential
        assert!(BucketUrl::parse("sftp://files.example.com:2222/srv", cwd).is_ok());
    }

    #[test]
    fn details_are_condensed() {
        let t = condense("Error: <?xml version=\"1.0\"?>\n<Error>\n  <Code>NoSuchBucket</Code>\n</Error>");
        assert_eq!(t, "Error: <Error> <Code>NoSuchBucket</Code> </Error>");
        assert!(condense(&"x ".repeat(2000)).ends_with('…'));
    }

    #[test]
    fn opens_and_creates_local_folder() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x/y");
        let b = open(&BucketUrl::Local(p.clone()), &StoreOptions::default()).unwrap();
        assert!(p.is_dir());
        assert_eq!(b.key("a/b.txt").as_ref(), "a/b.txt");
        assert!(format!("{b:?}").contains("file://"));
    }
}

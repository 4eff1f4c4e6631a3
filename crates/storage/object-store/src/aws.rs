//! `s3://` buckets through object_store's S3 client.
//!
//! Credentials, in order (as botocore resolves them for dlt):
//! 1. `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`) from the config;
//! 2. `profile_name`: static keys of that profile in `~/.aws/credentials` / `~/.aws/config`
//!    (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`);
//! 3. the default chain: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`),
//!    the `AWS_PROFILE` (or `default`) profile's static keys, web identity
//!    (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`), ECS/EKS container credentials, and the
//!    EC2 instance metadata service, unless `AWS_EC2_METADATA_DISABLED=true`.
//!
//! Region: `region_name`, `client_kwargs.region_name`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the
//! profile's region, else `us-east-1`. Endpoint: `endpoint_url`, `client_kwargs.endpoint_url`,
//! `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, else AWS. Custom endpoints use path-style
//! requests (MinIO, moto, R2 accept them); `kwargs.use_ssl = false` or an `http://` endpoint
//! allows plain HTTP; `client_kwargs.verify = false` / a CA bundle path set TLS verification;
//! `kwargs.anon = true` sends unsigned requests (public buckets).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use stevedore_core::config::Secret;
use stevedore_core::{Error, Result};

use crate::options::{describe, describe_secret};
use crate::{Bucket, BucketCaps, BucketContext, BucketUrl, StoreOptions, env};

/// Schemes served here.
pub(crate) const SCHEMES: &[&str] = &["s3", "s3a"];

/// kwargs / client_kwargs understood for S3.
const KWARGS: &[&str] = &["use_ssl", "verify", "endpoint_url", "region_name", "anon", "auto_mkdir", "virtual_hosted_style_request"];

const KEYS_HINT: &str = "aws_access_key_id / aws_secret_access_key in [destination.filesystem.credentials] (env DESTINATION__FILESYSTEM__CREDENTIALS__AWS_ACCESS_KEY_ID / __AWS_SECRET_ACCESS_KEY)";

struct Keys {
    key_id: Secret<String>,
    secret: Secret<String>,
    token: Option<Secret<String>>,
    description: String,
}

pub(crate) fn open(url: &BucketUrl, options: &StoreOptions) -> Result<Bucket> {
    let BucketUrl::Remote { bucket, .. } = url else { unreachable!("local URLs are opened elsewhere") };
    let c = &options.credentials;
    options.warn_unused("s3", KWARGS);

    let (endpoint, endpoint_desc) = if let Some(e) = &c.endpoint_url {
        (Some(e.value.clone()), describe("endpoint_url", &c.endpoint_url).unwrap_or_default())
    } else if let Some(e) = options.kwarg_str("endpoint_url") {
        (Some(e.clone()), format!("client_kwargs.endpoint_url = {e}"))
    } else if let Some(e) = env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")) {
        (Some(e.clone()), format!("endpoint {e} (environment AWS_ENDPOINT_URL[_S3])"))
    } else {
        (None, String::new())
    };
    let endpoint = endpoint.map(|e| normalize_endpoint(&e, options.kwarg_bool("use_ssl")));

    let mut profile_region = None;
    let mut secrets = c.secret_values();
    let anon = options.kwarg_bool("anon") == Some(true);

    let mut builder = AmazonS3Builder::new();
    let keys = if anon {
        None
    } else if let (Some(k), Some(s)) = (&c.aws_access_key_id, &c.aws_secret_access_key) {
        Some(Keys {
            key_id: k.value.clone(),
            secret: s.value.clone(),
            token: c.aws_session_token.as_ref().map(|t| t.value.clone()),
            description: [
                describe_secret("aws_access_key_id", &c.aws_access_key_id),
                describe_secret("aws_secret_access_key", &c.aws_secret_access_key),
                describe_secret("aws_session_token", &c.aws_session_token),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        })
    } else if c.aws_access_key_id.is_some() || c.aws_secret_access_key.is_some() {
        let (given, missing) = if c.aws_access_key_id.is_some() {
            (describe_secret("aws_access_key_id", &c.aws_access_key_id), "aws_secret_access_key")
        } else {
            (describe_secret("aws_secret_access_key", &c.aws_secret_access_key), "aws_access_key_id")
        };
        return Err(Error::config(format!("bucket `{bucket}`: {missing} is missing; S3 keys come in pairs"))
            .with("given", given.unwrap_or_default())
            .with("bucket_url", url.display())
            .with_hint(format!(
                "set {missing} in [destination.filesystem.credentials] (or secrets.toml, or DESTINATION__FILESYSTEM__CREDENTIALS__{})",
                missing.to_uppercase()
            )));
    } else if let Some(p) = &c.profile_name {
        let prof = Profile::load(&p.value)
            .map_err(|why| {
                Error::config(format!("AWS profile `{}` cannot be used: {why}", p.value))
                    .with("setting", format!("profile_name ({})", p.origin))
                    .with("bucket_url", url.display())
            })?
            .ok_or_else(|| {
                Error::config(format!("AWS profile `{}` was not found in {}", p.value, Profile::files_display()))
                    .with("setting", format!("profile_name ({})", p.origin))
                    .with("bucket_url", url.display())
                    .with_hint("create the profile (aws configure --profile NAME) or fix profile_name")
            })?;
        profile_region = prof.region.clone();
        let keys = prof.keys().map_err(|why| {
            Error::config(format!("AWS profile `{}` cannot be used: {why}", p.value))
                .with("setting", format!("profile_name ({})", p.origin))
                .with("bucket_url", url.display())
        })?;
        secrets.extend(keys.secret_values());
        Some(Keys { description: format!("profile `{}` ({})", p.value, p.origin), ..keys })
    } else {
        // the default chain
        if let (Some(k), Some(s)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            let token = env("AWS_SESSION_TOKEN");
            secrets.extend([k.clone(), s.clone()]);
            secrets.extend(token.clone());
            Some(Keys {
                key_id: Secret::new(k),
                secret: Secret::new(s),
                token: token.map(Secret::new),
                description: "environment variables AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default chain: no keys in [destination.filesystem.credentials])".into(),
            })
        } else {
            let name = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
            let prof = Profile::load(&name).ok().flatten();
            match prof.as_ref().map(|p| (p, p.keys())) {
                Some((p, Ok(keys))) => {
                    profile_region = p.region.clone();
                    secrets.extend(keys.secret_values());
                    Some(Keys {
                        description: format!(
                            "profile `{name}` from {} (default chain: no keys in [destination.filesystem.credentials])",
                            Profile::files_display()
                        ),
                        ..keys
                    })
                }
                _ => {
                    profile_region = prof.and_then(|p| p.region);
                    None
                }
            }
        }
    };

    let region = c
        .region_name
        .as_ref()
        .map(|r| r.value.clone())
        .or_else(|| options.kwarg_str("region_name"))
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or(profile_region)
        .unwrap_or_else(|| "us-east-1".to_string());

    let auth = match (&keys, anon) {
        (_, true) => "anonymous requests (kwargs.anon = true)".to_string(),
        (Some(k), _) => k.description.clone(),
        (None, _) => {
            let from_env = |k: &str| env(k).is_some();
            let chain = if from_env("AWS_WEB_IDENTITY_TOKEN_FILE") && from_env("AWS_ROLE_ARN") {
                Some("web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)")
            } else if from_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
                || (from_env("AWS_CONTAINER_CREDENTIALS_FULL_URI") && from_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
            {
                Some("container credentials (AWS_CONTAINER_CREDENTIALS_*)")
            } else if env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
                None
            } else {
                Some("the EC2 instance metadata service")
            };
            let Some(chain) = chain else {
                return Err(Error::new(stevedore_core::ErrorKind::Auth, format!("no AWS credentials found for bucket `{bucket}`"))
                    .with("bucket_url", url.display())
                    .with_hint(format!(
                        "set {KEYS_HINT}, or profile_name, or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY \
                     (the instance metadata service is disabled by AWS_EC2_METADATA_DISABLED)"
                    )));
            };
            builder = AmazonS3Builder::from_env();
            format!("default credential chain: {chain} (no aws_access_key_id / aws_secret_access_key configured)")
        }
    };

    builder = builder
        .with_bucket_name(bucket)
        .with_region(&region)
        .with_retry(crate::retry_config())
        .with_client_options(crate::client_options(options, endpoint.as_deref())?);
    if let Some(k) = keys {
        builder = builder.with_access_key_id(k.key_id.expose()).with_secret_access_key(k.secret.expose());
        if let Some(t) = &k.token {
            builder = builder.with_token(t.expose());
        }
    }
    if anon {
        builder = builder.with_skip_signature(true);
    }
    let endpoint_desc = match &endpoint {
        Some(e) => {
            builder = builder
                .with_endpoint(e)
                .with_virtual_hosted_style_request(options.kwarg_bool("virtual_hosted_style_request").unwrap_or(false));
            if e.starts_with("http://") {
                builder = builder.with_allow_http(true);
            }
            endpoint_desc
        }
        None => {
            builder = builder.with_virtual_hosted_style_request(options.kwarg_bool("virtual_hosted_style_request").unwrap_or(false));
            format!("https://s3.{region}.amazonaws.com (region {region})")
        }
    };
    for (k, v) in options.store_overrides.expose() {
        match k.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            Ok(key) => {
                if matches!(key, AmazonS3ConfigKey::SecretAccessKey | AmazonS3ConfigKey::Token) {
                    secrets.push(v.clone());
                }
                builder = builder.with_config(key, v);
            }
            Err(_) => tracing::debug!(option = %k, "not an S3 store option; left to the table format"),
        }
    }
    let store = builder.build().map_err(|e| {
        Error::config(format!("cannot configure the S3 client: {}", crate::redact(&e.to_string(), &secrets)))
            .with("bucket_url", url.display())
    })?;
    let ctx = BucketContext::new(auth, KEYS_HINT, endpoint_desc).with_secrets(secrets);
    Ok(Bucket::new(Arc::new(store), url.clone(), BucketCaps::default(), ctx))
}

/// `host:port` → `https://host:port` (or `http://` when `use_ssl` is false); trailing `/` dropped.
fn normalize_endpoint(e: &str, use_ssl: Option<bool>) -> String {
    let e = e.trim().trim_end_matches('/');
    if e.contains("://") {
        e.to_string()
    } else if use_ssl == Some(false) {
        format!("http://{e}")
    } else {
        format!("https://{e}")
    }
}

impl Keys {
    fn secret_values(&self) -> Vec<String> {
        let mut v = vec![self.key_id.expose().clone(), self.secret.expose().clone()];
        v.extend(self.token.as_ref().map(|t| t.expose().clone()));
        v
    }
}

/// One profile of the AWS shared files (static keys and region only).
#[derive(Default)]
struct Profile {
    values: BTreeMap<String, String>,
    region: Option<String>,
}

impl Profile {
    fn credentials_file() -> Option<PathBuf> {
        env("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from).or_else(|| home().map(|h| h.join(".aws").join("credentials")))
    }
    fn config_file() -> Option<PathBuf> {
        env("AWS_CONFIG_FILE").map(PathBuf::from).or_else(|| home().map(|h| h.join(".aws").join("config")))
    }
    fn files_display() -> String {
        [Self::credentials_file(), Self::config_file()]
            .into_iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" and ")
    }

    /// Reads profile `name` from both files (credentials file wins); None when absent.
    fn load(name: &str) -> std::result::Result<Option<Profile>, String> {
        let mut found = false;
        let mut p = Profile::default();
        if let Some(path) = Self::credentials_file()
            && let Ok(text) = std::fs::read_to_string(&path)
            && let Some(sec) = ini_section(&text, name)
        {
            found = true;
            p.values.extend(sec);
        }
        if let Some(path) = Self::config_file()
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            let header = if name == "default" { "default".to_string() } else { format!("profile {name}") };
            if let Some(sec) = ini_section(&text, &header) {
                found = true;
                for (k, v) in sec {
                    p.values.entry(k).or_insert(v);
                }
            }
        }
        p.region = p.values.get("region").cloned();
        Ok(found.then_some(p))
    }

    fn keys(&self) -> std::result::Result<Keys, String> {
        match (self.values.get("aws_access_key_id"), self.values.get("aws_secret_access_key")) {
            (Some(k), Some(s)) => Ok(Keys {
                key_id: Secret::new(k.clone()),
                secret: Secret::new(s.clone()),
                token: self.values.get("aws_session_token").map(|t| Secret::new(t.clone())),
                description: String::new(),
            }),
            _ => {
                let other: Vec<&str> = ["sso_session", "sso_start_url", "role_arn", "credential_process", "web_identity_token_file"]
                    .into_iter()
                    .filter(|k| self.values.contains_key(*k))
                    .collect();
                if other.is_empty() {
                    Err("it has no aws_access_key_id / aws_secret_access_key".into())
                } else {
                    Err(format!(
                        "it uses {}, which stevedore does not resolve; only profiles with static keys are supported \
                         (export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, e.g. with \
                         `aws configure export-credentials --format env`)",
                        other.join(", ")
                    ))
                }
            }
        }
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// Key/values of `[section]` in an INI text (keys lower-cased, values trimmed).
fn ini_section(text: &str, section: &str) -> Option<BTreeMap<String, String>> {
    let mut current: Option<bool> = None;
    let mut out: Option<BTreeMap<String, String>> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let hit = h.trim() == section;
            current = Some(hit);
            if hit && out.is_none() {
                out = Some(BTreeMap::new());
            }
            continue;
        }
        if current == Some(true)
            && let Some((k, v)) = line.split_once('=')
            && let Some(m) = out.as_mut()
        {
            m.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credentials;

    #[test]
    fn reads_ini_sections() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key=B\n\n[profile dev]\nregion = eu-west-1\nrole_arn = x\n";
        let d = ini_section(text, "default").unwrap();
        assert_eq!(d["aws_access_key_id"], "A");
        assert_eq!(d["aws_secret_access_key"], "B");
        let p = ini_section(text, "profile dev").unwrap();
        assert_eq!(p["region"], "eu-west-1");
        assert!(ini_section(text, "nope").is_none());
        let prof = Profile { values: p, region: None };
        let e = prof.keys().err().unwrap();
        assert!(e.contains("role_arn"), "{e}");
    }

    #[test]
    fn endpoint_forms() {
        assert_eq!(normalize_endpoint("127.0.0.1:9000", Some(false)), "http://127.0.0.1:9000");
        assert_eq!(normalize_endpoint("minio.local:9000/", None), "https://minio.local:9000");
        assert_eq!(normalize_endpoint("http://h:1/", None), "http://h:1");
    }

    #[test]
    fn half_a_key_pair_is_a_config_error_without_the_value() {
        let mut c = Credentials::new().with_aws_keys("AKIAHALFKEY", "x");
        c.aws_secret_access_key = None;
        let u = BucketUrl::parse("s3://b/p", std::path::Path::new("/")).unwrap();
        let e = open(&u, &StoreOptions::new(c)).unwrap_err();
        let t = format!("{e:?}");
        assert!(t.contains("aws_secret_access_key is missing") && !t.contains("AKIAHALFKEY"), "{t}");
    }

    #[test]
    fn opening_does_no_io_and_debug_hides_keys() {
        let c = Credentials::new()
            .with_aws_keys("AKIAOPENKEY", "SECRETOPENVALUE")
            .with_endpoint_url("http://127.0.0.1:9")
            .with_region_name("eu-central-1");
        let u = BucketUrl::parse("s3://b/p", std::path::Path::new("/")).unwrap();
        let b = open(&u, &StoreOptions::new(c)).unwrap();
        let d = format!("{b:?}");
        assert!(!d.contains("SECRETOPENVALUE") && !d.contains("AKIAOPENKEY"), "{d}");
        assert_eq!(b.key("x").as_ref(), "p/x");
    }
}

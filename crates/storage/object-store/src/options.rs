//! Options a bucket is opened with: dlt's credential keys, `kwargs` and `client_kwargs`.
//!
//! Credentials keep dlt's names (`aws_access_key_id`, `azure_storage_account_key`,
//! `private_key`...). Secret values stay in [`Secret`] from the moment they are read from the
//! configuration until they are handed to the store builder; `Debug` prints `***` for them.
//! Each value remembers where it came from (a file and line, an environment variable), so error
//! messages can name the setting without showing it.

// the store builders that use these helpers are behind the `aws` and `azure` features
#![cfg_attr(not(any(feature = "aws", feature = "azure")), allow(dead_code))]

use std::collections::BTreeMap;

use stevedore_core::config::{ResolvedSection, ResolvedValue, Secret};
use stevedore_core::{Error, Result};

/// A credential value that is not secret, with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value.
    pub value: String,
    /// Where it came from (`environment variable X`, `/p/.stevedore/secrets.toml:3`, `code`).
    pub origin: String,
}

/// A secret credential value, with its origin. `Debug` never shows the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSetting {
    /// The value.
    pub value: Secret<String>,
    /// Where it came from.
    pub origin: String,
}

/// The credential keys dlt's filesystem destination accepts, per scheme.
///
/// Fill it from configuration with [`Credentials::from_sections`] or in code with the `with_*`
/// setters. Keys that do not apply to the bucket's scheme are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    /// S3 access key id (secret, as in dlt).
    pub aws_access_key_id: Option<SecretSetting>,
    /// S3 secret access key.
    pub aws_secret_access_key: Option<SecretSetting>,
    /// S3 session token (temporary credentials).
    pub aws_session_token: Option<SecretSetting>,
    /// AWS profile in `~/.aws/credentials` / `~/.aws/config` (static keys only).
    pub profile_name: Option<Setting>,
    /// AWS region.
    pub region_name: Option<Setting>,
    /// Endpoint of an S3-compatible store (MinIO, R2...); also the endpoint override of
    /// `az://` (e.g. azurite) and `gs://` (e.g. fake-gcs-server) buckets.
    pub endpoint_url: Option<Setting>,
    /// GCP project.
    pub project_id: Option<Setting>,
    /// GCP service account private key (PEM).
    pub private_key: Option<SecretSetting>,
    /// GCP service account email.
    pub client_email: Option<Setting>,
    /// Azure storage account name.
    pub azure_storage_account_name: Option<Setting>,
    /// Azure storage account key.
    pub azure_storage_account_key: Option<SecretSetting>,
    /// Azure SAS token.
    pub azure_storage_sas_token: Option<SecretSetting>,
    /// Azure service principal client id.
    pub azure_client_id: Option<Setting>,
    /// Azure service principal secret.
    pub azure_client_secret: Option<SecretSetting>,
    /// Azure tenant.
    pub azure_tenant_id: Option<Setting>,
    /// SFTP user.
    pub sftp_username: Option<Setting>,
    /// SFTP port (default 22, or the port in the URL).
    pub sftp_port: Option<Setting>,
    /// SFTP private key file.
    pub sftp_key_filename: Option<Setting>,
    /// SFTP password (not supported by the ssh client in use: an error names it).
    pub sftp_password: Option<SecretSetting>,
    /// SFTP key passphrase (not supported: use ssh-agent).
    pub sftp_key_passphrase: Option<SecretSetting>,
}

const CODE: &str = "code";

fn plain(v: impl Into<String>) -> Option<Setting> {
    Some(Setting { value: v.into(), origin: CODE.into() })
}

fn secret(v: impl Into<String>) -> Option<SecretSetting> {
    Some(SecretSetting { value: Secret::new(v.into()), origin: CODE.into() })
}

impl Credentials {
    /// No credentials: the scheme's default credential chain is used.
    pub fn new() -> Self {
        Self::default()
    }

    /// The credentials that are set, under dlt's key names, every value kept secret: what the
    /// staging chain forwards to the final destination (dlt's `staging_config.credentials`).
    pub fn to_key_map(&self) -> BTreeMap<String, Secret<String>> {
        let plain = |v: &Option<Setting>| v.as_ref().map(|s| Secret::new(s.value.clone()));
        let secret = |v: &Option<SecretSetting>| v.as_ref().map(|s| s.value.clone());
        [
            ("aws_access_key_id", secret(&self.aws_access_key_id)),
            ("aws_secret_access_key", secret(&self.aws_secret_access_key)),
            ("aws_session_token", secret(&self.aws_session_token)),
            ("profile_name", plain(&self.profile_name)),
            ("region_name", plain(&self.region_name)),
            ("endpoint_url", plain(&self.endpoint_url)),
            ("project_id", plain(&self.project_id)),
            ("private_key", secret(&self.private_key)),
            ("client_email", plain(&self.client_email)),
            ("azure_storage_account_name", plain(&self.azure_storage_account_name)),
            ("azure_storage_account_key", secret(&self.azure_storage_account_key)),
            ("azure_storage_sas_token", secret(&self.azure_storage_sas_token)),
            ("azure_client_id", plain(&self.azure_client_id)),
            ("azure_client_secret", secret(&self.azure_client_secret)),
            ("azure_tenant_id", plain(&self.azure_tenant_id)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect()
    }

    /// Reads dlt's credential keys from resolved sections, the first section that has a key
    /// wins (e.g. `[destination.filesystem.credentials]`, then `[destination.credentials]`).
    /// A section given as one string (`credentials = '{"type": "service_account", ...}'`) is
    /// read as a GCP service account JSON document.
    pub fn from_sections(sections: &[&ResolvedSection]) -> Result<Self> {
        let mut c = Credentials::default();
        for s in sections {
            c.fill_from(s)?;
        }
        Ok(c)
    }

    fn fill_from(&mut self, s: &ResolvedSection) -> Result<()> {
        fn p(s: &ResolvedSection, k: &str, slot: &mut Option<Setting>) {
            if slot.is_none()
                && let Some(v) = s.get(k)
                && let Some(text) = v.as_str()
                && !text.is_empty()
            {
                *slot = Some(Setting { value: text.to_string(), origin: v.source().to_string() });
            }
        }
        fn sec(s: &ResolvedSection, k: &str, slot: &mut Option<SecretSetting>) {
            if slot.is_none()
                && let Some(v) = s.get(k)
                && let Some(text) = v.as_str()
                && !text.is_empty()
            {
                *slot = Some(SecretSetting { value: Secret::new(text.to_string()), origin: v.source().to_string() });
            }
        }
        sec(s, "aws_access_key_id", &mut self.aws_access_key_id);
        sec(s, "aws_secret_access_key", &mut self.aws_secret_access_key);
        sec(s, "aws_session_token", &mut self.aws_session_token);
        p(s, "profile_name", &mut self.profile_name);
        p(s, "region_name", &mut self.region_name);
        p(s, "endpoint_url", &mut self.endpoint_url);
        p(s, "project_id", &mut self.project_id);
        sec(s, "private_key", &mut self.private_key);
        p(s, "client_email", &mut self.client_email);
        p(s, "azure_storage_account_name", &mut self.azure_storage_account_name);
        sec(s, "azure_storage_account_key", &mut self.azure_storage_account_key);
        sec(s, "azure_storage_sas_token", &mut self.azure_storage_sas_token);
        p(s, "azure_client_id", &mut self.azure_client_id);
        sec(s, "azure_client_secret", &mut self.azure_client_secret);
        p(s, "azure_tenant_id", &mut self.azure_tenant_id);
        p(s, "sftp_username", &mut self.sftp_username);
        p(s, "sftp_key_filename", &mut self.sftp_key_filename);
        sec(s, "sftp_password", &mut self.sftp_password);
        sec(s, "sftp_key_passphrase", &mut self.sftp_key_passphrase);
        if self.sftp_port.is_none()
            && let Some(v) = s.get("sftp_port")
        {
            let value = match &v.expose().value {
                toml::Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            self.sftp_port = Some(Setting { value, origin: v.source().to_string() });
        }
        if let Some(native) = &s.native {
            self.fill_from_native(native)?;
        }
        Ok(())
    }

    /// `credentials = "<service account JSON>"`, as dlt accepts for GCP.
    fn fill_from_native(&mut self, native: &ResolvedValue) -> Result<()> {
        let origin = native.source().to_string();
        let Some(text) = native.as_str() else { return Ok(()) };
        let Ok(serde_json::Value::Object(doc)) = serde_json::from_str::<serde_json::Value>(text) else {
            return Err(Error::config("credentials given as one value must be a GCP service account JSON document")
                .with("setting", format!("credentials ({origin})"))
                .with_hint("write the keys one by one in a [destination.filesystem.credentials] table instead"));
        };
        let get = |k: &str| doc.get(k).and_then(|v| v.as_str()).filter(|v| !v.is_empty()).map(str::to_string);
        if self.project_id.is_none() {
            self.project_id = get("project_id").map(|value| Setting { value, origin: origin.clone() });
        }
        if self.client_email.is_none() {
            self.client_email = get("client_email").map(|value| Setting { value, origin: origin.clone() });
        }
        if self.private_key.is_none() {
            self.private_key = get("private_key").map(|v| SecretSetting { value: Secret::new(v), origin: origin.clone() });
        }
        Ok(())
    }

    /// S3 keys.
    pub fn with_aws_keys(mut self, access_key_id: &str, secret_access_key: &str) -> Self {
        self.aws_access_key_id = secret(access_key_id);
        self.aws_secret_access_key = secret(secret_access_key);
        self
    }
    /// S3 session token.
    pub fn with_aws_session_token(mut self, token: &str) -> Self {
        self.aws_session_token = secret(token);
        self
    }
    /// AWS profile.
    pub fn with_profile_name(mut self, name: &str) -> Self {
        self.profile_name = plain(name);
        self
    }
    /// AWS region.
    pub fn with_region_name(mut self, region: &str) -> Self {
        self.region_name = plain(region);
        self
    }
    /// Endpoint override (S3-compatible store, azurite, GCS emulator).
    pub fn with_endpoint_url(mut self, url: &str) -> Self {
        self.endpoint_url = plain(url);
        self
    }
    /// GCP service account.
    pub fn with_gcp_service_account(mut self, project_id: &str, client_email: &str, private_key: &str) -> Self {
        self.project_id = plain(project_id);
        self.client_email = plain(client_email);
        self.private_key = secret(private_key);
        self
    }
    /// Azure account name and key.
    pub fn with_azure_account_key(mut self, account: &str, key: &str) -> Self {
        self.azure_storage_account_name = plain(account);
        self.azure_storage_account_key = secret(key);
        self
    }
    /// Azure account name and SAS token.
    pub fn with_azure_sas_token(mut self, account: &str, sas_token: &str) -> Self {
        self.azure_storage_account_name = plain(account);
        self.azure_storage_sas_token = secret(sas_token);
        self
    }
    /// Azure account name alone (default credentials).
    pub fn with_azure_account_name(mut self, account: &str) -> Self {
        self.azure_storage_account_name = plain(account);
        self
    }
    /// Azure service principal.
    pub fn with_azure_service_principal(mut self, client_id: &str, client_secret: &str, tenant_id: &str) -> Self {
        self.azure_client_id = plain(client_id);
        self.azure_client_secret = secret(client_secret);
        self.azure_tenant_id = plain(tenant_id);
        self
    }

    /// Every secret value set (for redaction of error texts).
    pub fn secret_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in [
            &self.aws_access_key_id,
            &self.aws_secret_access_key,
            &self.aws_session_token,
            &self.private_key,
            &self.azure_storage_account_key,
            &self.azure_storage_sas_token,
            &self.azure_client_secret,
            &self.sftp_password,
            &self.sftp_key_passphrase,
        ]
        .into_iter()
        .flatten()
        {
            let v = s.value.expose();
            out.push(v.clone());
            // SAS tokens show up in URLs one query value at a time
            if v.contains('=') {
                for pair in v.trim_start_matches('?').split('&') {
                    if let Some((_, val)) = pair.split_once('=')
                        && val.len() >= 8
                    {
                        out.push(val.to_string());
                        out.push(percent_decode(val));
                    }
                }
            }
        }
        out.retain(|s| !s.is_empty());
        out
    }
}

/// Describes a secret setting by name and origin (never its value).
pub(crate) fn describe_secret(name: &str, s: &Option<SecretSetting>) -> Option<String> {
    s.as_ref().map(|s| format!("{name} ({})", s.origin))
}

/// Describes a plain setting by name, value and origin.
pub(crate) fn describe(name: &str, s: &Option<Setting>) -> Option<String> {
    s.as_ref().map(|s| format!("{name} = {} ({})", s.value, s.origin))
}

pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Options a bucket is opened with.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StoreOptions {
    /// Credentials (dlt's keys).
    pub credentials: Credentials,
    /// dlt's `kwargs` (fsspec filesystem options), as a JSON object.
    pub kwargs: serde_json::Map<String, serde_json::Value>,
    /// dlt's `client_kwargs` (options of the underlying client), as a JSON object.
    pub client_kwargs: serde_json::Map<String, serde_json::Value>,
    /// Where `kwargs` / `client_kwargs` came from (for messages).
    pub kwargs_origin: BTreeMap<&'static str, String>,
    /// object_store configuration keys applied last, over everything derived from the
    /// credentials and kwargs (e.g. `aws_conditional_put`, `aws_endpoint`,
    /// `azure_storage_use_emulator`; names case-insensitive). Keys the scheme's store does not
    /// know are ignored here. The filesystem destination fills this from
    /// `deltalake_storage_options` for the store of its Delta tables.
    pub store_overrides: stevedore_core::config::Secret<BTreeMap<String, String>>,
}

impl StoreOptions {
    /// Options with these credentials and no kwargs.
    pub fn new(credentials: Credentials) -> Self {
        StoreOptions { credentials, ..Default::default() }
    }

    /// Sets `kwargs`.
    pub fn with_kwargs(mut self, kwargs: serde_json::Map<String, serde_json::Value>) -> Self {
        self.kwargs = kwargs;
        self
    }

    /// Sets `store_overrides` (object_store configuration keys applied last).
    pub fn with_store_overrides(mut self, overrides: BTreeMap<String, String>) -> Self {
        self.store_overrides = stevedore_core::config::Secret::new(overrides);
        self
    }

    /// Sets `client_kwargs`.
    pub fn with_client_kwargs(mut self, kwargs: serde_json::Map<String, serde_json::Value>) -> Self {
        self.client_kwargs = kwargs;
        self
    }

    /// Parses a `kwargs` / `client_kwargs` value as dlt writes it: a stringified JSON object
    /// (`'{"use_ssl": true}'`) or a TOML table.
    pub fn parse_kwargs(name: &str, value: &toml::Value, origin: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
        let bad = |why: String| {
            Error::config(format!("{name} must be a JSON object or a table: {why}"))
                .with("setting", format!("{name} ({origin})"))
                .with_hint(format!("write it like {name} = '{{\"use_ssl\": true}}'"))
        };
        match value {
            toml::Value::String(s) if s.trim().is_empty() => Ok(Default::default()),
            toml::Value::String(s) => match serde_json::from_str::<serde_json::Value>(s) {
                Ok(serde_json::Value::Object(m)) => Ok(m),
                Ok(other) => Err(bad(format!("found {}", json_type(&other)))),
                Err(e) => Err(bad(e.to_string())),
            },
            toml::Value::Table(t) => match serde_json::to_value(t) {
                Ok(serde_json::Value::Object(m)) => Ok(m),
                _ => Err(bad("cannot convert the table".into())),
            },
            other => Err(bad(format!("found a {}", other.type_str()))),
        }
    }

    /// A boolean kwarg, from `kwargs` first then `client_kwargs` (`"false"` strings accepted).
    pub(crate) fn kwarg_bool(&self, key: &str) -> Option<bool> {
        [&self.kwargs, &self.client_kwargs].into_iter().find_map(|m| match m.get(key)? {
            serde_json::Value::Bool(b) => Some(*b),
            serde_json::Value::String(s) => s.parse::<bool>().ok(),
            serde_json::Value::Number(n) => Some(n.as_i64() != Some(0)),
            _ => None,
        })
    }

    /// A string kwarg, from `kwargs` first then `client_kwargs`.
    pub(crate) fn kwarg_str(&self, key: &str) -> Option<String> {
        [&self.kwargs, &self.client_kwargs].into_iter().find_map(|m| m.get(key).and_then(|v| v.as_str()).map(str::to_string))
    }

    /// Warns once about kwargs this scheme does not understand.
    pub(crate) fn warn_unused(&self, scheme: &str, known: &[&str]) {
        for (name, m) in [("kwargs", &self.kwargs), ("client_kwargs", &self.client_kwargs)] {
            let unknown: Vec<&str> = m.keys().map(String::as_str).filter(|k| !known.contains(k)).collect();
            if !unknown.is_empty() {
                tracing::warn!(
                    scheme,
                    "{name}: {} not used by stevedore's {scheme}:// buckets (understood: {})",
                    unknown.join(", "),
                    known.join(", ")
                );
            }
        }
    }

    /// The TLS `verify` client kwarg (botocore's): `false`, or a CA bundle path.
    pub(crate) fn verify(&self) -> Verify {
        match self.client_kwargs.get("verify").or_else(|| self.kwargs.get("verify")) {
            Some(serde_json::Value::Bool(false)) => Verify::Off,
            Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => Verify::Off,
            Some(serde_json::Value::String(s)) if !s.is_empty() && !s.eq_ignore_ascii_case("true") => Verify::CaBundle(s.clone()),
            _ => Verify::Default,
        }
    }
}

/// TLS certificate verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verify {
    Default,
    Off,
    CaBundle(String),
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::new()
            .with_aws_keys("AKIAEXAMPLEKEYID", "wJalrXUtnFEMI/K7MDENG")
            .with_aws_session_token("sessiontokenvalue")
            .with_azure_account_key("acct", "a2V5a2V5a2V5")
            .with_azure_sas_token("acct", "sv=2022&sig=c2lnbmF0dXJlc2ln")
            .with_azure_service_principal("cid", "clientsecretvalue", "tid")
            .with_gcp_service_account("proj", "sa@proj.iam", "-----BEGIN PRIVATE KEY-----abc");
        let opts = StoreOptions::new(c.clone());
        let dbg = format!("{opts:?} {c:?}");
        for s in [
            "AKIAEXAMPLEKEYID",
            "wJalrXUtnFEMI",
            "sessiontokenvalue",
            "a2V5a2V5a2V5",
            "c2lnbmF0dXJlc2ln",
            "clientsecretvalue",
            "BEGIN PRIVATE",
        ] {
            assert!(!dbg.contains(s), "{s} leaked in {dbg}");
        }
        assert!(dbg.contains("acct") && dbg.contains("sa@proj.iam"));
        let secrets = c.secret_values();
        assert!(secrets.iter().any(|s| s == "c2lnbmF0dXJlc2ln"), "SAS signature is redacted on its own");
    }

    #[test]
    fn kwargs_parse_from_json_string_or_table() {
        let m =
            StoreOptions::parse_kwargs("kwargs", &toml::Value::String(r#"{"use_ssl": false, "auto_mkdir": true}"#.into()), "x").unwrap();
        assert_eq!(m["use_ssl"], serde_json::json!(false));
        let t: toml::Table = toml::from_str("verify = false").unwrap();
        let m = StoreOptions::parse_kwargs("client_kwargs", &toml::Value::Table(t), "x").unwrap();
        let o = StoreOptions::default().with_client_kwargs(m);
        assert_eq!(o.verify(), Verify::Off);
        let e = StoreOptions::parse_kwargs("kwargs", &toml::Value::String("[1]".into()), "env X").unwrap_err();
        assert!(e.to_string().contains("kwargs") && e.to_string().contains("env X"), "{e}");
        let o = StoreOptions::default().with_client_kwargs(serde_json::from_str(r#"{"verify": "/etc/ca.pem"}"#).unwrap());
        assert_eq!(o.verify(), Verify::CaBundle("/etc/ca.pem".into()));
    }
}

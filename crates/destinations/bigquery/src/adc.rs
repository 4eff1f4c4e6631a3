//! Google's application default credentials, looked up in the order Google's client
//! libraries use (and dlt, through `google.auth.default()`), when the BigQuery credentials
//! name neither a private key nor an endpoint:
//!
//! 1. the JSON file named by `GOOGLE_APPLICATION_CREDENTIALS` (a service-account key, or the
//!    `authorized_user` file `gcloud auth application-default login` writes);
//! 2. gcloud's file, `$CLOUDSDK_CONFIG/application_default_credentials.json` (default
//!    `~/.config/gcloud/`);
//! 3. the metadata server of the machine (`GCE_METADATA_HOST`, default
//!    `metadata.google.internal`): Compute Engine, GKE, Cloud Run.
//!
//! The project, when `project_id` is not set, as google-auth picks it: `GOOGLE_CLOUD_PROJECT`
//! (or `GCLOUD_PROJECT`), else the service-account file's `project_id`, else the `project` of
//! gcloud's active configuration. Secrets of the files (private key,
//! client secret, refresh token) are typed as secrets and never shown.

use std::path::{Path, PathBuf};

use serde_json::Value;
use stevedore_core::config::Secret;
use stevedore_core::{Error, Result};

use crate::config::{Credentials, DEFAULT_TOKEN_URI};

/// Where default credentials come from.
pub enum Adc {
    /// A service-account key file.
    ServiceAccount(Credentials),
    /// A user's refresh token (`gcloud auth application-default login`).
    AuthorizedUser {
        /// OAuth client id.
        client_id: String,
        /// OAuth client secret.
        client_secret: Secret<String>,
        /// The user's refresh token.
        refresh_token: Secret<String>,
        /// Token endpoint.
        token_uri: String,
    },
    /// The metadata server at this host (`host[:port]`).
    Metadata {
        /// Host (and port) of the metadata server.
        host: String,
    },
}

impl std::fmt::Debug for Adc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Adc::ServiceAccount(c) => f.debug_tuple("ServiceAccount").field(c).finish(),
            Adc::AuthorizedUser { client_id, .. } => f.debug_struct("AuthorizedUser").field("client_id", client_id).finish_non_exhaustive(),
            Adc::Metadata { host } => f.debug_struct("Metadata").field("host", host).finish(),
        }
    }
}

/// Default credentials found: what, where from, and the project they name, if any.
#[derive(Debug)]
pub struct Found {
    /// The credentials.
    pub adc: Adc,
    /// Where they were found (a file, or the metadata server), for messages.
    pub source: String,
    /// The project they name, if any.
    pub project: Option<String>,
}

fn read_json(path: &Path, why: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(format!("cannot read Google credentials file {} ({why}): {e}", path.display()))
            .with_hint("point GOOGLE_APPLICATION_CREDENTIALS at a readable JSON key file, or unset it")
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Error::config(format!("Google credentials file {} ({why}) is not JSON (line {}, column {})", path.display(), e.line(), e.column()))
    })
}

fn from_file(path: &Path, why: &str) -> Result<Found> {
    let v = read_json(path, why)?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).filter(|x| !x.is_empty()).map(String::from);
    let source = format!("{} ({why})", path.display());
    match s("type").as_deref() {
        Some("service_account") => {
            let c = Credentials::from_service_account_json(&v.to_string())?;
            let project = Some(c.project_id.clone()).filter(|p| !p.is_empty());
            Ok(Found { adc: Adc::ServiceAccount(c), source, project })
        }
        Some("authorized_user") => {
            let need = |k: &str| {
                s(k).ok_or_else(|| {
                    Error::config(format!("Google credentials file {} has no {k}", path.display()))
                        .with_hint("run `gcloud auth application-default login` again, or use a service-account key file")
                })
            };
            Ok(Found {
                adc: Adc::AuthorizedUser {
                    client_id: need("client_id")?,
                    client_secret: Secret::new(need("client_secret")?),
                    refresh_token: Secret::new(need("refresh_token")?),
                    token_uri: s("token_uri").unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string()),
                },
                source,
                project: None,
            })
        }
        other => Err(Error::config(format!(
            "Google credentials file {} is of type `{}`, which stevedore does not read",
            path.display(),
            other.unwrap_or("none")
        ))
        .with_hint("use a service-account key file (type service_account) or gcloud's user credentials (type authorized_user)")),
    }
}

/// gcloud's configuration folder.
fn gcloud_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(d) = env("CLOUDSDK_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    env("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".config").join("gcloud"))
}

/// The `project` of gcloud's active configuration (`[core] project = ...`).
fn gcloud_project(dir: &Path) -> Option<String> {
    let active = std::fs::read_to_string(dir.join("active_config")).map(|s| s.trim().to_string()).unwrap_or_else(|_| "default".into());
    let text = std::fs::read_to_string(dir.join("configurations").join(format!("config_{active}"))).ok()?;
    let mut in_core = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_core = line == "[core]";
        } else if in_core
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == "project"
            && !v.trim().is_empty()
        {
            return Some(v.trim().to_string());
        }
    }
    None
}

/// Finds default credentials with `env` as the environment.
pub fn discover(env: &dyn Fn(&str) -> Option<String>) -> Result<Found> {
    let gcloud = gcloud_dir(env);
    let mut found = if let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS").filter(|p| !p.is_empty()) {
        from_file(Path::new(&path), "GOOGLE_APPLICATION_CREDENTIALS")?
    } else if let Some(file) = gcloud.as_ref().map(|d| d.join("application_default_credentials.json")).filter(|f| f.is_file()) {
        from_file(&file, "gcloud application default credentials")?
    } else {
        let host = env("GCE_METADATA_HOST").filter(|h| !h.is_empty()).unwrap_or_else(|| "metadata.google.internal".into());
        Found { source: format!("the metadata server at {host}"), adc: Adc::Metadata { host }, project: None }
    };
    let from_env = ["GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"].iter().find_map(|k| env(k).filter(|p| !p.is_empty()));
    let from_file = found.project.take();
    found.project = from_env.or(from_file).or_else(|| gcloud.as_deref().and_then(gcloud_project));
    Ok(found)
}

/// [`discover`] on the process environment.
pub fn discover_from_env() -> Result<Found> {
    discover(&|k| std::env::var(k).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn the_lookup_order_of_googles_libraries() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let sa = d.join("sa.json");
        std::fs::write(
            &sa,
            r#"{"type": "service_account", "project_id": "sa-proj", "private_key": "-----BEGIN PRIVATE KEY-----\nS3CRETKEY\n-----END PRIVATE KEY-----\n", "client_email": "l@sa-proj.iam"}"#,
        )
        .unwrap();
        let gcloud = d.join("gcloud");
        std::fs::create_dir_all(gcloud.join("configurations")).unwrap();
        std::fs::write(
            gcloud.join("application_default_credentials.json"),
            r#"{"type": "authorized_user", "client_id": "cid.apps", "client_secret": "CL1ENTSECRET", "refresh_token": "1//REFRESH", "quota_project_id": "quota-proj"}"#,
        )
        .unwrap();

        // 1. GOOGLE_APPLICATION_CREDENTIALS wins over gcloud's file
        let f = discover(&env_of(&[
            ("GOOGLE_APPLICATION_CREDENTIALS", sa.display().to_string()),
            ("CLOUDSDK_CONFIG", gcloud.display().to_string()),
        ]))
        .unwrap();
        assert!(matches!(&f.adc, Adc::ServiceAccount(c) if c.client_email.as_deref() == Some("l@sa-proj.iam")));
        assert_eq!(f.project.as_deref(), Some("sa-proj"));
        assert!(!format!("{f:?}").contains("S3CRETKEY"));

        // the environment's project wins, as in google-auth
        let f =
            discover(&env_of(&[("GOOGLE_APPLICATION_CREDENTIALS", sa.display().to_string()), ("GOOGLE_CLOUD_PROJECT", "env-proj".into())]))
                .unwrap();
        assert_eq!(f.project.as_deref(), Some("env-proj"));

        // 2. gcloud's file; the project from gcloud's active configuration, or the environment
        // (a user file's quota project is not a project to run jobs in)
        let env = [("CLOUDSDK_CONFIG", gcloud.display().to_string())];
        let f = discover(&env_of(&env)).unwrap();
        assert!(
            matches!(&f.adc, Adc::AuthorizedUser { client_id, token_uri, .. } if client_id == "cid.apps" && token_uri == DEFAULT_TOKEN_URI)
        );
        assert_eq!(f.project, None);
        let shown = format!("{f:?}");
        assert!(!shown.contains("CL1ENTSECRET") && !shown.contains("REFRESH"), "{shown}");
        std::fs::write(gcloud.join("configurations/config_default"), "[core]\naccount = me@x\nproject = cfg-proj\n").unwrap();
        assert_eq!(discover(&env_of(&env)).unwrap().project.as_deref(), Some("cfg-proj"));
        let mut with_env = env.to_vec();
        with_env.push(("GOOGLE_CLOUD_PROJECT", "env-proj".into()));
        assert_eq!(discover(&env_of(&with_env)).unwrap().project.as_deref(), Some("env-proj"));

        // 3. no file: the metadata server, at GCE_METADATA_HOST when set
        let empty = d.join("empty");
        let f = discover(&env_of(&[("HOME", empty.display().to_string()), ("GCE_METADATA_HOST", "127.0.0.1:1".into())])).unwrap();
        assert!(matches!(&f.adc, Adc::Metadata { host } if host == "127.0.0.1:1"));
        assert_eq!(f.project, None);
        let f = discover(&env_of(&[("HOME", empty.display().to_string())])).unwrap();
        assert!(matches!(&f.adc, Adc::Metadata { host } if host == "metadata.google.internal"));

        // a named file that is missing or of another type is an error naming it
        let e = discover(&env_of(&[("GOOGLE_APPLICATION_CREDENTIALS", d.join("nope.json").display().to_string())])).unwrap_err();
        assert!(e.to_string().contains("nope.json") && e.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"), "{e}");
        let ext = d.join("ext.json");
        std::fs::write(&ext, r#"{"type": "external_account", "audience": "x"}"#).unwrap();
        let e = discover(&env_of(&[("GOOGLE_APPLICATION_CREDENTIALS", ext.display().to_string())])).unwrap_err();
        assert!(e.to_string().contains("external_account"), "{e}");
    }
}

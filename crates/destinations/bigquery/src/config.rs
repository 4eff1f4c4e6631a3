//! `[destination.bigquery]` configuration and credentials, with dlt's key names.
//!
//! Credentials are read from `[destination.bigquery.credentials]`, else from the shared
//! `[destination.credentials]` (as dlt does for GCS and BigQuery): `project_id`,
//! `private_key`, `client_email`, `token_uri`, or the whole service-account JSON as the value
//! of `credentials`; without a key, Google's application default credentials ([`crate::adc`]).
//! stevedore's addition: `endpoint_url` points the client at another server (an emulator);
//! with an endpoint and no private key, requests go unsigned and no default credentials are
//! looked up. The private key never appears in `Debug`, `Display`, logs or errors.

use std::fmt;
use std::time::Duration;

use stevedore_core::config::{Config, KeySpec, Secret, SectionSpec, ValueKind};
use stevedore_core::schema::ReplaceStrategy;
use stevedore_core::{Error, Result};

/// Credentials keys.
pub static CREDENTIALS_SPEC: SectionSpec = SectionSpec {
    path: &["credentials"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("project_id", ValueKind::String, "Google Cloud project that runs the jobs and holds the datasets"),
        KeySpec::secret("private_key", ValueKind::String, "service-account private key (PEM, PKCS#8)"),
        KeySpec::new("client_email", ValueKind::String, "service-account e-mail"),
        KeySpec::new("token_uri", ValueKind::String, "OAuth token endpoint").with_default("`https://oauth2.googleapis.com/token`"),
        KeySpec::new("private_key_id", ValueKind::String, "accepted for dlt compatibility"),
        KeySpec::new("type", ValueKind::String, "accepted for dlt compatibility (service_account)"),
        KeySpec::new(
            "endpoint_url",
            ValueKind::String,
            "another BigQuery server (an emulator, e.g. `http://127.0.0.1:9050`); without a private key, requests go unsigned",
        )
        .with_default("`https://bigquery.googleapis.com`"),
    ],
    children: &[],
};

/// Google's OAuth token endpoint.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The BigQuery API.
pub const DEFAULT_ENDPOINT: &str = "https://bigquery.googleapis.com";

/// BigQuery credentials. `Debug` and `Display` hide the private key.
#[derive(Clone, Default, PartialEq)]
pub struct Credentials {
    /// Project id.
    pub project_id: String,
    /// Service-account private key (PEM).
    pub private_key: Option<Secret<String>>,
    /// Service-account e-mail.
    pub client_email: Option<String>,
    /// Token endpoint.
    pub token_uri: Option<String>,
    /// Another server (an emulator).
    pub endpoint_url: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("project_id", &self.project_id)
            .field("private_key", &self.private_key.as_ref().map(|_| "***"))
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .field("endpoint_url", &self.endpoint_url)
            .finish()
    }
}

impl fmt::Display for Credentials {
    /// `bigquery://project@endpoint` (no key).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.endpoint_url {
            Some(e) => write!(f, "bigquery://{}@{}", self.project_id, e.trim_end_matches('/')),
            None => write!(f, "bigquery://{}", self.project_id),
        }
    }
}

impl Credentials {
    /// Credentials for a project on another server, unsigned (an emulator).
    pub fn emulator(project_id: &str, endpoint_url: &str) -> Self {
        Credentials { project_id: project_id.into(), endpoint_url: Some(endpoint_url.into()), ..Default::default() }
    }

    /// Parses a service-account JSON document (`type`, `project_id`, `private_key`,
    /// `client_email`, `token_uri`). Errors never contain the key.
    pub fn from_service_account_json(text: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Error::config(format!(
                "the BigQuery credentials are not a service-account JSON document (line {}, column {})",
                e.line(),
                e.column()
            ))
            .with_hint("pass the JSON key file's content, or the separate keys project_id, private_key, client_email")
        })?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
        Ok(Credentials {
            project_id: s("project_id").unwrap_or_default(),
            private_key: s("private_key").map(Secret::new),
            client_email: s("client_email"),
            token_uri: s("token_uri"),
            endpoint_url: s("endpoint_url"),
        })
    }

    /// The API base URL (no trailing slash).
    pub fn endpoint(&self) -> String {
        self.endpoint_url.as_deref().unwrap_or(DEFAULT_ENDPOINT).trim_end_matches('/').to_string()
    }

    /// Checks that the credentials can be used: a project, and a key comes with its e-mail.
    /// Without a key and an endpoint, Google's default credentials are used (see
    /// [`Credentials::resolve`]).
    pub fn validate(&self) -> Result<()> {
        if self.project_id.trim().is_empty() {
            return Err(Error::config("no project_id for the bigquery destination").with_hint(
                "set DESTINATION__BIGQUERY__CREDENTIALS__PROJECT_ID, or project_id in [destination.bigquery.credentials] of \
                 .stevedore/secrets.toml (with Google's default credentials, GOOGLE_CLOUD_PROJECT or gcloud's project also do)",
            ));
        }
        match (&self.private_key, &self.client_email) {
            (Some(_), None) => Err(Error::config("the BigQuery private_key comes without its client_email")
                .with_hint("set client_email (the service account's e-mail) next to private_key")),
            _ => Ok(()),
        }
    }

    /// These credentials made usable, with the default credentials they fall back to: when
    /// they name neither a private key nor an endpoint, Google's application default
    /// credentials ([`crate::adc`]: `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's file, the
    /// metadata server) give the tokens and, when `project_id` is not set, the project.
    pub fn resolve(&self) -> Result<(Credentials, Option<crate::adc::Found>)> {
        self.resolve_with(&|k| std::env::var(k).ok())
    }

    /// [`Credentials::resolve`] with `env` as the environment.
    pub fn resolve_with(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<(Credentials, Option<crate::adc::Found>)> {
        let mut c = self.clone();
        let found = if c.private_key.is_none() && c.endpoint_url.is_none() {
            let f = crate::adc::discover(env)?;
            if c.project_id.trim().is_empty()
                && let Some(p) = &f.project
            {
                c.project_id = p.clone();
            }
            Some(f)
        } else {
            None
        };
        c.validate().map_err(|e| match &found {
            Some(f) => e.with("default_credentials", f.source.clone()),
            None => e,
        })?;
        Ok((c, found))
    }
}

stevedore_core::config_section! {
    /// `[destination.bigquery]` keys.
    pub static BIGQUERY_SPEC = ["destination", "bigquery"], children [&CREDENTIALS_SPEC];
    /// Resolved `[destination.bigquery]` settings.
    #[derive(Debug, Clone)]
    pub struct BigQueryConfig {
        #[filled]
        /// Credentials (a service account, or application default credentials when empty).
        pub credentials: Credentials,
        /// dataset and job location
        pub location: String = "US".into() => "`US`",
        /// seconds for one HTTP request
        pub http_timeout: Duration = Duration::from_secs(15) => "15",
        /// seconds for uploading one job file
        pub file_upload_timeout: Duration = Duration::from_secs(1800) => "1800",
        /// seconds to keep retrying a transient API error
        pub retry_deadline: Duration = Duration::from_secs(60) => "60",
        /// staging dataset: a pattern with `%s` or a fixed name
        pub staging_dataset_name_layout: String = "%s_staging".into() => "`%s_staging`",
        /// or `insert-from-staging`, `staging-optimized`
        pub replace_strategy: Option<ReplaceStrategy> = None => "`truncate-and-insert`",
        /// remove the staged files of a load's tables before its first upload
        pub truncate_tables_on_staging_destination_before_load: bool = true => "true",
    }
}

impl BigQueryConfig {
    /// Reads `[destination.bigquery]` and the credentials (`[destination.bigquery.credentials]`,
    /// else `[destination.credentials]`).
    pub fn from_config(config: &Config) -> Result<Self> {
        let mut c = BigQueryConfig::read(config)?;
        let cred_paths: &[&[&str]] = &[&["destination", "bigquery", "credentials"], &["destination", "credentials"]];
        // the whole service-account JSON as one value
        let whole = [&["destination", "bigquery"][..], &["destination"][..]]
            .iter()
            .find_map(|p| config.get_secret_str(&[p], "credentials").ok().flatten());
        if let Some(json) = whole {
            c.credentials = Credentials::from_service_account_json(json.expose())?;
        }
        if let Some(v) = config.get_str(cred_paths, "project_id")? {
            c.credentials.project_id = v;
        }
        if let Some(v) = config.get_secret_str(cred_paths, "private_key")? {
            c.credentials.private_key = Some(v);
        }
        if let Some(v) = config.get_str(cred_paths, "client_email")? {
            c.credentials.client_email = Some(v);
        }
        if let Some(v) = config.get_str(cred_paths, "token_uri")? {
            c.credentials.token_uri = Some(v);
        }
        // the endpoint is BigQuery's own: the shared [destination.credentials] endpoint_url
        // belongs to the GCS bucket of the staging chain
        if let Some(v) = config.get_str(&[&["destination", "bigquery", "credentials"]], "endpoint_url")? {
            c.credentials.endpoint_url = Some(v);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIsecretsecret\n-----END PRIVATE KEY-----\n";

    #[test]
    fn env_names_and_defaults() {
        let env: HashMap<String, String> = [
            ("DESTINATION__BIGQUERY__CREDENTIALS__PROJECT_ID".to_string(), "proj".to_string()),
            ("DESTINATION__BIGQUERY__CREDENTIALS__ENDPOINT_URL".to_string(), "http://127.0.0.1:9050/".to_string()),
            ("DESTINATION__BIGQUERY__LOCATION".to_string(), "EU".to_string()),
            ("DESTINATION__BIGQUERY__HTTP_TIMEOUT".to_string(), "2.5".to_string()),
        ]
        .into();
        let dir = tempfile::tempdir().unwrap();
        let c = BigQueryConfig::from_config(&Config::load(dir.path(), &env).unwrap()).unwrap();
        assert_eq!(c.credentials.project_id, "proj");
        assert_eq!(c.credentials.endpoint(), "http://127.0.0.1:9050");
        assert_eq!(c.location, "EU");
        assert_eq!(c.http_timeout, Duration::from_millis(2500));
        assert_eq!(c.retry_deadline, Duration::from_secs(60));
        c.credentials.validate().unwrap();
        let c = BigQueryConfig::from_config(&Config::load(dir.path(), &HashMap::new()).unwrap()).unwrap();
        assert_eq!(c.location, "US");
        let e = c.credentials.validate().unwrap_err().to_string();
        assert!(e.contains("project_id"), "{e}");
    }

    #[test]
    fn the_private_key_never_shows() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".stevedore")).unwrap();
        std::fs::write(
            dir.path().join(".stevedore/secrets.toml"),
            format!(
                "[destination.credentials]\nproject_id = \"p1\"\nprivate_key = \"\"\"{KEY}\"\"\"\nclient_email = \"sa@p1.iam\"\nendpoint_url = \"http://127.0.0.1:9024\"\n"
            ),
        )
        .unwrap();
        let c = BigQueryConfig::from_config(&Config::load(dir.path(), &HashMap::new()).unwrap()).unwrap();
        assert_eq!(c.credentials.project_id, "p1");
        assert_eq!(c.credentials.private_key.as_ref().unwrap().expose(), KEY);
        assert_eq!(c.credentials.endpoint_url, None, "the shared section's endpoint is the bucket's");
        c.credentials.validate().unwrap();
        let shown = format!("{c:?} {} {:?}", c.credentials, c.credentials);
        assert!(!shown.contains("secretsecret"), "{shown}");
        // a key without its e-mail
        let mut no_mail = c.credentials.clone();
        no_mail.client_email = None;
        let e = no_mail.validate().unwrap_err().to_string();
        assert!(e.contains("client_email") && !e.contains("secretsecret"), "{e}");
    }

    #[test]
    fn service_account_json_as_one_value() {
        let json = serde_json::json!({"type": "service_account", "project_id": "p2", "private_key": KEY, "client_email": "x@p2"});
        let env: HashMap<String, String> = [("DESTINATION__BIGQUERY__CREDENTIALS".to_string(), json.to_string())].into();
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::load(dir.path(), &env).unwrap();
        cfg.validate(&[&BIGQUERY_SPEC]).unwrap();
        let c = BigQueryConfig::from_config(&cfg).unwrap();
        assert_eq!(c.credentials.project_id, "p2");
        assert_eq!(c.credentials.client_email.as_deref(), Some("x@p2"));
        assert!(c.credentials.private_key.is_some());
        let e = Credentials::from_service_account_json(&format!("{{\"private_key\": \"{}\"", "secretsecret")).unwrap_err().to_string();
        assert!(!e.contains("secretsecret"), "{e}");
    }
}

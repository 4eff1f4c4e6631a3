//! `[destination.snowflake]` configuration and credentials, with dlt's key names.
//!
//! Credentials come as one connection string
//! (`snowflake://user:password@account/database?warehouse=WH&role=ROLE`) or as the keys of
//! `[destination.snowflake.credentials]`: `database`, `username`, `password`, `host` (the
//! account identifier), `warehouse`, `role`, `private_key`, `private_key_passphrase`,
//! `authenticator`. stevedore's addition: `endpoint_url` replaces
//! `https://<account>.snowflakecomputing.com` (a PrivateLink host or a test server such as
//! fakesnow). Passwords and private keys never appear in `Debug`, `Display`, logs or errors.

use std::fmt;
use std::time::Duration;

use stevedore_core::config::{Config, KeySpec, KeyValue, ResolvedSection, Secret, SectionSpec, ValueKind};
use stevedore_core::schema::ReplaceStrategy;
use stevedore_core::{Error, Result};

/// Credentials keys.
pub static CREDENTIALS_SPEC: SectionSpec = SectionSpec {
    path: &["credentials"],
    alt_paths: &[],
    keys: &[
        KeySpec::new("database", ValueKind::String, "database name"),
        KeySpec::new("username", ValueKind::String, "login name"),
        KeySpec::secret("password", ValueKind::String, "password (or the key-pair keys below)"),
        KeySpec::new("host", ValueKind::String, "account identifier (`orgname-account` or `locator.region`)"),
        KeySpec::new("warehouse", ValueKind::String, "virtual warehouse that runs the COPY and SQL statements"),
        KeySpec::new("role", ValueKind::String, "role of the session"),
        KeySpec::secret(
            "private_key",
            ValueKind::String,
            "key-pair authentication: an RSA key in PKCS#8 (`BEGIN PRIVATE KEY` or `BEGIN ENCRYPTED PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`), PEM or base64 DER",
        ),
        KeySpec::secret(
            "private_key_passphrase",
            ValueKind::String,
            "passphrase of an encrypted PKCS#8 private key (PBES2: PBKDF2 or scrypt with AES-CBC or DES-EDE3-CBC, as `openssl pkcs8 -topk8 -v2 ...` writes them)",
        ),
        KeySpec::new(
            "authenticator",
            ValueKind::String,
            "`snowflake` (password), `snowflake_jwt` (key pair) or `oauth` (with `token`); set from the keys given when absent",
        ),
        KeySpec::secret("token", ValueKind::String, "OAuth access token (with authenticator `oauth`)"),
        KeySpec::new(
            "endpoint_url",
            ValueKind::String,
            "another Snowflake endpoint (PrivateLink, or a test server such as `http://127.0.0.1:9030`)",
        )
        .with_default("`https://<host>.snowflakecomputing.com`"),
        KeySpec::new("drivername", ValueKind::String, "accepted for dlt compatibility (snowflake)"),
        KeySpec::new("query", ValueKind::Any, "extra connection parameters (warehouse, role, authenticator...)"),
    ],
    children: &[],
};

/// How a session authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticator {
    /// User name and password.
    Password,
    /// Key pair: a JWT signed with the user's RSA private key.
    KeyPair,
    /// An OAuth access token obtained elsewhere (`token`).
    OAuth,
}

/// Snowflake credentials. `Debug` and `Display` hide the password and the private key.
#[derive(Clone, Default, PartialEq)]
pub struct Credentials {
    /// Database.
    pub database: String,
    /// Login name.
    pub username: String,
    /// Password.
    pub password: Option<Secret<String>>,
    /// Account identifier.
    pub host: String,
    /// Warehouse.
    pub warehouse: Option<String>,
    /// Role.
    pub role: Option<String>,
    /// RSA private key (PKCS#8, PEM or base64 DER).
    pub private_key: Option<Secret<String>>,
    /// Passphrase of an encrypted private key.
    pub private_key_passphrase: Option<Secret<String>>,
    /// `authenticator` as given.
    pub authenticator: Option<String>,
    /// OAuth access token (authenticator `oauth`).
    pub token: Option<Secret<String>>,
    /// Another endpoint (PrivateLink, a test server).
    pub endpoint_url: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("database", &self.database)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("host", &self.host)
            .field("warehouse", &self.warehouse)
            .field("role", &self.role)
            .field("private_key", &self.private_key.as_ref().map(|_| "***"))
            .field("private_key_passphrase", &self.private_key_passphrase.as_ref().map(|_| "***"))
            .field("authenticator", &self.authenticator)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("endpoint_url", &self.endpoint_url)
            .finish()
    }
}

impl fmt::Display for Credentials {
    /// `snowflake://user@account/database` (no secrets), with the endpoint when it is not
    /// Snowflake's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "snowflake://{}@{}/{}", self.username, self.host, self.database)?;
        if let Some(e) = &self.endpoint_url {
            write!(f, " at {}", e.trim_end_matches('/'))?;
        }
        Ok(())
    }
}

fn pct(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn unpct(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

impl Credentials {
    /// Credentials for a test server: any user and password are accepted there.
    pub fn test_server(endpoint_url: &str, database: &str) -> Self {
        Credentials {
            database: database.into(),
            username: "stevedore".into(),
            password: Some(Secret::new("stevedore".into())),
            host: "fakesnow".into(),
            endpoint_url: Some(endpoint_url.into()),
            ..Default::default()
        }
    }

    /// Parses `snowflake://user:password@account/database?warehouse=WH&role=ROLE`. Errors
    /// never contain the password.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || {
            Error::config("the snowflake credentials are not a connection string")
                .with_hint("use snowflake://user:password@account/database?warehouse=WH&role=ROLE, or the separate keys")
        };
        let rest = s.strip_prefix("snowflake://").ok_or_else(bad)?;
        let (auth_host, path_query) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        // the password may hold `@`: the host starts after the last one
        let (auth, host) = auth_host.rsplit_once('@').ok_or_else(bad)?;
        let (user, password) = match auth.split_once(':') {
            Some((u, p)) => (unpct(u), Some(unpct(p))),
            None => (unpct(auth), None),
        };
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let mut c = Credentials {
            database: unpct(path.trim_end_matches('/')),
            username: user,
            password: password.filter(|p| !p.is_empty()).map(Secret::new),
            host: unpct(host),
            ..Default::default()
        };
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            c.set_param(&k, &v)?;
        }
        Ok(c)
    }

    fn set_param(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "warehouse" => self.warehouse = Some(value.into()),
            "role" => self.role = Some(value.into()),
            "authenticator" => self.authenticator = Some(value.into()),
            "token" => self.token = Some(Secret::new(value.into())),
            "private_key" => self.private_key = Some(Secret::new(value.into())),
            "private_key_passphrase" => self.private_key_passphrase = Some(Secret::new(value.into())),
            "endpoint_url" => self.endpoint_url = Some(value.into()),
            "database" => self.database = value.into(),
            "username" => self.username = value.into(),
            "password" => self.password = Some(Secret::new(value.into())),
            "host" => self.host = value.into(),
            // accepted and ignored, as dlt passes them to the connector
            "drivername" | "application" | "timezone" | "client_session_keep_alive" => {}
            other => {
                return Err(Error::config(format!("unknown snowflake credentials key `{other}`"))
                    .with_hint("known: database, username, password, host, warehouse, role, private_key, private_key_passphrase, authenticator, token, endpoint_url"));
            }
        }
        Ok(())
    }

    /// From the resolved `[destination.snowflake.credentials]`: the connection string, then
    /// the keys over it.
    pub fn from_resolved(sec: Option<&ResolvedSection>) -> Result<Self> {
        let Some(sec) = sec else { return Ok(Credentials::default()) };
        let mut c = match &sec.native {
            Some(n) => Self::parse(n.as_str().unwrap_or_default())?,
            None => Credentials::default(),
        };
        for (k, v) in &sec.values {
            let val = &v.expose().value;
            match (k.as_str(), val) {
                ("query", toml::Value::Table(t)) => {
                    for (qk, qv) in t {
                        c.set_param(qk, &qv.as_str().map(String::from).unwrap_or_else(|| qv.to_string()))?;
                    }
                }
                (k, toml::Value::String(s)) => c.set_param(k, s)?,
                (k, other) => c.set_param(k, &other.to_string())?,
            }
        }
        Ok(c)
    }

    /// How this session logs in: `authenticator` when given, else key pair when a private
    /// key is set, else password.
    pub fn authenticator(&self) -> Result<Authenticator> {
        match self.authenticator.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None if self.private_key.is_some() => Ok(Authenticator::KeyPair),
            None | Some("snowflake") => Ok(Authenticator::Password),
            Some("snowflake_jwt") => Ok(Authenticator::KeyPair),
            Some("oauth") => Ok(Authenticator::OAuth),
            Some(other) => Err(Error::config(format!("the snowflake authenticator `{other}` is not supported"))
                .with_hint("use snowflake (password), snowflake_jwt (key pair) or oauth (with token); external browser and Okta logins need a person at a browser and are not supported")),
        }
    }

    /// The base URL (no trailing slash).
    pub fn endpoint(&self) -> String {
        match &self.endpoint_url {
            Some(e) => e.trim_end_matches('/').to_string(),
            None => format!("https://{}.snowflakecomputing.com", self.host),
        }
    }

    /// The account name for the login and the JWT: the account identifier up to the first
    /// dot, upper case (`xy12345.eu-central-1` → `XY12345`).
    pub fn account_name(&self) -> String {
        self.host.split('.').next().unwrap_or_default().to_ascii_uppercase()
    }

    /// Checks that the credentials can be used.
    pub fn validate(&self) -> Result<()> {
        let need = |what: &str, key: &str| {
            Error::config(format!("no {what} for the snowflake destination")).with_hint(format!(
                "set DESTINATION__SNOWFLAKE__CREDENTIALS=snowflake://user:password@account/database, or {key} in [destination.snowflake.credentials] of .stevedore/secrets.toml"
            ))
        };
        if self.host.trim().is_empty() && self.endpoint_url.is_none() {
            return Err(need("account (host)", "host"));
        }
        if self.database.trim().is_empty() {
            return Err(need("database", "database"));
        }
        if self.username.trim().is_empty() {
            return Err(need("username", "username"));
        }
        match self.authenticator()? {
            Authenticator::Password if self.password.is_none() => Err(need("password or private_key", "password")),
            Authenticator::KeyPair if self.private_key.is_none() => Err(need("private_key (authenticator snowflake_jwt)", "private_key")),
            Authenticator::OAuth if self.token.is_none() => Err(need("token (authenticator oauth)", "token")),
            _ => Ok(()),
        }
    }

    /// A connection string for this account with the password replaced by `***`.
    pub fn redacted(&self) -> String {
        let pw = if self.password.is_some() { ":***" } else { "" };
        format!("snowflake://{}{pw}@{}/{}", pct(&self.username), self.host, pct(&self.database))
    }
}

/// `csv_format`: the CSV options of COPY for csv job files.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvFormat {
    /// Field delimiter.
    pub delimiter: String,
    /// Whether files have a header row (then columns match by name).
    pub include_header: bool,
    /// `ON_ERROR = CONTINUE`.
    pub on_error_continue: bool,
    /// File encoding.
    pub encoding: String,
}

impl Default for CsvFormat {
    fn default() -> Self {
        CsvFormat { delimiter: ",".into(), include_header: true, on_error_continue: false, encoding: "UTF-8".into() }
    }
}

/// Read from a table of options; unknown options are refused.
impl KeyValue for CsvFormat {
    const KIND: ValueKind = ValueKind::Any;
    fn read(config: &Config, paths: &[&[&str]], key: &str) -> Result<Option<Self>> {
        let Some(t) = config.get_table(paths, key)? else { return Ok(None) };
        let mut f = CsvFormat::default();
        for (k, v) in &t {
            match (k.as_str(), v) {
                ("delimiter", toml::Value::String(s)) => f.delimiter = s.clone(),
                ("include_header", toml::Value::Boolean(b)) => f.include_header = *b,
                ("on_error_continue", toml::Value::Boolean(b)) => f.on_error_continue = *b,
                ("encoding", toml::Value::String(s)) => f.encoding = s.clone(),
                ("quoting" | "lineterminator", _) => {}
                (k, v) => return Err(Error::config(format!("[destination.snowflake.csv_format] {k} = {v} is not understood"))),
            }
        }
        Ok(Some(f))
    }
}

stevedore_core::config_section! {
    /// `[destination.snowflake]` keys.
    pub static SNOWFLAKE_SPEC = ["destination", "snowflake"], children [&CREDENTIALS_SPEC];
    /// Resolved `[destination.snowflake]` settings.
    #[derive(Debug, Clone)]
    pub struct SnowflakeConfig {
        #[filled]
        /// Credentials.
        pub credentials: Credentials,
        /// a named stage for job files (internal) or staged files (external); default: the table's stage
        pub stage_name: Option<String> = None,
        /// keep files PUT to an internal stage after COPY (false: REMOVE them)
        pub keep_staged_files: bool = true => "true",
        /// csv options: `delimiter`, `include_header`, `on_error_continue`, `encoding`
        pub csv_format: CsvFormat = CsvFormat::default(),
        /// render `UNIQUE` for unique columns
        pub create_indexes: bool = false => "false",
        /// QUERY_TAG session parameter
        pub query_tag: Option<String> = None,
        /// tz-aware timestamps as `TIMESTAMP_TZ` instead of `TIMESTAMP_LTZ`
        pub use_timestamp_tz: bool = false => "false",
        /// seconds for one request (login, a statement, an upload)
        pub http_timeout: Duration = Duration::from_secs(120) => "120",
        /// staging dataset: a pattern with `%s` or a fixed name
        pub staging_dataset_name_layout: String = "%s_staging".into() => "`%s_staging`",
        /// or `insert-from-staging`, `staging-optimized`
        pub replace_strategy: Option<ReplaceStrategy> = None => "`truncate-and-insert`",
        /// remove the staged files of a load's tables before its first upload
        pub truncate_tables_on_staging_destination_before_load: bool = true => "true",
    }
}

impl SnowflakeConfig {
    /// Reads `[destination.snowflake]` and its credentials.
    pub fn from_config(config: &Config) -> Result<Self> {
        let resolved = config.resolve(&SNOWFLAKE_SPEC)?;
        let mut c = SnowflakeConfig::read(config)?;
        c.credentials = Credentials::from_resolved(resolved.child("credentials"))?;
        c.stage_name = c.stage_name.filter(|s| !s.trim().is_empty());
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn connection_strings_as_dlt_writes_them() {
        let c = Credentials::parse("snowflake://loader:s%40cr%3Aet@kgiotue-wn98412/DLT_DATA?warehouse=COMPUTE_WH&role=DLT_LOADER_ROLE")
            .unwrap();
        assert_eq!(c.username, "loader");
        assert_eq!(c.password.as_ref().unwrap().expose(), "s@cr:et");
        assert_eq!(c.host, "kgiotue-wn98412");
        assert_eq!(c.database, "DLT_DATA");
        assert_eq!(c.warehouse.as_deref(), Some("COMPUTE_WH"));
        assert_eq!(c.role.as_deref(), Some("DLT_LOADER_ROLE"));
        assert_eq!(c.endpoint(), "https://kgiotue-wn98412.snowflakecomputing.com");
        assert_eq!(c.authenticator().unwrap(), Authenticator::Password);
        c.validate().unwrap();
        let shown = format!("{c} {c:?} {}", c.redacted());
        assert!(!shown.contains("cr:et") && !shown.contains("s@cr") && !shown.contains("cr%3Aet"), "{shown}");
        assert_eq!(Credentials::parse("snowflake://u:p@xy12345.eu-central-1/db").unwrap().account_name(), "XY12345");
        let e = Credentials::parse("postgresql://u:topsecret@h/d").unwrap_err().to_string();
        assert!(!e.contains("topsecret"), "{e}");
        let e = Credentials::parse("snowflake://u:topsecret@h/d?bogus=1").unwrap_err().to_string();
        assert!(e.contains("bogus") && !e.contains("topsecret"), "{e}");
    }

    #[test]
    fn env_keys_and_options() {
        let env: HashMap<String, String> = [
            ("DESTINATION__SNOWFLAKE__CREDENTIALS__DATABASE", "db"),
            ("DESTINATION__SNOWFLAKE__CREDENTIALS__USERNAME", "u"),
            ("DESTINATION__SNOWFLAKE__CREDENTIALS__HOST", "acc"),
            ("DESTINATION__SNOWFLAKE__CREDENTIALS__PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nMIIsecretsecret\n-----END PRIVATE KEY-----"),
            ("DESTINATION__SNOWFLAKE__CREDENTIALS__ENDPOINT_URL", "http://127.0.0.1:9030/"),
            ("DESTINATION__SNOWFLAKE__STAGE_NAME", "my_stage"),
            ("DESTINATION__SNOWFLAKE__KEEP_STAGED_FILES", "false"),
            ("DESTINATION__SNOWFLAKE__QUERY_TAG", "stevedore"),
            ("DESTINATION__SNOWFLAKE__USE_TIMESTAMP_TZ", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let dir = tempfile::tempdir().unwrap();
        let c = SnowflakeConfig::from_config(&Config::load(dir.path(), &env).unwrap()).unwrap();
        assert_eq!(c.credentials.endpoint(), "http://127.0.0.1:9030");
        assert_eq!(c.credentials.authenticator().unwrap(), Authenticator::KeyPair);
        c.credentials.validate().unwrap();
        assert_eq!(c.stage_name.as_deref(), Some("my_stage"));
        assert!(!c.keep_staged_files && c.use_timestamp_tz);
        assert_eq!(c.query_tag.as_deref(), Some("stevedore"));
        let shown = format!("{c:?} {}", c.credentials);
        assert!(!shown.contains("secretsecret"), "{shown}");
        // defaults
        let c = SnowflakeConfig::from_config(&Config::load(dir.path(), &HashMap::new()).unwrap()).unwrap();
        assert!(c.keep_staged_files && !c.create_indexes && !c.use_timestamp_tz);
        let e = c.credentials.validate().unwrap_err().to_string();
        assert!(e.contains("account"), "{e}");
    }

    #[test]
    fn connection_string_from_env_and_secrets_toml() {
        let env: HashMap<String, String> =
            [("DESTINATION__SNOWFLAKE__CREDENTIALS".to_string(), "snowflake://u:pw%21@acc/DB?warehouse=WH".to_string())].into();
        let dir = tempfile::tempdir().unwrap();
        let c = SnowflakeConfig::from_config(&Config::load(dir.path(), &env).unwrap()).unwrap();
        assert_eq!(c.credentials.password.as_ref().unwrap().expose(), "pw!");
        assert_eq!(c.credentials.warehouse.as_deref(), Some("WH"));
        std::fs::create_dir_all(dir.path().join(".stevedore")).unwrap();
        std::fs::write(
            dir.path().join(".stevedore/secrets.toml"),
            "[destination.snowflake.credentials]\ndatabase = \"d\"\nusername = \"u\"\npassword = \"pw\"\nhost = \"a\"\nrole = \"R\"\n\n[destination.snowflake.csv_format]\ndelimiter = \"|\"\ninclude_header = false\n",
        )
        .unwrap();
        let c = SnowflakeConfig::from_config(&Config::load(dir.path(), &HashMap::new()).unwrap()).unwrap();
        assert_eq!(c.credentials.role.as_deref(), Some("R"));
        assert_eq!(c.csv_format.delimiter, "|");
        assert!(!c.csv_format.include_header);
        c.credentials.validate().unwrap();
    }
}

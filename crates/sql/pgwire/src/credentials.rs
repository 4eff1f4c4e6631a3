//! Connection credentials of a PostgreSQL-wire server, with dlt's key names: a connection
//! string (`postgresql://user:password@host:port/db?connect_timeout=15&sslmode=require`) or the
//! separate keys `database, username, password, host, port, connect_timeout` (plus `sslmode`,
//! `sslrootcert`) of a destination's `credentials` section. The password never appears in
//! `Debug`, `Display`, logs or errors.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use stevedore_core::Result;
use stevedore_core::config::{KeySpec, ResolvedSection, Secret, SectionSpec, ValueKind};
use stevedore_core::error::Error;

/// The credentials keys, with the port's default as the reference shows it.
const fn credential_keys(port_default: &'static str, drivername: &'static str) -> [KeySpec; 10] {
    [
        KeySpec::new("database", ValueKind::String, "database name"),
        KeySpec::new("username", ValueKind::String, "user name"),
        KeySpec::secret("password", ValueKind::String, "password"),
        KeySpec::new("host", ValueKind::String, "host name, IP address, or a unix socket folder (starting with /)"),
        KeySpec::new("port", ValueKind::Integer, "port").with_default(port_default),
        KeySpec::new("connect_timeout", ValueKind::Integer, "seconds to wait for a connection").with_default("15"),
        KeySpec::new("sslmode", ValueKind::String, "disable, prefer, require, verify-ca or verify-full").with_default("prefer"),
        KeySpec::new("sslrootcert", ValueKind::String, "PEM file with the CA certificates to trust"),
        KeySpec::new("drivername", ValueKind::String, drivername),
        KeySpec::new("query", ValueKind::Any, "extra connection parameters (connect_timeout, sslmode, ...)"),
    ]
}

static PG_KEYS: [KeySpec; 10] = credential_keys("5432", "accepted for dlt compatibility (postgresql)");
static REDSHIFT_KEYS: [KeySpec; 10] = credential_keys("5439", "accepted for dlt compatibility (redshift)");

/// Credentials keys (PostgreSQL).
pub static CREDENTIALS_SPEC: SectionSpec = SectionSpec { path: &["credentials"], alt_paths: &[], keys: &PG_KEYS, children: &[] };

/// Credentials keys (Redshift: port 5439 by default).
pub static REDSHIFT_CREDENTIALS_SPEC: SectionSpec =
    SectionSpec { path: &["credentials"], alt_paths: &[], keys: &REDSHIFT_KEYS, children: &[] };

/// Which server the credentials are for: the URL schemes accepted, the default port and
/// the scheme shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// PostgreSQL: `postgres://`, `postgresql://`, port 5432.
    #[default]
    Postgres,
    /// Amazon Redshift: `redshift://` (and `postgres[ql]://`), port 5439.
    Redshift,
}

impl Flavor {
    /// The default port.
    pub fn default_port(self) -> u16 {
        match self {
            Flavor::Postgres => 5432,
            Flavor::Redshift => 5439,
        }
    }
    /// The scheme shown in displayable credentials.
    pub fn scheme(self) -> &'static str {
        match self {
            Flavor::Postgres => "postgresql",
            Flavor::Redshift => "redshift",
        }
    }
    fn accepts(self, scheme: &str) -> bool {
        matches!(scheme, "postgres" | "postgresql") || (self == Flavor::Redshift && scheme == "redshift")
    }
}

/// TLS mode, libpq's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, without certificate checks (libpq's default).
    #[default]
    Prefer,
    /// TLS required, certificate not checked.
    Require,
    /// TLS required, certificate chain checked.
    VerifyCa,
    /// TLS required, chain and host name checked.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" | "allow" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(
                    Error::config(format!("unknown sslmode `{other}`")).with_hint("use disable, prefer, require, verify-ca or verify-full")
                );
            }
        })
    }
}

/// Connection credentials. `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq)]
pub struct Credentials {
    /// Database.
    pub database: String,
    /// User.
    pub username: String,
    /// Password.
    pub password: Option<Secret<String>>,
    /// Host name or address; a value starting with `/` is a unix socket folder.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// TLS mode.
    pub sslmode: SslMode,
    /// CA certificates (PEM) for `verify-ca` / `verify-full`.
    pub sslrootcert: Option<PathBuf>,
    /// `application_name` reported to the server.
    pub application_name: Option<String>,
    /// The server kind (default port, displayed scheme).
    pub flavor: Flavor,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            database: "postgres".into(),
            username: "postgres".into(),
            password: None,
            host: "localhost".into(),
            port: 5432,
            connect_timeout: Duration::from_secs(15),
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            application_name: Some("stevedore".into()),
            flavor: Flavor::Postgres,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("database", &self.database)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("connect_timeout", &self.connect_timeout)
            .field("sslmode", &self.sslmode)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Credentials {
    /// `postgresql://user:***@host:port/db` (dlt's displayable credentials).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pw = if self.password.is_some() { ":***" } else { "" };
        write!(f, "{}://{}{pw}@{}:{}/{}", self.flavor.scheme(), self.username, self.host, self.port, self.database)
    }
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

impl Credentials {
    /// The defaults of a flavor (Redshift: port 5439).
    pub fn for_flavor(flavor: Flavor) -> Self {
        Credentials { port: flavor.default_port(), flavor, ..Credentials::default() }
    }

    /// Parses a connection string `postgres[ql]://user:password@host:port/database?params`.
    /// Errors never contain the password.
    pub fn parse(conn: &str) -> Result<Self> {
        Self::parse_as(conn, Flavor::Postgres)
    }

    /// Parses a connection string of a flavor (`redshift://...` too for Redshift).
    pub fn parse_as(conn: &str, flavor: Flavor) -> Result<Self> {
        let (name, example) = match flavor {
            Flavor::Postgres => ("postgres", "postgresql://user:password@host:5432/database?connect_timeout=15"),
            Flavor::Redshift => ("redshift", "redshift://user:password@host:5439/database?connect_timeout=15"),
        };
        let bad =
            |why: &str| Error::config(format!("invalid {name} connection string: {why}")).with_hint(format!("write it like {example}"));
        let url = url::Url::parse(conn.trim()).map_err(|e| bad(&e.to_string()))?;
        if !flavor.accepts(url.scheme()) {
            return Err(bad(&format!("scheme `{}` is not {}", url.scheme(), flavor.scheme())));
        }
        let mut c = Credentials::for_flavor(flavor);
        if !url.username().is_empty() {
            c.username = decode(url.username());
        }
        c.password = url.password().map(|p| Secret::new(decode(p)));
        if let Some(h) = url.host_str()
            && !h.is_empty()
        {
            c.host = decode(h.trim_start_matches('[').trim_end_matches(']'));
        }
        if let Some(p) = url.port() {
            c.port = p;
        }
        let db = url.path().trim_start_matches('/');
        if !db.is_empty() {
            c.database = decode(db);
        }
        for (k, v) in url.query_pairs() {
            c.set_param(&k, &v)?;
        }
        Ok(c)
    }

    fn set_param(&mut self, k: &str, v: &str) -> Result<()> {
        match k {
            "connect_timeout" => {
                let s: u64 = v.trim().parse().map_err(|_| Error::config(format!("connect_timeout `{v}` is not a number of seconds")))?;
                self.connect_timeout = Duration::from_secs(s.max(1));
            }
            "sslmode" => self.sslmode = SslMode::parse(v)?,
            "sslrootcert" => self.sslrootcert = Some(PathBuf::from(v)),
            "application_name" => self.application_name = Some(v.to_string()),
            "host" => self.host = v.to_string(),
            "port" => self.port = v.parse().map_err(|_| Error::config(format!("port `{v}` is not a number")))?,
            "user" => self.username = v.to_string(),
            "dbname" => self.database = v.to_string(),
            other => tracing::warn!(parameter = other, "postgres connection parameter not supported by stevedore; ignored"),
        }
        Ok(())
    }

    /// Reads the resolved `credentials` child: a native connection string, then separate keys
    /// on top of it.
    pub fn from_resolved(sec: Option<&ResolvedSection>) -> Result<Option<Self>> {
        Self::from_resolved_as(sec, Flavor::Postgres)
    }

    /// [`Credentials::from_resolved`] for a flavor.
    pub fn from_resolved_as(sec: Option<&ResolvedSection>, flavor: Flavor) -> Result<Option<Self>> {
        let Some(sec) = sec else { return Ok(None) };
        let mut c = match &sec.native {
            Some(n) => Some(Self::parse_as(n.as_str().unwrap_or_default(), flavor)?),
            None => None,
        };
        if sec.values.is_empty() {
            return Ok(c);
        }
        let c = c.get_or_insert_with(|| Credentials::for_flavor(flavor));
        for (k, v) in &sec.values {
            let val = &v.expose().value;
            let text = match val {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match k.as_str() {
                "database" => c.database = text,
                "username" => c.username = text,
                "password" => c.password = Some(Secret::new(text)),
                "drivername" | "csv_format" => {}
                "query" => {
                    if let toml::Value::Table(t) = val {
                        for (qk, qv) in t {
                            let s = qv.as_str().map(String::from).unwrap_or_else(|| qv.to_string());
                            c.set_param(qk, &s)?;
                        }
                    }
                }
                other => c.set_param(other, &text)?,
            }
        }
        Ok(Some(c.clone()))
    }

    /// The driver's connection settings (keepalives on, `sslmode` mapped to the driver's:
    /// `verify-*` require TLS, the certificate checks are the TLS connector's).
    pub fn pg_config(&self) -> tokio_postgres::Config {
        let c = self;
        let mut p = tokio_postgres::Config::new();
        p.user(&c.username).dbname(&c.database).port(c.port).connect_timeout(c.connect_timeout);
        if c.host.starts_with('/') {
            p.host_path(&c.host);
        } else {
            p.host(&c.host);
        }
        if let Some(pw) = &c.password {
            p.password(pw.expose().as_bytes());
        }
        if let Some(a) = &c.application_name {
            p.application_name(a);
        }
        p.ssl_mode(match c.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        p.keepalives(true).keepalives_idle(Duration::from_secs(60));
        p
    }
}

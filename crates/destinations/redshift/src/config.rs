//! `[destination.redshift]` configuration and credentials, with dlt's key names.
//!
//! Credentials come as a connection string, exactly as the seed writes it
//! (`redshift://loader:<password>@host/dlt_data?connect_timeout=15`; `postgresql://` URLs
//! work too; port 5439 by default) or as the separate keys `database, username, password,
//! host, port, connect_timeout` (plus `sslmode`, `sslrootcert`) under
//! `[destination.redshift.credentials]`, from the config files, the secrets file or the
//! environment (`DESTINATION__REDSHIFT__CREDENTIALS`, ...). The password never appears in
//! `Debug`, `Display`, logs or errors.

use stevedore_core::Result;
use stevedore_core::config::{Config, KeySpec, SectionSpec, ValueKind};
use stevedore_core::schema::ReplaceStrategy;
use stevedore_pgwire::Flavor;

pub use stevedore_pgwire::credentials::{Credentials, REDSHIFT_CREDENTIALS_SPEC as CREDENTIALS_SPEC, SslMode};

/// `[destination.redshift]` keys.
pub static REDSHIFT_SPEC: SectionSpec = SectionSpec {
    path: &["destination", "redshift"],
    alt_paths: &[],
    keys: &[
        KeySpec::new(
            "staging_iam_role",
            ValueKind::String,
            "IAM role ARN Redshift's `COPY` reads the staging bucket with; without it, the staging bucket's AWS keys are forwarded",
        ),
        KeySpec::new("has_case_sensitive_identifiers", ValueKind::Bool, "the cluster has `enable_case_sensitive_identifier` on: no lower-casing")
            .with_default("false"),
        KeySpec::new("staging_dataset_name_layout", ValueKind::String, "staging dataset: a pattern with `%s` or a fixed name")
            .with_default("`%s_staging`"),
        KeySpec::new("replace_strategy", ValueKind::String, "or `insert-from-staging`, `staging-optimized`")
            .with_default("`truncate-and-insert`"),
        KeySpec::new("enable_dataset_name_normalization", ValueKind::Bool, "snake_case dataset names").with_default("true"),
        KeySpec::new(
            "truncate_tables_on_staging_destination_before_load",
            ValueKind::Bool,
            "remove the staged files of a load's tables before its first upload",
        )
        .with_default("true"),
        KeySpec::new("pool_size", ValueKind::Integer, "connections for parallel jobs").with_default("4"),
        KeySpec::new(
            "stand_in_copy",
            ValueKind::Bool,
            "tests only: on a PostgreSQL stand-in, staged files are read back and loaded with `COPY ... FROM STDIN` instead of `COPY ... FROM 's3://...'`",
        )
        .with_default("false"),
    ],
    children: &[&CREDENTIALS_SPEC],
};

/// Resolved `[destination.redshift]` settings.
#[derive(Debug, Clone)]
pub struct RedshiftConfig {
    /// Credentials.
    pub credentials: Option<Credentials>,
    /// `staging_iam_role`.
    pub staging_iam_role: Option<String>,
    /// `has_case_sensitive_identifiers`.
    pub has_case_sensitive_identifiers: bool,
    /// `staging_dataset_name_layout` (`%s_staging`).
    pub staging_dataset_name_layout: String,
    /// `replace_strategy` (`None`: truncate-and-insert).
    pub replace_strategy: Option<ReplaceStrategy>,
    /// `enable_dataset_name_normalization`.
    pub enable_dataset_name_normalization: bool,
    /// `truncate_tables_on_staging_destination_before_load`.
    pub truncate_staged_files: bool,
    /// Connections for parallel jobs.
    pub pool_size: usize,
    /// `stand_in_copy` (tests on PostgreSQL).
    pub stand_in_copy: bool,
}

impl Default for RedshiftConfig {
    fn default() -> Self {
        RedshiftConfig {
            credentials: None,
            staging_iam_role: None,
            has_case_sensitive_identifiers: false,
            staging_dataset_name_layout: "%s_staging".into(),
            replace_strategy: None,
            enable_dataset_name_normalization: true,
            truncate_staged_files: true,
            pool_size: 4,
            stand_in_copy: false,
        }
    }
}

impl RedshiftConfig {
    /// Reads `[destination.redshift]` from config.
    pub fn from_config(config: &Config) -> Result<Self> {
        let resolved = config.resolve(&REDSHIFT_SPEC)?;
        let credentials = Credentials::from_resolved_as(resolved.child("credentials"), Flavor::Redshift)?;
        let mut c = RedshiftConfig { credentials, ..Default::default() };
        let paths: &[&[&str]] = &[&["destination", "redshift"]];
        c.staging_iam_role = config.get_str(paths, "staging_iam_role")?.filter(|s| !s.trim().is_empty());
        if let Some(b) = config.get_bool(paths, "has_case_sensitive_identifiers")? {
            c.has_case_sensitive_identifiers = b;
        }
        if let Some(l) = config.get_str(paths, "staging_dataset_name_layout")? {
            c.staging_dataset_name_layout = l;
        }
        if let Some(s) = config.get_str(paths, "replace_strategy")? {
            c.replace_strategy = Some(s.parse()?);
        }
        if let Some(b) = config.get_bool(paths, "enable_dataset_name_normalization")? {
            c.enable_dataset_name_normalization = b;
        }
        if let Some(b) = config.get_bool(paths, "truncate_tables_on_staging_destination_before_load")? {
            c.truncate_staged_files = b;
        }
        if let Some(p) = config.get_u64(paths, "pool_size")? {
            c.pool_size = (p as usize).max(1);
        }
        if let Some(b) = config.get_bool(paths, "stand_in_copy")? {
            c.stand_in_copy = b;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_seed_connection_string() {
        let c =
            Credentials::parse_as("redshift://loader:s3cr%40t@redshift.example.com/dlt_data?connect_timeout=15", Flavor::Redshift).unwrap();
        assert_eq!(
            (c.username.as_str(), c.host.as_str(), c.port, c.database.as_str()),
            ("loader", "redshift.example.com", 5439, "dlt_data")
        );
        assert_eq!(c.connect_timeout.as_secs(), 15);
        let shown = format!("{c} {c:?}");
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(shown.contains("redshift://loader:***@redshift.example.com:5439/dlt_data"), "{shown}");
        // postgresql URLs too, with their port
        let c = Credentials::parse_as("postgresql://u:p@h:5432/d", Flavor::Redshift).unwrap();
        assert_eq!(c.port, 5432);
        // the postgres flavor does not take redshift URLs
        assert!(Credentials::parse("redshift://u:p@h/d").is_err());
        let e = Credentials::parse_as("mysql://u:topsecret@h/d", Flavor::Redshift).unwrap_err().to_string();
        assert!(e.contains("redshift://user:password@host:5439/database") && !e.contains("topsecret"), "{e}");
    }

    #[test]
    fn config_from_env_and_keys() {
        let env: HashMap<String, String> = [
            ("DESTINATION__REDSHIFT__CREDENTIALS".to_string(), "redshift://loader:pw@host/dlt_data?connect_timeout=15".to_string()),
            ("DESTINATION__REDSHIFT__STAGING_IAM_ROLE".to_string(), "arn:aws:iam::123:role/loader".to_string()),
            ("DESTINATION__REDSHIFT__HAS_CASE_SENSITIVE_IDENTIFIERS".to_string(), "true".to_string()),
        ]
        .into();
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::load(dir.path(), &env).unwrap();
        let c = RedshiftConfig::from_config(&cfg).unwrap();
        assert_eq!(c.staging_iam_role.as_deref(), Some("arn:aws:iam::123:role/loader"));
        assert!(c.has_case_sensitive_identifiers);
        assert_eq!(c.credentials.unwrap().port, 5439);

        let env: HashMap<String, String> = [
            ("DESTINATION__REDSHIFT__CREDENTIALS__DATABASE".to_string(), "d2".to_string()),
            ("DESTINATION__REDSHIFT__CREDENTIALS__PASSWORD".to_string(), "pw2".to_string()),
            ("DESTINATION__REDSHIFT__CREDENTIALS__HOST".to_string(), "cluster.example".to_string()),
        ]
        .into();
        let cfg = Config::load(dir.path(), &env).unwrap();
        let cr = RedshiftConfig::from_config(&cfg).unwrap().credentials.unwrap();
        assert_eq!((cr.database.as_str(), cr.port, cr.host.as_str()), ("d2", 5439, "cluster.example"));
        assert_eq!(cr.to_string(), "redshift://postgres:***@cluster.example:5439/d2");
    }
}

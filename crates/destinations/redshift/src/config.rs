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
use stevedore_core::config::Config;
use stevedore_core::schema::ReplaceStrategy;
use stevedore_pgwire::Flavor;

pub use stevedore_pgwire::credentials::{Credentials, REDSHIFT_CREDENTIALS_SPEC as CREDENTIALS_SPEC, SslMode};

stevedore_core::config_section! {
    /// `[destination.redshift]` keys.
    pub static REDSHIFT_SPEC = ["destination", "redshift"], children [&CREDENTIALS_SPEC];
    /// Resolved `[destination.redshift]` settings.
    #[derive(Debug, Clone)]
    pub struct RedshiftConfig {
        #[filled]
        /// Credentials (`None` until given).
        pub credentials: Option<Credentials>,
        /// IAM role ARN Redshift's `COPY` reads the staging bucket with; without it, the staging bucket's AWS keys are forwarded
        pub staging_iam_role: Option<String> = None,
        /// the cluster has `enable_case_sensitive_identifier` on: no lower-casing
        pub has_case_sensitive_identifiers: bool = false => "false",
        /// staging dataset: a pattern with `%s` or a fixed name
        pub staging_dataset_name_layout: String = "%s_staging".into() => "`%s_staging`",
        /// or `insert-from-staging`, `staging-optimized`
        pub replace_strategy: Option<ReplaceStrategy> = None => "`truncate-and-insert`",
        /// snake_case dataset names
        pub enable_dataset_name_normalization: bool = true => "true",
        /// remove the staged files of a load's tables before its first upload
        pub truncate_tables_on_staging_destination_before_load: bool = true => "true",
        /// connections for parallel jobs
        pub pool_size: usize = 4 => "4",
        /// tests only: on a PostgreSQL stand-in, staged files are read back and loaded with `COPY ... FROM STDIN` instead of `COPY ... FROM 's3://...'`
        pub stand_in_copy: bool = false => "false",
    }
}

impl RedshiftConfig {
    /// Reads `[destination.redshift]` (and its credentials) from config.
    pub fn from_config(config: &Config) -> Result<Self> {
        let resolved = config.resolve(&REDSHIFT_SPEC)?;
        let mut c = RedshiftConfig::read(config)?;
        c.credentials = Credentials::from_resolved_as(resolved.child("credentials"), Flavor::Redshift)?;
        c.staging_iam_role = c.staging_iam_role.filter(|s| !s.trim().is_empty());
        c.pool_size = c.pool_size.max(1);
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

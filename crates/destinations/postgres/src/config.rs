//! `[destination.postgres]` configuration and credentials, with dlt's key names.
//!
//! Credentials come as a connection string
//! (`postgresql://user:password@host:port/db?connect_timeout=15&sslmode=require`) or as the
//! separate keys `database, username, password, host, port, connect_timeout` (plus `sslmode`,
//! `sslrootcert`) under `[destination.postgres.credentials]`, from the config files, the
//! secrets file or the environment (`DESTINATION__POSTGRES__CREDENTIALS`,
//! `DESTINATION__POSTGRES__CREDENTIALS__PASSWORD`, ...). The password never appears in
//! `Debug`, `Display`, logs or errors.

use stevedore_core::Result;
use stevedore_core::config::Config;
use stevedore_core::schema::ReplaceStrategy;

pub use stevedore_pgwire::credentials::{CREDENTIALS_SPEC, Credentials, SslMode};

stevedore_core::config_section! {
    /// `[destination.postgres]` keys.
    pub static POSTGRES_SPEC = ["destination", "postgres"], children [&CREDENTIALS_SPEC];
    /// Resolved `[destination.postgres]` settings.
    #[derive(Debug, Clone)]
    pub struct PostgresConfig {
        #[filled]
        /// Credentials (`None` until given).
        pub credentials: Option<Credentials>,
        /// staging dataset: a pattern with `%s` or a fixed name
        pub staging_dataset_name_layout: String = "%s_staging".into() => "`%s_staging`",
        /// or `insert-from-staging`, `staging-optimized`
        pub replace_strategy: Option<ReplaceStrategy> = None => "`truncate-and-insert`",
        /// `UNIQUE` constraints for unique columns
        pub create_indexes: bool = true => "true",
        /// snake_case dataset names
        pub enable_dataset_name_normalization: bool = true => "true",
        /// connections for parallel jobs; more parallel COPYs than cores only add memory
        pub pool_size: usize = default_pool_size() => "one per core, 2 to 8 (`[load] workers` sets it too, at most 20)",
        /// accepted for dlt compatibility
        pub csv_format: Option<toml::Value> = None,
    }
}

/// Connections by default: one per core, 2 to 8.
pub fn default_pool_size() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8)
}

impl PostgresConfig {
    /// Reads `[destination.postgres]` (and its credentials) from config; without `pool_size`,
    /// `[load] workers` sets the pool (at most 20).
    pub fn from_config(config: &Config) -> Result<Self> {
        let resolved = config.resolve(&POSTGRES_SPEC)?;
        let mut c = PostgresConfig::read(config)?;
        c.credentials = Credentials::from_resolved(resolved.child("credentials"))?;
        if config.get(&[POSTGRES_SPEC.path], "pool_size").is_none()
            && let Some(w) = config.get_u64(&[&["load"]], "workers")?
        {
            c.pool_size = (w as usize).clamp(1, 20);
        }
        c.pool_size = c.pool_size.max(1);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

    #[test]
    fn parses_connection_strings() {
        let c = Credentials::parse("postgresql://loader:s%40cret@db.example:5433/dlt_data?connect_timeout=7&sslmode=require").unwrap();
        assert_eq!(c.username, "loader");
        assert_eq!(c.password.as_ref().unwrap().expose(), "s@cret");
        assert_eq!(c.host, "db.example");
        assert_eq!(c.port, 5433);
        assert_eq!(c.database, "dlt_data");
        assert_eq!(c.connect_timeout, Duration::from_secs(7));
        assert_eq!(c.sslmode, SslMode::Require);
        let shown = format!("{c} {c:?}");
        assert!(!shown.contains("s@cret") && !shown.contains("cret"), "{shown}");
        assert!(shown.contains("postgresql://loader:***@db.example:5433/dlt_data"));
        assert!(Credentials::parse("mysql://x@y/z").is_err());
        let e = Credentials::parse("postgresql://u:topsecret@h/d?sslmode=bogus").unwrap_err().to_string();
        assert!(!e.contains("topsecret"), "{e}");
    }

    #[test]
    fn credentials_from_env_string_and_keys() {
        let env: HashMap<String, String> = [
            ("DESTINATION__POSTGRES__CREDENTIALS".to_string(), "postgresql://a:pw@h:1/db".to_string()),
            ("DESTINATION__POSTGRES__STAGING_DATASET_NAME_LAYOUT".to_string(), "staging_%s".to_string()),
        ]
        .into();
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::load(dir.path(), &env).unwrap();
        let c = PostgresConfig::from_config(&cfg).unwrap();
        let cr = c.credentials.unwrap();
        assert_eq!((cr.username.as_str(), cr.host.as_str(), cr.port, cr.database.as_str()), ("a", "h", 1, "db"));
        assert_eq!(c.staging_dataset_name_layout, "staging_%s");

        let env: HashMap<String, String> = [
            ("DESTINATION__POSTGRES__CREDENTIALS__DATABASE".to_string(), "d2".to_string()),
            ("DESTINATION__POSTGRES__CREDENTIALS__PASSWORD".to_string(), "pw2".to_string()),
            ("DESTINATION__POSTGRES__CREDENTIALS__PORT".to_string(), "6543".to_string()),
            ("DESTINATION__POSTGRES__CREDENTIALS__HOST".to_string(), "127.0.0.1".to_string()),
        ]
        .into();
        let cfg = Config::load(dir.path(), &env).unwrap();
        let cr = PostgresConfig::from_config(&cfg).unwrap().credentials.unwrap();
        assert_eq!((cr.database.as_str(), cr.port, cr.host.as_str()), ("d2", 6543, "127.0.0.1"));
        assert_eq!(cr.password.unwrap().expose(), "pw2");
    }

    #[test]
    fn credentials_from_secrets_toml() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".stevedore")).unwrap();
        std::fs::write(
            dir.path().join(".stevedore/secrets.toml"),
            "[destination.postgres.credentials]\ndatabase = \"dlt_data\"\nusername = \"loader\"\npassword = \"pw\"\nhost = \"localhost\"\nport = 5432\nconnect_timeout = 15\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".stevedore/config.toml"),
            "[destination.postgres]\nstaging_dataset_name_layout = \"_dlt_staging\"\n[load]\ntruncate_staging_dataset = true\n",
        )
        .unwrap();
        let cfg = Config::load(dir.path(), &HashMap::new()).unwrap();
        let c = PostgresConfig::from_config(&cfg).unwrap();
        assert_eq!(c.staging_dataset_name_layout, "_dlt_staging");
        let cr = c.credentials.unwrap();
        assert_eq!(cr.to_string(), "postgresql://loader:***@localhost:5432/dlt_data");
    }
}

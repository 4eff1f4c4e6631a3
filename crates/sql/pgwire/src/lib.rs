//! The PostgreSQL wire protocol pieces that PostgreSQL-compatible destinations share
//! (PostgreSQL itself, Redshift): credentials with dlt's keys, TLS with libpq's `sslmode`
//! semantics, a connection pool, transactions for the shared SQL client
//! (`stevedore_sql::client`), driver errors mapped to stevedore's error kinds, and loading
//! local job files (binary and CSV `COPY ... FROM STDIN`, `insert_values` statements). A
//! destination crate adds its dialect and remote loads on top, without depending on another
//! destination.

pub mod copy;
pub mod credentials;
pub mod error;
pub mod load;
pub mod pool;
pub mod tls;

pub use credentials::{CREDENTIALS_SPEC, Credentials, Flavor, REDSHIFT_CREDENTIALS_SPEC, SslMode};
pub use error::pg_err;
pub use pool::{PgTx, connection, pool};
pub use tls::tls_connector;

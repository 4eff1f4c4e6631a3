//! The PostgreSQL wire protocol pieces that PostgreSQL-compatible destinations share
//! (PostgreSQL itself, Redshift): credentials with dlt's keys, TLS with libpq's `sslmode`
//! semantics, a connection pool, transactions for the shared SQL client
//! (`stevedore_sql::client`), and driver errors mapped to stevedore's error kinds. A
//! destination crate adds its own COPY paths and dialect on top, without depending on
//! another destination.

pub mod credentials;
pub mod error;
pub mod pool;
pub mod tls;

pub use credentials::{CREDENTIALS_SPEC, Credentials, SslMode};
pub use error::pg_err;
pub use pool::{PgTx, connection, pool};
pub use tls::tls_connector;

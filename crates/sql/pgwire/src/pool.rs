//! Pooled connections and transactions on a PostgreSQL-wire server: a pool built from
//! [`Credentials`], connection errors with a hint, and [`PgTx`], the shared SQL client's
//! transaction (`stevedore_sql::client::SqlTransaction`) on a pooled connection.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_sql::client::{Param, SqlRow, SqlTransaction};
use tokio_postgres::types::ToSql;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::pg_err;

/// A pool of at most `size` connections (at least one) with these settings and TLS.
pub fn pool(pg: tokio_postgres::Config, tls: MakeRustlsConnect, size: usize) -> Result<Pool> {
    let mgr = Manager::from_config(pg, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(mgr)
        .max_size(size.max(1))
        .build()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot build the connection pool: {e}")))
}

/// A connection of `pool`; `display` names the server (without secrets) in errors.
pub async fn connection(pool: &Pool, display: &str) -> Result<deadpool_postgres::Object> {
    pool.get().await.map_err(|e| {
        let err = match e {
            deadpool_postgres::PoolError::Backend(e) => pg_err(&format!("connecting to {display}"), e),
            other => Error::new(ErrorKind::Destination, format!("connecting to {display} failed: {other}")).retryable(true),
        };
        if err.kind() == ErrorKind::Auth {
            err
        } else {
            err.with_hint("check that the server runs and the host, port and database are right")
        }
    })
}

/// A transaction on a pooled connection. Dropped without a commit, it is rolled back (by a
/// task when a runtime is there, else by closing the connection); the connection goes back
/// to the pool only after that.
pub struct PgTx {
    conn: Option<deadpool_postgres::Object>,
}

impl Drop for PgTx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(async move {
                    if conn.batch_execute("ROLLBACK").await.is_err() {
                        drop(deadpool_postgres::Object::take(conn));
                    }
                });
            }
            Err(_) => drop(deadpool_postgres::Object::take(conn)),
        }
    }
}

impl PgTx {
    /// `BEGIN` on a pooled connection.
    pub async fn begin(conn: deadpool_postgres::Object) -> Result<PgTx> {
        conn.batch_execute("BEGIN").await.map_err(|e| pg_err("starting a transaction", e))?;
        Ok(PgTx { conn: Some(conn) })
    }

    /// The connection, for what the shared trait does not cover (COPY).
    pub fn client(&self) -> &tokio_postgres::Client {
        self.conn.as_ref().expect("transaction in use")
    }
}

fn bind(params: &[Param]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match p {
                Param::Text(s) => Box::new(s.clone()),
                Param::Int(i) => Box::new(*i),
                Param::TextList(v) => Box::new(v.clone()),
            }
        })
        .collect()
}

fn text_row(r: &tokio_postgres::Row) -> SqlRow {
    (0..r.len())
        .map(|i| {
            r.try_get::<_, Option<String>>(i)
                .ok()
                .flatten()
                .or_else(|| r.try_get::<_, Option<i64>>(i).ok().flatten().map(|v| v.to_string()))
                .or_else(|| r.try_get::<_, Option<i32>>(i).ok().flatten().map(|v| v.to_string()))
                .or_else(|| r.try_get::<_, Option<bool>>(i).ok().flatten().map(|v| v.to_string()))
        })
        .collect()
}

#[async_trait]
impl SqlTransaction for PgTx {
    async fn batch(&mut self, sql: &str) -> Result<()> {
        self.client().batch_execute(sql).await.map_err(|e| pg_err("SQL", e))
    }
    async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        let b = bind(params);
        let refs: Vec<&(dyn ToSql + Sync)> = b.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
        self.client().execute(sql, &refs).await.map_err(|e| pg_err("SQL", e))
    }
    async fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<SqlRow>> {
        let b = bind(params);
        let refs: Vec<&(dyn ToSql + Sync)> = b.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
        let rows = self.client().query(sql, &refs).await.map_err(|e| pg_err("SQL", e))?;
        Ok(rows.iter().map(text_row).collect())
    }
    async fn commit(mut self) -> Result<()> {
        let conn = self.conn.take().expect("transaction in use");
        match conn.batch_execute("COMMIT").await {
            Ok(()) => Ok(()),
            Err(e) => {
                drop(deadpool_postgres::Object::take(conn));
                Err(pg_err("COMMIT", e))
            }
        }
    }
}

//! PostgreSQL-wire errors → stevedore errors: a kind, retryable only where retrying can help.

use stevedore_core::{Error, ErrorKind};

/// Converts a driver error; `what` says what was being done.
pub fn pg_err(what: &str, e: tokio_postgres::Error) -> Error {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let class = &code[..2];
        let (kind, retryable) = match class {
            "28" => (ErrorKind::Auth, false),
            "3D" => (ErrorKind::Config, false),
            "22" | "23" => (ErrorKind::InvalidData, false),
            "08" | "53" | "57" if code != "57014" => (ErrorKind::Destination, true),
            "40" => (ErrorKind::Destination, true),
            "55" if code == "55P03" => (ErrorKind::Destination, true),
            "42" if code == "42P01" || code == "3F000" => (ErrorKind::NotFound, false),
            _ => (ErrorKind::Destination, false),
        };
        let mut msg = format!("{what} failed: {} (SQLSTATE {code})", db.message());
        if let Some(d) = db.detail() {
            msg.push_str(&format!("; detail: {d}"));
        }
        if let Some(w) = db.where_() {
            // for COPY: `COPY items, line 3, column name: "value"` names table, row, column, value
            msg.push_str(&format!("; where: {w}"));
        }
        let mut err = Error::new(kind, msg).retryable(retryable).with("sqlstate", code.to_string());
        if let Some(t) = db.table() {
            err = err.with("table", t.to_string());
        }
        if let Some(c) = db.column() {
            err = err.with("column", c.to_string());
        }
        if kind == ErrorKind::Auth {
            err = err.with_hint("check the user name and password in the destination's credentials ([destination.<name>.credentials], e.g. [destination.postgres.credentials])");
        }
        return err;
    }
    // io errors, closed connections, timeouts: the server may come back
    let closed = e.is_closed();
    Error::new(ErrorKind::Destination, format!("{what} failed: {e}{}", if closed { " (connection closed)" } else { "" })).retryable(true)
}

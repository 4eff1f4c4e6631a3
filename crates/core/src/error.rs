//! The one error type of stevedore: a kind, a retryable flag, a message and context pairs.
//!
//! Destination crates keep their own private error enums and convert them into [`Error`]
//! with the backend's name in the context, so callers can match on [`ErrorKind`] and decide
//! about retries from [`Error::is_retryable`] without knowing the backend.

use std::fmt;

/// What went wrong, coarsely. Public and `#[non_exhaustive]`: new kinds may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input data: malformed JSON or CSV, a value that does not fit a column.
    InvalidData,
    /// Bad configuration: unknown key, missing setting, invalid layout.
    Config,
    /// The schema cannot take a change (e.g. a type change on a frozen column).
    Schema,
    /// Reading or writing local files failed.
    Io,
    /// The destination refused or failed an operation.
    Destination,
    /// Credentials were missing or rejected.
    Auth,
    /// Something that should exist does not (bucket, table, pipeline).
    NotFound,
    /// The operation is not supported by this destination or format.
    Unsupported,
    /// A load package or job is in a state the operation does not accept.
    State,
    /// The load was stopped on purpose (fault injection, cancellation).
    Aborted,
    /// A bug in stevedore: please report it.
    Internal,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ErrorKind::InvalidData => "invalid data",
            ErrorKind::Config => "configuration error",
            ErrorKind::Schema => "schema error",
            ErrorKind::Io => "i/o error",
            ErrorKind::Destination => "destination error",
            ErrorKind::Auth => "authentication error",
            ErrorKind::NotFound => "not found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::State => "state error",
            ErrorKind::Aborted => "aborted",
            ErrorKind::Internal => "internal error",
        };
        f.write_str(s)
    }
}

/// stevedore's error: what went wrong ([`ErrorKind`] and message), where (context pairs such
/// as `file`, `line`, `table`, `column`), and whether retrying may help.
pub struct Error {
    kind: ErrorKind,
    message: String,
    retryable: bool,
    context: Vec<(&'static str, String)>,
    hint: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Result alias with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new, non-retryable error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), retryable: false, context: Vec::new(), hint: None, source: None }
    }
    /// Shorthand for [`ErrorKind::InvalidData`].
    pub fn invalid_data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidData, message)
    }
    /// Shorthand for [`ErrorKind::Config`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }
    /// Shorthand for [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// An i/o error on `path` while doing `what`.
    pub fn io(what: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        // a full disk is transient for the loader: the job goes back to the package, which
        // stays pending, and the same command finishes it once there is space again
        let full = matches!(err.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded);
        let retryable =
            full || matches!(err.kind(), std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock);
        let e = Self::new(ErrorKind::Io, format!("{what} failed: {err}"))
            .with("path", path.display().to_string())
            .retryable(retryable)
            .with_source(err);
        if full { e.with_hint("free space on that disk and run the same command again") } else { e }
    }
    /// Marks the error as retryable (transient) or not.
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }
    /// Adds a context pair (`file`, `line`, `table`, `column`, `job`, `destination`...); a
    /// pair the error already holds (a layer below named the same table) is not repeated.
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        let value = value.into();
        if !self.context.iter().any(|(k, v)| *k == key && *v == value) {
            self.context.push((key, value));
        }
        self
    }
    /// Adds a hint: what the user can do about it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Keeps the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The message without context.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
    /// Context pairs.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }
    /// Value of a context key.
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.context.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }
    /// The hint, if any.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if !self.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str(")")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)?;
        if let Some(s) = &self.source {
            write!(f, "\n  caused by: {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error::new(ErrorKind::Internal, format!("arrow: {e}")).with_source(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::new(ErrorKind::InvalidData, format!("json: {e}")).with_source(e)
    }
}

impl From<crate::config::ConfigError> for Error {
    fn from(e: crate::config::ConfigError) -> Self {
        Error::new(ErrorKind::Config, e.to_string())
    }
}

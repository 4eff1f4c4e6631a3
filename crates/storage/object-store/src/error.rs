//! Turning store errors into stevedore errors: what failed, whether a retry may help, which
//! setting to look at. Texts are redacted: no secret value (or SAS signature) ever gets into a
//! message.

use std::error::Error as StdError;

/// What kind of failure a store error is, as far as the user and the retry logic care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The bucket or object does not exist.
    NotFound,
    /// Credentials missing, rejected or without permission.
    Auth,
    /// The endpoint could not be reached (connection refused, DNS, connect timeout).
    Connect,
    /// A transient failure: 5xx, 429, reset connection, timeout. Retrying may help.
    Transient,
    /// A configuration problem found when the request was made.
    Config,
    /// Anything else that will fail again the same way.
    Permanent,
}

impl Failure {
    /// Whether retrying the operation may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Failure::Connect | Failure::Transient)
    }
}

/// A backend-specific classifier, consulted before the generic rules (e.g. opendal errors
/// wrapped by `object_store_opendal`).
pub type Classifier = fn(&object_store::Error) -> Option<Failure>;

/// Classifies a store error.
pub fn classify(e: &object_store::Error, hook: Option<Classifier>) -> Failure {
    if let Some(f) = hook.and_then(|h| h(e)) {
        return f;
    }
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => Failure::NotFound,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => Failure::Auth,
        E::NotSupported { .. }
        | E::InvalidPath { .. }
        | E::NotImplemented { .. }
        | E::Precondition { .. }
        | E::AlreadyExists { .. }
        | E::NotModified { .. } => Failure::Permanent,
        E::UnknownConfigurationKey { .. } => Failure::Config,
        E::Generic { source, .. } => classify_chain(source.as_ref()),
        _ => classify_chain(e),
    }
}

/// Classifies by the error chain: transport errors first, then HTTP status codes in the text.
pub fn classify_chain(err: &(dyn StdError + 'static)) -> Failure {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    let mut text = String::new();
    while let Some(e) = cur {
        #[cfg(any(feature = "aws", feature = "azure"))]
        if let Some(h) = e.downcast_ref::<object_store::client::HttpError>() {
            use object_store::client::HttpErrorKind as K;
            match h.kind() {
                K::Connect => return Failure::Connect,
                K::Timeout | K::Interrupted | K::Request => return Failure::Transient,
                _ => {}
            }
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
                    return Failure::Connect;
                }
                K::ConnectionReset
                | K::ConnectionAborted
                | K::BrokenPipe
                | K::TimedOut
                | K::UnexpectedEof
                | K::Interrupted
                | K::NotConnected => return Failure::Transient,
                K::PermissionDenied => return Failure::Auth,
                _ => {}
            }
        }
        text.push_str(&e.to_string());
        text.push('\n');
        cur = e.source();
    }
    classify_text(&text)
}

/// Classifies by an HTTP status code found in an error text.
fn classify_text(text: &str) -> Failure {
    let lower = text.to_ascii_lowercase();
    if let Some(code) = status_code(&lower) {
        return match code {
            401 | 403 => Failure::Auth,
            404 => Failure::NotFound,
            408 | 429 => Failure::Transient,
            500..=599 => Failure::Transient,
            400..=499 => Failure::Permanent,
            _ => Failure::Transient,
        };
    }
    if lower.contains("credential") || (lower.contains("token") && lower.contains("fetch")) {
        return Failure::Auth;
    }
    if lower.contains("connection refused") || lower.contains("dns error") || lower.contains("failed to lookup address") {
        return Failure::Connect;
    }
    if lower.contains("builder error") || lower.contains("invalid url") || lower.contains("relative url") {
        return Failure::Config;
    }
    Failure::Transient
}

fn status_code(lower: &str) -> Option<u16> {
    for marker in ["status code: ", "status: ", "status code ", "status="] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(marker) {
            let start = from + i + marker.len();
            let digits: String = lower[start..].chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.len() == 3
                && let Ok(c) = digits.parse::<u16>()
            {
                return Some(c);
            }
            from = start;
        }
    }
    None
}

/// Removes secrets from a text: known secret values, and signature-like query parameters of
/// any URL (`sig=`, `X-Amz-Signature=`, `X-Amz-Credential=`, `X-Amz-Security-Token=`, `token=`).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let out = stevedore_core::config::redact(text, secrets);
    redact_query_params(&out)
}

fn redact_query_params(text: &str) -> String {
    const PARAMS: &[&str] = &["sig=", "x-amz-signature=", "x-amz-credential=", "x-amz-security-token=", "token=", "skoid=", "sktid="];
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hit = PARAMS.iter().find(|p| lower[i..].starts_with(**p) && i > 0 && matches!(bytes[i - 1], b'?' | b'&' | b';'));
        if let Some(p) = hit {
            out.push_str(&text[i..i + p.len()]);
            out.push_str("***");
            i += p.len();
            while i < text.len() && !matches!(bytes[i], b'&' | b' ' | b'"' | b'\'' | b'\n' | b')' | b'>' | b'<') {
                i += 1;
            }
            continue;
        }
        let ch = text[i..].chars().next().expect("char boundary");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_status_codes() {
        assert_eq!(classify_text("Server returned non-2xx status code: 503 Service Unavailable"), Failure::Transient);
        assert_eq!(classify_text("Server returned non-2xx status code: 404 Not Found: <Code>NoSuchBucket"), Failure::NotFound);
        assert_eq!(classify_text("status code: 403 Forbidden"), Failure::Auth);
        assert_eq!(classify_text("status code: 400 Bad Request"), Failure::Permanent);
        assert_eq!(classify_text("something odd"), Failure::Transient);
    }

    #[test]
    fn connection_refused_is_connect() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(classify_chain(&io), Failure::Connect);
        let e = object_store::Error::Generic { store: "S3", source: Box::new(io) };
        assert_eq!(classify(&e, None), Failure::Connect);
        assert!(Failure::Connect.is_retryable() && !Failure::Auth.is_retryable());
    }

    #[test]
    fn redacts_signatures_and_secret_values() {
        let t = "Error performing GET http://h/acct/c?restype=container&sv=2022-11-02&sig=abc%2Bdef%3D&se=x in 1s, key hunter2";
        let r = redact(t, &["hunter2".to_string()]);
        assert!(!r.contains("abc%2Bdef") && !r.contains("hunter2"), "{r}");
        assert!(r.contains("sig=***&se=x") && r.contains("restype=container"), "{r}");
    }
}

//! stevedore-opendal: buckets served by [opendal](https://opendal.apache.org) services, exposed
//! as an `Arc<dyn ObjectStore>` (through `object_store_opendal`) inside a
//! [`stevedore_object_store::Bucket`], so the filesystem destination treats them like any
//! other store.
//!
//! Schemes ([`schemes`]): `gs://` and `gcs://` with feature `gcs` (default); `sftp://` with
//! feature `sftp` (off by default, not tested against a server).
//!
//! Why opendal for GCS: object_store's GCS backend speaks the XML API, which no local GCS
//! server implements; opendal's GCS service uploads (one request per object, `uploadType=media`),
//! reads, lists and deletes through the JSON API, which fake-gcs-server implements, so the
//! GCS path is tested locally. Two opendal paths still use the XML API and are therefore only
//! used where the tests cannot reach them: multipart uploads (files larger than
//! [`gcs::SINGLE_PUT_MAX`], real GCS only) and batch deletes (never: objects are deleted one
//! at a time).
//!
//! opendal is built without `auto-register-services` (nothing runs before `main`) and its HTTP
//! client uses rustls with the ring provider (no C build); the provider is installed the first
//! time a bucket is opened, unless the process installed one already.

#![warn(missing_docs)]

#[cfg(feature = "gcs")]
pub mod gcs;
#[cfg(feature = "sftp")]
pub mod sftp;

use std::time::Duration;

use stevedore_core::Result;
use stevedore_object_store::{BucketUrl, Failure, StoreOptions};

pub use stevedore_object_store::Bucket;

/// URL schemes this crate can open in this build.
pub fn schemes() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut v: Vec<&'static str> = Vec::new();
    #[cfg(feature = "gcs")]
    v.extend(gcs::SCHEMES);
    #[cfg(feature = "sftp")]
    v.extend(sftp::SCHEMES);
    v
}

/// Whether this crate serves `scheme` in this build.
pub fn serves(scheme: &str) -> bool {
    schemes().contains(&scheme)
}

/// Opens a bucket of a scheme this crate serves (see [`schemes`]). No request is made until
/// [`Bucket::preflight`] or the first operation.
pub fn open(url: &BucketUrl, options: &StoreOptions) -> Result<Bucket> {
    match url {
        #[cfg(feature = "gcs")]
        BucketUrl::Remote { scheme, .. } if gcs::SCHEMES.contains(&scheme.as_str()) => gcs::open(url, options),
        #[cfg(feature = "sftp")]
        BucketUrl::Remote { scheme, .. } if sftp::SCHEMES.contains(&scheme.as_str()) => sftp::open(url, options),
        BucketUrl::Remote { scheme, .. } => {
            let _ = options;
            Err(stevedore_object_store::unsupported_scheme(scheme, url, &schemes()))
        }
        BucketUrl::Local(_) => Err(stevedore_core::Error::internal("stevedore-opendal does not open local folders")),
    }
}

/// Installs rustls' ring crypto provider as the process default, unless one is installed.
#[cfg_attr(not(feature = "gcs"), allow(dead_code))]
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP transport of every operator: a short connect timeout, so an unreachable endpoint
/// fails within seconds.
#[cfg_attr(not(feature = "gcs"), allow(dead_code))]
fn http_context() -> Result<opendal::OperationContext> {
    install_crypto_provider();
    let client = reqwest_opendal::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| stevedore_core::Error::config(format!("cannot build the HTTP client: {e}")))?;
    let transport = opendal_http_transport_reqwest::ReqwestTransport::new(client);
    Ok(opendal::OperationContext::new().with_http_transport(opendal::HttpTransporter::new(transport)))
}

/// Retries inside opendal: few and short; the loader retries whole jobs on top.
#[cfg_attr(not(feature = "gcs"), allow(dead_code))]
fn layers(op: opendal::Operator) -> opendal::Operator {
    op.layer(
        opendal::layers::RetryLayer::new()
            .with_max_times(3)
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(2))
            .with_jitter(),
    )
    .layer(opendal::layers::TimeoutLayer::new().with_timeout(Duration::from_secs(120)).with_io_timeout(Duration::from_secs(30)))
}

/// Classifies errors coming out of `object_store_opendal`: it wraps most opendal errors as
/// `object_store::Error::Generic { store: <opendal kind>, source: opendal::Error }`.
pub fn classify(e: &object_store::Error) -> Option<Failure> {
    let source: &(dyn std::error::Error + 'static) = match e {
        object_store::Error::Generic { source, .. } => source.as_ref(),
        object_store::Error::NotFound { .. } => return Some(Failure::NotFound),
        _ => return None,
    };
    let oe = source.downcast_ref::<opendal::Error>()?;
    use opendal::ErrorKind as K;
    Some(match oe.kind() {
        K::NotFound => Failure::NotFound,
        K::PermissionDenied => Failure::Auth,
        K::ConfigInvalid => Failure::Config,
        K::RateLimited => Failure::Transient,
        K::Unsupported | K::IsADirectory | K::NotADirectory | K::AlreadyExists | K::ConditionNotMatch | K::IsSameFile => Failure::Permanent,
        // `Unexpected` and the rest: the HTTP status (401 is `Unexpected` in opendal's GCS
        // service) or the transport error decides
        _ => match stevedore_object_store::classify_chain(oe) {
            f @ (Failure::Auth | Failure::NotFound | Failure::Config | Failure::Connect) => f,
            Failure::Permanent if !oe.is_temporary() => Failure::Permanent,
            _ if oe.is_temporary() || oe.is_persistent() => Failure::Transient,
            _ => Failure::Permanent,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_opendal_errors() {
        let wrap = |e: opendal::Error| object_store::Error::Generic { store: "x", source: Box::new(e) };
        let c = |e| classify(&wrap(e));
        assert_eq!(c(opendal::Error::new(opendal::ErrorKind::PermissionDenied, "403")), Some(Failure::Auth));
        assert_eq!(c(opendal::Error::new(opendal::ErrorKind::NotFound, "404")), Some(Failure::NotFound));
        assert_eq!(c(opendal::Error::new(opendal::ErrorKind::Unexpected, "503").set_temporary()), Some(Failure::Transient));
        let refused = opendal::Error::new(opendal::ErrorKind::Unexpected, "send http request")
            .set_temporary()
            .set_source(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"));
        assert_eq!(c(refused), Some(Failure::Connect));
        assert_eq!(c(opendal::Error::new(opendal::ErrorKind::Unexpected, "status code: 400 bad request")), Some(Failure::Permanent));
        assert_eq!(
            c(opendal::Error::new(opendal::ErrorKind::Unexpected, "response: Parts { status: 401, version: HTTP/1.1 }")),
            Some(Failure::Auth)
        );
    }

    #[test]
    fn unbuilt_schemes_are_refused() {
        let u = BucketUrl::parse("ftp://h/x", std::path::Path::new("/")).unwrap();
        assert!(open(&u, &StoreOptions::default()).is_err());
    }
}

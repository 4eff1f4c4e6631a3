//! `gs://` / `gcs://` buckets through opendal's GCS service.
//!
//! Credentials, as dlt names them (also read from `[destination.credentials]`, shared with
//! BigQuery): `project_id`, `private_key`, `client_email` (a service account); or, when none
//! are given, Google's default credentials (`GOOGLE_APPLICATION_CREDENTIALS`, the gcloud
//! config, the VM metadata server).
//!
//! Endpoint override: `endpoint_url` in the credentials, or `STORAGE_EMULATOR_HOST` (the
//! variable Google's own clients read). Whenever an endpoint is given, the VM metadata server
//! and config-file / environment credential lookups are disabled, so a test against a local
//! server never reaches a cloud metadata address; without a service account the requests are
//! then unsigned (what GCS emulators expect).
//!
//! Uploads: files up to [`SINGLE_PUT_MAX`] go up in one JSON-API request; larger files (only
//! when `file_max_bytes` is raised above [`RECOMMENDED_FILE_SIZE`]) use opendal's multipart
//! writer, which speaks GCS's XML multipart upload API: real GCS supports it, local GCS
//! servers do not, so that path is not tested here. Against an endpoint override every file
//! goes up in one request. Deletes are one request per object (the JSON batch endpoint is not
//! used).

use std::sync::Arc;

use base64::Engine as _;
use object_store_opendal::OpendalStore;
use stevedore_core::{Error, Result};
use stevedore_object_store::{Bucket, BucketCaps, BucketContext, BucketUrl, Setting, StoreOptions};

/// Schemes served here.
pub const SCHEMES: &[&str] = &["gs", "gcs"];

/// Largest file uploaded in one request.
pub const SINGLE_PUT_MAX: u64 = 128 << 20;

/// Job files rotate at this size on GCS, so each goes up in one request.
pub const RECOMMENDED_FILE_SIZE: u64 = 100 << 20;

/// The environment variable Google's clients read for an emulator endpoint.
pub const EMULATOR_ENV: &str = "STORAGE_EMULATOR_HOST";

const KEYS_HINT: &str = "project_id / private_key / client_email in [destination.filesystem.credentials] or [destination.credentials] (or GOOGLE_APPLICATION_CREDENTIALS)";

const KWARGS: &[&str] = &["anon", "auto_mkdir", "project", "token"];

pub(crate) fn open(url: &BucketUrl, options: &StoreOptions) -> Result<Bucket> {
    let BucketUrl::Remote { bucket, .. } = url else { unreachable!("local URLs are opened elsewhere") };
    let c = &options.credentials;
    for (name, m) in [("kwargs", &options.kwargs), ("client_kwargs", &options.client_kwargs)] {
        let unknown: Vec<&str> = m.keys().map(String::as_str).filter(|k| !KWARGS.contains(k)).collect();
        if !unknown.is_empty() {
            tracing::warn!("{name}: {} not used by stevedore's gs:// buckets", unknown.join(", "));
        }
    }
    let anon = options.kwargs.get("anon").and_then(|v| v.as_bool()) == Some(true)
        || options.kwargs.get("token").and_then(|v| v.as_str()) == Some("anon");

    let (endpoint, endpoint_desc) = match (&c.endpoint_url, std::env::var(EMULATOR_ENV).ok().filter(|v| !v.trim().is_empty())) {
        (Some(e), _) => (Some(normalize(&e.value)), format!("endpoint_url = {} ({})", e.value, e.origin)),
        (None, Some(e)) => (Some(normalize(&e)), format!("{e} (environment {EMULATOR_ENV})")),
        (None, None) => (None, "https://storage.googleapis.com".to_string()),
    };

    let mut b = opendal::services::Gcs::default().bucket(bucket).root("/");
    let mut secrets = c.secret_values();
    let auth = match (&c.private_key, &c.client_email) {
        _ if anon => {
            b = b.skip_signature().disable_vm_metadata().disable_config_load();
            "anonymous requests (kwargs.anon = true)".to_string()
        }
        (Some(key), Some(email)) => {
            let pem = key.value.expose().replace("\\n", "\n");
            if !pem.contains("-----BEGIN") || !pem.contains("PRIVATE KEY-----") {
                return Err(Error::config(format!(
                    "bucket `{bucket}`: private_key is not a PEM private key (it should start with -----BEGIN PRIVATE KEY-----)"
                ))
                .with("setting", format!("private_key ({})", key.origin))
                .with("bucket_url", url.display()));
            }
            let doc = serde_json::json!({
                "type": "service_account",
                "project_id": c.project_id.as_ref().map(|p| p.value.clone()).unwrap_or_default(),
                "private_key": pem,
                "client_email": email.value,
                "token_uri": "https://oauth2.googleapis.com/token",
            });
            let encoded = base64::engine::general_purpose::STANDARD.encode(doc.to_string());
            secrets.push(encoded.clone());
            secrets.push(pem);
            // explicit credentials: never fall back to other sources silently
            b = b.credential(&encoded).disable_vm_metadata().disable_config_load();
            format!(
                "service account {} ({}), private_key ({})",
                email.value, email.origin, key.origin
            )
        }
        (Some(_), None) | (None, Some(_)) => {
            let missing = if c.private_key.is_none() { "private_key" } else { "client_email" };
            return Err(Error::config(format!("bucket `{bucket}`: {missing} is missing; a service account needs private_key and client_email"))
                .with("bucket_url", url.display())
                .with_hint(format!(
                    "set {missing} in [destination.filesystem.credentials] or [destination.credentials] (env DESTINATION__CREDENTIALS__{})",
                    missing.to_uppercase()
                )));
        }
        (None, None) if endpoint.is_some() => {
            b = b.skip_signature().disable_vm_metadata().disable_config_load();
            "unsigned requests (an endpoint override is set and no service account is given; metadata and config lookups are off)".to_string()
        }
        (None, None) => {
            "Google default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud config, VM metadata): no private_key / client_email configured".to_string()
        }
    };
    if let Some(e) = &endpoint {
        b = b.endpoint(e);
    }
    if let Some(p) = describe(&c.project_id) {
        tracing::debug!(project = %p, "gcs project");
    }
    let op = opendal::Operator::new(b)
        .map_err(|e| {
            Error::config(format!("cannot configure the GCS client: {}", stevedore_object_store::redact(&e.to_string(), &secrets)))
                .with("bucket_url", url.display())
        })?
        .with_context(crate::http_context()?);
    let op = crate::layers(op);
    let store = OpendalStore::new(op);
    let caps = BucketCaps::default()
        .with_single_put_max(SINGLE_PUT_MAX)
        .with_multipart_upload(endpoint.is_none())
        .with_recommended_file_size(Some(RECOMMENDED_FILE_SIZE));
    let ctx = BucketContext::new(auth, KEYS_HINT, endpoint_desc).with_secrets(secrets).with_classifier(crate::classify);
    Ok(Bucket::new(Arc::new(store), url.clone(), caps, ctx))
}

fn describe(s: &Option<Setting>) -> Option<String> {
    s.as_ref().map(|s| format!("{} ({})", s.value, s.origin))
}

/// `host:port` → `http://host:port` (emulators speak plain HTTP); trailing `/` dropped.
fn normalize(e: &str) -> String {
    let e = e.trim().trim_end_matches('/');
    if e.contains("://") { e.to_string() } else { format!("http://{e}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stevedore_object_store::Credentials;

    #[test]
    fn service_account_needs_both_halves_and_a_pem() {
        let u = BucketUrl::parse("gs://b/p", std::path::Path::new("/")).unwrap();
        let mut c = Credentials::new().with_gcp_service_account("proj", "sa@proj.iam.gserviceaccount.com", "NOTAPEMSECRET");
        let e = open(&u, &StoreOptions::new(c.clone())).unwrap_err();
        assert!(e.to_string().contains("not a PEM") && !format!("{e:?}").contains("NOTAPEMSECRET"), "{e:?}");
        c.client_email = None;
        let e = open(&u, &StoreOptions::new(c)).unwrap_err();
        assert!(e.to_string().contains("client_email is missing"), "{e}");
    }

    #[test]
    fn endpoint_override_makes_unsigned_requests_and_debug_hides_the_key() {
        let u = BucketUrl::parse("gcs://b/p", std::path::Path::new("/")).unwrap();
        let b = open(&u, &StoreOptions::new(Credentials::new().with_endpoint_url("127.0.0.1:9"))).unwrap();
        assert!(b.context().auth.contains("unsigned"));
        assert!(!b.caps.multipart_upload);
        let pem = "-----BEGIN PRIVATE KEY-----\\nMIIBVQSECRETPEMBODY\\n-----END PRIVATE KEY-----\\n";
        let c = Credentials::new().with_gcp_service_account("proj", "sa@x.iam", pem).with_endpoint_url("http://127.0.0.1:9");
        let b = open(&u, &StoreOptions::new(c)).unwrap();
        assert!(!format!("{b:?}").contains("SECRETPEMBODY"));
    }
}

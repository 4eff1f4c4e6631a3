//! `sftp://host[:port]/path` through opendal's sftp service.
//!
//! dlt's keys: `sftp_username`, `sftp_port`, `sftp_key_filename`. opendal drives the system
//! `ssh` client (OpenSSH, multiplexed), so authentication is by key file or ssh-agent, and
//! hosts are checked against `known_hosts` (strict; `kwargs.known_hosts_strategy = "accept"`
//! or `"add"` relaxes it). `sftp_password` and `sftp_key_passphrase` are refused with a
//! message saying so. The path after the host is absolute on the server.
//!
//! Built with feature `sftp` only; there is no local SFTP server in the project's test
//! services, so this path is covered by unit tests of its configuration only.

use std::sync::Arc;

use object_store_opendal::OpendalStore;
use stevedore_core::{Error, Result};
use stevedore_object_store::{Bucket, BucketCaps, BucketContext, BucketUrl, StoreOptions};

/// Schemes served here.
pub const SCHEMES: &[&str] = &["sftp"];

const KEYS_HINT: &str =
    "sftp_username / sftp_key_filename / sftp_port in [destination.filesystem.credentials] (or ~/.ssh/config and ssh-agent)";

pub(crate) fn open(url: &BucketUrl, options: &StoreOptions) -> Result<Bucket> {
    let BucketUrl::Remote { bucket: host, .. } = url else { unreachable!("local URLs are opened elsewhere") };
    let c = &options.credentials;
    for (name, s) in [("sftp_password", &c.sftp_password), ("sftp_key_passphrase", &c.sftp_key_passphrase)] {
        if let Some(s) = s {
            return Err(Error::new(
                stevedore_core::ErrorKind::Unsupported,
                format!("sftp://{host}: {name} is not supported: stevedore's sftp uses the system ssh client"),
            )
            .with("setting", format!("{name} ({})", s.origin))
            .with_hint("use a key file without passphrase (sftp_key_filename), or load the key into ssh-agent"));
        }
    }
    let (hostname, url_port) = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h.to_string(), Some(p.to_string())),
        _ => (host.clone(), None),
    };
    let port = match (&c.sftp_port, url_port) {
        (Some(p), _) => {
            p.value.parse::<u16>().map_err(|_| {
                Error::config(format!("sftp_port `{}` is not a port number", p.value)).with("setting", format!("sftp_port ({})", p.origin))
            })?;
            Some(p.value.clone())
        }
        (None, p) => p,
    };
    let endpoint = match &port {
        Some(p) => format!("ssh://{hostname}:{p}"),
        None => format!("ssh://{hostname}"),
    };
    let mut b = opendal::services::Sftp::default().endpoint(&endpoint).root("/");
    if let Some(u) = &c.sftp_username {
        b = b.user(&u.value);
    }
    if let Some(k) = &c.sftp_key_filename {
        b = b.key(&k.value);
    }
    if let Some(s) = options.kwargs.get("known_hosts_strategy").and_then(|v| v.as_str()) {
        b = b.known_hosts_strategy(s);
    }
    let op =
        opendal::Operator::new(b).map_err(|e| Error::config(format!("cannot configure sftp: {e}")).with("bucket_url", url.display()))?;
    let op = crate::layers(op);
    let auth = [
        c.sftp_username.as_ref().map(|u| format!("sftp_username = {} ({})", u.value, u.origin)),
        c.sftp_key_filename.as_ref().map(|k| format!("sftp_key_filename = {} ({})", k.value, k.origin)),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    let auth = if auth.is_empty() { "the ssh client's defaults (~/.ssh/config, ssh-agent)".to_string() } else { auth.join(", ") };
    let ctx = BucketContext::new(auth, KEYS_HINT, endpoint).with_classifier(crate::classify);
    let caps = BucketCaps::default().with_multipart_upload(false).with_single_put_max(64 << 20);
    Ok(Bucket::new(Arc::new(OpendalStore::new(op)), url.clone(), caps, ctx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stevedore_object_store::Credentials;

    #[test]
    fn builds_without_connecting_and_refuses_passwords() {
        let u = BucketUrl::parse("sftp://files.example.com:2222/srv/lake", std::path::Path::new("/")).unwrap();
        let b = open(&u, &StoreOptions::default()).unwrap();
        assert_eq!(b.prefix, "srv/lake");
        assert!(b.context().endpoint.contains("ssh://files.example.com:2222"));
        let mut c = Credentials::new();
        c.sftp_password = Some(stevedore_object_store::SecretSetting {
            value: stevedore_core::config::Secret::new("PW-s3cr3t".into()),
            origin: "code".into(),
        });
        let e = open(&u, &StoreOptions::new(c)).unwrap_err();
        assert!(e.to_string().contains("sftp_password is not supported") && !format!("{e:?}").contains("PW-s3cr3t"), "{e:?}");
    }
}

//! stevedore-object-store: object stores built from dlt-style bucket URLs.
//!
//! A bucket URL is what dlt users write in `[destination.filesystem] bucket_url`:
//! `file:///absolute/path`, an absolute native path (`/var/data`), a relative native path
//! (`_storage/data`, resolved against the current folder), and, with later features,
//! `s3://`, `gs://`, `az://`. This crate turns one into an [`ObjectStore`] rooted at the
//! bucket plus the path prefix inside it.
//!
//! Schemes: `file` (always). Remote schemes are not built in this version: asking for one is
//! a clear error naming the scheme.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use stevedore_core::{Error, ErrorKind, Result};

/// URL schemes this build can open.
pub const SCHEMES: &[&str] = &["file"];

/// A parsed bucket URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketUrl {
    /// A local folder (absolute).
    Local(PathBuf),
    /// A remote bucket: scheme, bucket (or container) and path prefix inside it.
    Remote {
        /// `s3`, `gs`, `az`...
        scheme: String,
        /// Bucket or container.
        bucket: String,
        /// Path inside the bucket, without leading or trailing `/`.
        prefix: String,
    },
}

impl BucketUrl {
    /// Parses a bucket URL; relative native paths are resolved against `cwd`.
    pub fn parse(url: &str, cwd: &Path) -> Result<BucketUrl> {
        let url = url.trim();
        if url.is_empty() {
            return Err(Error::config("bucket_url is empty").with_hint(
                "set [destination.filesystem] bucket_url, e.g. \"file:///data/lake\", \"./data\" or \"s3://bucket/path\"",
            ));
        }
        if let Some(rest) = url.strip_prefix("file://") {
            // file:///abs/path, or file://localhost/abs/path
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            if !rest.starts_with('/') {
                return Err(Error::config(format!("file URL `{url}` is not absolute"))
                    .with_hint("use three slashes for an absolute path: file:///absolute/path, or a plain relative path"));
            }
            let decoded = percent_decode(rest);
            return Ok(BucketUrl::Local(PathBuf::from(decoded)));
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::config(format!("bucket URL `{url}` has no bucket name")));
            }
            return Ok(BucketUrl::Remote {
                scheme,
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        let p = PathBuf::from(url);
        let abs = if p.is_absolute() { p } else { cwd.join(p) };
        // drop `.` segments so displayed locations stay clean
        Ok(BucketUrl::Local(abs.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()))
    }

    /// Displayable form (never contains credentials).
    pub fn display(&self) -> String {
        match self {
            BucketUrl::Local(p) => format!("file://{}", p.display()),
            BucketUrl::Remote { scheme, bucket, prefix } if prefix.is_empty() => format!("{scheme}://{bucket}"),
            BucketUrl::Remote { scheme, bucket, prefix } => format!("{scheme}://{bucket}/{prefix}"),
        }
    }

    /// The scheme (`file`, `s3`...).
    pub fn scheme(&self) -> &str {
        match self {
            BucketUrl::Local(_) => "file",
            BucketUrl::Remote { scheme, .. } => scheme,
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An opened bucket: the store and the path prefix all keys live under.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// The store, rooted at the bucket.
    pub store: Arc<dyn ObjectStore>,
    /// Path inside the store where the bucket URL points (may be empty).
    pub prefix: String,
    /// The URL it came from.
    pub url: BucketUrl,
}

impl Bucket {
    /// A key inside the bucket prefix.
    pub fn key(&self, rel: &str) -> object_store::path::Path {
        if self.prefix.is_empty() {
            object_store::path::Path::from(rel)
        } else {
            object_store::path::Path::from(format!("{}/{}", self.prefix, rel))
        }
    }
    /// The URL of a key relative to the bucket prefix, for display and reference jobs.
    pub fn url_of(&self, rel: &str) -> String {
        format!("{}/{}", self.url.display().trim_end_matches('/'), rel)
    }
}

/// Opens a bucket. Local folders are created when missing (dlt's `auto_mkdir`).
pub fn open(url: &BucketUrl) -> Result<Bucket> {
    match url {
        BucketUrl::Local(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::io("create bucket folder", dir, e).with_hint("check that the folder is writable or choose another bucket_url")
            })?;
            let store = LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| Error::new(ErrorKind::Config, format!("cannot open {}: {e}", dir.display())))?;
            Ok(Bucket { store: Arc::new(store), prefix: String::new(), url: url.clone() })
        }
        BucketUrl::Remote { scheme, .. } => Err(Error::new(
            ErrorKind::Unsupported,
            format!("bucket scheme `{scheme}://` is not available in this build"),
        )
        .with("bucket_url", url.display())
        .with_hint(format!("available schemes: {}", SCHEMES.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_forms() {
        let cwd = Path::new("/work");
        assert_eq!(BucketUrl::parse("file:///abs/p", cwd).unwrap(), BucketUrl::Local("/abs/p".into()));
        assert_eq!(BucketUrl::parse("file://localhost/abs/p", cwd).unwrap(), BucketUrl::Local("/abs/p".into()));
        assert_eq!(BucketUrl::parse("file:///a%20b", cwd).unwrap(), BucketUrl::Local("/a b".into()));
        assert_eq!(BucketUrl::parse("/var/local/data", cwd).unwrap(), BucketUrl::Local("/var/local/data".into()));
        assert_eq!(BucketUrl::parse("_storage/data", cwd).unwrap(), BucketUrl::Local("/work/_storage/data".into()));
        assert!(BucketUrl::parse("file://relative", cwd).is_err());
        assert!(BucketUrl::parse("", cwd).is_err());
    }

    #[test]
    fn parses_remote_and_refuses_unbuilt_schemes() {
        let u = BucketUrl::parse("s3://bucket/a/b/", Path::new("/")).unwrap();
        assert_eq!(u, BucketUrl::Remote { scheme: "s3".into(), bucket: "bucket".into(), prefix: "a/b".into() });
        assert_eq!(u.display(), "s3://bucket/a/b");
        let e = open(&u).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("s3://"));
    }

    #[test]
    fn opens_and_creates_local_folder() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x/y");
        let b = open(&BucketUrl::Local(p.clone())).unwrap();
        assert!(p.is_dir());
        assert_eq!(b.key("a/b.txt").as_ref(), "a/b.txt");
    }
}

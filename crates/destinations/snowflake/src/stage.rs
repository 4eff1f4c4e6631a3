//! The upload half of a `PUT` to an internal stage: after the statement, Snowflake answers with
//! where the stage's files live (`stageInfo`) and, for client-side encrypted stages, a key
//! (`encryptionMaterial`); the client then encrypts the file and writes it to that storage
//! itself, as Snowflake's drivers do.
//!
//! * **S3** (accounts on AWS): `PUT https://<bucket>.s3[.<region>].amazonaws.com/<path><file>`
//!   signed with AWS Signature V4 from the temporary keys in `stageInfo.creds`
//!   (`AWS_KEY_ID`, `AWS_SECRET_KEY`, `AWS_TOKEN`); metadata in `x-amz-meta-*` headers.
//! * **Azure**: `PUT https://<account>.blob.<endpoint>/<container>/<path><file>?<SAS>` (a block
//!   blob); metadata in `x-ms-meta-*` headers.
//! * **GCS**: the presigned URL when Snowflake gives one, otherwise the XML API URL with the
//!   access token as a bearer; metadata in `x-goog-meta-*` headers.
//!
//! Client-side encryption is Snowflake's envelope: a random file key as long as the stage's
//! master key, the file in AES-CBC with PKCS#7 padding under a random IV, the file key
//! wrapped with the master key in AES-ECB; the wrapped key, the IV and the material
//! descriptor (`{"queryId":..,"smkId":..,"keySize":..}`) go with the object as metadata, with
//! the SHA-256 of the unencrypted file (`sfc-digest`). Temporary keys, tokens, SAS tokens and the
//! master key never appear in errors, logs or `Debug`.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use serde_json::Value;
use stevedore_core::config::Secret;
use stevedore_core::{Error, ErrorKind, Result};

use reqwest_opendal as reqwest;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The stage's key for one upload (`encryptionMaterial`).
pub struct Material {
    master_key: Secret<Vec<u8>>,
    query_id: String,
    smk_id: String,
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Material").field("query_id", &self.query_id).field("smk_id", &self.smk_id).finish_non_exhaustive()
    }
}

impl Material {
    /// Reads `encryptionMaterial` (an object for an upload, a list for a download; `null` when
    /// the stage is not client-side encrypted).
    pub fn from_json(v: &Value) -> Result<Option<Material>> {
        let v = match v {
            Value::Null => return Ok(None),
            Value::Array(items) => match items.iter().find(|i| !i.is_null()) {
                Some(first) => first,
                None => return Ok(None),
            },
            other => other,
        };
        let bad =
            |what: &str| Error::new(ErrorKind::Destination, format!("Snowflake's PUT answer has no usable encryptionMaterial ({what})"));
        let key = v["queryStageMasterKey"].as_str().ok_or_else(|| bad("no queryStageMasterKey"))?;
        let master_key = B64.decode(key.as_bytes()).map_err(|_| bad("the key is not base64"))?;
        if !matches!(master_key.len(), 16 | 24 | 32) {
            return Err(bad(&format!("a key of {} bytes, not an AES key", master_key.len())));
        }
        let smk_id = match &v["smkId"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(bad("no smkId")),
        };
        Ok(Some(Material { master_key: Secret::new(master_key), query_id: v["queryId"].as_str().unwrap_or_default().to_string(), smk_id }))
    }

    /// A material from its parts (tests).
    pub fn new(master_key: Vec<u8>, query_id: &str, smk_id: &str) -> Material {
        Material { master_key: Secret::new(master_key), query_id: query_id.into(), smk_id: smk_id.into() }
    }
}

/// What goes with an encrypted object: the wrapped file key and the IV (base64) and the
/// material descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The file key, encrypted with the master key (AES-ECB), base64.
    pub key: String,
    /// The IV of the file's AES-CBC, base64.
    pub iv: String,
    /// `{"queryId":"..","smkId":"..","keySize":".."}` (key size in bits).
    pub matdesc: String,
}

fn random_bytes(n: usize) -> Result<Vec<u8>> {
    use ring::rand::SecureRandom;
    let mut out = vec![0u8; n];
    ring::rand::SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| Error::new(ErrorKind::Io, "no random bytes from the operating system for the stage file key"))?;
    Ok(out)
}

/// AES in CBC mode with PKCS#7 padding (`key` of 16, 24 or 32 bytes).
fn cbc_encrypt(key: &[u8], iv: &[u8], plain: &[u8]) -> Vec<u8> {
    use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv).expect("key and iv lengths").encrypt_padded_vec_mut::<Pkcs7>(plain),
        24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, iv).expect("key and iv lengths").encrypt_padded_vec_mut::<Pkcs7>(plain),
        _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv).expect("key and iv lengths").encrypt_padded_vec_mut::<Pkcs7>(plain),
    }
}

/// AES in ECB mode with PKCS#7 padding: how the file key is wrapped.
fn ecb_encrypt(key: &[u8], plain: &[u8]) -> Vec<u8> {
    use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
    let pad = 16 - plain.len() % 16;
    let mut data = plain.to_vec();
    data.extend(std::iter::repeat_n(pad as u8, pad));
    fn run<C: BlockEncrypt>(c: &C, data: &mut [u8]) {
        for block in data.chunks_exact_mut(16) {
            c.encrypt_block(GenericArray::from_mut_slice(block));
        }
    }
    match key.len() {
        16 => run(&aes::Aes128::new_from_slice(key).expect("key length"), &mut data),
        24 => run(&aes::Aes192::new_from_slice(key).expect("key length"), &mut data),
        _ => run(&aes::Aes256::new_from_slice(key).expect("key length"), &mut data),
    }
    data
}

/// Encrypts `plain` for a stage with Snowflake's envelope.
pub fn encrypt(material: &Material, plain: &[u8]) -> Result<(Vec<u8>, Envelope)> {
    let master = material.master_key.expose();
    let file_key = random_bytes(master.len())?;
    let iv = random_bytes(16)?;
    let body = cbc_encrypt(&file_key, &iv, plain);
    let wrapped = ecb_encrypt(master, &file_key);
    // the drivers' key order and separators
    let matdesc = format!(
        r#"{{"queryId":{},"smkId":{},"keySize":"{}"}}"#,
        Value::from(material.query_id.as_str()),
        Value::from(material.smk_id.as_str()),
        master.len() * 8
    );
    Ok((body, Envelope { key: B64.encode(wrapped), iv: B64.encode(iv), matdesc }))
}

/// How an upload proves who it is.
pub enum StageAuth {
    /// AWS Signature V4 with temporary keys.
    S3 {
        /// `AWS_KEY_ID`.
        key_id: String,
        /// `AWS_SECRET_KEY`.
        secret: Secret<String>,
        /// `AWS_TOKEN` (the session token of the temporary keys).
        token: Option<Secret<String>>,
        /// The bucket's region (the signing scope).
        region: String,
    },
    /// An Azure SAS token, appended to the URL when sending.
    Sas(Secret<String>),
    /// A GCS OAuth access token.
    Bearer(Secret<String>),
    /// The URL is presigned.
    Presigned,
}

impl fmt::Debug for StageAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageAuth::S3 { key_id, region, token, .. } => f
                .debug_struct("S3")
                .field("key_id", key_id)
                .field("secret", &"***")
                .field("token", &token.as_ref().map(|_| "***"))
                .field("region", region)
                .finish(),
            StageAuth::Sas(_) => f.write_str("Sas(***)"),
            StageAuth::Bearer(_) => f.write_str("Bearer(***)"),
            StageAuth::Presigned => f.write_str("Presigned"),
        }
    }
}

/// One upload to a stage's storage: where, with which headers, and how it is authorized. The
/// URL never carries a secret (a SAS token is appended when sending).
#[derive(Debug)]
pub struct StageUpload {
    /// The storage type (`S3`, `AZURE`, `GCS`).
    pub location_type: String,
    /// Where the object goes.
    pub url: String,
    /// Metadata and content headers, in the order they are sent.
    pub headers: Vec<(String, String)>,
    /// Authorization.
    pub auth: StageAuth,
}

/// `bucket/some/path` as (`bucket`, `some/path/`).
fn split_location(location: &str) -> (String, String) {
    let (bucket, path) = location.split_once('/').unwrap_or((location, ""));
    let mut path = path.to_string();
    if !path.is_empty() && !path.ends_with('/') {
        path.push('/');
    }
    (bucket.to_string(), path)
}

/// Percent-encodes a path as S3's SigV4 wants it: everything but unreserved characters and `/`.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn secret_field(creds: &Value, key: &str) -> Option<Secret<String>> {
    creds[key].as_str().filter(|s| !s.is_empty()).map(|s| Secret::new(s.to_string()))
}

/// Plans the upload of `file_name` (whose unencrypted bytes hash to `digest`, base64 SHA-256)
/// to the stage Snowflake described in `info`, with `envelope` when the file was encrypted.
pub fn plan_upload(info: &Value, file_name: &str, digest: &str, envelope: Option<&Envelope>) -> Result<StageUpload> {
    let location_type = info["locationType"].as_str().unwrap_or("").to_ascii_uppercase();
    let location = info["location"].as_str().unwrap_or("");
    let (bucket, path) = split_location(location);
    let key = format!("{path}{}", file_name.trim_start_matches('/'));
    let creds = &info["creds"];
    let endpoint = info["endPoint"].as_str().filter(|s| !s.is_empty());
    let region = info["region"].as_str().unwrap_or("").to_string();
    let flag = |k: &str| info[k].as_bool() == Some(true);
    let missing = |what: &str| {
        Error::new(ErrorKind::Destination, format!("Snowflake's PUT answer for a {location_type} stage has no {what}"))
            .with("stage_location", location.to_string())
    };
    // `encryptiondata` as the drivers write it (Azure's and GCS's client-side encryption
    // format), in their key order
    let azure_json = |e: &Envelope| {
        format!(
            r#"{{"EncryptionMode": "FullBlob", "WrappedContentKey": {{"KeyId": "symmKey1", "EncryptedKey": {}, "Algorithm": "AES_CBC_256"}}, "EncryptionAgent": {{"Protocol": "1.0", "EncryptionAlgorithm": "AES_CBC_256"}}, "ContentEncryptionIV": {}, "KeyWrappingMetadata": {{"EncryptionLibrary": "Java 5.3.0"}}}}"#,
            Value::from(e.key.as_str()),
            Value::from(e.iv.as_str())
        )
    };
    match location_type.as_str() {
        "S3" => {
            if bucket.is_empty() {
                return Err(missing("bucket in its location"));
            }
            let host = if let Some(ep) = endpoint {
                format!("{bucket}.{}", ep.trim_start_matches("https://").trim_end_matches('/'))
            } else if region.starts_with("cn-") {
                format!("{bucket}.s3.{region}.amazonaws.com.cn")
            } else if (flag("useS3RegionalUrl") || flag("useRegionalUrl")) && !region.is_empty() {
                format!("{bucket}.s3.{region}.amazonaws.com")
            } else {
                format!("{bucket}.s3.amazonaws.com")
            };
            let key_id = creds["AWS_KEY_ID"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| missing("AWS_KEY_ID"))?;
            let secret = secret_field(creds, "AWS_SECRET_KEY").ok_or_else(|| missing("AWS_SECRET_KEY"))?;
            let mut headers = vec![
                ("content-type".to_string(), "application/octet-stream".to_string()),
                ("x-amz-meta-sfc-digest".to_string(), digest.to_string()),
            ];
            if let Some(e) = envelope {
                headers.push(("x-amz-meta-x-amz-iv".into(), e.iv.clone()));
                headers.push(("x-amz-meta-x-amz-key".into(), e.key.clone()));
                headers.push(("x-amz-meta-x-amz-matdesc".into(), e.matdesc.clone()));
            }
            Ok(StageUpload {
                location_type,
                url: format!("https://{host}/{}", encode_path(&key)),
                headers,
                auth: StageAuth::S3 {
                    key_id: key_id.to_string(),
                    secret,
                    token: secret_field(creds, "AWS_TOKEN"),
                    region: if region.is_empty() { "us-east-1".into() } else { region },
                },
            })
        }
        "AZURE" => {
            let account = info["storageAccount"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| missing("storageAccount"))?;
            let suffix = endpoint.unwrap_or("core.windows.net");
            let suffix = suffix.strip_prefix("blob.").unwrap_or(suffix);
            let sas = secret_field(creds, "AZURE_SAS_TOKEN").ok_or_else(|| missing("AZURE_SAS_TOKEN"))?;
            let mut headers = vec![
                ("x-ms-blob-type".to_string(), "BlockBlob".to_string()),
                ("content-type".to_string(), "application/octet-stream".to_string()),
                ("x-ms-meta-sfcdigest".to_string(), digest.to_string()),
            ];
            if let Some(e) = envelope {
                headers.push(("x-ms-meta-encryptiondata".into(), azure_json(e)));
                headers.push(("x-ms-meta-matdesc".into(), e.matdesc.clone()));
            }
            Ok(StageUpload {
                location_type,
                url: format!("https://{account}.blob.{suffix}/{}/{}", encode_path(&bucket), encode_path(&key)),
                headers,
                auth: StageAuth::Sas(sas),
            })
        }
        "GCS" => {
            let mut headers = vec![
                ("content-type".to_string(), "application/octet-stream".to_string()),
                ("x-goog-meta-sfc-digest".to_string(), digest.to_string()),
            ];
            if let Some(e) = envelope {
                headers.push(("x-goog-meta-encryptiondata".into(), azure_json(e)));
                headers.push(("x-goog-meta-matdesc".into(), e.matdesc.clone()));
            }
            if let Some(url) = info["presignedUrl"].as_str().filter(|s| !s.is_empty()) {
                return Ok(StageUpload { location_type, url: url.to_string(), headers, auth: StageAuth::Presigned });
            }
            let token = secret_field(creds, "GCS_ACCESS_TOKEN").ok_or_else(|| missing("presignedUrl nor GCS_ACCESS_TOKEN"))?;
            let url = if let Some(ep) = endpoint {
                let ep = ep.trim_end_matches('/');
                let ep = if ep.starts_with("https://") { ep.to_string() } else { format!("https://{ep}") };
                format!("{ep}/{}/{}", encode_path(&bucket), encode_path(&key))
            } else if flag("useVirtualUrl") {
                format!("https://{bucket}.storage.googleapis.com/{}", encode_path(&key))
            } else if flag("useRegionalUrl") || region.eq_ignore_ascii_case("me-central2") {
                format!("https://storage.{}.rep.googleapis.com/{}/{}", region.to_ascii_lowercase(), encode_path(&bucket), encode_path(&key))
            } else {
                format!("https://storage.googleapis.com/{}/{}", encode_path(&bucket), encode_path(&key))
            };
            Ok(StageUpload { location_type, url, headers, auth: StageAuth::Bearer(token) })
        }
        other => Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "Snowflake stages on `{}` storage are not supported by stevedore's client",
                if other.is_empty() { "unknown" } else { other }
            ),
        )
        .with("stage_location", location.to_string())
        .with_hint("load through a staging bucket instead (--staging filesystem --staging-bucket-url s3://..., az://... or gs://...)")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&k, data).as_ref().to_vec()
}

/// Who signs an S3 request (AWS Signature V4).
pub struct AwsSigner<'a> {
    /// Access key id.
    pub key_id: &'a str,
    /// Secret access key.
    pub secret: &'a str,
    /// The bucket's region.
    pub region: &'a str,
}

impl AwsSigner<'_> {
    /// The `Authorization` header for S3: `headers` (the `host` among them) are all signed;
    /// `url` is the request URL with its path already percent-encoded; `amz_date` is
    /// `YYYYMMDDTHHMMSSZ`.
    pub fn authorization(&self, method: &str, url: &url::Url, headers: &[(String, String)], payload_hash: &str, amz_date: &str) -> String {
        let AwsSigner { key_id, secret, region } = *self;
        let mut sorted: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string())).collect();
        sorted.sort();
        let canonical_headers: String = sorted.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed: Vec<&str> = sorted.iter().map(|(k, _)| k.as_str()).collect();
        let signed = signed.join(";");
        let mut query: Vec<(String, String)> =
            url.query_pairs().map(|(k, v)| (encode_path(&k).replace('/', "%2F"), encode_path(&v).replace('/', "%2F"))).collect();
        query.sort();
        let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        let canonical = format!("{method}\n{}\n{}\n{canonical_headers}\n{signed}\n{payload_hash}", url.path(), query.join("&"));
        let date = &amz_date[..8];
        let scope = format!("{date}/{region}/s3/aws4_request");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
        );
        let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
        let k_region = hmac(&k_date, region.as_bytes());
        let k_service = hmac(&k_region, b"s3");
        let k_signing = hmac(&k_service, b"aws4_request");
        let signature = hex(&hmac(&k_signing, to_sign.as_bytes()));
        format!("AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, Signature={signature}")
    }
}

/// Sends a planned upload with `body` (the bytes as stored: encrypted when the stage is).
pub async fn send_upload(http: &reqwest::Client, up: &StageUpload, body: Vec<u8>, timeout: Duration, file_name: &str) -> Result<()> {
    let mut url = up.url.clone();
    let mut headers = up.headers.clone();
    match &up.auth {
        StageAuth::S3 { key_id, secret, token, region } => {
            let parsed = url::Url::parse(&url).map_err(|e| Error::new(ErrorKind::Destination, format!("bad stage URL {url}: {e}")))?;
            let host = match (parsed.host_str(), parsed.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                (None, _) => return Err(Error::new(ErrorKind::Destination, format!("bad stage URL {url}: no host"))),
            };
            let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
            let mut signed: Vec<(String, String)> = headers.iter().filter(|(k, _)| k.starts_with("x-amz-")).cloned().collect();
            signed.push(("host".into(), host));
            signed.push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
            signed.push(("x-amz-date".into(), amz_date.clone()));
            if let Some(t) = token {
                signed.push(("x-amz-security-token".into(), t.expose().clone()));
            }
            let signer = AwsSigner { key_id, secret: secret.expose(), region };
            let auth = signer.authorization("PUT", &parsed, &signed, "UNSIGNED-PAYLOAD", &amz_date);
            headers.retain(|(k, _)| !k.starts_with("x-amz-"));
            headers.extend(signed.into_iter().filter(|(k, _)| k != "host"));
            headers.push(("authorization".into(), auth));
        }
        StageAuth::Sas(sas) => {
            let sas = sas.expose().trim_start_matches('?');
            url = format!("{url}{}{sas}", if url.contains('?') { '&' } else { '?' });
        }
        StageAuth::Bearer(token) => headers.push(("authorization".into(), format!("Bearer {}", token.expose()))),
        StageAuth::Presigned => {}
    }
    let mut req = http.put(&url).timeout(timeout.max(Duration::from_secs(600))).body(body);
    for (k, v) in &headers {
        req = req.header(k.as_str(), v.as_str());
    }
    // the URL may carry a SAS or a presigned signature: errors name the stage URL without it
    let shown = up.url.split('?').next().unwrap_or_default().to_string();
    let resp = req.send().await.map_err(|e| {
        Error::new(
            ErrorKind::Destination,
            format!("Snowflake stage upload of {file_name}: no answer from {} storage: {}", up.location_type, e.without_url()),
        )
        .with("stage_url", shown.clone())
        .retryable(true)
    })?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        let text = resp.text().await.unwrap_or_default();
        return Err(Error::new(
            ErrorKind::Destination,
            format!(
                "Snowflake stage upload of {file_name} to {} storage failed (HTTP {status}): {}",
                up.location_type,
                text.chars().take(300).collect::<String>()
            ),
        )
        .with("stage_url", shown)
        // expired temporary credentials (400/403) are renewed by the PUT a retry runs again
        .retryable(status >= 500 || status == 400 || status == 403));
    }
    Ok(())
}

/// The upload of `plain` to the stage of a `PUT` answer (`data` of the statement's result),
/// and the bytes to send: encrypted when the answer carries a key.
pub fn prepare_upload(data: &Value, file_name: &str, plain: Vec<u8>) -> Result<(StageUpload, Vec<u8>)> {
    let digest = B64.encode(ring::digest::digest(&ring::digest::SHA256, &plain).as_ref());
    let (body, envelope) = match Material::from_json(&data["encryptionMaterial"])? {
        Some(m) => {
            let (body, e) = encrypt(&m, &plain)?;
            (body, Some(e))
        }
        None => (plain, None),
    };
    let up = plan_upload(&data["stageInfo"], file_name, &digest, envelope.as_ref())?;
    tracing::debug!(location_type = %up.location_type, url = %up.url, encrypted = envelope.is_some(), "upload to the stage");
    Ok((up, body))
}

/// Uploads `plain` where a `PUT` answer says (see [`prepare_upload`]).
pub async fn upload(http: &reqwest::Client, data: &Value, file_name: &str, plain: Vec<u8>, timeout: Duration) -> Result<()> {
    let (up, body) = prepare_upload(data, file_name, plain)?;
    send_upload(http, &up, body, timeout, file_name).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// AWS's own SigV4 example for S3 (GET Object with a range, in "Signature Calculations for
    /// the Authorization Header"): the same canonical request gives the same signature.
    #[test]
    fn sigv4_matches_the_aws_documentation_example() {
        let url = url::Url::parse("https://examplebucket.s3.amazonaws.com/test.txt").unwrap();
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let headers = vec![
            ("host".to_string(), "examplebucket.s3.amazonaws.com".to_string()),
            ("range".to_string(), "bytes=0-9".to_string()),
            ("x-amz-content-sha256".to_string(), empty.to_string()),
            ("x-amz-date".to_string(), "20130524T000000Z".to_string()),
        ];
        let signer = AwsSigner { key_id: "AKIAIOSFODNN7EXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1" };
        let auth = signer.authorization("GET", &url, &headers, empty, "20130524T000000Z");
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    fn decrypt(material: &Material, body: &[u8], e: &Envelope) -> Vec<u8> {
        use aes::cipher::{BlockDecrypt, KeyInit, generic_array::GenericArray};
        use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
        let master = material.master_key.expose();
        let mut wrapped = B64.decode(&e.key).unwrap();
        let c = aes::Aes256::new_from_slice(master).unwrap();
        for block in wrapped.chunks_exact_mut(16) {
            c.decrypt_block(GenericArray::from_mut_slice(block));
        }
        let pad = *wrapped.last().unwrap() as usize;
        let file_key = &wrapped[..wrapped.len() - pad];
        let iv = B64.decode(&e.iv).unwrap();
        cbc::Decryptor::<aes::Aes256>::new_from_slices(file_key, &iv).unwrap().decrypt_padded_vec_mut::<Pkcs7>(body).unwrap()
    }

    /// The envelope round-trips, the file key differs per file, and a body whose length is a
    /// multiple of the block size gains a whole padding block (as the drivers write it).
    #[test]
    fn envelope_round_trips() {
        let m = Material::new((0u8..32).collect(), "01b2-query", "4321");
        for len in [0usize, 1, 15, 16, 17, 100_000] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let (body, e) = encrypt(&m, &plain).unwrap();
            assert_eq!(body.len(), (len / 16 + 1) * 16, "len {len}");
            if len >= 16 {
                assert_ne!(&body[..16], &plain[..16]);
            }
            assert_eq!(decrypt(&m, &body, &e), plain, "len {len}");
            assert_eq!(e.matdesc, r#"{"queryId":"01b2-query","smkId":"4321","keySize":"256"}"#);
            assert_eq!(B64.decode(&e.key).unwrap().len(), 48);
        }
        let (_, a) = encrypt(&m, b"x").unwrap();
        let (_, b) = encrypt(&m, b"x").unwrap();
        assert_ne!((a.key, a.iv), (b.key, b.iv));
        assert!(!format!("{m:?}").contains("[0, 1, 2"), "{m:?}");
    }

    #[test]
    fn material_from_puts_answer() {
        let key = B64.encode([7u8; 16]);
        let m = Material::from_json(&json!({"queryStageMasterKey": key, "queryId": "q1", "smkId": 123})).unwrap().unwrap();
        assert_eq!((m.query_id.as_str(), m.smk_id.as_str(), m.master_key.expose().len()), ("q1", "123", 16));
        assert!(Material::from_json(&Value::Null).unwrap().is_none());
        let list = Material::from_json(&json!([{"queryStageMasterKey": key, "queryId": "q2", "smkId": "9"}])).unwrap().unwrap();
        assert_eq!(list.query_id, "q2");
        let e = Material::from_json(&json!({"queryStageMasterKey": B64.encode([1u8; 5]), "smkId": 1})).unwrap_err();
        assert!(e.to_string().contains("5 bytes"), "{e}");
    }

    fn envelope() -> Envelope {
        Envelope { key: "KEY".into(), iv: "IV".into(), matdesc: r#"{"keySize":"128"}"#.into() }
    }

    /// Where each storage type's upload goes and what it carries, from `stageInfo` answers as
    /// Snowflake gives them on AWS, Azure and GCP accounts.
    #[test]
    fn uploads_are_planned_per_storage_type() {
        let s3 = json!({"locationType": "S3", "location": "sfc-stage-bucket/b1xx/stages/abc", "region": "eu-west-1",
            "endPoint": null, "useS3RegionalUrl": false,
            "creds": {"AWS_KEY_ID": "ASIAKEY", "AWS_SECRET_KEY": "s3cr3t", "AWS_TOKEN": "t0ken"}});
        let up = plan_upload(&s3, "events.abc.0.parquet", "DIGEST", Some(&envelope())).unwrap();
        assert_eq!(up.url, "https://sfc-stage-bucket.s3.amazonaws.com/b1xx/stages/abc/events.abc.0.parquet");
        assert_eq!(
            up.headers,
            [
                ("content-type", "application/octet-stream"),
                ("x-amz-meta-sfc-digest", "DIGEST"),
                ("x-amz-meta-x-amz-iv", "IV"),
                ("x-amz-meta-x-amz-key", "KEY"),
                ("x-amz-meta-x-amz-matdesc", r#"{"keySize":"128"}"#)
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        let shown = format!("{up:?}");
        assert!(shown.contains("ASIAKEY") && !shown.contains("s3cr3t") && !shown.contains("t0ken"), "{shown}");
        let mut regional = s3.clone();
        regional["useS3RegionalUrl"] = json!(true);
        assert_eq!(
            plan_upload(&regional, "f", "D", None).unwrap().url,
            "https://sfc-stage-bucket.s3.eu-west-1.amazonaws.com/b1xx/stages/abc/f"
        );
        let mut fips = s3.clone();
        fips["endPoint"] = json!("s3-fips.us-gov-west-1.amazonaws.com");
        assert_eq!(
            plan_upload(&fips, "f", "D", None).unwrap().url,
            "https://sfc-stage-bucket.s3-fips.us-gov-west-1.amazonaws.com/b1xx/stages/abc/f"
        );

        let azure = json!({"locationType": "AZURE", "location": "stageszz05dcb4c2/xyz/stages/abc/", "storageAccount": "sfcstage",
            "endPoint": "blob.core.windows.net", "creds": {"AZURE_SAS_TOKEN": "?sv=2020&sig=S1GN"}});
        let up = plan_upload(&azure, "t.x.0.parquet", "D", Some(&envelope())).unwrap();
        assert_eq!(up.url, "https://sfcstage.blob.core.windows.net/stageszz05dcb4c2/xyz/stages/abc/t.x.0.parquet");
        assert!(up.headers.contains(&("x-ms-blob-type".into(), "BlockBlob".into())));
        let data: Value = serde_json::from_str(&up.headers.iter().find(|(k, _)| k == "x-ms-meta-encryptiondata").unwrap().1).unwrap();
        assert_eq!(data["WrappedContentKey"]["EncryptedKey"], "KEY");
        assert_eq!(data["ContentEncryptionIV"], "IV");
        assert!(!format!("{up:?}").contains("S1GN"));

        let gcs = json!({"locationType": "GCS", "location": "gcs-stage/p/q", "region": "US-CENTRAL1",
            "creds": {"GCS_ACCESS_TOKEN": "ya29.tok"}, "presignedUrl": null});
        let up = plan_upload(&gcs, "t.x.0.parquet", "D", None).unwrap();
        assert_eq!(up.url, "https://storage.googleapis.com/gcs-stage/p/q/t.x.0.parquet");
        assert!(matches!(up.auth, StageAuth::Bearer(_)) && !format!("{up:?}").contains("ya29"));
        let mut presigned = gcs.clone();
        presigned["presignedUrl"] = json!("https://storage.googleapis.com/gcs-stage/p/q/t?X-Goog-Signature=abc");
        assert!(matches!(plan_upload(&presigned, "t", "D", None).unwrap().auth, StageAuth::Presigned));

        let none = json!({"locationType": "S3", "location": "b/p", "creds": {}});
        let e = plan_upload(&none, "f", "D", None).unwrap_err();
        assert!(e.to_string().contains("AWS_KEY_ID"), "{e}");
        let e = plan_upload(&json!({"locationType": "LOCAL_FS", "location": "/tmp"}), "f", "D", None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
    }
}

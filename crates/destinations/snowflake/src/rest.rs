//! stevedore's own Snowflake client, on reqwest: the REST protocol Snowflake's drivers speak.
//!
//! * `POST /session/v1/login-request`: password, or key pair (an RS256 JWT signed with the
//!   user's private key, `AUTHENTICATOR = SNOWFLAKE_JWT`); returns the session token.
//! * `POST /queries/v1/query-request`: one statement, positional bindings (`:1`, `:2`...);
//!   results come as JSON (`rowset`) or as an Arrow IPC stream (`rowsetBase64`), read with
//!   arrow-ipc into text cells; a large result's further chunks are downloaded from their
//!   URLs (with the answer's SSE-C key). A statement Snowflake keeps running past its answer time
//!   (codes 333333/333334) is polled at its result URL.
//! * `PUT`: the statement returns the stage's storage location, temporary credentials and, for
//!   client-side encrypted stages, a key; the file is encrypted and written there over HTTP
//!   (S3, Azure, GCS or a presigned URL; [`crate::stage`]).
//! * `POST /session?delete=true`: logout.
//!
//! Nothing is retried except a connection that could not be opened: a statement Snowflake
//! (or a test server) refused with HTTP 500 is reported at once. The password, the private
//! key, the JWT and the session token never appear in errors, logs or `Debug`.

use std::fmt;
use std::io::Cursor;
use std::time::Duration;

use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType as ArrowType;
use base64::Engine;
use serde_json::{Value, json};
use stevedore_core::config::Secret;
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_sql::client::{Param, SqlRow};

use crate::config::{Authenticator, Credentials};

use reqwest_opendal as reqwest;

/// The context key carrying Snowflake's error code (`002003`...).
pub const CODE_KEY: &str = "snowflake_code";
/// The context key carrying Snowflake's SQL state.
pub const SQLSTATE_KEY: &str = "sqlstate";

/// Snowflake's "object does not exist or not authorized".
pub const OBJECT_MISSING: &str = "002003";

/// A logged-in session. The token never shows.
pub struct Session {
    token: Secret<String>,
    /// When the session logged in (its token expires after an hour by default).
    pub created: std::time::Instant,
    /// Whether `USE SCHEMA` ran for the dataset (temporary tables go there).
    pub schema_set: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").field("token", &"***").finish()
    }
}

/// The result of one statement: column names and rows as text, plus the raw `data` (PUT reads
/// its stage info there). `Debug` leaves `data` out: a PUT answer holds the stage's temporary
/// credentials and key, a large result its chunks' key.
#[derive(Clone, Default)]
pub struct QueryResult {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each value as text (`None` for NULL).
    pub rows: Vec<SqlRow>,
    /// The answer's `data` object.
    pub data: Value,
}

impl fmt::Debug for QueryResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryResult").field("columns", &self.columns).field("rows", &self.rows.len()).finish_non_exhaustive()
    }
}

impl QueryResult {
    /// The value of `column` (case-insensitive) in row `i`.
    pub fn get(&self, i: usize, column: &str) -> Option<&str> {
        let c = self.columns.iter().position(|n| n.eq_ignore_ascii_case(column))?;
        self.rows.get(i)?.get(c)?.as_deref()
    }
}

/// The client: one HTTP client for every session of a destination client.
pub struct Rest {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    query_tag: Option<String>,
    timeout: Duration,
    key: Option<KeyPair>,
}

impl fmt::Debug for Rest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rest").field("base", &self.base).field("credentials", &self.credentials).finish_non_exhaustive()
    }
}

/// An RSA key for key-pair authentication.
pub struct KeyPair {
    key: ring::signature::RsaKeyPair,
    fingerprint: String,
}

/// A key as given: its PEM label (`None` for bare base64 DER) and its DER bytes.
fn read_key_text(text: &str) -> Result<(Option<String>, Vec<u8>)> {
    let label =
        text.lines().map(str::trim).find_map(|l| l.strip_prefix("-----BEGIN ").and_then(|r| r.strip_suffix("-----"))).map(String::from);
    if text.contains("Proc-Type:") {
        return Err(Error::new(
            ErrorKind::Auth,
            "the Snowflake private_key is an OpenSSL legacy encrypted PEM (Proc-Type header), which is not read",
        )
        .with_hint("convert it to encrypted PKCS#8: openssl pkcs8 -topk8 -v2 aes256 -in rsa_key.pem -out rsa_key.p8"));
    }
    let body: String = text.lines().map(str::trim).filter(|l| !l.starts_with("-----") && !l.is_empty()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| Error::new(ErrorKind::Auth, "the Snowflake private_key is not a PEM key (base64 between BEGIN/END lines)"))?;
    Ok((label, der))
}

/// The unencrypted key DER of `der`: decrypted with `passphrase` when it is an
/// `EncryptedPrivateKeyInfo`, as is otherwise.
fn decrypt_key(label: Option<&str>, der: Vec<u8>, passphrase: Option<&Secret<String>>) -> Result<Vec<u8>> {
    let encrypted = match label {
        Some(l) => l == "ENCRYPTED PRIVATE KEY",
        // bare DER: an encrypted key parses as EncryptedPrivateKeyInfo, a plain one does not
        None => pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).is_ok(),
    };
    match (encrypted, passphrase) {
        (false, None) => Ok(der),
        (false, Some(_)) => Err(Error::new(
            ErrorKind::Auth,
            "private_key_passphrase is set but the Snowflake private_key is not encrypted",
        )
        .with_hint("remove private_key_passphrase, or pass the encrypted key (BEGIN ENCRYPTED PRIVATE KEY)")),
        (true, None) => Err(Error::new(ErrorKind::Auth, "the Snowflake private_key is encrypted and no private_key_passphrase is set")
            .with_hint("set [destination.snowflake.credentials] private_key_passphrase (env DESTINATION__SNOWFLAKE__CREDENTIALS__PRIVATE_KEY_PASSPHRASE)")),
        (true, Some(pass)) => {
            let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).map_err(|e| {
                Error::new(ErrorKind::Auth, format!("the Snowflake private_key is not a valid encrypted PKCS#8 key: {e}"))
            })?;
            let plain = info.decrypt(pass.expose().as_bytes()).map_err(|e| {
                Error::new(ErrorKind::Auth, format!("cannot decrypt the Snowflake private_key with private_key_passphrase: {e}")).with_hint(
                    "check the passphrase; keys are read when encrypted with PBES2 (PBKDF2 or scrypt, AES-CBC or DES-EDE3-CBC), as \
                     `openssl pkcs8 -topk8 -v2 aes256` or `-v2 des3` write them",
                )
            })?;
            Ok(plain.as_bytes().to_vec())
        }
    }
}

/// DER length bytes.
fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
}

/// The `SubjectPublicKeyInfo` DER of an RSA public key given as PKCS#1 `RSAPublicKey` DER:
/// what Snowflake fingerprints (`SHA256:` + base64 of its SHA-256).
pub fn rsa_spki_der(pkcs1: &[u8]) -> Vec<u8> {
    // SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
    let alg: &[u8] = &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let mut bits = vec![0x03];
    bits.extend(der_len(pkcs1.len() + 1));
    bits.push(0x00);
    bits.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    out.extend(der_len(alg.len() + bits.len()));
    out.extend_from_slice(alg);
    out.extend(bits);
    out
}

impl KeyPair {
    /// Reads an RSA key: PKCS#8 (`BEGIN PRIVATE KEY`), encrypted PKCS#8 (`BEGIN ENCRYPTED
    /// PRIVATE KEY`, decrypted with `passphrase`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`), as PEM
    /// or as the base64 DER without BEGIN/END lines.
    pub fn new(private_key: &Secret<String>, passphrase: Option<&Secret<String>>) -> Result<Self> {
        let (label, der) = read_key_text(private_key.expose())?;
        let der = decrypt_key(label.as_deref(), der, passphrase)?;
        let parsed = if label.as_deref() == Some("RSA PRIVATE KEY") {
            ring::signature::RsaKeyPair::from_der(&der)
        } else {
            ring::signature::RsaKeyPair::from_pkcs8(&der).or_else(|e| ring::signature::RsaKeyPair::from_der(&der).map_err(|_| e))
        };
        let key = parsed.map_err(|_| {
            Error::new(ErrorKind::Auth, "the Snowflake private_key is not an RSA private key in PKCS#8 or PKCS#1")
                .with_hint("Snowflake key-pair authentication takes an RSA key of 2048 bits or more: openssl genrsa 2048 | openssl pkcs8 -topk8 -nocrypt -out rsa_key.p8")
        })?;
        use ring::signature::KeyPair as _;
        let spki = rsa_spki_der(key.public_key().as_ref());
        let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
        let fingerprint = format!("SHA256:{}", base64::engine::general_purpose::STANDARD.encode(digest.as_ref()));
        Ok(KeyPair { key, fingerprint })
    }

    /// The public key fingerprint Snowflake shows as `RSA_PUBLIC_KEY_FP`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The PKCS#1 public key (tests verify signatures with it).
    pub fn public_key_der(&self) -> Vec<u8> {
        use ring::signature::KeyPair as _;
        self.key.public_key().as_ref().to_vec()
    }

    /// The login JWT for `ACCOUNT.USER`, valid one hour from `now` (Unix seconds).
    pub fn jwt(&self, account: &str, user: &str, now: i64) -> Result<String> {
        let qualified = format!("{}.{}", account.to_ascii_uppercase(), user.to_ascii_uppercase());
        let claims = json!({
            "iss": format!("{qualified}.{}", self.fingerprint),
            "sub": qualified,
            "iat": now,
            "exp": now + 3600,
        });
        stevedore_sql::jwt::rs256(&self.key, &claims, "the Snowflake login JWT")
            .map_err(|_| Error::new(ErrorKind::Auth, "cannot sign the Snowflake login JWT with the private_key"))
    }
}

fn request_id() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn http_error(e: reqwest::Error, what: &str, url: &str) -> Error {
    let retry = e.is_connect();
    Error::new(ErrorKind::Destination, format!("Snowflake {what}: no answer from {url}: {e}"))
        .retryable(retry)
        .with_hint("check the account (host) or endpoint_url, the network, and http_timeout")
}

/// The error of a refused statement or login: Snowflake's code, SQL state and message.
pub fn snowflake_error(body: &Value, what: &str) -> Error {
    let code = body["code"].as_str().or_else(|| body["data"]["errorCode"].as_str()).unwrap_or("").to_string();
    let sqlstate = body["data"]["sqlState"].as_str().unwrap_or("").to_string();
    let message = body["message"].as_str().unwrap_or("no message").to_string();
    let kind = match code.as_str() {
        OBJECT_MISSING => ErrorKind::NotFound,
        c if c.starts_with("390") => ErrorKind::Auth,
        _ => ErrorKind::Destination,
    };
    let mut e = Error::new(kind, format!("Snowflake {what} failed ({code}): {message}")).with(CODE_KEY, code.clone());
    if !sqlstate.is_empty() {
        e = e.with(SQLSTATE_KEY, sqlstate);
    }
    if kind == ErrorKind::Auth {
        e = e.with_hint("check username and password, or private_key and the public key set on the user (RSA_PUBLIC_KEY)");
    }
    e
}

/// Bindings of `params`: `{"1": {"type": "TEXT", "value": "x"}, ...}`. Lists cannot be bound;
/// [`inline_params`] writes them into the statement.
pub fn bindings(params: &[Param]) -> Value {
    let mut m = serde_json::Map::new();
    for (i, p) in params.iter().enumerate() {
        let b = match p {
            Param::Text(s) => json!({"type": "TEXT", "value": s}),
            Param::Int(n) => json!({"type": "FIXED", "value": n.to_string()}),
            Param::TextList(v) => json!({"type": "TEXT", "value": v.join(",")}),
        };
        m.insert((i + 1).to_string(), b);
    }
    Value::Object(m)
}

/// `sql` with `:n` replaced by literals of `params` (highest `n` first, so `:1` does not eat
/// `:10`); lists become `'a', 'b'`. Used when a statement holds a list.
pub fn inline_params(sql: &str, params: &[Param]) -> String {
    use crate::dialect::string_literal;
    let mut out = sql.to_string();
    for (i, p) in params.iter().enumerate().rev() {
        let lit = match p {
            Param::Text(s) => string_literal(s),
            Param::Int(n) => n.to_string(),
            Param::TextList(v) if v.is_empty() => "NULL".to_string(),
            Param::TextList(v) => v.iter().map(|s| string_literal(s)).collect::<Vec<_>>().join(", "),
        };
        out = out.replace(&format!(":{}", i + 1), &lit);
    }
    out
}

/// Text of one Arrow cell, by Snowflake's logical type (field metadata `logicalType`, `scale`).
fn cell_texts(col: &ArrayRef, logical: &str, scale: u32) -> Result<Vec<Option<String>>> {
    let n = col.len();
    let mut out = Vec::with_capacity(n);
    let time_text = |epoch: i64, nanos: i64| -> String {
        chrono::DateTime::from_timestamp(epoch, nanos as u32)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string())
            .unwrap_or_else(|| format!("{epoch}.{nanos:09}"))
    };
    match (logical, col.data_type()) {
        (l, ArrowType::Struct(fields)) if l.starts_with("TIMESTAMP") => {
            // {epoch seconds, fraction nanos[, timezone]}, or {epoch scaled by 10^scale, timezone}
            // (TIMESTAMP_TZ with scale <= 7)
            let s = col.as_any().downcast_ref::<StructArray>().ok_or_else(|| Error::internal("timestamp struct"))?;
            let int64 = |a: &ArrayRef| -> Result<arrow_array::Int64Array> {
                let c = arrow_cast::cast(a, &ArrowType::Int64).map_err(|e| Error::internal(e.to_string()))?;
                c.as_any().downcast_ref::<arrow_array::Int64Array>().cloned().ok_or_else(|| Error::internal("timestamp part"))
            };
            let epoch = int64(s.column(0))?;
            let frac = match fields.iter().position(|f| f.name() == "fraction") {
                Some(i) => Some(int64(s.column(i))?),
                None => None,
            };
            let div = 10i64.pow(scale.min(9));
            for i in 0..n {
                out.push(if s.is_null(i) {
                    None
                } else {
                    let e = epoch.value(i);
                    Some(match &frac {
                        Some(f) => time_text(e, f.value(i)),
                        None => time_text(e.div_euclid(div), e.rem_euclid(div) * 10i64.pow(9 - scale.min(9))),
                    })
                });
            }
        }
        (l, t) if l.starts_with("TIMESTAMP") && t.is_integer() => {
            let v = arrow_cast::cast(col, &ArrowType::Int64).map_err(|e| Error::internal(e.to_string()))?;
            let v = v.as_any().downcast_ref::<arrow_array::Int64Array>().ok_or_else(|| Error::internal("timestamp"))?;
            let div = 10i64.pow(scale);
            for i in 0..n {
                out.push(if v.is_null(i) {
                    None
                } else {
                    let x = v.value(i);
                    Some(time_text(x.div_euclid(div), x.rem_euclid(div) * 10i64.pow(9 - scale.min(9))))
                });
            }
        }
        ("FIXED", t) if t.is_integer() && scale > 0 => {
            let v = arrow_cast::cast(col, &ArrowType::Int64).map_err(|e| Error::internal(e.to_string()))?;
            let v = v.as_any().downcast_ref::<arrow_array::Int64Array>().ok_or_else(|| Error::internal("fixed"))?;
            for i in 0..n {
                out.push(if v.is_null(i) {
                    None
                } else {
                    let x = v.value(i);
                    let s = format!("{:0width$}", x.unsigned_abs(), width = scale as usize + 1);
                    let (int, frac) = s.split_at(s.len() - scale as usize);
                    Some(format!("{}{int}.{frac}", if x < 0 { "-" } else { "" }))
                });
            }
        }
        (_, ArrowType::Binary | ArrowType::LargeBinary) => {
            let f = ArrayFormatter::try_new(col.as_ref(), &FormatOptions::default()).map_err(|e| Error::internal(e.to_string()))?;
            for i in 0..n {
                out.push(if col.is_null(i) { None } else { Some(f.value(i).to_string()) });
            }
        }
        _ => {
            let f = ArrayFormatter::try_new(col.as_ref(), &FormatOptions::default()).map_err(|e| Error::internal(e.to_string()))?;
            for i in 0..n {
                out.push(if col.is_null(i) { None } else { Some(f.value(i).to_string()) });
            }
        }
    }
    Ok(out)
}

/// Rows of an Arrow IPC stream as text.
pub fn arrow_rows(ipc: &[u8]) -> Result<(Vec<String>, Vec<SqlRow>)> {
    let bad = |e: arrow_schema::ArrowError| Error::new(ErrorKind::Destination, format!("cannot read Snowflake's Arrow result: {e}"));
    let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(ipc), None).map_err(bad)?;
    let schema = reader.schema();
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut rows = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.map_err(bad)?;
        let mut cols = Vec::with_capacity(batch.num_columns());
        for (i, field) in batch.schema().fields().iter().enumerate() {
            let md = field.metadata();
            let logical = md.get("logicalType").map(String::as_str).unwrap_or("").to_ascii_uppercase();
            let scale = md.get("scale").and_then(|s| s.parse().ok()).unwrap_or(0u32);
            cols.push(cell_texts(batch.column(i), &logical, scale)?);
        }
        for r in 0..batch.num_rows() {
            rows.push(cols.iter().map(|c| c[r].clone()).collect());
        }
    }
    Ok((columns, rows))
}

/// Rows given as JSON arrays of cells (text or null).
fn json_rows(rowset: &Value) -> Vec<SqlRow> {
    let cell = |c: &Value| match c {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    rowset
        .as_array()
        .map(|rows| rows.iter().map(|r| r.as_array().map(|cells| cells.iter().map(cell).collect()).unwrap_or_default()).collect())
        .unwrap_or_default()
}

/// The headers a result chunk is downloaded with: `chunkHeaders` when the answer has them,
/// otherwise the SSE-C key `qrmk` (chunks on S3 are encrypted server-side with it).
fn chunk_headers(data: &Value) -> Vec<(String, String)> {
    if let Some(h) = data["chunkHeaders"].as_object().filter(|h| !h.is_empty()) {
        return h.iter().map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect();
    }
    match data["qrmk"].as_str().filter(|k| !k.is_empty()) {
        Some(key) => vec![
            ("x-amz-server-side-encryption-customer-algorithm".into(), "AES256".into()),
            ("x-amz-server-side-encryption-customer-key".into(), key.to_string()),
        ],
        None => Vec::new(),
    }
}

/// The rows of one downloaded result chunk: an Arrow IPC stream, or JSON rows without the
/// enclosing brackets (`["a","b"],["c",null]`); gzip-compressed or not.
pub fn chunk_rows(body: &[u8], arrow: bool) -> Result<Vec<SqlRow>> {
    let body: std::borrow::Cow<'_, [u8]> = if body.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(body), &mut out)
            .map_err(|e| Error::new(ErrorKind::Destination, format!("cannot decompress a Snowflake result chunk: {e}")))?;
        out.into()
    } else {
        body.into()
    };
    if arrow {
        return Ok(arrow_rows(&body)?.1);
    }
    let mut text = Vec::with_capacity(body.len() + 2);
    text.push(b'[');
    text.extend_from_slice(&body);
    text.push(b']');
    let v: Value = serde_json::from_slice(&text)
        .map_err(|e| Error::new(ErrorKind::Destination, format!("a Snowflake result chunk is not JSON rows: {e}")))?;
    Ok(json_rows(&v))
}

/// Rows of a query answer's `data` (the first part: chunks are fetched by [`Rest::query`]).
pub fn result_of(data: Value) -> Result<QueryResult> {
    let columns: Vec<String> =
        data["rowtype"].as_array().map(|r| r.iter().map(|c| c["name"].as_str().unwrap_or("").to_string()).collect()).unwrap_or_default();
    if let Some(b64) = data["rowsetBase64"].as_str() {
        if b64.is_empty() {
            return Ok(QueryResult { columns, rows: Vec::new(), data });
        }
        let ipc = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| Error::new(ErrorKind::Destination, format!("Snowflake's Arrow result is not base64: {e}")))?;
        let (names, rows) = arrow_rows(&ipc)?;
        return Ok(QueryResult { columns: if columns.is_empty() { names } else { columns }, rows, data });
    }
    let rows = json_rows(&data["rowset"]);
    Ok(QueryResult { columns, rows, data })
}

impl Rest {
    /// A client for these credentials (no request yet).
    pub fn new(credentials: &Credentials, query_tag: Option<String>, timeout: Duration) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        credentials.validate()?;
        let key = match credentials.authenticator()? {
            Authenticator::KeyPair => Some(KeyPair::new(
                credentials.private_key.as_ref().ok_or_else(|| Error::config("no private_key"))?,
                credentials.private_key_passphrase.as_ref(),
            )?),
            Authenticator::Password | Authenticator::OAuth => None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Rest { http, base: credentials.endpoint(), credentials: credentials.clone(), query_tag, timeout, key })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn post(&self, url: &str, token: Option<&Secret<String>>, body: &Value, what: &str) -> Result<(u16, Value)> {
        let mut req = self
            .http
            .post(url)
            .timeout(self.timeout)
            .header("content-type", "application/json")
            .header("accept", "application/snowflake")
            .header("user-agent", concat!("stevedore/", env!("CARGO_PKG_VERSION")));
        if let Some(t) = token {
            req = req.header("authorization", format!("Snowflake Token=\"{}\"", t.expose()));
        }
        let resp = req.body(body.to_string()).send().await.map_err(|e| http_error(e, what, url))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| http_error(e, what, url))?;
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| json!({"message": text.chars().take(500).collect::<String>()}));
        Ok((status, v))
    }

    /// Opens a session (login). A refused login is an [`ErrorKind::Auth`] error, not retried.
    pub async fn login(&self) -> Result<Session> {
        let c = &self.credentials;
        let mut data = json!({
            "CLIENT_APP_ID": "stevedore",
            "CLIENT_APP_VERSION": env!("CARGO_PKG_VERSION"),
            "ACCOUNT_NAME": c.account_name(),
            "LOGIN_NAME": c.username,
            "CLIENT_ENVIRONMENT": {"APPLICATION": "stevedore", "OS": std::env::consts::OS},
            "SESSION_PARAMETERS": {"AUTOCOMMIT": true, "TIMEZONE": "UTC"},
        });
        if let Some(tag) = &self.query_tag {
            data["SESSION_PARAMETERS"]["QUERY_TAG"] = json!(tag);
        }
        match (&self.key, c.authenticator()?) {
            (Some(k), _) => {
                data["AUTHENTICATOR"] = json!("SNOWFLAKE_JWT");
                data["TOKEN"] = json!(k.jwt(&c.account_name(), &c.username, chrono::Utc::now().timestamp())?);
            }
            (None, Authenticator::OAuth) => {
                data["AUTHENTICATOR"] = json!("OAUTH");
                data["TOKEN"] = json!(c.token.as_ref().map(|t| t.expose().as_str()).unwrap_or(""));
            }
            (None, _) => {
                data["PASSWORD"] = json!(c.password.as_ref().map(|p| p.expose().as_str()).unwrap_or(""));
            }
        }
        let mut url = format!("{}/session/v1/login-request?request_id={}&databaseName={}", self.base, request_id(), enc(&c.database));
        if let Some(w) = &c.warehouse {
            url.push_str(&format!("&warehouse={}", enc(w)));
        }
        if let Some(r) = &c.role {
            url.push_str(&format!("&roleName={}", enc(r)));
        }
        let (status, v) = self.post(&url, None, &json!({ "data": data }), "login").await.map_err(|e| e.with("account", c.host.clone()))?;
        if v["success"].as_bool() != Some(true) {
            let mut e = snowflake_error(&v, "login");
            if status >= 400 && !matches!(e.kind(), ErrorKind::Auth) {
                e = Error::new(ErrorKind::Auth, format!("Snowflake login failed (HTTP {status}): {e}"));
            }
            return Err(e.with("user", c.username.clone()).with("account", c.host.clone()));
        }
        let token = v["data"]["token"]
            .as_str()
            .ok_or_else(|| Error::new(ErrorKind::Auth, "the Snowflake login answer holds no session token"))?
            .to_string();
        Ok(Session { token: Secret::new(token), created: std::time::Instant::now(), schema_set: false })
    }

    /// Runs one statement.
    pub async fn query(&self, s: &Session, sql: &str, params: &[Param]) -> Result<QueryResult> {
        let has_list = params.iter().any(|p| matches!(p, Param::TextList(_)));
        let (text, binds) = if has_list { (inline_params(sql, params), Value::Null) } else { (sql.to_string(), bindings(params)) };
        let mut body =
            json!({"sqlText": text, "asyncExec": false, "sequenceId": 1, "querySubmissionTime": chrono::Utc::now().timestamp_millis()});
        if binds.as_object().is_some_and(|m| !m.is_empty()) {
            body["bindings"] = binds;
        }
        let url = format!("{}/queries/v1/query-request?requestId={}", self.base, request_id());
        let (status, mut v) = self.post(&url, Some(&s.token), &body, "statement").await?;
        // still running: poll the result URL
        let mut waited = 0u32;
        while matches!(v["code"].as_str(), Some("333333" | "333334")) {
            let Some(path) = v["data"]["getResultUrl"].as_str().map(String::from) else { break };
            tokio::time::sleep(Duration::from_millis(500 * u64::from(waited.min(8) + 1))).await;
            waited += 1;
            let url = format!("{}{path}", self.base);
            let resp = self
                .http
                .get(&url)
                .timeout(self.timeout)
                .header("accept", "application/snowflake")
                .header("authorization", format!("Snowflake Token=\"{}\"", s.token.expose()))
                .send()
                .await
                .map_err(|e| http_error(e, "result", &url))?;
            let text = resp.text().await.map_err(|e| http_error(e, "result", &url))?;
            v = serde_json::from_str(&text).unwrap_or_else(|_| json!({"message": text}));
        }
        if v["success"].as_bool() != Some(true) {
            let mut e = snowflake_error(&v, "statement");
            if status >= 500 {
                e = e.with("http_status", status.to_string());
            }
            return Err(e);
        }
        let mut data = v["data"].take();
        let chunks = data["chunks"].take();
        let mut r = result_of(data)?;
        if let Some(chunks) = chunks.as_array().filter(|c| !c.is_empty()) {
            self.fetch_chunks(&mut r, chunks).await?;
        }
        Ok(r)
    }

    /// Appends the rows of a large result's further chunks, downloaded one after the other
    /// from their URLs (presigned; on S3 with the SSE-C key of the answer).
    async fn fetch_chunks(&self, r: &mut QueryResult, chunks: &[Value]) -> Result<()> {
        let headers = chunk_headers(&r.data);
        let arrow =
            r.data["queryResultFormat"].as_str().map(|f| f.eq_ignore_ascii_case("arrow")).unwrap_or(r.data["rowsetBase64"].is_string());
        for (i, chunk) in chunks.iter().enumerate() {
            let url = chunk["url"]
                .as_str()
                .ok_or_else(|| Error::new(ErrorKind::Destination, format!("Snowflake result chunk {i} has no URL")))?;
            // the URL is presigned: errors name the chunk, not the URL
            let what = format!("result chunk {} of {}", i + 1, chunks.len());
            let mut req = self.http.get(url).timeout(self.timeout.max(Duration::from_secs(300)));
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let resp = req.send().await.map_err(|e| {
                Error::new(ErrorKind::Destination, format!("Snowflake {what}: no answer: {}", e.without_url())).retryable(true)
            })?;
            let status = resp.status().as_u16();
            let body = resp
                .bytes()
                .await
                .map_err(|e| Error::new(ErrorKind::Destination, format!("Snowflake {what}: {}", e.without_url())).retryable(true))?;
            if !(200..300).contains(&status) {
                return Err(Error::new(ErrorKind::Destination, format!("Snowflake {what}: HTTP {status}")).retryable(status >= 500));
            }
            let rows = chunk_rows(&body, arrow).map_err(|e| e.with("chunk", (i + 1).to_string()))?;
            if let Some(want) = chunk["rowCount"].as_u64().filter(|n| *n as usize != rows.len()) {
                return Err(Error::new(
                    ErrorKind::Destination,
                    format!("Snowflake {what} holds {} rows, the answer said {want}", rows.len()),
                ));
            }
            r.rows.extend(rows);
        }
        Ok(())
    }

    /// Uploads `bytes` as `<stage path>/<file_name>` after `PUT` returned the stage location.
    pub async fn put(&self, s: &Session, stage_target: &str, file_name: &str, bytes: Vec<u8>) -> Result<()> {
        let sql = format!("PUT 'file:///stevedore/{file_name}' {stage_target} OVERWRITE = TRUE AUTO_COMPRESS = FALSE");
        let r = self.query(s, &sql, &[]).await.map_err(|e| e.with("statement", sql.clone()))?;
        crate::stage::upload(&self.http, &r.data, file_name, bytes, self.timeout)
            .await
            .map_err(|e| e.with("stage", stage_target.to_string()))
    }

    /// Closes a session (errors are logged, not returned).
    pub async fn logout(&self, s: Session) {
        let url = format!("{}/session?delete=true&request_id={}", self.base, request_id());
        if let Err(e) = self.post(&url, Some(&s.token), &json!({}), "logout").await {
            tracing::debug!(error = %e, "Snowflake logout failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_and_inlined_lists() {
        assert_eq!(
            bindings(&[Param::Text("x".into()), Param::Int(7)]),
            json!({"1": {"type": "TEXT", "value": "x"}, "2": {"type": "FIXED", "value": "7"}})
        );
        let sql = "SELECT 1 WHERE a = :1 AND b IN (:2) AND c = :10";
        let mut p: Vec<Param> = (1..=10).map(Param::Int).collect();
        p[0] = Param::Text("it's".into());
        p[1] = Param::TextList(vec!["A".into(), "B'".into()]);
        assert_eq!(inline_params(sql, &p), "SELECT 1 WHERE a = 'it''s' AND b IN ('A', 'B''') AND c = 10");
    }

    #[test]
    fn errors_carry_code_and_kind_without_secrets() {
        let body = json!({"data": {"errorCode": "002003", "sqlState": "42S02"}, "code": "002003", "message": "Table 'X' does not exist", "success": false});
        let e = snowflake_error(&body, "statement");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("002003") && e.to_string().contains("does not exist"), "{e}");
        let e = snowflake_error(
            &json!({"code": "390100", "message": "Incorrect username or password was specified.", "success": false}),
            "login",
        );
        assert_eq!(e.kind(), ErrorKind::Auth);
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(id, request_id());
    }

    #[test]
    fn spki_wraps_the_pkcs1_key() {
        let pkcs1 = vec![0x30, 0x03, 0x02, 0x01, 0x05];
        let spki = rsa_spki_der(&pkcs1);
        assert_eq!(spki[0], 0x30);
        assert_eq!(spki[1] as usize, spki.len() - 2);
        assert!(spki.ends_with(&[0x03, 0x06, 0x00, 0x30, 0x03, 0x02, 0x01, 0x05]));
        assert_eq!(der_len(300), vec![0x82, 0x01, 0x2c]);
    }

    /// An RSA key made by openssl for the test: the fingerprint is SHA-256 of the public key's
    /// DER as openssl writes it, the JWT is RS256-signed by that key with Snowflake's claims.
    #[test]
    fn key_pair_jwt_is_signed_with_snowflakes_claims() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.p8");
        let pubder = dir.path().join("pub.der");
        let ok = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
            .arg(&key)
            .status()
            .expect("openssl makes the test key");
        assert!(ok.success());
        let ok = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-outform", "DER", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(&pubder)
            .status()
            .unwrap();
        assert!(ok.success());
        let pem = std::fs::read_to_string(&key).unwrap();
        let kp = KeyPair::new(&Secret::new(pem.clone()), None).unwrap();
        let spki = std::fs::read(&pubder).unwrap();
        let want = format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, &spki).as_ref())
        );
        assert_eq!(kp.fingerprint(), want);
        assert_eq!(rsa_spki_der(&kp.public_key_der()), spki);

        let jwt = kp.jwt("xy12345", "loader", 1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let dec = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap();
        let header: Value = serde_json::from_slice(&dec(parts[0])).unwrap();
        assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
        let claims: Value = serde_json::from_slice(&dec(parts[1])).unwrap();
        assert_eq!(claims["sub"], "XY12345.LOADER");
        assert_eq!(claims["iss"], format!("XY12345.LOADER.{want}"));
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_003_600);
        let public = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, kp.public_key_der());
        public.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &dec(parts[2])).expect("a valid RS256 signature");

        // a key that is not PKCS#8 RSA: an auth error that never shows the key
        let e = KeyPair::new(&Secret::new("-----BEGIN PRIVATE KEY-----\nc2VjcmV0c2VjcmV0\n-----END PRIVATE KEY-----".into()), None)
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(!format!("{e:?}").contains("c2VjcmV0c2VjcmV0"), "{e:?}");
    }

    /// Keys as `openssl` writes them for Snowflake (its docs use `pkcs8 -topk8 -v2 des3`):
    /// encrypted PKCS#8 with AES, DES-EDE3 and scrypt, as PEM and as bare base64 DER, and
    /// PKCS#1, all read to the same key; a wrong, missing or unexpected passphrase is an
    /// auth error that shows neither the key nor the passphrase.
    #[test]
    fn encrypted_and_pkcs1_keys_read_to_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let ok = std::process::Command::new("openssl").current_dir(dir.path()).args(args).status().expect("openssl runs");
            assert!(ok.success(), "openssl {args:?}");
        };
        openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "plain.p8"]);
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        let want = KeyPair::new(&Secret::new(read("plain.p8")), None).unwrap().fingerprint().to_string();
        let pass = Secret::new("correct horse battery".to_string());
        let cases: [(&str, &[&str]); 3] = [("aes.p8", &["-v2", "aes256"]), ("des3.p8", &["-v2", "des3"]), ("scrypt.p8", &["-scrypt"])];
        for (name, scheme) in cases {
            let mut args = vec!["pkcs8", "-topk8", "-in", "plain.p8", "-out", name, "-passout", "pass:correct horse battery"];
            args.extend_from_slice(scheme);
            openssl(&args);
            let pem = read(name);
            assert!(pem.contains("BEGIN ENCRYPTED PRIVATE KEY"), "{name}");
            let kp = KeyPair::new(&Secret::new(pem.clone()), Some(&pass)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(kp.fingerprint(), want, "{name}");
            kp.jwt("xy12345", "loader", 1_700_000_000).unwrap();

            let wrong = KeyPair::new(&Secret::new(pem.clone()), Some(&Secret::new("tr0ub4dor".into()))).err().unwrap();
            assert_eq!(wrong.kind(), ErrorKind::Auth);
            let shown = format!("{wrong} {wrong:?}");
            assert!(shown.contains("private_key_passphrase") && !shown.contains("tr0ub4dor"), "{shown}");
            let missing = KeyPair::new(&Secret::new(pem), None).err().unwrap();
            assert!(missing.to_string().contains("no private_key_passphrase"), "{missing}");
        }
        // the encrypted key as bare base64 DER (what a secrets store often holds)
        openssl(&[
            "pkcs8",
            "-topk8",
            "-in",
            "plain.p8",
            "-outform",
            "DER",
            "-out",
            "enc.der",
            "-v2",
            "aes128",
            "-passout",
            "pass:correct horse battery",
        ]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(dir.path().join("enc.der")).unwrap());
        assert_eq!(KeyPair::new(&Secret::new(b64), Some(&pass)).unwrap().fingerprint(), want);
        // PKCS#1 (BEGIN RSA PRIVATE KEY)
        openssl(&["pkey", "-in", "plain.p8", "-traditional", "-out", "rsa.pem"]);
        let pkcs1 = read("rsa.pem");
        assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"), "{pkcs1}");
        assert_eq!(KeyPair::new(&Secret::new(pkcs1), None).unwrap().fingerprint(), want);
        // a passphrase given for a plain key is refused, as dlt's key loader refuses it
        let e = KeyPair::new(&Secret::new(read("plain.p8")), Some(&pass)).err().unwrap();
        assert!(e.to_string().contains("not encrypted"), "{e}");
    }

    /// A large result: the first rows inline, the rest in chunks downloaded from their URLs
    /// with the SSE-C key of the answer (JSON rows gzip-compressed, and an Arrow IPC chunk);
    /// a chunk whose row count differs from the answer's is an error.
    #[tokio::test]
    async fn results_split_in_chunks_are_downloaded() {
        use std::io::{Read, Write};
        use std::sync::{Arc, Mutex};
        let arrow_chunk = {
            let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new("N", ArrowType::Utf8, true)]));
            let col: ArrayRef = Arc::new(arrow_array::StringArray::from(vec![Some("c"), None]));
            let batch = RecordBatch::try_new(schema.clone(), vec![col]).unwrap();
            let mut w = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &schema).unwrap();
            w.write(&batch).unwrap();
            w.into_inner().unwrap()
        };
        let json_chunk = {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(br#"["b1"],[null],["b3"]"#).unwrap();
            gz.finish().unwrap()
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for sock in listener.incoming() {
                let mut sock = sock.unwrap();
                let mut buf = vec![0u8; 8192];
                let n = sock.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let body = if req.starts_with("GET /json") { json_chunk.clone() } else { arrow_chunk.clone() };
                seen2.lock().unwrap().push(req);
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                sock.write_all(head.as_bytes()).unwrap();
                sock.write_all(&body).unwrap();
            }
        });
        let c = Credentials::test_server(&format!("http://127.0.0.1:{port}"), "DB");
        let rest = Rest::new(&c, None, Duration::from_secs(10)).unwrap();
        let mut r =
            result_of(json!({"rowtype": [{"name": "N"}], "rowset": [["a"]], "queryResultFormat": "json", "qrmk": "c2VjcmV0a2V5"})).unwrap();
        let chunks = [json!({"url": format!("http://127.0.0.1:{port}/json?sig=x"), "rowCount": 3})];
        rest.fetch_chunks(&mut r, &chunks).await.unwrap();
        let got: Vec<Option<String>> = r.rows.iter().map(|row| row[0].clone()).collect();
        assert_eq!(got, [Some("a".to_string()), Some("b1".into()), None, Some("b3".into())]);
        let req = seen.lock().unwrap()[0].to_ascii_lowercase();
        assert!(req.contains("x-amz-server-side-encryption-customer-key: c2vjcmv0a2v5"), "{req}");
        assert!(req.contains("x-amz-server-side-encryption-customer-algorithm: aes256"), "{req}");
        assert!(!format!("{r:?}").contains("c2VjcmV0a2V5"));

        let mut r = result_of(json!({"rowtype": [{"name": "N"}], "rowsetBase64": "", "queryResultFormat": "arrow",
            "chunkHeaders": {"x-custom": "h1"}}))
        .unwrap();
        rest.fetch_chunks(&mut r, &[json!({"url": format!("http://127.0.0.1:{port}/arrow"), "rowCount": 2})]).await.unwrap();
        assert_eq!(r.rows, [vec![Some("c".to_string())], vec![None]]);
        assert!(seen.lock().unwrap()[1].to_ascii_lowercase().contains("x-custom: h1"));

        let mut r = result_of(json!({"rowtype": [{"name": "N"}], "rowset": [], "queryResultFormat": "json"})).unwrap();
        let e = rest.fetch_chunks(&mut r, &[json!({"url": format!("http://127.0.0.1:{port}/json"), "rowCount": 5})]).await.unwrap_err();
        assert!(e.to_string().contains("holds 3 rows, the answer said 5"), "{e}");
    }

    /// A login the server refuses is an authentication error after exactly one request, and
    /// neither the password nor the JWT shows in it.
    #[tokio::test]
    async fn a_refused_login_is_an_auth_error_without_retries() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut requests = Vec::new();
            listener.set_nonblocking(false).unwrap();
            for _ in 0..2 {
                let accepted = {
                    listener.set_nonblocking(!requests.is_empty()).unwrap();
                    if !requests.is_empty() {
                        std::thread::sleep(std::time::Duration::from_millis(1500));
                    }
                    listener.accept()
                };
                let Ok((mut sock, _)) = accepted else { break };
                let mut buf = vec![0u8; 65536];
                let n = sock.read(&mut buf).unwrap_or(0);
                requests.push(String::from_utf8_lossy(&buf[..n]).to_string());
                let body = r#"{"data":null,"code":"390100","message":"Incorrect username or password was specified.","success":false}"#;
                let _ = write!(
                    sock,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
            requests
        });
        let mut c = Credentials::test_server(&format!("http://127.0.0.1:{port}"), "DB");
        c.password = Some(Secret::new("hunter2-secret".into()));
        let rest = Rest::new(&c, None, Duration::from_secs(5)).unwrap();
        let e = rest.login().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        let shown = format!("{e} {e:?} {rest:?}");
        assert!(shown.contains("Incorrect username or password"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let requests = server.join().unwrap();
        assert_eq!(requests.len(), 1, "one login request, no retries");
        assert!(requests[0].starts_with("POST /session/v1/login-request?request_id="), "{}", requests[0]);
    }

    /// `authenticator = "oauth"` logs in with the token (`AUTHENTICATOR = OAUTH`), sends no
    /// password, and never shows the token; without a token it is a config error naming it.
    #[tokio::test]
    async fn oauth_logs_in_with_the_token() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = vec![0u8; 16384];
            // read headers and the body (content-length)
            loop {
                let n = sock.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                        .unwrap_or(0);
                    if req.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            let body = r#"{"success": true, "data": {"token": "session-token"}}"#;
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(resp.as_bytes()).unwrap();
            String::from_utf8_lossy(&req).to_string()
        });
        let mut c = Credentials::test_server(&format!("http://127.0.0.1:{port}"), "DB");
        c.password = None;
        c.authenticator = Some("OAuth".into());
        c.token = Some(Secret::new("oauth-access-token-xyz".into()));
        assert!(!format!("{c:?}").contains("oauth-access-token-xyz"));
        let rest = Rest::new(&c, None, Duration::from_secs(5)).unwrap();
        rest.login().await.unwrap();
        let req = server.join().unwrap();
        let body: Value = serde_json::from_str(&req[req.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        assert_eq!(body["data"]["AUTHENTICATOR"], "OAUTH");
        assert_eq!(body["data"]["TOKEN"], "oauth-access-token-xyz");
        assert!(body["data"].get("PASSWORD").is_none(), "{body}");

        c.token = None;
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("token"), "{e}");
    }

    /// Arrow results as Snowflake sends them: FIXED with a scale, timestamps as structs or
    /// scaled integers, NULLs.
    #[test]
    fn arrow_results_become_text() {
        use arrow_array::{Int32Array, Int64Array, StringArray};
        use arrow_schema::{Field, Schema};
        use std::collections::HashMap;
        use std::sync::Arc;
        let md = |logical: &str, scale: &str| -> HashMap<String, String> {
            [("logicalType".to_string(), logical.to_string()), ("scale".to_string(), scale.to_string())].into()
        };
        let ts_fields =
            arrow_schema::Fields::from(vec![Field::new("epoch", ArrowType::Int64, false), Field::new("fraction", ArrowType::Int32, false)]);
        let tz_fields =
            arrow_schema::Fields::from(vec![Field::new("epoch", ArrowType::Int64, false), Field::new("timezone", ArrowType::Int32, false)]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("N", ArrowType::Int64, true).with_metadata(md("FIXED", "2")),
            Field::new("T", ArrowType::Utf8, true).with_metadata(md("TEXT", "0")),
            Field::new("TS", ArrowType::Struct(ts_fields.clone()), true).with_metadata(md("TIMESTAMP_NTZ", "9")),
            Field::new("TZ", ArrowType::Struct(tz_fields.clone()), true).with_metadata(md("TIMESTAMP_TZ", "3")),
            Field::new("L", ArrowType::Int64, true).with_metadata(md("TIMESTAMP_LTZ", "6")),
        ]));
        let ts = StructArray::new(
            ts_fields,
            vec![Arc::new(Int64Array::from(vec![1_713_083_521, 0])), Arc::new(Int32Array::from(vec![500_000_000, 0]))],
            Some(vec![true, false].into()),
        );
        let tz = StructArray::new(
            tz_fields,
            vec![Arc::new(Int64Array::from(vec![1_713_083_521_250, 0])), Arc::new(Int32Array::from(vec![1440, 1440]))],
            Some(vec![true, false].into()),
        );
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![Some(-1205), None])),
                Arc::new(StringArray::from(vec![Some("a"), None])),
                Arc::new(ts),
                Arc::new(tz),
                Arc::new(Int64Array::from(vec![Some(1_713_083_521_000_001), None])),
            ],
        )
        .unwrap();
        let mut buf = Vec::new();
        {
            let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut buf, &schema).unwrap();
            w.write(&batch).unwrap();
            w.finish().unwrap();
        }
        let (cols, rows) = arrow_rows(&buf).unwrap();
        assert_eq!(cols, ["N", "T", "TS", "TZ", "L"]);
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            rows[0],
            vec![
                s("-12.05"),
                s("a"),
                s("2024-04-14T08:32:01.500000+00:00"),
                s("2024-04-14T08:32:01.250000+00:00"),
                s("2024-04-14T08:32:01.000001+00:00")
            ]
        );
        assert_eq!(rows[1], vec![None, None, None, None, None]);
    }

    #[test]
    fn json_rowsets() {
        let r = result_of(json!({"rowtype": [{"name": "N"}], "rowset": [["1"], [null]]})).unwrap();
        assert_eq!(r.rows, vec![vec![Some("1".to_string())], vec![None]]);
        assert_eq!(r.get(0, "n"), Some("1"));
    }
}

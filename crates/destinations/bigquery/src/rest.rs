//! The BigQuery REST API calls stevedore needs, on reqwest: `jobs.query` (+ `getQueryResults`),
//! `jobs.get`, `jobs.insert` (load jobs from `gs://`), resumable uploads of job files (load
//! jobs from local files), and service-account tokens (an RS256 JWT exchanged at the token
//! endpoint). Transient errors (HTTP 429/5xx, connection failures, BigQuery's `backendError`,
//! `internalError`, `rateLimitExceeded`) are retried with backoff until `retry_deadline`.
//!
//! Without a private key, tokens come from Google's application default credentials
//! ([`crate::adc`]): a key file, gcloud's user credentials (a refresh token), or the metadata
//! server. Without a private key and with an endpoint (an emulator), requests carry no
//! `Authorization` header and nothing else is ever asked for a token.

use std::future::Future;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use stevedore_core::config::Secret;
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_sql::client::{Param, SqlRow};
use tokio::sync::Mutex;

use crate::adc::Adc;
use crate::config::{BigQueryConfig, DEFAULT_TOKEN_URI};

use reqwest_opendal as reqwest;

/// BigQuery error reasons worth retrying (Google's list of transient reasons).
pub const TRANSIENT_REASONS: &[&str] = &["backendError", "internalError", "rateLimitExceeded", "jobBackendError", "jobInternalError"];

/// The context key carrying BigQuery's error reason.
pub const REASON_KEY: &str = "bigquery_reason";

/// Whether BigQuery calls `reason` transient.
pub fn is_transient_reason(reason: &str) -> bool {
    TRANSIENT_REASONS.contains(&reason)
}

/// An error of the API: kind and retryability from the HTTP status and BigQuery's reason.
pub fn api_error(status: u16, body: &str, what: &str) -> Error {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let err = &v["error"];
    let reason = err["errors"][0]["reason"].as_str().or_else(|| err["status"].as_str()).unwrap_or("").to_string();
    let message = err["message"].as_str().map(String::from).unwrap_or_else(|| body.chars().take(500).collect());
    let (kind, retry, hint) = match status {
        404 => (ErrorKind::NotFound, false, "check the project, dataset and table names (and the location)"),
        401 | 403 if is_transient_reason(&reason) || reason == "rateLimitExceeded" => (ErrorKind::Destination, true, ""),
        401 | 403 => (
            ErrorKind::Auth,
            false,
            "check the service account's key and its BigQuery roles (BigQuery Data Editor and Job User), and the project_id",
        ),
        408 | 429 | 500 | 502 | 503 | 504 => (ErrorKind::Destination, true, ""),
        _ if is_transient_reason(&reason) => (ErrorKind::Destination, true, ""),
        _ => (ErrorKind::Destination, false, ""),
    };
    let mut e = Error::new(
        kind,
        format!(
            "BigQuery {what} failed (HTTP {status}{}): {message}",
            if reason.is_empty() { String::new() } else { format!(", {reason}") }
        ),
    )
    .retryable(retry)
    .with(REASON_KEY, reason);
    if !hint.is_empty() {
        e = e.with_hint(hint);
    }
    e
}

/// Runs `op` until it succeeds, fails with an error that is not retryable, or `deadline` has
/// passed since the first try; waits 0.25 s, 0.5 s, 1 s ... (at most 8 s) between tries.
pub async fn with_retry<T, F, Fut>(deadline: Duration, what: &str, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let start = Instant::now();
    let mut wait = Duration::from_millis(250);
    let mut tries = 0u32;
    loop {
        tries += 1;
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && start.elapsed() + wait < deadline => {
                tracing::warn!(error = %e, tries, "{what}: transient error, retrying in {:.2}s", wait.as_secs_f64());
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(8));
            }
            Err(e) if e.is_retryable() && tries > 1 => {
                return Err(e.with("retried", format!("{tries} tries in {:.1}s", start.elapsed().as_secs_f64())));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Polls a job with `get` until its `status.state` is `DONE`, waiting `interval` (growing to
/// at most 5 s) between polls. Returns the finished job resource.
pub async fn poll_until_done<F, Fut>(first: Value, interval: Duration, mut get: F) -> Result<Value>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Value>>,
{
    let mut job = first;
    let mut wait = interval;
    while job["status"]["state"].as_str() != Some("DONE") {
        tokio::time::sleep(wait).await;
        wait = (wait * 3 / 2).min(Duration::from_secs(5));
        job = get().await?;
    }
    Ok(job)
}

/// The error of a finished job, if it failed.
pub fn job_error(job: &Value) -> Option<(String, String)> {
    let r = &job["status"]["errorResult"];
    if r.is_null() {
        return None;
    }
    let reason = r["reason"].as_str().unwrap_or("unknown").to_string();
    let mut msg = r["message"].as_str().unwrap_or("").to_string();
    // the detailed errors (bad rows...), without repeating the summary
    if let Some(errs) = job["status"]["errors"].as_array() {
        for e in errs.iter().take(5) {
            if let Some(m) = e["message"].as_str()
                && m != msg
                && !msg.contains(m)
            {
                msg.push_str("; ");
                msg.push_str(m);
            }
        }
    }
    Some((reason, msg))
}

/// A path segment, percent-encoded.
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// A value of a query result cell as text.
fn cell(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn rows_of(resp: &Value) -> Vec<SqlRow> {
    resp["rows"]
        .as_array()
        .map(|rows| rows.iter().map(|r| r["f"].as_array().map(|f| f.iter().map(|c| cell(&c["v"])).collect()).unwrap_or_default()).collect())
        .unwrap_or_default()
}

/// `@p<n>` query parameters.
pub fn query_parameters(params: &[Param]) -> Value {
    let list: Vec<Value> = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = format!("p{}", i + 1);
            match p {
                Param::Text(s) => json!({"name": name, "parameterType": {"type": "STRING"}, "parameterValue": {"value": s}}),
                Param::Int(n) => json!({"name": name, "parameterType": {"type": "INT64"}, "parameterValue": {"value": n.to_string()}}),
                Param::TextList(v) => json!({
                    "name": name,
                    "parameterType": {"type": "ARRAY", "arrayType": {"type": "STRING"}},
                    "parameterValue": {"arrayValues": v.iter().map(|s| json!({"value": s})).collect::<Vec<_>>()}
                }),
            }
        })
        .collect();
    Value::Array(list)
}

/// A service account's key and e-mail.
struct ServiceAccount {
    email: String,
    key: ring::signature::RsaKeyPair,
    token_uri: String,
}

/// Where access tokens come from.
enum TokenSource {
    /// A service-account key: an RS256 assertion exchanged at the token endpoint.
    ServiceAccount(ServiceAccount),
    /// A user's refresh token (gcloud's application default credentials).
    AuthorizedUser { client_id: String, client_secret: Secret<String>, refresh_token: Secret<String>, token_uri: String },
    /// The metadata server's token URL.
    Metadata { url: String },
}

/// A token source, what it is called in messages, and the current access token.
struct Auth {
    source: TokenSource,
    label: String,
    token: Mutex<Option<(String, Instant)>>,
}

impl Auth {
    fn new(source: TokenSource, label: String) -> std::sync::Arc<Auth> {
        std::sync::Arc::new(Auth { source, label, token: Mutex::new(None) })
    }
}

fn pem_to_der(pem: &str) -> Result<Vec<u8>> {
    let body: String = pem.lines().map(str::trim).filter(|l| !l.starts_with("-----") && !l.is_empty()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| Error::new(ErrorKind::Auth, "the BigQuery private_key is not a PEM key (base64 between BEGIN/END lines)"))
}

impl ServiceAccount {
    fn new(email: &str, key: &Secret<String>, token_uri: &str) -> Result<Self> {
        let der = pem_to_der(key.expose())?;
        let key = ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|_| {
            Error::new(ErrorKind::Auth, "the BigQuery private_key is not an RSA key in PKCS#8 (BEGIN PRIVATE KEY)")
                .with_hint("use the private_key of the service account's JSON key file")
        })?;
        Ok(ServiceAccount { email: email.into(), key, token_uri: token_uri.into() })
    }

    /// The signed assertion for the token endpoint.
    fn assertion(&self, now: i64) -> Result<String> {
        let claims = json!({
            "iss": self.email,
            "scope": "https://www.googleapis.com/auth/bigquery https://www.googleapis.com/auth/devstorage.read_only",
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        stevedore_sql::jwt::rs256(&self.key, &claims, "the service-account assertion")
    }
}

/// The REST client of one destination.
pub struct Rest {
    http: reqwest::Client,
    base: String,
    /// The project jobs run in.
    pub project: String,
    /// Dataset and job location.
    pub location: String,
    auth: Option<std::sync::Arc<Auth>>,
    retry_deadline: Duration,
    http_timeout: Duration,
    upload_timeout: Duration,
    /// First wait between polls of a running job.
    pub poll_interval: Duration,
}

fn http_error(e: reqwest::Error, what: &str, url: &str) -> Error {
    let retry = e.is_timeout() || e.is_connect() || e.is_request();
    Error::new(ErrorKind::Destination, format!("BigQuery {what}: no answer from {url}: {e}"))
        .retryable(retry)
        .with_hint("check endpoint_url (or the network) and http_timeout")
}

impl Rest {
    /// A client for `config` (no request yet).
    pub fn new(config: &BigQueryConfig) -> Result<Self> {
        Self::new_with_env(config, &|k| std::env::var(k).ok())
    }

    /// A client for `config`, with `env` as the environment default credentials are looked
    /// up in.
    pub fn new_with_env(config: &BigQueryConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (c, found) = config.credentials.resolve_with(env)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(config.http_timeout))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?;
        let service_account = |c: &crate::config::Credentials, label: String| -> Result<Option<std::sync::Arc<Auth>>> {
            match (&c.private_key, &c.client_email) {
                (Some(k), Some(email)) => {
                    let sa = ServiceAccount::new(email, k, c.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI))?;
                    Ok(Some(Auth::new(TokenSource::ServiceAccount(sa), format!("the service account {email}{label}"))))
                }
                _ => Ok(None),
            }
        };
        let auth = match found {
            None => service_account(&c, String::new())?,
            Some(f) => match f.adc {
                Adc::ServiceAccount(sa) => service_account(&sa, format!(" ({})", f.source))?,
                Adc::AuthorizedUser { client_id, client_secret, refresh_token, token_uri } => Some(Auth::new(
                    TokenSource::AuthorizedUser { client_id, client_secret, refresh_token, token_uri },
                    format!("the user credentials in {}", f.source),
                )),
                Adc::Metadata { host } => Some(Auth::new(
                    TokenSource::Metadata { url: format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token") },
                    f.source,
                )),
            },
        };
        Ok(Rest {
            http,
            base: c.endpoint(),
            project: c.project_id.clone(),
            location: config.location.clone(),
            auth,
            retry_deadline: config.retry_deadline,
            http_timeout: config.http_timeout,
            upload_timeout: config.file_upload_timeout,
            poll_interval: Duration::from_millis(500),
        })
    }

    fn api(&self, path: &str) -> String {
        format!("{}/bigquery/v2/projects/{}/{path}", self.base, self.project)
    }

    async fn bearer(&self) -> Result<Option<String>> {
        let Some(auth) = &self.auth else { return Ok(None) };
        let mut cached = auth.token.lock().await;
        if let Some((t, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(Some(t.clone()));
        }
        let form = |pairs: &[(&str, &str)]| {
            let mut f = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                f.append_pair(k, v);
            }
            f.finish()
        };
        let (req, url) = match &auth.source {
            TokenSource::ServiceAccount(sa) => {
                let assertion = sa.assertion(chrono::Utc::now().timestamp())?;
                let body = form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", &assertion)]);
                (self.http.post(&sa.token_uri).header("content-type", "application/x-www-form-urlencoded").body(body), &sa.token_uri)
            }
            TokenSource::AuthorizedUser { client_id, client_secret, refresh_token, token_uri } => {
                let body = form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id),
                    ("client_secret", client_secret.expose()),
                    ("refresh_token", refresh_token.expose()),
                ]);
                (self.http.post(token_uri).header("content-type", "application/x-www-form-urlencoded").body(body), token_uri)
            }
            TokenSource::Metadata { url } => (self.http.get(url).header("metadata-flavor", "Google"), url),
        };
        let resp = req.timeout(self.http_timeout).send().await.map_err(|e| {
            let mut e = http_error(e, "token request", url).with("credentials", auth.label.clone());
            if matches!(auth.source, TokenSource::Metadata { .. }) {
                // off Google Cloud there is no metadata server: say so at once, without retries
                e = e.retryable(false).with_hint(
                    "no Google credentials were configured and the metadata server did not answer: set private_key and client_email, \
                     GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`",
                );
            }
            e
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status != 200 {
            let why = v["error_description"].as_str().or_else(|| v["error"].as_str()).unwrap_or("no reason given");
            return Err(Error::new(ErrorKind::Auth, format!("the token endpoint refused {}: {why}", auth.label))
                .retryable(status >= 500)
                .with("token_uri", url.clone())
                .with_hint("check the credentials (the service account's JSON key file, or `gcloud auth application-default login`)"));
        }
        let token =
            v["access_token"].as_str().ok_or_else(|| Error::new(ErrorKind::Auth, "the token endpoint answered without an access_token"))?;
        let ttl = v["expires_in"].as_u64().unwrap_or(3600).saturating_sub(120);
        *cached = Some((token.to_string(), Instant::now() + Duration::from_secs(ttl)));
        Ok(Some(token.to_string()))
    }

    /// One request with a JSON answer: `Ok(None)` for a 404 when `missing_ok`.
    async fn call(&self, method: reqwest::Method, url: &str, body: Option<&Value>, what: &str, missing_ok: bool) -> Result<Option<Value>> {
        with_retry(self.retry_deadline, what, || async {
            let mut req = self.http.request(method.clone(), url).timeout(self.http_timeout);
            if let Some(t) = self.bearer().await? {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.header("content-type", "application/json").body(b.to_string());
            }
            let resp = req.send().await.map_err(|e| http_error(e, what, url))?;
            let status = resp.status().as_u16();
            let text = resp.text().await.map_err(|e| http_error(e, what, url))?;
            if status == 404 && missing_ok {
                return Ok(None);
            }
            if !(200..300).contains(&status) {
                return Err(api_error(status, &text, what));
            }
            serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::new(ErrorKind::Destination, format!("BigQuery {what}: the answer is not JSON: {e}")).retryable(true))
        })
        .await
    }

    /// One cheap query that checks endpoint, project and credentials, retried for a few
    /// seconds only: a wrong endpoint, project or key fails the load at once.
    pub async fn probe(&self) -> Result<()> {
        let short = Rest { retry_deadline: self.retry_deadline.min(Duration::from_secs(3)), ..self.clone_settings() };
        short.query("SELECT 1", &[]).await.map(|_| ()).map_err(|e| e.retryable(false))
    }

    fn clone_settings(&self) -> Rest {
        Rest {
            http: self.http.clone(),
            base: self.base.clone(),
            project: self.project.clone(),
            location: self.location.clone(),
            auth: self.auth.clone(),
            retry_deadline: self.retry_deadline,
            http_timeout: self.http_timeout,
            upload_timeout: self.upload_timeout,
            poll_interval: self.poll_interval,
        }
    }

    /// Runs a query (or a script) and returns its rows (of the last statement).
    pub async fn query(&self, sql: &str, params: &[Param]) -> Result<Vec<SqlRow>> {
        let body = json!({
            "query": sql,
            "useLegacySql": false,
            "location": self.location,
            "parameterMode": "NAMED",
            "queryParameters": query_parameters(params),
            "timeoutMs": 10000,
        });
        let mut resp = self.call(reqwest::Method::POST, &self.api("queries"), Some(&body), "query", false).await?.unwrap_or_default();
        let job_id = resp["jobReference"]["jobId"].as_str().unwrap_or("").to_string();
        let loc = resp["jobReference"]["location"].as_str().unwrap_or(&self.location).to_string();
        let results_url = |token: Option<&str>| {
            let mut u = url::Url::parse(&self.api(&format!("queries/{job_id}"))).expect("valid url");
            u.query_pairs_mut().append_pair("location", &loc).append_pair("timeoutMs", "10000");
            if let Some(t) = token {
                u.query_pairs_mut().append_pair("pageToken", t);
            }
            u.to_string()
        };
        // a query that is still running: wait for its results
        let mut wait = self.poll_interval;
        while resp["jobComplete"] == Value::Bool(false) {
            tokio::time::sleep(wait).await;
            wait = (wait * 3 / 2).min(Duration::from_secs(5));
            resp = self.call(reqwest::Method::GET, &results_url(None), None, "query results", false).await?.unwrap_or_default();
        }
        if let Some(errs) = resp["errors"].as_array()
            && !errs.is_empty()
        {
            let msg: Vec<&str> = errs.iter().filter_map(|e| e["message"].as_str()).collect();
            return Err(Error::new(ErrorKind::Destination, format!("BigQuery query failed: {}", msg.join("; "))).with("job", job_id));
        }
        let mut rows = rows_of(&resp);
        let mut token = resp["pageToken"].as_str().map(String::from);
        while let Some(t) = token {
            let page = self.call(reqwest::Method::GET, &results_url(Some(&t)), None, "query results", false).await?.unwrap_or_default();
            rows.extend(rows_of(&page));
            token = page["pageToken"].as_str().map(String::from);
        }
        Ok(rows)
    }

    /// After `ALTER TABLE ... ADD COLUMN`: makes sure `tables.get` lists the column, adding it
    /// with `tables.patch` when it does not. On BigQuery this is one read (the column is
    /// there); bqemulator runs the ALTER on its DuckDB table but does not update its catalog,
    /// so its `INFORMATION_SCHEMA` would miss the column and the next migration would add it
    /// again.
    pub async fn ensure_column_listed(&self, dataset: &str, table: &str, column: &str, ty: &str) -> Result<()> {
        let path = format!("datasets/{}/tables/{}", enc(dataset), enc(table));
        let Some(t) = self.call(reqwest::Method::GET, &self.api(&path), None, "tables.get", true).await? else {
            return Ok(());
        };
        let mut fields = t["schema"]["fields"].as_array().cloned().unwrap_or_default();
        if fields.iter().any(|f| f["name"].as_str() == Some(column)) {
            return Ok(());
        }
        let base = ty.split('(').next().unwrap_or(ty).trim().to_ascii_uppercase();
        // the names tables.get reports
        let api_type = match base.as_str() {
            "INT64" => "INTEGER",
            "FLOAT64" => "FLOAT",
            "BOOL" => "BOOLEAN",
            other => other,
        };
        let mut field = json!({"name": column, "type": api_type, "mode": "NULLABLE"});
        if let Some(args) = ty.split_once('(').map(|(_, a)| a.trim_end_matches(')')) {
            let mut parts = args.split(',').map(str::trim);
            match base.as_str() {
                "NUMERIC" | "BIGNUMERIC" => {
                    field["precision"] = json!(parts.next().unwrap_or(""));
                    if let Some(sc) = parts.next() {
                        field["scale"] = json!(sc);
                    }
                }
                _ => field["maxLength"] = json!(parts.next().unwrap_or("")),
            }
        }
        fields.push(field);
        let body = json!({"schema": {"fields": fields}});
        self.call(reqwest::Method::PATCH, &self.api(&path), Some(&body), "tables.patch", false).await.map(|_| ())
    }

    /// `jobs.get`: the job, or `None` when BigQuery does not know it.
    pub async fn get_job(&self, job_id: &str) -> Result<Option<Value>> {
        let mut u = url::Url::parse(&self.api(&format!("jobs/{job_id}"))).map_err(|e| Error::internal(format!("job url: {e}")))?;
        u.query_pairs_mut().append_pair("location", &self.location);
        self.call(reqwest::Method::GET, u.as_str(), None, "jobs.get", true).await
    }

    /// `jobs.insert` of a job (a load from `gs://`). A 409 (the job id exists) answers with
    /// the existing job.
    pub async fn insert_job(&self, job: &Value) -> Result<Value> {
        let id = job["jobReference"]["jobId"].as_str().unwrap_or("").to_string();
        match self.call(reqwest::Method::POST, &self.api("jobs"), Some(job), "jobs.insert", false).await {
            Ok(v) => Ok(v.unwrap_or_default()),
            Err(e) if e.message().contains("HTTP 409") => self
                .get_job(&id)
                .await?
                .ok_or_else(|| Error::new(ErrorKind::Destination, format!("BigQuery job {id} exists (409) but cannot be read"))),
            Err(e) => Err(e),
        }
    }

    /// A load job with the file's bytes (a resumable upload in one piece).
    pub async fn upload_job(&self, job: &Value, data: Vec<u8>) -> Result<Value> {
        let what = "load job upload";
        let start_url = format!("{}/upload/bigquery/v2/projects/{}/jobs?uploadType=resumable", self.base, self.project);
        let session = with_retry(self.retry_deadline, what, || async {
            let mut req = self
                .http
                .post(&start_url)
                .timeout(self.http_timeout)
                .header("content-type", "application/json; charset=UTF-8")
                .header("x-upload-content-type", "application/octet-stream")
                .header("x-upload-content-length", data.len().to_string())
                .body(job.to_string());
            if let Some(t) = self.bearer().await? {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.map_err(|e| http_error(e, what, &start_url))?;
            let status = resp.status().as_u16();
            let location = resp.headers().get("location").and_then(|l| l.to_str().ok()).map(String::from);
            let text = resp.text().await.unwrap_or_default();
            if !(200..300).contains(&status) {
                return Err(api_error(status, &text, what));
            }
            location
                .ok_or_else(|| Error::new(ErrorKind::Destination, "BigQuery started an upload without a session URL (no Location header)"))
        })
        .await?;
        let data = bytes::Bytes::from(data);
        with_retry(self.retry_deadline, what, || async {
            // the whole file in one piece: the range says it is complete
            let range = if data.is_empty() { "bytes */0".to_string() } else { format!("bytes 0-{}/{}", data.len() - 1, data.len()) };
            let mut req = self
                .http
                .put(&session)
                .timeout(self.upload_timeout)
                .header("content-type", "application/octet-stream")
                .header("content-range", range)
                .body(data.clone());
            if let Some(t) = self.bearer().await? {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.map_err(|e| http_error(e, what, &session))?;
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            if !(200..300).contains(&status) {
                return Err(api_error(status, &text, what));
            }
            serde_json::from_str(&text)
                .map_err(|e| Error::new(ErrorKind::Destination, format!("BigQuery {what}: the answer is not JSON: {e}")))
        })
        .await
    }

    /// Waits for a job to finish (polling `jobs.get`).
    pub async fn wait_job(&self, job: Value) -> Result<Value> {
        let id = job["jobReference"]["jobId"].as_str().unwrap_or("").to_string();
        poll_until_done(job, self.poll_interval, || async {
            self.get_job(&id)
                .await?
                .ok_or_else(|| Error::new(ErrorKind::Destination, format!("BigQuery job {id} disappeared while running")))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn api_errors_by_status_and_reason() {
        let body = r#"{"error":{"code":404,"message":"Not found: Table p:d.t","errors":[{"reason":"notFound","message":"Not found"}]}}"#;
        let e = api_error(404, body, "query");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(!e.is_retryable());
        assert!(e.message().contains("Not found: Table p:d.t"), "{e}");
        assert_eq!(e.context_value(REASON_KEY), Some("notFound"));
        let e = api_error(500, r#"{"error":{"message":"boom","errors":[{"reason":"backendError"}]}}"#, "query");
        assert!(e.is_retryable());
        let e = api_error(400, r#"{"error":{"message":"later","errors":[{"reason":"rateLimitExceeded"}]}}"#, "query");
        assert!(e.is_retryable());
        let e = api_error(403, r#"{"error":{"message":"Access Denied","errors":[{"reason":"accessDenied"}]}}"#, "query");
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(!e.is_retryable() && e.hint().is_some());
        let e = api_error(400, r#"{"error":{"message":"Syntax error","errors":[{"reason":"invalidQuery"}]}}"#, "query");
        assert!(!e.is_retryable());
        let e = api_error(502, "<html>bad gateway</html>", "query");
        assert!(e.is_retryable() && e.message().contains("bad gateway"));
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let out = with_retry(Duration::from_secs(10), "test", || {
            let c = c.clone();
            async move {
                let n = c.fetch_add(1, Ordering::SeqCst);
                if n < 2 { Err(api_error(503, "{}", "query")) } else { Ok(n) }
            }
        })
        .await
        .unwrap();
        assert_eq!(out, 2);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_errors_and_the_deadline_stop_retries() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let e = with_retry(Duration::from_secs(10), "test", || {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(api_error(400, r#"{"error":{"message":"bad","errors":[{"reason":"invalid"}]}}"#, "query"))
            }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{e}");
        // transient, but the deadline passes: a few tries, then the error with the count
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let t = Instant::now();
        let e = with_retry(Duration::from_millis(900), "test", || {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(api_error(503, "{}", "query"))
            }
        })
        .await
        .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2));
        let n = calls.load(Ordering::SeqCst);
        assert!((2..=4).contains(&n), "{n}");
        assert!(e.is_retryable() && e.context_value("retried").is_some(), "{e}");
    }

    #[tokio::test]
    async fn polling_waits_for_done() {
        let states = Arc::new(std::sync::Mutex::new(vec!["RUNNING", "PENDING", "DONE"]));
        let polls = Arc::new(AtomicUsize::new(0));
        let (s, p) = (states.clone(), polls.clone());
        let first = json!({"jobReference": {"jobId": "j"}, "status": {"state": "RUNNING"}});
        let done = poll_until_done(first, Duration::from_millis(5), || {
            let (s, p) = (s.clone(), p.clone());
            async move {
                p.fetch_add(1, Ordering::SeqCst);
                let state = s.lock().unwrap().remove(0);
                let mut job = json!({"status": {"state": state}});
                if state == "DONE" {
                    job["status"]["errorResult"] = json!({"reason": "invalid", "message": "Error while reading data"});
                    job["status"]["errors"] = json!([{"message": "Error while reading data"}, {"message": "row 3: bad int"}]);
                }
                Ok(job)
            }
        })
        .await
        .unwrap();
        assert_eq!(polls.load(Ordering::SeqCst), 3);
        assert_eq!(job_error(&done), Some(("invalid".to_string(), "Error while reading data; row 3: bad int".to_string())));
        // a job that is done at once is not polled
        let first = json!({"status": {"state": "DONE"}});
        let done = poll_until_done(first, Duration::from_millis(5), || async { panic!("polled a finished job") }).await.unwrap();
        assert_eq!(job_error(&done), None);
    }

    #[test]
    fn parameters_and_rows() {
        let p = query_parameters(&[Param::Text("ds".into()), Param::Int(7), Param::TextList(vec!["a".into(), "b".into()])]);
        assert_eq!(p[0]["name"], "p1");
        assert_eq!(p[1]["parameterValue"]["value"], "7");
        assert_eq!(p[2]["parameterType"]["arrayType"]["type"], "STRING");
        assert_eq!(p[2]["parameterValue"]["arrayValues"][1]["value"], "b");
        let rows = rows_of(&json!({"rows": [{"f": [{"v": "1"}, {"v": null}]}, {"f": [{"v": "x"}, {"v": 2}]}]}));
        assert_eq!(rows, vec![vec![Some("1".into()), None], vec![Some("x".into()), Some("2".into())]]);
    }

    /// A throwaway RSA key made for this test (`openssl genpkey -algorithm RSA`); it grants
    /// nothing anywhere.
    const TEST_ONLY_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC+a9tE3VeZ/WGX\ng3tD86lFq01jyviqJDMWWejzTMWVYYINpjSge5xPPe/LRxPEiKvX7KVIzQFAHxy0\n7a0ANlELsvXME5dSoq9mNp57HUxy9q7VAK6fPVbPspRzi3r1RziIHeJ80yfk5Rp+\nHXLJYpCJw8p/j6AlaC2QXG6EeTUTQrbVkkwRrkqlB3H3Wxf3eNEdJfQjX3rhmGje\nrViWJ0bvqjaH8tCqnh72H65+YjFUZGCXg8P9lL3YvUyxgm9CXp3WXtJE57pizQbe\n8S5fdsD0u+OGB0nwBduAWRXfGdPY8LxcbhGZZN+W6/43zMujTAg6RMblRXt066oC\ncnlGrKzTAgMBAAECggEARWRTpwBMPKMgDdFNucERJgDbdmrQfFwtu87u+7614A6F\nEMlJM1RobV4iRP81XnD5wnmL8AA5HO9ZjDtyyHmCxlMkjIZ1Jhl/9q0fyriuE9T+\neEPD3ubA/HZU79hb6gdWvA+76gYe6yRsJ5o+qtG+311YrWyfDRKuTAXLBn6PD2Gm\njLv5/9MyPSwhjMpvF8psZ9TR3b9pblyUux4mALykWTsMugcbo027eGroWgTIj0Zp\ng0/i3jPXWQNQIIbXo0i5HFLXjDtTquU7dywx78bcHvKpnoRHiR1tuCZiOyTLmwia\nhxFmf4UYAJtd8HvSD2hFI5CXMyzvY2YEJKujdJuWPQKBgQDumze/jLx0mvGvHFvy\nQslFSuJPhLVqGKdjDSjVPlOITLXMo0BOc7h7g93Z+0g2+nX7ZYLPwk/B/RztsXA1\n0G9kBlOUNh4USi3rWTPTLISOwqsEsFFTqy6Zw20WzWrvrT7QS6dUR2FnetA8O1c/\nUb1KxWlIVaBPZyEZExVCfpY25QKBgQDMTW2a4/UDfW9ka62y+JSjlpwZxiJ0qxlp\nVpS+9BbbOHNNT1anjjdxrPu5WcA8hRu2dyosLdzpPYXOu6a1qDvaT1hR3w6Cerwk\nTWtoPpg4fWGFROFQpKYh+e8jatr/dqV5/vN/IlQVEA+/F/Yy5wLWsOzO7i/GeyTH\nLWBwaRKhVwKBgQC0T12ohfzgDTr4PnEJOQkKMRWmS74gJ/NOOeKSit/rDzUPKIru\n/in6RONA19Bxo4HG8aYRxGArU1AqGz2VnSagKtu8E81VPd1HjYhJW8nsbBV6nJdI\nqAK2NeVZJvBZoMzn8VPIr4xe+4MjESDUe7uVJmtyOyrC9kcfwLj/H9P6NQKBgHYS\nuamu3UerEtnCsZyhtaXlwUnUDM3IpOMQOt8xSpRfx6OCmt4zfy+ffcvdZxCTDTUj\nIahuySGzgMW+Bdcu54iAGtcWRth5/ooshEq3AlqDe/z9lgp5Xdp9DAw4EWFbPL+I\n7UkomdeidLdILe21PRq/Hd1qIwpe2R6TxwywbSf5AoGBAM3SIvfzRHQRwkCVtNZg\nM2q3fCvpORD/C1aqX2Sreyz67y8PNOcjSWTbl1EbT/ftO07CDVz3L/2HDC0hthz5\ndnfWYlZk98s8t5Bw+VwcOegJGbxNxOcGBmKH5Y9mrhSUdcqrTCzcy8Ig2FvDNkWH\n4msbOdppqwQF/zKJEa7oZbZn\n-----END PRIVATE KEY-----\n";

    #[test]
    fn assertions_are_rs256_signed_jwts_for_the_service_account() {
        let sa = ServiceAccount::new("loader@p.iam", &Secret::new(TEST_ONLY_KEY.into()), "https://token.example/t").unwrap();
        let jwt = sa.assertion(1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let dec = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap();
        let header: Value = serde_json::from_slice(&dec(parts[0])).unwrap();
        assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
        let claims: Value = serde_json::from_slice(&dec(parts[1])).unwrap();
        assert_eq!(claims["iss"], "loader@p.iam");
        assert_eq!(claims["aud"], "https://token.example/t");
        assert_eq!(claims["exp"].as_i64(), Some(1_700_003_600));
        assert!(claims["scope"].as_str().unwrap().contains("auth/bigquery"));
        let public =
            ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, sa.key.public().as_ref().to_vec());
        let signed = format!("{}.{}", parts[0], parts[1]);
        public.verify(signed.as_bytes(), &dec(parts[2])).expect("the signature verifies with the key's public half");
        assert!(public.verify(b"something else", &dec(parts[2])).is_err());
    }

    /// A one-connection-per-request HTTP stub on 127.0.0.1: answers each request with the
    /// next (status, body) and records the requests.
    fn stub(answers: Vec<(u16, String)>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for (status, body) in answers {
                let (mut conn, _) = l.accept().unwrap();
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut head = String::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    head.push_str(&line);
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                }
                let mut body_in = vec![0u8; len];
                std::io::Read::read_exact(&mut r, &mut body_in).unwrap();
                seen.push(format!("{head}{}", String::from_utf8_lossy(&body_in)));
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                conn.write_all(resp.as_bytes()).unwrap();
            }
            seen
        });
        (url, h)
    }

    #[tokio::test]
    async fn a_service_account_gets_a_token_and_sends_it() {
        let (token_url, token_srv) = stub(vec![(200, r#"{"access_token":"tok-123","expires_in":3600}"#.into())]);
        let (api_url, api_srv) = stub(vec![
            (200, r#"{"jobComplete":true,"jobReference":{"jobId":"j"},"rows":[{"f":[{"v":"1"}]}]}"#.into()),
            (200, r#"{"jobComplete":true,"jobReference":{"jobId":"j"},"rows":[]}"#.into()),
        ]);
        let mut cfg = BigQueryConfig::default();
        cfg.credentials.project_id = "p".into();
        cfg.credentials.client_email = Some("loader@p.iam".into());
        cfg.credentials.private_key = Some(Secret::new(TEST_ONLY_KEY.into()));
        cfg.credentials.token_uri = Some(format!("{token_url}/token"));
        cfg.credentials.endpoint_url = Some(api_url);
        let rest = Rest::new(&cfg).unwrap();
        assert_eq!(rest.query("SELECT 1", &[]).await.unwrap(), vec![vec![Some("1".to_string())]]);
        // the token is cached: one token request for two queries
        rest.query("SELECT 2", &[]).await.unwrap();
        let token_reqs = token_srv.join().unwrap();
        assert!(token_reqs[0].starts_with("POST /token"), "{}", token_reqs[0]);
        assert!(token_reqs[0].contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="), "{}", token_reqs[0]);
        for req in api_srv.join().unwrap() {
            assert!(req.starts_with("POST /bigquery/v2/projects/p/queries"), "{req}");
            assert!(req.to_ascii_lowercase().contains("authorization: bearer tok-123"), "{req}");
        }
    }

    #[tokio::test]
    async fn a_refused_service_account_is_an_auth_error_without_the_key() {
        let (token_url, token_srv) = stub(vec![(400, r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#.into())]);
        let mut cfg = BigQueryConfig::default();
        cfg.credentials.project_id = "p".into();
        cfg.credentials.client_email = Some("loader@p.iam".into());
        cfg.credentials.private_key = Some(Secret::new(TEST_ONLY_KEY.into()));
        cfg.credentials.token_uri = Some(format!("{token_url}/token"));
        cfg.credentials.endpoint_url = Some("http://127.0.0.1:9".into());
        let rest = Rest::new(&cfg).unwrap();
        let e = rest.query("SELECT 1", &[]).await.unwrap_err();
        token_srv.join().unwrap();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(!e.is_retryable());
        let shown = format!("{e} {e:?}");
        assert!(shown.contains("loader@p.iam") && shown.contains("Invalid JWT Signature"), "{shown}");
        let key_line = TEST_ONLY_KEY.lines().nth(1).unwrap();
        assert!(!shown.contains(key_line), "{shown}");
    }

    fn env_of(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        let m: std::collections::HashMap<&str, String> = pairs.into_iter().collect();
        move |k| m.get(k).cloned()
    }

    /// gcloud's user credentials (a refresh token, named by GOOGLE_APPLICATION_CREDENTIALS):
    /// the refresh grant at the file's token endpoint, the token cached, the secrets unseen.
    #[tokio::test]
    async fn default_credentials_of_a_gcloud_user_refresh_their_token() {
        let (token_url, token_srv) = stub(vec![(200, r#"{"access_token":"user-tok","expires_in":3599}"#.into())]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("adc.json");
        // gcloud's user credentials file, its token endpoint at `token_url`
        let write_user_file = |token_url: &str| {
            let user = json!({"type": "authorized_user", "client_id": "cid.apps", "client_secret": "CL1ENTSECRET",
                "refresh_token": "1//REFRESHTOKEN", "token_uri": format!("{token_url}/token")});
            std::fs::write(&file, user.to_string()).unwrap();
        };
        write_user_file(&token_url);
        let env = env_of(vec![
            ("GOOGLE_APPLICATION_CREDENTIALS", file.display().to_string()),
            ("GOOGLE_CLOUD_PROJECT", "env-proj".into()),
            ("HOME", dir.path().display().to_string()),
        ]);
        let rest = Rest::new_with_env(&BigQueryConfig::default(), &env).unwrap();
        assert_eq!(rest.project, "env-proj");
        assert_eq!(rest.bearer().await.unwrap().as_deref(), Some("user-tok"));
        assert_eq!(rest.bearer().await.unwrap().as_deref(), Some("user-tok"), "cached");
        let reqs = token_srv.join().unwrap();
        assert_eq!(reqs.len(), 1);
        assert!(reqs[0].starts_with("POST /token"), "{}", reqs[0]);
        assert!(
            reqs[0].contains("grant_type=refresh_token&client_id=cid.apps&client_secret=CL1ENTSECRET&refresh_token=1%2F%2FREFRESHTOKEN"),
            "{}",
            reqs[0]
        );

        // a refused refresh token: an auth error naming the file, without the secrets
        let (token_url, token_srv) =
            stub(vec![(400, r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#.into())]);
        write_user_file(&token_url);
        let rest = Rest::new_with_env(&BigQueryConfig::default(), &env).unwrap();
        let e = rest.bearer().await.unwrap_err();
        token_srv.join().unwrap();
        let shown = format!("{e} {e:?}");
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(shown.contains("adc.json") && shown.contains("expired or revoked"), "{shown}");
        assert!(!shown.contains("CL1ENTSECRET") && !shown.contains("REFRESHTOKEN"), "{shown}");
    }

    /// No key, no file: the metadata server (at GCE_METADATA_HOST) gives the token; when it is
    /// not there, the error says what to configure, at once.
    #[tokio::test]
    async fn default_credentials_on_google_cloud_ask_the_metadata_server() {
        let (meta_url, meta_srv) = stub(vec![(200, r#"{"access_token":"vm-tok","expires_in":3000,"token_type":"Bearer"}"#.into())]);
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = BigQueryConfig::default();
        cfg.credentials.project_id = "p".into();
        let host = meta_url.trim_start_matches("http://").to_string();
        let env = env_of(vec![("GCE_METADATA_HOST", host), ("HOME", dir.path().display().to_string())]);
        let rest = Rest::new_with_env(&cfg, &env).unwrap();
        assert_eq!(rest.bearer().await.unwrap().as_deref(), Some("vm-tok"));
        let req = meta_srv.join().unwrap().remove(0);
        assert!(req.starts_with("GET /computeMetadata/v1/instance/service-accounts/default/token"), "{req}");
        assert!(req.to_ascii_lowercase().contains("metadata-flavor: google"), "{req}");

        let env = env_of(vec![("GCE_METADATA_HOST", "127.0.0.1:9".into()), ("HOME", dir.path().display().to_string())]);
        let rest = Rest::new_with_env(&cfg, &env).unwrap();
        let t = Instant::now();
        let e = rest.bearer().await.unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(5) && !e.is_retryable(), "{e}");
        let shown = format!("{e:?}");
        assert!(shown.contains("metadata server") && shown.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{shown}");

        // without a project anywhere: a config error before any request
        let e = Rest::new_with_env(&BigQueryConfig::default(), &env).err().unwrap();
        assert!(e.to_string().contains("project_id"), "{e}");
    }

    #[test]
    fn service_account_assertions_are_signed_and_keys_stay_secret() {
        // a bad key is an auth error that does not echo the key
        let e = ServiceAccount::new(
            "sa@p",
            &Secret::new("-----BEGIN PRIVATE KEY-----\nnotakeysecret\n-----END PRIVATE KEY-----".into()),
            DEFAULT_TOKEN_URI,
        )
        .err()
        .unwrap();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(!e.to_string().contains("notakeysecret"), "{e}");
    }
}

//! Helpers for tests against local bucket servers (moto for S3, azurite for Azure Blob,
//! fake-gcs-server for GCS).
//!
//! Endpoints come only from the environment (the test harness sets them):
//!
//! | service | variables |
//! |---|---|
//! | `s3` | `STEVEDORE_S3_ENDPOINT`, `STEVEDORE_S3_KEY_ID`, `STEVEDORE_S3_SECRET`, `STEVEDORE_S3_REGION` (optional, default `us-east-1`) |
//! | `azure` | `STEVEDORE_AZURE_ENDPOINT` (e.g. `http://127.0.0.1:10000/devstoreaccount1`), `STEVEDORE_AZURE_ACCOUNT`, `STEVEDORE_AZURE_KEY` |
//! | `gcs` | `STEVEDORE_GCS_ENDPOINT` |
//!
//! When a service's variables are missing, [`require_service`] panics if CI requires the
//! service (`STEVEDORE_TEST_REQUIRE` names it, see [`crate::required`]), else prints `SKIP: ...`
//! and the test returns. [`TestBucket`] creates a bucket with a unique name per test, reads
//! objects back with the vendors' own Python clients (boto3, azure-storage-blob,
//! google-cloud-storage, pyarrow for parquet) and deletes the bucket when dropped.
//! [`FaultProxy`] is a TCP proxy that can drop every connection and refuse new ones, and
//! [`StubHttpServer`] answers every request with one fixed response, counting requests.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{required, run_python};

/// A bucket service the tests know: its name in `STEVEDORE_TEST_REQUIRE`, the URL scheme, the
/// variables it needs and the Python client module that reads it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// S3 (moto).
    S3,
    /// Azure Blob (azurite).
    Azure,
    /// GCS (fake-gcs-server).
    Gcs,
}

impl Service {
    /// Name in `STEVEDORE_TEST_REQUIRE`.
    pub fn name(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Azure => "azure",
            Service::Gcs => "gcs",
        }
    }
    /// URL scheme of its buckets.
    pub fn scheme(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Azure => "az",
            Service::Gcs => "gs",
        }
    }
    /// Environment variables it needs.
    pub fn vars(self) -> &'static [&'static str] {
        match self {
            Service::S3 => &["STEVEDORE_S3_ENDPOINT", "STEVEDORE_S3_KEY_ID", "STEVEDORE_S3_SECRET"],
            Service::Azure => &["STEVEDORE_AZURE_ENDPOINT", "STEVEDORE_AZURE_ACCOUNT", "STEVEDORE_AZURE_KEY"],
            Service::Gcs => &["STEVEDORE_GCS_ENDPOINT"],
        }
    }
    fn python_modules(self) -> &'static [&'static str] {
        match self {
            Service::S3 => &["boto3", "pyarrow"],
            Service::Azure => &["azure.storage.blob", "pyarrow"],
            Service::Gcs => &["google.cloud.storage", "pyarrow"],
        }
    }
}

/// The service's variables, or None after printing why the test skips. Panics when
/// `STEVEDORE_TEST_REQUIRE` names the service (or `all`) and a variable is missing.
pub fn require_service(service: &str, vars: &[&str]) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    for v in vars {
        match std::env::var(v) {
            Ok(val) if !val.trim().is_empty() => {
                out.insert(v.to_string(), val);
            }
            _ => missing.push(*v),
        }
    }
    if missing.is_empty() {
        return Some(out);
    }
    let why = format!("{} not set", missing.join(", "));
    if required(service) {
        panic!("the {service} service is required (STEVEDORE_TEST_REQUIRE) but {why}; start it with `cargo xtask services up`");
    }
    eprintln!("SKIP: {service} tests need {why}; run the suite with `cargo xtask test` (or set them to a local server)");
    None
}

/// The Python interpreter (`STEVEDORE_PYTHON`) when it can import `modules`; else None after
/// printing why, or a panic when CI requires `service` or `python`.
pub fn python_with(service: &str, modules: &[&str]) -> Option<PathBuf> {
    let p = std::env::var_os("STEVEDORE_PYTHON").map(PathBuf::from);
    let probe = format!("import {}", modules.join(", "));
    let ok = p.as_ref().is_some_and(|p| Command::new(p).args(["-c", &probe]).output().map(|o| o.status.success()).unwrap_or(false));
    if ok {
        return p;
    }
    let why = match &p {
        None => "STEVEDORE_PYTHON is not set".to_string(),
        Some(p) => format!("{} cannot `{probe}`", p.display()),
    };
    if required(service) || required("python") {
        panic!("the independent readers for {service} are required but unavailable: {why}; run `cargo xtask venv`");
    }
    eprintln!("SKIP: {service} tests read objects back with Python, but {why}; run `cargo xtask venv`");
    None
}

/// A lowercase name valid as an S3 bucket, Azure container and GCS bucket:
/// `stv-<tag>-<random>`, at most 63 characters.
pub fn unique_name(tag: &str) -> String {
    let tag: String = tag
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .chars()
        .take(40)
        .collect();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let n = (u64::from(std::process::id()) << 32)
        ^ u64::from(nanos)
        ^ (COUNTER.fetch_add(1, Ordering::Relaxed) as u64).wrapping_mul(0x9e37_79b9);
    let name = format!("stv-{}-{:x}", tag.trim_end_matches('-'), n & 0xffff_ffff_ffff);
    name.replace("--", "-")
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Objects of one table folder, read back with the independent client.
#[derive(Debug, Clone, Default)]
pub struct TableContents {
    /// Object keys, sorted.
    pub files: Vec<String>,
    /// Rows in all files (jsonl lines, csv lines without header, parquet rows).
    pub rows: u64,
    /// Column names seen.
    pub columns: Vec<String>,
    /// Distinct `_dlt_load_id` values.
    pub load_ids: Vec<String>,
}

/// A bucket created for one test on a local server; deleted (with its objects) on drop.
pub struct TestBucket {
    /// The service.
    pub service: Service,
    /// Bucket (container) name.
    pub name: String,
    /// The service's environment variables.
    pub env: BTreeMap<String, String>,
    python: PathBuf,
}

impl std::fmt::Debug for TestBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestBucket({}://{})", self.service.scheme(), self.name)
    }
}

impl TestBucket {
    /// The service's variables and Python client, without creating a bucket (None: skip).
    pub fn prerequisites(service: Service) -> Option<(BTreeMap<String, String>, PathBuf)> {
        let env = require_service(service.name(), service.vars())?;
        let python = python_with(service.name(), service.python_modules())?;
        Some((env, python))
    }

    /// Creates a uniquely named bucket; None (after printing why) when the service or the
    /// Python readers are unavailable and not required.
    pub fn create(service: Service, tag: &str) -> Option<TestBucket> {
        let (env, python) = Self::prerequisites(service)?;
        let b = TestBucket { service, name: unique_name(tag), env, python };
        b.call("create", &[]);
        Some(b)
    }

    /// `<scheme>://<bucket>/<prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("{}://{}", self.service.scheme(), self.name)
        } else {
            format!("{}://{}/{prefix}", self.service.scheme(), self.name)
        }
    }

    /// A variable of the service (panics when absent).
    pub fn var(&self, name: &str) -> &str {
        self.env.get(name).map(String::as_str).unwrap_or_else(|| panic!("{name} is not set"))
    }

    fn call(&self, op: &str, args: &[&str]) -> serde_json::Value {
        let mut all = vec![self.service.scheme(), op, self.name.as_str()];
        all.extend_from_slice(args);
        run_python(&self.python, CLIENT_PY, &all)
    }

    /// Keys under `prefix`, sorted.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let v = self.call("keys", &[prefix]);
        let mut keys: Vec<String> = serde_json::from_value(v).expect("keys");
        keys.sort();
        keys
    }

    /// Reads every object under `prefix` (a table folder) and counts its rows.
    pub fn table(&self, prefix: &str) -> TableContents {
        let v = self.call("table", &[prefix]);
        TableContents {
            files: serde_json::from_value(v["files"].clone()).expect("files"),
            rows: v["rows"].as_u64().expect("rows"),
            columns: serde_json::from_value(v["columns"].clone()).expect("columns"),
            load_ids: serde_json::from_value(v["load_ids"].clone()).expect("load_ids"),
        }
    }

    /// An object's content as text (gunzipped when the key ends in `.gz`).
    pub fn text(&self, key: &str) -> String {
        self.call("text", &[key]).as_str().expect("text").to_string()
    }

    /// An object's size in bytes.
    pub fn size(&self, key: &str) -> u64 {
        self.call("size", &[key]).as_u64().expect("size")
    }

    /// A SAS token for the container (Azure only): read, write, delete, list.
    pub fn sas_token(&self) -> String {
        self.call("sas", &[]).as_str().expect("sas").to_string()
    }

    /// Writes `n` small objects `<prefix>/<i>.jsonl` (one JSON line each).
    pub fn put_many(&self, prefix: &str, n: usize) {
        self.call("put_many", &[prefix, &n.to_string()]);
    }
}

impl Drop for TestBucket {
    fn drop(&mut self) {
        let mut all = vec![self.service.scheme(), "delete", self.name.as_str()];
        all.push("");
        let out = Command::new(&self.python).arg("-c").arg(CLIENT_PY).args(&all).output();
        if let Ok(o) = out
            && !o.status.success()
        {
            eprintln!("warning: could not delete test bucket {}: {}", self.name, String::from_utf8_lossy(&o.stderr));
        }
    }
}

/// The independent client: boto3, azure-storage-blob, google-cloud-storage, pyarrow.
const CLIENT_PY: &str = r#"
import sys, os, io, json, gzip, csv
scheme, op, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
args = sys.argv[4:]
env = os.environ

class S3:
    def __init__(self):
        import boto3
        from botocore.config import Config
        self.region = env.get('STEVEDORE_S3_REGION') or 'us-east-1'
        self.c = boto3.client('s3', endpoint_url=env['STEVEDORE_S3_ENDPOINT'], aws_access_key_id=env['STEVEDORE_S3_KEY_ID'],
            aws_secret_access_key=env['STEVEDORE_S3_SECRET'], region_name=self.region,
            config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 2}))
    def create(self):
        if self.region == 'us-east-1':
            self.c.create_bucket(Bucket=bucket)
        else:
            self.c.create_bucket(Bucket=bucket, CreateBucketConfiguration={'LocationConstraint': self.region})
    def keys(self, prefix):
        out = []
        for page in self.c.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=prefix):
            out += [o['Key'] for o in page.get('Contents', [])]
        return out
    def get(self, key):
        return self.c.get_object(Bucket=bucket, Key=key)['Body'].read()
    def put(self, key, data):
        self.c.put_object(Bucket=bucket, Key=key, Body=data)
    def delete(self):
        keys = self.keys('')
        for i in range(0, len(keys), 1000):
            self.c.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': k} for k in keys[i:i + 1000]]})
        self.c.delete_bucket(Bucket=bucket)

class Az:
    def __init__(self):
        from azure.storage.blob import BlobServiceClient
        cs = 'DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;' % (
            env['STEVEDORE_AZURE_ACCOUNT'], env['STEVEDORE_AZURE_KEY'], env['STEVEDORE_AZURE_ENDPOINT'])
        self.c = BlobServiceClient.from_connection_string(cs).get_container_client(bucket)
    def create(self):
        self.c.create_container()
    def keys(self, prefix):
        return [b.name for b in self.c.list_blobs(name_starts_with=prefix or None)]
    def get(self, key):
        return self.c.download_blob(key).readall()
    def put(self, key, data):
        self.c.upload_blob(key, data, overwrite=True)
    def delete(self):
        self.c.delete_container()
    def sas(self):
        from datetime import datetime, timedelta, timezone
        from azure.storage.blob import generate_container_sas, ContainerSasPermissions
        return generate_container_sas(env['STEVEDORE_AZURE_ACCOUNT'], bucket, account_key=env['STEVEDORE_AZURE_KEY'],
            permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True),
            expiry=datetime.now(timezone.utc) + timedelta(hours=1))

class Gs:
    def __init__(self):
        from google.cloud import storage
        from google.auth.credentials import AnonymousCredentials
        self.c = storage.Client(project='stevedore-test', credentials=AnonymousCredentials(),
            client_options={'api_endpoint': env['STEVEDORE_GCS_ENDPOINT']})
    def create(self):
        self.c.create_bucket(bucket)
    def keys(self, prefix):
        return [b.name for b in self.c.list_blobs(bucket, prefix=prefix or None)]
    def get(self, key):
        return self.c.bucket(bucket).blob(key).download_as_bytes()
    def put(self, key, data):
        self.c.bucket(bucket).blob(key).upload_from_string(data)
    def delete(self):
        for b in self.c.list_blobs(bucket):
            b.delete()
        self.c.bucket(bucket).delete()

def rows_of(key, data):
    if key.endswith('.parquet'):
        import pyarrow.parquet as pq
        t = pq.read_table(io.BytesIO(data))
        ids = set(t.column('_dlt_load_id').to_pylist()) if '_dlt_load_id' in t.column_names else set()
        return t.num_rows, list(t.column_names), ids
    if key.endswith('.gz'):
        data = gzip.decompress(data)
        key = key[:-3]
    text = data.decode('utf-8')
    if key.endswith('.jsonl'):
        recs = [json.loads(l) for l in text.splitlines() if l.strip()]
        cols = set()
        for r in recs:
            cols |= set(r.keys())
        return len(recs), sorted(cols), set(r['_dlt_load_id'] for r in recs if '_dlt_load_id' in r)
    if key.endswith('.csv'):
        rows = list(csv.reader(io.StringIO(text)))
        ids = set()
        if rows and '_dlt_load_id' in rows[0]:
            i = rows[0].index('_dlt_load_id')
            ids = set(r[i] for r in rows[1:])
        return max(len(rows) - 1, 0), rows[0] if rows else [], ids
    return 0, [], set()

s = {'s3': S3, 'az': Az, 'gs': Gs}[scheme]()
if op == 'create':
    s.create(); out = True
elif op == 'delete':
    s.delete(); out = True
elif op == 'keys':
    out = s.keys(args[0])
elif op == 'table':
    files = sorted(s.keys(args[0]))
    rows, cols, ids = 0, set(), set()
    for k in files:
        n, c, i = rows_of(k, s.get(k))
        rows += n; cols |= set(c); ids |= i
    out = {'files': files, 'rows': rows, 'columns': sorted(cols), 'load_ids': sorted(ids)}
elif op == 'text':
    d = s.get(args[0])
    out = (gzip.decompress(d) if args[0].endswith('.gz') else d).decode('utf-8')
elif op == 'sas':
    out = s.sas()
elif op == 'size':
    out = len(s.get(args[0]))
elif op == 'put_many':
    from concurrent.futures import ThreadPoolExecutor
    prefix, n = args[0].rstrip('/'), int(args[1])
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda i: s.put('%s/%06d.jsonl' % (prefix, i), b'{"id": %d}\n' % i), range(n)))
    out = n
print(json.dumps(out))
sys.stdout.flush()
# pyarrow's and deltalake's threads can abort the interpreter's shutdown (SIGABRT,
# "terminate called without an active exception") after the answer is out
os._exit(0)
"#;

/// A TCP port on 127.0.0.1 with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

struct ProxyState {
    running: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

/// A TCP proxy on 127.0.0.1 in front of a server. [`FaultProxy::stop`] drops every open
/// connection and closes the port (new connections are refused) until [`FaultProxy::restart`].
pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    state: Mutex<ProxyState>,
    accepted: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`host:port` or `http://host:port/...`).
    pub fn start(upstream: &str) -> Arc<FaultProxy> {
        let hostport = upstream.split("://").nth(1).unwrap_or(upstream).split('/').next().unwrap_or_default().to_string();
        let upstream: SocketAddr =
            std::net::ToSocketAddrs::to_socket_addrs(&hostport).expect("upstream address").next().expect("upstream address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let p = Arc::new(FaultProxy {
            addr,
            upstream,
            state: Mutex::new(ProxyState { running: Arc::new(AtomicBool::new(false)), acceptor: None, conns: Arc::default() }),
            accepted: Arc::default(),
        });
        p.serve(listener);
        p
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn serve(&self, listener: TcpListener) {
        listener.set_nonblocking(true).expect("nonblocking");
        let mut st = self.state.lock().expect("proxy state");
        let running = Arc::new(AtomicBool::new(true));
        st.running = running.clone();
        let conns = st.conns.clone();
        let upstream = self.upstream;
        let accepted = self.accepted.clone();
        st.acceptor = Some(std::thread::spawn(move || {
            while running.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                        let _ = client.set_nonblocking(false);
                        let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        };
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                            let mut list = conns.lock().expect("conns");
                            list.retain(|s: &TcpStream| s.peer_addr().is_ok());
                            list.push(c2);
                            list.push(s2);
                        }
                        pipe(client, server);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            // the listener is dropped here: the port refuses connections
        }));
    }

    /// Drops all connections and refuses new ones.
    pub fn stop(&self) {
        let mut st = self.state.lock().expect("proxy state");
        st.running.store(false, Ordering::SeqCst);
        if let Some(h) = st.acceptor.take() {
            let _ = h.join();
        }
        for s in st.conns.lock().expect("conns").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Listens again on the same port.
    pub fn restart(&self) {
        let mut last = None;
        for _ in 0..100 {
            match TcpListener::bind(self.addr) {
                Ok(l) => return self.serve(l),
                Err(e) => {
                    last = Some(e);
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        panic!("cannot listen on {} again: {last:?}", self.addr);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn pipe(client: TcpStream, server: TcpStream) {
    let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone()) else { return };
    let (mut s_read, mut c_write) = (server, client);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut s_write);
        let _ = s_write.shutdown(Shutdown::Write);
    });
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut s_read, &mut c_write);
        let _ = c_write.shutdown(Shutdown::Write);
    });
}

/// An HTTP server on 127.0.0.1 that answers every request with one fixed response
/// (`Connection: close`) and counts the requests.
pub struct StubHttpServer {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    lines: Arc<Mutex<Vec<String>>>,
    running: Arc<AtomicBool>,
}

impl StubHttpServer {
    /// Starts the server; `status` like `403 Forbidden`.
    pub fn start(status: &str, content_type: &str, body: &str) -> StubHttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind stub");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("stub addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let running = Arc::new(AtomicBool::new(true));
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (r2, l2, run2) = (requests.clone(), lines.clone(), running.clone());
        std::thread::spawn(move || {
            while run2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 4096];
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut chunk) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        r2.fetch_add(1, Ordering::SeqCst);
                        let head = String::from_utf8_lossy(&buf);
                        l2.lock().expect("lines").push(head.lines().next().unwrap_or_default().to_string());
                        let _ = s.write_all(response.as_bytes());
                        let _ = s.shutdown(Shutdown::Both);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        StubHttpServer { addr, requests, lines, running }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Request lines seen (`GET /path HTTP/1.1`).
    pub fn request_lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }
}

impl Drop for StubHttpServer {
    fn drop(&mut self) {
        self.running.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_valid_bucket_names() {
        let a = unique_name("Replace_Over 1000 files!");
        let b = unique_name("Replace_Over 1000 files!");
        assert_ne!(a, b);
        for n in [a, b] {
            assert!(n.len() <= 63 && n.len() >= 3, "{n}");
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{n}");
            assert!(!n.contains("--") && !n.ends_with('-'), "{n}");
        }
    }

    #[test]
    fn proxy_stops_and_restarts() {
        let stub = StubHttpServer::start("200 OK", "text/plain", "hi");
        let proxy = FaultProxy::start(&stub.url());
        let get = |url: &str| -> std::io::Result<String> {
            let hostport = url.trim_start_matches("http://");
            let mut s = TcpStream::connect(hostport)?;
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        };
        assert!(get(&proxy.url()).unwrap().ends_with("hi"));
        proxy.stop();
        assert!(get(&proxy.url()).is_err(), "a stopped proxy refuses connections");
        proxy.restart();
        assert!(get(&proxy.url()).unwrap().ends_with("hi"));
        assert_eq!(stub.requests(), 2);
        assert!(closed_port() > 0);
    }
}

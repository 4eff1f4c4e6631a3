//! Smoke tests of the test services: each one answers where its variables say.
//! Skipped (with a `SKIP:` line) when a service is not running, failed when
//! `STEVEDORE_TEST_REQUIRE` names it (as `cargo xtask test` does).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::Command;
use std::time::Duration;

/// `GET` the endpoint with a plain TCP stream; returns the status line of the answer.
fn http_get(endpoint: &str) -> String {
    let rest = endpoint.strip_prefix("http://").unwrap_or_else(|| panic!("{endpoint} is not an http:// URL"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = authority
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("{authority}: {e}"))
        .next()
        .unwrap_or_else(|| panic!("{authority} resolves to nothing"));
    let timeout = Duration::from_secs(10);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).unwrap_or_else(|e| panic!("cannot connect to {endpoint}: {e}"));
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.set_write_timeout(Some(timeout)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or("").to_string();
    assert!(status.starts_with("HTTP/1."), "{endpoint} answered no HTTP: {answer:?}");
    status
}

#[test]
fn postgres_answers_select_1() {
    let Some(env) = stevedore_testkit::service("postgres", &["STEVEDORE_PG_URL", "STEVEDORE_PSQL"]) else {
        return;
    };
    assert_eq!(stevedore_testkit::postgres_url().as_deref(), Some(env["STEVEDORE_PG_URL"].as_str()));
    let out = Command::new(&env["STEVEDORE_PSQL"])
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", &env["STEVEDORE_PG_URL"], "-c", "select 1"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", env["STEVEDORE_PSQL"]));
    assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
}

#[test]
fn s3_answers_http() {
    let Some(s3) = stevedore_testkit::s3() else {
        return;
    };
    assert!(!s3.key_id.is_empty() && !s3.secret.is_empty() && !s3.region.is_empty(), "{s3:?}");
    http_get(&s3.endpoint);
}

#[test]
fn azure_answers_http() {
    let Some(az) = stevedore_testkit::azure() else {
        return;
    };
    assert!(az.endpoint.ends_with(&format!("/{}", az.account)), "{az:?}");
    assert!(!az.key.is_empty());
    // unsigned list request: azurite answers 403, which proves it is there
    http_get(&format!("{}?comp=list", az.endpoint));
}

#[test]
fn gcs_answers_http() {
    let Some(endpoint) = stevedore_testkit::gcs() else {
        return;
    };
    let status = http_get(&format!("{endpoint}/storage/v1/b?project=stevedore"));
    assert!(status.contains(" 200"), "{status}");
}

#[test]
fn bigquery_answers_http() {
    let Some(v) = stevedore_testkit::service("bigquery", &["STEVEDORE_BQ_ENDPOINT", "STEVEDORE_BQ_PROJECT"]) else {
        return;
    };
    let status = http_get(&format!("{}/bigquery/v2/projects/{}/datasets", v["STEVEDORE_BQ_ENDPOINT"], v["STEVEDORE_BQ_PROJECT"]));
    assert!(status.contains(" 200"), "{status}");
}

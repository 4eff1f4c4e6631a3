//! `stevedore load --destination postgres` with credentials from the environment.

use std::process::Command;

async fn query(url: &str, sql: &str) -> Vec<String> {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut out = Vec::new();
    for m in c.simple_query(sql).await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            out.push(r.get(0).unwrap_or("NULL").to_string());
        }
    }
    out
}

#[tokio::test]
async fn cli_loads_into_postgres_with_merge() {
    let Some(url) = stevedore_testkit::pg::url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let dataset = stevedore_testkit::pg::unique_dataset("cli");
    let run = |file: &str, body: &str| {
        let f = dir.path().join(file);
        std::fs::write(&f, body).unwrap();
        Command::new(env!("CARGO_BIN_EXE_stevedore"))
            .args(["load", f.to_str().unwrap(), "--table", "users", "--pipeline", "cli_pg", "--destination", "postgres"])
            .args(["--dataset", &dataset, "--write-disposition", "merge", "--primary-key", "id"])
            .arg("--pipelines-dir")
            .arg(dir.path().join("p"))
            .env("DESTINATION__POSTGRES__CREDENTIALS", &url)
            .env("STEVEDORE_PROJECT_DIR", dir.path())
            .output()
            .unwrap()
    };
    let out = run("a.jsonl", "{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2, \"name\": \"b\"}\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run("b.jsonl", "{\"id\": 2, \"name\": \"B\"}\n{\"id\": 3, \"name\": \"c\"}\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("to postgres at postgresql://"), "{stdout}");
    if let Some(pw) = url.split_once("://").and_then(|(_, r)| r.split_once('@')).and_then(|(c, _)| c.split_once(':')).map(|x| x.1) {
        assert!(pw.is_empty() || !stdout.contains(pw), "password shown: {stdout}");
    }
    let rows = query(&url, &format!("SELECT id || ':' || name FROM \"{dataset}\".users ORDER BY id")).await;
    assert_eq!(rows, vec!["1:a", "2:B", "3:c"]);
    if let Some(psql) = stevedore_testkit::pg::psql() {
        let out = stevedore_testkit::pg::psql_query(&psql, &url, &format!("SELECT count(*) FROM \"{dataset}\"._dlt_loads"));
        assert_eq!(out, vec!["2"]);
    }
    query(&url, &format!("DROP SCHEMA \"{dataset}\" CASCADE; DROP SCHEMA \"{dataset}_staging\" CASCADE")).await;
}

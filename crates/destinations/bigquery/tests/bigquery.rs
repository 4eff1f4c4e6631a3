//! The BigQuery destination against the local emulators (bqemulator and fake-gcs-server, see
//! docs/testing.md): the conformance kit with job files uploaded in load jobs and through the
//! GCS staging chain, a failing load job, fail-fast errors. Tables are read back over plain
//! HTTP (`tables.get`, `jobs.query`), not with stevedore's client.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use reqwest_opendal as reqwest;
use serde_json::{Map, Value, json};
use stevedore::filesystem::{Credentials as FsCredentials, Filesystem};
use stevedore::schema::{Column, DataType};
use stevedore::{Config, Pipeline, Resource, StagingDestination};
use stevedore_bigquery::{BigQuery, Credentials};
use stevedore_testkit::conformance::{Kit, Row, TableReader, run_all, run_one};
use stevedore_testkit::remote::{Service, TestBucket};

struct Bq {
    endpoint: String,
    project: String,
}

/// The emulator's variables (None: SKIP, or a panic when `STEVEDORE_TEST_REQUIRE` names
/// bigquery).
fn bq() -> Option<Bq> {
    let v = stevedore_testkit::service("bigquery", &["STEVEDORE_BQ_ENDPOINT", "STEVEDORE_BQ_PROJECT"])?;
    Some(Bq { endpoint: v["STEVEDORE_BQ_ENDPOINT"].clone(), project: v["STEVEDORE_BQ_PROJECT"].clone() })
}

fn destination(b: &Bq) -> BigQuery {
    BigQuery::builder().credentials(Credentials::emulator(&b.project, &b.endpoint)).build().unwrap()
}

/// A `gs://` staging storage in a fresh bucket on the GCS emulator.
fn gcs_staging(bucket: &TestBucket) -> Arc<dyn StagingDestination> {
    Arc::new(
        Filesystem::builder()
            .bucket_url(&bucket.url("stage"))
            .credentials(FsCredentials::new().with_endpoint_url(bucket.var("STEVEDORE_GCS_ENDPOINT")))
            .build()
            .unwrap(),
    )
}

/// Reads tables with BigQuery's REST API directly.
struct RestReader {
    http: reqwest::Client,
    endpoint: String,
    project: String,
}

impl RestReader {
    fn new(b: &Bq) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        RestReader { http: reqwest::Client::new(), endpoint: b.endpoint.clone(), project: b.project.clone() }
    }

    async fn get(&self, path: &str) -> Result<Option<Value>, String> {
        let url = format!("{}/bigquery/v2/projects/{}/{path}", self.endpoint, self.project);
        let r = self.http.get(&url).send().await.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let text = r.text().await.map_err(|e| e.to_string())?;
        match status {
            404 => Ok(None),
            200 => serde_json::from_str(&text).map(Some).map_err(|e| e.to_string()),
            s => Err(format!("GET {url}: HTTP {s}: {text}")),
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        let url = format!("{}/bigquery/v2/projects/{}/{path}", self.endpoint, self.project);
        let r = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let text = r.text().await.map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    /// `(name, type)` of a table's columns, or None.
    async fn schema(&self, dataset: &str, table: &str) -> Result<Option<Vec<(String, String)>>, String> {
        let Some(t) = self.get(&format!("datasets/{dataset}/tables/{table}")).await? else { return Ok(None) };
        let fields = t["schema"]["fields"].as_array().cloned().unwrap_or_default();
        Ok(Some(
            fields.iter().map(|f| (f["name"].as_str().unwrap_or("").to_string(), f["type"].as_str().unwrap_or("").to_string())).collect(),
        ))
    }

    /// Runs a query and returns its rows as JSON values typed by the result schema.
    async fn query(&self, sql: &str) -> Result<Vec<Row>, String> {
        let (status, v) = self.post("queries", &json!({"query": sql, "useLegacySql": false, "timeoutMs": 30000})).await?;
        if status != 200 {
            return Err(format!("query `{sql}`: HTTP {status}: {v}"));
        }
        if v["jobComplete"] == Value::Bool(false) {
            return Err(format!("query `{sql}` did not finish in 30 s"));
        }
        if v["errors"].as_array().is_some_and(|e| !e.is_empty()) {
            return Err(format!("query `{sql}` failed: {}", v["errors"]));
        }
        let fields: Vec<(String, String)> = v["schema"]["fields"]
            .as_array()
            .map(|f| {
                f.iter().map(|f| (f["name"].as_str().unwrap_or("").to_string(), f["type"].as_str().unwrap_or("").to_string())).collect()
            })
            .unwrap_or_default();
        let mut out = Vec::new();
        for r in v["rows"].as_array().cloned().unwrap_or_default() {
            let mut m = Map::new();
            for ((name, ty), cell) in fields.iter().zip(r["f"].as_array().cloned().unwrap_or_default()) {
                let raw = cell["v"].clone();
                let val = match (ty.as_str(), &raw) {
                    (_, Value::Null) => Value::Null,
                    ("INTEGER" | "INT64", Value::String(s)) => s.parse::<i64>().map(Value::from).unwrap_or(raw.clone()),
                    ("FLOAT" | "FLOAT64", Value::String(s)) => s.parse::<f64>().map(Value::from).unwrap_or(raw.clone()),
                    ("BOOLEAN" | "BOOL", Value::String(s)) => Value::Bool(s == "true"),
                    _ => raw.clone(),
                };
                m.insert(name.clone(), val);
            }
            out.push(m);
        }
        Ok(out)
    }

    async fn count(&self, dataset: &str, table: &str) -> i64 {
        let rows = self.query(&format!("SELECT count(*) AS n FROM `{dataset}`.`{table}`")).await.unwrap();
        rows[0]["n"].as_i64().unwrap()
    }
}

#[async_trait]
impl TableReader for RestReader {
    async fn rows(&self, dataset: &str, table: &str) -> Result<Option<Vec<Row>>, String> {
        if self.schema(dataset, table).await?.is_none() {
            return Ok(None);
        }
        let q = |s: &str| format!("`{}`", s.replace('\\', "\\\\").replace('`', "\\`"));
        self.query(&format!("SELECT * FROM {}.{}", q(dataset), q(table))).await.map(Some)
    }
    async fn columns(&self, dataset: &str, table: &str) -> Result<Option<BTreeSet<String>>, String> {
        Ok(self.schema(dataset, table).await?.map(|cols| cols.into_iter().map(|(n, _)| n).collect()))
    }
}

/// The scenarios the kit skips on BigQuery, and why.
const SKIPPED: &[&str] = &["merge_insert_only"];

/// Every scenario passes, and only [`SKIPPED`] is skipped.
async fn assert_kit_passes(kit: &Kit) {
    let report = run_all(kit).await;
    println!("{report}");
    report.assert_passed();
    let skipped: Vec<&str> = report.skipped().iter().map(|(n, _)| *n).collect();
    assert_eq!(skipped, SKIPPED, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigquery_passes_the_conformance_kit() {
    let Some(b) = bq() else { return };
    let Some(bucket) = TestBucket::create(Service::Gcs, "bqkit") else { return };
    let kit = Kit::new("kitbq", Arc::new(destination(&b)), Arc::new(RestReader::new(&b))).staging(gcs_staging(&bucket));
    assert_kit_passes(&kit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigquery_passes_the_conformance_kit_through_the_gcs_chain() {
    let Some(b) = bq() else { return };
    let Some(bucket) = TestBucket::create(Service::Gcs, "bqchain") else { return };
    let kit = Kit::new("kitbqs", Arc::new(destination(&b)), Arc::new(RestReader::new(&b))).staging(gcs_staging(&bucket)).through_staging();
    assert_kit_passes(&kit).await;
}

/// Parquet job files uploaded directly (jsonl is the default without staging).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_job_files_load_directly_too() {
    let Some(b) = bq() else { return };
    let kit =
        Kit::new("kitbqp", Arc::new(destination(&b)), Arc::new(RestReader::new(&b))).loader_file_format(stevedore::FileFormat::Parquet);
    for scenario in ["append", "nested_tables", "merge_delete_insert"] {
        let o = run_one(&kit, scenario).await;
        assert_eq!(o, stevedore_testkit::conformance::Outcome::Passed, "{scenario}");
    }
}

fn pipeline(name: &str, dest: BigQuery, dataset: &str, dir: &std::path::Path, staging: Option<Arc<dyn StagingDestination>>) -> Pipeline {
    let mut p = Pipeline::builder(name)
        .destination(Arc::new(dest))
        .dataset_name(dataset)
        .pipelines_dir(dir.join("pipelines"))
        .config(Config::load(&dir.join("project"), &HashMap::new()).unwrap());
    if let Some(s) = staging {
        p = p.staging(s);
    }
    p.build().unwrap()
}

fn unique(tag: &str) -> String {
    stevedore_testkit::remote::unique_name(tag).replace('-', "_")
}

/// A load job BigQuery refuses (a text value for an INT64 column that exists already) fails
/// the job with BigQuery's reason, the table and the file; nothing is marked loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_load_job_names_reason_table_and_file() {
    let Some(b) = bq() else { return };
    let reader = RestReader::new(&b);
    let dataset = unique("bqfail");
    let dir = tempfile::tempdir().unwrap();
    // a first load creates the table with `amount` as text ...
    let p = pipeline("bqfail", destination(&b), &dataset, dir.path(), None);
    p.run(Resource::from_values("items", (1..=3).map(|i| json!({"id": i, "amount": "x"})))).await.unwrap();
    // ... which another writer turns into an INT64 column of the same name
    let (s, v) = reader
        .post(
            "queries",
            &json!({"query": format!("DROP TABLE `{dataset}`.`items`; CREATE TABLE `{dataset}`.`items` (id INT64, amount INT64, _dlt_load_id STRING NOT NULL, _dlt_id STRING NOT NULL)"), "useLegacySql": false}),
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    let err =
        p.run(Resource::from_values("items", (4..=5).map(|i| json!({"id": i, "amount": "not a number"})))).await.unwrap_err().to_string();
    assert!(err.contains("BigQuery load job"), "{err}");
    assert!(err.contains("items"), "{err}");
    assert!(err.contains(".jsonl"), "the file is named: {err}");
    assert!(err.contains("invalid"), "BigQuery's reason: {err}");
    assert_eq!(reader.count(&dataset, "items").await, 0);
    let loads = reader.query(&format!("SELECT count(*) AS n FROM `{dataset}`.`_dlt_loads`")).await.unwrap();
    assert_eq!(loads[0]["n"], json!(1), "only the first load is marked");
}

/// A wrong endpoint or an unknown project fails when the load starts, once, with the
/// endpoint named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_fails_fast() {
    let port = stevedore_testkit::remote::closed_port();
    let dest = BigQuery::builder().credentials(Credentials::emulator("p", &format!("http://127.0.0.1:{port}"))).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let p = pipeline("bqdown", dest, "ds", dir.path(), None);
    let err = p.run(Resource::from_values("items", [json!({"id": 1})])).await.unwrap_err().to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("project: p"), "the project is named: {err}");
    assert!(t.elapsed() < std::time::Duration::from_secs(15), "{:?}", t.elapsed());
}

/// Partition and cluster hints become `PARTITION BY` / `CLUSTER BY` (read back from the
/// table resource), and a second load into a new column migrates the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_and_cluster_hints_and_migration() {
    let Some(b) = bq() else { return };
    let reader = RestReader::new(&b);
    let dataset = unique("bqhint");
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline("bqhint", destination(&b), &dataset, dir.path(), None);
    let rows = (1..=4).map(|i| json!({"id": i, "day": format!("2024-01-0{i}"), "kind": "k", "at": "2024-01-01T10:00:00Z"}));
    let r = Resource::from_values("events", rows)
        .with_column(Column::new("day", DataType::Date).hint("partition"))
        .with_column(Column::new("kind", DataType::Text).hint("cluster"))
        .with_column(Column::new("at", DataType::Timestamp));
    p.run(r).await.unwrap();
    let t = reader.get(&format!("datasets/{dataset}/tables/events")).await.unwrap().expect("events exists");
    assert_eq!(t["timePartitioning"]["field"], json!("day"), "{t}");
    // bqemulator accepts CLUSTER BY but does not report it in the table resource (real
    // BigQuery does): when reported, it must be ours; the clause itself is unit-tested
    if !t["clustering"].is_null() {
        assert_eq!(t["clustering"]["fields"], json!(["kind"]), "{t}");
    }
    let types: HashMap<String, String> = reader.schema(&dataset, "events").await.unwrap().unwrap().into_iter().collect();
    assert_eq!(types["id"], "INTEGER");
    assert_eq!(types["day"], "DATE");
    assert_eq!(types["at"], "TIMESTAMP");
    assert_eq!(types["kind"], "STRING");
    // a new column in a second load
    p.run(Resource::from_values("events", [json!({"id": 5, "day": "2024-02-01", "kind": "k", "extra": 1.5})])).await.unwrap();
    let types: HashMap<String, String> = reader.schema(&dataset, "events").await.unwrap().unwrap().into_iter().collect();
    assert_eq!(types["extra"], "FLOAT");
    assert_eq!(reader.count(&dataset, "events").await, 5);
    let rows = reader.query(&format!("SELECT id, extra FROM `{dataset}`.`events` WHERE extra IS NOT NULL")).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], json!(5));
}

/// The window a crash can leave: a load job ran, but its row in `_stevedore_jobs` was never
/// written. Run again, the job is found by its BigQuery job id (`jobs.get`) and not run a
/// second time. The same file under a new retry count is a new job, and loads again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_job_that_ran_before_a_crash_is_not_run_again() {
    use stevedore::destination::{JobInfo, PackageInfo};
    use stevedore::schema::{Schema, Table, WriteDisposition};
    let Some(b) = bq() else { return };
    let Some(bucket) = TestBucket::create(Service::Gcs, "bqonce") else { return };
    let reader = RestReader::new(&b);
    // a staged file, uploaded with GCS's JSON API
    let object = "stage/items/1.jsonl";
    let body = "{\"id\": 1, \"_dlt_load_id\": \"l1\", \"_dlt_id\": \"a\"}\n{\"id\": 2, \"_dlt_load_id\": \"l1\", \"_dlt_id\": \"b\"}\n";
    let up = format!(
        "{}/upload/storage/v1/b/{}/o?uploadType=media&name={}",
        bucket.var("STEVEDORE_GCS_ENDPOINT"),
        bucket.name,
        object.replace('/', "%2F")
    );
    let r = reader.http.post(&up).body(body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    let mut schema = Schema::new("once");
    let mut t = Table::new("items");
    t.add_column(Column::new("id", DataType::Bigint));
    t.add_column(Column::new("_dlt_load_id", DataType::Text).not_null());
    t.add_column(Column::new("_dlt_id", DataType::Text).not_null());
    schema.tables.insert("items".into(), t);
    let mut package = PackageInfo {
        load_id: "1796000000.000001".into(),
        pipeline_name: "once".into(),
        schema,
        created_at: chrono::Utc::now(),
        tables: vec![("items".into(), WriteDisposition::Append)],
        replace_tables: Vec::new(),
        state: None,
        staging: None,
        data_formats: Default::default(),
        plans: Default::default(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("items.0a1b2c3d4e.0.reference");
    std::fs::write(&path, format!("gs://{}/{object}\n", bucket.name)).unwrap();
    let job = JobInfo::parse(path).unwrap();
    let dataset = unique("bqonce");
    let dest = destination(&b);
    package.plan_tables(&stevedore::Destination::capabilities(&dest));
    let client = stevedore::Destination::client(&dest, &dataset, "once").await.unwrap();
    client.migrate_schema(&package).await.unwrap();
    client.run_job(&package, &job).await.unwrap();
    assert_eq!(reader.count(&dataset, "items").await, 2);
    let forget = json!({"query": format!("DELETE FROM `{dataset}`.`_stevedore_jobs` WHERE true"), "useLegacySql": false});
    assert_eq!(reader.post("queries", &forget).await.unwrap().0, 200);
    client.run_job(&package, &job).await.unwrap();
    assert_eq!(reader.count(&dataset, "items").await, 2, "the load job ran again");
    let retried = JobInfo { retry_count: 1, ..job.clone() };
    assert_eq!(reader.post("queries", &forget).await.unwrap().0, 200);
    client.run_job(&package, &retried).await.unwrap();
    assert_eq!(reader.count(&dataset, "items").await, 4, "a new retry is a new load job");
}

/// Two loads migrating one dataset at once (BigQuery has no lock to serialize them): both
/// succeed, and the tables and columns exist once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_migrations_of_one_dataset_at_once_both_succeed() {
    let Some(b) = bq() else { return };
    let reader = RestReader::new(&b);
    let dataset = unique("bqrace");
    let tables = stevedore_testkit::conformance::concurrent_migrations(&destination(&b), &dataset).await.unwrap();
    for name in tables {
        let t = reader.get(&format!("datasets/{dataset}/tables/{name}")).await.unwrap().expect("the table exists");
        let cols: Vec<&str> = t["schema"]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(cols, ["id", "note"], "{name}");
    }
}

/// dlt's BigQuery types on real columns, loaded from jsonl and from parquet uploads: the
/// table's column types (tables.get) and the values read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_types_and_values_from_jsonl_and_parquet() {
    let Some(b) = bq() else { return };
    let reader = RestReader::new(&b);
    for format in [stevedore::FileFormat::Jsonl, stevedore::FileFormat::Parquet] {
        let dataset = unique("bqtypes");
        let dir = tempfile::tempdir().unwrap();
        let p = Pipeline::builder("bqtypes")
            .destination(Arc::new(destination(&b)))
            .dataset_name(&dataset)
            .pipelines_dir(dir.path().join("pipelines"))
            .config(Config::load(&dir.path().join("project"), &HashMap::new()).unwrap())
            .loader_file_format(format)
            .build()
            .unwrap();
        let row = json!({"id": 1, "price": "12.50", "day": "2024-03-01", "ts": "2024-03-01T10:11:12.5Z", "t": "10:11:12", "ok": true, "f": 1.25, "doc": {"a": [1, 2]}});
        let r = Resource::from_values("typed", [row])
            .with_column(Column::new("price", DataType::Decimal))
            .with_column(Column::new("day", DataType::Date))
            .with_column(Column::new("ts", DataType::Timestamp))
            .with_column(Column::new("t", DataType::Time))
            .with_column(Column::new("doc", DataType::Json));
        p.run(r).await.unwrap_or_else(|e| panic!("{format:?}: {e}"));
        let types: HashMap<String, String> = reader.schema(&dataset, "typed").await.unwrap().unwrap().into_iter().collect();
        for (c, t) in [
            ("id", "INTEGER"),
            ("price", "NUMERIC"),
            ("day", "DATE"),
            ("ts", "TIMESTAMP"),
            ("t", "TIME"),
            ("ok", "BOOLEAN"),
            ("f", "FLOAT"),
        ] {
            assert_eq!(types.get(c).map(String::as_str), Some(t), "{format:?} {c}: {types:?}");
        }
        let rows = reader
            .query(&format!(
                "SELECT id, CAST(price AS STRING) AS price, CAST(day AS STRING) AS day, UNIX_MICROS(ts) AS ts_us, CAST(t AS STRING) AS t, ok, f, doc FROM `{dataset}`.`typed`"
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{format:?}");
        let r = &rows[0];
        assert_eq!(r["id"], json!(1), "{format:?}");
        assert!(r["price"].as_str().is_some_and(|s| s.starts_with("12.5")), "{format:?}: {r:?}");
        assert_eq!(r["day"], json!("2024-03-01"), "{format:?}");
        assert_eq!(r["ts_us"], json!(1709287872500000i64), "{format:?}: {r:?}");
        assert_eq!(r["t"], json!("10:11:12"), "{format:?}");
        assert_eq!(r["ok"], json!(true), "{format:?}");
        assert_eq!(r["f"], json!(1.25), "{format:?}");
        let doc: Value = serde_json::from_str(r["doc"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        let doc = if let Value::String(s) = &doc { serde_json::from_str(s).unwrap_or(doc.clone()) } else { doc };
        assert_eq!(doc, json!({"a": [1, 2]}), "{format:?}: {r:?}");
    }
}

/// The kit's replace scenario (three replaces, nested rows, an empty replace) with the other
/// two replace strategies, directly and through the GCS chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_strategies_insert_from_staging_and_staging_optimized() {
    use stevedore::schema::ReplaceStrategy;
    let Some(b) = bq() else { return };
    let Some(bucket) = TestBucket::create(Service::Gcs, "bqrepl") else { return };
    for strategy in [ReplaceStrategy::InsertFromStaging, ReplaceStrategy::StagingOptimized] {
        let dest =
            BigQuery::builder().credentials(Credentials::emulator(&b.project, &b.endpoint)).replace_strategy(strategy).build().unwrap();
        let kit = Kit::new("kitbqr", Arc::new(dest), Arc::new(RestReader::new(&b))).staging(gcs_staging(&bucket));
        assert_eq!(run_one(&kit, "replace").await, stevedore_testkit::conformance::Outcome::Passed, "{strategy:?}");
        let kit = kit.through_staging();
        assert_eq!(run_one(&kit, "replace").await, stevedore_testkit::conformance::Outcome::Passed, "{strategy:?} through the chain");
    }
}

/// delete-insert with `dedup_sort` (the highest sequence of a key wins), `hard_delete` (a
/// truthy flag removes the key, nested rows through the root key too), and a merge key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_dedup_sort_hard_delete_and_merge_key() {
    use stevedore::schema::{SortOrder, WriteDisposition};
    let Some(b) = bq() else { return };
    let reader = RestReader::new(&b);
    let dataset = unique("bqmerge");
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline("bqmerge", destination(&b), &dataset, dir.path(), None);
    let merge =
        |rows: Vec<Value>| Resource::from_values("items", rows).with_write_disposition(WriteDisposition::Merge).with_primary_key(["id"]);
    let tagged = |id: i64, name: &str| json!({"id": id, "name": name, "tags": [format!("{name}-x"), format!("{name}-y")]});
    p.run(merge(vec![tagged(1, "a1"), tagged(2, "a2"), tagged(3, "a3")])).await.unwrap();
    let mut seq = Column::new("seq", DataType::Bigint);
    seq.dedup_sort = Some(SortOrder::Desc);
    let second = merge(vec![
        json!({"id": 1, "name": "low", "seq": 1, "tags": ["l"]}),
        json!({"id": 1, "name": "high", "seq": 5, "tags": ["h"]}),
        json!({"id": 3, "name": "gone", "seq": 1, "deleted": true}),
        json!({"id": 4, "name": "kept", "seq": 1, "deleted": false}),
    ])
    .with_column(seq)
    .with_column(Column::new("deleted", DataType::Bool).hint("hard_delete"));
    p.run(second).await.unwrap();
    let rows = reader.query(&format!("SELECT id, name FROM `{dataset}`.`items` ORDER BY id")).await.unwrap();
    let got: Vec<(i64, String)> = rows.iter().map(|r| (r["id"].as_i64().unwrap(), r["name"].as_str().unwrap().to_string())).collect();
    assert_eq!(got, vec![(1, "high".into()), (2, "a2".into()), (4, "kept".into())]);
    let tags = reader
        .query(&format!(
            "SELECT t.value AS value FROM `{dataset}`.`items__tags` AS t JOIN `{dataset}`.`items` AS i ON i._dlt_id = t._dlt_parent_id ORDER BY value"
        ))
        .await
        .unwrap();
    let tags: Vec<&str> = tags.iter().map(|r| r["value"].as_str().unwrap()).collect();
    assert_eq!(tags, vec!["a2-x", "a2-y", "h"]);
    assert_eq!(reader.count(&dataset, "items__tags").await, 3, "no nested rows of replaced or deleted parents");

    // a merge key: the rows of a day are replaced by the new load's rows of that day
    let day = |rows: Vec<Value>| Resource::from_values("ev", rows).with_write_disposition(WriteDisposition::Merge).with_merge_key(["day"]);
    p.run(day(vec![json!({"day": 1, "v": 1}), json!({"day": 1, "v": 2}), json!({"day": 2, "v": 3})])).await.unwrap();
    p.run(day(vec![json!({"day": 1, "v": 9})])).await.unwrap();
    let rows = reader.query(&format!("SELECT day, v FROM `{dataset}`.`ev` ORDER BY day, v")).await.unwrap();
    let got: Vec<(i64, i64)> = rows.iter().map(|r| (r["day"].as_i64().unwrap(), r["v"].as_i64().unwrap())).collect();
    assert_eq!(got, vec![(1, 9), (2, 3)]);
}

//! Shared helpers of the PostgreSQL integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stevedore_core::config::Config;
use stevedore_core::pipeline::Pipeline;
use stevedore_postgres::{Postgres, PostgresBuilder};
use tokio_postgres::NoTls;

/// One test's dataset, working folder and a checking connection.
pub struct Ctx {
    pub url: String,
    pub dataset: String,
    pub dir: tempfile::TempDir,
    pub db: tokio_postgres::Client,
    pub extra_schemas: Vec<String>,
}

pub async fn setup(prefix: &str) -> Option<Ctx> {
    let url = stevedore_testkit::pg::url()?;
    let (db, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect to STEVEDORE_PG_URL");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let dataset = stevedore_testkit::pg::unique_dataset(prefix);
    Some(Ctx { url, dataset, dir: tempfile::tempdir().unwrap(), db, extra_schemas: Vec::new() })
}

impl Ctx {
    pub fn builder(&self) -> PostgresBuilder {
        Postgres::builder().connection_string(&self.url).unwrap()
    }

    pub fn destination(&self) -> Arc<Postgres> {
        Arc::new(self.builder().build().unwrap())
    }

    pub fn pipelines_dir(&self) -> PathBuf {
        self.dir.path().join("pipelines")
    }

    pub fn pipeline_with(&self, name: &str, dest: Postgres, config: Config) -> Pipeline {
        Pipeline::builder(name)
            .destination(Arc::new(dest))
            .dataset_name(&self.dataset)
            .pipelines_dir(self.pipelines_dir())
            .config(config)
            .build()
            .unwrap()
    }

    pub fn pipeline(&self, name: &str) -> Pipeline {
        self.pipeline_with(name, self.builder().build().unwrap(), Config::empty())
    }

    /// Rows of a query as text (NULL → "NULL").
    pub async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let msgs = self.db.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        msgs.into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).unwrap_or("NULL").to_string()).collect()),
                _ => None,
            })
            .collect()
    }

    pub async fn col(&self, sql: &str) -> Vec<String> {
        self.rows(sql).await.into_iter().map(|mut r| r.remove(0)).collect()
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.count_in(&self.dataset.clone(), table).await
    }

    pub async fn count_in(&self, schema: &str, table: &str) -> i64 {
        self.col(&format!("SELECT count(*) FROM \"{schema}\".\"{table}\"")).await[0].parse().unwrap()
    }

    pub fn staging(&self) -> String {
        format!("{}_staging", self.dataset)
    }

    /// The same query through psql (independent client), when STEVEDORE_PSQL is set.
    pub fn psql(&self, sql: &str) -> Option<Vec<String>> {
        let psql = stevedore_testkit::pg::psql()?;
        Some(stevedore_testkit::pg::psql_query(&psql, &self.url, sql))
    }

    pub async fn cleanup(self) {
        let mut schemas = vec![self.dataset.clone(), format!("{}_staging", self.dataset)];
        schemas.extend(self.extra_schemas.iter().cloned());
        for s in schemas {
            let q = s.replace('"', "\"\"");
            let _ = self.db.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{q}\" CASCADE")).await;
        }
    }
}

/// Moves a loaded package back to `normalized/` with all its jobs pending, as if nothing of
/// it had run (to check that a rerun does not duplicate rows).
pub fn reset_loaded_package(working_dir: &Path, load_id: &str) {
    let src = working_dir.join("load").join("loaded").join(load_id);
    let dst = working_dir.join("load").join("normalized").join(load_id);
    std::fs::rename(&src, &dst).unwrap();
    for f in ["package_completed.json", "applied_schema_updates.json", "followups.json"] {
        let _ = std::fs::remove_file(dst.join(f));
    }
    for e in std::fs::read_dir(dst.join("completed_jobs")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".remote_url") {
            std::fs::remove_file(e.path()).unwrap();
            continue;
        }
        // followups are created again
        if name.contains(".sql") {
            std::fs::remove_file(e.path()).unwrap();
            continue;
        }
        std::fs::rename(e.path(), dst.join("new_jobs").join(&name)).unwrap();
    }
}

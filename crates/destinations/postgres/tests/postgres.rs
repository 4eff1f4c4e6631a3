//! PostgreSQL destination against a real server (`STEVEDORE_PG_URL`); skipped when unset.

mod common;

use serde_json::json;
use stevedore_core::ErrorKind;
use stevedore_core::config::Config;
use stevedore_core::schema::{Column, DataType, MergeStrategy, ReplaceStrategy, SortOrder, WriteDisposition};
use stevedore_core::source::{Resource, Scd2Options};
use stevedore_core::writers::FileFormat;

use common::{Ctx, setup};

fn items(ids: &[i64], tag: &str) -> Vec<serde_json::Value> {
    ids.iter().map(|i| json!({"id": i, "name": format!("{tag}{i}"), "tags": [format!("{tag}a"), format!("{tag}b")]})).collect()
}

fn merge_res(ids: &[i64], tag: &str) -> Resource {
    Resource::from_values("items", items(ids, tag)).with_write_disposition(WriteDisposition::Merge).with_primary_key(["id"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn append_nested_and_system_tables() {
    let Some(ctx) = setup("sd_append").await else { return };
    let p = ctx.pipeline("p_append");
    let info = p.run(Resource::from_values("items", items(&[1, 2, 3], "x"))).await.unwrap();
    assert_eq!(info.packages.len(), 1);
    p.run(Resource::from_values("items", items(&[4], "y"))).await.unwrap();
    assert_eq!(ctx.count("items").await, 4);
    assert_eq!(ctx.count("items__tags").await, 8);
    assert_eq!(ctx.count("_dlt_loads").await, 2);
    assert!(ctx.count("_dlt_version").await >= 1);
    assert!(ctx.count("_dlt_pipeline_state").await >= 1);
    let loads = ctx.rows(&format!("SELECT schema_name, status FROM \"{}\"._dlt_loads", ctx.dataset)).await;
    assert_eq!(loads[0], vec!["p_append".to_string(), "0".to_string()]);
    // every row of the data tables joins a completed load
    let orphan = ctx
        .col(&format!(
            "SELECT count(*) FROM \"{0}\".items i LEFT JOIN \"{0}\"._dlt_loads l ON l.load_id = i._dlt_load_id WHERE l.load_id IS NULL",
            ctx.dataset
        ))
        .await;
    assert_eq!(orphan, vec!["0"]);
    // the stored state decodes
    let dest = ctx.destination();
    let client = stevedore_core::destination::Destination::client(dest.as_ref(), &ctx.dataset, "p_append").await.unwrap();
    let st = client.stored_state("p_append").await.unwrap().expect("state stored");
    assert_eq!(st["pipeline_name"], json!("p_append"));
    // column types as dlt creates them
    let types = ctx
        .rows(&format!(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = '{}' AND table_name = 'items' ORDER BY ordinal_position",
            ctx.dataset
        ))
        .await;
    assert!(types.contains(&vec!["id".into(), "bigint".into(), "YES".into()]), "{types:?}");
    assert!(types.contains(&vec!["_dlt_id".into(), "character varying".into(), "NO".into()]), "{types:?}");
    if let Some(out) = ctx.psql(&format!("SELECT count(*) FROM \"{}\".items__tags", ctx.dataset)) {
        assert_eq!(out, vec!["8"]);
    }
    ctx.cleanup().await;
}

async fn replace_round(ctx: &Ctx, strategy: ReplaceStrategy) {
    let dest = ctx.builder().replace_strategy(strategy).build().unwrap();
    let p = ctx.pipeline_with(&format!("p_{}", strategy.as_str().replace('-', "_")), dest, Config::empty());
    let res = |ids: &[i64], tag: &str| Resource::from_values("items", items(ids, tag)).with_write_disposition(WriteDisposition::Replace);
    p.run(res(&[1, 2, 3], "a")).await.unwrap();
    assert_eq!(ctx.count("items").await, 3, "{strategy}");
    p.run(res(&[7, 8], "b")).await.unwrap();
    assert_eq!(ctx.col(&format!("SELECT id FROM \"{}\".items ORDER BY id", ctx.dataset)).await, vec!["7", "8"], "{strategy}");
    assert_eq!(ctx.count("items__tags").await, 4, "{strategy}");
    // nested rows only from the new load, and none without a parent
    let stale = ctx.col(&format!("SELECT count(*) FROM \"{}\".items__tags WHERE value LIKE 'a%'", ctx.dataset)).await;
    assert_eq!(stale, vec!["0"], "{strategy}");
    // a replace without nested rows empties the nested table
    p.run(Resource::from_values("items", vec![json!({"id": 9})]).with_write_disposition(WriteDisposition::Replace)).await.unwrap();
    assert_eq!(ctx.count("items").await, 1, "{strategy}");
    assert_eq!(ctx.count("items__tags").await, 0, "{strategy}");
    // a replace with no rows at all empties the tables
    p.run(Resource::from_values("items", Vec::<serde_json::Value>::new()).with_write_disposition(WriteDisposition::Replace)).await.unwrap();
    assert_eq!(ctx.count("items").await, 0, "{strategy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replace_strategies() {
    for s in [ReplaceStrategy::TruncateAndInsert, ReplaceStrategy::InsertFromStaging, ReplaceStrategy::StagingOptimized] {
        let Some(ctx) = setup("sd_replace").await else { return };
        replace_round(&ctx, s).await;
        // the final table keeps its UNIQUE constraint on _dlt_id, whatever the strategy
        let uniq = ctx
            .col(&format!(
                "SELECT count(*) FROM information_schema.table_constraints WHERE table_schema = '{}' AND table_name = 'items' AND constraint_type = 'UNIQUE'",
                ctx.dataset
            ))
            .await;
        assert_eq!(uniq, vec!["1"], "{s}");
        if let Some(out) = ctx.psql(&format!("SELECT count(*) FROM \"{}\".items", ctx.dataset)) {
            assert_eq!(out, vec!["0"]);
        }
        ctx.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merge_delete_insert() {
    let Some(ctx) = setup("sd_merge").await else { return };
    let p = ctx.pipeline("p_merge");
    p.run(merge_res(&[1, 2, 3], "a")).await.unwrap();
    p.run(merge_res(&[2, 4], "b")).await.unwrap();
    let rows = ctx.rows(&format!("SELECT id, name FROM \"{}\".items ORDER BY id", ctx.dataset)).await;
    assert_eq!(rows, vec![vec!["1", "a1"], vec!["2", "b2"], vec!["3", "a3"], vec!["4", "b4"]]);
    // children of replaced parents replaced through the root key
    assert_eq!(ctx.count("items__tags").await, 8);
    let tags = ctx
        .col(&format!(
            "SELECT string_agg(t.value, ',' ORDER BY t.value) FROM \"{0}\".items__tags t JOIN \"{0}\".items i ON i._dlt_id = t._dlt_parent_id WHERE i.id = 2",
            ctx.dataset
        ))
        .await;
    assert_eq!(tags, vec!["ba,bb"]);
    // duplicates in one load: dedup_sort keeps the highest sequence; hard_delete removes
    let mut seq = Column::new("seq", DataType::Bigint);
    seq.dedup_sort = Some(SortOrder::Desc);
    let res = Resource::from_values(
        "items",
        vec![
            json!({"id": 1, "name": "low", "seq": 1}),
            json!({"id": 1, "name": "high", "seq": 5}),
            json!({"id": 3, "name": "x", "seq": 1, "deleted": true}),
            json!({"id": 4, "name": "kept", "seq": 1, "deleted": false}),
        ],
    )
    .with_write_disposition(WriteDisposition::Merge)
    .with_primary_key(["id"])
    .with_column(seq)
    .with_column(Column::new("deleted", DataType::Bool).hint("hard_delete"));
    p.run(res).await.unwrap();
    let rows = ctx.rows(&format!("SELECT id, name FROM \"{}\".items ORDER BY id", ctx.dataset)).await;
    assert_eq!(rows, vec![vec!["1", "high"], vec!["2", "b2"], vec!["4", "kept"]]);
    // no child rows left without a parent
    let orphans = ctx
        .col(&format!(
            "SELECT count(*) FROM \"{0}\".items__tags t LEFT JOIN \"{0}\".items i ON i._dlt_id = t._dlt_root_id WHERE i._dlt_id IS NULL",
            ctx.dataset
        ))
        .await;
    assert_eq!(orphans, vec!["0"]);
    if let Some(out) = ctx.psql(&format!("SELECT id || ':' || name FROM \"{}\".items ORDER BY id", ctx.dataset)) {
        assert_eq!(out, vec!["1:high", "2:b2", "4:kept"]);
    }
    ctx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merge_key_and_no_keys() {
    let Some(ctx) = setup("sd_mkey").await else { return };
    let p = ctx.pipeline("p_mkey");
    let day = |rows: Vec<serde_json::Value>| {
        Resource::from_values("ev", rows).with_write_disposition(WriteDisposition::Merge).with_merge_key(["day"])
    };
    p.run(day(vec![json!({"day": 1, "v": 1}), json!({"day": 1, "v": 2}), json!({"day": 2, "v": 3})])).await.unwrap();
    p.run(day(vec![json!({"day": 1, "v": 9})])).await.unwrap();
    let rows = ctx.col(&format!("SELECT day || ':' || v FROM \"{}\".ev ORDER BY day, v", ctx.dataset)).await;
    assert_eq!(rows, vec!["1:9", "2:3"]);
    // no keys: append
    let nokey = |v: i64| Resource::from_values("nk", vec![json!({"v": v})]).with_write_disposition(WriteDisposition::Merge);
    p.run(nokey(1)).await.unwrap();
    p.run(nokey(2)).await.unwrap();
    assert_eq!(ctx.count("nk").await, 2);
    ctx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merge_upsert_and_insert_only() {
    let Some(ctx) = setup("sd_upsert").await else { return };
    let p = ctx.pipeline("p_upsert");
    let up =
        |rows: Vec<serde_json::Value>| Resource::from_values("u", rows).with_merge_strategy(MergeStrategy::Upsert).with_primary_key(["id"]);
    p.run(up(vec![json!({"id": 1, "v": "a", "l": [1, 2, 3]}), json!({"id": 2, "v": "b", "l": [1]})])).await.unwrap();
    p.run(up(vec![json!({"id": 1, "v": "a2", "l": [7]}), json!({"id": 3, "v": "c"}), json!({"id": 3, "v": "c2"})])).await.unwrap();
    let rows = ctx.col(&format!("SELECT id || ':' || v FROM \"{}\".u ORDER BY id", ctx.dataset)).await;
    // a key twice in one load: one of the rows is kept (no dedup_sort: either)
    assert_eq!(rows[..2], ["1:a2", "2:b"]);
    assert!(rows.len() == 3 && rows[2].starts_with("3:c"), "{rows:?}");
    // id 1 keeps only its new list element; id 2's untouched
    let l = ctx
        .col(&format!(
            "SELECT i.id || ':' || string_agg(t.value::text, ',' ORDER BY t._dlt_list_idx) FROM \"{0}\".u__l t JOIN \"{0}\".u i ON i._dlt_id = t._dlt_root_id GROUP BY i.id ORDER BY i.id",
            ctx.dataset
        ))
        .await;
    assert_eq!(l, vec!["1:7", "2:1"]);

    let io = |rows: Vec<serde_json::Value>| {
        Resource::from_values("io", rows).with_merge_strategy(MergeStrategy::InsertOnly).with_primary_key(["id"])
    };
    p.run(io(vec![json!({"id": 1, "v": 100}), json!({"id": 2, "v": 200})])).await.unwrap();
    p.run(io(vec![json!({"id": 1, "v": 999}), json!({"id": 3, "v": 300})])).await.unwrap();
    let rows = ctx.col(&format!("SELECT id || ':' || v FROM \"{}\".io ORDER BY id", ctx.dataset)).await;
    assert_eq!(rows, vec!["1:100", "2:200", "3:300"]);
    ctx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merge_scd2() {
    let Some(ctx) = setup("sd_scd2").await else { return };
    let p = ctx.pipeline("p_scd2");
    let dim = |rows: Vec<serde_json::Value>| Resource::from_values("dim", rows).with_scd2(Scd2Options::default());
    p.run(dim(vec![json!({"nk": 1, "c": "foo"}), json!({"nk": 2, "c": "bar"})])).await.unwrap();
    p.run(dim(vec![json!({"nk": 1, "c": "foo2"}), json!({"nk": 2, "c": "bar"})])).await.unwrap();
    let active = ctx.col(&format!("SELECT nk || ':' || c FROM \"{}\".dim WHERE _dlt_valid_to IS NULL ORDER BY nk", ctx.dataset)).await;
    assert_eq!(active, vec!["1:foo2", "2:bar"]);
    let retired = ctx.col(&format!("SELECT nk || ':' || c FROM \"{}\".dim WHERE _dlt_valid_to IS NOT NULL", ctx.dataset)).await;
    assert_eq!(retired, vec!["1:foo"]);
    // the retired row's valid_to equals the new version's valid_from
    let same = ctx
        .col(&format!(
            "SELECT count(*) FROM \"{0}\".dim a JOIN \"{0}\".dim b ON a._dlt_valid_to = b._dlt_valid_from WHERE a.c = 'foo' AND b.c = 'foo2'",
            ctx.dataset
        ))
        .await;
    assert_eq!(same, vec!["1"]);
    // a record missing from a full snapshot is retired
    p.run(dim(vec![json!({"nk": 1, "c": "foo2"})])).await.unwrap();
    let active = ctx.col(&format!("SELECT nk FROM \"{}\".dim WHERE _dlt_valid_to IS NULL ORDER BY nk", ctx.dataset)).await;
    assert_eq!(active, vec!["1"]);

    // custom validity column names and an active-record timestamp
    let opts = Scd2Options {
        validity_column_names: Some(("from_ts".into(), "to_ts".into())),
        active_record_timestamp: Some("9999-12-31T00:00:00Z".into()),
        ..Default::default()
    };
    let dim2 = |rows: Vec<serde_json::Value>| Resource::from_values("dim2", rows).with_scd2(opts.clone());
    p.run(dim2(vec![json!({"nk": 1, "c": "a"})])).await.unwrap();
    p.run(dim2(vec![json!({"nk": 1, "c": "b"})])).await.unwrap();
    let rows = ctx
        .col(&format!("SELECT c || ':' || (to_ts = '9999-12-31T00:00:00Z'::timestamptz) FROM \"{}\".dim2 ORDER BY c", ctx.dataset))
        .await;
    assert_eq!(rows, vec!["a:false", "b:true"]);
    ctx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schema_evolution_between_loads() {
    let Some(ctx) = setup("sd_evolve").await else { return };
    let p = ctx.pipeline("p_evolve");
    p.run(Resource::from_values("ev", vec![json!({"id": 1, "v": 10})])).await.unwrap();
    // new column, new child table, and a value of another type (variant column)
    p.run(Resource::from_values("ev", vec![json!({"id": 2, "v": "ten", "extra": true, "kids": [{"k": 1}]})])).await.unwrap();
    let cols = ctx
        .col(&format!(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = '{}' AND table_name = 'ev' ORDER BY ordinal_position",
            ctx.dataset
        ))
        .await;
    assert!(cols.contains(&"extra".to_string()) && cols.contains(&"v__v_text".to_string()), "{cols:?}");
    let rows = ctx.rows(&format!("SELECT id, v, v__v_text, extra FROM \"{}\".ev ORDER BY id", ctx.dataset)).await;
    assert_eq!(rows, vec![vec!["1", "10", "NULL", "NULL"], vec!["2", "NULL", "ten", "t"]]);
    assert_eq!(ctx.count("ev__kids").await, 1);
    ctx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rerun_of_a_package_is_idempotent() {
    let Some(ctx) = setup("sd_rerun").await else { return };
    let p = ctx.pipeline("p_rerun");
    p.run(Resource::from_values("app", items(&[1, 2], "a"))).await.unwrap();
    let info = p.run(merge_res(&[1, 2], "m")).await.unwrap();
    let load_id = info.packages.last().unwrap().load_id.clone();
    let before = (ctx.count("app").await, ctx.count("items").await, ctx.count("items__tags").await, ctx.count("_dlt_loads").await);
    common::reset_loaded_package(p.working_dir(), &load_id);
    let again = p.load_pending().await.unwrap();
    assert_eq!(again.len(), 1);
    let after = (ctx.count("app").await, ctx.count("items").await, ctx.count("items__tags").await, ctx.count("_dlt_loads").await);
    assert_eq!(before, after);
    // and an append package
    let info = p.run(Resource::from_values("app", items(&[3], "b"))).await.unwrap();
    common::reset_loaded_package(p.working_dir(), &info.packages.last().unwrap().load_id);
    p.load_pending().await.unwrap();
    assert_eq!(ctx.count("app").await, 3);
    ctx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_job_leaves_final_tables_unchanged() {
    let Some(ctx) = setup("sd_fail").await else { return };
    for wd in [WriteDisposition::Replace, WriteDisposition::Merge] {
        let name = format!("p_fail_{wd}");
        let p = ctx.pipeline(&name);
        let table = format!("t_{wd}");
        let res = |rows: Vec<serde_json::Value>| {
            Resource::from_values(&table, rows)
                .with_write_disposition(wd)
                .with_primary_key(["id"])
                .with_column(Column::new("small", DataType::Bigint).with_precision(16))
        };
        p.run(res(vec![json!({"id": 1, "small": 1, "l": [1]}), json!({"id": 2, "small": 2, "l": [2]})])).await.unwrap();
        // 100000 does not fit smallint: the job fails, the package aborts
        let err = p.run(res(vec![json!({"id": 1, "small": 5, "l": [9]}), json!({"id": 3, "small": 100000})])).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("small") && msg.contains("100000") && msg.contains(&table), "{msg}");
        let rows = ctx.col(&format!("SELECT id || ':' || small FROM \"{}\".\"{table}\" ORDER BY id", ctx.dataset)).await;
        assert_eq!(rows, vec!["1:1", "2:2"], "{wd}");
        assert_eq!(ctx.count(&format!("{table}__l")).await, 2, "{wd}");
    }
    ctx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_connection_in_followup_leaves_final_tables_unchanged() {
    let Some(ctx) = setup("sd_kill").await else { return };
    let mut cfg = Config::empty();
    cfg.set_explicit("load.raise_on_max_retries", toml::Value::Integer(2));
    for (wd, strategy) in [(WriteDisposition::Merge, None), (WriteDisposition::Replace, Some(ReplaceStrategy::StagingOptimized))] {
        let name = format!("p_kill_{wd}");
        let table = format!("k_{wd}");
        let res =
            |ids: &[i64], tag: &str| Resource::from_values(&table, items(ids, tag)).with_write_disposition(wd).with_primary_key(["id"]);
        let mut b = ctx.builder();
        if let Some(s) = strategy {
            b = b.replace_strategy(s);
        }
        let p = ctx.pipeline_with(&name, b.clone().build().unwrap(), cfg.clone());
        p.run(res(&[1, 2], "a")).await.unwrap();
        // the followup transaction loses its connection after its first statement
        let faulty = ctx.pipeline_with(&name, b.clone().fault_after_statements(1).build().unwrap(), cfg.clone());
        let err = faulty.run(res(&[2, 3], "b")).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        let rows = ctx.col(&format!("SELECT id || ':' || name FROM \"{}\".\"{table}\" ORDER BY id", ctx.dataset)).await;
        assert_eq!(rows, vec!["1:a1", "2:a2"], "{wd}");
        assert_eq!(ctx.count(&format!("{table}__tags")).await, 4, "{wd}");
        // the pending package finishes on the next run
        p.load_pending().await.unwrap();
        let rows = ctx.col(&format!("SELECT id || ':' || name FROM \"{}\".\"{table}\" ORDER BY id", ctx.dataset)).await;
        let expected: Vec<&str> = if wd == WriteDisposition::Merge { vec!["1:a1", "2:b2", "3:b3"] } else { vec!["2:b2", "3:b3"] };
        assert_eq!(rows, expected, "{wd}");
    }
    ctx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_pipelines_on_one_dataset() {
    let Some(ctx) = setup("sd_conc").await else { return };
    let ctx = std::sync::Arc::new(ctx);
    let mut handles = Vec::new();
    for w in 0..3i64 {
        let ctx = ctx.clone();
        handles.push(tokio::spawn(async move {
            let p = ctx.pipeline(&format!("p_conc_{w}"));
            for round in 0..4i64 {
                let ids: Vec<i64> = (0..50).map(|i| w * 1000 + i).collect();
                let rows: Vec<serde_json::Value> = ids.iter().map(|i| json!({"id": i, "round": round, "w": w, "l": [round, w]})).collect();
                p.run(Resource::from_values("shared", rows).with_write_disposition(WriteDisposition::Merge).with_primary_key(["id"]))
                    .await
                    .unwrap();
                p.run(Resource::from_values(&format!("rep_{w}"), items(&[round], "r")).with_write_disposition(WriteDisposition::Replace))
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(ctx.count("shared").await, 150);
    let rounds = ctx.col(&format!("SELECT DISTINCT round FROM \"{}\".shared", ctx.dataset)).await;
    assert_eq!(rounds, vec!["3"]);
    assert_eq!(ctx.count("shared__l").await, 300);
    for w in 0..3 {
        assert_eq!(ctx.count(&format!("rep_{w}")).await, 1);
    }
    let ctx = std::sync::Arc::try_unwrap(ctx).ok().unwrap();
    ctx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staging_dataset_names_and_truncation() {
    let Some(mut ctx) = setup("sd_stg").await else { return };
    // default layout: <dataset>_staging, holding the last load's rows of the merged tables
    let p = ctx.pipeline("p_stg");
    p.run(vec![
        merge_res(&[1, 2], "a"),
        Resource::from_values("other", vec![json!({"id": 1})]).with_write_disposition(WriteDisposition::Merge).with_primary_key(["id"]),
    ])
    .await
    .unwrap();
    let stg = ctx.staging();
    assert_eq!(ctx.count_in(&stg, "items").await, 2);
    assert_eq!(ctx.count_in(&stg, "other").await, 1);
    assert!(ctx.count_in(&stg, "_dlt_version").await >= 1);
    // only tables of the load are truncated at its start
    p.run(merge_res(&[3], "b")).await.unwrap();
    assert_eq!(ctx.count_in(&stg, "items").await, 1);
    assert_eq!(ctx.count_in(&stg, "other").await, 1);

    // `[load] truncate_staging_dataset = true` empties them after the load
    let mut cfg = Config::empty();
    cfg.set_explicit("load.truncate_staging_dataset", toml::Value::Boolean(true));
    let p2 = ctx.pipeline_with("p_stg", ctx.builder().build().unwrap(), cfg);
    p2.run(merge_res(&[4], "c")).await.unwrap();
    assert_eq!(ctx.count_in(&stg, "items").await, 0);
    assert_eq!(ctx.count("items").await, 4);

    // a pattern
    let dest = ctx.builder().staging_dataset_name_layout("staging_%s").build().unwrap();
    assert_eq!(dest.staging_dataset_name(&ctx.dataset).unwrap(), format!("staging_{}", ctx.dataset));
    let p3 = ctx.pipeline_with("p_stg3", dest, Config::empty());
    p3.run(merge_res(&[5], "d")).await.unwrap();
    ctx.extra_schemas.push(format!("staging_{}", ctx.dataset));
    assert_eq!(ctx.count_in(&format!("staging_{}", ctx.dataset), "items").await, 1);

    // a fixed name, from config as dlt writes it
    let fixed = format!("fixed_{}", ctx.dataset);
    let env = std::collections::HashMap::from([
        ("DESTINATION__POSTGRES__CREDENTIALS".to_string(), ctx.url.clone()),
        ("DESTINATION__POSTGRES__STAGING_DATASET_NAME_LAYOUT".to_string(), fixed.clone()),
    ]);
    let cfg = Config::load(ctx.dir.path(), &env).unwrap();
    let dest = stevedore_postgres::PostgresBuilder::from_config(&cfg).unwrap().build().unwrap();
    assert_eq!(dest.staging_dataset_name("anything").unwrap(), fixed);
    let p4 = ctx.pipeline_with("p_stg4", dest, Config::empty());
    p4.run(merge_res(&[6], "e")).await.unwrap();
    ctx.extra_schemas.push(fixed.clone());
    assert_eq!(ctx.count_in(&fixed, "items").await, 1);
    assert_eq!(ctx.count("items").await, 6);

    // equal to the dataset: refused before anything is written
    let dest = ctx.builder().staging_dataset_name_layout(&ctx.dataset).build().unwrap();
    let e = dest.staging_dataset_name(&ctx.dataset).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let p5 = ctx.pipeline_with("p_stg5", dest, Config::empty());
    assert!(p5.run(merge_res(&[7], "f")).await.is_err());
    assert_eq!(ctx.count("items").await, 6);
    ctx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_credentials_and_unreachable_server_fail_fast() {
    let Some(ctx) = setup("sd_auth").await else { return };
    let t0 = std::time::Instant::now();
    let mut url = url_parts(&ctx.url);
    url.user = "no_such_user_x".into();
    url.password = "hunter2secret".into();
    let dest = stevedore_postgres::Postgres::builder().connection_string(&url.render()).unwrap().build().unwrap();
    let p = ctx.pipeline_with("p_auth", dest, Config::empty());
    let e = p.run(Resource::from_values("x", vec![json!({"a": 1})])).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(!e.to_string().contains("hunter2secret"), "{e}");
    // nothing listens on port 1
    let dest = stevedore_postgres::Postgres::builder()
        .connection_string("postgresql://u:hunter2secret@127.0.0.1:1/db?connect_timeout=3")
        .unwrap()
        .build()
        .unwrap();
    let p = ctx.pipeline_with("p_unreach", dest, Config::empty());
    let e = p.run(Resource::from_values("x", vec![json!({"a": 1})])).await.unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert!(!e.to_string().contains("hunter2secret") && !format!("{e:?}").contains("hunter2secret"), "{e}");
    assert!(t0.elapsed() < std::time::Duration::from_secs(10), "took {:?}", t0.elapsed());
    ctx.cleanup().await;
}

struct UrlParts {
    user: String,
    password: String,
    rest: String,
}

impl UrlParts {
    fn render(&self) -> String {
        format!("postgresql://{}:{}@{}", self.user, self.password, self.rest)
    }
}

fn url_parts(url: &str) -> UrlParts {
    let body = url.split_once("://").map(|x| x.1).unwrap_or(url);
    let (cred, rest) = body.rsplit_once('@').unwrap_or(("", body));
    let (user, password) = cred.split_once(':').unwrap_or((cred, ""));
    UrlParts { user: user.into(), password: password.into(), rest: rest.into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_identifiers_are_quoted() {
    let Some(mut ctx) = setup("sd_inject").await else { return };
    // table and column names go through the naming convention but keep keywords
    let p = ctx.pipeline("p_inject");
    let rows = vec![json!({
        "select": 1, "from": "x", "a\"b; DROP TABLE t; --": "q", "ünï côde": "u", "user": "me", "order by": 2
    })];
    p.run(Resource::from_values("table", rows.clone()).with_write_disposition(WriteDisposition::Merge).with_primary_key(["select"]))
        .await
        .unwrap();
    p.run(Resource::from_values("table", rows).with_write_disposition(WriteDisposition::Merge).with_primary_key(["select"])).await.unwrap();
    assert_eq!(ctx.count("table").await, 1);
    let got = ctx.rows(&format!("SELECT \"select\", \"from\", \"user\" FROM \"{}\".\"table\"", ctx.dataset)).await;
    assert_eq!(got, vec![vec!["1", "x", "me"]]);
    // a dataset name with quotes, spaces, unicode and SQL, not normalized
    let raw = format!("{} \"; DROP SCHEMA public; -- ü", ctx.dataset);
    let dest = ctx.builder().enable_dataset_name_normalization(false).build().unwrap();
    let p = stevedore_core::pipeline::Pipeline::builder("p_inject2")
        .destination(std::sync::Arc::new(dest))
        .dataset_name(&raw)
        .pipelines_dir(ctx.pipelines_dir())
        .config(Config::empty())
        .build()
        .unwrap();
    ctx.extra_schemas.push(raw.clone());
    ctx.extra_schemas.push(format!("{raw}_staging"));
    p.run(Resource::from_values("t", vec![json!({"id": 1})]).with_write_disposition(WriteDisposition::Replace)).await.unwrap();
    let q = raw.replace('"', "\"\"");
    assert_eq!(ctx.col(&format!("SELECT count(*) FROM \"{q}\".t")).await, vec!["1"]);
    assert_eq!(ctx.col("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'public'").await, vec!["1"]);
    ctx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_types_in_every_file_format() {
    let Some(ctx) = setup("sd_types").await else { return };
    for fmt in [FileFormat::Parquet, FileFormat::Jsonl, FileFormat::Csv, FileFormat::InsertValues] {
        let table = format!("types_{fmt}");
        let p = stevedore_core::pipeline::Pipeline::builder(&format!("p_types_{fmt}"))
            .destination(ctx.destination())
            .dataset_name(&ctx.dataset)
            .pipelines_dir(ctx.pipelines_dir())
            .config(Config::empty())
            .loader_file_format(fmt)
            .build()
            .unwrap();
        let mut dec = Column::new("dec", DataType::Decimal);
        dec.precision = Some(10);
        dec.scale = Some(3);
        let mut res = Resource::from_values(
            &table,
            vec![
                json!({"t": "héllo, \"q\"", "i": -5, "f": 1.5, "b": true, "ts": "2024-04-14T08:32:01.123456+00:00",
                       "d": "2024-04-14", "tm": "08:32:01", "dec": "12.345", "j": {"a": [1, null]}, "empty": ""}),
                json!({"t": null, "i": 9007199254740993i64, "f": -0.25, "b": false}),
            ],
        )
        .with_column(Column::new("d", DataType::Date))
        .with_column(Column::new("tm", DataType::Time))
        .with_column(dec)
        .with_column(Column::new("j", DataType::Json));
        if fmt != FileFormat::Csv {
            res = res.with_column(Column::new("bin", DataType::Binary));
        }
        p.run(res).await.unwrap();
        let rows = ctx
            .rows(&format!(
                "SELECT t, i, f, b, ts AT TIME ZONE 'UTC', d, tm, dec, j::text, empty FROM \"{}\".\"{table}\" ORDER BY i",
                ctx.dataset
            ))
            .await;
        assert_eq!(
            rows[0],
            vec![
                "héllo, \"q\"",
                "-5",
                "1.5",
                "t",
                "2024-04-14 08:32:01.123456",
                "2024-04-14",
                "08:32:01",
                "12.345",
                "{\"a\": [1, null]}",
                ""
            ],
            "{fmt}"
        );
        assert_eq!(rows[1][..4], ["NULL", "9007199254740993", "-0.25", "f"], "{fmt}");
        assert_eq!(rows[1][9], "NULL", "{fmt}");
        if fmt != FileFormat::Csv {
            let bin = ctx.col(&format!("SELECT count(*) FROM \"{}\".\"{table}\" WHERE bin IS NULL", ctx.dataset)).await;
            assert_eq!(bin, vec!["2"], "{fmt}");
        }
    }
    ctx.cleanup().await;
}

/// Parquet job files stay on this machine and are read back by COPY: they are written
/// without snappy, and load the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parquet_job_files_are_written_uncompressed() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let Some(ctx) = setup("sd_uncompressed").await else { return };
    let p = ctx.pipeline("p_uncompressed");
    p.run(Resource::from_values("items", items(&[1, 2, 3], "x"))).await.unwrap();
    assert_eq!(ctx.count("items").await, 3);
    assert_eq!(ctx.count("items__tags").await, 6);
    let mut files = Vec::new();
    let mut stack = vec![ctx.pipelines_dir()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "parquet") {
                files.push(path);
            }
        }
    }
    let tables: std::collections::BTreeSet<String> =
        files.iter().map(|f| f.file_name().unwrap().to_string_lossy().split('.').next().unwrap().to_string()).collect();
    assert!(tables.contains("items") && tables.contains("items__tags"), "{files:?}");
    for f in &files {
        let reader = SerializedFileReader::new(std::fs::File::open(f).unwrap()).unwrap();
        let meta = reader.metadata();
        assert!(meta.num_row_groups() > 0, "{}", f.display());
        for rg in meta.row_groups() {
            for c in rg.columns() {
                assert_eq!(c.compression(), parquet::basic::Compression::UNCOMPRESSED, "{} {}", f.display(), c.column_path());
            }
        }
    }
    ctx.cleanup().await;
}

/// New append tables are created without their `UNIQUE` constraints, which are built once
/// the data jobs finished and before the load marker; a constraint left pending (by a load
/// that stopped in between) is built by the next load of the dataset; duplicates stop that
/// load with the table named, and the same load succeeds once they are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unique_constraints_of_new_tables_are_built_after_the_data() {
    let Some(ctx) = setup("sd_defer").await else { return };
    let ds = ctx.dataset.clone();
    let unique = |table: &str| {
        format!(
            "SELECT constraint_name FROM information_schema.table_constraints WHERE table_schema = '{ds}' AND table_name = '{table}' AND constraint_type = 'UNIQUE'"
        )
    };
    let p = ctx.pipeline("p_defer");
    p.run(Resource::from_values("items", items(&[1, 2, 3], "x"))).await.unwrap();
    // the names an inline UNIQUE gets, as dlt creates them
    assert_eq!(ctx.col(&unique("items")).await, vec!["items__dlt_id_key"]);
    assert_eq!(ctx.col(&unique("items__tags")).await, vec!["items__tags__dlt_id_key"]);
    assert_eq!(ctx.count("_stevedore_pending_indexes").await, 0);

    // a constraint left pending is built by the next load, and duplicates stop it
    ctx.rows(&format!(
        "ALTER TABLE \"{ds}\".items DROP CONSTRAINT items__dlt_id_key; \
         INSERT INTO \"{ds}\"._stevedore_pending_indexes VALUES ('items', '_dlt_id'); \
         INSERT INTO \"{ds}\".items (id, name, _dlt_load_id, _dlt_id) SELECT id, name, _dlt_load_id, _dlt_id FROM \"{ds}\".items WHERE id = 1"
    ))
    .await;
    let err = p.run(Resource::from_values("other", vec![json!({"id": 1})])).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("items") && msg.contains("_dlt_id"), "{msg}");
    assert_eq!(ctx.count("_dlt_loads").await, 1, "no load marker for the stopped load");
    assert_eq!(ctx.col(&unique("items")).await, Vec::<String>::new());
    ctx.rows(&format!("DELETE FROM \"{ds}\".items WHERE ctid = (SELECT max(ctid) FROM \"{ds}\".items WHERE id = 1)")).await;
    let loaded = p.load_pending().await.unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(ctx.col(&unique("items")).await, vec!["items__dlt_id_key"]);
    assert_eq!(ctx.col(&unique("other")).await, vec!["other__dlt_id_key"]);
    assert_eq!(ctx.count("_stevedore_pending_indexes").await, 0);
    assert_eq!((ctx.count("items").await, ctx.count("other").await, ctx.count("_dlt_loads").await), (3, 1, 2));
    if let Some(out) = ctx.psql(&unique("other")) {
        assert_eq!(out, vec!["other__dlt_id_key"]);
    }

    // two pipelines appending to one new table at once: each constraint is built once
    let rows = |tag: &str| (0..2000).map(|i| json!({"id": i, "tag": tag, "l": [i, i + 1]})).collect::<Vec<_>>();
    let (pa, pb) = (ctx.pipeline("p_defer_a"), ctx.pipeline("p_defer_b"));
    let (a, b) = tokio::join!(pa.run(Resource::from_values("both", rows("a"))), pb.run(Resource::from_values("both", rows("b"))));
    a.unwrap();
    b.unwrap();
    assert_eq!(ctx.col(&unique("both")).await, vec!["both__dlt_id_key"]);
    assert_eq!(ctx.col(&unique("both__l")).await, vec!["both__l__dlt_id_key"]);
    assert_eq!((ctx.count("both").await, ctx.count("both__l").await), (4000, 8000));
    assert_eq!(ctx.count("_stevedore_pending_indexes").await, 0);

    // create_indexes = false: no constraint and nothing pending
    let p = ctx.pipeline_with("p_defer_off", ctx.builder().create_indexes(false).build().unwrap(), Config::empty());
    p.run(Resource::from_values("plain", vec![json!({"id": 1})])).await.unwrap();
    assert_eq!(ctx.col(&unique("plain")).await, Vec::<String>::new());
    assert_eq!(ctx.count("_stevedore_pending_indexes").await, 0);
    ctx.cleanup().await;
}

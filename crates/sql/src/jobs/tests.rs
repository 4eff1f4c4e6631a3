use super::*;
use crate::dialect::PostgresDialect;
use stevedore_core::schema::{Column, DataType, Schema, Table};

fn schema(with_nested: bool) -> Schema {
    let mut s = Schema::new("s");
    let mut t = Table::new("items");
    t.write_disposition = Some(stevedore_core::schema::WriteDisposition::Merge);
    t.add_column(Column::new("id", DataType::Bigint).not_null().hint("primary_key"));
    t.add_column(Column::new("name", DataType::Text));
    t.add_column(Column::new("_dlt_load_id", DataType::Text).not_null());
    t.add_column(Column::new("_dlt_id", DataType::Text).not_null().hint("unique").hint("row_key"));
    s.update_table(t).unwrap();
    if with_nested {
        let mut n = Table::nested("items__tags", "items");
        n.add_column(Column::new("value", DataType::Text));
        n.add_column(Column::new("_dlt_root_id", DataType::Text).not_null().hint("root_key"));
        n.add_column(Column::new("_dlt_parent_id", DataType::Text).not_null().hint("parent_key"));
        n.add_column(Column::new("_dlt_list_idx", DataType::Bigint).not_null());
        n.add_column(Column::new("_dlt_id", DataType::Text).not_null().hint("unique").hint("row_key"));
        s.update_table(n).unwrap();
    }
    s
}

fn ctx() -> MergeContext {
    let ts = chrono::DateTime::parse_from_rfc3339("2024-04-14T08:32:00Z").unwrap().with_timezone(&Utc);
    MergeContext { uniq: "u1".into(), boundary: ts }
}

const D: PostgresDialect = PostgresDialect { create_indexes: true };

fn names() -> Names<'static> {
    Names::new(&D, "ds", "ds_staging")
}

#[test]
fn delete_insert_single_table_with_pk() {
    let s = schema(false);
    let chain = TableChain::from_schema(&s, "items").unwrap();
    let sql = merge_sql(&names(), &chain, MergeStrategy::DeleteInsert, &ctx()).unwrap();
    assert_eq!(
        sql,
        vec![
            r#"DELETE FROM "ds"."items" AS d WHERE EXISTS (SELECT 1 FROM "ds_staging"."items" AS s WHERE d."id" = s."id")"#,
            r#"INSERT INTO "ds"."items"("id", "name", "_dlt_load_id", "_dlt_id") SELECT "id", "name", "_dlt_load_id", "_dlt_id" FROM (SELECT ROW_NUMBER() OVER (partition BY "id" ORDER BY (SELECT NULL)) AS _dlt_dedup_rn, "id", "name", "_dlt_load_id", "_dlt_id" FROM "ds_staging"."items") AS _dlt_dedup_numbered WHERE _dlt_dedup_rn = 1 AND (1 = 1)"#,
        ]
    );
}

#[test]
fn delete_insert_pk_and_merge_key_dedup_sort_hard_delete() {
    let mut s = schema(false);
    let t = s.tables.get_mut("items").unwrap();
    t.add_column(Column::new("day", DataType::Date).hint("merge_key"));
    let mut seq = Column::new("seq", DataType::Bigint);
    seq.dedup_sort = Some(SortOrder::Desc);
    t.add_column(seq);
    t.add_column(Column::new("deleted", DataType::Bool).hint("hard_delete"));
    let chain = TableChain::from_schema(&s, "items").unwrap();
    let sql = merge_sql(&names(), &chain, MergeStrategy::DeleteInsert, &ctx()).unwrap();
    assert_eq!(
        sql[0],
        r#"DELETE FROM "ds"."items" AS d WHERE EXISTS (SELECT 1 FROM "ds_staging"."items" AS s WHERE d."id" = s."id" OR d."day" = s."day")"#
    );
    assert!(sql[1].contains(r#"ORDER BY "seq" DESC"#), "{}", sql[1]);
    assert!(sql[1].ends_with(r#"WHERE _dlt_dedup_rn = 1 AND ("deleted" IS NULL OR "deleted" = FALSE)"#), "{}", sql[1]);
}

#[test]
fn delete_insert_no_keys_appends() {
    let mut s = schema(false);
    s.tables.get_mut("items").unwrap().columns.get_mut("id").unwrap().hints.primary_key = false;
    let chain = TableChain::from_schema(&s, "items").unwrap();
    let sql = merge_sql(&names(), &chain, MergeStrategy::DeleteInsert, &ctx()).unwrap();
    assert_eq!(
        sql,
        vec![
            r#"INSERT INTO "ds"."items"("id", "name", "_dlt_load_id", "_dlt_id") SELECT "id", "name", "_dlt_load_id", "_dlt_id" FROM "ds_staging"."items" WHERE 1 = 1"#
        ]
    );
}

#[test]
fn delete_insert_nested_uses_root_key_and_temp_tables() {
    let s = schema(true);
    let chain = TableChain::from_schema(&s, "items").unwrap();
    let sql = merge_sql(&names(), &chain, MergeStrategy::DeleteInsert, &ctx()).unwrap();
    assert_eq!(
        sql,
        vec![
            r#"CREATE TEMPORARY TABLE "items_delete_u1" ON COMMIT DROP AS SELECT d."_dlt_id" FROM "ds"."items" AS d WHERE EXISTS (SELECT 1 FROM "ds_staging"."items" AS s WHERE d."id" = s."id")"#,
            r#"DELETE FROM "ds"."items__tags" WHERE "_dlt_root_id" IN (SELECT * FROM "items_delete_u1")"#,
            r#"DELETE FROM "ds"."items" WHERE "_dlt_id" IN (SELECT * FROM "items_delete_u1")"#,
            r#"CREATE TEMPORARY TABLE "items_insert_u1" ON COMMIT DROP AS SELECT "_dlt_id" FROM (SELECT ROW_NUMBER() OVER (partition BY "id" ORDER BY (SELECT NULL)) AS _dlt_dedup_rn, "id", "name", "_dlt_load_id", "_dlt_id" FROM "ds_staging"."items") AS _dlt_dedup_numbered WHERE _dlt_dedup_rn = 1 AND (1 = 1)"#,
            r#"INSERT INTO "ds"."items"("id", "name", "_dlt_load_id", "_dlt_id") SELECT "id", "name", "_dlt_load_id", "_dlt_id" FROM "ds_staging"."items" WHERE "_dlt_id" IN (SELECT * FROM "items_insert_u1")"#,
            r#"INSERT INTO "ds"."items__tags"("value", "_dlt_root_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id") SELECT "value", "_dlt_root_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id" FROM "ds_staging"."items__tags" WHERE "_dlt_root_id" IN (SELECT * FROM "items_insert_u1")"#,
        ]
    );
}

#[test]
fn temp_names_are_shortened() {
    let n = names();
    let long = "a".repeat(70);
    let t = temp_name(&n, &long, "delete", "0123456789abcdef0123456789abcdef");
    assert_eq!(t.chars().count(), 63 + 2);
}

#[test]
fn upsert_and_insert_only() {
    let s = schema(true);
    let chain = TableChain::from_schema(&s, "items").unwrap();
    let sql = merge_sql(&names(), &chain, MergeStrategy::Upsert, &ctx()).unwrap();
    assert_eq!(sql.len(), 3);
    assert!(
        sql[0]
            .starts_with(r#"MERGE INTO "ds"."items" AS d USING (SELECT "id", "name", "_dlt_load_id", "_dlt_id" FROM (SELECT ROW_NUMBER()"#),
        "{}",
        sql[0]
    );
    assert!(sql[0].ends_with(r#" AS s ON d."id" = s."id" WHEN MATCHED THEN UPDATE SET "id" = s."id", "name" = s."name", "_dlt_load_id" = s."_dlt_load_id", "_dlt_id" = s."_dlt_id" WHEN NOT MATCHED AND (1 = 1) THEN INSERT ("id", "name", "_dlt_load_id", "_dlt_id") VALUES (s."id", s."name", s."_dlt_load_id", s."_dlt_id")"#), "{}", sql[0]);
    assert_eq!(
        sql[1],
        r#"MERGE INTO "ds"."items__tags" AS d USING "ds_staging"."items__tags" AS s ON d."_dlt_id" = s."_dlt_id" WHEN MATCHED THEN UPDATE SET "value" = s."value", "_dlt_root_id" = s."_dlt_root_id", "_dlt_parent_id" = s."_dlt_parent_id", "_dlt_list_idx" = s."_dlt_list_idx", "_dlt_id" = s."_dlt_id" WHEN NOT MATCHED THEN INSERT ("value", "_dlt_root_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id") VALUES (s."value", s."_dlt_root_id", s."_dlt_parent_id", s."_dlt_list_idx", s."_dlt_id")"#
    );
    assert_eq!(
        sql[2],
        r#"DELETE FROM "ds"."items__tags" WHERE "_dlt_root_id" IN (SELECT "_dlt_id" FROM "ds_staging"."items") AND "_dlt_id" NOT IN (SELECT "_dlt_id" FROM "ds_staging"."items__tags")"#
    );
    let sql = merge_sql(&names(), &chain, MergeStrategy::InsertOnly, &ctx()).unwrap();
    assert_eq!(sql.len(), 2);
    assert!(sql[0].contains(r#"WHEN NOT MATCHED AND (1 = 1) THEN INSERT"#) && !sql[0].contains("WHEN MATCHED THEN"));
    assert_eq!(
        sql[1],
        r#"MERGE INTO "ds"."items__tags" AS d USING "ds_staging"."items__tags" AS s ON d."_dlt_id" = s."_dlt_id" WHEN NOT MATCHED THEN INSERT ("value", "_dlt_root_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id") VALUES (s."value", s."_dlt_root_id", s."_dlt_parent_id", s."_dlt_list_idx", s."_dlt_id")"#
    );
}

#[test]
fn upsert_hard_delete_and_missing_pk() {
    let mut s = schema(false);
    s.tables.get_mut("items").unwrap().add_column(Column::new("gone", DataType::Timestamp).hint("hard_delete"));
    let chain = TableChain::from_schema(&s, "items").unwrap();
    let sql = merge_sql(&names(), &chain, MergeStrategy::Upsert, &ctx()).unwrap();
    assert!(sql[0].contains(r#"WHEN MATCHED AND (s."gone" IS NOT NULL) THEN DELETE WHEN MATCHED THEN UPDATE"#), "{}", sql[0]);
    assert!(sql[0].contains(r#"WHEN NOT MATCHED AND (s."gone" IS NULL) THEN INSERT"#), "{}", sql[0]);
    s.tables.get_mut("items").unwrap().columns.get_mut("id").unwrap().hints.primary_key = false;
    let chain = TableChain::from_schema(&s, "items").unwrap();
    let e = merge_sql(&names(), &chain, MergeStrategy::Upsert, &ctx()).unwrap_err();
    assert!(e.to_string().contains("needs a primary key"), "{e}");
}

fn scd2_schema(active: Option<&str>) -> Schema {
    let mut s = schema(true);
    let t = s.tables.get_mut("items").unwrap();
    t.columns.get_mut("id").unwrap().hints.primary_key = false;
    let mut f = Column::new("_dlt_valid_from", DataType::Timestamp);
    f.extra.insert("x-valid-from".into(), serde_json::json!(true));
    let mut to = Column::new("_dlt_valid_to", DataType::Timestamp);
    to.extra.insert("x-valid-to".into(), serde_json::json!(true));
    t.add_column(f);
    t.add_column(to);
    t.columns.get_mut("_dlt_id").unwrap().extra.insert("x-row-version".into(), serde_json::json!(true));
    if let Some(a) = active {
        t.extra.insert("x-active-record-timestamp".into(), serde_json::json!(a));
    }
    s
}

#[test]
fn scd2_retire_and_insert() {
    let s = scd2_schema(None);
    let chain = TableChain::from_schema(&s, "items").unwrap();
    let sql = merge_sql(&names(), &chain, MergeStrategy::Scd2, &ctx()).unwrap();
    let b = "CAST('2024-04-14T08:32:00.000000+00:00' AS TIMESTAMP WITH TIME ZONE)";
    assert_eq!(
        sql,
        vec![
            format!(r#"UPDATE "ds"."items" SET "_dlt_valid_to" = {b} WHERE "_dlt_valid_to" IS NULL AND "_dlt_id" NOT IN (SELECT "_dlt_id" FROM "ds_staging"."items")"#),
            format!(r#"INSERT INTO "ds"."items"("id", "name", "_dlt_load_id", "_dlt_id", "_dlt_valid_from", "_dlt_valid_to") SELECT "id", "name", "_dlt_load_id", "_dlt_id", {b} AS "_dlt_valid_from", NULL AS "_dlt_valid_to" FROM "ds_staging"."items" AS s WHERE "_dlt_id" NOT IN (SELECT "_dlt_id" FROM "ds"."items" WHERE "_dlt_valid_to" IS NULL)"#),
            r#"INSERT INTO "ds"."items__tags"("value", "_dlt_root_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id") SELECT "value", "_dlt_root_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id" FROM "ds_staging"."items__tags" WHERE "_dlt_id" NOT IN (SELECT "_dlt_id" FROM "ds"."items__tags")"#.to_string(),
        ]
    );
}

#[test]
fn scd2_active_literal_and_merge_key() {
    let mut s = scd2_schema(Some("9999-12-31T00:00:00Z"));
    let t = s.tables.get_mut("items").unwrap();
    t.columns.get_mut("id").unwrap().hints.merge_key = true;
    t.columns.get_mut("name").unwrap().hints.merge_key = true;
    let chain = TableChain::from_schema(&s, "items").unwrap();
    let sql = merge_sql(&names(), &chain, MergeStrategy::Scd2, &ctx()).unwrap();
    let a = "CAST('9999-12-31T00:00:00.000000+00:00' AS TIMESTAMP WITH TIME ZONE)";
    assert!(sql[0].contains(&format!(r#"WHERE "_dlt_valid_to" = {a} AND"#)), "{}", sql[0]);
    assert!(sql[0].ends_with(r#" AND CONCAT("id", "name") IN (SELECT CONCAT("id", "name") FROM "ds_staging"."items")"#), "{}", sql[0]);
    assert!(sql[1].contains(&format!("{a} AS \"_dlt_valid_to\"")), "{}", sql[1]);
}

#[test]
fn replace_strategies() {
    let s = schema(true);
    let chain = TableChain::from_schema(&s, "items").unwrap();
    let sql = replace_sql(&names(), &chain, ReplaceStrategy::InsertFromStaging).unwrap();
    assert_eq!(
        sql,
        vec![
            r#"TRUNCATE TABLE "ds"."items""#,
            r#"INSERT INTO "ds"."items"("id", "name", "_dlt_load_id", "_dlt_id") SELECT "id", "name", "_dlt_load_id", "_dlt_id" FROM "ds_staging"."items""#,
            r#"TRUNCATE TABLE "ds"."items__tags""#,
            r#"INSERT INTO "ds"."items__tags"("value", "_dlt_root_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id") SELECT "value", "_dlt_root_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id" FROM "ds_staging"."items__tags""#,
        ]
    );
    let sql = replace_sql(&names(), &chain, ReplaceStrategy::StagingOptimized).unwrap();
    assert_eq!(
        sql[..3],
        [
            r#"DROP TABLE IF EXISTS "ds"."items""#,
            r#"ALTER TABLE "ds_staging"."items" SET SCHEMA "ds""#,
            r#"CREATE TABLE "ds_staging"."items" (LIKE "ds"."items" INCLUDING ALL)"#,
        ]
    );
}

#[test]
fn hostile_dataset_and_table_names_are_quoted() {
    let mut s = Schema::new("s");
    let mut t = Table::new("sel\"ect");
    t.add_column(Column::new("x\"y", DataType::Text));
    s.update_table(t).unwrap();
    let n = Names::new(&D, "d\"s", "d\"s_staging");
    let chain = TableChain::from_schema(&s, "sel\"ect").unwrap();
    let sql = replace_sql(&n, &chain, ReplaceStrategy::InsertFromStaging).unwrap();
    assert_eq!(sql[1], r#"INSERT INTO "d""s"."sel""ect"("x""y") SELECT "x""y" FROM "d""s_staging"."sel""ect""#);
}

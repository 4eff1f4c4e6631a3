//! The upload half of a `PUT` to a Snowflake internal stage on S3 and on Azure, run against the
//! local emulators (moto, azurite) with `PUT` answers shaped as Snowflake sends them on AWS and
//! Azure accounts (fakesnow only answers with its own presigned URL). Each object is read back
//! by the vendors' Python clients (boto3, azure-storage-blob) and decrypted by
//! snowflake-connector-python's own envelope code, not by stevedore's.
//!
//! What stays untested locally: the virtual-host URL of a real bucket (the test rewrites it to
//! the emulator's path-style URL; the URLs themselves are golden strings in `stage.rs`), and
//! that moto checks the SigV4 signature (it does not; the signer is checked against AWS's
//! documented example in `stage.rs`).

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use stevedore_snowflake::stage::{StageUpload, prepare_upload, send_upload};
use stevedore_testkit::run_python;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Decrypts `enc` with snowflake-connector-python's envelope code; prints the SHA-256 (hex) and
/// the length of the plain bytes.
const PY_DECRYPT: &str = r#"
import sys, json, io, hashlib
from snowflake.connector.encryption_util import SnowflakeEncryptionUtil
from snowflake.connector.constants import EncryptionMetadata
from snowflake.connector.storage_client import SnowflakeFileEncryptionMaterial
m = json.loads(sys.argv[1])
out = io.BytesIO()
with open(sys.argv[2], "rb") as src:
    SnowflakeEncryptionUtil.decrypt_stream(
        EncryptionMetadata(key=m["key"], iv=m["iv"], matdesc=m["matdesc"]),
        SnowflakeFileEncryptionMaterial(query_stage_master_key=m["master"], query_id=m["query_id"], smk_id=m["smk_id"]),
        src, out)
plain = out.getvalue()
print(json.dumps({"sha256": hashlib.sha256(plain).hexdigest(), "len": len(plain)}))
"#;

fn plain_bytes(n: usize) -> Vec<u8> {
    // a parquet-sized file whose length is not a multiple of the AES block
    (0..n).map(|i| ((i * 31 + i / 7) % 256) as u8).collect()
}

fn sha256_hex(b: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, b).as_ref().iter().map(|x| format!("{x:02x}")).collect()
}

/// The `encryptionMaterial` of a PUT answer with a fresh 128-bit key (what Snowflake hands out).
fn material() -> (Value, String) {
    let key: Vec<u8> = (0..16).map(|_| fastrand::u8(..)).collect();
    let master = B64.encode(key);
    (json!({"queryStageMasterKey": master, "queryId": "01b9c0de-0000-4a1b-0000-00012345abcd", "smkId": 4_105_210}), master)
}

/// Decrypts with the connector and checks the plain bytes and the digest header.
fn check_decrypts(sf_python: &str, dir: &Path, enc: &[u8], meta: &Value, master: &str, plain: &[u8]) {
    let path = dir.join("object.enc");
    std::fs::write(&path, enc).unwrap();
    let m = json!({
        "key": meta["key"], "iv": meta["iv"], "matdesc": meta["matdesc"],
        "master": master, "query_id": "01b9c0de-0000-4a1b-0000-00012345abcd", "smk_id": 4_105_210,
    });
    let got = run_python(Path::new(sf_python), PY_DECRYPT, &[&m.to_string(), path.to_str().unwrap()]);
    assert_eq!(got["len"], plain.len());
    assert_eq!(got["sha256"], sha256_hex(plain));
    let matdesc: Value = serde_json::from_str(meta["matdesc"].as_str().unwrap()).unwrap();
    assert_eq!(matdesc, json!({"queryId": "01b9c0de-0000-4a1b-0000-00012345abcd", "smkId": "4105210", "keySize": "128"}));
}

fn http() -> reqwest_opendal::Client {
    reqwest_opendal::Client::new()
}

const PY_S3: &str = r#"
import sys, json, boto3, base64
endpoint, key, secret, bucket, obj = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1")
if sys.argv[6] == "create":
    s3.create_bucket(Bucket=bucket)
    print(json.dumps({}))
else:
    r = s3.get_object(Bucket=bucket, Key=obj)
    open(sys.argv[7], "wb").write(r["Body"].read())
    print(json.dumps({"metadata": r["Metadata"], "content_type": r.get("ContentType")}))
"#;

/// A PUT answer of an AWS account (temporary keys with a session token, client-side
/// encryption): the object lands encrypted, with the metadata Snowflake reads, and the
/// connector decrypts it to the file.
#[tokio::test]
async fn put_to_an_s3_backed_internal_stage() {
    let Some(v) = stevedore_testkit::service(
        "s3",
        &["STEVEDORE_S3_ENDPOINT", "STEVEDORE_S3_KEY_ID", "STEVEDORE_S3_SECRET", "STEVEDORE_SNOWFLAKE_PYTHON"],
    ) else {
        return;
    };
    let python = stevedore_testkit::python().expect("python with boto3");
    let endpoint = &v["STEVEDORE_S3_ENDPOINT"];
    let bucket = format!("sfc-stage-{}", fastrand::u32(..));
    let dir = tempfile::tempdir().unwrap();
    let s3 = |args: &[&str]| {
        let mut all = vec![endpoint.as_str(), v["STEVEDORE_S3_KEY_ID"].as_str(), v["STEVEDORE_S3_SECRET"].as_str(), bucket.as_str()];
        all.extend_from_slice(args);
        run_python(&python, PY_S3, &all)
    };
    s3(&["-", "create"]);

    let (material, master) = material();
    let answer = json!({
        "stageInfo": {
            "locationType": "S3", "location": format!("{bucket}/a1b2-s-xyz/stages/0c0ffee/"), "region": "us-east-1",
            "endPoint": null, "isClientSideEncrypted": true,
            "creds": {"AWS_KEY_ID": v["STEVEDORE_S3_KEY_ID"], "AWS_SECRET_KEY": v["STEVEDORE_S3_SECRET"], "AWS_TOKEN": "FwoGZXIvYXdzEJr//session"},
        },
        "encryptionMaterial": material,
    });
    let plain = plain_bytes(70_001);
    let (mut up, body): (StageUpload, Vec<u8>) = prepare_upload(&answer, "events.4f2a9c01de.0.parquet", plain.clone()).unwrap();
    assert_eq!(up.url, format!("https://{bucket}.s3.amazonaws.com/a1b2-s-xyz/stages/0c0ffee/events.4f2a9c01de.0.parquet"));
    assert_ne!(body, plain);
    // the emulator is path-style on 127.0.0.1
    up.url = format!("{endpoint}/{bucket}/a1b2-s-xyz/stages/0c0ffee/events.4f2a9c01de.0.parquet");
    send_upload(&http(), &up, body, Duration::from_secs(30), "events.4f2a9c01de.0.parquet").await.unwrap();

    let enc_path = dir.path().join("got.enc");
    let got = s3(&["a1b2-s-xyz/stages/0c0ffee/events.4f2a9c01de.0.parquet", "get", enc_path.to_str().unwrap()]);
    let meta = &got["metadata"];
    assert_eq!(meta["sfc-digest"], B64.encode(ring::digest::digest(&ring::digest::SHA256, &plain).as_ref()), "{got}");
    let envelope = json!({"key": meta["x-amz-key"], "iv": meta["x-amz-iv"], "matdesc": meta["x-amz-matdesc"]});
    check_decrypts(&v["STEVEDORE_SNOWFLAKE_PYTHON"], dir.path(), &std::fs::read(&enc_path).unwrap(), &envelope, &master, &plain);
}

const PY_AZURE: &str = r#"
import sys, json, datetime
from azure.storage.blob import BlobServiceClient, generate_container_sas, ContainerSasPermissions
endpoint, account, key, container = sys.argv[1:5]
svc = BlobServiceClient(account_url=endpoint, credential={"account_name": account, "account_key": key})
if sys.argv[5] == "create":
    svc.create_container(container)
    sas = generate_container_sas(account, container, account_key=key,
        permission=ContainerSasPermissions(read=True, write=True, create=True),
        expiry=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    print(json.dumps({"sas": "?" + sas}))
else:
    blob = svc.get_blob_client(container, sys.argv[6])
    open(sys.argv[7], "wb").write(blob.download_blob().readall())
    props = blob.get_blob_properties()
    print(json.dumps({"metadata": props.metadata, "blob_type": str(props.blob_type)}))
"#;

/// A PUT answer of an Azure account (a SAS token, client-side encryption): a block blob with
/// Snowflake's `encryptiondata`, `matdesc` and `sfcdigest` metadata, which the connector
/// decrypts to the file; a SAS that does not allow writing fails the upload with the HTTP
/// status and without the token.
#[tokio::test]
async fn put_to_an_azure_backed_internal_stage() {
    let Some(v) = stevedore_testkit::service(
        "azure",
        &["STEVEDORE_AZURE_ENDPOINT", "STEVEDORE_AZURE_ACCOUNT", "STEVEDORE_AZURE_KEY", "STEVEDORE_SNOWFLAKE_PYTHON"],
    ) else {
        return;
    };
    let python = stevedore_testkit::python().expect("python with azure-storage-blob");
    let endpoint = &v["STEVEDORE_AZURE_ENDPOINT"];
    let container = format!("stages{}", fastrand::u32(..));
    let dir = tempfile::tempdir().unwrap();
    let az = |args: &[&str]| {
        let mut all = vec![endpoint.as_str(), v["STEVEDORE_AZURE_ACCOUNT"].as_str(), v["STEVEDORE_AZURE_KEY"].as_str(), container.as_str()];
        all.extend_from_slice(args);
        run_python(&python, PY_AZURE, &all)
    };
    let sas = az(&["create"])["sas"].as_str().unwrap().to_string();

    let (material, master) = material();
    let answer = json!({
        "stageInfo": {
            "locationType": "AZURE", "location": format!("{container}/x9y8-s-abc/stages/0c0ffee"), "storageAccount": "sfcstagewesteurope",
            "endPoint": "blob.core.windows.net", "region": "westeurope", "isClientSideEncrypted": true,
            "creds": {"AZURE_SAS_TOKEN": sas},
        },
        "encryptionMaterial": material,
    });
    let plain = plain_bytes(33_333);
    let (mut up, body) = prepare_upload(&answer, "events.77aa00bb11.0.parquet", plain.clone()).unwrap();
    assert_eq!(
        up.url,
        format!("https://sfcstagewesteurope.blob.core.windows.net/{container}/x9y8-s-abc/stages/0c0ffee/events.77aa00bb11.0.parquet")
    );
    up.url = format!("{endpoint}/{container}/x9y8-s-abc/stages/0c0ffee/events.77aa00bb11.0.parquet");
    send_upload(&http(), &up, body, Duration::from_secs(30), "events.77aa00bb11.0.parquet").await.unwrap();

    let enc_path = dir.path().join("got.enc");
    let got = az(&["get", "x9y8-s-abc/stages/0c0ffee/events.77aa00bb11.0.parquet", enc_path.to_str().unwrap()]);
    assert!(got["blob_type"].as_str().unwrap().to_lowercase().contains("blockblob"), "{got}");
    let meta = &got["metadata"];
    assert_eq!(meta["sfcdigest"], B64.encode(ring::digest::digest(&ring::digest::SHA256, &plain).as_ref()), "{got}");
    let data: Value = serde_json::from_str(meta["encryptiondata"].as_str().unwrap()).unwrap();
    assert_eq!(data["EncryptionMode"], "FullBlob");
    let envelope = json!({"key": data["WrappedContentKey"]["EncryptedKey"], "iv": data["ContentEncryptionIV"], "matdesc": meta["matdesc"]});
    check_decrypts(&v["STEVEDORE_SNOWFLAKE_PYTHON"], dir.path(), &std::fs::read(&enc_path).unwrap(), &envelope, &master, &plain);

    // a SAS signed with another key: refused by the storage, the token not shown
    let mut bad = answer.clone();
    let forged = sas.replace("sig=", "sig=AAAA");
    bad["stageInfo"]["creds"]["AZURE_SAS_TOKEN"] = json!(forged);
    let (mut up, body) = prepare_upload(&bad, "events.77aa00bb11.1.parquet", plain.clone()).unwrap();
    up.url = format!("{endpoint}/{container}/x9y8-s-abc/stages/0c0ffee/events.77aa00bb11.1.parquet");
    let e = send_upload(&http(), &up, body, Duration::from_secs(30), "events.77aa00bb11.1.parquet").await.unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("HTTP 403") && shown.contains("events.77aa00bb11.1.parquet"), "{shown}");
    let sig = forged.split("sig=").nth(1).unwrap().split('&').next().unwrap();
    assert!(!shown.contains(sig), "{shown}");
}

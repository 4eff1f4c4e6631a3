//! Loading local job files over the PostgreSQL wire, inside the caller's transaction:
//! parquet and jsonl as binary `COPY ... FROM STDIN` ([`copy_arrow_file`]), csv as CSV COPY
//! ([`copy_csv_file`]), and dlt's `insert_values` files as `INSERT` statements cut under a
//! maximum statement length ([`insert_values_file`]). Files are streamed: a job never holds
//! more than a few MiB in memory, whatever its size.

use std::io::BufRead;
use std::pin::pin;

use bytes::{Bytes, BytesMut};
use futures::SinkExt;
use stevedore_core::destination::JobInfo;
use stevedore_core::schema::{Column, DataType};
use stevedore_core::{Error, ErrorKind, Result};
use stevedore_sql::Dialect;
use tokio::sync::mpsc::{Receiver, channel};
use tokio::task::JoinHandle;

use crate::copy::{self, Target, pg_kind};
use crate::error::pg_err;

const CHUNK: usize = 1 << 20;

async fn feed_copy(client: &tokio_postgres::Client, stmt: &str, mut rx: Receiver<Bytes>) -> Result<u64> {
    let sink = client.copy_in::<_, Bytes>(stmt).await.map_err(|e| pg_err("starting COPY", e))?;
    let mut sink = pin!(sink);
    while let Some(chunk) = rx.recv().await {
        sink.send(chunk).await.map_err(|e| pg_err("COPY", e))?;
    }
    sink.as_mut().finish().await.map_err(|e| pg_err("COPY", e))
}

/// Runs a COPY fed by a producer thread; a reader error explains a failed COPY better than
/// the aborted COPY does, so it wins.
async fn run_copy(
    client: &tokio_postgres::Client,
    job: &JobInfo,
    stmt: &str,
    rx: Receiver<Bytes>,
    producer: JoinHandle<Result<()>>,
) -> Result<u64> {
    let res = feed_copy(client, stmt, rx).await;
    let produced = producer.await.map_err(|e| Error::internal(format!("job reader panicked: {e}")))?;
    produced.map_err(|e| e.with("job", job.job_id()))?;
    res.map_err(|e| e.with("table", job.table.clone()).with("job", job.job_id()))
}

/// Loads a parquet or jsonl job file into `qualified` (whose columns are `cols`) with binary
/// COPY: the file's columns the table has, in file order (jsonl: the table's columns).
pub async fn copy_arrow_file(
    client: &tokio_postgres::Client,
    dialect: &dyn Dialect,
    job: &JobInfo,
    cols: &[Column],
    qualified: &str,
) -> Result<u64> {
    let path = job.path.clone();
    let table = job.table.clone();
    let (batches, file_cols): (Box<dyn Iterator<Item = Result<arrow_array::RecordBatch>> + Send>, Vec<String>) = if job.format == "parquet"
    {
        let mut it = copy::read_parquet(&path)?.peekable();
        let names = match it.peek() {
            Some(Ok(b)) => b.schema().fields().iter().map(|f| f.name().clone()).collect(),
            _ => cols.iter().map(|c| c.name.clone()).collect(),
        };
        (Box::new(it), names)
    } else {
        let reader = copy::open_text(&path)?;
        (Box::new(copy::JsonlBatches::new(reader, cols.to_vec(), &table)), cols.iter().map(|c| c.name.clone()).collect())
    };
    let targets: Vec<Target> = file_cols
        .iter()
        .filter_map(|n| cols.iter().find(|c| &c.name == n))
        .map(|c| Target { name: c.name.clone(), kind: pg_kind(c) })
        .collect();
    let list = targets.iter().map(|t| dialect.quote_identifier(&dialect.casefold(&t.name))).collect::<Vec<_>>().join(", ");
    let stmt = format!("COPY {qualified} ({list}) FROM STDIN WITH (FORMAT binary)");
    // Two chunks in flight and 2,048-row parquet batches keep a job near 4 MiB: at the
    // hand-over from normalization the loader's first jobs otherwise pushed the peak RSS
    // from ~120 to ~160 MB (1M records, 2 cores; load ~1 s slower, still above psql \copy).
    let (txc, rx) = channel::<Bytes>(2);
    let producer = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut buf = BytesMut::with_capacity(CHUNK + CHUNK / 4);
        copy::write_header(&mut buf);
        for b in batches {
            let b = b?;
            let idx: Vec<Option<usize>> = targets.iter().map(|t| b.schema().index_of(&t.name).ok()).collect();
            // encode in slices so chunks stay small
            let mut off = 0;
            while off < b.num_rows() {
                let len = 8192.min(b.num_rows() - off);
                copy::encode_batch(&b.slice(off, len), &idx, &targets, &table, &mut buf)?;
                off += len;
                if buf.len() >= CHUNK && txc.blocking_send(buf.split().freeze()).is_err() {
                    return Ok(()); // the COPY failed; its error is reported
                }
            }
        }
        copy::write_trailer(&mut buf);
        let _ = txc.blocking_send(buf.freeze());
        Ok(())
    });
    run_copy(client, job, &stmt, rx, producer).await
}

/// Loads a csv job file (header line with the column names) with CSV COPY.
pub async fn copy_csv_file(
    client: &tokio_postgres::Client,
    dialect: &dyn Dialect,
    job: &JobInfo,
    cols: &[Column],
    qualified: &str,
) -> Result<u64> {
    use std::io::Read;
    let mut reader = copy::open_text(&job.path)?;
    let mut header = String::new();
    reader.read_line(&mut header).map_err(|e| Error::io("read job file", &job.path, e))?;
    let mut names = Vec::new();
    for h in header.trim_end_matches(['\r', '\n']).split(',') {
        let n = h.trim().trim_matches('"').replace("\"\"", "\"");
        let c = cols.iter().find(|c| c.name == n).ok_or_else(|| {
            Error::new(ErrorKind::InvalidData, format!("csv job file header names column `{n}` that table `{}` does not have", job.table))
                .with("table", job.table.clone())
                .with("column", n.clone())
        })?;
        if c.data_type == Some(DataType::Binary) {
            return Err(Error::new(ErrorKind::Unsupported, format!("binary column `{n}` cannot be loaded from csv"))
                .with("table", job.table.clone())
                .with_hint("use the parquet or jsonl loader file format for tables with binary columns"));
        }
        names.push(dialect.quote_identifier(&dialect.casefold(&n)));
    }
    let stmt = format!("COPY {qualified} ({}) FROM STDIN WITH (FORMAT csv, DELIMITER ',', NULL '', ENCODING 'utf-8')", names.join(", "));
    let (txc, rx) = channel::<Bytes>(2);
    let path = job.path.clone();
    let producer = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = reader.read(&mut buf).map_err(|e| Error::io("read job file", &path, e))?;
            if n == 0 {
                return Ok(());
            }
            if txc.blocking_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                return Ok(());
            }
        }
    });
    run_copy(client, job, &stmt, rx, producer).await
}

/// Cuts the rows of an `insert_values` job file into `INSERT` statements of at most
/// `max_len` bytes each (a row longer than that goes alone), calling `send` with each.
/// The file starts with `INSERT INTO {}(..)` (`{}` becomes `qualified`) and `VALUES`, then
/// one row per line. Streams the file; returns the rows.
pub fn insert_values_statements(
    reader: &mut dyn BufRead,
    job: &JobInfo,
    qualified: &str,
    max_len: usize,
    send: &mut dyn FnMut(String) -> Result<()>,
) -> Result<u64> {
    let mut line = String::new();
    let mut read_line = |line: &mut String| -> Result<bool> {
        line.clear();
        Ok(reader.read_line(line).map_err(|e| Error::io("read job file", &job.path, e))? > 0)
    };
    read_line(&mut line)?;
    if !line.starts_with("INSERT INTO {}(") {
        return Err(Error::invalid_data("insert_values job file does not start with `INSERT INTO {}(`").with("table", job.table.clone()));
    }
    let header = format!("{}\nVALUES\n", line.trim_end().replacen("{}", qualified, 1));
    read_line(&mut line)?; // VALUES
    let mut rows = 0u64;
    let mut chunk = String::new();
    while read_line(&mut line)? {
        let row = line.trim_end().trim_end_matches([',', ';']);
        if row.is_empty() {
            continue;
        }
        if !chunk.is_empty() && chunk.len() + row.len() + 3 > max_len {
            chunk.push(';');
            send(std::mem::take(&mut chunk))?;
        }
        if chunk.is_empty() {
            chunk.push_str(&header);
        } else {
            chunk.push_str(",\n");
        }
        chunk.push_str(row);
        rows += 1;
    }
    if !chunk.is_empty() {
        chunk.push(';');
        send(chunk)?;
    }
    Ok(rows)
}

/// Runs an `insert_values` job file in statements of at most `max_len` bytes, all in the
/// caller's transaction (see [`insert_values_statements`]). The file is read on a blocking
/// thread; two statements are in flight at most.
pub async fn insert_values_file(client: &tokio_postgres::Client, job: &JobInfo, qualified: &str, max_len: usize) -> Result<u64> {
    let (txc, mut rx) = channel::<String>(1);
    let job2 = job.clone();
    let qualified2 = qualified.to_string();
    let producer = tokio::task::spawn_blocking(move || -> Result<u64> {
        let mut reader = copy::open_text(&job2.path)?;
        insert_values_statements(&mut reader, &job2, &qualified2, max_len, &mut |sql| {
            txc.blocking_send(sql).map_err(|_| Error::internal("the INSERT statements stopped"))
        })
    });
    let mut failed = None;
    while let Some(sql) = rx.recv().await {
        if let Err(e) = client.batch_execute(&sql).await {
            failed = Some(pg_err("INSERT", e).with("table", job.table.clone()).with("job", job.job_id()));
            break;
        }
    }
    drop(rx);
    let produced = producer.await.map_err(|e| Error::internal(format!("job reader panicked: {e}")))?;
    if let Some(e) = failed {
        return Err(e);
    }
    produced.map_err(|e| e.with("job", job.job_id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> JobInfo {
        JobInfo::parse("/tmp/t.abc.0.insert_values".into()).unwrap()
    }

    #[test]
    fn insert_values_are_cut_under_the_maximum_length() {
        let text = "INSERT INTO {}(\"a\",\"b\")\nVALUES\n(1,'x'),\n(2,'yy'),\n(3,'zzz');\n";
        let mut out = Vec::new();
        let rows = insert_values_statements(&mut text.as_bytes(), &job(), "\"d\".\"t\"", 1 << 20, &mut |s| {
            out.push(s);
            Ok(())
        })
        .unwrap();
        assert_eq!(rows, 3);
        assert_eq!(out, vec!["INSERT INTO \"d\".\"t\"(\"a\",\"b\")\nVALUES\n(1,'x'),\n(2,'yy'),\n(3,'zzz');".to_string()]);
        // a small maximum: every statement stays under it, no row is lost or split
        let mut out = Vec::new();
        let max = 50;
        let rows = insert_values_statements(&mut text.as_bytes(), &job(), "\"d\".\"t\"", max, &mut |s| {
            out.push(s);
            Ok(())
        })
        .unwrap();
        assert_eq!(rows, 3);
        assert!(out.len() >= 2, "{out:?}");
        assert!(out.iter().all(|s| s.len() <= max && s.ends_with(';') && s.starts_with("INSERT INTO \"d\".\"t\"")), "{out:?}");
        assert!(out.last().unwrap().ends_with("(3,'zzz');"));
        let rows_sent: usize = out.iter().map(|s| s.matches("),\n(").count() + 1).sum();
        assert_eq!(rows_sent, 3, "{out:?}");
        let bad = "INSERT INTO x VALUES (1);\n";
        assert!(insert_values_statements(&mut bad.as_bytes(), &job(), "t", 100, &mut |_| Ok(())).is_err());
    }
}

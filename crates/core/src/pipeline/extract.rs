//! Extract and normalize: the sink that writes normalized batches into a package, the pending package a rerun's input matches, and a package's table metrics.

use super::*;

pub(super) struct PackageSink<'a> {
    pub(super) dir: PathBuf,
    pub(super) writers: HashMap<String, TableWriter>,
    pub(super) config_for: &'a (dyn Fn(&str) -> WriterConfig + Sync),
}

impl PackageSink<'_> {
    /// Closes every file; adds files and bytes per table to `tables`.
    pub(super) fn finish_into(self, tables: &mut BTreeMap<String, TableMetrics>) -> Result<()> {
        for (name, w) in self.writers {
            let files = w.finish().map_err(|e| Error::new(ErrorKind::Io, e.to_string()).with("table", name.clone()))?;
            let m = tables.entry(name).or_default();
            for f in files {
                m.files += 1;
                m.bytes += f.bytes;
            }
        }
        Ok(())
    }
}

/// What one extract+normalize run shares between resources.
pub(super) struct RunCtx<'c> {
    pub(super) naming: Arc<dyn NamingConvention>,
    pub(super) load_id: String,
    pub(super) dir: PathBuf,
    pub(super) config_for: &'c (dyn Fn(&str) -> WriterConfig + Sync),
    /// Sinks of parallel workers, finished after normalization.
    pub(super) worker_sinks: Vec<PackageSink<'c>>,
    /// Rows per table written by parallel workers.
    pub(super) worker_rows: HashMap<String, u64>,
}

impl BatchSink for PackageSink<'_> {
    fn write_batch(&mut self, table: &str, batch: RecordBatch) -> Result<()> {
        if !self.writers.contains_key(table) {
            let cfg = (self.config_for)(table);
            self.writers.insert(table.to_string(), TableWriter::new(&self.dir, table, cfg));
        }
        let w = self.writers.get_mut(table).expect("inserted");
        w.write(&batch).map_err(|e| Error::new(ErrorKind::Io, e.to_string()).with("table", table.to_string()))
    }
}

/// What one extraction produced.
pub(super) enum Extracted {
    /// A new package, committed.
    New {
        /// The package.
        pkg: Package,
        /// Per table.
        tables: BTreeMap<String, TableMetrics>,
        /// Records read.
        records: u64,
        /// Warnings of the normalizer.
        warnings: Vec<String>,
    },
    /// The input was read and equals what pending package `load_id` holds: nothing new.
    AlreadyPending {
        /// The pending package.
        load_id: String,
    },
}

/// A package's contents, before it is committed.
pub(super) struct Normalized {
    pub(super) manifest: Manifest,
    pub(super) schema: Schema,
    pub(super) tables: BTreeMap<String, TableMetrics>,
    pub(super) warnings: Vec<String>,
}

/// The pending package extracted from the same input as `fp`, if any.
pub(super) fn find_pending<'p>(pending: &'p [Package], fp: &Fingerprint) -> Result<Option<&'p Package>> {
    for p in pending {
        if p.manifest()?.inputs.as_ref() == Some(fp) {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// Rows per table (from the manifest), files and bytes (from the job files) of a package, and
/// the records it was extracted from.
pub(super) fn package_tables(pkg: &Package) -> Result<(BTreeMap<String, TableMetrics>, u64)> {
    let m = pkg.manifest()?;
    let mut tables: BTreeMap<String, TableMetrics> = BTreeMap::new();
    for t in &m.tables {
        tables.entry(t.name.clone()).or_default().rows = t.rows;
    }
    for j in pkg.data_jobs()? {
        let e = tables.entry(j.table.clone()).or_default();
        e.files += 1;
        e.bytes += std::fs::metadata(&j.path).map(|m| m.len()).unwrap_or(0);
    }
    Ok((tables, m.records))
}

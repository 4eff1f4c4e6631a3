//! The `stevedore` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use stevedore::{Column, Config, FileFormat, MergeStrategy, Pipeline, Progress, Registry, Resource, TableFormat, WriteDisposition};

#[derive(Parser, Debug)]
#[command(name = "stevedore", version, about = "Load data into files, buckets and warehouses, the dlt way")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load JSON lines, CSV or Parquet files (or `-` for JSON lines on stdin) into a table.
    Load(LoadArgs),
    /// Print a pipeline's stored schema as dlt's YAML.
    Schema {
        /// Pipeline name.
        pipeline: String,
        /// Folder holding pipeline working folders (default ~/.stevedore/pipelines).
        #[arg(long)]
        pipelines_dir: Option<PathBuf>,
    },
    /// Operate on a pipeline's pending load packages.
    Pipeline {
        /// Pipeline name.
        pipeline: String,
        #[command(subcommand)]
        action: PipelineAction,
    },
    /// Show a pipeline's last load.
    Info {
        /// Pipeline name.
        pipeline: String,
        /// Folder holding pipeline working folders (default ~/.stevedore/pipelines).
        #[arg(long)]
        pipelines_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum PipelineAction {
    /// Drop the packages left pending by interrupted runs for good (dlt's `dlt pipeline NAME
    /// drop-pending-packages`): what their jobs already wrote to the destination is removed,
    /// and they are never loaded.
    DropPendingPackages(DestArgs),
}

/// Where a pipeline loads to, and how its runs meet.
#[derive(clap::Args, Debug)]
struct DestArgs {
    /// Dataset name (default <pipeline>_dataset).
    #[arg(long)]
    dataset: Option<String>,
    /// Destination (`filesystem`, `postgres`, `redshift`, `bigquery` or `snowflake`; postgres
    /// credentials from config or DESTINATION__POSTGRES__CREDENTIALS, redshift's from
    /// DESTINATION__REDSHIFT__CREDENTIALS, bigquery's from [destination.bigquery.credentials] or
    /// DESTINATION__BIGQUERY__CREDENTIALS__PROJECT_ID, ..., snowflake's from
    /// DESTINATION__SNOWFLAKE__CREDENTIALS=snowflake://user:password@account/db).
    #[arg(long)]
    destination: Option<String>,
    /// Bucket URL of the filesystem destination (default ./stevedore_data).
    #[arg(long)]
    bucket_url: Option<String>,
    /// File layout of the filesystem destination.
    #[arg(long)]
    layout: Option<String>,
    /// Load through a staging storage (`filesystem`): job files are uploaded to its bucket
    /// and the destination loads them from there. Its bucket and credentials come from
    /// [destination.filesystem] unless --staging-bucket-url is given.
    #[arg(long)]
    staging: Option<String>,
    /// Bucket URL of the staging storage (sets [destination.filesystem] bucket_url).
    #[arg(long, requires = "staging")]
    staging_bucket_url: Option<String>,
    /// Folder holding pipeline working folders (default ~/.stevedore/pipelines).
    #[arg(long)]
    pipelines_dir: Option<PathBuf>,
    /// When another run of the same pipeline is in progress, wait for it to finish instead of
    /// failing at once.
    #[arg(long)]
    wait: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Parquet,
    Jsonl,
    Csv,
    InsertValues,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TableFormatArg {
    Delta,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MergeStrategyArg {
    DeleteInsert,
    Upsert,
    InsertOnly,
    Scd2,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Disposition {
    Append,
    Replace,
    Merge,
}

#[derive(clap::Args, Debug)]
struct LoadArgs {
    /// Input files (.jsonl, .ndjson, .json, .csv, each optionally .gz, or .parquet); `-` reads JSON lines from stdin.
    #[arg(required_unless_present = "resume_only")]
    files: Vec<PathBuf>,
    /// Table to load into.
    #[arg(long, required_unless_present = "resume_only")]
    table: Option<String>,
    /// Only finish the load packages that interrupted runs left pending; read no input.
    #[arg(long, conflicts_with_all = ["files", "table"])]
    resume_only: bool,
    /// Pipeline name.
    #[arg(long, default_value = "stevedore")]
    pipeline: String,
    #[command(flatten)]
    dest: DestArgs,
    /// Loader file format (default: the destination's, jsonl for the filesystem).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write disposition.
    #[arg(long, value_enum)]
    write_disposition: Option<Disposition>,
    /// Primary key column (repeat for a compound key).
    #[arg(long = "primary-key")]
    primary_key: Vec<String>,
    /// Merge key column (repeat for a compound key).
    #[arg(long = "merge-key")]
    merge_key: Vec<String>,
    /// Table format of the loaded table (and its child tables): `delta` writes Delta tables
    /// on the filesystem destination (parquet, whatever --format says).
    #[arg(long, value_enum)]
    table_format: Option<TableFormatArg>,
    /// Merge strategy for `--write-disposition merge` (Delta tables: upsert, insert-only).
    #[arg(long, value_enum)]
    merge_strategy: Option<MergeStrategyArg>,
    /// Partition column (repeat for several; Delta tables).
    #[arg(long = "partition")]
    partition: Vec<String>,
}

fn init_logging(config: Option<&Config>) {
    let level = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| config.and_then(|c| stevedore::pipeline::RuntimeConfig::read(c).ok()?.log_level).map(|l| l.to_lowercase()));
    let filter = tracing_subscriber::EnvFilter::try_new(level.unwrap_or_else(|| "warn".into()))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r = rt.block_on(run(cli));
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn pipelines_dir(arg: Option<PathBuf>, config: &Config) -> stevedore::Result<PathBuf> {
    if let Some(p) = arg {
        return Ok(p);
    }
    stevedore::pipeline::PipelineConfig::read(config)?.pipelines_dir_or_default()
}

async fn run(cli: Cli) -> stevedore::Result<()> {
    match cli.command {
        Command::Load(args) => load(args).await,
        Command::Pipeline { pipeline, action: PipelineAction::DropPendingPackages(dest) } => {
            let p = build_pipeline(&pipeline, &dest, None, None)?;
            let dropped = p.drop_pending_packages().await?;
            if dropped.is_empty() {
                out(&format!("pipeline {pipeline} has no pending load packages\n"));
            } else {
                out(&format!("dropped {} pending load package(s) of pipeline {pipeline}: {}\n", dropped.len(), dropped.join(", ")));
            }
            Ok(())
        }
        Command::Schema { pipeline, pipelines_dir: dir } => {
            let config = Config::from_env()?;
            init_logging(Some(&config));
            let dir = pipelines_dir(dir, &config)?;
            match stevedore::pipeline::stored_schema(&dir, &pipeline)? {
                Some(s) => {
                    out(&s.to_yaml());
                    Ok(())
                }
                None => Err(stevedore::Error::new(
                    stevedore::ErrorKind::NotFound,
                    format!("pipeline `{pipeline}` has no stored schema in {}", dir.display()),
                )
                .with_hint("run `stevedore load` first, or pass the right --pipelines-dir")),
            }
        }
        Command::Info { pipeline, pipelines_dir: dir } => {
            let config = Config::from_env()?;
            init_logging(Some(&config));
            let dir = pipelines_dir(dir, &config)?;
            let last = stevedore::pipeline::last_load(&dir, &pipeline)?.ok_or_else(|| {
                stevedore::Error::new(stevedore::ErrorKind::NotFound, format!("pipeline `{pipeline}` has no loads in {}", dir.display()))
                    .with_hint("run `stevedore load` first, or pass the right --pipelines-dir")
            })?;
            let (pending, loaded, aborted) = stevedore::pipeline::package_counts(&dir, &pipeline)?;
            out(&format!(
                "pipeline: {pipeline}\nworking folder: {}\npackages: {loaded} loaded, {pending} pending, {aborted} aborted\nlast load:\n{}\n",
                dir.join(&pipeline).display(),
                serde_json::to_string_pretty(&last).unwrap_or_default()
            ));
            Ok(())
        }
    }
}

/// The pipeline `name` with its destination, from the config, the environment and `dest`;
/// with a spinner when `progress` says so.
fn build_pipeline(name: &str, dest: &DestArgs, format: Option<FileFormat>, bar: Option<&ProgressBar>) -> stevedore::Result<Pipeline> {
    let mut config = Config::from_env()?.with_pipeline_name(name);
    init_logging(Some(&config));
    let registry = Registry::with_builtins();
    config.validate(&registry.specs())?;
    let destination_name = dest.destination.clone().unwrap_or_else(|| "filesystem".to_string());
    if let Some(u) = &dest.bucket_url {
        config.set_explicit("destination.filesystem.bucket_url", toml::Value::String(u.clone()));
    }
    if let Some(l) = &dest.layout {
        config.set_explicit("destination.filesystem.layout", toml::Value::String(l.clone()));
    }
    let destination = registry.destination(&destination_name, &config)?;
    let staging = match &dest.staging {
        Some(s) => {
            if let Some(u) = &dest.staging_bucket_url {
                config.set_explicit("destination.filesystem.bucket_url", toml::Value::String(u.clone()));
            }
            Some(registry.staging(s, &config)?)
        }
        None => None,
    };
    let mut builder = Pipeline::builder(name).destination(destination).config(config).wait_for_lock(dest.wait);
    if let Some(s) = staging {
        builder = builder.staging(s);
    }
    if let Some(bar) = bar {
        let bar2 = bar.clone();
        let jobs = Arc::new(std::sync::atomic::AtomicU64::new(0));
        builder = builder.progress(move |p| match p {
            Progress::Extracted { records } => bar2.set_message(format!("{records} records normalized")),
            Progress::Job(m) => {
                let n = jobs.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                bar2.set_message(format!("{n} jobs loaded (last: {} {})", m.table, m.state));
            }
            Progress::WaitingForLock { holder } => {
                bar2.suspend(|| eprintln!("waiting: the pipeline is being run by another stevedore process ({holder})"));
                bar2.set_message("waiting for the other run to finish");
            }
        });
    } else if dest.wait {
        builder = builder.progress(|p| {
            if let Progress::WaitingForLock { holder } = p {
                eprintln!("waiting: the pipeline is being run by another stevedore process ({holder})");
            }
        });
    }
    if let Some(d) = &dest.dataset {
        builder = builder.dataset_name(d);
    }
    if let Some(p) = &dest.pipelines_dir {
        builder = builder.pipelines_dir(p);
    }
    if let Some(f) = format {
        builder = builder.loader_file_format(f);
    }
    builder.build()
}

async fn load(args: LoadArgs) -> stevedore::Result<()> {
    if matches!(args.table_format, Some(TableFormatArg::Delta)) && !stevedore::DELTA {
        return Err(stevedore::Error::config("--table-format delta: this stevedore was built without the `delta` feature").with_hint(
            "rebuild the CLI with `--features delta` (from a checkout: `cargo install --path crates/cli --features delta`); nothing was read or written",
        ));
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("template"));
    bar.enable_steady_tick(Duration::from_millis(200));
    let format = args.format.map(|f| match f {
        Format::Parquet => FileFormat::Parquet,
        Format::Jsonl => FileFormat::Jsonl,
        Format::Csv => FileFormat::Csv,
        Format::InsertValues => FileFormat::InsertValues,
    });
    let pipeline = match build_pipeline(&args.pipeline, &args.dest, format, Some(&bar)) {
        Ok(p) => p,
        Err(e) => {
            bar.finish_and_clear();
            return Err(e);
        }
    };
    if args.resume_only {
        let result = pipeline.resume().await;
        bar.finish_and_clear();
        out(&format!("{}\n", result?));
        return Ok(());
    }
    let table = args.table.as_deref().expect("clap requires --table without --resume-only");
    let mut resource = Resource::from_files(table, args.files.clone());
    if let Some(wd) = args.write_disposition {
        resource = resource.with_write_disposition(match wd {
            Disposition::Append => WriteDisposition::Append,
            Disposition::Replace => WriteDisposition::Replace,
            Disposition::Merge => WriteDisposition::Merge,
        });
    }
    if !args.primary_key.is_empty() {
        resource = resource.with_primary_key(args.primary_key.clone());
    }
    if !args.merge_key.is_empty() {
        resource = resource.with_merge_key(args.merge_key.clone());
    }
    if let Some(TableFormatArg::Delta) = args.table_format {
        resource = resource.with_table_format(TableFormat::Delta);
    }
    if let Some(s) = args.merge_strategy {
        resource = resource.with_merge_strategy(match s {
            MergeStrategyArg::DeleteInsert => MergeStrategy::DeleteInsert,
            MergeStrategyArg::Upsert => MergeStrategy::Upsert,
            MergeStrategyArg::InsertOnly => MergeStrategy::InsertOnly,
            MergeStrategyArg::Scd2 => MergeStrategy::Scd2,
        });
    }
    for p in &args.partition {
        resource = resource.with_column(Column::incomplete(p).hint("partition"));
    }
    let result = pipeline.run(resource).await;
    bar.finish_and_clear();
    let info = result?;
    out(&format!("{info}\n"));
    Ok(())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn out(text: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|_| o.flush());
}

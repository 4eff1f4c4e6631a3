//! `cargo xtask services up|down|env|status [NAME...]`: the servers tests talk to, PostgreSQL and
//! the S3, Azure Blob, GCS and BigQuery emulators, on 127.0.0.1.
//!
//! Each service is one row of [`SERVICES`] (in `table.rs`): what to install, how to start it in
//! the foreground, how to tell it is ready, how to stop it and the variables tests read.
//! Installs live in `$STEVEDORE_CACHE/emu/<name>` (default `~/.cache/stevedore/emu`) with a
//! stamp file, so they are done once per machine; running servers are recorded in
//! `emu/run/<name>.pid` (PID, port, process start time) with their output in
//! `emu/run/<name>.log`. `down` signals only PIDs recorded there. A lock file (`emu/.lock`)
//! serializes `up` and `down` between concurrent xtask runs.

mod install;
mod process;
mod table;

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub use process::HOST;
use process::{PidFile, Stopped};
pub use table::SERVICES;

use crate::proc::{self, cache_dir};
use crate::{Error, Result, bail};

/// How long a server gets to stop after its graceful signal before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// One test service: a row of [`SERVICES`].
pub struct Service {
    /// The name on the command line, the capability in `STEVEDORE_TEST_REQUIRE`, and the
    /// `<NAME>` of the port override `STEVEDORE_PORT_<NAME>`.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// The default port on 127.0.0.1.
    pub port: u16,
    pub install: Install,
    /// The server command, running in the foreground (it is spawned with its own process
    /// group, stdin from /dev/null and its output in `emu/run/<name>.log`). May prepare state
    /// first (PostgreSQL's initdb).
    pub command: fn(&Ctx) -> Result<Command>,
    pub ready: Ready,
    /// How long `up` waits for `ready` before it gives up (and prints the log's tail).
    pub ready_timeout: Duration,
    /// The graceful stop signal for `kill` (`TERM`; `INT` for PostgreSQL's fast shutdown).
    pub stop_signal: &'static str,
    /// The variables tests read, for the server on `ctx.port` (the contract in docs/testing.md).
    pub env: fn(&Ctx) -> Result<EnvVars>,
    /// Whether `cargo xtask test` names it in `STEVEDORE_TEST_REQUIRE` (its tests fail
    /// instead of skipping without it). A new service starts with `false` until its tests pass.
    pub required: bool,
}

/// `(NAME, value)` pairs for the test processes.
pub type EnvVars = Vec<(&'static str, String)>;

/// How a service is installed into `emu/<name>`.
pub enum Install {
    /// A venv with these exact pins (`pip install`).
    Pip(&'static [&'static str]),
    /// A `package.json` with these exact `name@version` dependencies (`npm install`).
    Npm(&'static [&'static str]),
    /// Something of the machine's: the function finds it (installing it if it can, with output
    /// in the given log) and returns what to record in the stamp and whether it installed now.
    System(fn(&Ctx, &Path) -> Result<(String, bool)>),
}

/// How to tell that a server is ready.
pub enum Ready {
    /// Any HTTP answer to `GET <path>`, whatever its status.
    Http(&'static str),
    /// A command that exits 0 when it is ready.
    Command(fn(&Ctx) -> Result<Command>),
}

/// Where one service's files are and which port it uses.
pub struct Ctx {
    pub name: &'static str,
    /// `$STEVEDORE_CACHE/emu`.
    pub emu: PathBuf,
    /// `emu/<name>`: the install folder (venv, node_modules...) with its stamp.
    pub dir: PathBuf,
    /// `emu/run`: PID files and server logs.
    pub run: PathBuf,
    pub port: u16,
}

impl Ctx {
    fn new(svc: &Service, emu: &Path, port: u16) -> Ctx {
        Ctx { name: svc.name, emu: emu.to_path_buf(), dir: emu.join(svc.name), run: emu.join("run"), port }
    }

    /// A program of the service's venv.
    pub fn venv_bin(&self, program: &str) -> PathBuf {
        self.dir.join("bin").join(program)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{HOST}:{}", self.port)
    }

    /// `emu/run/<name>/`, created: a working folder for a running server.
    pub fn work_dir(&self) -> Result<PathBuf> {
        let dir = self.run.join(self.name);
        fs::create_dir_all(&dir).map_err(|e| Error(format!("cannot create {}: {e}", dir.display())))?;
        Ok(dir)
    }

    /// `emu/logs/<name>-install.log`.
    pub fn install_log(&self) -> PathBuf {
        self.emu.join("logs").join(format!("{}-install.log", self.name))
    }

    fn pid_path(&self) -> PathBuf {
        self.run.join(format!("{}.pid", self.name))
    }

    fn log_path(&self) -> PathBuf {
        self.run.join(format!("{}.log", self.name))
    }

    fn with_port(&self, port: u16) -> Ctx {
        Ctx { name: self.name, emu: self.emu.clone(), dir: self.dir.clone(), run: self.run.clone(), port }
    }
}

/// `$STEVEDORE_CACHE/emu`.
pub fn emu_dir() -> Result<PathBuf> {
    Ok(cache_dir()?.join("emu"))
}

fn port_var(name: &str) -> String {
    format!("STEVEDORE_PORT_{}", name.to_ascii_uppercase().replace('-', "_"))
}

/// The port to start `svc` on: `STEVEDORE_PORT_<NAME>`, else its default.
fn port_for(svc: &Service) -> Result<u16> {
    let var = port_var(svc.name);
    match std::env::var(&var) {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => bail!("{var}={v} is not a port number"),
        },
        _ => Ok(svc.port),
    }
}

fn ctx_for(svc: &Service, emu: &Path) -> Result<Ctx> {
    Ok(Ctx::new(svc, emu, port_for(svc)?))
}

/// The rows named (all when none is), in table order.
pub fn select(names: &[String]) -> Result<Vec<&'static Service>> {
    for n in names {
        if !SERVICES.iter().any(|s| s.name == n) {
            bail!("unknown service `{n}`; the services are: {}", SERVICES.iter().map(|s| s.name).collect::<Vec<_>>().join(", "));
        }
    }
    Ok(SERVICES.iter().filter(|s| names.is_empty() || names.iter().any(|n| n == s.name)).collect())
}

/// Held while `up` or `down` runs, so concurrent xtask runs do not race on installs and PID
/// files. Released when dropped (or when the process dies).
struct Lock(#[allow(dead_code)] File);

fn lock(emu: &Path) -> Result<Lock> {
    fs::create_dir_all(emu.join("run")).map_err(|e| Error(format!("cannot create {}: {e}", emu.display())))?;
    let path = emu.join(".lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!("services: waiting for another `cargo xtask services` (lock {})", path.display());
            file.lock().map_err(|e| Error(format!("cannot lock {}: {e}", path.display())))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            bail!("cannot lock {}: {e}", path.display())
        }
    }
    Ok(Lock(file))
}

/// A service that is up.
pub struct Running {
    pub service: &'static Service,
    pub pid: PidFile,
    /// Started by this call (else it was already running).
    pub started: bool,
    /// Its variables for tests.
    pub env: EnvVars,
}

/// What `up` did.
pub struct UpReport {
    pub running: Vec<Running>,
    /// One error per service that could not be installed or started.
    pub failed: Vec<Error>,
    pub install: Duration,
    pub start: Duration,
}

/// Install what is missing, then start what is not running, all services in parallel, and wait
/// until each answers. Services that fail are reported in `failed`; the others keep running.
pub fn up(services: &[&'static Service]) -> Result<UpReport> {
    let emu = emu_dir()?;
    let _lock = lock(&emu)?;
    let mut ctxs = Vec::new();
    for svc in services {
        ctxs.push((*svc, ctx_for(svc, &emu)?));
    }

    let t = Instant::now();
    let installed: Vec<Result<()>> = thread::scope(|s| {
        let handles: Vec<_> = ctxs.iter().map(|(svc, ctx)| s.spawn(move || install::ensure(svc, ctx).map(|_| ()))).collect();
        handles.into_iter().map(join).collect()
    });
    let install_time = t.elapsed();

    let t = Instant::now();
    let mut failed = Vec::new();
    let mut to_start = Vec::new();
    for ((svc, ctx), res) in ctxs.iter().zip(installed) {
        match res {
            Ok(()) => to_start.push((*svc, ctx)),
            Err(e) => failed.push(e),
        }
    }
    let started: Vec<Result<Running>> = thread::scope(|s| {
        let handles: Vec<_> = to_start.iter().map(|(svc, ctx)| s.spawn(move || start(svc, ctx))).collect();
        handles.into_iter().map(join).collect()
    });
    let mut running = Vec::new();
    for r in started {
        match r {
            Ok(r) => running.push(r),
            Err(e) => failed.push(e),
        }
    }
    Ok(UpReport { running, failed, install: install_time, start: t.elapsed() })
}

fn join<T>(h: thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    h.join().unwrap_or_else(|_| Err(Error("a service thread panicked".into())))
}

/// Start one service unless it runs already; wait until it is ready.
fn start(svc: &'static Service, ctx: &Ctx) -> Result<Running> {
    let name = svc.name;
    let pid_path = ctx.pid_path();
    if let Some(pf) = PidFile::read(&pid_path) {
        if pf.alive() {
            if pf.port != ctx.port {
                bail!(
                    "{name} already runs on port {} (pid {}), not on {}: stop it first with \
                     `cargo xtask services down {name}`",
                    pf.port,
                    pf.pid,
                    ctx.port
                );
            }
            let ctx = ctx.with_port(pf.port);
            wait_ready(svc, &ctx, &pf, None)?;
            println!("{name}: already running, pid {}, {HOST}:{}", pf.pid, pf.port);
            return Ok(Running { service: svc, pid: pf, started: false, env: (svc.env)(&ctx)? });
        }
        if pf.gone() {
            let _ = fs::remove_file(&pid_path);
        } else {
            bail!(
                "{name}: pid {} is gone but its process group still runs: `cargo xtask services \
                 down {name}` ends it",
                pf.pid
            );
        }
    }
    if !process::port_free(ctx.port) {
        bail!(
            "{name}: {HOST}:{} is in use by a process that this cache ({}) did not start: stop \
             it, or choose another port with {}=PORT",
            ctx.port,
            ctx.emu.display(),
            port_var(name)
        );
    }
    let mut cmd = (svc.command)(ctx)?;
    let log = ctx.log_path();
    File::create(&log).map_err(|e| Error(format!("cannot create {}: {e}", log.display())))?;
    let mut child = process::spawn(&mut cmd, &log)?;
    let pf = PidFile::of(child.id(), ctx.port);
    let ready = pf.write(&pid_path).and_then(|()| wait_ready(svc, ctx, &pf, Some(&mut child)));
    match ready {
        Ok(took) => {
            println!("{name}: started, pid {}, {HOST}:{}, ready in {:.1}s (log: {})", pf.pid, ctx.port, took.as_secs_f64(), log.display());
            Ok(Running { service: svc, pid: pf, started: true, env: (svc.env)(ctx)? })
        }
        Err(e) => {
            process::stop_all(&[(pf, svc.stop_signal)], Duration::from_secs(5));
            let _ = child.try_wait();
            let _ = fs::remove_file(&pid_path);
            Err(e)
        }
    }
}

/// Whether the server answers its readiness probe now.
fn probe(svc: &Service, ctx: &Ctx) -> bool {
    match &svc.ready {
        Ready::Http(path) => process::http_status(ctx.port, path, Duration::from_secs(1)).is_some(),
        Ready::Command(make) => make(ctx)
            .is_ok_and(|mut cmd| cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())),
    }
}

/// Poll `probe` every 100 ms until it answers, the process dies or the timeout passes.
fn wait_ready(svc: &Service, ctx: &Ctx, pf: &PidFile, mut child: Option<&mut Child>) -> Result<Duration> {
    let start = Instant::now();
    let deadline = start + svc.ready_timeout;
    loop {
        let exited = match child.as_mut() {
            Some(c) => c.try_wait().ok().flatten().map(proc::describe_status),
            None => (!pf.alive()).then(|| "it is gone".to_string()),
        };
        if let Some(how) = exited {
            bail!("{} (pid {}) exited before it was ready ({how})\n{}", svc.name, pf.pid, process::tail(&ctx.log_path(), 30));
        }
        if probe(svc, ctx) {
            return Ok(start.elapsed());
        }
        if Instant::now() >= deadline {
            bail!(
                "{} (pid {}) was not ready after {}s on {HOST}:{}\n{}",
                svc.name,
                pf.pid,
                svc.ready_timeout.as_secs(),
                ctx.port,
                process::tail(&ctx.log_path(), 30)
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Stop the given servers (each with its recorded PID file) and remove their PID files.
/// Returns an error naming those that would not stop.
fn stop(targets: &[(&'static Service, Ctx, PidFile)]) -> Result<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let t = Instant::now();
    let signals: Vec<(PidFile, &str)> = targets.iter().map(|(svc, _, pf)| (*pf, svc.stop_signal)).collect();
    let outcomes = process::stop_all(&signals, STOP_GRACE);
    let mut stuck = Vec::new();
    for ((svc, ctx, pf), outcome) in targets.iter().zip(outcomes) {
        let how = match outcome {
            Stopped::Gracefully => "stopped",
            Stopped::Killed => "killed (SIGKILL: it ignored SIGTERM/SIGINT)",
            Stopped::Stuck => {
                stuck.push(format!("{} (pid {})", svc.name, pf.pid));
                continue;
            }
        };
        // leave a PID file that a newer `up` wrote alone
        if PidFile::read(&ctx.pid_path()) == Some(*pf) {
            let _ = fs::remove_file(ctx.pid_path());
        }
        println!("{}: {how}, pid {}", svc.name, pf.pid);
    }
    println!("services: stopped in {:.1}s", t.elapsed().as_secs_f64());
    if !stuck.is_empty() {
        bail!("would not stop: {}", stuck.join(", "));
    }
    Ok(())
}

/// `down`: stop the services whose PID files say they run.
pub fn down(services: &[&'static Service]) -> Result<()> {
    let emu = emu_dir()?;
    let _lock = lock(&emu)?;
    let mut targets = Vec::new();
    for svc in services {
        let ctx = ctx_for(svc, &emu)?;
        match PidFile::read(&ctx.pid_path()) {
            None => println!("{}: not running", svc.name),
            Some(pf) if pf.gone() => {
                let _ = fs::remove_file(ctx.pid_path());
                println!("{}: not running (removed a stale PID file)", svc.name);
            }
            Some(pf) => targets.push((*svc, ctx, pf)),
        }
    }
    stop(&targets)
}

/// The services whose PID files name a live process, with their recorded port.
fn running(services: &[&'static Service], emu: &Path) -> Result<Vec<(&'static Service, Ctx, PidFile)>> {
    let mut out = Vec::new();
    for svc in services {
        let ctx = ctx_for(svc, emu)?;
        if let Some(pf) = PidFile::read(&ctx.pid_path()).filter(PidFile::alive) {
            out.push((*svc, ctx.with_port(pf.port), pf));
        }
    }
    Ok(out)
}

/// `export NAME=value` (quoted for a POSIX shell when needed).
fn export_line(name: &str, value: &str) -> String {
    let plain = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c));
    if plain { format!("export {name}={value}") } else { format!("export {name}='{}'", value.replace('\'', r"'\''")) }
}

fn env_cmd(services: &[&'static Service]) -> Result<()> {
    let emu = emu_dir()?;
    let up = running(services, &emu)?;
    if up.is_empty() {
        eprintln!("# no test service is running: start them with `cargo xtask services up`");
    }
    for (svc, ctx, _) in &up {
        for (k, v) in (svc.env)(ctx)? {
            println!("{}", export_line(k, &v));
        }
    }
    Ok(())
}

fn status(services: &[&'static Service]) -> Result<()> {
    let emu = emu_dir()?;
    println!("cache: {}", emu.display());
    for svc in services {
        let ctx = ctx_for(svc, &emu)?;
        let pf = PidFile::read(&ctx.pid_path());
        let state = match pf {
            Some(pf) if pf.alive() => {
                let ctx = ctx.with_port(pf.port);
                let answer = if probe(svc, &ctx) { "ready" } else { "NOT ANSWERING" };
                format!("running   pid {:<7} {HOST}:{:<5} {answer}", pf.pid, pf.port)
            }
            Some(_) => "stopped   (stale PID file)".to_string(),
            None => format!("stopped   port {}", ctx.port),
        };
        println!("{:<9} {state}", svc.name);
        let installed = install::installed(&ctx).unwrap_or_else(|| "not installed".into());
        println!("{:<9}   installed: {}", "", installed.replace('\n', "; "));
        if svc.name == "postgres"
            && let Some(data) = table::postgres_data_dir(&ctx)
        {
            println!("{:<9}   data: {}", "", data.display());
        }
    }
    Ok(())
}

/// The services a `cargo xtask test` run started: stopped by [`Session::stop`], when dropped
/// (also on an error or a panic), and by a watchdog process if xtask itself is killed (Ctrl-C):
/// the watchdog waits for its stdin, a pipe from this process, to close.
pub struct Session {
    started: Vec<(&'static Service, PidFile)>,
    watchdog: Option<Child>,
    /// Every service that is up for the run, with its variables.
    pub running: Vec<Running>,
}

impl Session {
    /// Bring `services` up for a test run (reusing those already running). Fails if any
    /// cannot be started, after stopping those it started.
    pub fn start(services: &[&'static Service]) -> Result<Session> {
        let report = up(services)?;
        let mut session = Session {
            started: report.running.iter().filter(|r| r.started).map(|r| (r.service, r.pid)).collect(),
            watchdog: None,
            running: Vec::new(),
        };
        if !report.failed.is_empty() {
            let errors: Vec<String> = report.failed.iter().map(|e| e.0.clone()).collect();
            session.stop();
            bail!("test services failed to start:\n{}", errors.join("\n"));
        }
        if !session.started.is_empty() {
            match spawn_watchdog(&session.started) {
                Ok(child) => session.watchdog = Some(child),
                Err(e) => eprintln!("services: no watchdog ({e}): after a Ctrl-C, run `cargo xtask services down`"),
            }
        }
        let names =
            |started: bool| report.running.iter().filter(|r| r.started == started).map(|r| r.service.name).collect::<Vec<_>>().join(" ");
        println!(
            "services: ready in {:.1}s (install check/install {:.1}s, start {:.1}s); started: {}; \
             already running (left running): {}",
            (report.install + report.start).as_secs_f64(),
            report.install.as_secs_f64(),
            report.start.as_secs_f64(),
            or_none(names(true)),
            or_none(names(false)),
        );
        session.running = report.running;
        Ok(session)
    }

    /// Stop the services this session started (idempotent).
    pub fn stop(&mut self) {
        if !self.started.is_empty() {
            let started = std::mem::take(&mut self.started);
            if let Err(e) = stop_started(&started) {
                eprintln!("services: {e}");
            }
        }
        if let Some(mut w) = self.watchdog.take() {
            drop(w.stdin.take());
            let _ = w.wait();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop();
    }
}

fn or_none(s: String) -> String {
    if s.is_empty() { "none".into() } else { s }
}

/// Stop the recorded processes that still run.
fn stop_started(started: &[(&'static Service, PidFile)]) -> Result<()> {
    let emu = emu_dir()?;
    let _lock = lock(&emu)?;
    let mut targets = Vec::new();
    for (svc, pf) in started {
        if !pf.gone() {
            targets.push((*svc, ctx_for(svc, &emu)?, *pf));
        }
    }
    stop(&targets)
}

fn spawn_watchdog(started: &[(&'static Service, PidFile)]) -> Result<Child> {
    let exe = std::env::current_exe().map_err(|e| Error(format!("own executable: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.args(["services", "__watch"]);
    for (svc, pf) in started {
        cmd.arg(format!("{}:{}:{}:{}", svc.name, pf.pid, pf.port, pf.start.map(|s| s.to_string()).unwrap_or_default()));
    }
    cmd.stdin(Stdio::piped()).process_group(0);
    cmd.spawn().map_err(|e| Error(format!("cannot spawn the watchdog: {e}")))
}

/// `services __watch NAME:PID:PORT:START...`: wait for stdin to close, then stop those
/// processes if they still run.
fn watch(args: &[String]) -> Result<()> {
    let mut started = Vec::new();
    for a in args {
        let parts: Vec<&str> = a.split(':').collect();
        let (Some(svc), Some(pid), Some(port)) = (
            parts.first().and_then(|n| SERVICES.iter().find(|s| s.name == *n)),
            parts.get(1).and_then(|p| p.parse().ok()),
            parts.get(2).and_then(|p| p.parse().ok()),
        ) else {
            bail!("bad watch argument `{a}`")
        };
        let start = parts.get(3).and_then(|s| s.parse().ok());
        started.push((svc, PidFile { pid, port, start }));
    }
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    if started.iter().all(|(_, pf)| pf.gone()) {
        return Ok(());
    }
    let names: Vec<&str> = started.iter().map(|(s, _)| s.name).collect();
    println!("\nservices: the xtask run that started {} ended without stopping them: stopping them", names.join(" "));
    let _ = std::io::stdout().flush();
    stop_started(&started)
}

const USAGE: &str = "usage: cargo xtask services up|down|env|status [NAME...]";

fn help() -> String {
    let mut s = format!(
        "{USAGE}\n\n\
         up      install what is missing, start what is not running, wait until ready\n\
         down    stop the services (by the PIDs in their PID files: SIGTERM, then SIGKILL)\n\
         env     print `export VAR=value` lines for the running services:\n\
         \x20       eval \"$(cargo xtask services env)\"; cargo test\n\
         status  installed versions, PIDs, ports, readiness\n\n\
         Without NAME: all of them. Services (default port; override with STEVEDORE_PORT_<NAME>):\n"
    );
    for svc in SERVICES {
        s.push_str(&format!("  {:<9} {:<6} {}\n", svc.name, svc.port, svc.about));
    }
    s.push_str(
        "\nInstalls in $STEVEDORE_CACHE/emu (default ~/.cache/stevedore/emu); PID files and logs in emu/run.\n\
         STEVEDORE_PG_BIN names another folder with PostgreSQL's binaries.\n",
    );
    s
}

pub fn main(args: &[String]) -> Result<ExitCode> {
    let Some((cmd, names)) = args.split_first() else {
        print!("{}", help());
        return Ok(ExitCode::from(2));
    };
    match cmd.as_str() {
        "up" => {
            let services = select(names)?;
            let t = Instant::now();
            let report = up(&services)?;
            for e in &report.failed {
                eprintln!("xtask services: error: {e}");
            }
            println!(
                "services: {} up in {:.1}s (install {:.1}s, start {:.1}s); use them from cargo test with: \
                 eval \"$(cargo xtask services env)\"",
                report.running.len(),
                t.elapsed().as_secs_f64(),
                report.install.as_secs_f64(),
                report.start.as_secs_f64()
            );
            Ok(if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        "down" => down(&select(names)?).map(|()| ExitCode::SUCCESS),
        "env" => env_cmd(&select(names)?).map(|()| ExitCode::SUCCESS),
        "status" => status(&select(names)?).map(|()| ExitCode::SUCCESS),
        "__watch" => watch(names).map(|()| ExitCode::SUCCESS),
        "-h" | "--help" | "help" => {
            print!("{}", help());
            Ok(ExitCode::SUCCESS)
        }
        other => bail!("unknown command `{other}`\n{USAGE}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        let mut names: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
        let mut ports: Vec<u16> = SERVICES.iter().map(|s| s.port).collect();
        names.sort_unstable();
        names.dedup();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(names.len(), SERVICES.len(), "names must be unique");
        assert_eq!(ports.len(), SERVICES.len(), "default ports must be unique");
        for svc in SERVICES {
            assert!(svc.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{}", svc.name);
        }
    }

    #[test]
    fn the_env_contract() {
        let env = |name: &str, port: u16| {
            let svc = SERVICES.iter().find(|s| s.name == name).unwrap();
            let ctx = Ctx::new(svc, Path::new("/emu"), port);
            (svc.env)(&ctx).unwrap()
        };
        let get = |vars: &[(&str, String)], k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()).unwrap();
        let pg = env("postgres", 55432);
        assert_eq!(get(&pg, "STEVEDORE_PG_URL"), "postgresql://postgres@127.0.0.1:55432/postgres");
        assert!(get(&pg, "STEVEDORE_PSQL").ends_with("psql"));
        let s3 = env("s3", 9020);
        assert_eq!(get(&s3, "STEVEDORE_S3_ENDPOINT"), "http://127.0.0.1:9020");
        assert_eq!(get(&s3, "STEVEDORE_S3_KEY_ID"), "test");
        assert_eq!(get(&s3, "STEVEDORE_S3_SECRET"), "test");
        assert_eq!(get(&s3, "STEVEDORE_S3_REGION"), "us-east-1");
        let az = env("azure", 10000);
        assert_eq!(get(&az, "STEVEDORE_AZURE_ENDPOINT"), "http://127.0.0.1:10000/devstoreaccount1");
        assert_eq!(get(&az, "STEVEDORE_AZURE_ACCOUNT"), "devstoreaccount1");
        assert_eq!(get(&az, "STEVEDORE_AZURE_KEY"), table::AZURITE_KEY);
        let gcs = env("gcs", 9024);
        assert_eq!(get(&gcs, "STEVEDORE_GCS_ENDPOINT"), "http://127.0.0.1:9024");
        let bq = env("bigquery", 9050);
        assert_eq!(get(&bq, "STEVEDORE_BQ_ENDPOINT"), "http://127.0.0.1:9050");
        assert_eq!(get(&bq, "STEVEDORE_BQ_PROJECT"), "stevedore-test");
        let sf = env("snowflake", 9030);
        assert_eq!(get(&sf, "STEVEDORE_SNOWFLAKE_ENDPOINT"), "http://127.0.0.1:9030");
        assert!(get(&sf, "STEVEDORE_SNOWFLAKE_PYTHON").ends_with("bin/python"));
    }

    #[test]
    fn export_lines_quote_only_when_needed() {
        assert_eq!(export_line("STEVEDORE_AZURE_KEY", "ab+/c=="), "export STEVEDORE_AZURE_KEY=ab+/c==");
        assert_eq!(export_line("X", "a b'c"), r"export X='a b'\''c'");
    }

    #[test]
    fn selection_and_port_variables() {
        assert_eq!(select(&[]).unwrap().len(), SERVICES.len());
        let one = select(&["gcs".to_string(), "postgres".to_string()]).unwrap();
        assert_eq!(one.iter().map(|s| s.name).collect::<Vec<_>>(), ["postgres", "gcs"]);
        assert!(select(&["redis".to_string()]).is_err());
        assert_eq!(port_var("s3"), "STEVEDORE_PORT_S3");
        assert_eq!(port_var("big-query"), "STEVEDORE_PORT_BIG_QUERY");
    }
}

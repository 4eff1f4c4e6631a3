//! The processes of the test services: spawned in a process group of their own, recorded in
//! PID files, checked through `/proc`, stopped by PID with `kill`, probed over TCP.
//!
//! Standard library only: signals go through the `kill` program, liveness and process start
//! times come from `/proc/<pid>/stat` (with `kill -0` where there is no `/proc`).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// Every service listens on this address only.
pub const HOST: &str = "127.0.0.1";

/// What a PID file records: the server's PID (first line, so `kill $(head -1 x.pid)` works),
/// its port, and its start time in clock ticks since boot, so a PID reused by an unrelated
/// process is never taken for the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidFile {
    pub pid: u32,
    pub port: u16,
    pub start: Option<u64>,
}

impl PidFile {
    /// The record for a process that was just spawned.
    pub fn of(pid: u32, port: u16) -> PidFile {
        PidFile { pid, port, start: proc_stat(pid).map(|s| s.start) }
    }

    pub fn render(&self) -> String {
        let mut s = format!("{}\nport={}\n", self.pid, self.port);
        if let Some(start) = self.start {
            s.push_str(&format!("start={start}\n"));
        }
        s
    }

    pub fn parse(text: &str) -> Option<PidFile> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let pid = lines.next()?.parse().ok().filter(|&p: &u32| p > 1)?;
        let (mut port, mut start) = (None, None);
        for line in lines {
            match line.split_once('=') {
                Some(("port", v)) => port = v.parse().ok(),
                Some(("start", v)) => start = v.parse().ok(),
                _ => {}
            }
        }
        Some(PidFile { pid, port: port?, start })
    }

    pub fn read(path: &Path) -> Option<PidFile> {
        PidFile::parse(&fs::read_to_string(path).ok()?)
    }

    /// Write atomically (temporary file, then rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("pid.tmp");
        fs::write(&tmp, self.render())
            .and_then(|()| fs::rename(&tmp, path))
            .map_err(|e| Error(format!("cannot write {}: {e}", path.display())))
    }

    /// Whether the recorded process still runs and is the one recorded (same start time).
    pub fn alive(&self) -> bool {
        if !has_proc() {
            return signal(&self.pid.to_string(), "0");
        }
        match proc_stat(self.pid) {
            Some(st) => st.state != 'Z' && self.start.is_none_or(|s| s == st.start),
            None => false,
        }
    }

    /// Whether the process and everything left in its process group are gone. The group is
    /// the server's own: every service is spawned as the leader of a new process group.
    pub fn gone(&self) -> bool {
        !self.alive() && !group_alive(self.pid)
    }
}

/// The fields of `/proc/<pid>/stat` used here.
struct Stat {
    state: char,
    pgrp: u32,
    start: u64,
}

fn has_proc() -> bool {
    Path::new("/proc/self/stat").exists()
}

fn proc_stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat { state: fields.first()?.chars().next()?, pgrp: fields.get(2)?.parse().ok()?, start: fields.get(19)?.parse().ok()? })
}

/// Whether a live (non-zombie) process is still in process group `pgid`.
fn group_alive(pgid: u32) -> bool {
    if !has_proc() {
        return signal(&format!("-{pgid}"), "0");
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()).and_then(proc_stat).is_some_and(|st| st.pgrp == pgid && st.state != 'Z')
    })
}

/// `kill -SIG -- TARGET` (TARGET is a PID, or `-PGID` for a process group); whether it worked.
pub fn signal(target: &str, sig: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Spawn `cmd` as the leader of a new process group (so a Ctrl-C in the terminal does not
/// reach it), with stdin from /dev/null and stdout and stderr appended to `log`.
pub fn spawn(cmd: &mut Command, log: &Path) -> Result<Child> {
    let out = File::options().create(true).append(true).open(log).map_err(|e| Error(format!("cannot open {}: {e}", log.display())))?;
    let err = out.try_clone().map_err(|e| Error(format!("cannot open {}: {e}", log.display())))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
    cmd.spawn().map_err(|e| crate::proc::spawn_error(cmd, e, "run `cargo xtask services up` again to reinstall"))
}

/// How a stop went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It exited after the graceful signal.
    Gracefully,
    /// It was still there after the grace period and got SIGKILL.
    Killed,
    /// Even SIGKILL did not end it (should not happen).
    Stuck,
}

/// Send each process its graceful signal, wait up to `grace` for all of them (and their process
/// groups) to go, then SIGKILL the groups of those left. Only the recorded PIDs are signalled.
pub fn stop_all(targets: &[(PidFile, &str)], grace: Duration) -> Vec<Stopped> {
    for (pf, sig) in targets {
        if pf.alive() {
            signal(&pf.pid.to_string(), sig);
        }
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && !targets.iter().all(|(pf, _)| pf.gone()) {
        thread::sleep(Duration::from_millis(50));
    }
    let mut outcome: Vec<Stopped> = targets
        .iter()
        .map(|(pf, _)| {
            if pf.gone() {
                Stopped::Gracefully
            } else {
                // the group is ours: the server was spawned as its leader
                signal(&format!("-{}", pf.pid), "KILL");
                signal(&pf.pid.to_string(), "KILL");
                Stopped::Killed
            }
        })
        .collect();
    if outcome.contains(&Stopped::Killed) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !targets.iter().all(|(pf, _)| pf.gone()) {
            thread::sleep(Duration::from_millis(50));
        }
        for ((pf, _), o) in targets.iter().zip(outcome.iter_mut()) {
            if !pf.gone() {
                *o = Stopped::Stuck;
            }
        }
    }
    outcome
}

/// Whether nothing listens on `HOST:port` (we can bind it).
pub fn port_free(port: u16) -> bool {
    TcpListener::bind((HOST, port)).is_ok()
}

/// `GET path` on `HOST:port`: the status code of any HTTP answer, or `None`.
pub fn http_status(port: u16, path: &str, timeout: Duration) -> Option<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match stream.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let head = String::from_utf8_lossy(&head[..n]);
    head.strip_prefix("HTTP/")?.split_whitespace().nth(1)?.parse().ok()
}

/// The last `lines` lines of a log file, indented, for error messages.
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(text) = fs::read(path) else {
        return format!("    ({} is missing)", path.display());
    };
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    if all.is_empty() {
        return format!("    ({} is empty)", path.display());
    }
    let from = all.len().saturating_sub(lines);
    let mut s = format!("--- last lines of {} ---\n", path.display());
    for l in &all[from..] {
        s.push_str("    ");
        s.push_str(l);
        s.push('\n');
    }
    s.push_str("---");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_round_trips() {
        let pf = PidFile { pid: 1234, port: 9020, start: Some(987_654) };
        assert_eq!(PidFile::parse(&pf.render()), Some(pf));
        assert!(pf.render().starts_with("1234\n"));
        let no_start = PidFile { start: None, ..pf };
        assert_eq!(PidFile::parse(&no_start.render()), Some(no_start));
        assert_eq!(PidFile::parse("garbage\nport=1\n"), None);
        assert_eq!(PidFile::parse("1234\n"), None, "the port is required");
        assert_eq!(PidFile::parse("1\nport=1\n"), None, "never PID 1");
    }

    #[test]
    fn own_process_is_alive_and_a_changed_start_time_is_not() {
        let me = PidFile::of(std::process::id(), 1);
        assert!(me.alive());
        if let Some(start) = me.start {
            let other = PidFile { start: Some(start + 1), ..me };
            assert!(!other.alive(), "a reused PID must not count as the server");
        }
    }

    #[test]
    fn stop_all_ends_a_spawned_process_group() {
        let dir = std::env::temp_dir().join(format!("xtask-stop-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("sleep.log");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30; wait"]);
        let mut child = spawn(&mut cmd, &log).unwrap();
        let pf = PidFile::of(child.id(), 1);
        // let the shell start its background sleep
        thread::sleep(Duration::from_millis(200));
        assert!(pf.alive());
        let outcome = stop_all(&[(pf, "TERM")], Duration::from_secs(1));
        let _ = child.wait();
        assert!(pf.gone(), "{outcome:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn http_status_reads_the_status_line() {
        let listener = TcpListener::bind((HOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").unwrap();
        });
        assert_eq!(http_status(port, "/", Duration::from_secs(2)), Some(403));
        server.join().unwrap();
    }

    #[test]
    fn a_bound_port_is_not_free() {
        let listener = TcpListener::bind((HOST, 0)).unwrap();
        assert!(!port_free(listener.local_addr().unwrap().port()));
    }
}

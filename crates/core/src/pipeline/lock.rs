//! One run per pipeline at a time: an OS file lock on the pipeline's working folder.
//!
//! The lock is `flock` on `<working dir>/.lock` (through `std::fs::File::lock`). The kernel
//! releases it when the holding process ends, however it ends (`kill -9` included), so a lock
//! is never left behind. The holder writes its process id into the file, so that a second run
//! can say who holds the pipeline. Different pipelines have different working folders and
//! run concurrently.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// File name of the lock in a pipeline's working folder.
pub const LOCK_FILE: &str = ".lock";

/// Holds a pipeline's working folder for one run; released on drop (or when the process ends).
#[derive(Debug)]
pub struct PipelineLock {
    file: File,
    path: PathBuf,
}

impl PipelineLock {
    /// Takes the lock of the pipeline `name` whose working folder is `working_dir` without
    /// waiting: fails at once, naming the process that holds it, when another run has it.
    pub fn try_acquire(working_dir: &Path, name: &str) -> Result<PipelineLock> {
        let (mut file, path) = open(working_dir)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = holder(&mut file);
                return Err(Error::new(
                    ErrorKind::State,
                    format!("pipeline `{name}` is being run by another stevedore process ({holder})"),
                )
                .with("working_dir", working_dir.display().to_string())
                .with_hint(
                    "wait for that run to finish, or pass --wait to wait for it; two runs of one pipeline would mix their load packages",
                ));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock pipeline folder", &path, e)),
        }
        write_pid(&mut file, &path)?;
        Ok(PipelineLock { file, path })
    }

    /// Takes the lock, waiting for another run to release it. `waiting` is called once, with
    /// a description of the holder, when the lock is held by someone else.
    pub fn acquire_waiting(working_dir: &Path, name: &str, waiting: impl FnOnce(&str)) -> Result<PipelineLock> {
        match Self::try_acquire(working_dir, name) {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == ErrorKind::State => {}
            Err(e) => return Err(e),
        }
        let (mut file, path) = open(working_dir)?;
        waiting(&holder(&mut file));
        file.lock().map_err(|e| Error::io("lock pipeline folder", &path, e))?;
        write_pid(&mut file, &path)?;
        Ok(PipelineLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PipelineLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

fn open(working_dir: &Path) -> Result<(File, PathBuf)> {
    std::fs::create_dir_all(working_dir).map_err(|e| Error::io("create working folder", working_dir, e))?;
    let path = working_dir.join(LOCK_FILE);
    // not truncated on open: the holder's pid is in it
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("open lock file", &path, e))?;
    Ok((file, path))
}

fn holder(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.seek(SeekFrom::Start(0)).and_then(|_| file.read_to_string(&mut s));
    match s.trim().parse::<u32>() {
        Ok(pid) => format!("process {pid}"),
        Err(_) => "a process that has not written its id yet".to_string(),
    }
}

fn write_pid(file: &mut File, path: &Path) -> Result<()> {
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(std::process::id().to_string().as_bytes()))
        .map_err(|e| Error::io("write lock file", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_first_ones_pid_then_gets_it_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let first = PipelineLock::try_acquire(dir.path(), "p").unwrap();
        let err = PipelineLock::try_acquire(dir.path(), "p").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("pipeline `p`"), "{msg}");
        assert!(msg.contains(&format!("process {}", std::process::id())), "{msg}");
        assert!(msg.contains("--wait"), "{msg}");
        drop(first);
        let again = PipelineLock::try_acquire(dir.path(), "p");
        assert!(again.is_ok(), "free after the first holder dropped it");
    }

    #[test]
    fn a_waiting_holder_gets_the_lock_when_the_first_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = PipelineLock::try_acquire(dir.path(), "p").unwrap();
        let path = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || PipelineLock::acquire_waiting(&path, "p", |h| tx.send(h.to_string()).unwrap()).map(|_| ()));
        let holder = rx.recv().unwrap();
        assert_eq!(holder, format!("process {}", std::process::id()));
        assert!(!t.is_finished(), "still waiting while the first holds the lock");
        drop(first);
        t.join().unwrap().unwrap();
    }

    #[test]
    fn different_pipelines_do_not_block_each_other() {
        let root = tempfile::tempdir().unwrap();
        let _a = PipelineLock::try_acquire(&root.path().join("a"), "a").unwrap();
        let _b = PipelineLock::try_acquire(&root.path().join("b"), "b").unwrap();
    }
}

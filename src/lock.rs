//! Exclusive file locks: the per-service action lock and the node-wide
//! `startip` lock (docs/behaviour.md, "Service lock"). `flock` is released by
//! the kernel when the process dies, so a crashed svcmgr never leaves a stale
//! lock behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error("timed out waiting for lock {path}: another action is currently running (pid={pid})")]
    Held { path: PathBuf, pid: String },
    #[error("timed out waiting for lock {path}")]
    Timeout { path: PathBuf },
    #[error("can not create lock file {path}: {err}")]
    Create { path: PathBuf, err: std::io::Error },
}

/// Held until dropped.
#[derive(Debug)]
pub(crate) struct LockGuard {
    _lock: Flock<File>,
}

const POLL: Duration = Duration::from_millis(100);

/// Tries at once, then every 100 ms until `wait` has passed. Unlike 1.5,
/// a `wait` under 5 s still gets at least one attempt.
pub(crate) fn acquire(path: &Path, wait: Duration) -> Result<LockGuard, LockError> {
    let create = |err| LockError::Create {
        path: path.to_path_buf(),
        err,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(create)?;
    }
    // `--waitlock` comes from the command line: any u64 of seconds.
    let deadline = crate::config::duration::deadline(Instant::now(), wait);
    let mut file = open(path).map_err(create)?;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                // Written after locking so a waiter never reads a torn pid.
                let _ = lock.set_len(0);
                let _ = lock.rewind();
                let _ = write!(lock, "{}", std::process::id());
                let _ = lock.sync_data();
                return Ok(LockGuard { _lock: lock });
            }
            Err((f, _)) => file = f,
        }
        if Instant::now() >= deadline {
            let mut pid = String::new();
            let _ = file.rewind();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim().to_string();
            return Err(if pid.is_empty() {
                LockError::Timeout {
                    path: path.to_path_buf(),
                }
            } else {
                LockError::Held {
                    path: path.to_path_buf(),
                    pid,
                }
            });
        }
        std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_times_out_and_names_the_first() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock/svc");
        let g = acquire(&p, Duration::ZERO).unwrap();
        let err = acquire(&p, Duration::from_millis(150)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "timed out waiting for lock {}: another action is currently running (pid={})",
                p.display(),
                std::process::id()
            )
        );
        drop(g);
        assert!(acquire(&p, Duration::ZERO).is_ok());
    }
}

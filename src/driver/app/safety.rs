//! Whether a launcher may run as root: only root (or the user running
//! svcmgr) may have changed it or any directory on its path, and the
//! launcher log directory must be ours. Checked at preflight and again
//! just before each launcher runs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::io_error_text;
use crate::log::Logger;
use crate::safepath;

/// Why a launcher was not run.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Someone else than root could have changed it: the action must fail.
    Unsafe,
    /// It cannot run at all (broken link, directory): logged, skipped.
    Broken,
}

/// Why the file behind `path` must not run as root, if it must not: it must
/// belong to root or to us, and nobody else may write it.
pub(super) fn unsafe_reason(
    path: &Path,
    target: &Path,
    uid: u32,
    mode: u32,
    euid: u32,
) -> Option<String> {
    if mode & 0o022 != 0 {
        return Some(format!(
            "{} is writable by group or others: refusing to run it (fix with: chmod go-w {})",
            path.display(),
            target.display()
        ));
    }
    if uid != 0 && uid != euid {
        return Some(format!(
            "{} is owned by uid {uid}: refusing to run it (launchers must be owned by root)",
            path.display()
        ));
    }
    None
}

/// A directory on a launcher's path that someone else than root could
/// change: the launcher is as safe as its least safe directory.
pub(super) fn unsafe_dir_message(path: &Path, e: &safepath::Untrusted) -> String {
    format!(
        "{}: {e}: refusing to run it (fix with: {})",
        path.display(),
        e.fix()
    )
}

pub(super) fn tmp_dir_message(e: &safepath::Untrusted) -> String {
    format!(
        "{e}: refusing to write launcher logs there (remove it, or fix with: chown root:root {d} && chmod 0700 {d})",
        d = e.dir.display()
    )
}

/// Checks a launcher before it runs and makes it executable if needed
/// (1.5 did `chmod +x`, logged).
pub(super) fn prepare(log: &Logger, path: &Path) -> Result<(), Refusal> {
    let broken = |text: String| {
        log.error(format!("{} execution error ({text})", path.display()));
        Refusal::Broken
    };
    let meta = std::fs::metadata(path).map_err(|e| broken(io_error_text(&e)))?;
    if meta.is_dir() {
        return Err(broken("Is a directory".to_string()));
    }
    if !meta.is_file() {
        return Err(broken("not a regular file".to_string()));
    }
    let target = match safepath::check_path(path) {
        Ok(t) => t,
        Err(e) => {
            log.error(unsafe_dir_message(path, &e));
            return Err(Refusal::Unsafe);
        }
    };
    let euid = nix::unistd::geteuid().as_raw();
    if let Some(reason) = unsafe_reason(path, &target, meta.uid(), meta.mode(), euid) {
        log.error(reason);
        return Err(Refusal::Unsafe);
    }
    if meta.mode() & 0o100 == 0 {
        log.info(format!("chmod +x {}", path.display()));
        let perms = std::fs::Permissions::from_mode((meta.mode() | 0o111) & 0o7777);
        std::fs::set_permissions(path, perms)
            .map_err(|e| broken(format!("chmod +x failed: {}", io_error_text(&e))))?;
    }
    Ok(())
}

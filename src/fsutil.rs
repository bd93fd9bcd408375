//! File helpers: atomic writes (a temp file in the same directory, fsync,
//! rename) and modification times.

use std::io::Write;
use std::path::Path;

pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_atomic_at(path, data, None)
}

/// `write_atomic` with the file's modification time set before the rename,
/// so that the file never appears with another time (config replication
/// keeps the origin's time: newest-wins must agree on every node).
pub fn write_atomic_at(
    path: &Path,
    data: &[u8],
    mtime: Option<std::time::SystemTime>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        if let Some(t) = mtime {
            f.set_modified(t)?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// A file's modification time; None when it cannot be read.
pub fn mtime(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

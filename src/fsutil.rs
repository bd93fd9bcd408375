//! File helpers: the one atomic writer every config and state file goes
//! through, the sweep of the temp files a killed writer leaves, and
//! modification times.
//!
//! The writer's rules (issue 10, items 9, 12 and 13):
//! - the temp file is created `O_EXCL | O_NOFOLLOW` with mode 0600, so it
//!   never holds a secret readable by others, not even for a moment;
//! - a rewrite keeps the file's mode and owner (an `edit config` once
//!   turned a user's 0600 file into root's 0644), unless the file must be
//!   private ([`Perms::Private`], node.conf and its cluster secret);
//! - the file and then its directory are synced, so a crash leaves either
//!   the old file or the new one;
//! - the temp file is named `.<name>.tmp.<pid>.<random>`, so a stale one
//!   is recognisable, and the writer whose pid is dead is known.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The mode a rewritten file gets: a closed set, so that no caller can
/// ask for "whatever the umask gives".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Perms {
    /// The existing file's mode and owner; 0600 for a new file, which may
    /// hold credentials (a service file's application passwords).
    #[default]
    Keep,
    /// 0600 whatever the existing file's mode: a file holding the cluster
    /// secret.
    Private,
}

/// How to write: see [`write_atomic_with`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WriteOpts {
    pub perms: Perms,
    /// Set before the rename, so that the file never appears with another
    /// time (config replication keeps the origin's time: newest-wins must
    /// agree on every node).
    pub mtime: Option<SystemTime>,
}

/// A temp file older than this whose writer is dead is stale. A write
/// takes milliseconds; the bound only guards against a writer in another
/// pid namespace, whose pid means nothing here.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(10);

pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    write_atomic_with(path, data, WriteOpts::default())
}

/// `write_atomic` with the origin's modification time.
pub(crate) fn write_atomic_at(
    path: &Path,
    data: &[u8],
    mtime: Option<SystemTime>,
) -> io::Result<()> {
    write_atomic_with(
        path,
        data,
        WriteOpts {
            mtime,
            ..WriteOpts::default()
        },
    )
}

/// Replaces `path` by `data`: temp file in the same directory, fsync,
/// rename, fsync of the directory. A symlink is followed, not replaced
/// (`set` on a linked service file edits the file). Stale temp files of
/// the same file are swept first.
pub(crate) fn write_atomic_with(path: &Path, data: &[u8], opts: WriteOpts) -> io::Result<()> {
    let target = match fs::canonicalize(path) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(e),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} is not a file name", path.display())))?;
    sweep(&dir, Some(name));
    let tmp = dir.join(temp_name(name)?);
    let meta = fs::metadata(&target).ok();
    let res = write_replace(&tmp, &target, &dir, data, meta.as_ref(), opts);
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// The options every temp file is opened with: new (never an existing
/// file, never through a link planted at its name) and 0600 from its first
/// byte. The umask can only narrow the mode.
fn temp_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW);
    o
}

fn write_replace(
    tmp: &Path,
    target: &Path,
    dir: &Path,
    data: &[u8],
    meta: Option<&fs::Metadata>,
    opts: WriteOpts,
) -> io::Result<()> {
    let mut f = temp_options().open(tmp)?;
    let mode = match (opts.perms, meta) {
        (Perms::Keep, Some(m)) => m.permissions().mode() & 0o7777,
        _ => 0o600,
    };
    if let (Perms::Keep, Some(m)) = (opts.perms, meta) {
        // Only root may give a file away; anyone else keeps their own
        // files. Before the chmod: a chown clears the set-id bits.
        let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
    }
    // Before the first byte: the umask may have narrowed the open() mode,
    // and a kept mode is never wider than the file already was.
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    #[cfg(test)]
    tests::before_first_byte(tmp);
    f.write_all(data)?;
    if let Some(t) = opts.mtime {
        f.set_modified(t)?;
    }
    f.sync_all()?;
    drop(f);
    fs::rename(tmp, target)?;
    // Make the rename itself durable (some file systems cannot sync a
    // directory: the rename is then as durable as they make it).
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `.<name>.tmp.<pid>.<random>`.
fn temp_name(name: &OsStr) -> io::Result<String> {
    let mut r = [0u8; 6];
    getrandom::fill(&mut r).map_err(|e| io::Error::other(format!("no random bytes: {e}")))?;
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        ".{}.tmp.{}.{hex}",
        name.to_string_lossy(),
        std::process::id()
    ))
}

/// The file a temp file would have replaced, and its writer's pid, when
/// `entry` is one: ours, or one left by an earlier version
/// (`.<name>.tmp<pid>`, `.<name>.svcmgr-tmp.<pid>`).
fn parse_temp(entry: &str) -> Option<(&str, i32)> {
    let rest = entry.strip_prefix('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // Ours: the last two dot-separated fields are the pid and 12 hex digits.
    if let Some((head, rand)) = rest.rsplit_once('.')
        && rand.len() == 12
        && rand.bytes().all(|b| b.is_ascii_hexdigit())
        && let Some((head, pid)) = head.rsplit_once('.')
        && digits(pid)
        && let Some(name) = head.strip_suffix(".tmp")
    {
        return Some((name, pid.parse().ok()?));
    }
    if let Some((name, pid)) = rest.rsplit_once(".svcmgr-tmp.")
        && digits(pid)
    {
        return Some((name, pid.parse().ok()?));
    }
    let (name, pid) = rest.rsplit_once(".tmp")?;
    if digits(pid) {
        return Some((name, pid.parse().ok()?));
    }
    None
}

/// Whether process `pid` exists (EPERM: it does, as someone else's).
fn alive(pid: i32) -> bool {
    if pid <= 0 {
        return true;
    }
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// Removes the stale temp files of `dir` (of the file `only` when given):
/// older than [`STALE_AFTER`] and whose writer is dead. A live writer's
/// temp file is never touched. Returns what was removed.
pub(crate) fn sweep(dir: &Path, only: Option<&OsStr>) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let now = SystemTime::now();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some((name, pid)) = file_name.to_str().and_then(parse_temp) else {
            continue;
        };
        if only.is_some_and(|o| o != OsStr::new(name)) || alive(pid) {
            continue;
        }
        // lstat: a temp file is a regular file; anything else is not ours.
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if meta.is_file() && old && fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed.sort();
    removed
}

/// A file's modification time; None when it cannot be read.
pub(crate) fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// What tells one version of a file from another without reading it: an
/// edit changes at least one (an atomic install is a new inode; mtimes
/// have nanoseconds). Caches of what was read or hashed from a file are
/// keyed on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    ino: u64,
    len: u64,
    mtime: Option<SystemTime>,
}

impl FileId {
    /// None when the file cannot be stat'ed.
    pub(crate) fn of(path: &Path) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        let md = fs::metadata(path).ok()?;
        Some(FileId {
            ino: md.ino(),
            len: md.len(),
            mtime: md.modified().ok(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// The names in `dir`, sorted.
    pub(crate) fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// A pid no process can have: pids stay below `pid_max`.
    pub(crate) fn dead_pid() -> u32 {
        std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4_194_304)
    }

    fn age(p: &Path, secs: u64) {
        let f = fs::File::options().write(true).open(p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    thread_local! {
        /// The modes temp files had when their first byte was written.
        static SEEN: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    pub(super) fn before_first_byte(tmp: &Path) {
        SEEN.with(|s| s.borrow_mut().push(mode(tmp)));
    }

    fn seen() -> Vec<u32> {
        SEEN.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }

    /// Issue 10, item 9: the secret went into a temp file with node.conf's
    /// 0644, chmodded only after the write. The open() mode is 0600, which
    /// a umask can only narrow.
    #[test]
    fn a_secret_is_never_written_into_a_readable_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("node.conf");
        fs::write(&f, "[node]\n").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        seen();
        let private = WriteOpts {
            perms: Perms::Private,
            mtime: None,
        };
        write_atomic_with(&f, b"[cluster]\nsecret = s\n", private).unwrap();
        assert_eq!(seen(), vec![0o600]);
        assert_eq!(mode(&f), 0o600);
        let new = d.path().join("new.conf");
        write_atomic(&new, b"x").unwrap();
        assert_eq!(seen(), vec![0o600], "a new file is 0600 from the start");
    }

    #[test]
    fn temp_files_are_always_new() {
        let d = tempfile::tempdir().unwrap();
        drop(temp_options().open(d.path().join("t")).unwrap());
        let again = temp_options().open(d.path().join("t")).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn a_temp_file_name_planted_as_a_symlink_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, d.path().join("t")).unwrap();
        assert!(temp_options().open(d.path().join("t")).is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
    }

    #[test]
    fn a_new_file_is_0600_and_a_rewrite_keeps_mode_and_owner() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("s.conf");
        write_atomic(&f, b"a").unwrap();
        assert_eq!(mode(&f), 0o600);
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(&f, Some(1000), Some(1000)).unwrap();
        }
        let ino = fs::metadata(&f).unwrap().ino();
        write_atomic(&f, b"b").unwrap();
        let m = fs::metadata(&f).unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "b");
        assert_eq!(m.permissions().mode() & 0o7777, 0o640);
        assert_ne!(m.ino(), ino, "replaced by rename, not rewritten in place");
        if nix::unistd::geteuid().is_root() {
            assert_eq!((m.uid(), m.gid()), (1000, 1000));
        }
        assert_eq!(entries(d.path()), vec!["s.conf"]);
    }

    #[test]
    fn the_origin_mtime_and_the_local_mode_are_kept() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("s.conf");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        write_atomic_at(&f, b"a", Some(t)).unwrap();
        assert_eq!(mtime(&f), Some(t));
        // A replicated install keeps the local mode (it reset 0600 to 0644).
        write_atomic_at(&f, b"b", Some(t)).unwrap();
        assert_eq!(mode(&f), 0o600);
    }

    #[test]
    fn temp_names_are_recognised_with_their_pid() {
        let n = temp_name(OsStr::new("node.conf")).unwrap();
        let pid = std::process::id() as i32;
        assert_eq!(parse_temp(&n), Some(("node.conf", pid)));
        assert_eq!(parse_temp(".a.tmp.12.0123456789ab"), Some(("a", 12)));
        assert_eq!(parse_temp(".s.conf.svcmgr-tmp.77"), Some(("s.conf", 77)));
        assert_eq!(parse_temp(".s.conf.tmp77"), Some(("s.conf", 77)));
        for not_ours in [
            "s.conf",
            ".s.conf",
            ".s.tmp",
            "x.tmp.1.0123456789ab",
            ".a.tmp.x",
        ] {
            assert_eq!(parse_temp(not_ours), None, "{not_ours}");
        }
    }

    /// Issue 10, item 13: a killed `set` left node.conf copies behind.
    #[test]
    fn stale_temp_files_of_dead_writers_are_swept_live_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let dead = dead_pid();
        let me = std::process::id();
        let stale = d.path().join(format!(".node.conf.tmp.{dead}.0123456789ab"));
        let old_style = d.path().join(format!(".s.conf.svcmgr-tmp.{dead}"));
        let live = d.path().join(format!(".node.conf.tmp.{me}.0123456789ab"));
        let fresh = d.path().join(format!(".node.conf.tmp.{dead}.ba9876543210"));
        for f in [&stale, &old_style, &live, &fresh] {
            fs::write(f, "secret").unwrap();
        }
        for f in [&stale, &old_style, &live] {
            age(f, 3600);
        }
        // Only node.conf's: the other file's temp stays.
        assert_eq!(
            sweep(d.path(), Some(OsStr::new("node.conf"))),
            vec![stale.clone()]
        );
        assert!(old_style.exists() && live.exists() && fresh.exists());
        assert_eq!(sweep(d.path(), None), vec![old_style.clone()]);
        assert!(live.exists(), "a live writer's temp file was removed");
        assert!(fresh.exists(), "a recent temp file was removed");
    }

    #[test]
    fn a_write_sweeps_the_stale_temp_files_of_its_file() {
        let d = tempfile::tempdir().unwrap();
        let stale = d
            .path()
            .join(format!(".s.conf.tmp.{}.0123456789ab", dead_pid()));
        fs::write(&stale, "old").unwrap();
        age(&stale, 3600);
        write_atomic(&d.path().join("s.conf"), b"new").unwrap();
        assert_eq!(entries(d.path()), vec!["s.conf"]);
    }
}

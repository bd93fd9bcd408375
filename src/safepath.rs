//! Paths root may trust (issue 10, items 10 and 11).
//!
//! Root running a launcher, or writing a log at a predictable path, acts
//! on whatever the path names when it gets there. So:
//! - every directory in which a name is looked up on the way must be owned
//!   by root (or by us) and writable by nobody else, as OpenSSH's
//!   StrictModes and sudo require; a world-writable sticky directory
//!   (`/tmp`) is accepted for an entry owned by root, since only that
//!   entry's owner may then replace it;
//! - symbolic links are followed by hand, so the directories of their
//!   targets are checked too;
//! - our own temp directory (`/var/tmp/opensvc`) is made 0700 and refused
//!   when someone else made it;
//! - files there are opened `O_NOFOLLOW`, and `O_EXCL` when new.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Linux's own limit on links followed in one lookup.
const MAX_LINKS: usize = 40;

/// What is wrong with a directory on a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Owned by someone else than root or us.
    Owner(u32),
    /// Writable by group or others (the mode, for the message).
    Writable(u32),
    /// A link where our own directory must be.
    Symlink,
    NotDir,
    TooManyLinks,
    /// It cannot be inspected (the OS's reason).
    Io(String),
}

/// A path that must not be used, and which directory on it is why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Untrusted {
    pub dir: PathBuf,
    pub problem: Problem,
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.dir.display();
        match &self.problem {
            Problem::Owner(uid) => write!(f, "{d} is owned by uid {uid}, not root"),
            Problem::Writable(mode) => write!(
                f,
                "{d} is writable by group or others (mode {:04o})",
                mode & 0o7777
            ),
            Problem::Symlink => write!(f, "{d} is a symbolic link"),
            Problem::NotDir => write!(f, "{d} is not a directory"),
            Problem::TooManyLinks => write!(f, "{d}: too many levels of symbolic links"),
            Problem::Io(e) => write!(f, "cannot inspect {d}: {e}"),
        }
    }
}

impl Untrusted {
    fn new(dir: &Path, problem: Problem) -> Untrusted {
        Untrusted {
            dir: dir.to_path_buf(),
            problem,
        }
    }

    /// The command that makes the directory acceptable.
    pub(crate) fn fix(&self) -> String {
        let d = self.dir.display();
        match self.problem {
            Problem::Owner(_) => format!("chown root {d}"),
            Problem::Writable(_) => format!("chmod go-w {d}"),
            Problem::Symlink | Problem::NotDir => format!("rm {d}"),
            Problem::TooManyLinks | Problem::Io(_) => format!("check {d}"),
        }
    }
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

fn lstat(p: &Path) -> Result<fs::Metadata, Untrusted> {
    fs::symlink_metadata(p).map_err(|e| Untrusted::new(p, Problem::Io(io_text(&e))))
}

fn io_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

/// Whether looking up an entry owned by `entry_uid` in `dir` can be
/// trusted.
fn check_lookup(dir: &Path, meta: &fs::Metadata, entry_uid: u32) -> Result<(), Untrusted> {
    let me = euid();
    let ours = |uid: u32| uid == 0 || uid == me;
    if !ours(meta.uid()) {
        return Err(Untrusted::new(dir, Problem::Owner(meta.uid())));
    }
    let mode = meta.mode();
    let sticky = mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !(sticky && ours(entry_uid)) {
        return Err(Untrusted::new(dir, Problem::Writable(mode)));
    }
    Ok(())
}

/// Resolves `path` as the kernel would, checking every directory a name is
/// looked up in; returns the resolved path. What the final file may be is
/// the caller's business.
pub(crate) fn check_path(path: &Path) -> Result<PathBuf, Untrusted> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let cwd = std::env::current_dir()
            .map_err(|e| Untrusted::new(Path::new("."), Problem::Io(io_text(&e))))?;
        cwd.join(path)
    };
    let root = PathBuf::from("/");
    // The components still to look up, last first.
    let mut todo: Vec<OsString> = names(&abs);
    let mut cur = root.clone();
    let mut cur_meta = lstat(&root)?;
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            cur.pop();
            cur_meta = lstat(&cur)?;
            continue;
        }
        let next = cur.join(&name);
        let meta = lstat(&next)?;
        check_lookup(&cur, &cur_meta, meta.uid())?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(Untrusted::new(&next, Problem::TooManyLinks));
            }
            let target = fs::read_link(&next)
                .map_err(|e| Untrusted::new(&next, Problem::Io(io_text(&e))))?;
            if target.is_absolute() {
                cur = root.clone();
                cur_meta = lstat(&root)?;
            }
            todo.extend(names(&target));
            continue;
        }
        cur = next;
        cur_meta = meta;
    }
    Ok(cur)
}

/// `path`'s names, last first, `.` left out.
fn names(path: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    v.reverse();
    v
}

/// Our temp directory: created 0700, else it must be a real directory of
/// ours that nobody else may write, on a trusted path. One made by an
/// earlier version (0755) is narrowed to 0700: launcher output may be
/// sensitive.
pub(crate) fn private_dir(dir: &Path) -> Result<(), Untrusted> {
    let io_err = |p: &Path, e: io::Error| Untrusted::new(p, Problem::Io(io_text(&e)));
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(dir, e)),
    }
    let meta = lstat(dir)?;
    if meta.file_type().is_symlink() {
        return Err(Untrusted::new(dir, Problem::Symlink));
    }
    if !meta.is_dir() {
        return Err(Untrusted::new(dir, Problem::NotDir));
    }
    if meta.uid() != euid() {
        return Err(Untrusted::new(dir, Problem::Owner(meta.uid())));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Untrusted::new(dir, Problem::Writable(meta.mode())));
    }
    check_path(dir)?;
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io_err(dir, e))?;
    }
    Ok(())
}

/// A log rewritten on each run, in a directory checked by [`private_dir`]:
/// truncated, never through a link, 0600 when created.
pub(crate) fn open_log(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// A new file, 0600: refused when anything, a link included, is there.
pub(crate) fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn as_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    fn chmod(p: &Path, mode: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A tree below a fresh temp dir: `a/b/launcher`.
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let b = d.path().join("a/b");
        fs::create_dir_all(&b).unwrap();
        for p in [d.path().join("a"), b.clone()] {
            chmod(&p, 0o755);
        }
        fs::write(b.join("launcher"), "#!/bin/sh\n").unwrap();
        (d, b.join("launcher"))
    }

    #[test]
    fn a_path_of_root_owned_directories_is_trusted_and_resolved() {
        let (d, launcher) = tree();
        let link = d.path().join("a/l");
        symlink("b/launcher", &link).unwrap();
        assert_eq!(check_path(&link).unwrap(), launcher);
        assert_eq!(
            check_path(&d.path().join("a/b/../b/launcher")).unwrap(),
            launcher
        );
    }

    /// Issue 10, item 11: only the final file was checked.
    #[test]
    fn a_world_writable_directory_on_the_path_is_refused() {
        let (d, launcher) = tree();
        let a = d.path().join("a");
        chmod(&a, 0o777);
        let e = check_path(&launcher).unwrap_err();
        assert_eq!(e.dir, a);
        assert_eq!(e.problem, Problem::Writable(0o40777));
        assert_eq!(
            e.to_string(),
            format!("{} is writable by group or others (mode 0777)", a.display())
        );
        assert_eq!(e.fix(), format!("chmod go-w {}", a.display()));
        // Sticky like /tmp: only the entry's owner may replace it.
        chmod(&a, 0o1777);
        assert!(check_path(&launcher).is_ok());
        if as_root() {
            std::os::unix::fs::lchown(a.join("b"), Some(1000), None).unwrap();
            assert!(check_path(&launcher).is_err());
        }
    }

    #[test]
    fn a_link_into_an_unsafe_directory_is_refused() {
        let (d, _) = tree();
        let unsafe_dir = d.path().join("drop");
        fs::create_dir(&unsafe_dir).unwrap();
        chmod(&unsafe_dir, 0o777);
        fs::write(unsafe_dir.join("x"), "").unwrap();
        let link = d.path().join("a/b/S10x");
        symlink(unsafe_dir.join("x"), &link).unwrap();
        assert_eq!(check_path(&link).unwrap_err().dir, unsafe_dir);
    }

    #[test]
    fn a_directory_owned_by_another_user_is_refused() {
        if !as_root() {
            return;
        }
        let (d, launcher) = tree();
        let b = d.path().join("a/b");
        std::os::unix::fs::chown(&b, Some(1000), Some(1000)).unwrap();
        let e = check_path(&launcher).unwrap_err();
        assert_eq!((e.dir, e.problem), (b, Problem::Owner(1000)));
    }

    #[test]
    fn link_loops_end() {
        let (d, _) = tree();
        let l = d.path().join("a/loop");
        symlink("loop", &l).unwrap();
        assert_eq!(check_path(&l).unwrap_err().problem, Problem::TooManyLinks);
    }

    /// Issue 10, item 10: `/var/tmp/opensvc` made by anyone was used.
    #[test]
    fn our_temp_dir_is_made_0700_and_refused_when_someone_else_could_write_it() {
        let d = tempfile::tempdir().unwrap();
        let tmp = d.path().join("var/tmp/opensvc");
        private_dir(&tmp).unwrap();
        let mode = |p: &Path| fs::symlink_metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&tmp), 0o700);
        chmod(&tmp, 0o755);
        private_dir(&tmp).unwrap();
        assert_eq!(mode(&tmp), 0o700, "an earlier 0755 is narrowed");
        chmod(&tmp, 0o777);
        let e = private_dir(&tmp).unwrap_err();
        assert_eq!(e.problem, Problem::Writable(0o40777));
        assert_eq!(mode(&tmp), 0o777, "refused, not changed");
        if as_root() {
            chmod(&tmp, 0o700);
            std::os::unix::fs::chown(&tmp, Some(1000), Some(1000)).unwrap();
            assert_eq!(private_dir(&tmp).unwrap_err().problem, Problem::Owner(1000));
        }
        fs::remove_dir(&tmp).unwrap();
        let elsewhere = d.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        symlink(&elsewhere, &tmp).unwrap();
        assert_eq!(private_dir(&tmp).unwrap_err().problem, Problem::Symlink);
    }

    #[test]
    fn logs_and_new_files_are_never_opened_through_a_link() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("shadow");
        fs::write(&victim, "root:x").unwrap();
        let log = d.path().join("svc_s_S10a.log");
        symlink(&victim, &log).unwrap();
        assert_eq!(
            open_log(&log).unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
        assert!(create_new(&log).is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "root:x");
        fs::remove_file(&log).unwrap();
        drop(open_log(&log).unwrap());
        assert_eq!(fs::metadata(&log).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            create_new(&log).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
    }
}

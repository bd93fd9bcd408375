//! Which services' files changed since the monitor last looked, told by
//! inotify on `<etc>`, `<log>` and `<var>`: a pass stamps again only those
//! services ([`status_memory::Stamp`](super::status_memory::Stamp)).
//! Stamping every service every pass, three stats each, was the largest
//! part of an idle node's CPU at a thousand services.
//!
//! It also tells whether anything happened in `<etc>`, so that a pass
//! lists that directory again only then: listing a thousand configs every
//! second was a quarter of the idle monitor's CPU.
//!
//! Every doubt answers "all of them": the first look, a directory not
//! watched (missing, or inotify refused), a queue overflow, a watched
//! directory removed or moved, and every `full_every` whatever happened,
//! which also catches what no event reports (a config file that is a link,
//! edited where it points).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

use crate::paths::Paths;

/// What changed since the last look.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Changed {
    /// Anything may have: stamp every service.
    All,
    /// Only these services' files; `etc`: something happened in `<etc>`
    /// (a file created, removed, renamed or changed there, whatever its
    /// name), so its listing may differ.
    These {
        services: BTreeSet<String>,
        etc: bool,
    },
}

/// The three directories a service's stamp reads, and how a file name
/// there names its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// `<svc>.conf`, `<svc>.env`
    Etc,
    /// `<svc>.log`
    Log,
    /// `FROZEN.<svc>`; the node's own `FROZEN` is read every pass anyway.
    Var,
}

impl Dir {
    fn service(self, file: &OsStr) -> Option<String> {
        let file = file.to_str()?;
        let svc = match self {
            Dir::Etc => file
                .strip_suffix(".conf")
                .or_else(|| file.strip_suffix(".env"))?,
            Dir::Log => file.strip_suffix(".log")?,
            Dir::Var => file.strip_prefix("FROZEN.")?,
        };
        Some(svc.to_string())
    }
}

pub(crate) struct FileWatch {
    /// None: inotify refused (the per-user limit): every look says All.
    ino: Option<Inotify>,
    dirs: Vec<(Dir, PathBuf, Option<WatchDescriptor>)>,
    last_full: Option<Instant>,
    /// The longest a change no event reported goes unseen.
    full_every: Duration,
}

fn flags() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
}

impl FileWatch {
    pub(crate) fn new(paths: &Paths, full_every: Duration) -> FileWatch {
        FileWatch {
            ino: Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok(),
            dirs: vec![
                (Dir::Etc, paths.etc.clone(), None),
                (Dir::Log, paths.log.clone(), None),
                (Dir::Var, paths.var.clone(), None),
            ],
            last_full: None,
            full_every,
        }
    }

    /// What changed since the last call. Watches are set before the
    /// caller stats anything, so a change made while it does is reported
    /// at the next call.
    pub(crate) fn changed(&mut self) -> Changed {
        let Some(ino) = &self.ino else {
            return Changed::All;
        };
        let mut all = false;
        for (_, path, wd) in &mut self.dirs {
            if wd.is_none() {
                // Until the directory exists, and once more after it is
                // recreated: its files may have changed unseen meanwhile.
                *wd = ino.add_watch(path.as_path(), flags()).ok();
                all = true;
            }
        }
        let mut these = BTreeSet::new();
        let mut etc = false;
        loop {
            let events = match ino.read_events() {
                Ok(e) if !e.is_empty() => e,
                // EAGAIN: the queue is drained.
                Ok(_) | Err(nix::errno::Errno::EAGAIN) => break,
                Err(_) => {
                    all = true;
                    break;
                }
            };
            for ev in events {
                if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    all = true;
                    continue;
                }
                let Some(at) = self.dirs.iter().position(|(_, _, w)| *w == Some(ev.wd)) else {
                    continue;
                };
                if ev.mask.intersects(
                    AddWatchFlags::IN_DELETE_SELF
                        | AddWatchFlags::IN_MOVE_SELF
                        | AddWatchFlags::IN_IGNORED,
                ) {
                    self.dirs[at].2 = None;
                    all = true;
                    continue;
                }
                etc |= self.dirs[at].0 == Dir::Etc;
                if let Some(svc) = ev.name.as_deref().and_then(|n| self.dirs[at].0.service(n)) {
                    these.insert(svc);
                }
            }
        }
        if self
            .last_full
            .is_none_or(|t| t.elapsed() >= self.full_every)
        {
            all = true;
        }
        if all {
            self.last_full = Some(Instant::now());
            Changed::All
        } else {
            Changed::These {
                services: these,
                etc,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Services named, nothing in etc/.
    fn these(v: &[&str]) -> Changed {
        Changed::These {
            services: v.iter().map(|s| s.to_string()).collect(),
            etc: false,
        }
    }

    /// Services named, and something in etc/.
    fn these_and_etc(v: &[&str]) -> Changed {
        Changed::These {
            services: v.iter().map(|s| s.to_string()).collect(),
            etc: true,
        }
    }

    fn lab() -> (tempfile::TempDir, Paths) {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        for p in [&paths.etc, &paths.log, &paths.var] {
            std::fs::create_dir_all(p).unwrap();
        }
        (d, paths)
    }

    #[test]
    fn names_map_to_their_service() {
        let cases = [
            (Dir::Etc, "web.conf", Some("web")),
            (Dir::Etc, "web.env", Some("web")),
            (Dir::Etc, "web.d", None),
            (Dir::Log, "web.log", Some("web")),
            (Dir::Var, "FROZEN.web", Some("web")),
            (Dir::Var, "FROZEN", None),
            (Dir::Var, "web.push", None),
        ];
        for (dir, file, svc) in cases {
            assert_eq!(
                dir.service(OsStr::new(file)).as_deref(),
                svc,
                "{dir:?} {file}"
            );
        }
    }

    #[test]
    fn each_kind_of_change_names_its_service() {
        let (_d, paths) = lab();
        let mut w = FileWatch::new(&paths, Duration::from_secs(600));
        assert_eq!(w.changed(), Changed::All, "the first look");
        assert_eq!(w.changed(), these(&[]), "nothing happened");
        std::fs::write(paths.etc.join("a.conf"), "[DEFAULT]\n").unwrap();
        std::fs::write(paths.svc_log("b"), "x").unwrap();
        std::fs::write(paths.frozen_svc("c"), "").unwrap();
        std::fs::write(paths.var.join("d.push"), "").unwrap();
        assert_eq!(w.changed(), these_and_etc(&["a", "b", "c"]));
        // An atomic install: a temporary file renamed over the config.
        std::fs::write(paths.etc.join(".a.conf.tmp"), "[DEFAULT]\n#\n").unwrap();
        std::fs::rename(paths.etc.join(".a.conf.tmp"), paths.etc.join("a.conf")).unwrap();
        assert_eq!(w.changed(), these_and_etc(&["a"]));
        // A file in etc/ that names no service still changes its listing
        // (a dangling link's target, a sub-directory).
        std::fs::create_dir(paths.etc.join("web.d")).unwrap();
        assert_eq!(w.changed(), these_and_etc(&[]));
        // An mtime set by hand (touch).
        let f = std::fs::File::options()
            .write(true)
            .open(paths.svc_log("b"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(w.changed(), these(&["b"]));
        std::fs::remove_file(paths.frozen_svc("c")).unwrap();
        assert_eq!(w.changed(), these(&["c"]));
    }

    #[test]
    fn a_missing_or_recreated_directory_means_all() {
        let (_d, paths) = lab();
        std::fs::remove_dir(&paths.log).unwrap();
        let mut w = FileWatch::new(&paths, Duration::from_secs(600));
        assert_eq!(w.changed(), Changed::All);
        assert_eq!(w.changed(), Changed::All, "log/ still missing");
        std::fs::create_dir(&paths.log).unwrap();
        assert_eq!(w.changed(), Changed::All, "log/ watched from now on");
        assert_eq!(w.changed(), these(&[]));
        std::fs::remove_dir(&paths.log).unwrap();
        assert_eq!(w.changed(), Changed::All, "log/ removed");
    }

    #[test]
    fn every_full_every_means_all_whatever_happened() {
        let (_d, paths) = lab();
        let mut w = FileWatch::new(&paths, Duration::ZERO);
        assert_eq!(w.changed(), Changed::All);
        assert_eq!(w.changed(), Changed::All);
    }

    #[test]
    fn an_overflowed_queue_means_all() {
        let (_d, paths) = lab();
        let mut w = FileWatch::new(&paths, Duration::from_secs(600));
        w.changed();
        let max: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(16384);
        // Two files in turn: the kernel merges an event into the one
        // queued just before it when they are the same.
        let files =
            [paths.svc_log("a"), paths.svc_log("b")].map(|p| std::fs::File::create(p).unwrap());
        for i in 0..=max {
            files[i % 2]
                .set_modified(std::time::SystemTime::UNIX_EPOCH)
                .unwrap();
        }
        assert_eq!(w.changed(), Changed::All);
    }
}

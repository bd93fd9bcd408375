//! The timestamp files of the sync resources: a peer's
//! `<var>/sync/<node>/<svc>!<rid>` (when `node` last received `rid`) and
//! `<var>/last_start_<svc>` (when the service last started here), both
//! holding a local time as `YYYY-MM-DD HH:MM:SS.ffffff\n`.
//!
//! Outside driver::sync only [`LastStart`] is seen: the executor records
//! starts through it, the sync status reads them back.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{Local, NaiveDateTime};

use crate::paths::Paths;

/// The timestamp files' text format, without the trailing newline.
const STAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// `YYYY-MM-DD HH:MM:SS.ffffff\n`, always with the microseconds.
fn format_stamp(ts: NaiveDateTime) -> String {
    format!("{}\n", ts.format(STAMP_FORMAT))
}

/// Parses a timestamp file's text. Unlike 1.5, which failed on a stamp
/// written at an exact second, the microseconds are optional.
pub(super) fn parse_stamp(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f").ok()
}

/// The time in a timestamp file; None when it is missing or unreadable
/// (both mean "never").
pub(super) fn read_stamp(path: &Path) -> Option<NaiveDateTime> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| parse_stamp(&t))
}

/// Writes a timestamp file atomically (temp file + rename), creating its
/// directory: a reader never sees a half-written stamp.
pub(super) fn write_stamp(path: &Path, ts: NaiveDateTime) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other(format!("{} has no directory", path.display())))?;
    std::fs::create_dir_all(dir)?;
    crate::fsutil::write_atomic(path, format_stamp(ts).as_bytes())
}

/// When the service last started on this node. The executor records it
/// after each successful start; the sync status uses it to tell the node
/// that owns the config from a passive one (see `Rsync::status_at`).
pub(crate) struct LastStart {
    path: PathBuf,
}

impl LastStart {
    pub(crate) fn of(paths: &Paths, svc: &str) -> LastStart {
        LastStart {
            path: paths.var.join(format!("last_start_{svc}")),
        }
    }

    /// The file, for error messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// None when the service never started here (or the file is unreadable).
    pub(crate) fn read(&self) -> Option<NaiveDateTime> {
        read_stamp(&self.path)
    }

    /// Records a start now.
    pub(crate) fn record_now(&self) -> io::Result<()> {
        self.record(Local::now().naive_local())
    }

    pub(crate) fn record(&self, at: NaiveDateTime) -> io::Result<()> {
        write_stamp(&self.path, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> NaiveDateTime {
        parse_stamp(s).unwrap()
    }

    #[test]
    fn stamps_round_trip_in_the_reference_format() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sync/sles2/p26.opensvc.com!sync#i0");
        let t = ts("2014-02-19 11:55:50.123456");
        write_stamp(&p, t).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "2014-02-19 11:55:50.123456\n"
        );
        assert_eq!(read_stamp(&p), Some(t));
        // Zero microseconds are still written, and read back.
        let t0 = ts("2014-02-19 11:55:50");
        write_stamp(&p, t0).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "2014-02-19 11:55:50.000000\n"
        );
        assert_eq!(read_stamp(&p), Some(t0));
        let leftovers = std::fs::read_dir(p.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temp file left behind");
    }

    #[test]
    fn unreadable_stamps_are_none() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        assert_eq!(read_stamp(&p), None);
        std::fs::write(&p, "garbage\n").unwrap();
        assert_eq!(read_stamp(&p), None);
        std::fs::write(&p, "").unwrap();
        assert_eq!(read_stamp(&p), None);
        // 1.5 could not read an exact-second stamp; we can.
        std::fs::write(&p, "2014-02-19 11:55:50\n").unwrap();
        assert_eq!(read_stamp(&p), Some(ts("2014-02-19 11:55:50.000000")));
    }

    #[test]
    fn last_start_is_under_var_in_the_stamp_format() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        let last = LastStart::of(&paths, "p26.opensvc.com");
        assert_eq!(
            last.path(),
            paths.var.join("last_start_p26.opensvc.com"),
            "{}",
            last.path().display()
        );
        assert_eq!(
            LastStart::of(&Paths::under(Path::new("/r")), "p26.opensvc.com").path(),
            Path::new("/r/var/last_start_p26.opensvc.com")
        );
        assert_eq!(last.read(), None);
        last.record(ts("2014-02-17 16:52:37")).unwrap();
        assert_eq!(
            std::fs::read_to_string(last.path()).unwrap(),
            "2014-02-17 16:52:37.000000\n"
        );
        assert_eq!(last.read(), Some(ts("2014-02-17 16:52:37")));
    }
}

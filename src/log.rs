//! Logging: the OpenSVC console format on stderr and one log file per service.
//!
//! Every record goes through `tracing` with two fields, `svc` (which file it
//! belongs to) and `name` (the upper-cased logger name shown on the console).
//! Console: `HH:MM:SS LEVEL__ NAME_______ message`, the name padded to
//! `len(svc) + 8` (docs/behaviour.md, "Console format"). File:
//! `YYYY-MM-DD HH:MM:SS,mmm - NAME - LEVEL - message`, rotated at 5 MiB with
//! 5 backups (docs/behaviour.md, "Log files").
//!
//! When stderr is journald's stream (a systemd unit: `JOURNAL_STREAM` names
//! stderr's device and inode), each console line starts with its syslog
//! priority, `<3>` to `<7>`, so that `journalctl -p err` finds the errors;
//! journald strips the prefix, and on a terminal or a pipe nothing changes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// A named logger: the service itself, one of its resources, or the node.
#[derive(Debug, Clone)]
pub(crate) struct Logger {
    svc: Arc<str>,
    name: Arc<str>,
}

impl Logger {
    /// Service-level messages: name `SVCNAME`.
    pub(crate) fn service(svc: &str) -> Logger {
        Logger {
            svc: Arc::from(svc),
            name: Arc::from(svc.to_uppercase()),
        }
    }

    /// Node-level messages (the daemon): records go to `<log>/<file>.log`.
    pub(crate) fn named(file: &str, name: &str) -> Logger {
        Logger {
            svc: Arc::from(file),
            name: Arc::from(name),
        }
    }

    /// Resource messages: name `SVCNAME.RID`, upper-cased.
    pub(crate) fn resource(&self, rid: &str) -> Logger {
        Logger {
            svc: self.svc.clone(),
            name: Arc::from(format!("{}.{}", self.svc, rid).to_uppercase()),
        }
    }

    #[cfg(test)]
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn debug(&self, msg: impl AsRef<str>) {
        tracing::debug!(svc = &*self.svc, name = &*self.name, "{}", msg.as_ref());
    }
    pub(crate) fn info(&self, msg: impl AsRef<str>) {
        record_captured(Level::INFO, &self.name, msg.as_ref());
        tracing::info!(svc = &*self.svc, name = &*self.name, "{}", msg.as_ref());
    }
    pub(crate) fn warn(&self, msg: impl AsRef<str>) {
        record_captured(Level::WARN, &self.name, msg.as_ref());
        tracing::warn!(svc = &*self.svc, name = &*self.name, "{}", msg.as_ref());
    }
    pub(crate) fn error(&self, msg: impl AsRef<str>) {
        record_captured(Level::ERROR, &self.name, msg.as_ref());
        tracing::error!(svc = &*self.svc, name = &*self.name, "{}", msg.as_ref());
    }
}

pub(crate) fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "DEBUG",
    }
}

#[derive(Default)]
struct Fields {
    svc: String,
    name: String,
    message: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "svc" => self.svc = value.to_string(),
            "name" => self.name = value.to_string(),
            "message" => self.message = value.to_string(),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        self.record_str(field, &s);
    }
}

/// The syslog priority journald reads from a `<N>` line prefix.
pub(crate) fn syslog_priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// `line` as written to a journald stream: its priority first.
pub(crate) fn journal_line(level: &Level, line: &str) -> String {
    format!("<{}>{line}", syslog_priority(level))
}

/// Whether stderr is the stream systemd connected to journald. The variable
/// alone is not enough: a child whose stderr its parent captures inherits
/// it too, and must not prefix lines a terminal or a log file shows.
fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(st) = nix::sys::stat::fstat(std::io::stderr()) else {
        return false;
    };
    journal_stream_is(&stream.to_string_lossy(), st.st_dev, st.st_ino)
}

/// `JOURNAL_STREAM` is `<device>:<inode>` in decimal.
fn journal_stream_is(var: &str, dev: u64, ino: u64) -> bool {
    var.split_once(':')
        .is_some_and(|(d, i)| d.parse() == Ok(dev) && i.parse() == Ok(ino))
}

/// One console line, without the trailing newline.
pub(crate) fn console_line(time: &str, level: &Level, svc: &str, name: &str, msg: &str) -> String {
    let width = svc.len() + 8;
    format!("{time} {:<7} {name:<width$} {msg}", level_name(level))
}

struct ConsoleLayer {
    max: Level,
    journal: bool,
}

impl<S: Subscriber> Layer<S> for ConsoleLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = event.metadata().level();
        if *level > self.max {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let time = chrono::Local::now().format("%H:%M:%S").to_string();
        let mut line = console_line(&time, level, &f.svc, &f.name, &f.message);
        if self.journal {
            line = journal_line(level, &line);
        }
        // One write per record so lines from concurrent status probes never interleave.
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

const ROTATE_BYTES: u64 = 5 * 1024 * 1024;
const ROTATE_KEEP: u32 = 5;

struct FileLayer {
    dir: PathBuf,
    max: Level,
    files: Mutex<HashMap<String, Option<File>>>,
}

impl FileLayer {
    fn write(&self, svc: &str, line: &str) {
        let Ok(mut files) = self.files.lock() else {
            return;
        };
        let path = self.dir.join(format!("{svc}.log"));
        let slot = files
            .entry(svc.to_string())
            .or_insert_with(|| open_log(&path));
        if let Some(file) = slot
            && file.metadata().map_or(0, |m| m.len()) >= ROTATE_BYTES
        {
            rotate(&path, ROTATE_KEEP);
            *slot = open_log(&path);
        }
        if let Some(file) = slot {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

/// A log directory we cannot write (non-root user on the FHS layout) must not
/// stop the action: the console still has every line.
fn open_log(path: &Path) -> Option<File> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    OpenOptions::new().create(true).append(true).open(path).ok()
}

/// `x.log` -> `x.log.1` -> ... -> `x.log.<keep>`, the oldest dropped.
pub(crate) fn rotate(path: &Path, keep: u32) {
    let name = |i: u32| PathBuf::from(format!("{}.{i}", path.display()));
    let _ = std::fs::remove_file(name(keep));
    for i in (1..keep).rev() {
        let _ = std::fs::rename(name(i), name(i + 1));
    }
    let _ = std::fs::rename(path, name(1));
}

impl<S: Subscriber> Layer<S> for FileLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = event.metadata().level();
        if *level > self.max {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        if f.svc.is_empty() {
            return;
        }
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f");
        let line = format!(
            "{now} - {} - {} - {}\n",
            f.name,
            level_name(level),
            f.message
        );
        self.write(&f.svc, &line);
    }
}

/// Installs the global subscriber. `log_dir` None disables the files.
pub(crate) fn init(debug: bool, log_dir: Option<&Path>) {
    let max = if debug { Level::DEBUG } else { Level::INFO };
    let file = log_dir.map(|d| FileLayer {
        dir: d.to_path_buf(),
        max,
        files: Mutex::new(HashMap::new()),
    });
    let subscriber = tracing_subscriber::registry()
        .with(ConsoleLayer {
            max,
            journal: stderr_is_journal(),
        })
        .with(file);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

thread_local! {
    /// Set by `capture`: the records of this thread go here too.
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Test helper: runs `f` and returns what it logged on this thread, one
/// `LEVEL NAME message` string per record (DEBUG excluded). It hooks the
/// Logger itself rather than a scoped tracing dispatcher, whose callsite
/// interest cache races with other test threads.
#[cfg(test)]
pub(crate) fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let r = f();
    let lines = CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (r, lines)
}

fn record_captured(level: Level, name: &str, msg: &str) {
    if level > Level::INFO {
        return;
    }
    CAPTURED.with(|c| {
        if let Some(lines) = c.borrow_mut().as_mut() {
            lines.push(format!("{} {name} {msg}", level_name(&level)));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_columns_match_the_tutorial() {
        let l = console_line(
            "14:40:06",
            &Level::INFO,
            "p26.opensvc.com",
            "P26.OPENSVC.COM.IP#0",
            "checking 37.59.71.26 availability",
        );
        assert_eq!(
            l,
            "14:40:06 INFO    P26.OPENSVC.COM.IP#0    checking 37.59.71.26 availability"
        );
        let l = console_line(
            "17:20:37",
            &Level::INFO,
            "p26.opensvc.com",
            "P26.OPENSVC.COM.SYNC#I0",
            "x",
        );
        assert_eq!(l, "17:20:37 INFO    P26.OPENSVC.COM.SYNC#I0 x");
        let l = console_line(
            "16:19:39",
            &Level::ERROR,
            "p26.opensvc.com",
            "P26.OPENSVC.COM",
            "y",
        );
        assert_eq!(l, "16:19:39 ERROR   P26.OPENSVC.COM         y");
    }

    #[test]
    fn journal_lines_start_with_the_syslog_priority() {
        let line = "16:19:39 ERROR   P26.OPENSVC.COM         y";
        assert_eq!(journal_line(&Level::ERROR, line), format!("<3>{line}"));
        assert_eq!(journal_line(&Level::WARN, "w"), "<4>w");
        assert_eq!(journal_line(&Level::INFO, "i"), "<6>i");
        assert_eq!(journal_line(&Level::DEBUG, "d"), "<7>d");
        assert_eq!(journal_line(&Level::TRACE, "t"), "<7>t");
    }

    #[test]
    fn only_the_stream_journal_stream_names_is_the_journal() {
        assert!(journal_stream_is("64768:123456", 64768, 123_456));
        assert!(!journal_stream_is("64768:123456", 64768, 123_457));
        assert!(!journal_stream_is("64768:123456", 1, 123_456));
        assert!(!journal_stream_is("", 0, 0));
        assert!(!journal_stream_is("garbage", 0, 0));
    }

    #[test]
    fn capture_returns_level_name_and_message() {
        let log = Logger::service("s1").resource("ip#0");
        let ((), lines) = capture(|| {
            log.info("hello");
            log.debug("hidden");
            log.warn("careful");
        });
        assert_eq!(lines, vec!["INFO S1.IP#0 hello", "WARNING S1.IP#0 careful"]);
    }

    #[test]
    fn resource_logger_names_are_upper_case() {
        let s = Logger::service("p26.opensvc.com");
        assert_eq!(s.resource("sync#i0").name(), "P26.OPENSVC.COM.SYNC#I0");
    }

    #[test]
    fn rotation_shifts_backups_and_drops_the_oldest() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.log");
        for i in 0..7 {
            std::fs::write(&p, format!("{i}")).unwrap();
            rotate(&p, 5);
        }
        assert!(!p.exists());
        assert_eq!(
            std::fs::read_to_string(d.path().join("s.log.1")).unwrap(),
            "6"
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("s.log.5")).unwrap(),
            "2"
        );
        assert!(!d.path().join("s.log.6").exists());
    }
}

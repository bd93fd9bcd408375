//! `svcmgr -s <svc> logs [--follow]`: the service's log file
//! (`<log>/<svc>.log`) on stdout, the level word coloured as the status
//! words are (`--color`). `--follow` then polls for appended lines, follows
//! a rotation, and ends cleanly on SIGINT or SIGTERM.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use super::{BAD_CONFIG, Env, FAILED, OK};
use crate::config;
use crate::exec;

/// Between two looks at the file: short enough to feel live, long enough
/// to cost nothing.
const POLL: Duration = Duration::from_millis(200);

pub(super) fn run(env: &Env, name: &str) -> i32 {
    if let Err(e) = config::find_file(env.paths, name) {
        eprintln!("{e}");
        return BAD_CONFIG;
    }
    let path = env.paths.svc_log(name);
    let mut tail = Tail::default();
    loop {
        if let Err(e) = tail.pump(&path, env.opts.color) {
            eprintln!("cannot read {}: {e}", path.display());
            return FAILED;
        }
        if !env.opts.follow || exec::interrupted() {
            return OK;
        }
        std::thread::sleep(POLL);
        if exec::interrupted() {
            return OK;
        }
    }
}

/// Where we are in the file: its inode and the offset read up to, and the
/// start of a line not finished yet.
#[derive(Default)]
struct Tail {
    ino: u64,
    offset: u64,
    partial: Vec<u8>,
}

impl Tail {
    /// Prints what was appended since the last call. A new inode or a
    /// shorter file is a rotation: read the new file from its start. A
    /// missing file is nothing to print yet.
    fn pump(&mut self, path: &Path, color: bool) -> std::io::Result<()> {
        let mut f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let meta = f.metadata()?;
        if meta.ino() != self.ino || meta.len() < self.offset {
            self.ino = meta.ino();
            self.offset = 0;
            self.partial.clear();
        }
        f.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        let done: Vec<u8> = self.partial.drain(..=end).collect();
        let mut out = std::io::stdout().lock();
        for line in String::from_utf8_lossy(&done).lines() {
            let _ = writeln!(out, "{}", paint(line, color));
        }
        out.flush()
    }
}

/// `date time - NAME - LEVEL - message`, the level coloured; other lines
/// (the rest of a multi-line message) as they are.
pub(super) fn paint(line: &str, color: bool) -> String {
    if !color {
        return line.to_string();
    }
    let mut parts = line.splitn(4, " - ");
    let (Some(time), Some(name), Some(level), Some(msg)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return line.to_string();
    };
    let code = match level {
        "ERROR" => "31",
        "WARNING" => "33",
        "INFO" => "32",
        "DEBUG" => "2",
        _ => return line.to_string(),
    };
    format!("{time} - {name} - \x1b[{code}m{level}\x1b[0m - {msg}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_level_word_is_coloured() {
        let l = "2026-01-01 10:00:00,000 - SVC - WARNING - a - b";
        assert_eq!(paint(l, false), l);
        assert_eq!(
            paint(l, true),
            "2026-01-01 10:00:00,000 - SVC - \x1b[33mWARNING\x1b[0m - a - b"
        );
        assert_eq!(paint("raw output line", true), "raw output line");
    }

    #[test]
    fn appended_lines_come_once_and_a_rotation_restarts() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.log");
        let mut t = Tail::default();
        t.pump(&p, false).unwrap();
        std::fs::write(&p, "one\ntw").unwrap();
        t.pump(&p, false).unwrap();
        assert_eq!(t.offset, 6);
        assert_eq!(t.partial, b"tw");
        std::fs::write(&p, "x\n").unwrap();
        t.pump(&p, false).unwrap();
        assert_eq!((t.offset, t.partial.len()), (2, 0));
    }
}

//! The CLI's end of the daemon's local socket (src/daemon/local_socket.rs
//! serves it): svcmon, nodemgr and cluster-wide orders ask the local daemon
//! through here. It sits below the daemon so that the CLI and the actions
//! reach the daemon without importing it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::paths::Paths;

/// `<var>/lsnr/lsnr.sock`: the path keeps 1.x's directory name.
pub(crate) fn socket_path(paths: &Paths) -> PathBuf {
    paths.var.join("lsnr").join("lsnr.sock")
}

/// Sends one request to the local daemon; None when no daemon answers.
pub(crate) fn request(paths: &Paths, action: &str) -> Option<Value> {
    ask(paths, &json!({"action": action}))
}

/// Sends `req` (`{"action": ..., "options": ...}`) to the local daemon.
pub(crate) fn ask(paths: &Paths, req: &Value) -> Option<Value> {
    let conn = UnixStream::connect(socket_path(paths)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut w = &conn;
    w.write_all(format!("{req}\n").as_bytes()).ok()?;
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line).ok()?;
    serde_json::from_str(&line).ok()
}

/// Unblocks `serve` (waiting in accept) after a stop was requested.
pub(crate) fn wake(paths: &Paths) {
    let _ = UnixStream::connect(socket_path(paths));
}

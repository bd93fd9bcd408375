//! The daemon's end of the local socket: a unix socket only root can use
//! (mode 0600 in a 0700 directory, and the peer's uid checked), one JSON
//! request per line, one JSON answer per line. The CLI's end, and the
//! socket's path, are in src/client.rs.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::state::{Shared, StatusView};
use crate::client::socket_path;
use crate::log::Logger;
use crate::paths::Paths;

/// Binds the socket, replacing a stale one left by a killed daemon (the
/// daemon lock, taken before, proves no other daemon owns it).
pub(crate) fn bind(paths: &Paths) -> std::io::Result<UnixListener> {
    let path = socket_path(paths);
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let _ = std::fs::remove_file(&path);
    let l = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Serves until the daemon stops; `daemon_stop` is one of the requests.
pub(crate) fn serve(listener: UnixListener, paths: &Paths, shared: Arc<Shared>, log: Logger) {
    let me = nix::unistd::geteuid().as_raw();
    for conn in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let Ok(conn) = conn else { continue };
        let allowed =
            nix::sys::socket::getsockopt(&conn, nix::sys::socket::sockopt::PeerCredentials)
                .is_ok_and(|c| c.uid() == 0 || c.uid() == me);
        if !allowed {
            log.warn("refused a local request from a non-root user");
            continue;
        }
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        handle(conn, paths, &shared);
    }
}

fn handle(conn: UnixStream, paths: &Paths, shared: &Shared) {
    let mut line = String::new();
    let mut reader = BufReader::new(&conn);
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let req: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
    let answer = match req.get("action").and_then(Value::as_str) {
        Some("daemon_status") => {
            let view = if req["options"]["view"] == "svcmon" {
                StatusView::Svcmon
            } else {
                StatusView::Full
            };
            // Written as text (status_text.rs), never as a tree.
            let data = shared.status_text(view);
            send(&conn, format!("{{\"status\":0,\"data\":{data}}}"));
            return;
        }
        Some("daemon_stop") => {
            shared.request_stop();
            json!({"status": 0})
        }
        Some("set_service_monitor") => set_service_monitor(paths, shared, &req["options"]),
        Some("service_status") => service_status(paths, shared, &req["options"]),
        // The peer listener's blacklist (1.9's `nodemgr daemon blacklist
        // status|clear`): sources ignored after too many refused frames.
        Some("daemon_blacklist_status") => {
            let banned = shared
                .blacklist
                .lock()
                .map(|b| b.status(std::time::Instant::now()))
                .unwrap_or_default();
            json!({"status": 0, "data": banned})
        }
        Some("daemon_blacklist_clear") => {
            if let Ok(mut b) = shared.blacklist.lock() {
                b.clear();
            }
            json!({"status": 0})
        }
        Some(other) => json!({"status": 1, "error": format!("unknown action {other}")}),
        None => json!({"status": 1, "error": "malformed request"}),
    };
    send(&conn, answer.to_string());
}

/// The answer and its newline in one write: Display on a JSON value
/// writes piecewise, and unbuffered that was thousands of syscalls (and
/// client wake-ups) per answer.
fn send(conn: &UnixStream, mut text: String) {
    text.push('\n');
    let mut w = conn;
    let _ = w.write_all(text.as_bytes());
}

/// `print status` / `json status` from memory (status_memory.rs): the
/// rendered answer, or status 1 when only a probe can tell (the CLI then
/// probes, as it does without a daemon).
fn service_status(paths: &Paths, shared: &Shared, opts: &Value) -> Value {
    let Some(svc) = opts["svcname"].as_str() else {
        return json!({"status": 1, "error": "service_status needs svcname"});
    };
    let stamp = super::status_memory::Stamp::now(paths, svc);
    let Some(st) = shared
        .statuses
        .fresh(svc, &stamp, std::time::Instant::now())
    else {
        return json!({"status": 1, "error": "no fresh status in memory"});
    };
    let text = if opts["format"].as_str() == Some("json") {
        crate::render::json::render(&st)
    } else {
        let color = opts["color"].as_bool().unwrap_or(false);
        crate::render::tree::body(&st, color)
    };
    json!({"status": 0, "data": {"text": text}})
}

/// A cluster-wide order for one service, from the CLI (orchestration/orders.rs), kept
/// on disk before the answer (inbox.rs): the command's local part runs
/// only once the order survives a power loss.
fn set_service_monitor(paths: &Paths, shared: &Shared, opts: &Value) -> Value {
    let (Some(svc), Some(target)) = (opts["svcname"].as_str(), opts["global_expect"].as_str())
    else {
        return json!({"status": 1, "error": "set_service_monitor needs svcname and global_expect"});
    };
    let Some(target) = crate::order::Target::parse(target) else {
        return json!({"status": 1, "error": format!("unknown global_expect '{target}': one of {}", crate::order::TARGETS)});
    };
    let order = crate::order::Order {
        target,
        at: crate::order::now(),
        by: shared.nodename.clone(),
    };
    // Its time, so that the CLI can tell its order from a newer one.
    let data = json!({"at": order.at, "by": order.by});
    if let Err(e) = super::inbox::keep(paths, svc, &order) {
        return json!({"status": 1, "error": format!("cannot keep the order: {e}")});
    }
    if let Ok(mut inbox) = shared.inbox.lock() {
        inbox.push((svc.to_string(), order));
    }
    json!({"status": 0, "data": data})
}

//! Orders typed here, kept on disk from the moment the daemon accepts them
//! until they are in its memory file (orchestration/memory.rs). The command runs its
//! local part (a freeze, a thaw, a start) only after the daemon has kept
//! the order: a node that loses power in between comes back with the order
//! and carries it to its peers, instead of leaving a thawed or frozen
//! instance that no order explains.

use std::path::PathBuf;

use serde_json::json;

use crate::order::Order;
use crate::paths::Paths;

fn dir(paths: &Paths) -> PathBuf {
    paths.var.join("orders.in")
}

/// Keeps `order` for `svc`, durably (written and synced, then renamed).
pub(crate) fn keep(paths: &Paths, svc: &str, order: &Order) -> std::io::Result<()> {
    if !crate::config::valid_svcname(svc) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("'{svc}' is not a service name"),
        ));
    }
    let d = dir(paths);
    std::fs::create_dir_all(&d)?;
    // The time in microseconds keeps two orders for one service apart.
    let file = d.join(format!("{svc}@{}.json", (order.at * 1e6) as u64));
    let text = json!({"svcname": svc, "order": order.to_json()}).to_string();
    crate::fsutil::write_atomic(&file, text.as_bytes())?;
    // The rename itself must reach the disk before the command goes on.
    std::fs::File::open(&d)?.sync_all()
}

/// The orders kept and not yet taken in, with their files. A file that
/// does not parse (a torn write cannot happen; a hand-made file can) is
/// skipped and left for an operator.
pub(crate) fn pending(paths: &Paths) -> Vec<(String, Order, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir(paths)) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Order, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok()?;
            let svc = v["svcname"].as_str()?.to_string();
            let order = Order::from_json(&v["order"])?;
            Some((svc, order, p))
        })
        .collect();
    out.sort_by(|a, b| a.1.at.total_cmp(&b.1.at));
    out
}

/// Forgets the files of orders now in the memory file.
pub(crate) fn done(files: &[PathBuf]) {
    for f in files {
        let _ = std::fs::remove_file(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Target;

    #[test]
    fn an_order_kept_is_pending_until_done() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        let o = |t, at| Order {
            target: t,
            at,
            by: "node1".into(),
        };
        keep(&paths, "svc1", &o(Target::Stopped, 20.5)).unwrap();
        keep(&paths, "svc1", &o(Target::Started, 10.25)).unwrap();
        assert!(keep(&paths, "../etc/passwd", &o(Target::Started, 1.0)).is_err());
        let p = pending(&paths);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].1, o(Target::Started, 10.25), "oldest first");
        assert_eq!(p[1].1, o(Target::Stopped, 20.5));
        assert!(
            p.iter()
                .all(|(s, _, f)| s == "svc1" && f.starts_with(dir(&paths)))
        );
        let files: Vec<PathBuf> = p.into_iter().map(|(_, _, f)| f).collect();
        done(&files);
        assert!(pending(&paths).is_empty());
    }
}

//! The rsync command lines of a push (docs/behaviour.md, "sync"): the data
//! transfer and the send of the timestamp files. Argv building only; push
//! runs them.

use std::path::Path;
use std::time::Duration;

use crate::config::SyncConf;
use crate::exec::Cmd;
use crate::remote;

/// rsync's own `--timeout` ends a stalled transfer; this only bounds one
/// that keeps moving, so that a sync never holds the service lock forever.
pub(super) const RSYNC_RUN_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// The rsync options of every data transfer (docs/behaviour.md, "sync").
const RSYNC_BASE: [&str; 6] = [
    "rsync",
    "-HpogDtrlvx",
    "--stats",
    "--delete",
    "--force",
    "--timeout=3600",
];

/// `-e <rsh>`, and rsync through sudo on the peer for a non-root user.
fn transport(ruser: &str) -> Vec<String> {
    let mut out = vec!["-e".to_string(), remote::rsh()];
    if ruser != "root" {
        out.extend(["--rsync-path".to_string(), "sudo rsync".to_string()]);
    }
    out
}

/// The data transfer of `src` to `dst` on `peer`, as `ruser`.
pub(super) fn data_cmd(conf: &SyncConf, ruser: &str, peer: &str, src: &[String], dst: &str) -> Cmd {
    let mut argv: Vec<String> = RSYNC_BASE.iter().map(|s| s.to_string()).collect();
    if conf.internal {
        argv.extend(["-R".to_string(), "--exclude=*.core".to_string()]);
    }
    argv.extend(conf.options.iter().cloned());
    argv.extend(transport(ruser));
    if let Some(bw) = conf.bwlimit {
        argv.push(format!("--bwlimit={bw}"));
    }
    // `--`: no source path, however named, is read as an rsync option.
    argv.push("--".to_string());
    argv.extend(src.iter().cloned());
    argv.push(format!("{ruser}@{peer}:{dst}"));
    Cmd::new(argv).timeout(RSYNC_RUN_LIMIT)
}

/// Sends the peer's stamp and ours to the same paths on `peer` (`-R`).
pub(super) fn stamps_cmd(ruser: &str, peer: &str, theirs: &Path, ours: &Path) -> Cmd {
    let mut argv = vec!["rsync".to_string()];
    argv.extend(transport(ruser));
    argv.extend([
        "-R".to_string(),
        "--".to_string(),
        theirs.to_string_lossy().into_owned(),
        ours.to_string_lossy().into_owned(),
        format!("{ruser}@{peer}:/"),
    ]);
    Cmd::new(argv)
}

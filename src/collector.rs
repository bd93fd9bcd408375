//! The collector push of 1.5 (docs/behaviour.md, "Other behaviours"): after
//! every config change the first command prints two lines and records when the
//! config was "sent". We keep the lines and the timestamp file; the network
//! push itself is a no-op.

use std::path::Path;
use std::time::UNIX_EPOCH;

use crate::paths::Paths;

/// `print`: false for actions whose stdout is data (json, get), where the
/// timestamp is still updated but nothing is printed.
pub(crate) fn push_if_needed(paths: &Paths, svc: &str, conf: &Path, print: bool) {
    let stamp = paths.var.join(format!("{svc}.push"));
    let Some(mtime) = mtime_secs(conf) else {
        return;
    };
    let pushed = std::fs::read_to_string(&stamp)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok());
    if matches!(pushed, Some(p) if p >= mtime) {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(mtime, |d| d.as_secs_f64())
        .max(mtime);
    let written = std::fs::create_dir_all(&paths.var)
        .and_then(|()| crate::fsutil::write_atomic(&stamp, format!("{now:.6}\n").as_bytes()))
        .is_ok();
    if print {
        println!("send {} to collector ... OK", conf.display());
        let res = if written { "OK" } else { "ERR" };
        println!("update {} timestamp ... {res}", stamp.display());
    }
}

fn mtime_secs(p: &Path) -> Option<f64> {
    let m = std::fs::metadata(p).ok()?.modified().ok()?;
    Some(m.duration_since(UNIX_EPOCH).ok()?.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_once_per_config_change() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        std::fs::create_dir_all(&paths.etc).unwrap();
        let conf = paths.etc.join("s.conf");
        std::fs::write(&conf, "[DEFAULT]\n").unwrap();
        let stamp = paths.var.join("s.push");
        push_if_needed(&paths, "s", &conf, false);
        let first = std::fs::read_to_string(&stamp).unwrap();
        push_if_needed(&paths, "s", &conf, false);
        assert_eq!(
            std::fs::read_to_string(&stamp).unwrap(),
            first,
            "no second push"
        );
        // A config newer than the stamp is pushed again.
        std::fs::write(&stamp, "1.0\n").unwrap();
        push_if_needed(&paths, "s", &conf, false);
        assert_ne!(std::fs::read_to_string(&stamp).unwrap(), "1.0\n");
    }
}

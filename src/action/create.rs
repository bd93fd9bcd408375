//! `svcmgr -s <svc> create [--config F | --template F]` (docs/behaviour.md,
//! "svcmgr create"): the service's config, its launcher directory and `.d` link, its
//! argv[0] link — and the new service frozen, so that no daemon starts it
//! before its owner thaws it.

use std::os::unix::fs::symlink;
use std::path::Path;

use super::{BAD_CONFIG, Env, FAILED, OK, freeze};
use crate::config;
use crate::fsutil::write_atomic;
use crate::log::Logger;
use crate::node;
use crate::paths::Paths;

pub(crate) fn create(env: &Env, name: &str, from: Option<&Path>) -> i32 {
    let log = Logger::service(name);
    let paths = env.paths;
    if config::find_file(paths, name).is_ok() {
        log.error(format!("service {name} already exists"));
        return FAILED;
    }
    let text = match from {
        Some(f) => match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("cannot read {}: {e}", f.display());
                return BAD_CONFIG;
            }
        },
        None => format!(
            "[DEFAULT]\nnodes = {}\nservice_type = {}\n",
            env.nodename,
            node::host_mode(paths)
        ),
    };
    let conf = paths.etc.join(format!("{name}.conf"));
    if let Err(e) =
        std::fs::create_dir_all(&paths.etc).and_then(|()| write_atomic(&conf, text.as_bytes()))
    {
        eprintln!("cannot write {}: {e}", conf.display());
        return FAILED;
    }
    // A config that does not validate is not installed.
    match config::validate(paths, name, env.nodename) {
        Ok(problems) if problems.iter().any(|p| !p.message.starts_with("unknown")) => {
            for p in &problems {
                eprintln!("{p}");
            }
            let _ = std::fs::remove_file(&conf);
            return BAD_CONFIG;
        }
        Ok(_) => {}
        Err(e) => {
            eprintln!("{e}");
            let _ = std::fs::remove_file(&conf);
            return BAD_CONFIG;
        }
    }
    if let Err(e) = install_links(paths, name, &env.svcmgr_bin) {
        log.error(e);
        return FAILED;
    }
    freeze::freeze(paths, name, &log).max(OK)
}

/// The launcher directory `<svc>.dir`, its `<svc>.d` link and the
/// `<svc> -> svcmgr` entry point; what exists already is kept. Also used by
/// the daemon for a service replicated from a peer.
pub(crate) fn install_links(paths: &Paths, name: &str, svcmgr_bin: &Path) -> Result<(), String> {
    let dir = paths.etc.join(format!("{name}.dir"));
    let d = paths.launcher_dir(name);
    let link = paths.svc_link(name);
    std::fs::create_dir_all(&dir)
        .and_then(|()| match d.symlink_metadata() {
            Ok(_) => Ok(()),
            Err(_) => symlink(format!("{name}.dir"), &d),
        })
        .and_then(|()| match link.symlink_metadata() {
            Ok(_) => Ok(()),
            Err(_) => symlink(svcmgr_bin, &link),
        })
        .map_err(|e| format!("cannot create {} and its links: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Opts;
    use crate::exec::FakeRunner;

    fn env<'a>(paths: &'a Paths, runner: &'a FakeRunner, opts: &'a Opts) -> Env<'a> {
        Env {
            paths,
            nodename: "node1",
            runner,
            opts,
            svcmgr_bin: "/usr/bin/svcmgr".into(),
        }
    }

    #[test]
    fn creates_a_frozen_minimal_service_once() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        let (r, o) = (FakeRunner::new(), Opts::default());
        let e = env(&paths, &r, &o);
        assert_eq!(create(&e, "svc1", None), OK);
        assert_eq!(
            std::fs::read_to_string(paths.etc.join("svc1.conf")).unwrap(),
            "[DEFAULT]\nnodes = node1\nservice_type = TST\n"
        );
        assert!(paths.etc.join("svc1.dir").is_dir());
        assert_eq!(
            std::fs::read_link(paths.etc.join("svc1.d")).unwrap(),
            Path::new("svc1.dir")
        );
        assert_eq!(
            std::fs::read_link(paths.etc.join("svc1")).unwrap(),
            Path::new("/usr/bin/svcmgr")
        );
        assert!(paths.frozen_svc("svc1").exists());
        let (code, lines) = crate::log::capture(|| create(&e, "svc1", None));
        assert_eq!(code, FAILED);
        assert_eq!(lines, ["ERROR SVC1 service svc1 already exists"]);
    }

    #[test]
    fn a_config_that_does_not_validate_is_not_installed() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        let (r, o) = (FakeRunner::new(), Opts::default());
        let bad = d.path().join("bad.conf");
        std::fs::write(
            &bad,
            "[DEFAULT]\nnodes = node1\nservice_type = TST\n[ip#0]\nipdev = eth0\n",
        )
        .unwrap();
        assert_eq!(create(&env(&paths, &r, &o), "svc2", Some(&bad)), BAD_CONFIG);
        assert!(!paths.etc.join("svc2.conf").exists());
        assert!(!paths.frozen_svc("svc2").exists());
    }
}

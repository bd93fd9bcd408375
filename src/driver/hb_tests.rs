//! The hb.openha driver's tests: OpenHA's STATE files in a temporary
//! directory, a fake `ps -ef` for its daemons.

use super::*;
use crate::driver::SvcInfo;
use crate::exec::{FakeRunner, Runner};
use crate::log::capture;
use crate::paths::Paths;
use std::os::unix::fs::symlink;

const SVC: &str = "p26.opensvc.com";

const MONITOR: &str = "\
# node   type  args...
sles1 net eth0 239.0.0.1 1234 10
sles2 net eth0 239.0.0.2 1234 10
sles1 dio /dev/sdb 0 10
  # sles2 net commented out 1 2
sles2 dio /dev/sdb 16 10
short line only
";

struct Lab {
    _dir: tempfile::TempDir,
    root: String,
    svc: SvcInfo,
    ez: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let mut paths = Paths::under(&root);
        paths.etc = root.join("etc/opensvc");
        std::fs::create_dir_all(&paths.etc).unwrap();
        let bin = root.join("usr/bin/svcmgr");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::write(&bin, "").unwrap();
        let svc = SvcInfo {
            name: SVC.into(),
            nodename: "sles1".into(),
            nodes: vec!["sles1".into(), "sles2".into()],
            drpnodes: vec![],
            service_type: "PRD".into(),
            paths,
            svcmgr_bin: bin,
        };
        let ez = root.join("usr/local/cluster");
        Lab {
            root: root.display().to_string(),
            _dir: dir,
            svc,
            ez,
        }
    }

    fn hb(&self, name: &str) -> Hb {
        Hb::with_ez(
            OpenHaConf {
                hb_type: "openha".into(),
                name: name.into(),
            },
            self.ez.clone(),
        )
    }

    fn ctx<'a>(&'a self, runner: &'a dyn Runner) -> Ctx<'a> {
        Ctx {
            runner,
            log: Logger::service(SVC).resource("hb#0"),
            svc: &self.svc,
            env: &[],
            conflict_checked: false,
            cache: None,
        }
    }

    fn link(&self, suffix: &str) -> PathBuf {
        self.svc.paths.etc.join(format!("{SVC}.{suffix}"))
    }

    fn install(&self, monitor: Option<&str>) {
        let bin = self.ez.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("service"), "").unwrap();
        std::fs::create_dir_all(self.ez.join("conf")).unwrap();
        if let Some(m) = monitor {
            std::fs::write(self.ez.join("conf/monitor"), m).unwrap();
        }
    }

    fn state(&self, name: &str, content: &str) {
        let d = self.ez.join("services").join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("STATE.sles1"), content).unwrap();
    }

    /// `ps -ef` lines for the given daemon command lines.
    fn ps(&self, daemons: &[&str]) -> String {
        let ez = self.ez.display();
        let mut out = String::from("UID PID PPID C STIME TTY TIME CMD\n");
        for d in daemons {
            out.push_str(&format!("root 1 0 0 10:00 ? 00:00:00 {ez}/bin/{d}\n"));
        }
        out
    }

    fn all_daemons(&self) -> String {
        self.ps(&[
            "heartd eth0 239.0.0.1 1234",
            "heartc eth0 239.0.0.2 1234 10",
            "heartd_dio /dev/sdb 0",
            "heartc_dio /dev/sdb 16 10",
            "nmond",
        ])
    }
}

#[test]
fn first_status_creates_the_links_like_the_tutorial() {
    let lab = Lab::new();
    let runner = FakeRunner::new();
    let (probe, lines) = capture(|| lab.hb(SVC).status(&lab.ctx(&runner), &Deps::NONE));
    let lines: Vec<String> = lines.iter().map(|l| l.replace(&lab.root, "")).collect();
    assert_eq!(
        lines,
        vec![
            "INFO P26.OPENSVC.COM.HB#0 /etc/opensvc/p26.opensvc.com.cluster: not regular file nor symlink. fix.",
            "INFO P26.OPENSVC.COM.HB#0 /etc/opensvc/p26.opensvc.com.stonith: not regular file nor symlink. fix.",
        ]
    );
    for s in ["cluster", "stonith"] {
        assert_eq!(std::fs::read_link(lab.link(s)).unwrap(), lab.svc.svcmgr_bin);
    }
    assert_eq!(probe, Probe::with(Status::Warn, "open-ha is not installed"));
    // Second status: links are fine, nothing logged.
    let (_, lines) = capture(|| lab.hb(SVC).status(&lab.ctx(&runner), &Deps::NONE));
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn wrong_links_and_files_are_replaced() {
    let lab = Lab::new();
    let other = lab.svc.paths.etc.join("other");
    std::fs::write(&other, "").unwrap();
    symlink(&other, lab.link("cluster")).unwrap();
    std::fs::write(lab.link("stonith"), "x").unwrap();
    let runner = FakeRunner::new();
    let (_, lines) = capture(|| lab.hb(SVC).status(&lab.ctx(&runner), &Deps::NONE));
    let c = lab.link("cluster").display().to_string();
    let s = lab.link("stonith").display().to_string();
    assert_eq!(
        lines,
        vec![
            format!("INFO P26.OPENSVC.COM.HB#0 {c}: symlink exists but points to wrong file. fix."),
            format!("INFO P26.OPENSVC.COM.HB#0 {s}: regular file. fix."),
        ]
    );
    std::fs::remove_file(lab.link("cluster")).unwrap();
    symlink("/nonexistent/svcmgr", lab.link("cluster")).unwrap();
    let (_, lines) = capture(|| lab.hb(SVC).status(&lab.ctx(&runner), &Deps::NONE));
    assert_eq!(
        lines,
        vec![format!("INFO P26.OPENSVC.COM.HB#0 {c}: broken link. fix.")]
    );
    for s in ["cluster", "stonith"] {
        assert_eq!(std::fs::read_link(lab.link(s)).unwrap(), lab.svc.svcmgr_bin);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&lab.svc.paths.etc)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e == "tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn relative_links_to_the_binary_are_accepted() {
    let lab = Lab::new();
    for s in ["cluster", "stonith"] {
        symlink("../../usr/bin/svcmgr", lab.link(s)).unwrap();
    }
    let runner = FakeRunner::new();
    let (_, lines) = capture(|| lab.hb(SVC).status(&lab.ctx(&runner), &Deps::NONE));
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(
        std::fs::read_link(lab.link("cluster")).unwrap(),
        PathBuf::from("../../usr/bin/svcmgr")
    );
}

#[test]
fn a_directory_in_the_way_is_reported() {
    let lab = Lab::new();
    std::fs::create_dir(lab.link("cluster")).unwrap();
    symlink(&lab.svc.svcmgr_bin, lab.link("stonith")).unwrap();
    let runner = FakeRunner::new();
    let (_, lines) = capture(|| lab.hb(SVC).status(&lab.ctx(&runner), &Deps::NONE));
    let c = lab.link("cluster").display().to_string();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        lines[0],
        format!("INFO P26.OPENSVC.COM.HB#0 {c}: not regular file nor symlink. fix.")
    );
    assert!(lines[1].starts_with(&format!(
        "ERROR P26.OPENSVC.COM.HB#0 {c}: cannot link it to "
    )));
}

#[test]
fn expected_daemons_follow_the_monitor_file() {
    let d = expected_daemons(MONITOR, Path::new("/ez/bin"), "sles1");
    assert_eq!(
        d,
        vec![
            "/ez/bin/heartd eth0 239.0.0.1 1234",
            "/ez/bin/heartc eth0 239.0.0.2 1234 10",
            "/ez/bin/heartd_dio /dev/sdb 0",
            "/ez/bin/heartc_dio /dev/sdb 16 10",
            "/ez/bin/nmond",
        ]
    );
}

#[test]
fn daemons_not_running_is_warn() {
    let lab = Lab::new();
    lab.install(Some(MONITOR));
    lab.state(SVC, "2\n");
    let runner = FakeRunner::new();
    // heartc_dio missing.
    let ps = lab.ps(&[
        "heartd eth0 239.0.0.1 1234",
        "heartc eth0 239.0.0.2 1234 10",
        "heartd_dio /dev/sdb 0",
        "nmond",
    ]);
    runner.on(&["ps", "-ef"], 0, &ps, "");
    let probe = lab.hb(SVC).status(&lab.ctx(&runner), &Deps::NONE);
    assert_eq!(
        probe,
        Probe::with(Status::Warn, "open-ha daemons are not running")
    );
    assert_eq!(runner.calls(), vec!["ps -ef"]);

    let runner = FakeRunner::new();
    runner.on(&["ps", "-ef"], 1, &lab.all_daemons(), "");
    let probe = lab.hb(SVC).status(&lab.ctx(&runner), &Deps::NONE);
    assert_eq!(
        probe,
        Probe::with(Status::Warn, "open-ha daemons are not running")
    );

    let runner = FakeRunner::new();
    runner.missing("ps");
    let probe = lab.hb(SVC).status(&lab.ctx(&runner), &Deps::NONE);
    assert_eq!(
        probe,
        Probe::with(Status::Warn, "open-ha daemons are not running")
    );
}

#[test]
fn state_file_gives_the_status() {
    let lab = Lab::new();
    lab.install(Some(MONITOR));
    let runner = FakeRunner::new();
    runner.on(&["ps", "-ef"], 0, &lab.all_daemons(), "");
    let status = |content: Option<&str>| {
        let _ = std::fs::remove_dir_all(lab.ez.join("services"));
        if let Some(c) = content {
            lab.state(SVC, c);
        }
        lab.hb(SVC).status(&lab.ctx(&runner), &Deps::NONE)
    };
    assert_eq!(status(Some("2\n")), Probe::new(Status::Up));
    assert_eq!(status(Some("0")), Probe::new(Status::Down));
    assert_eq!(
        status(Some("6\n")),
        Probe::with(Status::Warn, "cluster service status is frozen_stop")
    );
    assert_eq!(
        status(Some("4")),
        Probe::with(Status::Warn, "cluster service status is start_failed")
    );
    let unknown = Probe::with(Status::Warn, "unable to determine cluster service state");
    assert_eq!(status(None), unknown);
    assert_eq!(status(Some("")), unknown);
    assert_eq!(status(Some("x")), unknown);
    assert_eq!(status(Some("8")), unknown);
}

#[test]
fn missing_monitor_file_counts_as_running_and_name_is_used() {
    let lab = Lab::new();
    lab.install(None);
    lab.state("openha_name", "2");
    let runner = FakeRunner::new();
    let probe = lab.hb("openha_name").status(&lab.ctx(&runner), &Deps::NONE);
    assert_eq!(probe, Probe::new(Status::Up));
    assert!(runner.calls().is_empty(), "no ps without a monitor file");
    // Empty name: the service name.
    lab.state(SVC, "0");
    let probe = lab.hb("").status(&lab.ctx(&runner), &Deps::NONE);
    assert_eq!(probe, Probe::new(Status::Down));
}

#[test]
fn start_and_stop_do_nothing() {
    let lab = Lab::new();
    let runner = FakeRunner::new();
    let hb = lab.hb(SVC);
    assert_eq!(hb.start(&lab.ctx(&runner)), Ok(Started::AlreadyUp));
    assert_eq!(hb.stop(&lab.ctx(&runner)), Ok(()));
    assert!(runner.calls().is_empty());
    assert_eq!(hb.label(), "hb.openha");
    assert_eq!(hb.type_name(), "hb.openha");
    assert!(!lab.link("cluster").exists());
}

//! The app driver's tests: launchers in a temporary directory, run by a
//! fake runner or for real.

use super::run::{DEFAULT_ACTION_TIMEOUT, DEFAULT_CHECK_TIMEOUT, fmt_timedelta};
use super::safety::unsafe_reason;
use super::*;
use crate::exec::{Cmd, ExecError, Output};
use crate::exec::{FakeRunner, Runner};
use crate::log::Logger;
use crate::log::capture;
use crate::paths::Paths;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

const SVC: &str = "p26.opensvc.com";

/// A root laid out like the seed's FHS paths, so that log lines can be
/// compared with the tutorial once the root prefix is removed.
struct Lab {
    _dir: tempfile::TempDir,
    root: String,
    svc: SvcInfo,
    /// The real launcher directory the `.d` link points to.
    real: PathBuf,
    env: Vec<(String, String)>,
}

impl Lab {
    fn new(nodes: &[&str]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let mut paths = Paths::under(&root);
        paths.etc = root.join("etc/opensvc");
        paths.tmp = root.join("var/tmp/opensvc");
        std::fs::create_dir_all(&paths.etc).unwrap();
        let real = root.join("svc1/app/init.d");
        std::fs::create_dir_all(&real).unwrap();
        symlink(&real, paths.launcher_dir(SVC)).unwrap();
        let svc = SvcInfo {
            name: SVC.into(),
            nodename: "sles1".into(),
            nodes: nodes.iter().map(|s| s.to_string()).collect(),
            drpnodes: vec![],
            service_type: "PRD".into(),
            paths,
            svcmgr_bin: PathBuf::from("/usr/bin/svcmgr"),
        };
        Lab {
            root: root.display().to_string(),
            _dir: dir,
            svc,
            real,
            env: vec![("OPENSVC_SVCNAME".into(), SVC.into())],
        }
    }

    fn launcher(&self, name: &str, mode: u32) -> PathBuf {
        let p = self.real.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn initd(&self) -> String {
        self.svc.paths.launcher_dir(SVC).display().to_string()
    }

    fn app(&self) -> App {
        App::new(AppConf::default(), &self.svc)
    }

    fn ctx<'a>(&'a self, runner: &'a dyn Runner) -> Ctx<'a> {
        Ctx {
            runner,
            log: Logger::service(SVC).resource("app"),
            svc: &self.svc,
            env: &self.env,
            conflict_checked: false,
            cache: None,
        }
    }

    /// Log lines with the temporary root removed and durations fixed,
    /// so they compare with the tutorial's text.
    fn normalize(&self, lines: Vec<String>) -> Vec<String> {
        lines
            .into_iter()
            .map(|l| fix_duration(&l.replace(&self.root, "")))
            .collect()
    }
}

fn fix_duration(line: &str) -> String {
    let marker = [" done in ", " interrupted after "]
        .into_iter()
        .find_map(|m| line.find(m).map(|i| i + m.len()));
    let Some(start) = marker else {
        return line.to_string();
    };
    let Some(len) = line[start..].find(" - ret") else {
        return line.to_string();
    };
    let d = &line[start..start + len];
    assert!(
        d.starts_with("0:00:0") && d.len() >= 7,
        "not a timedelta: {d}"
    );
    format!("{}<d>{}", &line[..start], &line[start + len..])
}

fn base(status: Status) -> Deps {
    Deps { base: status }
}

#[test]
fn timedelta_text_matches_python() {
    assert_eq!(fmt_timedelta(Duration::from_micros(7657)), "0:00:00.007657");
    assert_eq!(fmt_timedelta(Duration::from_secs(1)), "0:00:01");
    assert_eq!(
        fmt_timedelta(Duration::from_secs(86_400) + Duration::from_millis(500)),
        "1 day, 0:00:00.500000"
    );
    assert_eq!(
        fmt_timedelta(Duration::from_secs(2 * 86_400 + 3723)),
        "2 days, 1:02:03"
    );
    assert_eq!(fmt_timedelta(Duration::from_secs(36_000)), "10:00:00");
    // Nanoseconds are truncated, as timedelta keeps microseconds only.
    assert_eq!(fmt_timedelta(Duration::from_nanos(999)), "0:00:00");
}

#[test]
fn start_runs_s_launchers_like_the_tutorial() {
    let lab = Lab::new(&["sles1", "sles2"]);
    lab.launcher("S10weblauncher", 0o755);
    lab.launcher("K90weblauncher", 0o755);
    lab.launcher("C10weblauncher", 0o755);
    let runner = FakeRunner::new();
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        lab.normalize(lines),
        vec![
            "INFO P26.OPENSVC.COM.APP spawn: /etc/opensvc/p26.opensvc.com.d/S10weblauncher start",
            "INFO P26.OPENSVC.COM.APP start done in <d> - ret 0 - logs in /var/tmp/opensvc/svc_p26.opensvc.com_S10weblauncher.log",
        ]
    );
    let cmds = runner.cmds();
    assert_eq!(cmds.len(), 1);
    let s10 = format!("{}/S10weblauncher", lab.initd());
    assert_eq!(cmds[0].argv, vec![s10.as_str(), "start"]);
    assert_eq!(cmds[0].env, lab.env);
    assert_eq!(cmds[0].timeout, DEFAULT_ACTION_TIMEOUT);
    assert_eq!(
        cmds[0].output_file,
        Some(
            lab.svc
                .paths
                .tmp
                .join("svc_p26.opensvc.com_S10weblauncher.log")
        )
    );
    let tmp = std::fs::symlink_metadata(&lab.svc.paths.tmp).unwrap();
    assert!(tmp.is_dir(), "the log dir is created");
    assert_eq!(tmp.mode() & 0o7777, 0o700, "and is ours alone");
}

#[test]
fn stop_runs_k_launchers_like_the_tutorial() {
    let lab = Lab::new(&["sles1", "sles2"]);
    lab.launcher("S10weblauncher", 0o755);
    lab.launcher("K90weblauncher", 0o755);
    let runner = FakeRunner::new();
    let (res, lines) = capture(|| lab.app().stop(&lab.ctx(&runner)));
    assert_eq!(res, Ok(()));
    assert_eq!(
        lab.normalize(lines),
        vec![
            "INFO P26.OPENSVC.COM.APP spawn: /etc/opensvc/p26.opensvc.com.d/K90weblauncher stop",
            "INFO P26.OPENSVC.COM.APP stop done in <d> - ret 0 - logs in /var/tmp/opensvc/svc_p26.opensvc.com_K90weblauncher.log",
        ]
    );
    assert_eq!(
        runner.calls(),
        vec![format!("{}/K90weblauncher stop", lab.initd())]
    );
}

#[test]
fn launchers_run_in_lexicographic_order_and_rcs_are_not_fatal() {
    let lab = Lab::new(&["sles1"]);
    for n in ["S2b", "S10a", "Sz", "K20x", "K10y", "xS1", "s5"] {
        lab.launcher(n, 0o755);
    }
    let runner = FakeRunner::new();
    let s10 = format!("{}/S10a", lab.initd());
    runner.on(&[s10.as_str()], 3, "", "");
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert_eq!(res, Ok(Started::Activated));
    let d = lab.initd();
    assert_eq!(
        runner.calls(),
        vec![
            format!("{d}/S10a start"),
            format!("{d}/S2b start"),
            format!("{d}/Sz start")
        ]
    );
    assert!(lines[1].ends_with(&format!(
        " - ret 3 - logs in {}/svc_{SVC}_S10a.log",
        lab.svc.paths.tmp.display()
    )));
    let runner = FakeRunner::new();
    lab.app().stop(&lab.ctx(&runner)).unwrap();
    assert_eq!(
        runner.calls(),
        vec![format!("{d}/K10y stop"), format!("{d}/K20x stop")]
    );
}

#[test]
fn conf_timeout_is_passed_to_launchers() {
    let lab = Lab::new(&["sles1"]);
    lab.launcher("S10a", 0o755);
    lab.launcher("C10a", 0o755);
    let app = App::new(
        AppConf {
            dir: None,
            timeout: Some(Duration::from_secs(7)),
        },
        &lab.svc,
    );
    let runner = FakeRunner::new();
    app.start(&lab.ctx(&runner)).unwrap();
    app.status(&lab.ctx(&runner), &base(Status::Up));
    let cmds = runner.cmds();
    assert_eq!(cmds.len(), 2);
    assert!(cmds.iter().all(|c| c.timeout == Duration::from_secs(7)));
}

#[test]
fn missing_initd_logs_but_does_not_fail() {
    let lab = Lab::new(&["sles1"]);
    std::fs::remove_file(lab.svc.paths.launcher_dir(SVC)).unwrap();
    let runner = FakeRunner::new();
    let d = lab.initd();
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        lines,
        vec![format!("ERROR P26.OPENSVC.COM.APP {d} is not present")]
    );
    let (res, lines) = capture(|| lab.app().stop(&lab.ctx(&runner)));
    assert_eq!(res, Ok(()));
    assert_eq!(
        lines,
        vec![format!(
            "INFO P26.OPENSVC.COM.APP {d} is not present, perhaps already stopped"
        )]
    );
    assert!(runner.calls().is_empty());
}

#[test]
fn link_to_a_missing_target_is_not_present() {
    let lab = Lab::new(&["sles1"]);
    lab.launcher("S10a", 0o755);
    std::fs::remove_dir_all(&lab.real).unwrap();
    let runner = FakeRunner::new();
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        lines,
        vec![format!(
            "ERROR P26.OPENSVC.COM.APP {} is not present",
            lab.initd()
        )]
    );
    let probe = lab.app().status(&lab.ctx(&runner), &base(Status::Up));
    assert_eq!(probe, Probe::new(Status::NotApplicable));
}

#[test]
fn a_real_directory_is_refused_unless_dir_is_set() {
    let lab = Lab::new(&["sles1"]);
    let d = lab.svc.paths.launcher_dir(SVC);
    std::fs::remove_file(&d).unwrap();
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("S10a"), "").unwrap();
    std::fs::set_permissions(d.join("S10a"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(d.join("K10a"), "").unwrap();
    std::fs::set_permissions(d.join("K10a"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let runner = FakeRunner::new();
    let want = vec![format!(
        "ERROR P26.OPENSVC.COM.APP {} is not a link",
        lab.initd()
    )];
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(lines, want);
    let (res, lines) = capture(|| lab.app().stop(&lab.ctx(&runner)));
    assert_eq!(res, Ok(()));
    assert_eq!(lines, want);
    assert!(runner.calls().is_empty());

    let app = App::new(
        AppConf {
            dir: Some(d.clone()),
            timeout: None,
        },
        &lab.svc,
    );
    app.start(&lab.ctx(&runner)).unwrap();
    assert_eq!(runner.calls(), vec![format!("{}/S10a start", d.display())]);
}

#[test]
fn non_executable_launchers_are_made_executable() {
    let lab = Lab::new(&["sles1"]);
    let p = lab.launcher("S10a", 0o644);
    let runner = FakeRunner::new();
    let (_, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert_eq!(
        lines[0],
        format!("INFO P26.OPENSVC.COM.APP chmod +x {}/S10a", lab.initd())
    );
    let mode = std::fs::metadata(&p).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o755);
    assert_eq!(runner.calls().len(), 1);
}

#[test]
fn writable_launchers_are_refused_and_nothing_runs() {
    let lab = Lab::new(&["sles1"]);
    lab.launcher("S10a", 0o755);
    let bad = lab.launcher("S20b", 0o775);
    let target = std::fs::canonicalize(&bad).unwrap();
    let runner = FakeRunner::new();
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert!(res.is_err());
    assert_eq!(
        lines,
        vec![format!(
            "ERROR P26.OPENSVC.COM.APP {}/S20b is writable by group or others: refusing to run it (fix with: chmod go-w {})",
            lab.initd(),
            target.display()
        )]
    );
    assert!(runner.calls().is_empty(), "nothing runs when one is unsafe");
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o757)).unwrap();
    let (res, _) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert!(res.is_err(), "world-writable is refused too");
    lab.launcher("K10a", 0o777);
    let (res, _) = capture(|| lab.app().stop(&lab.ctx(&runner)));
    assert!(res.is_err(), "an unsafe stop launcher fails the stop");
    assert!(runner.calls().is_empty());
}

#[test]
fn ownership_rule() {
    let p = Path::new("/d/S1");
    let t = Path::new("/t/S1");
    assert_eq!(unsafe_reason(p, t, 0, 0o755, 1000), None);
    assert_eq!(unsafe_reason(p, t, 1000, 0o755, 1000), None);
    assert_eq!(
        unsafe_reason(p, t, 1001, 0o755, 1000).as_deref(),
        Some("/d/S1 is owned by uid 1001: refusing to run it (launchers must be owned by root)")
    );
    assert_eq!(
        unsafe_reason(p, t, 0, 0o765, 0).as_deref(),
        Some(
            "/d/S1 is writable by group or others: refusing to run it (fix with: chmod go-w /t/S1)"
        )
    );
}

#[test]
fn launchers_owned_by_another_user_are_refused() {
    if !nix::unistd::geteuid().is_root() {
        return; // only root can give a file away
    }
    let lab = Lab::new(&["sles1"]);
    let p = lab.launcher("S10a", 0o755);
    std::os::unix::fs::chown(&p, Some(4242), None).unwrap();
    let runner = FakeRunner::new();
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert!(res.is_err());
    assert_eq!(
        lines,
        vec![format!(
            "ERROR P26.OPENSVC.COM.APP {}/S10a is owned by uid 4242: refusing to run it (launchers must be owned by root)",
            lab.initd()
        )]
    );
    assert!(runner.calls().is_empty());
}

/// Answers every command with one error, for the paths FakeRunner
/// cannot script.
struct FailingRunner(fn() -> ExecError);

impl Runner for FailingRunner {
    fn run(&self, _cmd: &Cmd) -> Result<Output, ExecError> {
        Err((self.0)())
    }
    fn which(&self, bin: &str) -> Option<PathBuf> {
        Some(PathBuf::from(bin))
    }
}

#[test]
fn timeouts_and_exec_errors_are_logged_not_fatal() {
    let lab = Lab::new(&["sles1"]);
    lab.launcher("S10a", 0o755);
    let runner = FailingRunner(|| ExecError::Timeout {
        cmd: "x".into(),
        secs: 1,
    });
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        lab.normalize(lines)[1],
        "ERROR P26.OPENSVC.COM.APP start interrupted after <d> - ret 1 - logs in /var/tmp/opensvc/svc_p26.opensvc.com_S10a.log"
    );
    let runner = FailingRunner(|| ExecError::Spawn {
        cmd: "x".into(),
        err: io::Error::from_raw_os_error(libc::ENOEXEC).into(),
    });
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        lines[1],
        format!(
            "ERROR P26.OPENSVC.COM.APP {}/S10a execution error (Exec format error)",
            lab.initd()
        )
    );
}

#[test]
fn broken_launcher_links_are_skipped() {
    let lab = Lab::new(&["sles1"]);
    symlink("/nonexistent/x", lab.real.join("S05gone")).unwrap();
    lab.launcher("S10a", 0o755);
    let runner = FakeRunner::new();
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        lines[0],
        format!(
            "ERROR P26.OPENSVC.COM.APP {}/S05gone execution error (No such file or directory)",
            lab.initd()
        )
    );
    assert_eq!(runner.calls(), vec![format!("{}/S10a start", lab.initd())]);
}

#[test]
fn status_is_na_without_checkup_scripts() {
    let lab = Lab::new(&["sles1", "sles2"]);
    lab.launcher("S10a", 0o755);
    let runner = FakeRunner::new();
    let probe = lab.app().status(&lab.ctx(&runner), &base(Status::Up));
    assert_eq!(
        probe,
        Probe::with(Status::NotApplicable, "no checkup scripts")
    );
}

#[test]
fn status_is_na_without_comment_when_a_multi_node_service_is_not_up() {
    let lab = Lab::new(&["sles1", "sles2"]);
    lab.launcher("C10a", 0o755);
    let runner = FakeRunner::new();
    for s in [Status::Down, Status::Warn, Status::StdbyDown] {
        let probe = lab.app().status(&lab.ctx(&runner), &base(s));
        assert_eq!(probe, Probe::new(Status::NotApplicable), "{s:?}");
    }
    assert!(runner.calls().is_empty());
    // A one-node service checks its app whatever the base status.
    let lab = Lab::new(&["sles1"]);
    lab.launcher("C10a", 0o755);
    let probe = lab.app().status(&lab.ctx(&runner), &base(Status::Down));
    assert_eq!(probe, Probe::new(Status::Up));
}

#[test]
fn status_counts_failing_checkup_scripts() {
    let lab = Lab::new(&["sles1", "sles2"]);
    lab.launcher("C10a", 0o755);
    lab.launcher("C20b", 0o755);
    lab.launcher("C30c", 0o755);
    let d = lab.initd();
    let (a, b, c) = (
        format!("{d}/C10a"),
        format!("{d}/C20b"),
        format!("{d}/C30c"),
    );
    let check = |rcs: [i32; 3], base_status: Status| {
        let runner = FakeRunner::new();
        for (p, rc) in [&a, &b, &c].into_iter().zip(rcs) {
            runner.on(&[p.as_str()], rc, "", "");
        }
        let (probe, lines) = capture(|| lab.app().status(&lab.ctx(&runner), &base(base_status)));
        assert!(lines.is_empty(), "checks are quiet: {lines:?}");
        let mut calls = runner.calls();
        calls.sort();
        assert_eq!(
            calls,
            vec![
                format!("{a} status"),
                format!("{b} status"),
                format!("{c} status")
            ]
        );
        probe
    };
    assert_eq!(check([0, 0, 0], Status::Up), Probe::new(Status::Up));
    assert_eq!(check([0, 0, 0], Status::Undef), Probe::new(Status::Up));
    assert_eq!(
        check([0, 0, 0], Status::NotApplicable),
        Probe::new(Status::Up)
    );
    assert_eq!(check([1, 2, 1], Status::Up), Probe::new(Status::Down));
    // 1.5 summed the rcs: 0+2+0 == 2 would not have been a warn here.
    assert_eq!(
        check([0, 2, 0], Status::Up),
        Probe::with(Status::Warn, format!("{b} returned errors"))
    );
    assert_eq!(
        check([1, 0, 4], Status::Up),
        Probe::with(Status::Warn, format!("{a}, {c} returned errors"))
    );
}

#[test]
fn one_failing_check_of_two_is_warn() {
    let lab = Lab::new(&["sles1", "sles2"]);
    lab.launcher("C10a", 0o755);
    lab.launcher("C20b", 0o755);
    let runner = FakeRunner::new();
    let b = format!("{}/C20b", lab.initd());
    runner.on(&[b.as_str()], 1, "", "");
    let probe = lab.app().status(&lab.ctx(&runner), &base(Status::Up));
    assert_eq!(
        probe,
        Probe::with(Status::Warn, format!("{b} returned errors"))
    );
    let cmd = runner.cmds().into_iter().find(|c| c.argv[0] == b).unwrap();
    assert_eq!(cmd.env, lab.env);
    assert_eq!(cmd.output_file, None);
    assert_eq!(cmd.timeout, DEFAULT_CHECK_TIMEOUT);
}

#[test]
fn refused_or_broken_check_scripts_count_as_failing() {
    let lab = Lab::new(&["sles1"]);
    lab.launcher("C10a", 0o755);
    lab.launcher("C20b", 0o777);
    let runner = FakeRunner::new();
    let (probe, lines) = capture(|| lab.app().status(&lab.ctx(&runner), &base(Status::Up)));
    let d = lab.initd();
    assert_eq!(
        probe,
        Probe::with(Status::Warn, format!("{d}/C20b returned errors"))
    );
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].contains("is writable by group or others"),
        "{lines:?}"
    );
    assert_eq!(runner.calls(), vec![format!("{d}/C10a status")]);

    let runner = FailingRunner(|| ExecError::NotFound("x".into()));
    let (probe, lines) = capture(|| lab.app().status(&lab.ctx(&runner), &base(Status::Up)));
    assert_eq!(probe, Probe::new(Status::Down));
    assert_eq!(
        lines[1],
        format!("ERROR P26.OPENSVC.COM.APP {d}/C10a execution error (not found or not executable)")
    );
}

#[test]
fn a_real_launcher_writes_only_to_its_log_file() {
    let lab = Lab::new(&["sles1"]);
    let p = lab.real.join("S10echo");
    std::fs::write(
        &p,
        "#!/bin/sh\necho \"$1 $OPENSVC_SVCNAME\"\necho err >&2\nexit 2\n",
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = lab.svc.paths.tmp.join("svc_p26.opensvc.com_S10echo.log");
    crate::safepath::private_dir(&lab.svc.paths.tmp).unwrap();
    std::fs::write(&log, "previous run\n").unwrap();
    let runner = crate::exec::RealRunner::new();
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert_eq!(res, Ok(Started::Activated));
    assert!(lines[1].contains(" - ret 2 - logs in "), "{lines:?}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "start p26.opensvc.com\nerr\n"
    );
}

/// `want` from the pre-action check, and from a start: logged once,
/// nothing run.
fn refused_before_anything(lab: &Lab, want: &str) {
    assert_eq!(lab.app().preflight(), Err(want.to_string()));
    let runner = FakeRunner::new();
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert!(res.is_err());
    assert_eq!(lines, vec![format!("ERROR P26.OPENSVC.COM.APP {want}")]);
    assert_eq!(runner.calls(), Vec::<String>::new());
}

/// Issue 10, item 11: only the launcher itself was checked, not the
/// directories on its path.
#[test]
fn a_launcher_in_a_world_writable_directory_is_refused() {
    let lab = Lab::new(&["sles1"]);
    lab.launcher("S10a", 0o755);
    let app_dir = lab.real.parent().unwrap().to_path_buf();
    std::fs::set_permissions(&app_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let want = format!(
        "{d}/S10a: {a} is writable by group or others (mode 0777): refusing to run it (fix with: chmod go-w {a})",
        d = lab.initd(),
        a = app_dir.display()
    );
    refused_before_anything(&lab, &want);
    assert!(!lab.svc.paths.tmp.exists(), "nothing written");
}

/// A runner that makes the later launchers unsafe while the first runs.
struct Swapping {
    inner: FakeRunner,
    dir: PathBuf,
}

impl Runner for Swapping {
    fn run(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        let b = self.dir.join("S20b");
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o777)).unwrap();
        self.inner.run(cmd)
    }
    fn which(&self, bin: &str) -> Option<PathBuf> {
        self.inner.which(bin)
    }
}

/// Issue 10, item 11: all launchers were checked first, then run one
/// after another, so a later one could be swapped meanwhile.
#[test]
fn a_launcher_changed_while_an_earlier_one_runs_does_not_run() {
    let lab = Lab::new(&["sles1"]);
    lab.launcher("S10a", 0o755);
    lab.launcher("S20b", 0o755);
    lab.launcher("S30c", 0o755);
    let runner = Swapping {
        inner: FakeRunner::new(),
        dir: lab.real.clone(),
    };
    let (res, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert_eq!(
        res.unwrap_err().reason.as_deref(),
        Some(format!("unsafe launchers in {}", lab.initd()).as_str())
    );
    let d = lab.initd();
    assert_eq!(runner.inner.calls(), vec![format!("{d}/S10a start")]);
    assert!(
        lines[2].contains("S20b is writable by group or others"),
        "{lines:?}"
    );
}

/// Issue 10, item 10: a `/var/tmp/opensvc` made by anyone was used.
#[test]
fn a_log_directory_others_can_write_is_refused() {
    let lab = Lab::new(&["sles1"]);
    lab.launcher("S10a", 0o755);
    let tmp = &lab.svc.paths.tmp;
    std::fs::create_dir_all(tmp).unwrap();
    std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o777)).unwrap();
    let want = format!(
        "{t} is writable by group or others (mode 0777): refusing to write launcher logs there (remove it, or fix with: chown root:root {t} && chmod 0700 {t})",
        t = tmp.display()
    );
    refused_before_anything(&lab, &want);
}

/// The log is opened `O_NOFOLLOW`: a link planted at its predictable
/// name made root write launcher output into the link's target.
#[test]
fn a_link_at_the_log_path_is_not_followed() {
    let lab = Lab::new(&["sles1"]);
    let p = lab.real.join("S10echo");
    std::fs::write(&p, "#!/bin/sh\necho pwned\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let victim = lab.real.join("victim");
    std::fs::write(&victim, "keep\n").unwrap();
    crate::safepath::private_dir(&lab.svc.paths.tmp).unwrap();
    let log = lab.svc.paths.tmp.join("svc_p26.opensvc.com_S10echo.log");
    symlink(&victim, &log).unwrap();
    let runner = crate::exec::RealRunner::new();
    let (_, lines) = capture(|| lab.app().start(&lab.ctx(&runner)));
    assert!(lines[1].contains("execution error"), "{lines:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
}

#[test]
fn label_and_type() {
    let lab = Lab::new(&["sles1"]);
    let app = lab.app();
    assert_eq!(app.label(), "app");
    assert_eq!(app.type_name(), "app");
    assert_eq!(app.kind(), Kind::App);
}

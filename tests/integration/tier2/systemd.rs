//! Tier 2: what the agent daemon tells systemd (packaging/opensvc-agent.service
//! is `Type=notify`): `READY=1` on `NOTIFY_SOCKET` once its local socket
//! answers, so that `systemctl start` returns when the CLI can reach it.
//! The daemon runs with fake tools on PATH, as in tests/integration/tier2/daemon.rs; a guard
//! kills it by its recorded pid whatever the outcome.

use crate::common::*;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Kills the daemon this test started, by the pid it recorded.
struct KillOnDrop<'a>(&'a World);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.0.var().join("osvcd.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        if let Some(pid) = pid {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn the_daemon_notifies_systemd_once_its_socket_answers() {
    let w = World::tutorial();
    let nodemgr = w.root.join("nodemgr");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_svcmgr"), &nodemgr).unwrap();
    // Loopback and an ephemeral port, as in tests/integration/tier2/daemon.rs.
    w.run_as(
        &nodemgr,
        &["set", "--param", "listener.addr", "--value", "127.0.0.1"],
    )
    .code(0);
    w.run_as(
        &nodemgr,
        &["set", "--param", "listener.port", "--value", "0"],
    )
    .code(0);

    // systemd's end: a datagram socket the daemon is told about.
    let sock_path = w.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let notify = sock_path.display().to_string();
    let _guard = KillOnDrop(&w);
    // JOURNAL_STREAM inherited by a process whose stderr is not that
    // stream (here a pipe) must not change its lines.
    let daemon = w.spawn_env(
        &nodemgr,
        &["daemon", "start", "--foreground"],
        &[("NOTIFY_SOCKET", &notify), ("JOURNAL_STREAM", "1:1")],
    );

    let mut buf = [0u8; 4096];
    let got = match sock.recv(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Err(e) => {
            let r = daemon.finish();
            panic!("no notification within 20 s ({e})\n{}", r.report());
        }
    };
    assert_eq!(got, "READY=1\n", "the datagram the daemon sent");
    // Ready means the CLI reaches it now, not after some retries.
    w.run_as(&nodemgr, &["daemon", "running"]).code(0);

    // As systemd stops it (`nodemgr daemon stop` would wait for a pid that,
    // our unreaped child, never goes away).
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    let r = daemon.finish();
    r.code(0);
    r.stderr_has("daemon started");
    r.stderr_lacks("<6>");
    // Nothing else was sent: one READY, no stray state.
    sock.set_nonblocking(true).unwrap();
    assert!(
        sock.recv(&mut buf).is_err(),
        "a second notification: {}",
        String::from_utf8_lossy(&buf)
    );
}

/// Runs `nodemgr daemon start --foreground` (systemd's ExecStart) on an
/// invalid node.conf, its stderr a file, with `JOURNAL_STREAM` naming that
/// file or not; returns the exit code and what it wrote. The daemon
/// refuses before it binds, starts or runs anything, so no namespace is
/// needed.
fn refused_start(journal: bool) -> (i32, String) {
    let w = World::new();
    std::fs::write(
        w.etc().join("node.conf"),
        "[hb#1]\ntype = unicast\ninterval = 1e20\n",
    )
    .unwrap();
    let nodemgr = w.cmds.join("nodemgr");
    std::os::unix::fs::symlink(svcmgr_bin(), &nodemgr).unwrap();
    let err_path = w.dir.path().join("stderr");
    let err = std::fs::File::create(&err_path).unwrap();
    let st = nix::sys::stat::fstat(&err).unwrap();
    let ino = if journal { st.st_ino } else { st.st_ino + 1 };
    #[allow(clippy::disallowed_methods)] // the test's own child, not the product's
    let status = std::process::Command::new(&nodemgr)
        .args(["daemon", "start", "--foreground"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("OSVC_ROOT_PATH", &w.root)
        .env("OSVC_NODENAME", &w.node)
        .env("JOURNAL_STREAM", format!("{}:{ino}", st.st_dev))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(err)
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&err_path).unwrap();
    (status.code().unwrap_or(-1), text)
}

/// `journalctl -p err` finds the daemon's errors: on journald's stream
/// each line starts with its syslog priority, and only there.
#[test]
fn on_the_journal_stream_errors_carry_priority_3() {
    let (code, text) = refused_start(true);
    assert_eq!(code, 2, "stderr:\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "stderr:\n{text}");
    for l in &lines {
        assert!(
            l.starts_with("<3>") && l.contains(" ERROR "),
            "not an error line with <3> first: {l:?}\nstderr:\n{text}"
        );
    }
    assert!(
        text.contains("the daemon does not start with an invalid node.conf"),
        "{text}"
    );

    let (code, text) = refused_start(false);
    assert_eq!(code, 2, "stderr:\n{text}");
    assert!(
        text.lines().all(|l| !l.starts_with('<')) && !text.is_empty(),
        "a stream other than JOURNAL_STREAM's got priorities:\n{text}"
    );
}

//! Runs commands on the system, with a timeout and signal awareness.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Cmd, ExecError, Output, Runner, interrupted};

/// Directories the agent always searches after the caller's PATH, so that
/// cron's minimal PATH still finds vgchange, e2fsck and friends
/// (docs/behaviour.md, "Running commands").
const EXTRA_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

pub(crate) struct RealRunner {
    path: OsString,
}

impl Default for RealRunner {
    fn default() -> Self {
        Self::new()
    }
}

/// Tools must not inherit descriptors svcmgr got from its own caller (LVM
/// complains about them, and a daemon started by a launcher would keep them
/// open for ever). Marking them close-on-exec once, at start-up, keeps the
/// fast posix_spawn path that a per-spawn pre_exec hook would rule out.
fn cloexec_inherited_fds() {
    // SAFETY: close_range only changes descriptor flags; every descriptor
    // Rust opens is already close-on-exec.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
}

impl RealRunner {
    pub(crate) fn new() -> RealRunner {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(cloexec_inherited_fds);
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        for d in EXTRA_PATH {
            let d = PathBuf::from(d);
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        let path = std::env::join_paths(dirs).unwrap_or_default();
        RealRunner { path }
    }
}

impl RealRunner {
    /// Starts `cmd` in its own session with no terminal and standard streams
    /// on /dev/null, and does not wait: the daemon. `argv0` is the name the
    /// process runs under (the binary dispatches on it).
    #[allow(clippy::disallowed_methods)]
    pub(crate) fn spawn_detached(&self, cmd: &Cmd, argv0: &str) -> Result<u32, ExecError> {
        use std::os::unix::process::CommandExt;
        let program = cmd.program();
        let exe = self
            .which(program)
            .ok_or_else(|| ExecError::NotFound(program.to_string()))?;
        let mut c = Command::new(exe);
        c.arg0(argv0)
            .args(&cmd.argv[1..])
            .env("PATH", &self.path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        for (k, v) in &cmd.env {
            c.env(k, v);
        }
        let child = c.spawn().map_err(|err| ExecError::Spawn {
            cmd: cmd.to_string(),
            err: std::sync::Arc::new(err),
        })?;
        // Not waited for: a thread reaps it should it exit while we live.
        let pid = child.id();
        std::thread::spawn(move || {
            let mut child = child;
            let _ = child.wait();
        });
        Ok(pid)
    }
}

impl RealRunner {
    /// Runs `cmd` on the caller's terminal (standard streams inherited,
    /// no timeout: an editor session lasts as long as the person needs)
    /// and returns its exit code.
    #[allow(clippy::disallowed_methods)]
    pub(crate) fn run_on_terminal(&self, cmd: &Cmd) -> Result<i32, ExecError> {
        let program = cmd.program();
        let exe = self
            .which(program)
            .ok_or_else(|| ExecError::NotFound(program.to_string()))?;
        let status = Command::new(exe)
            .args(&cmd.argv[1..])
            .env("PATH", &self.path)
            .status()
            .map_err(|err| ExecError::Spawn {
                cmd: cmd.to_string(),
                err: std::sync::Arc::new(err),
            })?;
        Ok(exit_code(&status))
    }
}

impl Runner for RealRunner {
    fn which(&self, bin: &str) -> Option<PathBuf> {
        let cwd = std::env::current_dir().ok()?;
        which::which_in(bin, Some(&self.path), cwd).ok()
    }

    #[allow(clippy::disallowed_methods)]
    fn run(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        let program = cmd.program();
        let exe = self
            .which(program)
            .ok_or_else(|| ExecError::NotFound(program.to_string()))?;
        let mut c = Command::new(exe);
        c.args(&cmd.argv[1..])
            .env("PATH", &self.path)
            .env("LANG", "C")
            .stdin(Stdio::null());
        for (k, v) in &cmd.env {
            c.env(k, v);
        }
        let spawn_err = |err| ExecError::Spawn {
            cmd: cmd.to_string(),
            err: std::sync::Arc::new(err),
        };
        if let Some(path) = &cmd.output_file {
            // At a predictable path, opened as root: never through a link.
            let f = crate::safepath::open_log(path).map_err(spawn_err)?;
            c.stdout(f.try_clone().map_err(spawn_err)?).stderr(f);
        } else {
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let child = spawn_retrying_busy(&mut c).map_err(spawn_err)?;
        let pid = Pid::from_raw(child.id() as i32);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let started = Instant::now();
        // Checked: a configured timeout (`[app] timeout`) must never
        // overflow the clock and panic an in-process action of the daemon.
        let deadline = crate::config::duration::deadline(started, cmd.timeout);
        let mut nudge = cmd
            .interrupt_after
            .map(|d| crate::config::duration::deadline(started, d));
        loop {
            let mut wake = deadline;
            if let Some(n) = nudge {
                if Instant::now() >= n {
                    let _ = kill(pid, Signal::SIGINT);
                    nudge = None;
                } else {
                    wake = wake.min(n);
                }
            }
            let slice = wake
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100));
            match rx.recv_timeout(slice) {
                Ok(res) => {
                    let out = res.map_err(spawn_err)?;
                    return Ok(Output {
                        rc: exit_code(&out.status),
                        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                    });
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(spawn_err(std::io::Error::other("waiter thread died")));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let expired = Instant::now() >= deadline;
                    if expired || interrupted() {
                        // The child is ours and not yet reaped, so its pid
                        // cannot have been reused.
                        let _ = kill(pid, Signal::SIGKILL);
                        let _ = rx.recv();
                        return Err(if expired {
                            ExecError::Timeout {
                                cmd: cmd.to_string(),
                                secs: cmd.timeout.as_secs(),
                            }
                        } else {
                            ExecError::Interrupted
                        });
                    }
                }
            }
        }
    }
}

/// `ETXTBSY`: the executable is still open for writing somewhere, typically
/// by a just-edited launcher whose writer's descriptor a concurrent fork
/// briefly duplicated. It clears within milliseconds.
fn spawn_retrying_busy(c: &mut Command) -> std::io::Result<std::process::Child> {
    let mut tries = 0;
    loop {
        match c.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_argv_and_captures_both_streams() {
        let r = RealRunner::new();
        let out = r
            .run(&Cmd::new(["sh", "-c", "echo out; echo err >&2; exit 3"]))
            .unwrap();
        assert_eq!(out.rc, 3);
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
    }

    #[test]
    fn missing_binary_is_reported_with_the_reference_message() {
        let r = RealRunner::new();
        let err = r.run(&Cmd::new(["no-such-tool-xyz"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no-such-tool-xyz does not exist or not in path or is not executable"
        );
    }

    #[test]
    fn timeout_kills_the_child() {
        let r = RealRunner::new();
        let started = Instant::now();
        let err = r
            .run(&Cmd::new(["sleep", "5"]).timeout(Duration::from_millis(200)))
            .unwrap_err();
        assert!(matches!(err, ExecError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    #[test]
    fn children_inherit_no_descriptor_above_stderr() {
        // Start-up's one-time pass must be behind us, or another test could
        // run it between our open() and our check.
        let runner = RealRunner::new();
        // An fd without CLOEXEC, as a calling shell would leave open.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        assert!(fd > 2);
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert_eq!(
            flags & libc::FD_CLOEXEC,
            0,
            "the test fd must be inheritable"
        );
        cloexec_inherited_fds();
        let out = runner.run(&Cmd::new(["ls", "/proc/self/fd"])).unwrap();
        unsafe { libc::close(fd) };
        let fds: Vec<i32> = out
            .stdout
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        assert!(
            !fds.contains(&fd) || fds.iter().filter(|&&f| f > 2).count() == 1,
            "leaked fd {fd}: {fds:?}"
        );
        // Only the one ls opens to read the directory may be above stderr.
        assert_eq!(
            fds.iter().filter(|&&f| f > 2).count(),
            1,
            "leaked fd {fd}: {fds:?}"
        );
    }

    #[test]
    fn interrupt_after_sends_sigint_and_keeps_the_output() {
        // A test run started as a background job of a non-interactive
        // shell inherits SIGINT ignored, and an ignored signal stays
        // ignored across exec: sh could not even trap it. svcmgr and its
        // daemon install handlers, which exec resets to the default for
        // their children; the test binary does not, so it does this.
        // SAFETY: sets the default disposition; no handler is involved.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
        }
        let r = RealRunner::new();
        let started = Instant::now();
        let out = r
            .run(
                &Cmd::new([
                    "sh",
                    "-c",
                    "trap 'echo got int; kill $!; exit 7' INT; echo ready; sleep 5 & wait",
                ])
                .interrupt_after(Duration::from_millis(150)),
            )
            .unwrap();
        assert_eq!((out.rc, out.stdout.as_str()), (7, "ready\ngot int\n"));
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn output_file_receives_both_streams() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x.log");
        std::fs::write(&f, "old content that must vanish\n").unwrap();
        let r = RealRunner::new();
        let out = r
            .run(&Cmd::new(["sh", "-c", "echo a; echo b >&2"]).output_file(f.clone()))
            .unwrap();
        assert_eq!(out.rc, 0);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "a\nb\n");
    }
}

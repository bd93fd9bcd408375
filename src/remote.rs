//! Commands run on peer nodes over ssh (sync, postsync, switch).
//!
//! Security deviation from 1.5: host keys are accepted on first contact
//! only (`StrictHostKeyChecking=accept-new`, not `no`), so a changed key is
//! refused; `BatchMode` never waits on a password prompt; connections time
//! out. ssh joins its arguments into one line for the remote shell, so every
//! argument is shell-quoted here: no config value is ever interpreted there.

use crate::exec::Cmd;

/// The ssh options of every peer connection.
pub(crate) const SSH_OPTS: [&str; 8] = [
    "-o",
    "StrictHostKeyChecking=accept-new",
    "-o",
    "ForwardX11=no",
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=10",
];

/// ssh's exit code when the connection itself failed (not the remote command).
pub(crate) const SSH_FAILED: i32 = 255;

/// The `-e` value rsync uses to reach a peer.
pub(crate) fn rsh() -> String {
    format!("ssh -q {}", SSH_OPTS.join(" "))
}

/// POSIX shell quoting: `it's` becomes `'it'\''s'`; plain words stay bare.
/// `#` is not plain: a word starting with it is a comment to the remote
/// shell, which would drop it and everything after it.
pub(crate) fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// `ssh -q <opts> -l <user> -- <node> <quoted argv>`; a non-root user runs
/// the command through `sudo` (the peer grants it for nodemgr, svcmgr and
/// rsync; docs/behaviour.md, "node.conf"). `--` before the node: nothing
/// after it is an ssh option, neither the node (names are checked as host names, too) nor
/// the command line (OpenSSH reads options after the host otherwise).
pub(crate) fn ssh(user: &str, node: &str, argv: &[&str]) -> Cmd {
    let mut remote: Vec<String> = Vec::new();
    if user != "root" {
        remote.push("sudo".into());
    }
    remote.extend(argv.iter().map(|a| quote(a)));
    let mut cmd = vec!["ssh".to_string(), "-q".to_string()];
    cmd.extend(SSH_OPTS.iter().map(|s| s.to_string()));
    cmd.extend([
        "-l".into(),
        user.into(),
        "--".into(),
        node.into(),
        remote.join(" "),
    ]);
    Cmd::new(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_any_value() {
        assert_eq!(
            quote("/etc/opensvc/p26.opensvc.com"),
            "/etc/opensvc/p26.opensvc.com"
        );
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("x;rm -rf /"), "'x;rm -rf /'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$(id)"), "'$(id)'");
        assert_eq!(quote("#x"), "'#x'");
        assert_eq!(quote("-x=1,a@b:c/d.e_f%g+h"), "-x=1,a@b:c/d.e_f%g+h");
    }

    /// Deterministic pseudo-random arguments (xorshift): no dependency,
    /// and a failure replays the same case.
    fn random_args(seed: u64, n: usize) -> Vec<String> {
        const ALPHABET: &[char] = &[
            'a', 'Z', '0', ' ', '\t', '\n', '\'', '"', '\\', '$', '`', '#', '~', '*', '?', '[',
            ']', '{', '}', '(', ')', '<', '>', '|', '&', ';', '!', '=', '%', '+', ',', '.', '/',
            ':', '@', '^', '-', '_', '\r', '\u{7f}', '\u{1}', '\u{e9}', '\u{2028}',
        ];
        let mut x = seed;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n)
            .map(|_| {
                let len = (next() % 12) as usize;
                (0..len)
                    .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    /// What ssh hands the remote shell, a line of quoted words, reads
    /// back as the very same arguments: run through a local `sh -c`.
    #[test]
    fn any_argument_round_trips_through_the_shell() {
        let mut args = random_args(0x5eed_1234_abcd_0001, 2000);
        args.extend(["#", "#x", "a#b", "", "-", "--", "~", "~root", "a=b", "*"].map(String::from));
        // In a scratch directory: a quoting bug turns argument text into
        // shell code, redirections included.
        let scratch = tempfile::tempdir().unwrap();
        let cd = quote(&scratch.path().to_string_lossy());
        for chunk in args.chunks(200) {
            let line: Vec<String> = chunk.iter().map(|a| quote(a)).collect();
            let script = format!("cd {cd} && printf '%s\\0' {}", line.join(" "));
            use crate::exec::Runner;
            let out = crate::exec::RealRunner::new()
                .run(&Cmd::new(["sh", "-c", &script]))
                .expect("sh");
            assert!(out.ok(), "{script}: {out:?}");
            let got: Vec<&str> = out.stdout.split('\0').collect();
            let got = &got[..got.len() - 1];
            let want: Vec<&str> = chunk.iter().map(String::as_str).collect();
            assert_eq!(got, &want[..], "{script}");
        }
    }

    #[test]
    fn ssh_runs_through_sudo_for_a_non_root_user() {
        let c = ssh(
            "svcsync",
            "node2",
            &["nodemgr", "get", "--param", "node.host_mode"],
        );
        assert_eq!(
            c.to_string(),
            "ssh -q -o StrictHostKeyChecking=accept-new -o ForwardX11=no -o BatchMode=yes -o ConnectTimeout=10 -l svcsync -- node2 sudo nodemgr get --param node.host_mode"
        );
        let c = ssh("root", "node2", &["/etc/opensvc/a b", "postsync"]);
        assert!(
            c.to_string()
                .ends_with("-l root -- node2 '/etc/opensvc/a b' postsync")
        );
    }
}

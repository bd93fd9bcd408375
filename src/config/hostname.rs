//! Node names are host names (RFC 1123): they reach ssh, rsync and the
//! resolver as arguments, so a value such as `-oProxyCommand=...` must
//! never pass for one. Checked wherever a node name is read from a config
//! (service `nodes`/`drpnodes`, node.conf `[cluster] nodes`, arbitrators,
//! `@<node>` forms).

/// The longest name the resolver accepts.
const MAX_LEN: usize = 253;
const MAX_LABEL: usize = 63;

/// Ok for a host name: dot-separated labels of ASCII letters, digits and
/// hyphens, none empty, none starting or ending with a hyphen.
pub(crate) fn check(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("'{name}' is not a valid node name: {why}"));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_LEN {
        return bad("longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return bad("an empty label between dots");
        }
        if label.len() > MAX_LABEL {
            return bad("a label longer than 63 characters");
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return bad("only letters, digits, hyphens and dots are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a label starts or ends with a hyphen");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_pass() {
        for n in ["node1", "p26.opensvc.com", "sles-2", "N1", "1node", "a"] {
            assert_eq!(check(n), Ok(()), "{n}");
        }
    }

    #[test]
    fn option_lookalikes_and_junk_are_refused() {
        for n in [
            "-oproxycommand=x",
            "-l",
            "n1 n2",
            "",
            "a..b",
            ".a",
            "a.",
            "node-",
            "a_b",
            "n1;id",
            "#x",
            "$(id)",
            "n\u{e9}",
        ] {
            assert!(check(n).is_err(), "{n}");
        }
        assert!(check(&"a".repeat(64)).is_err());
        let e = check("-oproxycommand=x").unwrap_err();
        assert!(
            e.contains("'-oproxycommand=x' is not a valid node name"),
            "{e}"
        );
    }
}

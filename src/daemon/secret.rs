//! The cluster secret and name from `<etc>/node.conf` `[cluster]`.
//!
//! Like 1.9, a node without a secret makes one on first use, so a fresh
//! node is a working one-node cluster. The secret is 32 random bytes in hex
//! (1.9 used a 32-hex-char uuid1, which is partly guessable: the MAC
//! address and a timestamp). A secret an operator sets must carry at least
//! 128 bits (`config::node_keywords::check_strength`): `wire::Key` derives the key with HKDF,
//! which spreads the secret's entropy but adds none, so a short or
//! guessable secret would be a short or guessable key.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::edit::{self, EditError};
use crate::config::node::NodeConfig;
use crate::lock::{self, LockError};
use crate::paths::Paths;

const SECRET_KEY: &str = "cluster.secret";
const SECRET_BYTES: usize = 32;
/// Two processes starting at once must not each write their own secret.
const LOCK_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub(crate) enum SecretError {
    #[error("cannot read or store [cluster] secret: {0}")]
    Config(#[from] EditError),
    #[error("cannot create {}: {err}", .dir.display())]
    CreateDir { dir: PathBuf, err: io::Error },
    #[error("cannot restrict {} to mode 0600 (it holds the cluster secret): {err}", .file.display())]
    Permissions { file: PathBuf, err: io::Error },
    #[error("cannot draw random bytes for a new cluster secret: {0}")]
    Random(getrandom::Error),
    #[error("cannot generate the cluster secret: {0}")]
    Lock(#[from] LockError),
    #[error("cannot read [cluster] secret: {0}")]
    Read(String),
}

/// `[cluster] secret`, generated and stored on first use. The file is left
/// at mode 0600 either way: the secret is the only credential of a peer.
pub(crate) fn cluster_secret(paths: &Paths) -> Result<String, SecretError> {
    let file = paths.node_conf();
    if let Some(secret) = stored_secret(&file)? {
        make_private(&file)?;
        return Ok(secret);
    }
    let _guard = lock::acquire(&paths.lock.join("cluster_secret"), LOCK_WAIT)?;
    // Another process may have stored one while we waited for the lock.
    if let Some(secret) = stored_secret(&file)? {
        make_private(&file)?;
        return Ok(secret);
    }
    let secret = new_secret()?;
    fs::create_dir_all(&paths.etc).map_err(|err| SecretError::CreateDir {
        dir: paths.etc.clone(),
        err,
    })?;
    // 0600 from the temp file's first byte: a wider node.conf must not
    // hold the secret readable by others, not even until a chmod.
    edit::plan_set(&file, SECRET_KEY, &secret)?
        .private()
        .commit()?;
    Ok(secret)
}

/// The secret of the node.conf in force in the daemon, generated and
/// stored (`cluster_secret`) when it has none.
pub(crate) fn secret_in(conf: &NodeConfig, paths: &Paths) -> Result<String, SecretError> {
    match &conf.cluster.secret {
        Some(secret) => Ok(secret.clone()),
        None => cluster_secret(paths),
    }
}

/// An empty secret counts as none (config/node.rs): it would key the
/// whole cluster with a value anyone can guess. A file that does not parse
/// may hold one on a line it skipped: no new secret is written over it.
fn stored_secret(file: &Path) -> Result<Option<String>, SecretError> {
    let conf = NodeConfig::load(file).map_err(SecretError::Read)?;
    if let Some(p) = conf.problems.iter().find(|p| p.section.is_none()) {
        return Err(SecretError::Read(p.to_string()));
    }
    Ok(conf.cluster.secret)
}

fn new_secret() -> Result<String, SecretError> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(SecretError::Random)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `edit::set` keeps an existing file's mode, which may be a wider one
/// chosen before the file held a secret.
fn make_private(file: &Path) -> Result<(), SecretError> {
    let perm_err = |err| SecretError::Permissions {
        file: file.to_path_buf(),
        err,
    };
    let mode = fs::metadata(file).map_err(perm_err)?.permissions().mode() & 0o7777;
    if mode == 0o600 {
        return Ok(());
    }
    fs::set_permissions(file, fs::Permissions::from_mode(0o600)).map_err(perm_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::node_keywords::check_strength;

    fn node() -> (tempfile::TempDir, Paths) {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        (d, paths)
    }

    fn mode(file: &Path) -> u32 {
        fs::metadata(file).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn fresh_node_gets_a_random_hex_secret_stored_0600() {
        let (_d, paths) = node();
        let secret = cluster_secret(&paths).unwrap();
        assert_eq!(secret.len(), 64);
        assert!(
            secret
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        let file = paths.node_conf();
        assert_eq!(
            edit::get(&file, "cluster.secret").unwrap().as_deref(),
            Some(secret.as_str())
        );
        assert_eq!(mode(&file), 0o600);
        // Stable once stored.
        assert_eq!(cluster_secret(&paths).unwrap(), secret);
    }

    #[test]
    fn two_nodes_get_different_secrets() {
        let (_d1, p1) = node();
        let (_d2, p2) = node();
        assert_ne!(cluster_secret(&p1).unwrap(), cluster_secret(&p2).unwrap());
    }

    #[test]
    fn existing_secret_is_kept_and_file_narrowed_to_0600() {
        let (_d, paths) = node();
        fs::create_dir_all(&paths.etc).unwrap();
        let file = paths.node_conf();
        fs::write(&file, "[cluster]\nname = c1\nsecret = s3cret\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(cluster_secret(&paths).unwrap(), "s3cret");
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn secret_added_to_an_existing_wide_file_keeps_its_other_keys() {
        let (_d, paths) = node();
        fs::create_dir_all(&paths.etc).unwrap();
        let file = paths.node_conf();
        fs::write(&file, "# my node\n[node]\nhost_mode = PRD\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let secret = cluster_secret(&paths).unwrap();
        assert_eq!(mode(&file), 0o600);
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("# my node\n[node]\nhost_mode = PRD\n"));
        assert!(text.contains(&format!("[cluster]\nsecret = {secret}\n")));
    }

    #[test]
    fn empty_secret_is_replaced() {
        let (_d, paths) = node();
        fs::create_dir_all(&paths.etc).unwrap();
        fs::write(paths.node_conf(), "[cluster]\nsecret =\n").unwrap();
        assert_eq!(cluster_secret(&paths).unwrap().len(), 64);
    }

    #[test]
    fn unparsable_node_conf_is_an_error_naming_the_file() {
        let (_d, paths) = node();
        fs::create_dir_all(&paths.etc).unwrap();
        fs::write(paths.node_conf(), "[cluster\nsecret = x\n").unwrap();
        let err = cluster_secret(&paths).unwrap_err().to_string();
        assert!(err.contains("node.conf"), "{err}");
    }

    /// `[cluster] name`, `default` when unset or unreadable (1.9).
    fn cluster_name(paths: &Paths) -> String {
        NodeConfig::load_or_empty(&paths.node_conf()).cluster.name
    }

    #[test]
    fn cluster_name_defaults_to_default() {
        let (_d, paths) = node();
        assert_eq!(cluster_name(&paths), "default");
        fs::create_dir_all(&paths.etc).unwrap();
        fs::write(paths.node_conf(), "[node]\nhost_mode = PRD\n").unwrap();
        assert_eq!(cluster_name(&paths), "default");
        fs::write(paths.node_conf(), "[cluster]\nname = prod1\n").unwrap();
        assert_eq!(cluster_name(&paths), "prod1");
    }

    #[test]
    fn a_secret_carries_128_bits_or_is_refused() {
        for ok in [
            "0123456789abcdef0123456789abcdef",
            "0123456789ABCDEF0123456789ABCDEF0123456789abcdef",
            "q83vEjRWeJCrze8SNFZ4kA==",
            "q83vEjRWeJCrze8SNFZ4kA",
            "q83vEjRWeJCrze8SNF-_kA",
        ] {
            assert_eq!(check_strength(ok), Ok(()), "{ok}");
        }
        for weak in [
            "s",
            "0123456789abcdef0123456789abcde",
            "q83vEjRWeJCrze8SNFZ4k",
            "correct horse battery staple and more words",
            "pässwörd-pässwörd-pässwörd-pässwörd",
        ] {
            let e = check_strength(weak).unwrap_err();
            assert!(e.contains("too weak"), "{e}");
            if weak.len() > 4 {
                assert!(!e.contains(weak), "the message shows the secret: {e}");
            }
        }
    }
}

//! Tier 2: `svcmgr -s svc edit config` (docs/behaviour.md, "Edit config"):
//! the edit
//! happens in a copy, a refused edit never reaches the live file, and a
//! refused copy is neither lost nor silently overwritten. The "editor" is
//! a script given through EDITOR.

use crate::common::*;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// An executable `sh` script in the World, for EDITOR.
fn editor(w: &World, name: &str, body: &str) -> PathBuf {
    let p = w.dir.path().join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn edit(w: &World, editor: &Path, flags: &[&str]) -> Run {
    let mut args = vec!["edit", "config"];
    args.extend_from_slice(flags);
    w.run_env(
        &w.etc().join(SVC),
        &args,
        &[("EDITOR", editor.to_str().unwrap())],
    )
}

fn pending(w: &World) -> PathBuf {
    w.root.join("tmp").join(format!("{SVC}.conf.tmp"))
}

#[test]
fn a_valid_edit_is_installed_and_its_copy_removed() {
    let w = World::tutorial();
    let ed = editor(
        &w,
        "ed-ok",
        r#"sed -i 's/^app = MyApp /app = Edited/' "$1""#,
    );
    edit(&w, &ed, &[]).code(0).no_calls();
    assert!(
        w.read_conf(SVC).contains("app = Edited"),
        "{}",
        w.read_conf(SVC)
    );
    assert!(!pending(&w).exists());
}

#[test]
fn an_unchanged_file_is_left_alone() {
    let w = World::tutorial();
    let before = w.read_conf(SVC);
    let ed = editor(&w, "ed-noop", "true");
    edit(&w, &ed, &[]).code(0).stderr_has("no change to");
    assert_eq!(w.read_conf(SVC), before);
    assert!(!pending(&w).exists());
}

#[test]
fn a_refused_edit_is_kept_aside_until_recovered_or_discarded() {
    let w = World::tutorial();
    let before = w.read_conf(SVC);
    let bad = editor(&w, "ed-bad", r#"printf '[bogus#1]\nfoo = bar\n' >> "$1""#);
    edit(&w, &bad, &[])
        .code(2)
        .stderr_has("bogus#1")
        .stderr_has("not installed")
        .no_calls();
    assert_eq!(w.read_conf(SVC), before, "the live file must not change");
    assert!(pending(&w).exists());

    // The next edit does not overwrite the refused copy.
    let ok = editor(
        &w,
        "ed-ok",
        r#"sed -i 's/^app = MyApp /app = Edited/' "$1""#,
    );
    edit(&w, &ok, &[])
        .code(1)
        .stderr_has("--recover")
        .stderr_has("--discard");
    assert_eq!(w.read_conf(SVC), before);

    // --recover edits the same copy again: still refused.
    edit(&w, &ok, &["--recover"]).code(2).stderr_has("bogus#1");
    // --discard starts over from the live file.
    edit(&w, &ok, &["--discard"]).code(0);
    let after = w.read_conf(SVC);
    assert!(
        after.contains("app = Edited") && !after.contains("bogus"),
        "{after}"
    );
    assert!(!pending(&w).exists());
}

#[test]
fn a_failing_editor_installs_nothing() {
    let w = World::tutorial();
    let before = w.read_conf(SVC);
    let ed = editor(&w, "ed-fail", r#"echo junk >> "$1"; exit 3"#);
    edit(&w, &ed, &[])
        .code(1)
        .stderr_has("the editor exited with 3");
    assert_eq!(w.read_conf(SVC), before);
}

/// Issue 10, item 12: `edit config` turned a 0600 file of uid 1000 into
/// root's 0644.
#[test]
fn an_installed_edit_keeps_the_mode_and_owner() {
    use std::os::unix::fs::MetadataExt;
    let w = World::tutorial();
    let conf = w.conf_path(SVC);
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&conf, Some(1000), Some(1000)).unwrap();
    let ed = editor(
        &w,
        "ed-ok",
        r#"sed -i 's/^app = MyApp /app = Edited/' "$1""#,
    );
    edit(&w, &ed, &[]).code(0).no_calls();
    let meta = std::fs::metadata(&conf).unwrap();
    assert!(w.read_conf(SVC).contains("app = Edited"));
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.gid()),
        (0o600, 1000, 1000)
    );
}

/// Issue 10, item 10: the pending copy sits at a predictable path; a
/// temp directory someone else could write is bad input, and nothing is
/// copied there nor edited.
#[test]
fn a_temp_dir_others_can_write_is_refused() {
    let w = World::tutorial();
    let before = w.read_conf(SVC);
    let tmp = w.root.join("tmp");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o777)).unwrap();
    let marker = w.dir.path().join("edited");
    let ed = editor(&w, "ed-mark", &format!("touch {}", marker.display()));
    edit(&w, &ed, &[]).code(2).no_calls().stderr_is(
        "/var/tmp/opensvc is writable by group or others (mode 0777): refusing to keep an edit of /etc/opensvc/p26.opensvc.com.env there (remove it, or fix with: chown root:root /var/tmp/opensvc && chmod 0700 /var/tmp/opensvc)\n",
    );
    assert!(!marker.exists(), "the editor ran");
    assert_eq!(w.read_conf(SVC), before);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "written to");
}

/// The pending copy is 0600 from its first byte (it may hold application
/// credentials), whatever the live file's mode.
#[test]
fn the_pending_copy_is_private() {
    let w = World::tutorial();
    std::fs::set_permissions(w.conf_path(SVC), std::fs::Permissions::from_mode(0o644)).unwrap();
    let bad = editor(&w, "ed-bad", r#"printf '[bogus#1]\nfoo = bar\n' >> "$1""#);
    edit(&w, &bad, &[]).code(2);
    let mode = std::fs::metadata(pending(&w)).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o600);
}

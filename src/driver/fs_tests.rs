//! The fs driver's tests: a fake runner answers mount, fsck, fuser and the
//! mount table.

use super::super::testing::{ctx_s1, svc_s1};
use super::*;
use crate::exec::{FakeRunner, Output};
use crate::log::capture;

fn svc() -> SvcInfo {
    svc_s1(Path::new("/nonexistent"))
}

fn ctx<'a>(runner: &'a FakeRunner, svc: &'a SvcInfo) -> Ctx<'a> {
    ctx_s1(runner, svc, "fs#0")
}

/// A device file and a mount point path (not created) in a tempdir.
struct Lab {
    _dir: tempfile::TempDir,
    dev: String,
    mnt: String,
}

fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("disk");
    std::fs::write(&dev, "").unwrap();
    let mnt = dir.path().join("svc1/data");
    Lab {
        dev: dev.display().to_string(),
        mnt: mnt.display().to_string(),
        _dir: dir,
    }
}

fn fs(l: &Lab, fstype: &str) -> Fs {
    Fs::new(FsConf {
        dev: l.dev.clone(),
        mnt: l.mnt.clone(),
        fstype: fstype.into(),
        mnt_opt: String::new(),
    })
}

const PROC: &str = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n";

/// `/proc/self/mountinfo` with /proc and our fs mounted.
fn table(l: &Lab, opts: &str) -> String {
    let esc = |p: &str| p.replace(' ', "\\040");
    format!(
        "{PROC}98 1 253:1 / {} {opts},relatime - ext3 {} {opts}\n",
        esc(&l.mnt),
        esc(&l.dev)
    )
}

fn out(stdout: &str) -> Output {
    Output {
        rc: 0,
        stdout: stdout.into(),
        stderr: String::new(),
    }
}

/// Replaces the tempdir paths so lines read like the seed's.
fn tidy(l: &Lab, lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .map(|s| s.replace(&l.dev, "DEV").replace(&l.mnt, "MNT"))
        .collect()
}

/// Issue 10, item 23: `mount` output split this mount point in two
/// and the fs always read down.
#[test]
fn a_mount_point_with_a_space_reads_up() {
    let (mut l, s, r) = (lab(), svc(), FakeRunner::new());
    l.mnt = format!("{}/my data", l.mnt);
    std::fs::create_dir_all(&l.mnt).unwrap();
    r.on(&["mountinfo"], 0, &table(&l, "rw"), "");
    let f = fs(&l, "ext3");
    assert_eq!(f.status(&ctx(&r, &s), &Deps::NONE), Probe::new(Status::Up));
    assert!(Path::new(&l.mnt).join(".opensvc").exists());
}

#[test]
fn device_names_match_across_forms() {
    assert!(same_dev(
        "/dev/vgsvc1/lvappsvc1",
        "/dev/mapper/vgsvc1-lvappsvc1"
    ));
    assert!(same_dev("/dev/mapper/vg--a-lv--b", "/dev/vg-a/lv-b"));
    assert!(!same_dev("/dev/vg-a/lv-b", "/dev/mapper/vg-a-lv-b"));
    assert!(!same_dev("/dev/sda", "/dev/sdb"));
    let d = tempfile::tempdir().unwrap();
    let real = d.path().join("dm-0");
    std::fs::write(&real, "").unwrap();
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert!(same_dev(
        &link.display().to_string(),
        &real.display().to_string()
    ));
    assert_eq!(strip_slash("/"), "/");
    assert_eq!(strip_slash("/a/"), "/a");
}

#[test]
fn start_matches_the_seed() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    r.on(&["mountinfo"], 0, PROC, "");
    r.on(&["mount", "-t"], 0, "", "");
    r.on(
        &["e2fsck"],
        0,
        "/dev/mapper/vgsvc1-lvappsvc1: clean, 11/3072 files, 1530/12288 blocks\n",
        "",
    );
    let (res, lines) = capture(|| fs(&l, "ext3").start(&ctx(&r, &s)));
    assert_eq!(res, Ok(Started::Activated));
    assert!(Path::new(&l.mnt).is_dir());
    assert_eq!(
        r.calls(),
        [
            "mountinfo".to_string(),
            format!("e2fsck -p {}", l.dev),
            format!("mount -t ext3 {} {}", l.dev, l.mnt),
        ]
    );
    assert_eq!(
        tidy(&l, lines),
        [
            "INFO S1.FS#0 create missing mountpoint MNT",
            "INFO S1.FS#0 e2fsck -p DEV",
            "INFO S1.FS#0 output:\n/dev/mapper/vgsvc1-lvappsvc1: clean, 11/3072 files, 1530/12288 blocks\n",
            "INFO S1.FS#0 mount -t ext3 DEV MNT",
        ]
    );
}

#[test]
fn start_passes_options_and_skips_fsck_without_a_type() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    std::fs::create_dir_all(&l.mnt).unwrap();
    r.on(&["mountinfo"], 0, "", "");
    let f = Fs::new(FsConf {
        mnt_opt: "noatime,nodev".into(),
        ..fs(&l, "").conf
    });
    let (res, lines) = capture(|| f.start(&ctx(&r, &s)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        tidy(&l, r.calls()),
        ["mountinfo", "mount -o noatime,nodev DEV MNT"]
    );
    assert_eq!(
        tidy(&l, lines),
        ["INFO S1.FS#0 mount -o noatime,nodev DEV MNT"]
    );
}

#[test]
fn start_logs_unsupported_fsck_and_missing_e2fsck() {
    let (l, s) = (lab(), svc());
    std::fs::create_dir_all(&l.mnt).unwrap();
    let r = FakeRunner::new();
    let (_, lines) = capture(|| fs(&l, "xfs").start(&ctx(&r, &s)));
    assert_eq!(lines[0], "INFO S1.FS#0 fsck not implemented for xfs");
    let r = FakeRunner::new();
    r.missing("e2fsck");
    let (res, lines) = capture(|| fs(&l, "ext4").start(&ctx(&r, &s)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(lines[0], "WARNING S1.FS#0 ext4 not found. bypass.");
    assert_eq!(tidy(&l, r.calls()), ["mountinfo", "mount -t ext4 DEV MNT"]);
}

#[test]
fn e2fsck_exit_codes() {
    let (l, s) = (lab(), svc());
    for (rc, ok) in [(1, true), (32, true), (33, true), (4, false), (8, false)] {
        let r = FakeRunner::new();
        r.on(&["mountinfo"], 0, "", "");
        r.on(&["e2fsck"], rc, "", "");
        let (res, _) = capture(|| fs(&l, "ext3").start(&ctx(&r, &s)));
        assert_eq!(res.is_ok(), ok, "rc {rc}");
        assert_eq!(r.calls().len(), if ok { 3 } else { 2 });
        if !ok {
            assert_eq!(
                res,
                Err(Failed::because(format!(
                    "e2fsck -p {} exited with {rc}",
                    l.dev
                )))
            );
        }
    }
}

#[test]
fn start_fails_on_a_missing_device() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    let f = Fs::new(FsConf {
        dev: "/dev/nonexistent-svcmgr-test".into(),
        ..fs(&l, "ext3").conf
    });
    let (res, lines) = capture(|| f.start(&ctx(&r, &s)));
    assert_eq!(res, Err(Failed::silent()));
    assert!(r.calls().is_empty());
    assert_eq!(
        lines,
        ["ERROR S1.FS#0 device does not exist /dev/nonexistent-svcmgr-test"]
    );
    let nfs = Fs::new(FsConf {
        dev: "srv:/export".into(),
        ..fs(&l, "nfs").conf
    });
    let (res, _) = capture(|| nfs.start(&ctx(&r, &s)));
    assert_eq!(res, Ok(Started::Activated));
}

#[test]
fn start_reports_an_uncreatable_mount_point() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    // A regular file where a parent directory should be.
    let f = Fs::new(FsConf {
        mnt: format!("{}/sub", l.dev),
        ..fs(&l, "ext3").conf
    });
    let (res, lines) = capture(|| f.start(&ctx(&r, &s)));
    assert!(res.is_err());
    assert_eq!(
        tidy(&l, lines),
        ["INFO S1.FS#0 failed to create missing mountpoint DEV/sub"]
    );
    assert!(r.calls().is_empty());
}

#[test]
fn start_of_a_mounted_fs_is_already_up() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    std::fs::create_dir_all(&l.mnt).unwrap();
    r.on(&["mountinfo"], 0, &table(&l, "rw"), "");
    let (res, lines) = capture(|| fs(&l, "ext3").start(&ctx(&r, &s)));
    assert_eq!(res, Ok(Started::AlreadyUp));
    assert_eq!(r.calls(), ["mountinfo"]);
    assert_eq!(
        tidy(&l, lines),
        ["INFO S1.FS#0 fs(DEV MNT) is already mounted"]
    );
}

#[test]
fn start_fails_when_mount_fails() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    r.on(&["mountinfo"], 0, "", "");
    r.on(&["mount", "-t"], 32, "", "mount: wrong fs type\n");
    let (res, lines) = capture(|| fs(&l, "xfs").start(&ctx(&r, &s)));
    assert_eq!(
        tidy(&l, vec![format!("{res:?}")]),
        [r#"Err(Failed { reason: Some("mount -t xfs DEV MNT exited with 32") })"#]
    );
    assert_eq!(
        lines.last().unwrap(),
        "ERROR S1.FS#0 stderr:\nmount: wrong fs type\n"
    );
}

#[test]
fn status_write_test() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    std::fs::create_dir_all(&l.mnt).unwrap();
    r.on_seq(
        &["mountinfo"],
        vec![out(""), out(&table(&l, "rw")), out(&table(&l, "ro"))],
    );
    let f = fs(&l, "ext3");
    let probe = |f: &Fs| f.status(&ctx(&r, &s), &Deps::NONE);
    assert_eq!(probe(&f), Probe::new(Status::Down));
    assert_eq!(probe(&f), Probe::new(Status::Up));
    let stamp = Path::new(&l.mnt).join(".opensvc");
    let first = std::fs::read_to_string(&stamp).unwrap();
    assert_eq!(
        first.len(),
        "2026-12-06 18:30:18.123456\n".len(),
        "{first:?}"
    );
    // A longer stamp left by another writer is overwritten whole.
    std::fs::write(&stamp, "x".repeat(100)).unwrap();
    r.on_seq(
        &["mountinfo"],
        vec![out(&table(&l, "rw")), out(&table(&l, "ro"))],
    );
    assert_eq!(probe(&f), Probe::new(Status::Up));
    let second = std::fs::read_to_string(&stamp).unwrap();
    assert!(
        second.len() == first.len() && second.ends_with('\n'),
        "{second:?}"
    );
    std::fs::remove_file(&stamp).unwrap();
    assert_eq!(probe(&f), Probe::new(Status::Up));
    assert!(!stamp.exists(), "no write test on a read-only mount");
}

#[test]
fn status_warns_when_unwritable_and_tolerates_a_full_fs() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    // The mount point does not exist: the write fails whoever we are.
    r.on(&["mountinfo"], 0, &table(&l, "rw"), "");
    let (p, lines) = capture(|| fs(&l, "ext3").status(&ctx(&r, &s), &Deps::NONE));
    assert_eq!(p, Probe::with(Status::Warn, "fs is not writable"));
    assert!(lines.is_empty());

    std::fs::create_dir_all(&l.mnt).unwrap();
    std::os::unix::fs::symlink("/dev/full", Path::new(&l.mnt).join(".opensvc")).unwrap();
    let (p, lines) = capture(|| fs(&l, "ext3").status(&ctx(&r, &s), &Deps::NONE));
    assert_eq!(p, Probe::new(Status::Up));
    assert_eq!(
        lines,
        ["ERROR S1.FS#0 No space left on device. Invalidate writable test."]
    );
}

#[test]
fn stop_matches_the_seed() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    r.on_seq(&["mountinfo"], vec![out(&table(&l, "rw")), out("")]);
    let (res, lines) = capture(|| fs(&l, "ext3").stop(&ctx(&r, &s)));
    assert_eq!(res, Ok(()));
    assert_eq!(
        tidy(&l, r.calls()),
        ["mountinfo", "umount MNT", "mountinfo"]
    );
    assert_eq!(tidy(&l, lines), ["INFO S1.FS#0 umount MNT"]);
}

#[test]
fn stop_of_an_unmounted_fs_is_already_umounted() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    r.on(&["mountinfo"], 0, "", "");
    let (res, lines) = capture(|| fs(&l, "ext3").stop(&ctx(&r, &s)));
    assert_eq!(res, Ok(()));
    assert_eq!(r.calls(), ["mountinfo"]);
    assert_eq!(
        tidy(&l, lines),
        ["INFO S1.FS#0 fs(DEV MNT) is already umounted"]
    );
}

#[test]
fn stop_kills_the_users_of_a_busy_mount() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    r.on_seq(
        &["mountinfo"],
        vec![out(&table(&l, "rw")), out(&table(&l, "rw")), out("")],
    );
    r.on_seq(
        &["umount"],
        vec![
            Output {
                rc: 32,
                stdout: String::new(),
                stderr: "umount: target is busy.\n".into(),
            },
            out(""),
        ],
    );
    r.on(&["fuser"], 0, "", "MNT: root 123 ..c.. bash\n");
    let (res, lines) = capture(|| fs(&l, "ext3").stop(&ctx(&r, &s)));
    assert_eq!(res, Ok(()));
    assert_eq!(
        tidy(&l, r.calls()),
        [
            "mountinfo",
            "umount MNT",
            "sync",
            "mountinfo",
            "fuser -kmv MNT",
            "umount MNT",
            "mountinfo",
        ]
    );
    assert_eq!(
        tidy(&l, lines),
        [
            "INFO S1.FS#0 umount MNT",
            "WARNING S1.FS#0 stderr:\numount: target is busy.\n",
            "INFO S1.FS#0 sync",
            "INFO S1.FS#0 fuser -kmv MNT",
            "INFO S1.FS#0 stderr:\nMNT: root 123 ..c.. bash\n",
            "INFO S1.FS#0 umount MNT",
        ]
    );
}

#[test]
fn stop_fails_after_three_rounds() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    r.on(&["mountinfo"], 0, &table(&l, "rw"), "");
    r.on(&["umount"], 32, "", "umount: target is busy.\n");
    let (res, lines) = capture(|| fs(&l, "ext3").stop(&ctx(&r, &s)));
    assert_eq!(res, Err(Failed::silent()));
    let calls = tidy(&l, r.calls());
    assert_eq!(calls.iter().filter(|c| *c == "fuser -kmv MNT").count(), 12);
    assert_eq!(calls.iter().filter(|c| *c == "umount MNT").count(), 15);
    assert_eq!(
        tidy(&l, lines).last().unwrap(),
        "ERROR S1.FS#0 failed to umount MNT"
    );
}

#[test]
fn stop_never_kills_for_a_protected_mount_point() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(
        &["mountinfo"],
        0,
        "30 1 8:1 / /opt rw - ext4 /dev/sdz1 rw\n",
        "",
    );
    r.on(&["umount"], 32, "", "umount: /opt: target is busy.\n");
    let f = Fs::new(FsConf {
        dev: "/dev/sdz1".into(),
        mnt: "/opt".into(),
        fstype: "ext4".into(),
        mnt_opt: String::new(),
    });
    let (res, lines) = capture(|| f.stop(&ctx(&r, &s)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(
        r.calls(),
        [
            "mountinfo",
            "umount /opt",
            "umount /opt",
            "umount /opt",
            "mountinfo"
        ]
    );
    assert_eq!(lines.last().unwrap(), "ERROR S1.FS#0 failed to umount /opt");
}

#[test]
fn umount_saying_not_mounted_is_success() {
    let (l, s, r) = (lab(), svc(), FakeRunner::new());
    r.on_seq(&["mountinfo"], vec![out(&table(&l, "rw")), out("")]);
    r.on(&["umount"], 32, "", "umount: MNT: not mounted.\n");
    let (res, _) = capture(|| fs(&l, "ext3").stop(&ctx(&r, &s)));
    assert_eq!(res, Ok(()));
    assert_eq!(
        tidy(&l, r.calls()),
        ["mountinfo", "umount MNT", "mountinfo"]
    );
}

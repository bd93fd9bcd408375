mod common;
use common::*;
use std::process::Command;

fn show(r: &Run) { println!("{}", r.report()); }

#[test]
fn explore() {
    let w = World::tutorial();
    let lock = w.var().join("lock").join(SVC);
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let pid = w.spawn_tracked(Command::new("/bin/sh").arg("-c").arg("echo $$ > \"$1\"; exec flock \"$1\" sleep 60").arg("sh").arg(&lock));
    for _ in 0..200 { if !Command::new("flock").arg("-n").arg(&lock).arg("true").status().unwrap().success() { break; } std::thread::sleep(std::time::Duration::from_millis(10)); }
    println!("holder pid {pid}");
    show(&w.svc(&["start", "--waitlock", "1"]));
    show(&w.svc(&["print", "status"]));
    let w = World::new();
    w.write_conf("svc1", "[DEFAULT]\nservice_type = TST\nnodes = sles1\n\n[ip#0]\nipname = p26.opensvc.com\nipdev = eth0\n\n[vg#0]\nvgname = vgsvc1\n[vg#1]\nvgname = vgother\ntags = db\n");
    w.vg("vgsvc1", &[], true, &[]);
    w.vg("vgother", &[], false, &[]);
    w.mark_pushed("svc1");
    show(&w.svcmgr(&["-s", "svc1", "print", "status"]));
    show(&w.svcmgr(&["-s", "svc1", "status"]));
    show(&w.svcmgr(&["-s", "svc1", "start", "--rid", "vg#1"]));
    show(&w.svcmgr(&["-s", "svc1", "stop", "--tags", "db"]));
    show(&w.svcmgr(&["-s", "svc1", "start"]));
    show(&w.svcmgr(&["-s", "svc1", "status"]));
    show(&w.svcmgr(&["-s", "svc1", "print", "status"]));
    show(&w.svcmgr(&["-s", "svc1", "stop"]));
    show(&w.svcmgr(&["-s", "svc1", "status"]));
    show(&w.svcmgr(&["print", "status"]));
    show(&w.svcmgr(&["print", "status", "--format", "json"]));
}

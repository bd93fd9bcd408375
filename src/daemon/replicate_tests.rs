use super::*;
use crate::action::Opts;
use crate::daemon::peer_listener::tests::{Running, SECRET, start};
use crate::exec::FakeRunner;

fn st(mtime: f64, cksum: &str) -> ConfStamp {
    ConfStamp {
        mtime,
        cksum: cksum.into(),
    }
}

fn offer(peer: &str, nodes: &[&str], drpnodes: &[&str], stamp: ConfStamp) -> Offer {
    let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
    Offer {
        peer: peer.into(),
        nodes: v(nodes),
        drpnodes: v(drpnodes),
        stamp,
    }
}

#[test]
fn newest_wins_within_scope() {
    let o = offer("n1", &["n1", "n2"], &[], st(100.0, "b"));
    assert!(wanted("n2", None, &o), "missing here");
    assert!(wanted("n2", Some(&st(99.0, "a")), &o), "newer elsewhere");
    assert!(!wanted("n2", Some(&st(100.0, "a")), &o), "same age: kept");
    assert!(!wanted("n2", Some(&st(101.0, "a")), &o), "ours is newer");
    assert!(!wanted("n2", Some(&st(50.0, "b")), &o), "same bytes");
    assert!(!wanted("n3", None, &o), "not for us");
    let outside = offer("n9", &["n1", "n2"], &[], st(100.0, "b"));
    assert!(!wanted("n2", None, &outside), "peer out of scope");
    // DRP: a DRP node takes production's config, not the reverse.
    let prd = offer("n1", &["n1"], &["d1"], st(100.0, "b"));
    assert!(wanted("d1", None, &prd));
    let drp = offer("d1", &["n1"], &["d1"], st(100.0, "b"));
    assert!(!wanted("n1", None, &drp));
    let drp2 = offer("d1", &["n1"], &["d1", "d2"], st(100.0, "b"));
    assert!(wanted("d2", None, &drp2), "between DRP nodes");
}

/// A peer whose clock runs an hour ahead stamps its copies an hour ahead:
/// taken, they would win over every edit made here for that hour.
#[test]
fn a_copy_dated_ahead_of_the_clock_is_not_taken() {
    let now = crate::order::now();
    let ahead = offer("n1", &["n1", "n2"], &[], st(now + 3600.0, "b"));
    assert!(!wanted("n2", None, &ahead));
    assert!(!wanted("n2", Some(&st(now - 60.0, "a")), &ahead));
    let skewed = offer("n1", &["n1", "n2"], &[], st(now + 5.0, "b"));
    assert!(
        wanted("n2", Some(&st(now - 60.0, "a")), &skewed),
        "within the skew"
    );
}

#[test]
fn choose_takes_the_newest_offer_and_skips_bad_names() {
    let svc = |mtime: f64, ck: &str| json!({"nodes": ["n1", "n2", "n3"], "drpnodes": [], "config": {"mtime": mtime, "cksum": ck}});
    let peers: BTreeMap<String, PeerData> = [
        ("n1".to_string(), json!({"services": {"s": svc(10.0, "x"), "../evil": svc(1.0, "e"), "node": svc(1.0, "e")}})),
        ("n3".to_string(), json!({"services": {"s": svc(20.0, "y"), "t": {"nodes": ["n3", "n2"]}}})),
    ]
    .into_iter()
    .map(|(n, d)| (n, PeerData::from_dataset(d)))
    .collect();
    let got = choose("n2", &BTreeMap::new(), &peers);
    assert_eq!(got.keys().collect::<Vec<_>>(), ["s"]);
    assert_eq!((got["s"].peer.as_str(), got["s"].stamp.mtime), ("n3", 20.0));
    let local = [("s".to_string(), Some(st(30.0, "z")))]
        .into_iter()
        .collect();
    assert!(choose("n2", &local, &peers).is_empty());
}

/// node2 (a temp root) replicating from the listener of `start()` (node1).
struct Node2 {
    _dir: tempfile::TempDir,
    paths: Paths,
    shared: Shared,
}

fn node2(node1: &Running) -> Node2 {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    std::fs::create_dir_all(&paths.etc).unwrap();
    std::fs::write(
        paths.node_conf(),
        format!(
            "[cluster]\nname = c1\nnodes = node1 node2\nsecret = {SECRET}\n[listener]\naddr@node1 = 127.0.0.1\nport@node1 = {}\n",
            node1.addr.port()
        ),
    )
    .unwrap();
    let shared = Shared::new("node2");
    *shared.cluster_nodes.lock().unwrap() = vec!["node1".into(), "node2".into()];
    Node2 {
        _dir: dir,
        paths,
        shared,
    }
}

impl Node2 {
    /// What node1's heartbeat would bring for `svc`.
    fn hear(&self, node1: &Running, svc: &str) {
        let f = node1.paths.etc.join(format!("{svc}.conf"));
        let data = json!({"services": {svc: {
            "nodes": ["node1", "node2"], "drpnodes": [],
            "config": stamp(&f).unwrap().to_json(),
        }}});
        self.shared
            .received("hb#1.rx", "node1", data, crate::daemon::wire::now_us());
    }

    fn step(&self, r: &mut Replicator) -> Vec<String> {
        let (runner, opts) = (FakeRunner::new(), Opts::default());
        let env = Env {
            paths: &self.paths,
            nodename: "node2",
            runner: &runner,
            opts: &opts,
            svcmgr_bin: "/usr/bin/svcmgr".into(),
        };
        let conf = crate::config::node::NodeConfig::load_or_empty(&self.paths.node_conf());
        crate::log::capture(|| r.step(&env, &self.shared, &conf)).1
    }
}

#[test]
fn a_new_service_arrives_frozen_with_its_link_and_the_origin_mtime() {
    let n1 = start();
    let n2 = node2(&n1);
    let src = n1.paths.etc.join("svc1.conf");
    std::fs::write(&src, "[DEFAULT]\nnodes = node1 node2\nservice_type = TST\n").unwrap();
    n2.hear(&n1, "svc1");
    let mut r = Replicator::default();
    let lines = n2.step(&mut r);
    let dst = n2.paths.etc.join("svc1.conf");
    assert_eq!(
        std::fs::read(&dst).unwrap(),
        std::fs::read(&src).unwrap(),
        "{lines:?}"
    );
    assert_eq!(stamp(&dst), stamp(&src), "same mtime and cksum");
    assert!(n2.paths.frozen_svc("svc1").exists());
    assert_eq!(
        std::fs::read_link(n2.paths.svc_link("svc1")).unwrap(),
        Path::new("/usr/bin/svcmgr")
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("svc1: config installed from node1 (new service, frozen"),
        "{lines:?}"
    );
    // Nothing more to do: same stamp on both sides.
    assert!(n2.step(&mut r).is_empty());
    assert_eq!(n1.stats()["accepted"], 1);

    // A newer, invalid config is refused once and the live file kept.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(
        &src,
        "[DEFAULT]\nnodes = node1 node2\nservice_type = TST\n[bogus#1]\nx = 1\n",
    )
    .unwrap();
    n2.hear(&n1, "svc1");
    let before = std::fs::read(&dst).unwrap();
    let lines = n2.step(&mut r);
    assert_eq!(std::fs::read(&dst).unwrap(), before);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("svc1: config from node1 refused, the live file is kept")
            && lines[0].contains(&format!("{}:4: [bogus#1]: unknown section", dst.display())),
        "{lines:?}"
    );
    assert!(n2.step(&mut r).is_empty(), "not fetched again");
    assert_eq!(n1.wait_stat("accepted", 2)["accepted"], 2);
}

#[test]
fn an_update_rewrites_a_local_env_file_in_place() {
    let n1 = start();
    let n2 = node2(&n1);
    let old = n2.paths.etc.join("svc1.env");
    std::fs::write(&old, "[DEFAULT]\nnodes = node1 node2\nservice_type = TST\n").unwrap();
    // Issue 10, item 12: an install reset 0600 to 0644 (service files may
    // hold application credentials).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let text = "[DEFAULT]\nnodes = node1 node2\nservice_type = TST\ncomment = new\n";
    std::fs::write(n1.paths.etc.join("svc1.conf"), text).unwrap();
    n2.hear(&n1, "svc1");
    let lines = n2.step(&mut Replicator::default());
    assert_eq!(std::fs::read_to_string(&old).unwrap(), text, "{lines:?}");
    assert!(!n2.paths.etc.join("svc1.conf").exists());
    assert!(!n2.paths.frozen_svc("svc1").exists(), "not new: not frozen");
    assert!(lines[0].contains("(updated,"), "{lines:?}");
    let mode = std::fs::metadata(&old).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o600, "the local mode is kept");
}

#[test]
fn an_unreachable_peer_is_retried_a_bounded_number_of_times() {
    let n1 = start();
    let n2 = node2(&n1);
    std::fs::write(
        n1.paths.etc.join("svc1.conf"),
        "[DEFAULT]\nnodes = node1 node2\nservice_type = TST\n",
    )
    .unwrap();
    n2.hear(&n1, "svc1");
    // node1's listener moved: node2 asks a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    std::fs::write(
        n2.paths.node_conf(),
        format!("[cluster]\nname = c1\nnodes = node1 node2\nsecret = {SECRET}\n[listener]\naddr@node1 = 127.0.0.1\nport@node1 = {port}\n"),
    )
    .unwrap();
    let mut r = Replicator::default();
    let mut lines = Vec::new();
    for _ in 0..MAX_TRIES + 2 {
        for t in r.tries.values_mut() {
            t.next = Instant::now();
        }
        lines.extend(n2.step(&mut r));
    }
    assert_eq!(lines.len(), MAX_TRIES as usize, "{lines:?}");
    assert!(
        lines[2].ends_with("(giving up until it changes again)"),
        "{lines:?}"
    );
    assert!(!n2.paths.etc.join("svc1.conf").exists());
}

#[test]
fn an_mtime_survives_the_wire_to_the_microsecond() {
    for nanos in [
        0u32,
        1,
        499,
        500,
        999_999_499,
        999_999_500,
        683_686_499,
        683_686_500,
    ] {
        let t = UNIX_EPOCH + Duration::new(1_795_971_149, nanos);
        let sent = secs(t);
        let installed = from_secs(sent).unwrap();
        assert_eq!(secs(installed), sent, "{nanos} ns");
    }
    assert!(from_secs(-1.0).is_none());
    assert!(from_secs(f64::NAN).is_none());
}

#[test]
fn a_config_over_the_size_bound_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    let (runner, opts) = (FakeRunner::new(), Opts::default());
    let env = Env {
        paths: &paths,
        nodename: "node2",
        runner: &runner,
        opts: &opts,
        svcmgr_bin: "/usr/bin/svcmgr".into(),
    };
    let head = "[DEFAULT]\nnodes = node1 node2\nservice_type = TST\ncomment = ";
    let text = format!("{head}{}\n", "x".repeat(MAX_CONFIG_BYTES - head.len() - 1));
    let target = paths.etc.join("svc1.conf");
    assert!(validate_copy(&env, "svc1", &text, &target).is_ok());
    let text = format!("{head}{}\n", "x".repeat(MAX_CONFIG_BYTES - head.len()));
    match validate_copy(&env, "svc1", &text, &target) {
        Err(Failure::Refused(why)) => assert_eq!(
            why,
            "the config is 1048577 bytes, more than the 1048576 a replicated config may hold"
        ),
        _ => panic!("a config over the bound must be refused"),
    }
}

/// A dataset from a node that is not (or no longer) in [cluster] nodes
/// offers nothing: its config is never fetched.
#[test]
fn a_stranger_offers_nothing() {
    let node1 = start();
    let n2 = node2(&node1);
    let src = node1.paths.etc.join("svc1.conf");
    std::fs::write(&src, "[DEFAULT]\nnodes = node1 node2\nservice_type = TST\n").unwrap();
    n2.hear(&node1, "svc1");
    *n2.shared.cluster_nodes.lock().unwrap() = vec!["node2".into()];
    let mut r = Replicator::default();
    assert!(n2.step(&mut r).is_empty());
    assert!(!n2.paths.etc.join("svc1.conf").exists());
}

use super::*;

const FILE: &str = "/etc/opensvc/node.conf";

fn parse(text: &str) -> NodeConfig {
    NodeConfig::parse(Path::new(FILE), text)
}

fn problems(text: &str) -> Vec<String> {
    parse(text).problems.iter().map(|p| p.to_string()).collect()
}

const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// Every section node_keywords.rs knows, every key set.
fn full() -> String {
    format!(
        "[node]\nhost_mode = prd\nruser = svcsync admin@node3\nwatchdog = no\nwatchdog_timeout = 4\n\
         split_action = FreezeStop\nready_period = 0.2\nmax_parallel = 8\n\
         [cluster]\nnodes = Node1 node2\nsecret = {SECRET}\nname = c1\nquorum = yes\n\
         [listener]\naddr = 127.0.0.1\nport = 0\naddr@node2 = 10.0.0.2\nport@node2 = 1300\n\
         [hb#1]\ntype = unicast\nport = 10001\naddr = 10.0.0.1\ninterval = 0.5\ntimeout = 2s\n\
         [hb#2]\ntype = Multicast\naddr = 239.0.0.9\nintf = eth1\n\
         [hb#3]\ntype = disk\ndev = /dev/mapper/hb\n\
         [arbitrator#1]\nname = Arb1\nsecret = q83vEjRWeJCrze8SNFZ4kA==\ncluster = arbiters\nport = 1215\ntimeout = 2\n\
         [stonith#node2.example.com]\ncmd = /sbin/fence node2\n"
    )
}

#[test]
fn every_section_is_typed_from_one_parse() {
    let c = parse(&full());
    assert_eq!(c.problems, Vec::<Problem>::new());
    assert_eq!(
        c.node,
        NodeSection {
            host_mode: "PRD".into(),
            ruser: vec!["svcsync".into(), "admin@node3".into()],
            watchdog: false,
            watchdog_timeout: Duration::from_secs(4),
            split_action: SplitAction::FreezeStop,
            ready_period: Duration::from_millis(200),
            max_parallel: 8,
        }
    );
    assert_eq!(
        c.cluster,
        ClusterSection {
            nodes: vec!["node1".into(), "node2".into()],
            secret: Some(SECRET.into()),
            name: "c1".into(),
            quorum: true,
        }
    );
    assert_eq!(
        c.listener,
        ListenerSection {
            addr: "127.0.0.1".into(),
            port: 0,
            addr_of: [("node2".to_string(), "10.0.0.2".to_string())].into(),
            port_of: [("node2".to_string(), 1300)].into(),
        }
    );
    assert_eq!(
        c.hbs,
        vec![
            HbConf {
                id: "hb#1".into(),
                medium: HbMedium::Unicast,
                port: 10001,
                dev: None,
                addr: Some("10.0.0.1".into()),
                intf: None,
                interval: Duration::from_millis(500),
                timeout: Duration::from_secs(2),
            },
            HbConf {
                id: "hb#2".into(),
                medium: HbMedium::Multicast,
                port: DEFAULT_HB_PORT,
                dev: None,
                addr: Some("239.0.0.9".into()),
                intf: Some("eth1".into()),
                interval: DEFAULT_HB_INTERVAL,
                timeout: DEFAULT_HB_TIMEOUT,
            },
            HbConf {
                id: "hb#3".into(),
                medium: HbMedium::Disk,
                port: DEFAULT_HB_PORT,
                dev: Some("/dev/mapper/hb".into()),
                addr: None,
                intf: None,
                interval: DEFAULT_HB_INTERVAL,
                timeout: DEFAULT_HB_TIMEOUT,
            },
        ]
    );
    assert_eq!(
        c.arbitrators,
        vec![Arbitrator {
            id: "arbitrator#1".into(),
            name: "arb1".into(),
            secret: "q83vEjRWeJCrze8SNFZ4kA==".into(),
            cluster: "arbiters".into(),
            port: 1215,
            timeout: Duration::from_secs(2),
        }]
    );
    assert_eq!(
        c.stonith_cmd("node2.example.com"),
        Some("/sbin/fence node2")
    );
    assert_eq!(c.stonith_cmd("node3"), None);
}

#[test]
fn an_empty_or_missing_file_is_all_defaults() {
    let c = parse("");
    assert!(c.problems.is_empty());
    assert_eq!(c.node.host_mode, "TST");
    assert!(c.node.watchdog && !c.cluster.quorum);
    assert_eq!(c.node.watchdog_timeout, DEFAULT_WATCHDOG_TIMEOUT);
    assert_eq!(c.node.split_action, SplitAction::Crash);
    assert_eq!(c.node.ready_period, DEFAULT_READY_PERIOD);
    assert_eq!(c.node.max_parallel, default_max_parallel());
    assert!(c.node.max_parallel >= 2);
    assert_eq!(
        (c.cluster.name.as_str(), c.cluster.secret.as_deref()),
        ("default", None)
    );
    assert_eq!(
        (c.listener.addr.as_str(), c.listener.port),
        ("0.0.0.0", 1214)
    );
    assert!(c.hbs.is_empty() && c.arbitrators.is_empty() && c.stonith.is_empty());
    let d = tempfile::tempdir().unwrap();
    let missing = NodeConfig::load(&d.path().join("node.conf")).unwrap();
    assert_eq!(missing.hbs, c.hbs);
    assert!(missing.problems.is_empty());
}

#[test]
fn the_derived_answers() {
    let c = parse(&full());
    assert_eq!(c.members("node1"), ["node1", "node2"]);
    assert_eq!(c.members("node9"), ["node9", "node1", "node2"]);
    assert_eq!(c.ruser("node2"), "svcsync");
    assert_eq!(c.ruser("NODE3"), "admin");
    assert_eq!(
        (c.peer_host("node2"), c.peer_port("node2")),
        ("10.0.0.2".into(), 1300)
    );
    assert_eq!(
        (c.peer_host("node3"), c.peer_port("node3")),
        ("node3".into(), 0)
    );
    // 1.9's name of host_mode, and a blank host_mode falls back to it.
    assert_eq!(
        parse("[node]\nhost_mode =\nenv = dev\n").node.host_mode,
        "DEV"
    );
    assert_eq!(parse("[node]\nruser = admin\n").ruser("x"), "admin");
    assert_eq!(parse("").ruser("x"), "root");
}

#[test]
fn the_medium_words_are_the_ones_validation_admits() {
    let ValueKind::OneOf { words, .. } = nk::HB_TYPE else {
        panic!("HB_TYPE is a closed set");
    };
    let media: Vec<&str> = HbMedium::ALL.iter().map(|m| m.as_str()).collect();
    assert_eq!(words, media.as_slice());
    assert_eq!(HbMedium::parse(" DISK "), Some(HbMedium::Disk));
    assert_eq!(HbMedium::parse("unicat"), None);
}

#[test]
fn problems_are_located_duplicates_included() {
    let text = "[cluster]\nname = c1\nname = c2\n[hb#1]\ntype = unicast\n[cluster]\nquorum = true\n\
         [hb#2]\ntype = udp\ncolour = blue\n[nodes]\nx = 1\n";
    assert_eq!(
        problems(text),
        vec![
            format!("{FILE}:3: [cluster] name: duplicate keyword, first at {FILE}:2"),
            format!("{FILE}:6: [cluster]: duplicate section, first at {FILE}:1"),
            format!(
                "{FILE}:9: [hb#2] type: 'udp' is not a heartbeat type (one of unicast, multicast, disk)"
            ),
            format!(
                "{FILE}:10: [hb#2] colour: unknown keyword (this section has: type, port, dev, addr, intf, interval, timeout)"
            ),
            format!(
                "{FILE}:11: [nodes]: unknown section (node.conf has [node], [cluster], [listener], [hb#N], [arbitrator#N] and [stonith#<node>])"
            ),
        ]
    );
    // The section with a bad type is not run: only hb#1 is.
    let c = parse(text);
    assert_eq!(c.hbs.len(), 1);
    assert!(
        c.cluster.quorum,
        "the merged section keeps both headers' keys"
    );
}

/// A table of bad inputs, one per kind of value: each is a problem on its
/// own line naming its section and key, and the typed field keeps its
/// default (the words host_mode and ruser aside). `nodemgr validate
/// config` exits 2 on any (tests/integration/tier2/node_config.rs).
#[test]
fn bad_values_are_problems_on_their_line_and_keep_the_defaults() {
    let table: &[(&str, &str)] = &[
        (
            "[node]\nwatchdog = maybe\n",
            "[node] watchdog: 'maybe' is not true or false",
        ),
        (
            "[node]\nwatchdog_timeout = 0.1\n",
            "[node] watchdog_timeout: '0.1' is not a number of seconds",
        ),
        (
            "[node]\nsplit_action = halt\n",
            "[node] split_action: 'halt' is not a split action",
        ),
        (
            "[node]\nhost_mode = PDR\n",
            "[node] host_mode: 'PDR' is not a host mode",
        ),
        (
            "[node]\nready_period = -1\n",
            "[node] ready_period: '-1' is not a number of seconds",
        ),
        (
            "[node]\nmax_parallel = 0\n",
            "[node] max_parallel: '0' is not a whole number from 1 to 256",
        ),
        ("[node]\nruser = admin@-x\n", "[node] ruser: "),
        (
            "[cluster]\nquorum = 2\n",
            "[cluster] quorum: '2' is not true or false",
        ),
        (
            "[cluster]\nsecret = short\n",
            "[cluster] secret: a secret of length 5 is too weak",
        ),
        (
            "[cluster]\nname = a b\n",
            "[cluster] name: 'a b' is not one word",
        ),
        (
            "[cluster]\nnodes = n1 -o\n",
            "[cluster] nodes: '-o' is not a valid node name",
        ),
        (
            "[listener]\nport = 65536\n",
            "[listener] port: '65536' is not a port (0 to 65535)",
        ),
        (
            "[listener]\naddr = a b\n",
            "[listener] addr: 'a b' is not an IP address or a host name",
        ),
        (
            "[listener]\nport@-x = 1\n",
            "[listener] port@-x: port@<node>: ",
        ),
        (
            "[hb#1]\ntype = unicast\nport = 0\n",
            "[hb#1] port: '0' is not a port (1 to 65535)",
        ),
        (
            "[hb#1]\ntype = unicast\ninterval = 0\n",
            "[hb#1] interval: '0' is not a number of seconds",
        ),
        (
            "[hb#1]\ntype = unicast\ntimeout = NaN\n",
            "[hb#1] timeout: 'NaN' is not a number of seconds",
        ),
        (
            "[hb#1]\ntype = unicast\ntimeout = 1e300\n",
            "[hb#1] timeout: '1e300' is not a number of seconds",
        ),
        (
            "[hb#1]\ntype = unicast\nintf = a b\n",
            "[hb#1] intf: 'a b' is not one word",
        ),
        (
            "[arbitrator#1]\nname = a\nsecret = q83vEjRWeJCrze8SNFZ4kA==\nport = x\n",
            "[arbitrator#1] port: 'x' is not a port",
        ),
        (
            "[arbitrator#1]\nname = a\nsecret = q83vEjRWeJCrze8SNFZ4kA==\ntimeout = 61\n",
            "[arbitrator#1] timeout: '61' is not a number of seconds from 0.001 to 60",
        ),
        ("[stonith#-x]\ncmd = x\n", "[stonith#-x]: the fenced node: "),
        (
            "[hb#]\ntype = unicast\n",
            "[hb#]: '' is not a section index",
        ),
        (
            "[DEFAULT]\nnodes = a\n",
            "[DEFAULT]: node.conf has no [DEFAULT] section",
        ),
        ("junk\n", ":1: cannot parse 'junk'"),
    ];
    let defaults = parse("");
    for (text, want) in table {
        let c = parse(text);
        let got = problems(text);
        let line = text.lines().count();
        assert!(
            got.iter()
                .any(|p| p.contains(want) && p.starts_with(&format!("{FILE}:"))),
            "{text:?}: wanted a problem containing {want:?}, got {got:#?}"
        );
        assert!(
            got.iter().all(|p| p.starts_with(&format!("{FILE}:"))
                && p[FILE.len() + 1..]
                    .split(':')
                    .next()
                    .is_some_and(|l| l.parse::<usize>().is_ok_and(|l| (1..=line).contains(&l)))),
            "{text:?}: every problem names a line of the file: {got:#?}"
        );
        // host_mode and ruser are words kept as written: the CLI's readers
        // (node.rs) answer what the file says, valid or not, as before.
        let typed = NodeSection {
            host_mode: defaults.node.host_mode.clone(),
            ruser: Vec::new(),
            ..c.node.clone()
        };
        assert_eq!(typed, defaults.node, "{text:?}");
        for h in &c.hbs {
            assert_eq!(
                (h.port, h.interval, h.timeout),
                (DEFAULT_HB_PORT, DEFAULT_HB_INTERVAL, DEFAULT_HB_TIMEOUT),
                "{text:?}"
            );
        }
    }
}

#[test]
fn needs_across_keys_are_problems_on_the_section_line() {
    assert_eq!(
        problems("[hb#1]\nport = 1\n[hb#2]\ntype = disk\n[arbitrator#1]\nname = a\n"),
        vec![
            format!("{FILE}:1: [hb#1] type: a heartbeat needs a type (unicast, multicast or disk)"),
            format!("{FILE}:3: [hb#2] dev: a disk heartbeat needs dev (the shared block device)"),
            format!("{FILE}:5: [arbitrator#1] secret: an arbitrator needs secret"),
        ]
    );
    let c = parse("[hb#1]\nport = 1\n[arbitrator#1]\nname = a\n");
    assert!(c.hbs.is_empty() && c.arbitrators.is_empty(), "{c:?}");
}

#[test]
fn load_valid_refuses_a_file_with_problems_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("node.conf");
    std::fs::write(&f, "[hb#1]\ntype = unicat\n").unwrap();
    let e = NodeConfig::load_valid(&f).unwrap_err();
    assert!(
        e.ends_with("node.conf is invalid (nodemgr validate config)"),
        "{e}"
    );
    std::fs::write(&f, full()).unwrap();
    assert_eq!(NodeConfig::load_valid(&f).unwrap().hbs.len(), 3);
}

//! The unit tests of load.rs, beside it so that the module reads as code.

use super::*;

/// The first tutorial's annotated service file, inline comments included
/// (`tests/integration/common.rs` has it too, with test paths).
const P26: &str = r"[DEFAULT]                                       # Global section for service description
app = MyApp                                     # service application friendly name
service_type = TST                              # specify is service runs production, test, dev, ...
autostart_node = sles1                          # default running node, name returned by « hostname » command
nodes = sles1 sles2                             # cluster nodes where the service is able to run on

[ip#0]                                          # Ressource Section for ip address
ipname = p26.opensvc.com                        # specify the ip address on which the service will be bound
disable = False                                 # the ip address will be enabled at service startup
optional = False                                # mandatory ressource, the service can't work without it
ipdev = eth0                                    # the physical network device on which the ip address will be stacked

[vg#0]                                          # Ressource Section for volume group
vgname=vgsvc1                                   # volume group name

[fs#0]                                          # Ressource Section for filesystem
type = ext3                                     # filesystem type
disable = False                                 # filesystem is enabled at service startup
mnt = /svc1/app                                 # filesystem mountpoint
optional = False                                # mandatory ressource, the service can't work without it
dev = /dev/mapper/vgsvc1-lvappsvc1              # block device where the filesystem is hosted

[fs#1]
type = ext3
disable = False
mnt = /svc1/data
optional = False
dev = /dev/mapper/vgsvc1-lvdatasvc1
";

struct Etc {
    _dir: tempfile::TempDir,
    paths: Paths,
}

impl Etc {
    fn new() -> Etc {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::create_dir_all(&paths.etc).unwrap();
        Etc { _dir: dir, paths }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.paths.etc.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A service file with a valid DEFAULT and `body` after it.
    fn svc(&self, body: &str) -> PathBuf {
        self.write(
            "s.conf",
            &format!("[DEFAULT]\nservice_type = TST\nnodes = n1 n2\n{body}"),
        )
    }

    fn problems(&self, nodename: &str) -> Vec<(Option<usize>, String)> {
        match load(&self.paths, "s", nodename) {
            Err(ConfigError::Invalid(p)) => p.into_iter().map(|p| (p.line, p.message)).collect(),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn one_problem(&self) -> Problem {
        match load(&self.paths, "s", "n1") {
            Err(ConfigError::Invalid(mut p)) if p.len() == 1 => p.remove(0),
            other => panic!("expected one problem, got {other:?}"),
        }
    }
}

fn rids(cfg: &ServiceConfig) -> Vec<&str> {
    cfg.resources.iter().map(|r| r.rid.as_str()).collect()
}

fn res<'a>(cfg: &'a ServiceConfig, rid: &str) -> &'a ResourceConfig {
    cfg.resources.iter().find(|r| r.rid == rid).unwrap()
}

fn ip(cfg: &ServiceConfig, rid: &str) -> IpConf {
    match &res(cfg, rid).spec {
        ResourceSpec::Ip(c) => c.clone(),
        other => panic!("{other:?}"),
    }
}

fn fs(cfg: &ServiceConfig, rid: &str) -> FsConf {
    match &res(cfg, rid).spec {
        ResourceSpec::Fs(c) => c.clone(),
        other => panic!("{other:?}"),
    }
}

fn sync(cfg: &ServiceConfig, rid: &str) -> SyncConf {
    match &res(cfg, rid).spec {
        ResourceSpec::Sync(c) => c.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tutorial_service_loads_with_its_inline_comments() {
    let etc = Etc::new();
    let file = etc.write("p26.opensvc.com.env", P26);
    let cfg = load(&etc.paths, "p26.opensvc.com", "SLES1").unwrap();
    assert_eq!(cfg.name, "p26.opensvc.com");
    assert_eq!(cfg.file, file);
    assert_eq!(cfg.nodes, vec!["sles1", "sles2"]);
    assert!(cfg.drpnodes.is_empty());
    assert_eq!(cfg.autostart_node, vec!["sles1"]);
    assert_eq!(cfg.service_type, "TST");
    assert_eq!(cfg.app, "MyApp");
    assert_eq!(
        rids(&cfg),
        vec!["ip#0", "vg#0", "fs#0", "fs#1", "app", "sync#i0"]
    );
    let ip0 = ip(&cfg, "ip#0");
    assert_eq!(
        (ip0.ipname.as_str(), ip0.ipdev.as_str()),
        ("p26.opensvc.com", "eth0")
    );
    assert_eq!((ip0.netmask, ip0.gateway), (None, None));
    assert!(!ip0.noalias && !ip0.skip_conflict_check);
    match &res(&cfg, "vg#0").spec {
        ResourceSpec::Vg(v) => assert_eq!(v.vgname, "vgsvc1"),
        other => panic!("{other:?}"),
    }
    let fs0 = fs(&cfg, "fs#0");
    assert_eq!(
        fs0,
        FsConf {
            dev: "/dev/mapper/vgsvc1-lvappsvc1".into(),
            mnt: "/svc1/app".into(),
            fstype: "ext3".into(),
            mnt_opt: String::new(),
        }
    );
    assert_eq!(fs(&cfg, "fs#1").mnt, "/svc1/data");
    assert_eq!(res(&cfg, "ip#0").line, 7);
    assert_eq!(res(&cfg, "app").line, 0);
    let i0 = sync(&cfg, "sync#i0");
    assert!(i0.internal);
    assert_eq!(i0.target, vec!["drpnodes", "nodes"]);
    assert_eq!(i0.schedule, Schedule::default());
    assert!(cfg.resources.iter().all(|r| r.common == Common::default()));
}

#[test]
fn tutorial_service_is_clean_for_validate() {
    let etc = Etc::new();
    etc.write("p26.opensvc.com.env", P26);
    assert_eq!(
        validate(&etc.paths, "p26.opensvc.com", "sles1").unwrap(),
        vec![]
    );
}

#[test]
fn find_file_conf_env_both_none() {
    let etc = Etc::new();
    assert!(matches!(
        find_file(&etc.paths, "s"),
        Err(ConfigError::NotFound { .. })
    ));
    let conf = etc.write("s.conf", "");
    assert_eq!(find_file(&etc.paths, "s").unwrap(), conf);
    etc.write("s.env", "");
    let err = find_file(&etc.paths, "s").unwrap_err();
    assert!(matches!(err, ConfigError::Both { .. }));
    assert!(err.to_string().starts_with("service s has both "), "{err}");
    std::fs::remove_file(conf).unwrap();
    assert_eq!(
        find_file(&etc.paths, "s").unwrap(),
        etc.paths.etc.join("s.env")
    );
    assert!(matches!(
        find_file(&etc.paths, "../x"),
        Err(ConfigError::NotFound { .. })
    ));
}

#[test]
fn unreadable_file_is_a_read_error() {
    let etc = Etc::new();
    std::fs::create_dir(etc.paths.etc.join("s.conf")).unwrap();
    assert!(matches!(
        load(&etc.paths, "s", "n1"),
        Err(ConfigError::Read { .. })
    ));
    assert!(matches!(
        validate(&etc.paths, "s", "n1"),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn list_services_skips_node_conf_hidden_and_non_files() {
    let etc = Etc::new();
    for f in [
        "b.env",
        "a.conf",
        "a.env",
        "node.conf",
        ".hidden.conf",
        "x.txt",
        ".conf",
    ] {
        etc.write(f, "");
    }
    std::fs::create_dir(etc.paths.etc.join("d.conf")).unwrap();
    std::fs::create_dir(etc.paths.etc.join("b.d")).unwrap();
    std::os::unix::fs::symlink("a.conf", etc.paths.etc.join("l.conf")).unwrap();
    std::os::unix::fs::symlink("missing", etc.paths.etc.join("m.conf")).unwrap();
    std::os::unix::fs::symlink("missing", etc.paths.etc.join("l.env")).unwrap();
    assert_eq!(list_services(&etc.paths), vec!["a", "b", "l"]);
    // Each file as find_file says it, from the one listing: a.conf and
    // a.env is an error, and so is l, whose dangling l.env counts.
    for (name, file) in list_service_files(&etc.paths) {
        assert_eq!(
            format!("{file:?}"),
            format!("{:?}", find_file(&etc.paths, &name)),
            "{name}"
        );
    }
}

#[test]
fn list_services_without_etc_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    assert!(list_services(&Paths::under(dir.path())).is_empty());
}

#[test]
fn node_outside_nodes_and_drpnodes_is_not_managed_here() {
    let etc = Etc::new();
    etc.svc("");
    let err = load(&etc.paths, "s", "n3").unwrap_err();
    assert_eq!(err.to_string(), "service s not managed here");
    assert!(validate(&etc.paths, "s", "n3").unwrap().is_empty());
}

#[test]
fn problems_win_over_not_managed_here() {
    let etc = Etc::new();
    etc.svc("[vg#0]\n");
    assert!(matches!(
        load(&etc.paths, "s", "n3"),
        Err(ConfigError::Invalid(_))
    ));
}

#[test]
fn drpnode_adds_to_drpnodes_and_lists_are_lower_cased() {
    let etc = Etc::new();
    etc.write(
        "s.conf",
        "[DEFAULT]\nservice_type = PRD\nnodes = N1 n1\ndrpnodes = D1\ndrpnode = d2 d1\n",
    );
    let cfg = load(&etc.paths, "s", "d2").unwrap();
    assert_eq!(cfg.nodes, vec!["n1"]);
    assert_eq!(cfg.drpnodes, vec!["d1", "d2"]);
}

#[test]
fn service_type_missing_and_unknown() {
    let etc = Etc::new();
    etc.write("s.conf", "[DEFAULT]\nnodes = n1\n");
    let p = etc.one_problem();
    assert_eq!(p.message, "service_type must be set");
    assert_eq!((p.line, p.section.as_deref()), (Some(1), Some("DEFAULT")));
    etc.write("s.conf", "[DEFAULT]\nnodes = n1\nservice_type = prd\n");
    let p = etc.one_problem();
    assert_eq!(
        p.message,
        "service s type prd is not a known service type (PRD, PPRD, REC, INT, DEV, TST, TMP, DRP, FOR, PRA)"
    );
    assert_eq!(p.line, Some(3));
    assert_eq!(
        p.to_string(),
        format!(
            "{}:3: [DEFAULT] service_type: {}",
            etc.paths.etc.join("s.conf").display(),
            p.message
        )
    );
}

#[test]
fn parse_errors_are_problems_with_their_line() {
    let etc = Etc::new();
    etc.svc("garbage\n[ip#0]\nipname = a\nipdev = eth0\n");
    let p = etc.one_problem();
    assert_eq!(p.line, Some(4));
    assert_eq!(p.section, None);
    assert!(
        p.message.starts_with("cannot parse 'garbage'"),
        "{}",
        p.message
    );
}

#[test]
fn every_problem_is_collected() {
    let etc = Etc::new();
    etc.write(
            "s.conf",
            "[DEFAULT]\nnodes = n1\n[ip#0]\n[vg#0]\n[fs#0]\n[hb#0]\n[sync#0]\n[ip#1]\nipname = x\nipdev = e\ndisable = maybe\n",
        );
    assert_eq!(
        etc.problems("n1"),
        vec![
            (Some(1), "service_type must be set".to_string()),
            (
                Some(3),
                "nor ipname and ipname@n1 defined in config file section ip#0".to_string()
            ),
            (Some(3), "ipdev must be set in section ip#0".to_string()),
            (Some(4), "vgname must be set in section vg#0".to_string()),
            (Some(5), "dev must be set in section fs#0".to_string()),
            (Some(5), "mnt must be set in section fs#0".to_string()),
            (Some(6), "type must be set in section hb#0".to_string()),
            (
                Some(7),
                "config file section sync#0 must have src set".to_string()
            ),
            (
                Some(7),
                "config file section sync#0 must have dst set".to_string()
            ),
            (
                Some(11),
                "invalid boolean 'maybe' (expected true/false, yes/no, on/off, 1/0)".to_string()
            ),
        ]
    );
}

#[test]
fn validate_sorts_problems_by_line() {
    let etc = Etc::new();
    etc.svc("[fs#0]\n[vg#0]\nbogus = 1\n");
    let lines: Vec<_> = validate(&etc.paths, "s", "n1")
        .unwrap()
        .iter()
        .map(|p| (p.line, p.message.clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (Some(4), "dev must be set in section fs#0".to_string()),
            (Some(4), "mnt must be set in section fs#0".to_string()),
            (Some(5), "vgname must be set in section vg#0".to_string()),
            (Some(6), "unknown keyword".to_string()),
        ]
    );
}

#[test]
fn ip_details_scoping_and_tags() {
    let etc = Etc::new();
    etc.svc(
            "[ip#0]\nipname = a\nipname@n1 = b\nipname@nodes = c\nipdev = eth0\nnetmask = 255.255.255.0\ngateway = 10.0.0.1\ntags = noalias nonrouted\n[ip#1]\nipname = x\nipdev@nodes = eth1\ntags@n2 = noaction\n",
        );
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    let a = ip(&cfg, "ip#0");
    assert_eq!(a.ipname, "b");
    assert_eq!(a.netmask.as_deref(), Some("255.255.255.0"));
    assert_eq!(a.gateway.as_deref(), Some("10.0.0.1"));
    assert!(a.noalias && a.skip_conflict_check);
    let b = ip(&cfg, "ip#1");
    assert_eq!(b.ipdev, "eth1");
    assert!(!b.noalias && !b.skip_conflict_check);
    let cfg2 = load(&etc.paths, "s", "n2").unwrap();
    assert_eq!(ip(&cfg2, "ip#0").ipname, "c");
    assert!(ip(&cfg2, "ip#1").skip_conflict_check);
}

#[test]
fn ip_with_empty_ipname_is_missing() {
    let etc = Etc::new();
    etc.svc("[ip#0]\nipname =\nipdev = e\n");
    let p = etc.one_problem();
    assert_eq!(
        p.message,
        "nor ipname and ipname@n1 defined in config file section ip#0"
    );
    assert_eq!((p.line, p.key.as_deref()), (Some(4), Some("ipname")));
}

#[test]
fn ipname_for_another_node_does_not_count() {
    let etc = Etc::new();
    etc.svc("[ip#0]\nipname@n2 = x\nipdev = e\n");
    assert_eq!(
        etc.one_problem().message,
        "nor ipname and ipname@n1 defined in config file section ip#0"
    );
}

#[test]
fn fs_trailing_slash_type_and_options() {
    let etc = Etc::new();
    etc.svc("[fs#0]\ndev = /dev/sdb1\nmnt = /srv/a/\ntype = ext4\nmnt_opt = rw,noatime\n[fs#1]\ndev=/dev/sdc\nmnt = /\n");
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    assert_eq!(
        fs(&cfg, "fs#0"),
        FsConf {
            dev: "/dev/sdb1".into(),
            mnt: "/srv/a".into(),
            fstype: "ext4".into(),
            mnt_opt: "rw,noatime".into(),
        }
    );
    assert_eq!(fs(&cfg, "fs#1").mnt, "/");
    assert_eq!(fs(&cfg, "fs#1").fstype, "");
}

#[test]
fn build_order_is_by_type_then_file_order() {
    let etc = Etc::new();
    etc.svc(
            "[sync#1]\nsrc = /a\ndst = /b\n[fs#1]\ndev = d\nmnt = /b\n[app]\n[ip#1]\nipname = a\nipdev = e\n[fs#0]\ndev = d\nmnt = /a\n[vg#0]\nvgname = v\n[hb#0]\ntype = OpenHA\n[ip#0]\nipname = b\nipdev = e\n[sync#0]\nsrc = /c\ndst = /d\n[bogus]\n",
        );
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    assert_eq!(
        rids(&cfg),
        vec![
            "hb#0", "ip#1", "ip#0", "vg#0", "fs#1", "fs#0", "app", "sync#1", "sync#0", "sync#i0"
        ]
    );
    assert_eq!(res(&cfg, "app").line, 10);
}

#[test]
fn resource_section_names_are_kept_as_written() {
    let etc = Etc::new();
    etc.svc("[IP#1x]\nipname = a\nipdev = e\n[ip#a]\n");
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    assert_eq!(rids(&cfg), vec!["IP#1x", "app", "sync#i0"]);
}

#[test]
fn hb_types_and_drpnode_only() {
    let etc = Etc::new();
    etc.svc("drpnodes = d1\n[hb#0]\ntype = OpenHA\n");
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    match &res(&cfg, "hb#0").spec {
        ResourceSpec::Hb(h) => {
            assert_eq!(
                h,
                &OpenHaConf {
                    hb_type: "openha".into(),
                    name: "s".into()
                }
            );
        }
        other => panic!("{other:?}"),
    }
    let cfg = load(&etc.paths, "s", "d1").unwrap();
    assert_eq!(rids(&cfg), vec!["app", "sync#i0"]);

    etc.svc("[hb#0]\ntype = LinuxHA\nname = other\n");
    let p = etc.one_problem();
    assert_eq!(p.message, "resHbLinuxHA is not implemented");
    assert_eq!((p.line, p.key.as_deref()), (Some(5), Some("type")));

    etc.svc("[hb#0]\ntype = openha\nname = other\n");
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    match &res(&cfg, "hb#0").spec {
        ResourceSpec::Hb(h) => assert_eq!(h.name, "other"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn vg_types() {
    let etc = Etc::new();
    etc.svc("[vg#0]\nvgname = v\ntype = LVM\n");
    assert!(load(&etc.paths, "s", "n1").is_ok());
    etc.svc("[vg#0]\nvgname = v\nvgtype = veritas\n");
    let p = etc.one_problem();
    assert_eq!(p.message, "vg type veritas is not implemented");
    assert_eq!(p.line, Some(6));
}

#[test]
fn app_dir_and_timeout() {
    let etc = Etc::new();
    etc.svc("[app]\ndir = /srv/launchers\ntimeout = 30\n");
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    match &res(&cfg, "app").spec {
        ResourceSpec::App(a) => {
            assert_eq!(a.dir, Some(PathBuf::from("/srv/launchers")));
            assert_eq!(a.timeout, Some(Duration::from_secs(30)));
        }
        other => panic!("{other:?}"),
    }
    etc.svc("[app]\ntimeout = soon\n");
    let p = etc.one_problem();
    assert_eq!(
        p.message,
        "invalid integer 'soon' (expected a whole number)"
    );
    assert_eq!(p.line, Some(5));
    etc.svc("[app]\ntimeout = 0\n");
    assert_eq!(
        etc.one_problem().message,
        "timeout must be a positive number of seconds"
    );
}

#[test]
fn default_disable_disables_every_resource_even_implicit_ones() {
    let etc = Etc::new();
    etc.svc("disable = true\n[ip#0]\nipname = a\nipdev = e\n");
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    assert_eq!(rids(&cfg), vec!["ip#0", "app", "sync#i0"]);
    assert!(cfg.resources.iter().all(|r| r.common.disable));
}

#[test]
fn section_disable_overrides_default_and_scoped_disable_wins() {
    let etc = Etc::new();
    etc.svc("disable = true\n[ip#0]\nipname = a\nipdev = e\ndisable = no\ndisable@n2 = yes\n");
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    assert!(!res(&cfg, "ip#0").common.disable);
    let cfg = load(&etc.paths, "s", "n2").unwrap();
    assert!(res(&cfg, "ip#0").common.disable);
}

#[test]
fn on_lists_and_common_keys() {
    let etc = Etc::new();
    etc.svc(
            "drpnodes = d1\n[app]\ndisable_on = n2\noptional_on = nodes\nmonitor_on = drpnodes\nalways_on = N1\nrestart = 3\ntags = a b\npre_start = /bin/echo  hi there\npost_stop@n1 = /bin/true\npost_stop = /bin/false\n",
        );
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    let c = &res(&cfg, "app").common;
    assert!(!c.disable && c.optional && !c.monitor && c.always_on);
    assert_eq!(c.restart, 3);
    assert_eq!(c.tags, ["a", "b"].iter().map(|s| s.to_string()).collect());
    assert_eq!(c.triggers["pre_start"], vec!["/bin/echo", "hi", "there"]);
    assert_eq!(c.triggers["post_stop"], vec!["/bin/true"]);
    assert_eq!(c.triggers.len(), 2);
    let cfg = load(&etc.paths, "s", "n2").unwrap();
    let c = &res(&cfg, "app").common;
    assert!(c.disable && c.optional && !c.monitor && !c.always_on);
    let cfg = load(&etc.paths, "s", "d1").unwrap();
    let c = &res(&cfg, "app").common;
    assert!(!c.disable && !c.optional && c.monitor);
}

#[test]
fn booleans_accept_the_python_words() {
    for (v, want) in [
        ("1", true),
        ("YES", true),
        ("True", true),
        ("on", true),
        ("0", false),
        ("No", false),
        ("FALSE", false),
        ("off", false),
    ] {
        let etc = Etc::new();
        etc.svc(&format!("[app]\noptional = {v}\n"));
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        assert_eq!(res(&cfg, "app").common.optional, want, "{v}");
    }
}

#[test]
fn bad_default_value_is_reported_once() {
    let etc = Etc::new();
    etc.svc("monitor = maybe\n[ip#0]\nipname = a\nipdev = e\n");
    let p = etc.one_problem();
    assert_eq!(
        (p.line, p.section.as_deref(), p.key.as_deref()),
        (Some(4), Some("DEFAULT"), Some("monitor"))
    );
}

#[test]
fn bad_restart_is_an_integer_problem() {
    let etc = Etc::new();
    etc.svc("[app]\nrestart = -1\n");
    let p = etc.one_problem();
    assert_eq!(p.message, "invalid integer '-1' (expected a whole number)");
    assert_eq!(p.key.as_deref(), Some("restart"));
}

#[test]
fn orchestrate_is_no_start_or_ha() {
    let etc = Etc::new();
    etc.svc("");
    assert_eq!(load(&etc.paths, "s", "n1").unwrap().orchestrate, "no");
    etc.svc("orchestrate = HA\n");
    assert_eq!(load(&etc.paths, "s", "n1").unwrap().orchestrate, "ha");
    etc.svc("orchestrate = always\n");
    let p = etc.one_problem();
    assert_eq!(
        p.message,
        "invalid orchestrate 'always' (expected no, start or ha)"
    );
    assert_eq!(p.key.as_deref(), Some("orchestrate"));
}

#[test]
fn placement_is_nodes_order_or_load_avg() {
    let etc = Etc::new();
    etc.svc("");
    assert_eq!(
        load(&etc.paths, "s", "n1").unwrap().placement,
        "nodes order"
    );
    etc.svc("placement = Load  Avg\n");
    assert_eq!(load(&etc.paths, "s", "n1").unwrap().placement, "load avg");
    etc.svc("placement = spread\n");
    let p = etc.one_problem();
    assert_eq!(
        p.message,
        "invalid placement 'spread' (expected nodes order or load avg)"
    );
}

#[test]
fn monitor_action_is_one_of_three_words() {
    let etc = Etc::new();
    etc.svc("monitor_action = FreezeStop\n");
    let c = load(&etc.paths, "s", "n1").unwrap();
    assert_eq!(c.monitor_action, "freezestop");
    etc.svc("monitor_action = suicide\n");
    let p = etc.one_problem();
    assert_eq!(
        p.message,
        "invalid monitor_action 'suicide' (expected freezestop, reboot or crash)"
    );
    assert_eq!(p.key.as_deref(), Some("monitor_action"));
}

#[test]
fn sync_i0_needs_more_than_one_node() {
    let etc = Etc::new();
    etc.write("s.conf", "[DEFAULT]\nservice_type = TST\nnodes = n1\n");
    assert_eq!(rids(&load(&etc.paths, "s", "n1").unwrap()), vec!["app"]);
    etc.write("s.conf", "[DEFAULT]\nservice_type = TST\nnodes = n1 N1\n");
    assert_eq!(rids(&load(&etc.paths, "s", "n1").unwrap()), vec!["app"]);
    etc.write(
        "s.conf",
        "[DEFAULT]\nservice_type = TST\nnodes = n1\ndrpnodes = d1\n",
    );
    assert_eq!(
        rids(&load(&etc.paths, "s", "n1").unwrap()),
        vec!["app", "sync#i0"]
    );
}

#[test]
fn sync_i0_options_from_its_section_and_schedule_from_sync_then_default() {
    let etc = Etc::new();
    etc.svc(
            "sync_max_delay = 60\nsync_days = [\"monday\"]\n[sync#i0]\noptions = --acls  --xattrs\ndisable = yes\noptional = true\nsync_interval = 5\n[sync]\nsync_interval = 10\nsync_period = [[\"22:00\", \"02:00\"], [\"12:00\", \"13:00\"]]\n",
        );
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    let r = res(&cfg, "sync#i0");
    assert_eq!(r.line, 6);
    assert!(r.common.disable && r.common.optional);
    let s = sync(&cfg, "sync#i0");
    assert_eq!(s.options, vec!["--acls", "--xattrs"]);
    assert_eq!(
        s.schedule,
        Schedule {
            interval_min: 10,
            max_delay_min: 60,
            periods: vec![
                ("22:00".into(), "02:00".into()),
                ("12:00".into(), "13:00".into())
            ],
            days: vec!["monday".into()],
        }
    );
    assert!(s.src.is_empty() && s.dst.is_empty());
}

#[test]
fn user_sync_details() {
    let etc = Etc::new();
    etc.svc(
            "bwlimit = 100\nsync_max_delay = 30\n[sync#0]\nsrc = /a /b\n  /c\ndst = /d\ntarget = nodes DRPNODES\noptions = --delete-excluded\nexclude = --exclude=*.tmp\n[sync#1]\nsrc = /x\ndst = /y\nsync_min_delay = 7\nbwlimit = 5\n",
        );
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    let s0 = sync(&cfg, "sync#0");
    assert!(!s0.internal);
    assert_eq!(s0.src, vec!["/a", "/b", "/c"]);
    assert_eq!(s0.dst, "/d");
    assert_eq!(s0.target, vec!["nodes", "drpnodes"]);
    assert_eq!(s0.options, vec!["--delete-excluded", "--exclude=*.tmp"]);
    assert_eq!(s0.bwlimit, Some(100));
    assert_eq!(
        (s0.schedule.interval_min, s0.schedule.max_delay_min),
        (30, 30)
    );
    let s1 = sync(&cfg, "sync#1");
    assert!(s1.target.is_empty());
    assert_eq!(s1.bwlimit, Some(5));
    assert_eq!(
        (s1.schedule.interval_min, s1.schedule.max_delay_min),
        (7, 30)
    );
}

#[test]
fn malformed_schedule_values() {
    let etc = Etc::new();
    etc.svc("[sync#0]\nsrc = /a\ndst = /b\nsync_period = 03:59-05:59\n");
    let p = etc.one_problem();
    assert_eq!(p.message, "malformed parameter value: sync#0.sync_period");
    assert_eq!(p.line, Some(7));
    etc.svc("sync_interval = soon\n");
    let p = etc.one_problem();
    assert_eq!(
        p.message,
        "malformed parameter value: DEFAULT.sync_interval"
    );
    assert_eq!(p.line, Some(4));
    etc.svc("[sync]\nsync_days = [\"someday\"]\n");
    assert_eq!(
        etc.one_problem().message,
        "malformed parameter value: sync.sync_days"
    );
}

#[test]
fn sync_type_and_target_checks() {
    let etc = Etc::new();
    etc.svc("[sync#0]\nsrc = /a\ndst = /b\ntype = zfs\ntarget = all\n");
    assert_eq!(
        etc.problems("n1"),
        vec![
            (Some(7), "sync type zfs is not implemented".to_string()),
            (
                Some(8),
                "invalid target 'all' (expected nodes, drpnodes or both)".to_string()
            ),
        ]
    );
}

#[test]
fn validate_lists_unknown_sections_and_keys() {
    let etc = Etc::new();
    etc.svc(
            "nodez = x\norchestrate = ha\n[ip#0]\nipname = a\nipdev = e\nipdevice = e\nipname@n3 = b\noptional@n1 = true\n[container#0]\nx = 1\n[sync]\nsync_min_delay = 3\ndisable = true\n[app]\ndir = /x\n",
        );
    let got: Vec<_> = validate(&etc.paths, "s", "n1")
        .unwrap()
        .into_iter()
        .map(|p| (p.line, p.section, p.key, p.message))
        .collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        got,
        vec![
            (
                Some(4),
                s("DEFAULT"),
                s("nodez"),
                "unknown keyword".to_string()
            ),
            (
                Some(9),
                s("ip#0"),
                s("ipdevice"),
                "unknown keyword".to_string()
            ),
            (
                Some(11),
                s("ip#0"),
                s("optional@n1"),
                "unknown keyword".to_string()
            ),
            (
                Some(12),
                s("container#0"),
                None,
                "unknown section".to_string()
            ),
            (
                Some(15),
                s("sync"),
                s("sync_min_delay"),
                "sync_min_delay is deprecated. replace with sync_interval.".to_string()
            ),
            (
                Some(16),
                s("sync"),
                s("disable"),
                "unknown keyword".to_string()
            ),
        ]
    );
    assert!(load(&etc.paths, "s", "n1").is_ok());
}

#[test]
fn validate_includes_load_problems() {
    let etc = Etc::new();
    etc.write("s.conf", "[DEFAULT]\nnodes = n1\nfoo = 1\n");
    let msgs: Vec<_> = validate(&etc.paths, "s", "n1")
        .unwrap()
        .into_iter()
        .map(|p| p.message)
        .collect();
    assert_eq!(msgs, vec!["service_type must be set", "unknown keyword"]);
}

#[test]
fn validate_reports_missing_file() {
    let etc = Etc::new();
    assert!(matches!(
        validate(&etc.paths, "s", "n1"),
        Err(ConfigError::NotFound { .. })
    ));
}

#[test]
fn scoped_nodes() {
    let etc = Etc::new();
    etc.write(
            "s.conf",
            "[DEFAULT]\nservice_type = TST\nnodes = a b\nnodes@c = c d\ndrpnodes = x\ndrpnodes@nodes = y\n",
        );
    let cfg = load(&etc.paths, "s", "c").unwrap();
    assert_eq!(cfg.nodes, vec!["c", "d"]);
    assert_eq!(cfg.drpnodes, vec!["y"]);
    let cfg = load(&etc.paths, "s", "x").unwrap();
    assert_eq!(cfg.nodes, vec!["a", "b"]);
    assert_eq!(cfg.drpnodes, vec!["x"]);
}

#[test]
fn duplicate_sections_and_keys_are_refused_naming_both_lines() {
    let etc = Etc::new();
    let file = etc.svc("[ip#0]\nipname = a\nipdev = e\nipname = b\n[ip#0]\nnetmask = 24\n");
    let f = file.display();
    let got: Vec<String> = match load(&etc.paths, "s", "n1") {
        Err(ConfigError::Invalid(p)) => p.iter().map(|p| p.to_string()).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        got,
        vec![
            format!("{f}:7: [ip#0] ipname: duplicate keyword, first at {f}:5"),
            format!("{f}:8: [ip#0]: duplicate section, first at {f}:4"),
        ]
    );
    let lines: Vec<_> = validate(&etc.paths, "s", "n1")
        .unwrap()
        .iter()
        .map(|p| p.line)
        .collect();
    assert_eq!(lines, vec![Some(7), Some(8)]);
}

#[test]
fn an_empty_file_names_line_1() {
    let etc = Etc::new();
    let file = etc.write("s.conf", "");
    let got: Vec<String> = validate(&etc.paths, "s", "n1")
        .unwrap()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(
        got,
        vec![format!(
            "{}:1: [DEFAULT] service_type: service_type must be set",
            file.display()
        )]
    );
}

#[test]
fn a_bom_and_latin1_bytes_still_load() {
    let etc = Etc::new();
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend(b"[DEFAULT]\nservice_type = TST\nnodes = n1\ncomment = caf\xe9\n");
    std::fs::write(etc.paths.etc.join("s.conf"), bytes).unwrap();
    assert_eq!(validate(&etc.paths, "s", "n1").unwrap(), vec![]);
    assert_eq!(load(&etc.paths, "s", "n1").unwrap().comment, "caf\u{fffd}");
}

#[test]
fn unknown_keywords_come_back_as_warnings_of_a_load() {
    let etc = Etc::new();
    etc.svc("[fs#0]\ndev = /d\nmnt = /m\nmount_opts = ro\n");
    let cfg = load(&etc.paths, "s", "n1").unwrap();
    let w: Vec<String> = cfg.warnings.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        w,
        vec![format!(
            "{}:7: [fs#0] mount_opts: unknown keyword",
            etc.paths.etc.join("s.conf").display()
        )]
    );
}

/// The daemon's monitor loads without linting: the same config, no
/// warnings, and what is wrong still refused.
#[test]
fn a_load_that_skips_warnings_builds_the_same_config() {
    let etc = Etc::new();
    let file = etc.svc("[fs#0]\ndev = /d\nmnt = /m\nmount_opts = ro\n");
    let linted = load(&etc.paths, "s", "n1").unwrap();
    let quiet = load_file_with(&file, "s", "n1", Warnings::Skip).unwrap();
    assert_eq!(linted.warnings.len(), 1);
    assert!(quiet.warnings.is_empty());
    assert_eq!(rids(&linted), rids(&quiet));
    assert_eq!(fs(&linted, "fs#0"), fs(&quiet, "fs#0"));
    let bad = etc.svc("[fs#0]\ndev = /d\n");
    assert!(load_file_with(&bad, "s", "n1", Warnings::Skip).is_err());
}

/// Issue 10, item 22: not a timed assertion (timings belong in
/// BENCHMARKS.md, scripts/bench-config.sh); it prints the time and
/// checks that 10,000 sections are all read.
#[test]
fn ten_thousand_sections_validate() {
    let etc = Etc::new();
    let mut body = String::new();
    for i in 0..10_000 {
        body.push_str(&format!("[ip#{i}]\nipname = a{i}\nipdev = eth0\n"));
    }
    etc.svc(&body);
    let t = std::time::Instant::now();
    assert_eq!(validate(&etc.paths, "s", "n1").unwrap(), vec![]);
    println!(
        "10,000 sections validated in {:?} (debug build)",
        t.elapsed()
    );
    assert_eq!(load(&etc.paths, "s", "n1").unwrap().resources.len(), 10_002);
}

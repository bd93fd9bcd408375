//! Tier 4: the drivers on real kernel objects, in the namespace lab
//! (lab/lab.sh): node1 and node2 on one bridge, a client, ext4 "LUNs" on
//! loop devices, an LVM VG. Each test builds its own lab and a drop guard
//! removes it. They need root; CI runs as root, so they never skip there.

use crate::lab;
use crate::lab::{Lab, lab_test};

const DISKS: &[&str] = &["--nodes", "2", "--disks", "app:32M,data:32M", "--vg"];

fn tutorial_lab(nodes: &[&str]) -> Lab {
    let lab = Lab::up(DISKS);
    lab.tutorial(nodes);
    lab
}

fn assert_nothing_up(lab: &Lab, node: &str) {
    let vg = lab.get("vg");
    let st = lab.sh(
        node,
        &format!(
            "ip -o addr show dev eth0 | grep -c 192.0.2.26; findmnt -n /svc1/app; findmnt -n /svc1/data; \
             vgs --noheadings -o vg_tags {vg} | tr -d ' '"
        ),
    );
    assert_eq!(
        st.stdout,
        "0\n\n",
        "something is still up on {node}:\n{}",
        st.dump()
    );
}

fn has_line(out: &lab::Out, line: &str) {
    assert!(
        out.log().lines().any(|l| l == line),
        "missing line {line:?}\n{}",
        out.dump()
    );
}

#[test]
fn tutorial_start_status_stop_on_real_objects() {
    lab_test!();
    let lab = tutorial_lab(&["node1", "node2"]);
    let (app, data, vg) = (lab.get("disk_app"), lab.get("disk_data"), lab.get("vg"));
    let i = "HH:MM:SS INFO    P26.OPENSVC.COM";

    let r = lab.sh("node1", "p26.opensvc.com start");
    r.ok();
    // The alias is the first free one and the mask comes from eth0's /27.
    has_line(&r, &format!("{i}.IP#0    checking 192.0.2.26 availability"));
    has_line(
        &r,
        &format!("{i}.IP#0    ifconfig eth0:1 192.0.2.26 netmask 255.255.255.224 up"),
    );
    has_line(
        &r,
        &format!("{i}.IP#0    arping -U -c 1 -I eth0 -s 192.0.2.26 0.0.0.0"),
    );
    has_line(&r, "Sent 1 probes (1 broadcast(s))");
    has_line(&r, &format!("{i}.VG#0    vgchange --addtag @node1 {vg}"));
    has_line(&r, &format!("{i}.VG#0    vgchange -a y {vg}"));
    has_line(
        &r,
        &format!("{i}.FS#0    create missing mountpoint /svc1/app"),
    );
    has_line(&r, &format!("{i}.FS#0    e2fsck -p {app}"));
    has_line(&r, &format!("{i}.FS#0    mount -t ext4 {app} /svc1/app"));
    has_line(&r, &format!("{i}.FS#1    mount -t ext4 {data} /svc1/data"));
    has_line(
        &r,
        &format!("{i}.APP     spawn: /etc/opensvc/p26.opensvc.com.d/S10weblauncher start"),
    );

    let k = lab.sh(
        "node1",
        &format!(
            "ip -o -4 addr show label eth0:1 | awk '{{print $4}}'; vgs --noheadings -o vg_tags {vg} | tr -d ' '; \
             findmnt -n -o SOURCE /svc1/app; findmnt -n -o SOURCE /svc1/data"
        ),
    );
    assert_eq!(
        k.stdout,
        format!("192.0.2.26/27\nnode1\n{app}\n{data}\n"),
        "{}",
        k.dump()
    );

    let st = lab.sh("node1", "p26.opensvc.com print status");
    st.ok();
    let want = format!(
        "p26.opensvc.com
overall                   warn
|- avail                  up
|  |- vg#0           .... up       {vg}
|  |- fs#0           .... up       {app}@/svc1/app
|  |- fs#1           .... up       {data}@/svc1/data
|  |- ip#0           .... up       p26.opensvc.com@eth0
|  '- app            .... up       app
|- sync                   down
|  '- sync#i0        .... down     rsync svc config to drpnodes, nodes
|                                  # node2 need update
'- hb                     n/a
"
    );
    assert_eq!(st.stdout, want, "{}", st.dump());
    // The write test leaves its mark on both filesystems.
    lab.sh(
        "node1",
        "test -f /svc1/app/.opensvc && test -f /svc1/data/.opensvc",
    )
    .ok();

    let page = lab.client(
        "for n in $(seq 50); do curl -sf --max-time 1 http://192.0.2.26:8080/ && exit 0; sleep 0.1; done; exit 1",
    );
    assert_eq!(page.ok().stdout, "<html><body>It Works !</body></html>\n");

    // Idempotent start.
    let again = lab.sh("node1", "p26.opensvc.com start");
    again.ok();
    has_line(
        &again,
        &format!("{i}.IP#0    192.0.2.26 is already up on eth0"),
    );
    has_line(&again, &format!("{i}.VG#0    {vg} is already up"));
    has_line(
        &again,
        &format!("{i}.FS#0    fs({app} /svc1/app) is already mounted"),
    );

    let stop = lab.sh("node1", "p26.opensvc.com stop");
    stop.ok();
    has_line(
        &stop,
        &format!("{i}.APP     spawn: /etc/opensvc/p26.opensvc.com.d/K90weblauncher stop"),
    );
    has_line(&stop, &format!("{i}.FS#1    umount /svc1/data"));
    has_line(&stop, &format!("{i}.VG#0    vgchange --deltag @node1 {vg}"));
    has_line(&stop, &format!("{i}.IP#0    ifconfig eth0:1 down"));
    // Exactly one post-stop check when the address is gone at once.
    let checks = stop
        .log()
        .matches("checking 192.0.2.26 availability")
        .count();
    assert_eq!(checks, 1, "{}", stop.dump());
    assert_nothing_up(&lab, "node1");
    // The web server was stopped by its recorded pid, not left behind.
    let ps = lab.sh("node1", "ps -eo args | grep -c '[h]ttp.server'");
    assert_eq!(ps.stdout.trim(), "0", "{}", ps.dump());
    lab.client("curl -s --max-time 1 http://192.0.2.26:8080/")
        .code(28);

    // Idempotent stop.
    let again = lab.sh("node1", "p26.opensvc.com stop");
    again.ok();
    has_line(
        &again,
        &format!("{i}.IP#0    192.0.2.26 is already down on eth0"),
    );
    has_line(&again, &format!("{i}.VG#0    {vg} is already down"));
    has_line(
        &again,
        &format!("{i}.FS#1    fs({data} /svc1/data) is already umounted"),
    );
}

#[test]
fn start_is_refused_when_the_address_is_up_on_another_node() {
    lab_test!();
    let lab = tutorial_lab(&["node1"]);
    lab.sh("node2", "ip addr add 192.0.2.26/27 dev eth0").ok();
    let r = lab.sh("node1", "p26.opensvc.com start");
    r.code(1);
    assert_eq!(
        r.log(),
        "HH:MM:SS INFO    P26.OPENSVC.COM.IP#0    checking 192.0.2.26 availability
HH:MM:SS ERROR   P26.OPENSVC.COM         'start' action stopped on execution error: start aborted due to resource ip#0 conflict
HH:MM:SS INFO    P26.OPENSVC.COM         skip rollback start: no resource activated",
        "{}",
        r.dump()
    );
    assert_nothing_up(&lab, "node1");
}

#[test]
fn an_address_that_drops_icmp_is_still_found_by_arp() {
    lab_test!();
    let lab = tutorial_lab(&["node1"]);
    // node2 holds the address but ignores pings: only the ARP probe sees it.
    lab.sh(
        "node2",
        "ip addr add 192.0.2.26/27 dev eth0 && sysctl -qw net.ipv4.icmp_echo_ignore_all=1",
    )
    .ok();
    lab.sh("node1", "ping -c 1 -W 1 192.0.2.26").code(1);
    lab.sh("node1", "p26.opensvc.com startip").code(1);
    assert_nothing_up(&lab, "node1");
}

#[test]
fn a_move_updates_the_clients_arp_cache() {
    lab_test!();
    let lab = tutorial_lab(&["node1", "node2"]);
    let (mac1, mac2) = (lab.mac("node1"), lab.mac("node2"));
    lab.sh("node1", "p26.opensvc.com startip").ok();
    lab.client("ping -c 1 -W 1 192.0.2.26").ok();
    let neigh = lab.client("ip neigh show 192.0.2.26").stdout;
    assert!(
        neigh.contains(&mac1),
        "client cache {neigh:?}, node1 is {mac1}"
    );
    lab.sh("node1", "p26.opensvc.com stopip").ok();
    // Linux ignores a neighbour update within a second of the last one
    // (locktime), so the move waits that long, as any real failover does.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    lab.sh("node2", "p26.opensvc.com startip").ok();
    // No traffic from the client in between: only the announce can have
    // taught it the new owner.
    let neigh = lab.client("ip neigh show 192.0.2.26").stdout;
    assert!(
        neigh.contains(&mac2),
        "client cache {neigh:?}, node2 is {mac2}"
    );
    lab.client("ping -c 1 -W 1 192.0.2.26").ok();
}

#[test]
fn startip_needs_an_up_interface() {
    lab_test!();
    let lab = tutorial_lab(&["node1"]);
    lab.sh("node1", "ip link set eth0 down").ok();
    let r = lab.sh("node1", "p26.opensvc.com startip");
    r.code(1);
    has_line(
        &r,
        "HH:MM:SS ERROR   P26.OPENSVC.COM.IP#0    Interface eth0 is not up. Cannot stack over it.",
    );
}

#[test]
fn vg_tags_move_with_the_service() {
    lab_test!();
    let lab = tutorial_lab(&["node1", "node2"]);
    let vg = lab.get("vg");
    let tags = |node: &str| {
        lab.sh(
            node,
            &format!("vgs --noheadings -o vg_tags {vg} | tr -d ' '"),
        )
        .ok()
        .stdout
        .trim()
        .to_string()
    };
    lab.sh("node1", "p26.opensvc.com startvg").ok();
    assert_eq!(tags("node1"), "node1");
    let r = lab.sh("node1", "p26.opensvc.com startvg");
    has_line(
        &r,
        &format!("HH:MM:SS INFO    P26.OPENSVC.COM.VG#0    {vg} is already up"),
    );
    lab.sh("node1", "p26.opensvc.com stopvg").ok();
    assert_eq!(tags("node1"), "");
    lab.sh("node2", "p26.opensvc.com startvg").ok();
    // Seen from either node, only the owner's tag remains.
    assert_eq!(tags("node1"), "node2");
    assert_eq!(tags("node2"), "node2");
    let r = lab.sh("node2", "p26.opensvc.com stopvg");
    r.ok();
    let r = lab.sh("node2", "p26.opensvc.com stopvg");
    has_line(
        &r,
        &format!("HH:MM:SS INFO    P26.OPENSVC.COM.VG#0    {vg} is already down"),
    );
}

#[test]
fn a_busy_mount_is_released_without_killing_anything_else() {
    lab_test!();
    let lab = tutorial_lab(&["node1"]);
    lab.sh("node1", "p26.opensvc.com startfs").ok();
    // One process holds a file on /svc1/data, another one elsewhere.
    let pids = lab.sh(
        "node1",
        "setsid sleep 300 </svc1/data/index.html >/dev/null 2>&1 & echo $!; \
         setsid sleep 300 </etc/hostname >/dev/null 2>&1 & echo $!",
    );
    let pids: Vec<String> = pids.ok().stdout.lines().map(String::from).collect();
    let (inside, outside) = (&pids[0], &pids[1]);
    lab.sh("node1", "umount /svc1/data").code(32);
    let r = lab.sh("node1", "p26.opensvc.com stopfs");
    r.ok();
    has_line(
        &r,
        "HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    fuser -kmv /svc1/data",
    );
    lab.sh("node1", "findmnt /svc1/data").code(1);
    lab.sh(
        "node1",
        &format!(
            "for n in $(seq 20); do kill -0 {inside} 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
        ),
    )
    .ok();
    lab.sh("node1", &format!("kill -0 {outside}")).ok();
    // Ours to end, by its pid.
    lab.sh("node1", &format!("kill {outside}")).ok();
}

#[test]
fn an_unwritable_fs_is_reported() {
    lab_test!();
    let lab = tutorial_lab(&["node1"]);
    lab.sh("node1", "p26.opensvc.com startfs").ok();
    lab.sh("node1", "chattr +i /svc1/data").ok();
    let st = lab.sh("node1", "p26.opensvc.com print status");
    let data = lab.get("disk_data");
    let want = format!(
        "|  |- fs#1           .... warn     {data}@/svc1/data\n|  |                               # fs is not writable\n"
    );
    assert!(st.stdout.contains(&want), "want:\n{want}\n{}", st.dump());
    lab.sh("node1", "chattr -i /svc1/data").ok();
    let st = lab.sh("node1", "p26.opensvc.com print status");
    assert!(!st.stdout.contains("not writable"), "{}", st.dump());
}

#[test]
fn a_failing_fsck_after_the_ip_is_up_rolls_everything_back() {
    lab_test!();
    let lab = tutorial_lab(&["node1"]);
    let data = lab.get("disk_data");
    // No filesystem on the data disk any more: e2fsck -p fails with 8.
    lab.sh("node1", &format!("wipefs -q -a {data}")).ok();
    let r = lab.sh("node1", "p26.opensvc.com start");
    r.code(1);
    has_line(
        &r,
        &format!(
            "HH:MM:SS ERROR   P26.OPENSVC.COM         'start' action stopped on execution error: e2fsck -p {data} exited with 8"
        ),
    );
    has_line(
        &r,
        "HH:MM:SS INFO    P26.OPENSVC.COM         trying to rollback start on fs#0, vg#0, ip#0",
    );
    assert_nothing_up(&lab, "node1");
}

#[test]
fn a_refused_launcher_rolls_everything_back() {
    lab_test!();
    let lab = tutorial_lab(&["node1"]);
    let app = lab.get("disk_app");
    lab.sh(
        "node1",
        &format!("mount {app} /mnt/a && chmod 775 /mnt/a/init.d/weblauncher && umount /mnt/a"),
    )
    .ok();
    let r = lab.sh("node1", "p26.opensvc.com start");
    r.code(1);
    assert!(r.stderr.contains("refusing to run it"), "{}", r.dump());
    has_line(
        &r,
        "HH:MM:SS INFO    P26.OPENSVC.COM         trying to rollback start on fs#1, fs#0, vg#0, ip#0",
    );
    assert_nothing_up(&lab, "node1");
}

#[test]
fn app_status_follows_the_checkup_script() {
    lab_test!();
    let lab = tutorial_lab(&["node1"]);
    lab.sh("node1", "p26.opensvc.com start").ok();
    let app_row = |st: &lab::Out| {
        st.stdout
            .lines()
            .find(|l| l.contains("'- app"))
            .unwrap_or_default()
            .to_string()
    };
    let st = lab.sh("node1", "p26.opensvc.com print status");
    assert_eq!(
        app_row(&st),
        "|  '- app            .... up       app",
        "{}",
        st.dump()
    );
    // The server dies behind svcmgr's back (ended by its recorded pid).
    lab.sh("node1", "kill $(cat /svc1/app/webserver.pid)").ok();
    let st = lab.sh(
        "node1",
        "for n in $(seq 20); do p26.opensvc.com print status | grep -q \"app .*down\" && break; sleep 0.1; done; p26.opensvc.com print status",
    );
    assert_eq!(
        app_row(&st),
        "|  '- app            .... down     app",
        "{}",
        st.dump()
    );
    lab.sh("node1", "p26.opensvc.com stop").ok();
}

//! Whether an address is in use on the network, and the announce once it
//! is ours: the ip resource's duplicate-address probe (`arping -D` and
//! ICMP at once, `ping` alone without arping or for v6) before a start and
//! after a stop, and `arping -U` after a start.

use std::net::IpAddr;
use std::time::Duration;

use super::PAUSE;
use crate::driver::Ctx;
use crate::exec::{Cmd, run_passthrough, run_quiet};

/// How long the duplicate-address probe listens for an answer. A neighbour
/// on the segment answers an ARP probe within a millisecond or two; 150 ms
/// keeps a wide margin where 1.5 waited a flat 5 s for a ping to time out.
pub(super) const PROBE_WAIT: Duration = Duration::from_millis(150);

/// `arping -U -c 1` sends at once, then idles a whole second before it
/// exits; interrupted, it still prints its summary.
const ANNOUNCE_WAIT: Duration = Duration::from_millis(100);

/// Ping timeouts, in seconds, when arping is missing or the address is v6:
/// the reference's 5 s before start, 1 s per round after stop.
const FALLBACK_CONFLICT_SECS: u32 = 5;
const FALLBACK_GONE_SECS: u32 = 1;

/// Before a start: `addr` already answers, from another host since it is
/// not plumbed here.
pub(super) fn conflict(ctx: &Ctx, dev: &str, addr: IpAddr) -> bool {
    answers(ctx, dev, addr, FALLBACK_CONFLICT_SECS)
}

/// Whether `addr` answers on the network. Logs the reference's
/// "checking" line, then asks by ARP — a duplicate-address probe (RFC
/// 5227: sender 0.0.0.0, so no neighbour's cache changes) — and by ICMP
/// at the same time; either answer counts, so a host that drops pings
/// and a host behind a router are both seen. Without arping, or for v6,
/// ICMP alone with the reference's wait of `fallback_secs`.
fn answers(ctx: &Ctx, dev: &str, addr: IpAddr, fallback_secs: u32) -> bool {
    ctx.log.info(format!("checking {addr} availability"));
    let target = addr.to_string();
    if addr.is_ipv6() || ctx.runner.which("arping").is_none() {
        let ping = if addr.is_ipv6() { "ping6" } else { "ping" };
        let secs = fallback_secs.to_string();
        let cmd = Cmd::new([ping, "-c", "1", "-W", &secs, "-w", &secs, &target]);
        return run_quiet(ctx.runner, &ctx.log, &cmd).is_ok_and(|o| o.ok());
    }
    let arp = Cmd::new(["arping", "-D", "-c", "2", "-w", "2", "-I", dev, &target])
        .interrupt_after(PROBE_WAIT)
        .timeout(Duration::from_secs(5));
    let wait = format!("{:.2}", PROBE_WAIT.as_secs_f64());
    let icmp = Cmd::new(["ping", "-c", "1", "-W", &wait, &target]).timeout(Duration::from_secs(5));
    std::thread::scope(|s| {
        let by_icmp = s.spawn(|| run_quiet(ctx.runner, &ctx.log, &icmp).is_ok_and(|o| o.ok()));
        // rc 1 alone also means "arping failed"; a reply line is proof.
        let by_arp = run_quiet(ctx.runner, &ctx.log, &arp)
            .is_ok_and(|o| o.rc == 1 && o.stdout.contains("reply from"));
        let by_icmp = by_icmp.join().unwrap_or(false);
        by_arp || by_icmp
    })
}

/// Tells the neighbours' ARP caches where `addr` now lives (`arping -U`).
pub(super) fn announce(ctx: &Ctx, dev: &str, addr: IpAddr) {
    if ctx.runner.which("arping").is_none() {
        // "annouce" is the reference's spelling; scripts grep for it.
        ctx.log.warn("arp annouce skipped. install 'arping'");
        return;
    }
    let cmd = Cmd::new([
        "arping",
        "-U",
        "-c",
        "1",
        "-I",
        dev,
        "-s",
        &addr.to_string(),
        "0.0.0.0",
    ])
    .interrupt_after(ANNOUNCE_WAIT);
    // A lost announce only delays neighbours' caches: never fatal.
    let _ = run_passthrough(ctx.runner, &ctx.log, &cmd);
}

/// Waits for the address to stop answering after an unplumb.
pub(super) fn wait_gone(ctx: &Ctx, dev: &str, addr: IpAddr) -> bool {
    for round in 0..15 {
        if round > 0 {
            std::thread::sleep(PAUSE);
        }
        if !answers(ctx, dev, addr, FALLBACK_GONE_SECS) {
            return true;
        }
    }
    false
}

//! Unicast heartbeats: every `interval` the tx thread sends this node's
//! compact beat (dataset.rs), sealed (wire.rs), over one TCP connection to each peer of
//! `[cluster] nodes`; the rx thread accepts on `port` and, for each frame
//! that authenticates, refreshes that peer.

use crate::daemon::state::ThreadState;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::{HbConf, RxState, beat_every, fetch::Fetcher};
use crate::daemon::conns::Conns;
use crate::daemon::deadline::Deadline;
use crate::daemon::state::Shared;
use crate::daemon::wire::{self, Opener, Sealer};
use crate::log::Logger;

fn resolve(node: &str, port: u16) -> Option<SocketAddr> {
    (node, port).to_socket_addrs().ok()?.next()
}

/// `hb#N.tx`: beats until `stop`.
pub(crate) fn tx(
    conf: HbConf,
    peers: Vec<String>,
    mut sealer: Sealer,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    log: Logger,
) {
    let tid = format!("{}.tx", conf.id);
    // Each send is bounded by the interval: a peer behind a cut cable
    // (connect waits for a SYN answer that never comes) must not delay the
    // beats to the others, nor the next beat.
    let budget = conf.interval.min(Duration::from_secs(1));
    let port = conf.port;
    // One sender per peer, kept while this thread beats: a thread started
    // per peer and per beat (fifteen a second at sixteen nodes, as many
    // again on the rx side) cost more CPU than the sends.
    std::thread::scope(|s| {
        let (done_tx, done_rx) = mpsc::channel::<u64>();
        let senders: Vec<mpsc::Sender<(u64, Arc<[u8]>)>> = peers
            .iter()
            .map(|peer| {
                let (frames_tx, frames_rx) = mpsc::channel::<(u64, Arc<[u8]>)>();
                let (done, tid, shared) = (done_tx.clone(), &tid, &shared);
                s.spawn(move || {
                    let mut to = Resolved::default();
                    while let Ok(mut next) = frames_rx.recv() {
                        // Behind (a send that outlasted the wait below):
                        // the newest frame only, an older one says less.
                        while let Ok(newer) = frames_rx.try_recv() {
                            next = newer;
                        }
                        let (round, frame) = next;
                        let ok = to
                            .addr(peer, port)
                            .is_some_and(|a| send_to(a, budget, &frame));
                        if !ok {
                            to.forget();
                        }
                        shared.beat(tid, peer, ok);
                        let _ = done.send(round);
                    }
                });
                frames_tx
            })
            .collect();
        let mut round = 0u64;
        beat_every(&conf, &tid, &mut sealer, &shared, &stop, &log, |frame| {
            round += 1;
            let frame: Arc<[u8]> = frame.into();
            let posted = senders
                .iter()
                .filter(|s| s.send((round, frame.clone())).is_ok())
                .count();
            // Every send ends within its budget; wait for them, as the
            // beat's pace was always set after its sends. A sender late
            // past twice that is not waited for longer.
            let until = std::time::Instant::now() + budget * 2;
            let mut ended = 0;
            while ended < posted {
                let left = until.saturating_duration_since(std::time::Instant::now());
                match done_rx.recv_timeout(left) {
                    Ok(r) if r == round => ended += 1,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        // The senders end with their channels.
        drop(senders);
    });
}

/// How long a sender keeps a peer's address before it resolves the name
/// again; a failed send forgets it at once.
const RESOLVE_EVERY: Duration = Duration::from_secs(30);

/// A peer's address as a sender last resolved it. Resolving the name for
/// every beat (a read of /etc/hosts and more, each time) was 4 % of an
/// idle daemon's CPU at sixteen nodes.
#[derive(Default)]
struct Resolved {
    last: Option<(SocketAddr, Instant)>,
}

impl Resolved {
    fn addr(&mut self, peer: &str, port: u16) -> Option<SocketAddr> {
        match self.last {
            Some((a, at)) if at.elapsed() < RESOLVE_EVERY => Some(a),
            _ => {
                let a = resolve(peer, port)?;
                self.last = Some((a, Instant::now()));
                Some(a)
            }
        }
    }

    fn forget(&mut self) {
        self.last = None;
    }
}

/// One beat to `to`, on a connection of its own, within `budget`.
fn send_to(to: SocketAddr, budget: Duration, frame: &[u8]) -> bool {
    TcpStream::connect_timeout(&to, budget).is_ok_and(|mut s| {
        let _ = s.set_write_timeout(Some(budget));
        wire::write_frame(&mut s, frame).is_ok() && s.flush().is_ok()
    })
}

/// At most this many connections at once from one source address: a peer
/// sends each beat on a connection of its own, done in milliseconds.
pub(crate) const PER_SOURCE: usize = 2;
/// At most this many at once in all, so that a flood costs bounded threads.
pub(crate) const MAX_CONNS: usize = 64;

/// The whole-frame deadline of a unicast beat: one that takes longer to
/// arrive is too late to matter, and a trickling client must not hold a
/// reader longer.
pub(crate) fn frame_deadline(conf: &HbConf) -> Duration {
    (conf.timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(2))
}

/// Where a unicast rx listens: `[hb#N] addr` (one local address), or every
/// address.
pub(crate) fn listen_on(conf: &HbConf) -> String {
    let host = conf.addr.as_deref().unwrap_or("0.0.0.0");
    if host.contains(':') {
        format!("[{host}]:{}", conf.port)
    } else {
        format!("{host}:{}", conf.port)
    }
}

/// Readers kept while the rx runs: a beat is read in a millisecond, and a
/// thread started for each connection cost more CPU than the reads.
pub(crate) const READERS: usize = 2;

/// `hb#N.rx`: accepts heartbeats until `stop`. Each connection is read
/// within [`frame_deadline`] by one of [`READERS`] kept readers, or, when
/// they are all busy, by a thread of its own: so one slow or silent
/// client (or a few per source, up to [`MAX_CONNS`]) cannot delay the
/// peers' beats.
pub(crate) fn rx(
    conf: HbConf,
    opener: Opener,
    fetcher: Arc<Fetcher>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    log: Logger,
) {
    let tid = format!("{}.rx", conf.id);
    let at = listen_on(&conf);
    let host = conf.addr.as_deref().unwrap_or("0.0.0.0");
    let listener = match TcpListener::bind((host, conf.port)) {
        Ok(l) => l,
        Err(e) => {
            log.error(format!(
                "{tid}: cannot listen on {at}: {e} (check [{}] addr and port in node.conf)",
                conf.id
            ));
            shared.set_thread(&tid, ThreadState::Stopped, &at);
            return;
        }
    };
    // Non-blocking accept after a bounded wait (`wait_acceptable`), so
    // that a stop or a reload is noticed.
    let _ = listener.set_nonblocking(true);
    let state = Mutex::new(RxState::new(opener, fetcher, &conf));
    let conns = Conns::new(PER_SOURCE, MAX_CONNS);
    let within = frame_deadline(&conf);
    // One connection read and delivered; its slot freed after.
    let read_one = |s: TcpStream, from: std::net::SocketAddr, slot: crate::daemon::conns::Slot| {
        let _slot = slot;
        let _ = s.set_nonblocking(false);
        let frame = wire::read_frame(&mut Deadline::new(&s, within));
        drop(s);
        let Ok(mut st) = state.lock() else { return };
        // open() counts its own refusals; a bad stream is counted here.
        let result = match frame {
            Ok(frame) => st.opener.open(&frame),
            Err(e) => {
                st.opener.stats.record(&e);
                Err(e)
            }
        };
        st.deliver(&tid, from.ip(), result, &shared, &log);
    };
    // The kept readers, each fed by a channel of its own and marked busy
    // from the hand-over to the end of its read, so that one handed over
    // is read at once. Sharing one channel behind a lock woke both at
    // each connection: the one that took it, and the other, then waiting
    // for the lock.
    let busy: [AtomicBool; READERS] = std::array::from_fn(|_| AtomicBool::new(false));
    std::thread::scope(|sc| {
        let mut feeds = Vec::with_capacity(READERS);
        for me in &busy {
            let (feed, conns_rx) =
                mpsc::channel::<(TcpStream, SocketAddr, crate::daemon::conns::Slot<'_>)>();
            feeds.push(feed);
            let read_one = &read_one;
            sc.spawn(move || {
                while let Ok((s, from, slot)) = conns_rx.recv() {
                    read_one(s, from, slot);
                    me.store(false, Ordering::Relaxed);
                }
            });
        }
        while !stop.load(Ordering::Relaxed) && !shared.stopping() {
            match listener.accept() {
                Ok((s, from)) => {
                    let Some(slot) = conns.take(from.ip()) else {
                        // Counted like a refused frame: a source that holds
                        // sockets open must show in svcmon.
                        if let Ok(mut st) = state.lock() {
                            let c = &mut st.opener.stats.crowded;
                            *c = c.saturating_add(1);
                            shared.set_rejections(&tid, st.opener.stats.total());
                            st.refused(
                                &tid,
                                from.ip(),
                                &"too many connections at once: closed",
                                &log,
                            );
                        }
                        continue;
                    };
                    // Only this loop marks a reader busy: one found idle
                    // here stays idle until handed this connection.
                    let idle = busy.iter().position(|b| !b.load(Ordering::Relaxed));
                    let handed = match idle {
                        Some(i) => {
                            busy[i].store(true, Ordering::Relaxed);
                            feeds[i]
                                .send((s, from, slot))
                                .map_err(|mpsc::SendError(c)| {
                                    busy[i].store(false, Ordering::Relaxed);
                                    c
                                })
                        }
                        None => Err((s, from, slot)),
                    };
                    if let Err((s, from, slot)) = handed {
                        let read_one = &read_one;
                        sc.spawn(move || read_one(s, from, slot));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    crate::daemon::deadline::wait_acceptable(&listener);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        // The kept readers end with their channels.
        drop(feeds);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::hb::{DEFAULT_INTERVAL, DEFAULT_TIMEOUT, HbMedium};

    fn unicast(addr: Option<&str>, timeout: Duration) -> HbConf {
        HbConf {
            id: "hb#1".into(),
            medium: HbMedium::Unicast,
            port: 10000,
            dev: None,
            addr: addr.map(String::from),
            intf: None,
            interval: DEFAULT_INTERVAL,
            timeout,
        }
    }

    #[test]
    fn the_rx_listens_where_told_within_a_deadline_that_fits_the_timeout() {
        assert_eq!(listen_on(&unicast(None, DEFAULT_TIMEOUT)), "0.0.0.0:10000");
        assert_eq!(
            listen_on(&unicast(Some("10.0.0.1"), DEFAULT_TIMEOUT)),
            "10.0.0.1:10000"
        );
        assert_eq!(
            listen_on(&unicast(Some("fd00::1"), DEFAULT_TIMEOUT)),
            "[fd00::1]:10000"
        );
        let d = |t: f64| frame_deadline(&unicast(None, Duration::from_secs_f64(t)));
        assert_eq!(d(3.0), Duration::from_millis(1500));
        assert_eq!(d(0.8), Duration::from_millis(400));
        assert_eq!(d(0.1), Duration::from_millis(100));
        assert_eq!(d(60.0), Duration::from_secs(2));
    }
}

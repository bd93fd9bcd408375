//! The multicast heartbeat (docs/behaviour.md, "Heartbeats"): every interval, one
//! datagram carrying this node's sealed compact beat (dataset.rs: its size
//! does not grow with the services, whose part the peers fetch over the
//! listener on change) goes to a group that every
//! peer on the segment has joined, so a beat costs one send whatever the
//! number of nodes. `intf` pins both the sending and the joining interface
//! (a host has several networks; the heartbeat must use the one meant for it).

use crate::daemon::state::ThreadState;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrIn, bind, setsockopt, socket, sockopt,
};

use crate::daemon::hb::{self, HbConf, fetch::Fetcher};
use crate::daemon::state::Shared;
use crate::daemon::wire::{Opener, Sealer};
use crate::log::Logger;

pub(crate) const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 3, 29, 71);
/// 1.9's TTL: enough to cross the routers of a stretched cluster.
const TTL: u32 = 32;
/// The largest UDP payload over IPv4: 65,535 less the IP and UDP headers.
pub(crate) const MAX_DATAGRAM: usize = 65_507;
/// Receive buffer: anything longer than a datagram can be is impossible.
const RX_BUF: usize = 65_535;
/// How long a receive waits, so that a stop or a reload is noticed quickly.
const POLL: Duration = Duration::from_millis(100);

/// The group and port to send to and listen on; a group that is not an
/// IPv4 multicast address is a configuration error naming the key.
pub(crate) fn group(conf: &HbConf) -> Result<SocketAddrV4, String> {
    let addr = match conf.addr.as_deref() {
        None => DEFAULT_GROUP,
        Some(a) => a
            .parse::<Ipv4Addr>()
            .ok()
            .filter(Ipv4Addr::is_multicast)
            .ok_or_else(|| format!("{}.addr: {a} is not a multicast address", conf.id))?,
    };
    Ok(SocketAddrV4::new(addr, conf.port))
}

/// A frame must fit one datagram: there is no fragmenting protocol above
/// UDP here, and a truncated frame would only be refused by every peer.
/// A compact beat is a few hundred bytes whatever the number of services;
/// only node-level fields (a great many arbitrators) could grow it.
pub(crate) fn check_size(len: usize) -> Result<(), String> {
    if len > MAX_DATAGRAM {
        return Err(format!(
            "the sealed heartbeat is {len} bytes, more than the {MAX_DATAGRAM} a UDP \
             datagram holds: use a unicast or disk heartbeat"
        ));
    }
    Ok(())
}

/// The interface index of `intf`, 0 (any) when unset.
fn ifindex(intf: Option<&str>) -> Result<u32, String> {
    match intf {
        None => Ok(0),
        Some(name) => {
            nix::net::if_::if_nametoindex(name).map_err(|e| format!("interface {name}: {e}"))
        }
    }
}

/// IP_MULTICAST_IF or IP_ADD_MEMBERSHIP by interface index (`ip_mreqn`):
/// neither std nor nix sets them by index, and an index names the interface
/// the user wrote even when it has several addresses or none yet.
fn set_mreqn(sock: &UdpSocket, opt: libc::c_int, group: Ipv4Addr, index: u32) -> io::Result<()> {
    let mreq = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from(group).to_be(),
        },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: libc::c_int::try_from(index).map_err(io::Error::other)?,
    };
    // SAFETY: the fd is open for the borrow of `sock`; the pointer and the
    // length describe `mreq`, a plain C struct alive across the call, and
    // the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            opt,
            std::ptr::from_ref(&mreq).cast::<libc::c_void>(),
            std::mem::size_of::<libc::ip_mreqn>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn tx_socket(group: Ipv4Addr, intf: Option<&str>) -> Result<UdpSocket, String> {
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(|e| e.to_string())?;
    sock.set_multicast_ttl_v4(TTL).map_err(|e| e.to_string())?;
    // Our own datagrams come back to our rx, which drops them by node name.
    sock.set_multicast_loop_v4(true)
        .map_err(|e| e.to_string())?;
    let index = ifindex(intf)?;
    if index != 0 {
        set_mreqn(&sock, libc::IP_MULTICAST_IF, group, index)
            .map_err(|e| format!("cannot send through {}: {e}", intf.unwrap_or("")))?;
    }
    Ok(sock)
}

/// Bound to the group (only its datagrams arrive, not unicast ones to the
/// port) with SO_REUSEADDR, so that a restart rebinds at once.
fn rx_socket(group: SocketAddrV4, intf: Option<&str>) -> Result<UdpSocket, String> {
    let fd = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| e.to_string())?;
    setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(|e| e.to_string())?;
    bind(fd.as_raw_fd(), &SockaddrIn::from(group)).map_err(|e| format!("bind {group}: {e}"))?;
    let sock = UdpSocket::from(fd);
    let index = ifindex(intf)?;
    set_mreqn(&sock, libc::IP_ADD_MEMBERSHIP, *group.ip(), index).map_err(|e| {
        format!(
            "cannot join {} on {}: {e}",
            group.ip(),
            intf.unwrap_or("any")
        )
    })?;
    sock.set_read_timeout(Some(POLL))
        .map_err(|e| e.to_string())?;
    Ok(sock)
}

/// A failure that repeats every interval is logged once, and again only
/// after a success: a cluster that outgrew the datagram, or a link that is
/// down, would otherwise write the same line every second.
#[derive(Default)]
struct Once(bool);

impl Once {
    /// True the first time since the last success.
    fn first(&mut self) -> bool {
        !std::mem::replace(&mut self.0, true)
    }
}

/// `hb#N.tx`: one datagram to the group every interval. A peer is beating
/// on tx when the last send worked (a datagram has no acknowledgement).
pub(crate) fn tx(
    conf: HbConf,
    group: SocketAddrV4,
    peers: Vec<String>,
    mut sealer: Sealer,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    log: Logger,
) {
    let tid = format!("{}.tx", conf.id);
    let sock = match tx_socket(*group.ip(), conf.intf.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            log.error(format!("{tid}: {e}"));
            shared.set_thread(&tid, ThreadState::Stopped, &group.to_string());
            return;
        }
    };
    let (mut too_big, mut send_failing) = (Once::default(), Once::default());
    hb::beat_every(&conf, &tid, &mut sealer, &shared, &stop, &log, |frame| {
        let sent = check_size(frame.len()).and_then(|()| {
            sock.send_to(frame, group)
                .map(|_| ())
                .map_err(|e| format!("cannot send to {group}: {e}"))
        });
        match &sent {
            Err(e) if frame.len() > MAX_DATAGRAM => {
                if too_big.first() {
                    log.error(format!("{tid}: {e}"));
                }
            }
            Err(e) => {
                if send_failing.first() {
                    log.warn(format!("{tid}: {e}"));
                }
            }
            Ok(()) => (too_big, send_failing) = (Once::default(), Once::default()),
        }
        for peer in &peers {
            shared.beat(&tid, peer, sent.is_ok());
        }
    });
}

/// `hb#N.rx`: receives the group's datagrams until `stop`.
pub(crate) fn rx(
    conf: HbConf,
    group: SocketAddrV4,
    opener: Opener,
    fetcher: Arc<Fetcher>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    log: Logger,
) {
    let tid = format!("{}.rx", conf.id);
    let sock = match rx_socket(group, conf.intf.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            log.error(format!("{tid}: {e}"));
            shared.set_thread(&tid, ThreadState::Stopped, &group.to_string());
            return;
        }
    };
    let mut rx = hb::RxState::new(opener, fetcher, &conf);
    let mut buf = vec![0u8; RX_BUF];
    while !stop.load(Ordering::Relaxed) && !shared.stopping() {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                let result = rx.opener.open(&buf[..n]);
                rx.deliver(&tid, from.ip(), result, &shared, &log);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                log.warn(format!("{tid}: {e}"));
                std::thread::sleep(POLL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::hb::{DEFAULT_INTERVAL, DEFAULT_PORT, DEFAULT_TIMEOUT, HbMedium};

    fn conf(addr: Option<&str>, port: u16) -> HbConf {
        HbConf {
            id: "hb#2".into(),
            medium: HbMedium::Multicast,
            port,
            dev: None,
            addr: addr.map(str::to_string),
            intf: None,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    #[test]
    fn the_group_defaults_to_1_9s_and_must_be_multicast() {
        assert_eq!(
            group(&conf(None, DEFAULT_PORT)).map(|g| g.to_string()),
            Ok("224.3.29.71:10000".to_string())
        );
        assert_eq!(
            group(&conf(Some("239.1.2.3"), 10001)).map(|g| g.to_string()),
            Ok("239.1.2.3:10001".to_string())
        );
        assert_eq!(
            group(&conf(Some("10.0.0.1"), DEFAULT_PORT)),
            Err("hb#2.addr: 10.0.0.1 is not a multicast address".to_string())
        );
        assert_eq!(
            group(&conf(Some("node2"), DEFAULT_PORT)),
            Err("hb#2.addr: node2 is not a multicast address".to_string())
        );
    }

    #[test]
    fn a_frame_larger_than_a_datagram_is_refused_with_the_way_out() {
        assert_eq!(check_size(MAX_DATAGRAM), Ok(()));
        let err = check_size(MAX_DATAGRAM + 1).unwrap_err();
        assert!(err.contains("65508 bytes"), "{err}");
        assert!(err.contains("use a unicast or disk heartbeat"), "{err}");
    }

    #[test]
    fn a_repeated_failure_is_logged_once_until_a_success() {
        let mut once = Once::default();
        assert_eq!(
            (once.first(), once.first(), once.first()),
            (true, false, false)
        );
        once = Once::default();
        assert!(once.first(), "after a success, the next failure is logged");
    }

    #[test]
    fn an_unknown_interface_is_named() {
        assert_eq!(ifindex(None), Ok(0));
        let err = ifindex(Some("nosuchif0")).unwrap_err();
        assert!(err.starts_with("interface nosuchif0: "), "{err}");
    }
}

//! What the chaos cluster is made of (lab/chaos-cluster.sh): its nodes,
//! its four services and the kernel objects each one owns when it runs
//! on a node. Plain data, read by the planner, the injector and the auditor.

use std::collections::BTreeMap;
use std::fmt;

/// `node1`, `node2`...: the lab's names.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub(crate) struct Node(pub u8);

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "node{}", self.0)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub(crate) enum Svc {
    /// The first tutorial's service: address, VG, two filesystems, web server.
    P26,
    /// An address only.
    Ip,
    /// A filesystem only.
    Fs,
    /// An address and a monitored web server from a local launcher dir.
    App,
}

pub(crate) const SERVICES: [Svc; 4] = [Svc::P26, Svc::Ip, Svc::Fs, Svc::App];

/// A web server a service runs: found by its pid file and command line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Web {
    /// Inside the node (p26's sits on its shared disk, appsvc's in /run).
    pub pidfile: &'static str,
    pub port: u16,
    /// What the client must read in the page.
    pub page: &'static str,
}

impl Svc {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Svc::P26 => "p26.opensvc.com",
            Svc::Ip => "ipsvc",
            Svc::Fs => "fssvc",
            Svc::App => "appsvc",
        }
    }

    /// Its service address (lab/lab.sh names .26 to .29 p26 to p29.opensvc.com).
    pub(crate) fn addr(self) -> Option<&'static str> {
        match self {
            Svc::P26 => Some("192.0.2.26"),
            Svc::Ip => Some("192.0.2.27"),
            Svc::Fs => None,
            Svc::App => Some("192.0.2.28"),
        }
    }

    /// (mount point, lab disk name) of each filesystem.
    pub(crate) fn mounts(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Svc::P26 => &[("/svc1/app", "app"), ("/svc1/data", "data")],
            Svc::Fs => &[("/fssvc", "fsdata")],
            Svc::Ip | Svc::App => &[],
        }
    }

    pub(crate) fn web(self) -> Option<Web> {
        match self {
            Svc::P26 => Some(Web {
                pidfile: "/svc1/app/webserver.pid",
                port: 8080,
                page: "It Works !",
            }),
            Svc::App => Some(Web {
                pidfile: "/run/appsvc-web.pid",
                port: 8081,
                page: "appsvc works",
            }),
            Svc::Ip | Svc::Fs => None,
        }
    }
}

impl fmt::Display for Svc {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The lab as the chaos suite uses it.
#[derive(Clone, Debug)]
pub(crate) struct Topology {
    pub lab: String,
    pub nodes: Vec<Node>,
    /// Lab disk name (`app`, `fsdata`...) -> its loop device.
    pub disks: BTreeMap<String, String>,
}

impl Topology {
    pub(crate) fn dev(&self, disk: &str) -> &str {
        self.disks.get(disk).map_or("?", String::as_str)
    }
}

pub(crate) const DISKS: [&str; 4] = ["app", "data", "fsdata", "rawhb"];

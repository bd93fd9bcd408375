//! The agent daemon (`nodemgr daemon start`): its threads (listener,
//! monitor, scheduler), its shared state and the local socket the CLI uses;
//! and what peers will speak: the cluster secret and the authenticated,
//! encrypted frame format (wire.rs).

pub(crate) mod blacklist;
pub(crate) mod conf_stamp;
pub(crate) mod conns;
pub(crate) mod deadline;
pub(crate) mod file_watch;
pub(crate) mod hb;
pub(crate) mod inbox;
pub(crate) mod json_text;
pub(crate) mod local_services;
pub(crate) mod local_socket;
pub(crate) mod monitor;
pub(crate) mod node_conf;
pub(crate) mod orchestration;
pub(crate) mod peer;
pub(crate) mod peer_listener;
pub(crate) mod peer_services;
pub(crate) mod probers;
pub(crate) mod replicate;
pub(crate) mod run;
pub(crate) mod scheduler;
pub(crate) mod secret;
pub(crate) mod state;
pub(crate) mod status_memory;
pub(crate) mod status_text;
pub(crate) mod wakeup;
pub(crate) mod watchdog;
pub(crate) mod watchdogd;
pub mod wire;

//! svcmgr: a service manager for high-availability clusters, compatible with
//! the OpenSVC agent's configuration files, commands and output.
//!
//! Two wings share the layers below them (docs/architecture.md): the
//! service wing runs one action and exits (cli → action → service → driver
//! → exec; status → render), the daemon wing runs for good (heartbeats,
//! listener, monitor, orchestration) and acts on services by running the
//! service wing's actions. A module uses only its layer and those below;
//! tests/integration/architecture.rs checks it, and that no files import
//! each other round a circle.

pub mod action;
pub mod cli;
pub mod client;
pub mod collector;
pub mod config;
pub mod daemon;
pub mod driver;
pub mod exec;
pub mod fsutil;
pub mod fuzzing;
pub mod lock;
pub mod log;
pub mod node;
pub mod order;
pub mod paths;
pub mod placement;
pub mod remote;
pub mod render;
pub mod safepath;
pub mod service;
pub mod status;

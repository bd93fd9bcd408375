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

pub(crate) mod action;
// The binary's entry point (src/main.rs).
pub mod cli;
pub(crate) mod client;
pub(crate) mod collector;
pub(crate) mod config;
// Public for its frame format only (daemon/wire.rs): the tests forge
// and replay frames against a running daemon.
pub mod daemon;
pub(crate) mod driver;
pub(crate) mod exec;
pub(crate) mod fsutil;
// The fuzz targets' entry points (fuzz/).
pub mod fuzzing;
pub(crate) mod lock;
pub(crate) mod log;
pub(crate) mod node;
pub(crate) mod order;
pub(crate) mod paths;
pub(crate) mod placement;
pub(crate) mod remote;
pub(crate) mod render;
pub(crate) mod safepath;
pub(crate) mod service;
pub(crate) mod status;

//! svcmgr: a service manager for high-availability clusters, compatible with
//! the OpenSVC agent's configuration files, commands and output.
//!
//! Data flows one way (docs/contracts.md, "Architecture: data flows one
//! way"): cli → config → service → action → drivers → exec; status → render.

pub mod action;
pub mod cli;
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
pub mod paths;
pub mod placement;
pub mod remote;
pub mod render;
pub mod safepath;
pub mod service;
pub mod status;

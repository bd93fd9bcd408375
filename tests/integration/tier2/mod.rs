//! Tier 2: the real `svcmgr` binary against the fake tools of
//! tests/fakes (the `World` of `crate::common`), as any user.

mod actions;
mod bad_input;
mod cli;
mod cli_actions;
mod daemon;
mod edit_config;
mod examples;
mod fuzz_corpus;
mod node_config;
mod sync;
mod systemd;

//! Tier 4: real kernel objects (namespaces, veths, loop devices, LVM) in
//! the lab of lab/lab.sh, through `crate::lab`. Root only: every test
//! starts with `lab_test!()`, which skips it loudly otherwise.

mod system;
mod system_daemon;
mod system_disk_hb;
mod system_failover;
mod system_mcast;
mod system_quorum;
mod system_replicate;
mod system_restart;
mod system_sync;
mod system_takeover;
mod system_tutorial2;

//! Pure functions from `ServiceStatus` to text: the `print status` tree and
//! `json status`. No I/O here, so both are snapshot-tested.

pub mod json;
pub mod svcmon;
pub mod tree;

//! Pure functions from `ServiceStatus` to text: the `print status` tree and
//! `json status`. No I/O here, so both are snapshot-tested.

pub(crate) mod json;
pub(crate) mod svcmon;
pub(crate) mod tree;

//! (to be written)
use std::path::Path;
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct EditError;
pub fn get(_f: &Path, _p: &str) -> Result<Option<String>, EditError> {
    todo!()
}
pub fn set(_f: &Path, _p: &str, _v: &str) -> Result<(), EditError> {
    todo!()
}
pub fn unset(_f: &Path, _p: &str) -> Result<(), EditError> {
    todo!()
}
pub fn set_disable(_f: &Path, _r: &[String], _d: bool) -> Result<(), EditError> {
    todo!()
}

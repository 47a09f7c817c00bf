//! torch.save files. (being written)
use super::StateDict;
use crate::{Error, Result};
pub fn is_zip(b: &[u8]) -> bool { b.starts_with(b"PK\x03\x04") }
pub fn is_legacy(b: &[u8]) -> bool { b.starts_with(&[0x80, 0x02, 0x8a, 0x0a]) }
pub fn read_zip(_b: &[u8]) -> Result<StateDict> { Err(Error::Corrupt("todo".into())) }
pub fn read_legacy(_b: &[u8]) -> Result<StateDict> { Err(Error::Corrupt("todo".into())) }

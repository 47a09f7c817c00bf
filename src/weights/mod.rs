//! Weights files: safetensors and torch.save's `.pth` (zip and legacy), validated, then
//! BatchNorm-folded into a `Network`.

mod fold;
pub mod names;
mod pickle;
mod pth;
pub mod random;
mod safetensors_file;
mod state_dict;
mod validate;

pub use fold::{network as fold_network, BN_EPS};
pub use safetensors_file::write as write_safetensors;
pub use state_dict::{DType, RawTensor, StateDict};
pub use validate::{check, infer_arch};

use crate::model::{Arch, Network};
use crate::{Error, Result};

/// Largest weights file accepted: x2.0 in F32 is about 30 MB.
pub const MAX_FILE_BYTES: usize = 512 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Safetensors,
    /// `torch.save` since PyTorch 1.6: a zip with `data.pkl` and one entry per storage.
    TorchZip,
    /// `torch.save(..., _use_new_zipfile_serialization=False)`, and older files.
    TorchLegacy,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::TorchZip => "torch zip (.pth)",
            Format::TorchLegacy => "torch legacy (.pth)",
        }
    }
}

/// What a weights file holds.
#[derive(Clone, Debug)]
pub struct Info {
    pub arch: Arch,
    pub format: Format,
    pub dtype: DType,
    /// Learnable parameters, as `sum(p.numel() for p in model.parameters())` counts them.
    pub params: usize,
    pub file_bytes: usize,
}

/// A validated, folded network and what its file held.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub network: Network,
    pub info: Info,
    pub state_dict: StateDict,
}

/// Names what the bytes look like when they are not weights, for the error message.
fn describe_foreign(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(64)];
    let text = String::from_utf8_lossy(head)
        .trim_start()
        .to_ascii_lowercase();
    if bytes.is_empty() {
        "the file is empty".into()
    } else if text.starts_with("<!doctype html")
        || text.starts_with("<html")
        || text.starts_with('<')
    {
        "it is an HTML/XML page (a 404 or login page from the server?)".into()
    } else if text.starts_with('{') || text.starts_with('[') {
        "it is JSON text".into()
    } else if head.starts_with(&[0x89, b'P', b'N', b'G']) || head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "it is an image".into()
    } else {
        format!(
            "unrecognised first bytes {:02x?}; expected safetensors or a torch .pth",
            &head[..head.len().min(8)]
        )
    }
}

/// Reads any supported format into a state_dict.
pub fn read_state_dict(bytes: &[u8]) -> Result<(StateDict, Format)> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Error::NotWeights(format!(
            "{} bytes is larger than any ShuffleNetV2 weights file (limit {MAX_FILE_BYTES})",
            bytes.len()
        )));
    }
    if pth::is_zip(bytes) {
        Ok((pth::read_zip(bytes)?, Format::TorchZip))
    } else if pth::is_legacy(bytes) {
        Ok((pth::read_legacy(bytes)?, Format::TorchLegacy))
    } else if safetensors_file::sniff(bytes) {
        Ok((safetensors_file::read(bytes)?, Format::Safetensors))
    } else {
        Err(Error::NotWeights(describe_foreign(bytes)))
    }
}

/// Reads, infers the architecture, validates and folds.
pub fn load(bytes: &[u8]) -> Result<Loaded> {
    let (sd, format) = read_state_dict(bytes)?;
    let arch = infer_arch(&sd)?;
    check(&sd, &arch)?;
    let params = names::expected(&arch)
        .iter()
        .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
        .map(|(_, s)| s.iter().product::<usize>())
        .sum();
    Ok(Loaded {
        network: fold_network(&sd, &arch),
        info: Info {
            arch,
            format,
            dtype: sd.dtype.unwrap_or(DType::F32),
            params,
            file_bytes: bytes.len(),
        },
        state_dict: sd,
    })
}

/// A folded network with seeded random weights (tests and the offline stand-in).
pub fn random_network(arch: &Arch, seed: u64) -> Network {
    fold_network(&random::state_dict(arch, seed), arch)
}

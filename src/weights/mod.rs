//! Weights files: safetensors and torch.save's `.pth` (zip and legacy), validated, then
//! BatchNorm-folded into a `Network`.

mod budget;
mod family;
mod fold;
mod index;
pub mod names;
mod pickle;
mod pth;
pub mod random;
mod safetensors_file;
mod state_dict;
mod tutorial;
mod validate;

pub use crate::teach::Unknown;
use budget::Budget;
pub use family::{expected, fold_network};
pub use fold::BN_EPS;
pub use safetensors_file::write as write_safetensors;
pub use state_dict::{DType, RawTensor, StateDict, TensorShapes};
pub use validate::{check, check_layout, check_values, infer_arch, MAX_STAGE_UNITS};

use std::sync::Arc;

use crate::classes::ClassNames;
use crate::model::{Arch, Linear, Network};
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
    /// The file's class names (checked against the head), else the defaults for its size.
    /// Shared: every classified frame holds on to the names of the model it ran on.
    pub class_names: Arc<ClassNames>,
    /// A taught head's "none of these" (teach::Unknown), when the file carries one.
    pub unknown: Option<Arc<Unknown>>,
}

/// A validated, folded network and what its file held.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub network: Network,
    pub info: Info,
    pub state_dict: StateDict,
}

/// Says in plain words what the bytes are when they are not weights, with the first bytes
/// as the evidence.
fn describe_foreign(bytes: &[u8]) -> Error {
    let head = &bytes[..bytes.len().min(64)];
    let text = String::from_utf8_lossy(head)
        .trim_start()
        .to_ascii_lowercase();
    let what = if bytes.is_empty() {
        "the file is empty"
    } else if text.starts_with("<!doctype html") || text.starts_with('<') {
        "this is a web page (HTML), not PyTorch weights: a 404 or login page from the server?"
    } else if text.starts_with('{') || text.starts_with('[') {
        "this is a JSON text file, not PyTorch weights"
    } else if head.starts_with(&[0x89, b'P', b'N', b'G']) || head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "this is a picture, not PyTorch weights (drop pictures to classify them)"
    } else if std::str::from_utf8(head).is_ok_and(|t| !t.contains('\0')) {
        "this is a text file, not PyTorch weights"
    } else {
        "this is not a weights file: it is neither safetensors nor a PyTorch .pth"
    };
    Error::Foreign {
        what: what.into(),
        detail: format!("first bytes: {:02x?}", &head[..head.len().min(8)]),
    }
}

/// The format the first bytes announce (16 are enough), or why they are not weights. Lets a
/// reader refuse a foreign stream before reading the rest of it.
pub fn sniff(head: &[u8]) -> Result<Format> {
    if pth::is_zip(head) {
        Ok(Format::TorchZip)
    } else if pth::is_legacy(head) {
        Ok(Format::TorchLegacy)
    } else if safetensors_file::sniff(head) {
        Ok(Format::Safetensors)
    } else {
        Err(describe_foreign(head))
    }
}

/// The file's tensors, undecoded, after the size cap and format sniffing.
fn read_index<'a>(bytes: &'a [u8], budget: &mut Budget) -> Result<(index::Index<'a>, Format)> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Error::NotWeights(format!(
            "{} bytes is larger than any ShuffleNetV2 weights file (limit {MAX_FILE_BYTES})",
            bytes.len()
        )));
    }
    let format = sniff(bytes)?;
    let index = match format {
        Format::TorchZip => pth::read_zip(bytes, budget)?,
        Format::TorchLegacy => pth::read_legacy(bytes, budget)?,
        Format::Safetensors => safetensors_file::read(bytes)?,
    };
    Ok((index, format))
}

/// Reads any supported format into a state_dict, within the file's budget (names and
/// shapes are not checked: see `load`).
pub fn read_state_dict(bytes: &[u8]) -> Result<(StateDict, Format)> {
    let mut budget = Budget::for_file(bytes.len());
    let (index, format) = read_index(bytes, &mut budget)?;
    Ok((index.decode(&mut budget)?, format))
}

/// Puts `head` in `sd` under the classifier's own names: torchvision's `fc.*`, or
/// `linear.*` for the tutorial's network, as `[classes, features]` and `[classes]`.
pub fn replace_head(sd: &mut StateDict, head: &Linear) {
    let prefix = if sd.tensors.contains_key("linear.weight") {
        "linear"
    } else {
        "fc"
    };
    let tensor = |shape: Vec<usize>, data: &[f32]| RawTensor {
        shape,
        data: data.to_vec(),
    };
    sd.tensors.insert(
        format!("{prefix}.weight"),
        tensor(vec![head.out_f, head.in_f], &head.weight),
    );
    sd.tensors.insert(
        format!("{prefix}.bias"),
        tensor(vec![head.out_f], &head.bias),
    );
}

/// The weights file `source` with its classifier replaced by `head`, as F32 (or F16 when
/// `f16`) safetensors with `names` in the metadata: what PyTorch loads into the same
/// architecture built with `num_classes = head.out_f`.
pub fn export_with_head(
    source: &[u8],
    head: &Linear,
    names: &ClassNames,
    unknown: Option<&Unknown>,
    f16: bool,
) -> Result<Vec<u8>> {
    names.check_count(head.out_f)?;
    let (mut sd, _) = read_state_dict(source)?;
    replace_head(&mut sd, head);
    write_safetensors(&sd, f16, Some(names), unknown)
}

/// Reads, infers the architecture, checks names and shapes on the header, then decodes
/// (within the file's budget), checks values and folds.
pub fn load(bytes: &[u8]) -> Result<Loaded> {
    let mut budget = Budget::for_file(bytes.len());
    let (mut index, format) = read_index(bytes, &mut budget)?;
    let arch = infer_arch(&index)?;
    let class_names = match index.class_names.take() {
        Some(names) => {
            names.check_count(arch.num_classes)?;
            names
        }
        None => ClassNames::default_for(arch.num_classes),
    };
    let unknown = Unknown::from_metadata(
        &index.metadata,
        arch.stages_out_channels[4],
        arch.num_classes,
    )?;
    let expected = names::Expected::new(family::expected(&arch));
    check_layout(&index, &expected)?;
    let sd = index.decode(&mut budget)?;
    check_values(&sd)?;
    // Decoding fit the budget, so these sums cannot overflow.
    let params = expected
        .order
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
            class_names: Arc::new(class_names),
            unknown: unknown.map(Arc::new),
        },
        state_dict: sd,
    })
}

/// A folded network with seeded random weights (tests and the offline stand-in).
pub fn random_network(arch: &Arch, seed: u64) -> Network {
    fold_network(&random::state_dict(arch, seed), arch)
}

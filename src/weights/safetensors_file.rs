//! safetensors files, as `safetensors.torch.save_file(model.state_dict())` writes them.

use super::index::Index;
use super::{DType, StateDict};
use crate::classes::ClassNames;
use crate::teach::Unknown;
use crate::{Error, Result};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

/// True when the bytes start like a safetensors file: a little-endian header length
/// followed by a JSON object.
pub fn sniff(bytes: &[u8]) -> bool {
    bytes.len() >= 9 && bytes[8] == b'{'
}

/// Where a file that ends early should have ended, from its own header: the header's
/// length, then the largest data offset the header lists.
fn check_length(bytes: &[u8]) -> Result<()> {
    let Some(len) = bytes.get(..8) else {
        return Ok(());
    };
    let header_len = u64::from_le_bytes(len.try_into().unwrap_or_default());
    let header_end = 8u64.saturating_add(header_len);
    let short = |needs: u64, detail: &str| Error::Truncated {
        at: bytes.len(),
        needs: usize::try_from(needs).unwrap_or(usize::MAX),
        detail: format!("safetensors: {detail}"),
    };
    // A length no weights file could have is damage, not a cut: the parser says so.
    if header_end > super::MAX_FILE_BYTES as u64 {
        return Ok(());
    }
    if header_end > bytes.len() as u64 {
        return Err(short(header_end, "the header is incomplete"));
    }
    // A header that does not parse is the parser's to describe, below.
    let Ok(header) = serde_json::from_slice::<serde_json::Value>(&bytes[8..header_end as usize])
    else {
        return Ok(());
    };
    let data_end = header
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(|t| t.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0);
    let needs = header_end.saturating_add(data_end);
    if needs > bytes.len() as u64 {
        return Err(short(needs, "the tensors' data ends early"));
    }
    Ok(())
}

/// The header's tensors, their bytes borrowed from the file (nothing decoded yet).
pub fn read(bytes: &[u8]) -> Result<Index<'_>> {
    check_length(bytes)?;
    let st =
        SafeTensors::deserialize(bytes).map_err(|e| Error::Corrupt(format!("safetensors: {e}")))?;
    let mut index = Index::default();
    let (_, metadata) = SafeTensors::read_metadata(bytes)
        .map_err(|e| Error::Corrupt(format!("safetensors: {e}")))?;
    if let Some(m) = metadata.metadata() {
        index.class_names = ClassNames::from_metadata(m)?;
        index.metadata = m.clone();
    }
    for (name, view) in st.tensors() {
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::I64 | Dtype::I32 if name.ends_with("num_batches_tracked") => {
                index.ignored.push(name);
                continue;
            }
            other => {
                return Err(Error::Dtype {
                    name,
                    dtype: format!("{other:?}"),
                })
            }
        };
        index.insert(name, view.shape().to_vec(), dtype, view.data());
    }
    Ok(index)
}

/// Serializes a state_dict (F32, or F16 when `f16`), names sorted as the map holds them,
/// with the class names and a taught head's "none of these" in the metadata when given.
pub fn write(
    sd: &StateDict,
    f16: bool,
    names: Option<&ClassNames>,
    unknown: Option<&Unknown>,
) -> Result<Vec<u8>> {
    let bufs: Vec<(String, Vec<usize>, Vec<u8>)> = sd
        .tensors
        .iter()
        .map(|(name, t)| {
            let bytes = if f16 {
                t.data
                    .iter()
                    .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                    .collect()
            } else {
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect()
            };
            (name.clone(), t.shape.clone(), bytes)
        })
        .collect();
    let dtype = if f16 { Dtype::F16 } else { Dtype::F32 };
    let views = bufs
        .iter()
        .map(|(n, s, b)| {
            TensorView::new(dtype, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Io(format!("safetensors: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let entries: std::collections::HashMap<String, String> = names
        .map(ClassNames::to_metadata)
        .into_iter()
        .chain(unknown.map(Unknown::to_metadata))
        .collect();
    let metadata = (!entries.is_empty()).then_some(entries);
    safetensors::serialize(views, metadata).map_err(|e| Error::Io(format!("safetensors: {e}")))
}

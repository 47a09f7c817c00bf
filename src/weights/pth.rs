//! `torch.save(model.state_dict(), path)` files: the zip archive PyTorch writes since 1.6,
//! and the older "legacy" stream of pickles followed by raw storages.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use super::budget::Budget;
use super::index::{numel, Index};
use super::pickle::{self, Obj, Pickle, Value};
use super::DType;
use crate::{Error, Result};

/// The legacy format's first pickle is this magic number.
const LEGACY_MAGIC: u128 = 0x1950a86a20f9469cfc6c;
/// No state_dict pickle is anywhere near this large (x2.0's is about 60 kB). Both formats'
/// pickles are read with this cap.
const MAX_PICKLE_BYTES: usize = 16 << 20;

pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// PROTO 2, then LONG1 of 10 bytes: the magic number.
pub fn is_legacy(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x80, 0x02, 0x8a, 0x0a])
}

/// Element type and size of a storage class.
fn storage_dtype(class: &str) -> Option<(Option<DType>, usize)> {
    match class.rsplit('.').next()? {
        "FloatStorage" => Some((Some(DType::F32), 4)),
        "HalfStorage" => Some((Some(DType::F16), 2)),
        // Integer counters (`num_batches_tracked`): sized so they can be skipped.
        "LongStorage" => Some((None, 8)),
        "IntStorage" => Some((None, 4)),
        _ => None,
    }
}

/// The (name, tensor) pairs of the pickled state_dict. Accepts a bare state_dict or a
/// checkpoint dict holding one under `state_dict` or `model`.
fn entries(p: &Pickle) -> Result<Vec<(String, usize)>> {
    let not_sd = |what: &str| {
        Error::Layout(format!(
            "the .pth holds {what}, not a state_dict; save model.state_dict() instead"
        ))
    };
    let dict = |v: Value| match p.obj(v) {
        Some(Obj::Dict(d)) => Some(d),
        _ => None,
    };
    let mut items = dict(p.root).ok_or_else(|| match p.obj(p.root) {
        Some(Obj::Opaque(name)) => not_sd(&format!("a pickled {name}")),
        _ => not_sd("something else"),
    })?;
    for key in ["state_dict", "model"] {
        if let Some((_, v)) = items.iter().find(|(k, _)| p.str(*k) == Some(key)) {
            if let Some(inner) = dict(*v) {
                items = inner;
            }
        }
    }
    items
        .iter()
        .map(|(k, v)| {
            let name = p
                .str(*k)
                .ok_or_else(|| not_sd("a dict with non-string keys"))?;
            match *v {
                Value::Obj(i) if matches!(p.objs[i], Obj::Tensor { .. }) => {
                    Ok((name.to_string(), i))
                }
                _ => Err(not_sd(&format!(
                    "a dict whose entry {name} is not a tensor"
                ))),
            }
        })
        .collect()
}

/// Finds each tensor's bytes in its storage, checking every bound; nothing is copied, so a
/// storage shared by many keys costs its size once.
fn index<'a>(p: &Pickle, storages: &HashMap<String, &'a [u8]>) -> Result<Index<'a>> {
    let mut index = Index::default();
    for (name, idx) in entries(p)? {
        let Obj::Tensor {
            storage,
            offset,
            shape,
            stride,
        } = &p.objs[idx]
        else {
            unreachable!("entries() returns tensors only")
        };
        let Obj::Storage {
            class,
            key,
            numel: len,
        } = &p.objs[*storage]
        else {
            unreachable!("the pickle machine only builds tensors on storages")
        };
        let (dtype, size) = storage_dtype(class).ok_or_else(|| Error::Dtype {
            name: name.clone(),
            dtype: class.clone(),
        })?;
        let Some(dtype) = dtype else {
            if name.ends_with("num_batches_tracked") {
                index.ignored.push(name);
                continue;
            }
            return Err(Error::Dtype {
                name,
                dtype: class.clone(),
            });
        };
        let count = numel(&name, shape)?;
        if count > 1 {
            // Row-major strides. No dimension is 0, so each suffix product is at most
            // `count` and none overflows.
            let mut want = vec![1usize; shape.len()];
            for i in (0..shape.len() - 1).rev() {
                want[i] = want[i + 1] * shape[i + 1];
            }
            if *stride != want {
                return Err(Error::Corrupt(format!(
                    "{name}: non-contiguous strides {stride:?} are not supported"
                )));
            }
        }
        let bytes = storages
            .get(key)
            .ok_or_else(|| Error::Corrupt(format!("{name}: storage {key} is missing")))?;
        let declared = len
            .checked_mul(size)
            .ok_or_else(|| Error::Corrupt(format!("{name}: storage {key} size {len} overflows")))?;
        if bytes.len() < declared {
            return Err(Error::Corrupt(format!(
                "{name}: storage {key} has {} bytes, its header says {declared}",
                bytes.len()
            )));
        }
        let end = offset
            .checked_add(count)
            .filter(|e| e <= len)
            .ok_or_else(|| Error::Corrupt(format!("{name}: view runs past its storage")))?;
        // end <= len, so both products fit: len * size did.
        let raw = &bytes[offset * size..end * size];
        index.insert(name, shape.clone(), dtype, raw);
    }
    Ok(index)
}

fn zip_err(e: zip::result::ZipError) -> Error {
    Error::Corrupt(format!("zip: {e}"))
}

pub fn read_zip<'a>(bytes: &'a [u8], budget: &mut Budget) -> Result<Index<'a>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_err)?;
    let pkl_name = archive
        .file_names()
        .filter_map(|n| n.ok())
        .find(|n| n.ends_with("/data.pkl") || n == "data.pkl")
        .map(|n| n.into_owned())
        .ok_or_else(|| Error::Foreign {
            what: "this is a zip archive, not PyTorch weights".into(),
            detail: "no data.pkl inside: not a torch.save file".into(),
        })?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_string();
    // Read one byte past the cap, so the pickle machine can tell "too long" from "cut short".
    let entry = archive.by_name(&pkl_name).map_err(zip_err)?;
    let size = usize::try_from(entry.size()).unwrap_or(usize::MAX);
    budget.charge(size.min(MAX_PICKLE_BYTES + 1), "data.pkl")?;
    let mut pkl = Vec::new();
    entry
        .take(MAX_PICKLE_BYTES as u64 + 1)
        .read_to_end(&mut pkl)?;
    let p = pickle::load(&pkl, MAX_PICKLE_BYTES, budget)?;
    // Storages are stored uncompressed, so each entry is a slice of the file: no copies.
    let mut storages = HashMap::new();
    for i in 0..archive.len() {
        let f = archive.by_index_raw(i).map_err(zip_err)?;
        let name = f.name().map_err(zip_err)?.into_owned();
        let Some(key) = name.strip_prefix(&format!("{prefix}data/")) else {
            continue;
        };
        if f.compression() != zip::CompressionMethod::Stored {
            return Err(Error::Corrupt(format!(
                "storage {key} is compressed; torch.save stores storages uncompressed"
            )));
        }
        let start = usize::try_from(f.data_start().unwrap_or(u64::MAX)).unwrap_or(usize::MAX);
        let len = usize::try_from(f.compressed_size()).unwrap_or(usize::MAX);
        let slice = start
            .checked_add(len)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| {
                Error::Corrupt(format!("storage {key} runs past the end of the file"))
            })?;
        storages.insert(key.to_string(), slice);
    }
    index(&p, &storages)
}

pub fn read_legacy<'a>(bytes: &'a [u8], budget: &mut Budget) -> Result<Index<'a>> {
    let mut pos = 0;
    let mut next = |what: &str| -> Result<Pickle> {
        let p = pickle::load(&bytes[pos..], MAX_PICKLE_BYTES, budget).map_err(|e| match e {
            Error::Budget(m) => Error::Budget(format!("legacy .pth {what}: {m}")),
            e => Error::Corrupt(format!("legacy .pth {what}: {e}")),
        })?;
        pos += p.len;
        Ok(p)
    };
    let magic = next("magic number")?;
    let is_magic = match magic.obj(magic.root) {
        Some(Obj::Bytes(b)) if b.len() <= 16 => {
            let mut v = [0u8; 16];
            v[..b.len()].copy_from_slice(b);
            u128::from_le_bytes(v) == LEGACY_MAGIC
        }
        _ => false,
    };
    if !is_magic {
        return Err(Error::NotWeights(
            "a pickle, but not a torch.save file".into(),
        ));
    }
    next("protocol version")?;
    next("system info")?;
    let p = next("state_dict")?;
    let keys = next("storage keys")?;
    let key_list: Vec<String> = match keys.obj(keys.root) {
        Some(Obj::List(l)) => l
            .iter()
            .map(|k| keys.str(*k).map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| Error::Corrupt("legacy .pth: storage keys are not strings".into()))?,
        _ => return Err(Error::Corrupt("legacy .pth: no storage key list".into())),
    };
    // Each storage follows in key order: an 8-byte element count, then the raw elements.
    let sizes: HashMap<&str, usize> = p
        .objs
        .iter()
        .filter_map(|o| match o {
            Obj::Storage { class, key, .. } => {
                Some((key.as_str(), storage_dtype(class).map_or(4, |d| d.1)))
            }
            _ => None,
        })
        .collect();
    let mut storages = HashMap::new();
    for key in &key_list {
        let head = bytes.get(pos..pos.saturating_add(8)).ok_or_else(|| {
            Error::Corrupt(format!("legacy .pth: truncated before storage {key}"))
        })?;
        let numel = u64::from_le_bytes(head.try_into().expect("8 bytes"));
        let elem = *sizes
            .get(key.as_str())
            .ok_or_else(|| Error::Corrupt(format!("legacy .pth: storage {key} is never used")))?;
        let len = usize::try_from(numel)
            .ok()
            .and_then(|n| n.checked_mul(elem))
            .ok_or_else(|| Error::Corrupt(format!("legacy .pth: storage {key} size overflows")))?;
        let data = (pos + 8)
            .checked_add(len)
            .and_then(|end| bytes.get(pos + 8..end))
            .ok_or_else(|| Error::Corrupt(format!("legacy .pth: truncated in storage {key}")))?;
        storages.insert(key.clone(), data);
        pos += 8 + len;
    }
    index(&p, &storages)
}

//! A weights file's tensors as its header lays them out: names, shapes, element types and
//! where the raw bytes are, borrowed from the file. Names and shapes are validated on this,
//! before a single value is decoded or widened to f32.

use std::collections::BTreeMap;

use super::budget::Budget;
use super::{DType, StateDict, TensorShapes};
use crate::{Error, Result};

/// One float tensor, not yet decoded.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// Exactly `numel * dtype size` bytes, a slice of the file (a storage shared by several
    /// tensors is borrowed by each, never copied).
    pub bytes: &'a [u8],
}

#[derive(Clone, Debug, Default)]
pub struct Index<'a> {
    pub entries: BTreeMap<String, Entry<'a>>,
    /// Integer tensors the file holds (BatchNorm's `num_batches_tracked`), skipped.
    pub ignored: Vec<String>,
    /// Class names stored with the weights (safetensors metadata).
    pub class_names: Option<crate::classes::ClassNames>,
    /// The rest of the file's metadata (safetensors), e.g. a taught head's "none of these".
    pub metadata: std::collections::HashMap<String, String>,
}

/// Elements in a shape, or an error naming the tensor when the product overflows.
pub fn numel(name: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |a, d| a.checked_mul(*d))
        .ok_or_else(|| Error::Corrupt(format!("{name}: shape {shape:?} overflows")))
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 => 2,
        }
    }
}

impl<'a> Index<'a> {
    pub fn insert(&mut self, name: String, shape: Vec<usize>, dtype: DType, bytes: &'a [u8]) {
        self.entries.insert(
            name,
            Entry {
                shape,
                dtype,
                bytes,
            },
        );
    }

    /// Widens every tensor to f32, charging what it keeps to the budget first.
    pub fn decode(&self, budget: &mut Budget) -> Result<StateDict> {
        let mut sd = StateDict {
            ignored: self.ignored.clone(),
            ..StateDict::default()
        };
        for (name, e) in &self.entries {
            let n = e.bytes.len() / e.dtype.size();
            budget.charge_items(n, 4, &format!("decoding tensor {name}"))?;
            let data = match e.dtype {
                DType::F32 => e
                    .bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect(),
                DType::F16 => e
                    .bytes
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32())
                    .collect(),
            };
            sd.note_dtype(e.dtype);
            sd.insert(name.clone(), e.shape.clone(), data);
        }
        Ok(sd)
    }
}

impl TensorShapes for Index<'_> {
    fn shape(&self, name: &str) -> Option<&[usize]> {
        self.entries.get(name).map(|e| e.shape.as_slice())
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    fn ignored(&self) -> &[String] {
        &self.ignored
    }
}

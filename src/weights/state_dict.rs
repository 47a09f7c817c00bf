//! Named float tensors as read from a weights file, before validation and folding.

use std::collections::BTreeMap;

/// The element type the file stored (values are always widened to f32 in memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    F16,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Names and shapes of a state_dict's tensors, whether their values are decoded yet or not:
/// what the architecture is inferred from and the names are checked on.
pub trait TensorShapes {
    fn shape(&self, name: &str) -> Option<&[usize]>;
    fn names(&self) -> impl Iterator<Item = &str>;
    /// Integer tensors that were skipped.
    fn ignored(&self) -> &[String];

    /// Length of tensor `name`'s `axis`: an error if the file lacks it or it has fewer axes.
    fn dim(&self, name: &str, axis: usize) -> crate::Result<usize> {
        let shape = self
            .shape(name)
            .ok_or_else(|| crate::Error::Missing(name.to_string()))?;
        shape.get(axis).copied().ok_or_else(|| {
            crate::Error::Layout(format!(
                "tensor {name} has shape {shape:?}, too few dimensions"
            ))
        })
    }
}

impl TensorShapes for StateDict {
    fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|t| t.shape.as_slice())
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    fn ignored(&self) -> &[String] {
        &self.ignored
    }
}

/// A torchvision-style state_dict of float tensors.
#[derive(Clone, Debug, Default)]
pub struct StateDict {
    pub tensors: BTreeMap<String, RawTensor>,
    /// The narrowest float type found in the file.
    pub dtype: Option<DType>,
    /// Integer tensors that were skipped (BatchNorm's `num_batches_tracked`).
    pub ignored: Vec<String>,
}

impl StateDict {
    pub fn get(&self, name: &str) -> Option<&RawTensor> {
        self.tensors.get(name)
    }

    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) {
        self.tensors.insert(name.into(), RawTensor { shape, data });
    }

    pub fn note_dtype(&mut self, dtype: DType) {
        if self.dtype != Some(DType::F16) {
            self.dtype = Some(dtype);
        }
    }

    /// Float values stored, BatchNorm statistics included.
    pub fn values(&self) -> usize {
        self.tensors.values().map(|t| t.data.len()).sum()
    }
}

//! A dense float32 NCHW activation tensor.

use crate::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// `[batch, channels, height, width]`.
    pub shape: [usize; 4],
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: [usize; 4], data: Vec<f32>) -> Result<Tensor> {
        Tensor::check_len(shape, data.len())?;
        Ok(Tensor { shape, data })
    }

    /// Whether `shape` holds `len` values: checkable before the values are copied anywhere.
    pub fn check_len(shape: [usize; 4], len: usize) -> Result<()> {
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if n != Some(len) {
            return Err(Error::Input(format!(
                "tensor shape {shape:?} does not match {len} values"
            )));
        }
        Ok(())
    }

    pub fn zeros(shape: [usize; 4]) -> Tensor {
        Tensor {
            shape,
            data: vec![0.0; shape.iter().product()],
        }
    }

    pub fn batch(&self) -> usize {
        self.shape[0]
    }

    pub fn channels(&self) -> usize {
        self.shape[1]
    }

    pub fn height(&self) -> usize {
        self.shape[2]
    }

    pub fn width(&self) -> usize {
        self.shape[3]
    }

    /// Values per image.
    pub fn image_len(&self) -> usize {
        self.shape[1] * self.shape[2] * self.shape[3]
    }
}

/// Largest `|a - b|` over two equally long slices (tests compare backends with it).
#[cfg(feature = "testing")]
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "compared slices differ in length");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Largest `|v|`.
#[cfg(feature = "testing")]
pub fn max_abs(a: &[f32]) -> f32 {
    a.iter().map(|v| v.abs()).fold(0.0, f32::max)
}

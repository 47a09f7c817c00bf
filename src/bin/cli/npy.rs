//! float32 .npy tensors in and out, checked before anything is allocated.

use std::path::Path;

use shufflenet_web::{Error, Result, Tensor};

/// Some 20 images at the largest input side (4096 x 4096): larger is not an input to classify.
const MAX_NPY_BYTES: usize = 4 << 30;

pub fn read_nchw(path: &Path) -> Result<Tensor> {
    let bytes = super::read_capped(path, MAX_NPY_BYTES, ".npy input", |head| {
        if head.starts_with(b"\x93NUMPY") {
            Ok(())
        } else {
            Err(Error::Input("not a .npy file (no \\x93NUMPY magic)".into()))
        }
    })?;
    let bad = |msg: String| Error::Input(format!("{}: {msg}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a .npy file: {e}")))?;
    if npy.order() != npyz::Order::C {
        return Err(bad("Fortran-ordered arrays are not supported".into()));
    }
    let dtype = npy.dtype().descr();
    if dtype != "'<f4'" {
        return Err(bad(format!(
            "dtype {dtype}: expected little-endian float32 ('<f4')"
        )));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|d| *d as usize).collect();
    let [n, c, h, w] = shape[..] else {
        return Err(bad(format!("shape {shape:?}: expected N x 3 x H x W")));
    };
    let count = shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d));
    // The header's shape must match the bytes that follow before we size a buffer by it.
    if count.is_none_or(|n| n > bytes.len() / 4) {
        return Err(bad(format!(
            "shape {shape:?} needs more data than the file holds"
        )));
    }
    let data: Vec<f32> = npy.into_vec().map_err(|e| bad(e.to_string()))?;
    Tensor::new([n, c, h, w], data)
}

pub fn write_2d(path: &Path, data: &[f32], rows: usize, cols: usize) -> Result<()> {
    use npyz::WriterBuilder;
    let io = |e: std::io::Error| Error::Io(format!("{}: {e}", path.display()));
    let file = std::fs::File::create(path).map_err(io)?;
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[rows as u64, cols as u64])
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .map_err(io)?;
    w.extend(data.iter().copied()).map_err(io)?;
    w.finish().map_err(io)
}

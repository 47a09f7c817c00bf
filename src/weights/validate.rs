//! Infers the architecture from tensor shapes and checks every name, shape and value.

use super::{names, StateDict};
use crate::model::Arch;
use crate::{Error, Result};

fn dim(sd: &StateDict, name: &str, axis: usize) -> Result<usize> {
    let t = sd
        .get(name)
        .ok_or_else(|| Error::Missing(name.to_string()))?;
    t.shape.get(axis).copied().ok_or_else(|| {
        Error::Layout(format!(
            "tensor {name} has shape {:?}, too few dimensions",
            t.shape
        ))
    })
}

/// Reads the constructor arguments off the shapes: unit counts from the names,
/// channels from the first unit of each stage, classes from fc.
pub fn infer_arch(sd: &StateDict) -> Result<Arch> {
    if !sd.tensors.contains_key("conv1.0.weight") {
        let sample: Vec<&str> = sd.tensors.keys().take(3).map(String::as_str).collect();
        return Err(Error::Layout(format!(
            "no conv1.0.weight: not a torchvision ShuffleNetV2 state_dict (first tensors: {})",
            if sample.is_empty() {
                "none".to_string()
            } else {
                sample.join(", ")
            }
        )));
    }
    let mut repeats = [0usize; 3];
    for (s, r) in repeats.iter_mut().enumerate() {
        let prefix = format!("stage{}.", s + 2);
        // Count consecutive units from 0 so a gap shows up as missing tensors later.
        while sd
            .tensors
            .contains_key(&format!("{prefix}{}.branch2.0.weight", *r))
        {
            *r += 1;
        }
        if *r == 0 {
            return Err(Error::Missing(format!("{prefix}0.branch2.0.weight")));
        }
    }
    let c0 = dim(sd, "conv1.0.weight", 0)?;
    let stage = |s: usize| dim(sd, &format!("stage{}.0.branch2.0.weight", s + 2), 0).map(|b| 2 * b);
    let channels = [
        c0,
        stage(0)?,
        stage(1)?,
        stage(2)?,
        dim(sd, "conv5.0.weight", 0)?,
    ];
    Arch::new(repeats, channels, dim(sd, "fc.weight", 0)?).map_err(|e| Error::Layout(e.to_string()))
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s += &format!(" and {} more", names.len() - SHOWN);
    }
    s
}

/// Every expected tensor present with its shape, nothing extra, every value finite.
pub fn check(sd: &StateDict, arch: &Arch) -> Result<()> {
    let expected = names::expected(arch);
    let missing: Vec<String> = expected
        .iter()
        .filter(|(n, _)| !sd.tensors.contains_key(n))
        .map(|(n, _)| n.clone())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Missing(list(&missing)));
    }
    let unexpected: Vec<String> = sd
        .tensors
        .keys()
        .filter(|k| !expected.iter().any(|(n, _)| n == *k))
        .cloned()
        .collect();
    if !unexpected.is_empty() {
        return Err(Error::Unexpected(list(&unexpected)));
    }
    for (name, shape) in &expected {
        let t = &sd.tensors[name];
        if &t.shape != shape {
            return Err(Error::Shape {
                name: name.clone(),
                expected: shape.clone(),
                got: t.shape.clone(),
            });
        }
        if let Some(index) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                name: name.clone(),
                index,
            });
        }
        if name.ends_with("running_var") {
            if let Some(index) = t.data.iter().position(|v| *v < 0.0) {
                return Err(Error::Layout(format!(
                    "{name}[{index}] is negative: a variance cannot be"
                )));
            }
        }
    }
    Ok(())
}

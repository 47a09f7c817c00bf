//! Infers the architecture from tensor shapes and checks every name, shape and value.
//! Names and shapes are checked on the file's header (`TensorShapes`), before any value is
//! decoded; values after.

use super::names::Expected;
use super::{StateDict, TensorShapes};
use crate::model::Arch;
use crate::{Error, Result};

/// Twice the most units per stage any real ShuffleNetV2 has (torchvision's: 4, 8 and 4).
/// Bounds the names a file can make the validator expect.
pub const MAX_STAGE_UNITS: usize = 16;

/// Reads the constructor arguments off the shapes: unit counts from the names,
/// channels from the first unit of each stage, classes from fc (the tutorial's network
/// when its stem is there).
pub fn infer_arch(sd: &impl TensorShapes) -> Result<Arch> {
    if sd.shape(super::tutorial::MARKER).is_some() {
        return super::tutorial::infer_arch(sd);
    }
    if sd.shape("conv1.0.weight").is_none() {
        let sample: Vec<&str> = sd.names().take(3).collect();
        return Err(Error::Layout(format!(
            "no conv1.0.weight nor {}: not a torchvision or tutorial ShuffleNetV2 state_dict \
             (first tensors: {})",
            super::tutorial::MARKER,
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
            .shape(&format!("{prefix}{}.branch2.0.weight", *r))
            .is_some()
        {
            *r += 1;
            if *r > MAX_STAGE_UNITS {
                return Err(Error::Layout(format!(
                    "stage{} has more than {MAX_STAGE_UNITS} units; no ShuffleNetV2 has that many",
                    s + 2
                )));
            }
        }
        if *r == 0 {
            return Err(Error::Missing(format!("{prefix}0.branch2.0.weight")));
        }
    }
    let c0 = sd.dim("conv1.0.weight", 0)?;
    let stage = |s: usize| {
        sd.dim(&format!("stage{}.0.branch2.0.weight", s + 2), 0)
            .and_then(|b| {
                b.checked_mul(2)
                    .ok_or_else(|| Error::Layout(format!("stage{} width overflows", s + 2)))
            })
    };
    let channels = [
        c0,
        stage(0)?,
        stage(1)?,
        stage(2)?,
        sd.dim("conv5.0.weight", 0)?,
    ];
    Arch::new(repeats, channels, sd.dim("fc.weight", 0)?).map_err(|e| Error::Layout(e.to_string()))
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

/// Every expected tensor present with its shape, nothing extra (integer counters only where
/// a BatchNorm has one). Hash lookups: linear in the number of tensors.
pub fn check_layout(sd: &impl TensorShapes, expected: &Expected) -> Result<()> {
    let missing: Vec<String> = expected
        .order
        .iter()
        .filter(|(n, _)| sd.shape(n).is_none())
        .map(|(n, _)| n.clone())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Missing(list(&missing)));
    }
    let unexpected: Vec<String> = sd
        .names()
        .filter(|n| expected.shape(n).is_none())
        .chain(
            sd.ignored()
                .iter()
                .map(String::as_str)
                .filter(|n| !expected.allows_ignored(n)),
        )
        .map(str::to_string)
        .collect();
    if !unexpected.is_empty() {
        return Err(Error::Unexpected(list(&unexpected)));
    }
    for (name, shape) in &expected.order {
        let got = sd.shape(name).expect("checked present above");
        if got != shape.as_slice() {
            return Err(Error::Shape {
                name: name.clone(),
                expected: shape.clone(),
                got: got.to_vec(),
            });
        }
    }
    Ok(())
}

/// Every value finite, every variance non-negative.
pub fn check_values(sd: &StateDict) -> Result<()> {
    for (name, t) in &sd.tensors {
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

/// Layout and values of a decoded state_dict against `arch`.
pub fn check(sd: &StateDict, arch: &Arch) -> Result<()> {
    check_layout(sd, &Expected::new(super::expected(arch)))?;
    check_values(sd)
}

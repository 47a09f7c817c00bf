//! The two families of networks a weights file may hold, torchvision's and the tutorial's
//! (issue 11): which tensors each has and how each folds. The one place that tells them
//! apart, above both, so that neither they nor the fold import each other back.

use super::{fold, names, tutorial, StateDict};
use crate::model::{Arch, Family, Network};

/// Every float tensor `arch`'s network has, with its shape, in state_dict order.
/// (`num_batches_tracked` counters are integers and not listed: they are ignored.)
pub fn expected(arch: &Arch) -> Vec<(String, Vec<usize>)> {
    match arch.family {
        Family::Tutorial { groups } => tutorial::expected(arch, groups),
        Family::Torchvision => names::torchvision(arch),
    }
}

/// The state_dict `sd` of `arch` (validated) folded into the one `Network`.
pub fn fold_network(sd: &StateDict, arch: &Arch) -> Network {
    match arch.family {
        Family::Tutorial { groups } => tutorial::fold_network(sd, arch, groups),
        Family::Torchvision => fold::torchvision_network(sd, arch),
    }
}

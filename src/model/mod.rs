//! What the network is: its widths and the folded graph that every backend runs.

mod arch;
mod cost;
mod graph;
mod steps;

pub use arch::{out_size, Arch, Family, Width, MAX_INPUT, MIN_INPUT, TUTORIAL_STEM};
pub use cost::{Cost, StageCost};
pub use graph::{Activation, Conv, ConvKind, HalfOrder, Linear, Network, Stage, Unit};
pub use steps::{check_input, Dims, Layer, Op, Skeleton, Step};

//! What the network is: its widths and the folded graph that every backend runs.

mod arch;
mod graph;

pub use arch::{out_size, Arch, Width, MAX_INPUT, MIN_INPUT};
pub use graph::{Conv, ConvKind, Linear, Network, Shapes, Stage, Unit};

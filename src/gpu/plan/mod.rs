//! The frame plan for one input shape: activation buffers, uniform parameters, bind groups
//! and the dispatch list per stage, all made once and reused by every frame of that shape.
//!
//! Dispatches per frame: 1 (stem + max pool) + 2 per unit (1x1 + depthwise of both branches,
//! then the last 1x1 of both branches with the shuffle and pass-through copy) + 2 (conv5 +
//! pool, fc) = 35 for the published [4, 8, 4] repeats, and one more when a frame is
//! preprocessed on the GPU. Units other than torchvision's (the tutorial's) take one
//! dispatch per conv, plus the pass-through copy at stride 1: 1 + 3 x (5 + 4) + 2 = 30
//! for the tutorial's two units per stage.

mod dispatch;
mod general_units;
mod resources;
mod steps;
mod tiles;

pub use dispatch::Kernel;
pub use resources::Plan;
pub use steps::work_shape;
pub(super) use tiles::{conv_split, HW_GROUP};

//! The paper's Tables 1 to 4: sizes and figures as printed.
//!
//! Source: Ma, Zhang, Zheng, Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN
//! Architecture Design", ECCV 2018 (arXiv:1807.11164), section 2: "Validation experiment
//! for Guideline 1" to 4 (Tables 1 to 4) and Appendix Fig. 1 (the fragment blocks). The
//! GPU column is a GTX 1080Ti with cuDNN 7.0 in batches/s; the ARM column a Snapdragon 810,
//! one thread, in images/s. Tables 1 to 3 use 56x56 inputs; each network stacks its block
//! 10 times. "x1, x2, x4" scale every channel count of the x1 column.

/// The paper's column a backend is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// GTX 1080Ti, batches/s: our WebGPU backend.
    Gpu,
    /// Snapdragon 810, one thread, images/s: our CPU backend.
    Arm,
}

impl Column {
    pub fn unit(self) -> &'static str {
        match self {
            Column::Gpu => "batches/s",
            Column::Arm => "images/s",
        }
    }

    pub fn device(self) -> &'static str {
        match self {
            Column::Gpu => "GTX 1080Ti",
            Column::Arm => "Snapdragon 810 (ARM)",
        }
    }
}

/// The width scales of every table.
pub const SCALES: [usize; 3] = [1, 2, 4];
/// Blocks (or layers) each benchmark network stacks.
pub const REPEAT: usize = 10;
/// Input side of Tables 1 to 3. Table 4's caption gives none; we use the same.
pub const INPUT_SIDE: usize = 56;

/// `(c1, c2)` of G1.
pub type Widths = (usize, usize);

/// Speeds at x1, x2 and x4: `[GPU, ARM]`.
pub type Speeds = [[f64; 3]; 2];

/// Table 1 (G1): c1:c2, (c1, c2) at x1 and speeds at x1, x2, x4, for GPU and ARM.
pub const TABLE1: [(&str, [Widths; 2], Speeds); 4] = [
    (
        "1:1",
        [(128, 128), (32, 32)],
        [[1480., 723., 232.], [76.2, 21.7, 5.3]],
    ),
    (
        "1:2",
        [(90, 180), (22, 44)],
        [[1296., 586., 206.], [72.9, 20.5, 5.1]],
    ),
    (
        "1:6",
        [(52, 312), (13, 78)],
        [[876., 489., 189.], [69.1, 17.9, 4.6]],
    ),
    (
        "1:12",
        [(36, 432), (9, 108)],
        [[748., 392., 163.], [57.6, 15.1, 4.4]],
    ),
];

/// Table 2 (G2): groups g, channels c at x1 and speeds at x1, x2, x4, for GPU and ARM.
pub const TABLE2: [(usize, [usize; 2], Speeds); 4] = [
    (1, [128, 64], [[2451., 1289., 437.], [40.0, 10.2, 2.3]]),
    (2, [180, 90], [[1725., 873., 341.], [35.0, 9.5, 2.2]]),
    (4, [256, 128], [[1026., 644., 338.], [32.9, 8.7, 2.1]]),
    (8, [360, 180], [[634., 445., 230.], [27.8, 7.5, 1.8]]),
];

/// Table 3 (G3): channels of the 1-fragment block at x1, for GPU and ARM (x2 and x4 are
/// the paper's c=256, 512 and c=128, 256 columns).
pub const TABLE3_C: [usize; 2] = [128, 64];

/// Table 3 rows: fragments, in parallel (else in series), speeds for GPU and ARM.
pub const TABLE3: [(&str, usize, bool, Speeds); 5] = [
    (
        "1-fragment",
        1,
        false,
        [[2446., 1274., 434.], [40.2, 10.1, 2.3]],
    ),
    (
        "2-fragment-series",
        2,
        false,
        [[1790., 909., 336.], [38.6, 10.1, 2.2]],
    ),
    (
        "4-fragment-series",
        4,
        false,
        [[752., 745., 349.], [38.4, 10.1, 2.3]],
    ),
    (
        "2-fragment-parallel",
        2,
        true,
        [[1537., 803., 320.], [33.4, 9.1, 2.2]],
    ),
    (
        "4-fragment-parallel",
        4,
        true,
        [[691., 572., 292.], [35.0, 8.4, 2.1]],
    ),
];

/// Table 4 (G4): bottleneck channels at x1 (c=32, 64, 128 across the scales), both columns.
pub const TABLE4_C: usize = 32;

/// Table 4 rows: ReLU, shortcut, speeds for GPU and ARM.
pub const TABLE4: [(bool, bool, Speeds); 4] = [
    (true, true, [[2427., 2066., 1436.], [56.7, 16.9, 5.0]]),
    (true, false, [[2647., 2256., 1735.], [61.9, 18.8, 5.2]]),
    (false, true, [[2672., 2121., 1458.], [57.3, 18.2, 5.1]]),
    (false, false, [[2842., 2376., 1782.], [66.3, 20.2, 5.4]]),
];

/// The index of a column in the tables' pairs.
pub fn col(c: Column) -> usize {
    match c {
        Column::Gpu => 0,
        Column::Arm => 1,
    }
}

/// The index of `scale` in `SCALES`, if it is one.
pub fn scale_index(scale: usize) -> Option<usize> {
    SCALES.iter().position(|&s| s == scale)
}

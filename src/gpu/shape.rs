//! The work shape of each dispatch of a frame, computed from the plan (no GPU needed): how
//! much parallel work it offers and how long its longest serial chain is.

use std::fmt::Write;

use crate::model::Stage;

/// One dispatch's work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DispatchShape {
    pub stage: Stage,
    /// The WGSL entry point.
    pub kernel: &'static str,
    pub workgroups: u64,
    /// Workgroups times the workgroup size.
    pub invocations: u64,
    /// The longest chain of accumulations one invocation runs for one output: input
    /// channels or taps summed one after another, then any partial sums or pooled pixels
    /// it adds up, whatever its register tile.
    pub serial_steps: u64,
    /// Compulsory traffic: every input, weight and output byte once (cache re-reads and
    /// recomputed halos not counted).
    pub bytes_read: u64,
    pub bytes_written: u64,
}

impl DispatchShape {
    /// The launch of `groups` workgroups of `size` invocations; the work is the caller's to
    /// fill in.
    pub fn launch(stage: Stage, kernel: &'static str, groups: [usize; 3], size: usize) -> Self {
        let workgroups = groups.iter().product::<usize>();
        DispatchShape {
            stage,
            kernel,
            workgroups: workgroups as u64,
            invocations: (workgroups * size) as u64,
            serial_steps: 0,
            bytes_read: 0,
            bytes_written: 0,
        }
    }
}

/// Figures over a whole frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameShape {
    pub dispatches: usize,
    pub workgroups: u64,
    pub invocations: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub min_invocations_per_dispatch: u64,
    pub max_serial_steps: u64,
}

impl FrameShape {
    pub fn of(dispatches: &[DispatchShape]) -> FrameShape {
        FrameShape {
            dispatches: dispatches.len(),
            workgroups: dispatches.iter().map(|d| d.workgroups).sum(),
            invocations: dispatches.iter().map(|d| d.invocations).sum(),
            bytes_read: dispatches.iter().map(|d| d.bytes_read).sum(),
            bytes_written: dispatches.iter().map(|d| d.bytes_written).sum(),
            min_invocations_per_dispatch: dispatches
                .iter()
                .map(|d| d.invocations)
                .min()
                .unwrap_or(0),
            max_serial_steps: dispatches.iter().map(|d| d.serial_steps).max().unwrap_or(0),
        }
    }
}

/// The report as a plain-text table, one row per dispatch and a totals row.
pub fn table(dispatches: &[DispatchShape]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>3}  {:7} {:11} {:>10} {:>11} {:>7} {:>11} {:>11}",
        "#", "stage", "kernel", "workgroups", "invocations", "serial", "bytes read", "written"
    );
    for (i, d) in dispatches.iter().enumerate() {
        let _ = writeln!(
            s,
            "{:>3}  {:7} {:11} {:>10} {:>11} {:>7} {:>11} {:>11}",
            i,
            d.stage.name(),
            d.kernel,
            d.workgroups,
            d.invocations,
            d.serial_steps,
            d.bytes_read,
            d.bytes_written
        );
    }
    let t = FrameShape::of(dispatches);
    let _ = writeln!(
        s,
        "total {} dispatches, {} invocations (min {} per dispatch), longest serial chain {}, {} bytes read, {} written",
        t.dispatches,
        t.invocations,
        t.min_invocations_per_dispatch,
        t.max_serial_steps,
        t.bytes_read,
        t.bytes_written
    );
    s
}

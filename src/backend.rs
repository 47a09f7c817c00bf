//! What a run returns, whichever backend ran it.

use crate::model::Stage;

/// How per-stage times were measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimingMethod {
    /// Wall clock around each stage on the CPU.
    CpuClock,
    /// GPU timestamp queries written between compute passes.
    GpuTimestamps,
    /// Wall clock with a GPU fence (wait for idle) after each stage: profiling only.
    GpuFenced,
    /// Only the whole frame was timed; stage times are not known.
    FrameOnly,
}

impl TimingMethod {
    pub fn name(self) -> &'static str {
        match self {
            TimingMethod::CpuClock => "cpu-clock",
            TimingMethod::GpuTimestamps => "gpu-timestamps",
            TimingMethod::GpuFenced => "gpu-fenced",
            TimingMethod::FrameOnly => "frame-only",
        }
    }
}

/// Milliseconds per stage, in `Stage::ALL` order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StageTimes {
    pub ms: [f64; 5],
    pub method: TimingMethod,
    /// The clock's resolution when it is coarse (browsers round GPU timestamps to 0.1 ms);
    /// `ms` is then a running mean.
    pub resolution_ms: Option<f64>,
    /// Frames `ms` is the mean of (1: this frame's own times).
    pub frames_averaged: usize,
}

impl StageTimes {
    pub fn total(&self) -> f64 {
        self.ms.iter().sum()
    }

    pub fn get(&self, stage: Stage) -> f64 {
        self.ms[stage as usize]
    }
}

/// Logits for a batch and how long each stage took.
#[derive(Clone, Debug)]
pub struct Output {
    pub batch: usize,
    pub classes: usize,
    /// `[batch][classes]`.
    pub logits: Vec<f32>,
    pub times: StageTimes,
}

impl Output {
    pub fn logits_of(&self, image: usize) -> &[f32] {
        &self.logits[image * self.classes..(image + 1) * self.classes]
    }
}

/// Stage timer on the CPU clock (works in the browser through `web_time`).
pub struct StageClock {
    start: web_time::Instant,
    ms: [f64; 5],
}

impl Default for StageClock {
    fn default() -> Self {
        StageClock {
            start: web_time::Instant::now(),
            ms: [0.0; 5],
        }
    }
}

impl StageClock {
    /// Charge the time since the last call to `stage`.
    pub fn lap(&mut self, stage: Stage) {
        let now = web_time::Instant::now();
        self.ms[stage as usize] += (now - self.start).as_secs_f64() * 1e3;
        self.start = now;
    }

    pub fn finish(self) -> StageTimes {
        StageTimes {
            ms: self.ms,
            method: TimingMethod::CpuClock,
            resolution_ms: None,
            frames_averaged: 1,
        }
    }
}

//! Stage times from GPU timestamps, honest when the browser quantizes them.
//!
//! Chrome rounds WebGPU timestamps to 100 µs unless its developer flag is on, while a real
//! GPU runs a stage in tens to hundreds of µs: one frame's differences read 0.0 or 0.1 ms.
//! A clock is quantized when every offset it reports is a multiple of a coarse quantum.
//! Then each stage is the mean over the last frames: frames start at varying phases of
//! the quantum, so the mean of the rounded differences converges on the true duration.

use std::collections::VecDeque;

/// Offsets that are all multiples of at least this many ns come from a quantized clock.
const COARSE_NS: u64 = 10_000;
/// Frames a quantized stage time is averaged over.
pub const WINDOW: usize = 60;

/// Stage times of one frame, as reported.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub ms: [f64; 5],
    /// The clock's quantum when it is quantized (`None`: exact, or not yet known).
    pub resolution_ms: Option<f64>,
    /// Frames `ms` is the mean of (1: this frame's own times).
    pub frames_averaged: usize,
}

#[derive(Clone, Debug)]
pub struct StageEstimator {
    /// Greatest common divisor of every offset seen within a frame (0 while all were 0).
    quantum_ns: u64,
    recent: VecDeque<[f64; 5]>,
    window: usize,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl StageEstimator {
    pub fn new(window: usize) -> StageEstimator {
        StageEstimator {
            quantum_ns: 0,
            recent: VecDeque::with_capacity(window),
            window: window.max(1),
        }
    }

    /// Whether every offset seen so far is a multiple of a coarse quantum. A clock that has
    /// only ever read one value is quantized too (coarser than whole frames).
    pub fn quantized(&self) -> bool {
        self.quantum_ns == 0 || self.quantum_ns >= COARSE_NS
    }

    /// Takes one frame's stamps in ns (stage `s` begins at `2s` and ends at `2s + 1`) and
    /// returns the stage times to report for it.
    pub fn add(&mut self, stamps_ns: &[u64; 10]) -> Estimate {
        let t0 = stamps_ns.iter().copied().min().unwrap_or(0);
        for &t in stamps_ns {
            self.quantum_ns = gcd(self.quantum_ns, t - t0);
        }
        let mut ms = [0.0; 5];
        for (s, m) in ms.iter_mut().enumerate() {
            *m = stamps_ns[2 * s + 1].saturating_sub(stamps_ns[2 * s]) as f64 / 1e6;
        }
        if self.recent.len() == self.window {
            self.recent.pop_front();
        }
        self.recent.push_back(ms);
        if !self.quantized() {
            return Estimate {
                ms,
                resolution_ms: None,
                frames_averaged: 1,
            };
        }
        let frames = self.recent.len();
        let mut mean = [0.0; 5];
        for frame in &self.recent {
            for (m, v) in mean.iter_mut().zip(frame) {
                *m += v / frames as f64;
            }
        }
        Estimate {
            ms: mean,
            resolution_ms: (self.quantum_ns > 0).then(|| self.quantum_ns as f64 / 1e6),
            frames_averaged: frames,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// True stage durations in ns: from 30 µs (under a third of Chrome's quantum) up.
    const TRUE_NS: [u64; 5] = [30_000, 45_000, 120_000, 310_000, 37_000];
    const QUANTUM: u64 = 100_000;

    /// Stamps of a frame starting at `start` (ns), stages back to back with 2 µs gaps,
    /// rounded down to the quantum as Chrome does.
    fn frame(start: u64, quantum: u64) -> [u64; 10] {
        let mut t = start;
        let mut stamps = [0; 10];
        for (s, d) in TRUE_NS.iter().enumerate() {
            stamps[2 * s] = t / quantum * quantum;
            t += d;
            stamps[2 * s + 1] = t / quantum * quantum;
            t += 2_000;
        }
        stamps
    }

    fn run(starts: impl Iterator<Item = u64>, quantum: u64) -> (StageEstimator, Estimate) {
        let mut est = StageEstimator::new(WINDOW);
        let mut last = None;
        for start in starts {
            last = Some(est.add(&frame(start, quantum)));
        }
        (est, last.expect("at least one frame"))
    }

    fn worst_relative_error(e: &Estimate) -> f64 {
        TRUE_NS
            .iter()
            .zip(e.ms)
            .map(|(&t, ms)| (ms * 1e6 - t as f64).abs() / t as f64)
            .fold(0.0, f64::max)
    }

    #[test]
    fn quantized_clock_is_detected_and_averaged_within_ten_percent() {
        // Frame loops whose period is no multiple of the quantum: start phases step by a
        // golden-ratio fraction of it and spread evenly over the quantum.
        for period in [16_661_803, 33_338_197, 8_361_803] {
            let (est, e) = run((0..WINDOW as u64).map(|f| 5_000_000 + f * period), QUANTUM);
            assert!(est.quantized());
            assert_eq!(e.frames_averaged, WINDOW);
            assert_eq!(e.resolution_ms, Some(0.1));
            let err = worst_relative_error(&e);
            assert!(err <= 0.10, "period {period}: {:?} off by {err:.3}", e.ms);
        }
    }

    #[test]
    fn random_phases_converge_within_the_sampling_bound() {
        // Independent uniform phases (jittery frames): each rounded difference is a
        // two-valued draw with standard deviation at most q / 2, so the mean of 60 is within
        // 3 standard errors, 0.19 q. For a 30 µs stage that is looser than 10 %: averaging
        // cannot beat the sampling error of independent phases.
        let mut state = 12_345u64;
        let starts = (0..WINDOW).map(|f| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            f as u64 * 20_000_000 + (state >> 33) % QUANTUM
        });
        let (_, e) = run(starts, QUANTUM);
        let bound = 3.0 * 0.5 * QUANTUM as f64 / (WINDOW as f64).sqrt();
        for (&t, ms) in TRUE_NS.iter().zip(e.ms) {
            let off = (ms * 1e6 - t as f64).abs();
            assert!(off <= bound, "true {t} ns, estimated {ms} ms");
        }
    }

    #[test]
    fn a_lone_quantized_frame_is_marked_as_one_frame() {
        let (est, e) = run(std::iter::once(1_234_567), QUANTUM);
        assert!(est.quantized());
        assert_eq!(e.frames_averaged, 1);
        assert!(e.resolution_ms.is_some());
    }

    #[test]
    fn the_window_slides() {
        let (_, e) = run((0..3 * WINDOW as u64).map(|f| f * 16_661_803), QUANTUM);
        assert_eq!(e.frames_averaged, WINDOW);
        assert!(worst_relative_error(&e) <= 0.10, "{:?}", e.ms);
    }

    #[test]
    fn a_nanosecond_clock_reports_each_frame_exactly() {
        let (est, e) = run((0..5).map(|f| 1_000_003 + f * 16_683_217), 1);
        assert!(!est.quantized());
        assert_eq!(e.frames_averaged, 1);
        assert_eq!(e.resolution_ms, None);
        for (&t, ms) in TRUE_NS.iter().zip(e.ms) {
            assert_eq!((ms * 1e6).round() as u64, t);
        }
    }
}

//! How many threads a frame runs on. More threads cut a frame only while each has a core: on
//! a busy machine (another process, or the page's own main thread decoding video) a thread
//! that loses its core holds back the part it took, and two threads can be slower than
//! one. So the backend times its frames on all its threads and on one, runs the faster,
//! and now and then tries the other, to notice when the machine changes. A try costs slow
//! frames, so tries that confirm the choice come less and less often (`PROBE_EVERY` frames,
//! doubling up to `PROBE_EVERY_MOST`), and one that changes it starts over.
//!
//! Each count's time is the fastest of its last `WINDOW` frames, and a try runs `TRY`: a busy
//! machine only ever adds time, so a frame that lost its core for a few milliseconds neither
//! switches counts nor, in a try, keeps the slower count for the next 64 frames (a one-frame
//! try did, now and then, under `./bench.sh --load 1`). The window is longer than a try for
//! the page: its main thread and compositor take a core now and then, so one frame in five on
//! two threads took twice its time, and with two-frame windows two such frames in a row sent
//! a quarter of the page's frames to one thread, the slower there (docs/threads.md).
//! Results never depend on the count (each output is the same arithmetic), only the time.

/// Frames between two tries of the slower count, at first and at most.
const PROBE_EVERY: u32 = 16;
const PROBE_EVERY_MOST: u32 = 64;
/// Frames a count's time is taken over (the fastest of them).
const WINDOW: usize = 4;
/// Frames a try runs.
const TRY: usize = 2;

#[derive(Debug, Clone)]
pub struct ThreadChoice {
    most: usize,
    /// The last timed frames (ms), newest last: on `most` threads, and on one.
    recent: [Vec<f64>; 2],
    /// Whether each count ran its first frame, which is not timed: it pays for waking
    /// threads and filling caches, and would make that count look slow for many frames.
    warm: [bool; 2],
    /// The count being tried (0: `most`, 1: one) and its frames still to run.
    trial: Option<(usize, usize)>,
    /// Frames on the faster count since the last try.
    frames: u32,
    /// Frames from one try to the next.
    every: u32,
}

impl ThreadChoice {
    /// Chooses between `most` threads and one.
    pub fn new(most: usize) -> ThreadChoice {
        ThreadChoice {
            most: most.max(1),
            recent: [Vec::new(), Vec::new()],
            warm: [false; 2],
            trial: None,
            frames: 0,
            every: PROBE_EVERY,
        }
    }

    /// The threads the next frame runs on: each count is timed first (after a frame to warm
    /// up), then the faster, but every `every` frames the other for `TRY` frames.
    pub fn next(&self) -> usize {
        if self.most == 1 {
            return 1;
        }
        let i = match (self.trial, self.faster()) {
            (Some((i, _)), _) => i,
            (None, Some(faster)) => faster,
            (None, None) => usize::from(!self.recent[0].is_empty()),
        };
        if i == 0 {
            self.most
        } else {
            1
        }
    }

    /// A frame on `threads` threads took `ms`.
    pub fn record(&mut self, threads: usize, ms: f64) {
        let i = usize::from(threads < self.most);
        if !std::mem::replace(&mut self.warm[i], true) {
            return;
        }
        let before = self.faster();
        let recent = &mut self.recent[i];
        if recent.len() == WINDOW {
            recent.remove(0);
        }
        recent.push(ms);
        match self.trial {
            Some((t, left)) if t == i => {
                if left > 1 {
                    self.trial = Some((t, left - 1));
                    return;
                }
                // The try is over: it confirmed the choice if the tried count is still slower.
                self.trial = None;
                self.frames = 0;
                self.every = if self.faster() == Some(1 - t) {
                    (2 * self.every).min(PROBE_EVERY_MOST)
                } else {
                    PROBE_EVERY
                };
            }
            _ => {
                self.frames = self.frames.saturating_add(1);
                let now = self.faster();
                if now != before {
                    // The machine changed under the count that runs: start over.
                    self.frames = 0;
                    self.every = PROBE_EVERY;
                } else if let Some(faster) = now.filter(|_| self.frames >= self.every) {
                    self.trial = Some((1 - faster, TRY));
                }
            }
        }
    }

    /// 0 if `most` threads were faster lately, 1 if one thread was; `None` before both ran.
    fn faster(&self) -> Option<usize> {
        let time = |i: usize| self.recent[i].iter().copied().reduce(f64::min);
        match (time(0), time(1)) {
            (Some(many), Some(one)) => Some(usize::from(one < many)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ThreadChoice, TRY, WINDOW};

    /// Runs `frames` frames, each taking what `ms` says for its thread count; returns the
    /// counts used.
    fn run(c: &mut ThreadChoice, frames: usize, mut ms: impl FnMut(usize) -> f64) -> Vec<usize> {
        (0..frames)
            .map(|_| {
                let t = c.next();
                c.record(t, ms(t));
                t
            })
            .collect()
    }

    #[test]
    fn runs_the_faster_count_and_follows_the_machine() {
        let mut c = ThreadChoice::new(2);
        // Idle: two threads are faster; one is tried at first and then now and then. The
        // first frame on each count only warms up: a slow one does not count.
        let mut first = true;
        let idle = run(&mut c, 1000, |t| match t {
            2 if std::mem::take(&mut first) => 500.0,
            2 => 6.0,
            _ => 10.0,
        });
        assert_eq!(&idle[..5], &[2, 2, 1, 1, 2]);
        // Tries run `TRY` frames on one thread; those that confirm two threads come less
        // and less often: after 16 frames on two, then 32, then 64 at most.
        let tries: Vec<usize> = (5..idle.len())
            .filter(|&i| idle[i] == 1 && idle[i - 1] == 2)
            .collect();
        for &t in &tries {
            assert_eq!(&idle[t..t + TRY], &[1; TRY], "try at frame {t}");
            assert_ne!(idle.get(t + TRY), Some(&1), "try at frame {t}");
        }
        let gaps: Vec<usize> = tries.windows(2).map(|w| w[1] - w[0] - TRY).collect();
        assert_eq!(&gaps[..3], &[32, 64, 64], "tries at frames {tries:?}");
        assert!(gaps[1..].iter().all(|&g| g == 64), "gaps {gaps:?}");
        assert_eq!(tries[0], 4 + 16, "first try");
        // Busy: two threads now take 20 ms; within a few probes the backend runs on one.
        let busy = run(&mut c, 200, |t| if t == 2 { 20.0 } else { 10.0 });
        assert!(busy[100..].iter().filter(|&&t| t == 1).count() > 90);
        // Idle again: back to two.
        let again = run(&mut c, 200, |t| if t == 2 { 6.0 } else { 10.0 });
        assert!(again[100..].iter().filter(|&&t| t == 2).count() > 90);
    }

    #[test]
    fn one_slow_frame_does_not_switch() {
        let mut c = ThreadChoice::new(4);
        run(&mut c, 8, |t| if t == 4 { 6.0 } else { 10.0 });
        assert_eq!(c.next(), 4);
        for _ in 1..WINDOW {
            c.record(4, 16.0);
            assert_eq!(c.next(), 4, "16 ms frames among 6 ms ones");
        }
        c.record(4, 16.0);
        assert_eq!(c.next(), 1, "a window of them: the machine is busier");
    }

    #[test]
    fn a_frame_that_loses_its_core_decides_nothing() {
        // Busy: one thread takes 10 ms, two 12; but the first frame on one thread after
        // frames on two loses its core once (30 ms), as the first frame of every try would.
        let mut c = ThreadChoice::new(2);
        run(&mut c, 40, |t| if t == 2 { 6.0 } else { 10.0 });
        let mut last = 2;
        let busy = run(&mut c, 400, |t| {
            let ms = match (t, last) {
                (1, 2) => 30.0,
                (1, _) => 10.0,
                _ => 12.0,
            };
            last = t;
            ms
        });
        let on_one = busy[100..].iter().filter(|&&t| t == 1).count();
        // All but the tries of two threads (two frames every 64 or so).
        assert!(on_one >= 285, "{on_one} of 300 frames on one thread");
    }

    #[test]
    fn a_page_that_takes_a_core_now_and_then_keeps_two_threads() {
        // The page on two cores: one frame in five on two threads loses a core to the page's
        // main thread and takes 12 ms, sometimes two in a row; two threads still win (7.2 ms
        // on one). A two-frame window sent a quarter of these frames to one thread.
        let mut c = ThreadChoice::new(2);
        let mut n = 0;
        let frames = run(&mut c, 1000, |t| {
            n += 1;
            match t {
                2 if n % 5 < 2 => 12.0,
                2 => 4.0,
                _ => 7.2,
            }
        });
        let on_two = frames[100..].iter().filter(|&&t| t == 2).count();
        // All but the tries of one thread (two frames every 64).
        assert!(on_two >= 870, "{on_two} of 900 frames on two threads");
    }

    #[test]
    fn one_thread_has_nothing_to_choose() {
        let mut c = ThreadChoice::new(1);
        assert!(run(&mut c, 50, |_| 1.0).iter().all(|&t| t == 1));
    }
}

//! How many threads a frame runs on. More threads cut a frame only while each has a core: on
//! a busy machine (another process, or the page's own main thread decoding video) a thread
//! that loses its core holds back the part it took, and two threads can be slower than
//! one. So the backend times its frames on all its threads and on one, runs the faster,
//! and now and then tries the other, to notice when the machine changes. A try costs a slow
//! frame, so tries that confirm the choice come less and less often (`PROBE_EVERY` frames,
//! doubling up to `PROBE_EVERY_MOST`), and one that changes it starts over.
//! Results never depend on the count (each output is the same arithmetic), only the time.

/// Frames between two tries of the slower count, at first and at most.
const PROBE_EVERY: u32 = 16;
const PROBE_EVERY_MOST: u32 = 64;
/// Weight of a new frame time in the running average of the count that runs: one slow frame
/// (a pause elsewhere in the page) moves it a quarter of the way, a machine that stays slower
/// switches counts within a few frames. A try replaces its count's time instead: the last
/// one is from many frames ago, when the machine may have been busier.
const SMOOTHING: f64 = 0.25;

#[derive(Debug, Clone)]
pub struct ThreadChoice {
    most: usize,
    /// Recent frame times (ms, smoothed): on `most` threads, and on one.
    ms: [Option<f64>; 2],
    /// Whether each count ran its first frame, which is not timed: it pays for waking
    /// threads and filling caches, and would make that count look slow for many frames.
    warm: [bool; 2],
    /// Timed frames since the last try of the slower count.
    frames: u32,
    /// Frames from one try to the next.
    every: u32,
}

impl ThreadChoice {
    /// Chooses between `most` threads and one.
    pub fn new(most: usize) -> ThreadChoice {
        ThreadChoice {
            most: most.max(1),
            ms: [None; 2],
            warm: [false; 2],
            frames: 0,
            every: PROBE_EVERY,
        }
    }

    /// The threads the next frame runs on: each count is timed first (after a frame to warm
    /// up), then the faster, but every `every`th frame the other.
    pub fn next(&self) -> usize {
        let count = |i: usize| if i == 0 { self.most } else { 1 };
        match (self.most, self.faster()) {
            (1, _) => 1,
            (_, None) => count(usize::from(self.ms[0].is_some())),
            (_, Some(faster)) => count(faster ^ usize::from(self.frames + 1 >= self.every)),
        }
    }

    /// A frame on `threads` threads took `ms`.
    pub fn record(&mut self, threads: usize, ms: f64) {
        let i = usize::from(threads < self.most);
        if !std::mem::replace(&mut self.warm[i], true) {
            return;
        }
        let before = self.faster();
        let tried = before.is_some_and(|f| f != i);
        let weight = if tried { 1.0 } else { SMOOTHING };
        self.ms[i] = Some(self.ms[i].map_or(ms, |old| old + weight * (ms - old)));
        if tried {
            // A try of the slower count.
            self.frames = 0;
            let confirmed = self.faster() == before;
            self.every = if confirmed {
                (2 * self.every).min(PROBE_EVERY_MOST)
            } else {
                PROBE_EVERY
            };
        } else {
            self.frames = self.frames.saturating_add(1);
            if self.faster() != before {
                self.every = PROBE_EVERY;
            }
        }
    }

    /// 0 if `most` threads were faster lately, 1 if one thread was; `None` before both ran.
    fn faster(&self) -> Option<usize> {
        match self.ms {
            [Some(many), Some(one)] => Some(usize::from(one < many)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ThreadChoice;

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
        // Tries that confirm two threads come less and less often: 16 frames apart, then 32,
        // then 64 at most.
        let tries: Vec<usize> = (4..idle.len()).filter(|&i| idle[i] == 1).collect();
        let gaps: Vec<usize> = tries.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(&gaps[..3], &[32, 64, 64], "tries at frames {tries:?}");
        assert!(gaps[1..].iter().all(|&g| g == 64), "gaps {gaps:?}");
        assert!(tries[0] <= 4 + 16, "first try at frame {}", tries[0]);
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
        c.record(4, 16.0);
        assert_eq!(c.next(), 4, "one 16 ms frame among 6 ms ones");
        c.record(4, 16.0);
        c.record(4, 16.0);
        assert_eq!(c.next(), 1, "more in a row: the machine is busier");
    }

    #[test]
    fn one_thread_has_nothing_to_choose() {
        let mut c = ThreadChoice::new(1);
        assert!(run(&mut c, 50, |_| 1.0).iter().all(|&t| t == 1));
    }
}

//! How many threads a frame runs on. More threads cut a frame only while each has a core: on
//! a busy machine (another process, or the page's own main thread decoding video) a thread
//! that loses its core holds back the part it took, and two threads can be slower than
//! one. So the backend times its frames on all its threads and on one, runs the faster,
//! and every `PROBE_EVERY`th frame tries the other, to notice when the machine changes.
//! Results never depend on the count (each output is the same arithmetic), only the time.

/// Frames between two tries of the slower count.
const PROBE_EVERY: u32 = 16;
/// Weight of a new frame time in the running average.
const SMOOTHING: f64 = 0.5;

#[derive(Debug, Clone)]
pub struct ThreadChoice {
    most: usize,
    /// Recent frame times (ms, smoothed): on `most` threads, and on one.
    ms: [Option<f64>; 2],
    /// Whether each count ran its first frame, which is not timed: it pays for waking
    /// threads and filling caches, and would make that count look slow for many frames.
    warm: [bool; 2],
    frames: u32,
}

impl ThreadChoice {
    /// Chooses between `most` threads and one.
    pub fn new(most: usize) -> ThreadChoice {
        ThreadChoice {
            most: most.max(1),
            ms: [None; 2],
            warm: [false; 2],
            frames: 0,
        }
    }

    /// The threads the next frame runs on: each count is timed first (after a frame to warm
    /// up), then the faster, but every `PROBE_EVERY`th frame the other.
    pub fn next(&self) -> usize {
        let count = |i: usize| if i == 0 { self.most } else { 1 };
        match self.ms {
            _ if self.most == 1 => 1,
            [None, _] => self.most,
            [_, None] => 1,
            [Some(many), Some(one)] => {
                let faster = usize::from(one < many);
                let probe = self.frames % PROBE_EVERY == PROBE_EVERY - 1;
                count(faster ^ usize::from(probe))
            }
        }
    }

    /// A frame on `threads` threads took `ms`.
    pub fn record(&mut self, threads: usize, ms: f64) {
        let i = usize::from(threads < self.most);
        if !std::mem::replace(&mut self.warm[i], true) {
            return;
        }
        self.ms[i] = Some(self.ms[i].map_or(ms, |old| old + SMOOTHING * (ms - old)));
        self.frames = self.frames.wrapping_add(1);
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
        let idle = run(&mut c, 200, |t| match t {
            2 if std::mem::take(&mut first) => 500.0,
            2 => 6.0,
            _ => 10.0,
        });
        assert_eq!(&idle[..5], &[2, 2, 1, 1, 2]);
        let ones = idle[2..].iter().filter(|&&t| t == 1).count();
        assert!((9..=14).contains(&ones), "{ones} one-thread frames of 198");
        // Busy: two threads now take 20 ms; within a few probes the backend runs on one.
        let busy = run(&mut c, 200, |t| if t == 2 { 20.0 } else { 10.0 });
        assert!(busy[100..].iter().filter(|&&t| t == 1).count() > 90);
        // Idle again: back to two.
        let again = run(&mut c, 200, |t| if t == 2 { 6.0 } else { 10.0 });
        assert!(again[100..].iter().filter(|&&t| t == 2).count() > 90);
    }

    #[test]
    fn one_thread_has_nothing_to_choose() {
        let mut c = ThreadChoice::new(1);
        assert!(run(&mut c, 50, |_| 1.0).iter().all(|&t| t == 1));
    }
}

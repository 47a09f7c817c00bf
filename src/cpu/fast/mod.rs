//! The fast CPU backend: NHWC kernels on a 4-lane vector type (wasm SIMD128, SSE natively,
//! scalar arrays in the "cpu-scalar" wasm build), weights packed once, buffers planned once
//! per input size. See `plan` for the layout and how split / shuffle are folded away.

mod adapt;
mod conv3x3;
mod depthwise;
mod head;
mod lab;
mod plan;
mod pointwise;
mod pool;
#[cfg(feature = "testing")]
pub mod probe;
mod roofline;
mod stem;
mod unit;

use crate::backend::{check_head, Backend, BackendInfo, Frame, LocalFuture, Output, StageClock};
use crate::model::{check_input, Dims, Linear, Network, Stage};
use crate::preprocess;
use crate::tensor::Tensor;
use crate::Result;
use adapt::ThreadChoice;
use plan::{stride, Buffers, Plan};
use pool::Pool;
pub use pool::{thread_count, DEFAULT_MAX_THREADS, MAX_THREADS};

pub use lab::LabCpu;
pub use roofline::Roofline;

/// The threaded wasm build's CPU threads (Web Workers), started once per instance: resolves
/// to the threads a `FastCpu` may use from then on.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use pool::web::start as start_web_threads;
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
#[cfg(feature = "testing")]
pub use pool::web::trap_a_cpu_thread;

pub struct FastCpu {
    plan: Plan,
    buffers: Option<Buffers>,
    pool: Pool,
    /// All the pool's threads or one, frame by frame (see `adapt`).
    choice: ThreadChoice,
}

/// An activation at a stage boundary: NHWC pixels of `stride` floats. Read back only by
/// `stage_outputs`, a test hook.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
struct Boundary<'a> {
    data: &'a [f32],
    dims: Dims,
    stride: usize,
}

impl FastCpu {
    /// Packs the network's weights: torchvision's and the tutorial's (every conv kind,
    /// activation, half order and shuffle the graph describes, so it refuses none).
    pub fn new(net: &Network) -> FastCpu {
        FastCpu::with_threads(net, 1)
    }

    /// Runs each layer on up to `threads` threads (the caller's included): on all of them,
    /// or on one while that is faster (a busy machine, see `adapt`). Results do not depend
    /// on the count: each output element is computed by the same arithmetic.
    pub fn with_threads(net: &Network, threads: usize) -> FastCpu {
        let pool = Pool::new(threads);
        FastCpu {
            plan: Plan::new(net),
            buffers: None,
            choice: ThreadChoice::new(pool.threads()),
            pool,
        }
    }

    pub fn threads(&self) -> usize {
        self.pool.threads()
    }

    /// Every image of a batch through the kernels; `at_stage` sees each stage boundary.
    fn forward_batch(
        &mut self,
        input: &Tensor,
        mut at_stage: impl FnMut(usize, Boundary<'_>),
    ) -> Result<Output> {
        check_input(input)?;
        let [n, _, h, w] = input.shape;
        let mut clock = StageClock::default();
        let bufs = match self.buffers.take() {
            Some(b) if b.input == (h, w) => b,
            _ => Buffers::new(&self.plan, (h, w)),
        };
        let bufs = self.buffers.insert(bufs);
        let feature_len = self.plan.head.feature_len();
        let mut logits = Vec::with_capacity(n * self.plan.classes);
        let mut most = 1;
        let mut features = Vec::with_capacity(n * feature_len);
        for image in input.data.chunks_exact(input.image_len()) {
            let threads = self.choice.next();
            self.pool.set_active(threads);
            let start = web_time::Instant::now();
            forward(
                &self.plan,
                &self.pool,
                bufs,
                image,
                &mut clock,
                (&mut features, &mut logits),
                &mut at_stage,
            );
            let ms = start.elapsed().as_secs_f64() * 1e3;
            self.choice.record(threads, ms);
            most = most.max(threads);
        }
        self.pool.rest();
        Ok(Output {
            batch: n,
            classes: self.plan.classes,
            logits,
            feature_len,
            features,
            times: clock.finish(),
            threads: most,
        })
    }
}

/// Multiply-adds of one output row of the resize (`preprocess`), about: two passes of about
/// three taps over 224 four-lane pixels.
const PREPROCESS_ROW_MACS: usize = 2 * 3 * 4 * preprocess::SIZE;

/// "cpu-simd128", "cpu-relaxed" (with relaxed SIMD), "cpu-scalar" (wasm without simd128)
/// or "cpu-native": the fast CPU backend of this build.
const NAME: &str = if cfg!(not(target_arch = "wasm32")) {
    "cpu-native"
} else if cfg!(target_feature = "relaxed-simd") {
    "cpu-relaxed"
} else if cfg!(target_feature = "simd128") {
    "cpu-simd128"
} else {
    "cpu-scalar"
};

impl Backend for FastCpu {
    fn info(&self) -> BackendInfo {
        BackendInfo::cpu(NAME)
    }

    fn prepare(&self) {
        // Not for a frame on one thread (a busy machine): spinning workers would take the
        // core it runs on.
        if self.choice.next() > 1 {
            self.pool.stir();
        }
    }

    fn run<'a>(&'a mut self, frame: Frame<'a>) -> LocalFuture<'a, Result<Output>> {
        Box::pin(async move {
            // A picture's resize runs on the threads the frame will run on.
            self.pool.set_active(self.choice.next());
            let pool = &self.pool;
            let min_rows = pool.min_items(PREPROCESS_ROW_MACS);
            let input = frame.to_tensor_in(&|rows, job| pool.split(rows, 1, min_rows, job))?;
            self.forward_batch(&input, |_, _| {})
        })
    }

    fn set_head(&mut self, fc: &Linear) -> Result<()> {
        check_head(fc, self.plan.head.feature_len())?;
        self.plan.head.set_fc(fc);
        self.plan.classes = fc.out_f;
        Ok(())
    }

    #[cfg(feature = "testing")]
    fn stage_outputs<'a>(&'a mut self, input: &'a Tensor) -> LocalFuture<'a, Result<[Tensor; 4]>> {
        Box::pin(async move {
            let mut maps: [Vec<f32>; 4] = Default::default();
            let mut dims = [Dims { c: 0, h: 0, w: 0 }; 4];
            let slots = self.plan.stage_slots.clone();
            self.forward_batch(input, |s, b| {
                dims[s] = b.dims;
                let plane = b.dims.plane();
                maps[s].extend(
                    slots[s]
                        .iter()
                        .flat_map(|&slot| (0..plane).map(move |p| b.data[p * b.stride + slot])),
                );
            })?;
            let n = input.batch();
            let mut out = maps
                .into_iter()
                .zip(dims)
                .map(|(data, d)| Tensor::new([n, d.c, d.h, d.w], data));
            Ok(std::array::from_fn(|_| {
                out.next()
                    .expect("four stages")
                    .expect("stage maps have their shape")
            }))
        })
    }
}

/// One NCHW image through the network, walking the plan with the shapes of `b.dims`;
/// appends its pooled features and its logits.
fn forward(
    plan: &Plan,
    pool: &Pool,
    b: &mut Buffers,
    image: &[f32],
    clock: &mut StageClock,
    (features, logits): (&mut Vec<f32>, &mut Vec<f32>),
    at_stage: &mut impl FnMut(usize, Boundary<'_>),
) {
    let [x, y] = &mut b.act;
    let (mut x, mut y) = (x, y);
    // The other activation buffer is free until the first unit: it holds the stem's
    // boundary rows.
    b.stem.run(pool, image, x, y);
    clock.lap(Stage::Stem);
    at_stage(
        0,
        Boundary {
            data: x,
            dims: b.dims[1].1,
            stride: b.stem.out_stride(),
        },
    );
    let mut layer = 2;
    for (s, (stage, units)) in [Stage::Stage2, Stage::Stage3, Stage::Stage4]
        .into_iter()
        .zip(&plan.stages)
        .enumerate()
    {
        for u in units {
            let (i, _) = b.dims[layer];
            u.run(pool, x, (i.h, i.w), y, &mut b.t1, &mut b.t2);
            std::mem::swap(&mut x, &mut y);
            layer += 1;
        }
        clock.lap(stage);
        let out = b.dims[layer - 1].1;
        at_stage(
            s + 1,
            Boundary {
                data: x,
                dims: out,
                stride: stride(out.c),
            },
        );
    }
    let (head_in, _) = b.dims[layer];
    plan.head.run(
        pool,
        x,
        (head_in.plane(), stride(head_in.c)),
        &mut b.feat,
        &mut b.pooled,
        features,
        logits,
    );
    clock.lap(Stage::Head);
}

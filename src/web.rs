//! The browser API (wasm-bindgen). Every method reports failure as a JavaScript `Error`
//! carrying the same message the CLI prints; a failed load leaves the previous model running.

use std::cell::RefCell;
use std::rc::Rc;

use tsify::{Ts, Tsify};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::backend::{Frame, Output, RgbaFrame};
use crate::classes::ClassNames;
use crate::engine::{self, EngineOptions, Preference};
use crate::preprocess::{self, Crop, Window};
use crate::tensor::Tensor;
use crate::weights::{self, Info};
use crate::yuv::{held_window, Matrix, Plane, YuvFrame, YuvLayout};
use crate::Error;

mod guidelines;
mod load;
mod results;
mod teach;

pub use results::{
    ClassScore, Limits, Loaded, Logits, Prediction, RunInfo, StageMs, Status, WeightsInfo,
};

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// This build's peak multiply-add rate (GMAC/s) and memory read rate (GB/s) on the calling
/// thread, each measured for about `ms` milliseconds (at most 5 s, so a bad argument cannot
/// hold the thread): `[gmacs, read_gbps]`.
#[wasm_bindgen(js_name = cpuRoofline)]
pub fn cpu_roofline(ms: f64) -> Vec<f64> {
    let r = crate::cpu::Roofline::measure(if ms.is_nan() { 0.0 } else { ms.clamp(0.0, 5e3) });
    vec![r.gmacs, r.read_gbps]
}

/// Current size of this module's linear memory, for leak checks.
#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> f64 {
    let mem: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let buf: js_sys::ArrayBuffer = mem.buffer().unchecked_into();
    buf.byte_length() as f64
}

/// Starts the CPU threads of the threaded build (`pkg-threads/`, Web Workers on shared
/// memory; the page must be cross-origin isolated) and resolves to how many threads the fast
/// CPU backend may use, the caller's included: `threads` up to this crate's most (16), or
/// by default (none given) the machine's cores up to 8. Call it once, from a Web Worker (a
/// page's main thread may not block on the others), before `Engine.setCpuThreads`. The
/// single-threaded build (`pkg/`) resolves to 1 for 1 or none and refuses more.
#[wasm_bindgen(js_name = startCpuThreads)]
pub async fn start_cpu_threads(threads: Option<usize>) -> Result<usize, JsError> {
    if threads == Some(0) {
        return Err(JsError::new("the CPU thread count must be at least 1"));
    }
    #[cfg(target_feature = "atomics")]
    return crate::cpu::start_web_threads(crate::cpu::thread_count(threads, cores()))
        .await
        .map_err(|e| JsError::new(&format!("the CPU threads did not start: {e}")));
    #[cfg(not(target_feature = "atomics"))]
    match threads {
        None | Some(1) => Ok(1),
        _ => Err(JsError::new(
            "this build runs the CPU on one thread: load the threaded build (pkg-threads/)",
        )),
    }
}

/// The logical cores the browser reports (`navigator.hardwareConcurrency`), 1 if none.
#[cfg(target_feature = "atomics")]
fn cores() -> usize {
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into());
    navigator
        .and_then(|n| js_sys::Reflect::get(&n, &"hardwareConcurrency".into()))
        .ok()
        .and_then(|c| c.as_f64())
        .map_or(1, |c| c as usize)
}

/// The stage names, the widths and the size limits of this build: the page reads them
/// here rather than keeping copies.
#[wasm_bindgen]
pub fn limits() -> Result<Ts<Limits>, JsError> {
    Ok(Limits::of_this_crate().into_ts()?)
}

fn js_err(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

/// Shared state: methods borrow it only between awaits, so JavaScript may call any method
/// while another is pending without tripping Rust's aliasing checks.
struct State {
    preference: Preference,
    /// The CPU threads and the WebGPU options (`setCpuThreads`, `setGpuOptions`), applied
    /// at every load.
    options: EngineOptions,
    /// `None` before the first load, or while a frame is running.
    engine: Option<engine::Engine>,
    info: Option<Info>,
    /// The loaded file's bytes, for exporting it with a taught head.
    source: Option<Rc<Vec<u8>>>,
    /// The loaded file's head and names while a taught head runs instead.
    file_head: Option<teach::FileHead>,
    busy: bool,
    /// The status last reported (by `status` or with a prediction).
    reported: Option<Status>,
    /// WebGPU built beside the running backend by `prepareGpu`, for `timeGpu` and `adoptGpu`.
    candidate: Option<Box<dyn crate::backend::Backend>>,
    /// Counts loads: a candidate built for an earlier model is dropped, not adopted.
    generation: u64,
}

impl State {
    fn status(&self) -> Status {
        let e = self.engine.as_ref();
        Status {
            backend: e.map_or("none", |e| e.backend()).into(),
            adapter: e.and_then(|e| e.info().adapter),
            fallback_reason: e.and_then(|e| e.fallback_reason().map(str::to_string)),
            cpu_threads: self.options.cpu_threads,
        }
    }

    /// The status, if it changed since it was last reported.
    fn status_change(&mut self) -> Option<Status> {
        let now = self.status();
        (self.reported.as_ref() != Some(&now)).then(|| {
            self.reported = Some(now.clone());
            now
        })
    }
}

/// `Engine` in JavaScript: the browser-facing wrapper around `engine::Engine`.
#[wasm_bindgen(js_name = Engine)]
pub struct WebEngine {
    state: Rc<RefCell<State>>,
}

/// Takes the engine out for one frame and puts it back afterwards, unless a load replaced it.
async fn with_engine<T>(
    state: &Rc<RefCell<State>>,
    f: impl AsyncFnOnce(&mut engine::Engine) -> crate::Result<T>,
) -> Result<T, JsError> {
    let mut eng = {
        let mut s = state.borrow_mut();
        if s.busy {
            return Err(JsError::new(
                "the engine is busy with another frame: await each call before the next",
            ));
        }
        let eng = s
            .engine
            .take()
            .ok_or_else(|| JsError::new("no model loaded: call loadUrl or loadBytes first"))?;
        s.busy = true;
        eng
    };
    let result = f(&mut eng).await;
    let mut s = state.borrow_mut();
    s.busy = false;
    if s.engine.is_none() {
        s.engine = Some(eng);
    }
    result.map_err(js_err)
}

#[wasm_bindgen(js_class = Engine)]
impl WebEngine {
    /// `backend`: "auto" (WebGPU where it works), "webgpu" or "cpu".
    pub async fn create(backend: Option<String>) -> Result<WebEngine, JsError> {
        let preference = Preference::parse(backend.as_deref().unwrap_or("auto")).map_err(js_err)?;
        Ok(WebEngine {
            state: Rc::new(RefCell::new(State {
                preference,
                options: EngineOptions::default(),
                engine: None,
                info: None,
                source: None,
                file_head: None,
                busy: false,
                reported: None,
                candidate: None,
                generation: 0,
            })),
        })
    }

    /// WebGPU options, used from the next load on. `kernels`: "auto" (software kernels on
    /// CPU-type adapters, hardware ones elsewhere), "hardware" or "software". `timing`:
    /// "auto" (GPU timestamps, averaged when the browser quantizes them) or "precise" (a
    /// fenced submit per stage: exact, slower frames).
    #[cfg(feature = "gpu")]
    #[wasm_bindgen(js_name = setGpuOptions)]
    pub fn set_gpu_options(
        &self,
        kernels: Option<String>,
        timing: Option<String>,
    ) -> Result<(), JsError> {
        let options = crate::gpu::GpuOptions {
            kernels: crate::gpu::KernelChoice::parse(kernels.as_deref().unwrap_or("auto"))
                .map_err(js_err)?,
            profiling: crate::gpu::Profiling::parse(timing.as_deref().unwrap_or("auto"))
                .map_err(js_err)?,
            ..Default::default()
        };
        self.state.borrow_mut().options.gpu = options;
        Ok(())
    }

    /// Runs the fast CPU backend on `threads` threads from now on, at most as many as
    /// `startCpuThreads` started (1 without it). Results do not depend on the count.
    #[wasm_bindgen(js_name = setCpuThreads)]
    pub fn set_cpu_threads(&self, threads: usize) -> Result<(), JsError> {
        if threads == 0 {
            return Err(JsError::new("the CPU thread count must be at least 1"));
        }
        let mut s = self.state.borrow_mut();
        if s.busy {
            return Err(JsError::new(
                "the engine is busy with a frame: set the thread count between frames",
            ));
        }
        s.options.cpu_threads = threads;
        if let Some(e) = s.engine.as_mut() {
            e.set_cpu_threads(threads);
        }
        Ok(())
    }

    /// Loads weights from bytes (.safetensors or .pth). On error the previous model stays.
    #[wasm_bindgen(js_name = loadBytes)]
    pub async fn load_bytes(&self, bytes: Vec<u8>) -> Result<Ts<WeightsInfo>, JsError> {
        Ok(load(&self.state, Rc::new(bytes)).await?.into_ts()?)
    }

    /// Loads the weights at `url` from the Cache API or over fetch (streaming, calling
    /// `on_progress(loaded, total)`; `total` is undefined without a Content-Length), checked
    /// against `sha256` (hex, e.g. the manifest's) when given. `started`: the response of a
    /// download of `url` begun before the engine existed (the page overlaps it with the wasm's
    /// start), read in place of a new request. Resolves to `{ info, cached, bytes }`. A file
    /// that fails to load is never cached, and on error the previous model stays.
    #[wasm_bindgen(js_name = loadUrl)]
    pub async fn load_url(
        &self,
        url: String,
        on_progress: Option<js_sys::Function>,
        sha256: Option<String>,
        started: Option<web_sys::Response>,
    ) -> Result<Ts<Loaded>, JsError> {
        let got = load::get(&url, sha256.as_deref(), on_progress.as_ref(), started).await?;
        match load(&self.state, got.bytes.clone()).await {
            Ok(info) => {
                got.remember(&url).await;
                let loaded = Loaded {
                    info,
                    cached: got.cached,
                    bytes: got.bytes.len(),
                };
                Ok(loaded.into_ts()?)
            }
            Err(e) => {
                if got.cached {
                    got.forget(&url).await;
                }
                Err(e)
            }
        }
    }

    /// Class names for the loaded model from a names file's bytes (`class_indices.json`, a
    /// JSON array, or one name per line); `file` names it in errors. The count must match
    /// the head; on error the previous names stay. Resolves to the updated weights info.
    #[wasm_bindgen(js_name = setClassNames)]
    pub fn set_class_names(
        &self,
        bytes: Vec<u8>,
        file: String,
    ) -> Result<Ts<WeightsInfo>, JsError> {
        let names = ClassNames::parse(&bytes, &file).map_err(js_err)?;
        let mut s = self.state.borrow_mut();
        let info = s.info.as_mut().ok_or_else(|| {
            JsError::new("no model loaded: load weights before their class names")
        })?;
        names
            .check_count(info.arch.num_classes)
            .map_err(|e| JsError::new(&format!("{file}: {e}")))?;
        info.class_names = std::sync::Arc::new(names);
        Ok(WeightsInfo::from(&*info).into_ts()?)
    }

    /// What the loaded weights are, or undefined before the first load.
    pub fn info(&self) -> Option<Ts<WeightsInfo>> {
        let s = self.state.borrow();
        s.info
            .as_ref()
            .and_then(|i| WeightsInfo::from(i).into_ts().ok())
    }

    /// Multiply-adds and bytes moved (as if nothing stayed in cache) by each stage of the
    /// loaded network on one `side` x `side` image, in `limits().stages` order, flattened:
    /// `[macs, bytes, macs, bytes, ...]`; for a roofline against `cpuRoofline`.
    #[wasm_bindgen(js_name = stageCosts)]
    pub fn stage_costs(&self, side: usize) -> Result<Vec<f64>, JsError> {
        use crate::model::{MAX_INPUT, MIN_INPUT};
        if !(MIN_INPUT..=MAX_INPUT).contains(&side) {
            return Err(JsError::new(&format!(
                "the side must be between {MIN_INPUT} and {MAX_INPUT} pixels, got {side}"
            )));
        }
        let s = self.state.borrow();
        let e = s
            .engine
            .as_ref()
            .ok_or_else(|| JsError::new("no model loaded"))?;
        let rows = e.network().costs(side, side);
        Ok(crate::model::Stage::ALL
            .iter()
            .flat_map(|&stage| {
                let mine = rows.iter().filter(move |r| r.stage == stage);
                let macs: u64 = mine.clone().map(|r| r.cost.macs).sum();
                let bytes: u64 = mine.map(|r| r.cost.bytes).sum();
                [macs as f64, bytes as f64]
            })
            .collect())
    }

    /// The backend that runs the next frame: "webgpu", "cpu-simd128", ...; "none" before
    /// the first load.
    pub fn backend(&self) -> String {
        self.state.borrow().status().backend
    }

    /// A frame is coming: if this engine's next frame runs on the CPU's threads, those asleep
    /// wake now, so that its first split does not wait for them. Call it when a frame
    /// arrives, before reading its pixels.
    #[wasm_bindgen(js_name = prepareFrame)]
    pub fn prepare_frame(&self) {
        // No engine (none loaded, or one running a frame, whose end would rest the threads).
        if let Ok(s) = self.state.try_borrow() {
            if let Some(e) = &s.engine {
                e.prepare();
            }
        }
    }

    /// Who runs frames, the GPU adapter, why not WebGPU when it was wanted, and the CPU
    /// threads, in one call. A prediction carries it too when it changes.
    pub fn status(&self) -> Result<Ts<Status>, JsError> {
        let mut s = self.state.borrow_mut();
        let status = s.status();
        s.reported = Some(status.clone());
        Ok(status.into_ts()?)
    }

    /// Switches to "webgpu" or "cpu": resolves to the backend now in use, or throws with
    /// the reason WebGPU cannot run.
    #[wasm_bindgen(js_name = setBackend)]
    pub async fn set_backend(&self, backend: String) -> Result<String, JsError> {
        let preference = Preference::parse(&backend).map_err(js_err)?;
        let name = with_engine(&self.state, async |e| e.set_backend(preference).await).await?;
        self.state.borrow_mut().preference = preference;
        Ok(name.to_string())
    }

    /// Builds WebGPU (pipelines and a warm-up frame) beside the running backend, which goes on
    /// classifying meanwhile: the page's `auto` starts on the CPU, then times both with
    /// `timeGpu` and keeps the faster (`adoptGpu`, else `dropGpu`). The model is read when
    /// this is called (call it between frames); the returned promise resolves to the
    /// adapter's name, or rejects with why WebGPU cannot run.
    #[wasm_bindgen(js_name = prepareGpu)]
    pub fn prepare_gpu(&self) -> Result<js_sys::Promise, JsError> {
        let (net, options, generation) = {
            let s = self.state.borrow();
            let e = s.engine.as_ref().ok_or_else(|| {
                JsError::new("no model is ready: call prepareGpu after a load, between frames")
            })?;
            (e.network().clone(), e.options(), s.generation)
        };
        let state = self.state.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let device = engine::build_device(&net, options)
                .await
                .map_err(|e| JsValue::from(js_sys::Error::new(&e.to_string())))?;
            let adapter = device.info().adapter.unwrap_or_default();
            let mut s = state.borrow_mut();
            if s.generation != generation {
                return Err(js_sys::Error::new("another model was loaded meanwhile").into());
            }
            s.candidate = Some(device);
            Ok(adapter.into())
        }))
    }

    /// Runs one frame on the WebGPU backend `prepareGpu` built and resolves to its time in
    /// ms (the frame's predictions are not shown: the running backend's are).
    #[wasm_bindgen(js_name = timeGpu)]
    pub async fn time_gpu(
        &self,
        bitmap: web_sys::ImageBitmap,
        crop: Option<String>,
    ) -> Result<f64, JsError> {
        let crop = parse_crop(crop)?;
        let (mut device, generation) = {
            let mut s = self.state.borrow_mut();
            let device = s
                .candidate
                .take()
                .ok_or_else(|| JsError::new("WebGPU is not prepared: call prepareGpu first"))?;
            (device, s.generation)
        };
        let start = web_time::Instant::now();
        device
            .run(Frame::Bitmap(&bitmap, crop))
            .await
            .map_err(js_err)?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let mut s = self.state.borrow_mut();
        if s.generation == generation {
            s.candidate = Some(device);
        }
        Ok(ms)
    }

    /// Runs frames on the WebGPU backend `prepareGpu` built from now on; resolves to the
    /// backend's name.
    #[wasm_bindgen(js_name = adoptGpu)]
    pub async fn adopt_gpu(&self) -> Result<String, JsError> {
        let device = self
            .state
            .borrow_mut()
            .candidate
            .take()
            .ok_or_else(|| JsError::new("WebGPU is not prepared: call prepareGpu first"))?;
        with_engine(&self.state, async |e| {
            e.adopt_device(device)?;
            Ok(e.backend().to_string())
        })
        .await
    }

    /// Lets go of the WebGPU backend `prepareGpu` built (the CPU was faster here).
    #[wasm_bindgen(js_name = dropGpu)]
    pub fn drop_gpu(&self) {
        self.state.borrow_mut().candidate = None;
    }

    /// Per-frame GPU work (dispatches, readbacks, bytes each way) while WebGPU runs frames,
    /// else undefined.
    #[cfg(feature = "gpu")]
    #[wasm_bindgen(js_name = gpuStats)]
    pub fn gpu_stats(&self) -> Option<Ts<crate::backend::DeviceStats>> {
        let s = self.state.borrow();
        s.engine
            .as_ref()
            .and_then(|e| e.info().stats)
            .and_then(|g| g.into_ts().ok())
    }

    /// Classifies a canvas frame into the top `k` classes. `crop`: "square" or "eval".
    /// `features`: also return the pooled features (what `teach` learns from).
    pub async fn classify(
        &self,
        frame: web_sys::ImageData,
        k: usize,
        crop: Option<String>,
        features: Option<bool>,
    ) -> Result<Ts<Prediction>, JsError> {
        let (w, h) = (frame.width(), frame.height());
        self.classify_rgba(frame.data().0, w, h, k, crop, features)
            .await
    }

    /// Classifies an ImageBitmap (from a video frame, an image or a canvas). On WebGPU the
    /// browser copies it straight into a texture; on the CPU its pixels are read back.
    /// `features` as in `classify`.
    #[wasm_bindgen(js_name = classifyBitmap)]
    pub async fn classify_bitmap(
        &self,
        bitmap: web_sys::ImageBitmap,
        k: usize,
        crop: Option<String>,
        features: Option<bool>,
    ) -> Result<Ts<Prediction>, JsError> {
        let frame = Frame::Bitmap(&bitmap, parse_crop(crop)?);
        predict(&self.state, frame, k, features.unwrap_or(false)).await
    }

    /// Classifies RGBA bytes (`width * height * 4`).
    #[wasm_bindgen(js_name = classifyRgba)]
    pub async fn classify_rgba(
        &self,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
        k: usize,
        crop: Option<String>,
        features: Option<bool>,
    ) -> Result<Ts<Prediction>, JsError> {
        let pixels = RgbaFrame {
            pixels: &rgba,
            width,
            height,
        };
        let frame = Frame::Rgba(pixels, parse_crop(crop)?);
        predict(&self.state, frame, k, features.unwrap_or(false)).await
    }

    /// Classifies a camera frame in its own YUV layout, as `VideoFrame.copyTo` wrote it with
    /// no format asked: `format` "I420", "I420A" or "NV12"; `planes` each plane's offset and
    /// stride, in turn (`copyTo`'s layout); `matrix` and `fullRange` from the frame's
    /// `colorSpace` (undefined: BT.601, video range); `window` `[x, y, width, height]`, the
    /// part of the `width x height` frame `data` holds (`yuvWindow`; undefined: all of it).
    /// Read on the CPU whatever the backend.
    #[wasm_bindgen(js_name = classifyYuv)]
    #[allow(clippy::too_many_arguments)]
    pub async fn classify_yuv(
        &self,
        data: js_sys::Uint8Array,
        format: String,
        width: u32,
        height: u32,
        planes: Vec<u32>,
        matrix: Option<String>,
        full_range: Option<bool>,
        k: usize,
        crop: Option<String>,
        features: Option<bool>,
        window: Option<Vec<u32>>,
    ) -> Result<Ts<Prediction>, JsError> {
        let layout = YuvLayout::parse(&format).map_err(js_err)?;
        // The threads wake while the frame is copied in: after a large frame's `copyTo` the
        // wake `prepareFrame` gave them may have run out.
        self.prepare_frame();
        let data = data.to_vec();
        let plane = |i: usize| Plane {
            offset: planes.get(2 * i).map_or(0, |&o| o as usize),
            stride: planes.get(2 * i + 1).map_or(0, |&s| s as usize),
        };
        let frame = YuvFrame {
            data: &data,
            layout,
            width,
            height,
            planes: [plane(0), plane(1), plane(2)],
            matrix: Matrix::parse(matrix.as_deref()).map_err(js_err)?,
            full_range: full_range.unwrap_or(false),
            held: held_of(window.as_deref(), width, height)?,
        };
        let frame = Frame::Yuv(frame, parse_crop(crop)?);
        predict(&self.state, frame, k, features.unwrap_or(false)).await
    }

    /// Runs a normalized float32 N x 3 x H x W batch and returns its raw logits.
    #[wasm_bindgen(js_name = runTensor)]
    pub async fn run_tensor(
        &self,
        data: js_sys::Float32Array,
        n: usize,
        h: usize,
        w: usize,
    ) -> Result<Ts<Logits>, JsError> {
        let shape = [n, 3, h, w];
        // A batch that does not fit its shape is refused before it is copied.
        Tensor::check_len(shape, data.length() as usize).map_err(js_err)?;
        // The threads wake while the batch is copied in.
        self.prepare_frame();
        let input = Tensor::new(shape, data.to_vec()).map_err(js_err)?;
        let (out, run) = run_frame(&self.state, Frame::Tensor(&input)).await?;
        let logits = Logits {
            classes: out.classes,
            logits: js_sys::Float32Array::from(&out.logits[..]),
            run,
        };
        Ok(logits.into_ts()?)
    }
}

/// `[x, y, width, height]` of a camera frame that a copy holds (`YuvFrame::held`), or all
/// of a `width x height` frame.
fn held_of(window: Option<&[u32]>, width: u32, height: u32) -> Result<Window, JsError> {
    match window {
        None => Ok(Window::all(width as usize, height as usize)),
        Some(&[x, y, w, h]) => {
            let (x, y) = (x as usize, y as usize);
            Ok(Window {
                x: x..x.saturating_add(w as usize),
                y: y..y.saturating_add(h as usize),
            })
        }
        Some(other) => Err(JsError::new(&format!(
            "a video frame window of {} numbers: expected x, y, width and height",
            other.len()
        ))),
    }
}

/// The part `[x, y, width, height]` of a `width x height` camera frame that `classifyYuv`
/// reads as `crop` says ("square", the default, or "eval"), in whole 2 x 2 blocks: what
/// `VideoFrame.copyTo`'s `rect` needs to copy.
#[wasm_bindgen(js_name = yuvWindow)]
pub fn yuv_window(width: u32, height: u32, crop: Option<String>) -> Result<Vec<u32>, JsError> {
    let w = held_window(width, height, parse_crop(crop)?).map_err(js_err)?;
    Ok([w.x.start, w.y.start, w.x.len(), w.y.len()]
        .map(|v| v as u32)
        .to_vec())
}

/// `crop`: "square" (the default) or "eval".
fn parse_crop(crop: Option<String>) -> Result<Crop, JsError> {
    Crop::parse(crop.as_deref().unwrap_or("square")).map_err(js_err)
}

/// Runs one frame, whatever its form: the one path every classify call and `runTensor`
/// take. Returns its output and how it was run and timed.
async fn run_frame(
    state: &Rc<RefCell<State>>,
    frame: Frame<'_>,
) -> Result<(Output, RunInfo), JsError> {
    let start = web_time::Instant::now();
    let (out, backend, kernels) = with_engine(state, async |e| {
        let out = e.run(frame).await?;
        // A frame too big for the device ran on the fast CPU: no GPU kernels to name.
        let kernels = (e.last_ran() == e.backend())
            .then(|| e.info().stats.map(|s| s.kernels))
            .flatten();
        Ok((out, e.last_ran(), kernels))
    })
    .await?;
    let run = RunInfo {
        stages: StageMs::from(&out),
        total_ms: start.elapsed().as_secs_f64() * 1e3,
        backend: backend.into(),
        timing: out.times.method.name().into(),
        kernels: kernels.map(String::from),
        resolution_ms: out.times.resolution_ms,
        frames_averaged: out.times.frames_averaged,
        threads: out.threads,
    };
    Ok((out, run))
}

/// Runs one frame and turns its logits into the top `k` classes, named.
async fn predict(
    state: &Rc<RefCell<State>>,
    frame: Frame<'_>,
    k: usize,
    features: bool,
) -> Result<Ts<Prediction>, JsError> {
    // The names of the model this frame runs on (a load may replace both meanwhile).
    let (names, unknown) = match state.borrow().info.as_ref() {
        Some(i) => (Some(i.class_names.clone()), i.unknown.clone()),
        None => (None, None),
    };
    let (out, run) = run_frame(state, frame).await?;
    let status = state.borrow_mut().status_change();
    let top = preprocess::top_k(out.logits_of(0), k.max(1))
        .into_iter()
        .map(|(index, prob)| ClassScore {
            index,
            name: names
                .as_ref()
                .and_then(|n| n.names().get(index).cloned())
                .unwrap_or_else(|| format!("class {index}")),
            prob,
        })
        .collect();
    let prediction = Prediction {
        top,
        status,
        features: features.then(|| js_sys::Float32Array::from(out.features_of(0))),
        unknown: unknown.is_some_and(|u| u.rejects(out.features_of(0))),
        run,
    };
    Ok(prediction.into_ts()?)
}

/// Validates and folds, then builds the backend; only then replaces the running model.
async fn load(state: &Rc<RefCell<State>>, bytes: Rc<Vec<u8>>) -> Result<WeightsInfo, JsError> {
    // A plain sentence first, the evidence on the lines after (the page folds them away).
    let loaded = weights::load(&bytes).map_err(|e| JsError::new(&e.for_page()))?;
    let (preference, options) = {
        let s = state.borrow();
        (s.preference, s.options)
    };
    let engine = engine::Engine::new(loaded.network, preference, options).await;
    let info = WeightsInfo::from(&loaded.info);
    let mut s = state.borrow_mut();
    s.engine = Some(engine);
    s.candidate = None;
    s.generation += 1;
    s.info = Some(loaded.info);
    s.source = Some(bytes);
    s.file_head = None;
    Ok(info)
}

//! The browser API (wasm-bindgen). Every method reports failure as a JavaScript `Error`
//! carrying the same message the CLI prints; a failed load leaves the previous model running.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::backend::Output;
use crate::engine::{self, Preference};
use crate::model::Stage;
use crate::preprocess::{self, Crop};
use crate::tensor::Tensor;
use crate::weights::{self, Info, MAX_FILE_BYTES};
use crate::Error;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// Current size of this module's linear memory, for leak checks.
#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> f64 {
    let mem: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let buf: js_sys::ArrayBuffer = mem.buffer().unchecked_into();
    buf.byte_length() as f64
}

fn js_err(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

/// A plain JS object from key/value pairs.
fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

fn info_object(info: &Info) -> JsValue {
    object(&[
        ("arch", info.arch.describe().into()),
        (
            "width",
            info.arch
                .known_width()
                .map_or(JsValue::NULL, |w| w.label().into()),
        ),
        ("dtype", info.dtype.name().into()),
        ("params", (info.params as f64).into()),
        ("format", info.format.name().into()),
        ("bytes", (info.file_bytes as f64).into()),
        ("classes", (info.arch.num_classes as f64).into()),
    ])
}

fn stages_object(out: &Output) -> JsValue {
    let fields: Vec<(&str, JsValue)> = Stage::ALL
        .iter()
        .map(|s| (s.name(), out.times.get(*s).into()))
        .collect();
    object(&fields)
}

/// Shared state: methods borrow it only between awaits, so JavaScript may call any method
/// while another is pending without tripping Rust's aliasing checks.
struct State {
    preference: Preference,
    /// Kernel set and timing mode for the WebGPU backend (`Engine.create`'s options).
    #[cfg(feature = "gpu")]
    gpu_options: crate::gpu::GpuOptions,
    /// `None` before the first load, or while a frame is running.
    engine: Option<engine::Engine>,
    info: Option<Info>,
    busy: bool,
}

#[wasm_bindgen]
pub struct Engine {
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

#[wasm_bindgen]
impl Engine {
    /// `backend`: "auto" (WebGPU where it works), "webgpu" or "cpu".
    pub async fn create(backend: Option<String>) -> Result<Engine, JsError> {
        let preference = Preference::parse(backend.as_deref().unwrap_or("auto")).map_err(js_err)?;
        Ok(Engine {
            state: Rc::new(RefCell::new(State {
                preference,
                #[cfg(feature = "gpu")]
                gpu_options: Default::default(),
                engine: None,
                info: None,
                busy: false,
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
        self.state.borrow_mut().gpu_options = options;
        Ok(())
    }

    /// Loads weights from bytes (.safetensors or .pth). On error the previous model stays.
    #[wasm_bindgen(js_name = loadBytes)]
    pub async fn load_bytes(&self, bytes: Vec<u8>) -> Result<JsValue, JsError> {
        load(&self.state, &bytes).await
    }

    /// Fetches weights, streaming, calling `on_progress(loaded, total)` as bytes arrive
    /// (`total` is undefined when the server sends no Content-Length).
    #[wasm_bindgen(js_name = loadUrl)]
    pub async fn load_url(
        &self,
        url: String,
        on_progress: Option<js_sys::Function>,
    ) -> Result<JsValue, JsError> {
        let bytes = fetch_bytes(&url, on_progress.as_ref()).await?;
        load(&self.state, &bytes).await
    }

    /// What the loaded weights are, or undefined before the first load.
    pub fn info(&self) -> JsValue {
        self.state
            .borrow()
            .info
            .as_ref()
            .map_or(JsValue::UNDEFINED, info_object)
    }

    /// The backend that runs the next frame.
    pub fn backend(&self) -> String {
        let s = self.state.borrow();
        match &s.engine {
            Some(e) => e.backend().to_string(),
            None => "none".into(),
        }
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

    /// The GPU adapter while WebGPU runs frames, else undefined.
    #[wasm_bindgen(js_name = adapterName)]
    pub fn adapter_name(&self) -> Option<String> {
        self.state
            .borrow()
            .engine
            .as_ref()
            .and_then(|e| e.adapter_name())
    }

    /// Why WebGPU is not running frames (when it was wanted), else undefined.
    #[wasm_bindgen(js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        let s = self.state.borrow();
        s.engine
            .as_ref()
            .and_then(|e| e.fallback_reason().map(str::to_string))
    }

    /// Per-frame GPU work (dispatches, readbacks, bytes each way) while WebGPU runs frames,
    /// else undefined.
    #[cfg(feature = "gpu")]
    #[wasm_bindgen(js_name = gpuStats)]
    pub fn gpu_stats(&self) -> JsValue {
        let s = self.state.borrow();
        match s.engine.as_ref().and_then(|e| e.gpu_stats()) {
            Some(g) => object(&[
                (
                    "dispatches_per_frame",
                    (g.dispatches_per_frame as f64).into(),
                ),
                ("submits_per_frame", (g.submits_per_frame as f64).into()),
                ("readbacks_per_frame", (g.readbacks_per_frame as f64).into()),
                (
                    "bytes_uploaded_per_frame",
                    (g.bytes_uploaded_per_frame as f64).into(),
                ),
                (
                    "bytes_read_back_per_frame",
                    (g.bytes_read_back_per_frame as f64).into(),
                ),
                ("weight_bytes", (g.weight_bytes as f64).into()),
                ("kernels", g.kernels.name().into()),
                ("weights", if g.f16_weights { "f16" } else { "f32" }.into()),
                ("invocations_per_frame", (g.shape.invocations as f64).into()),
                (
                    "min_invocations_per_dispatch",
                    (g.shape.min_invocations_per_dispatch as f64).into(),
                ),
                ("max_serial_steps", (g.shape.max_serial_steps as f64).into()),
            ]),
            None => JsValue::UNDEFINED,
        }
    }

    /// Classifies a canvas frame into the top `k` classes. `crop`: "square" or "eval".
    pub async fn classify(
        &self,
        frame: web_sys::ImageData,
        k: usize,
        crop: Option<String>,
    ) -> Result<JsValue, JsError> {
        let (w, h) = (frame.width(), frame.height());
        self.classify_rgba(frame.data().0, w, h, k, crop).await
    }

    /// Classifies an ImageBitmap (from a video frame, an image or a canvas). On WebGPU the
    /// browser copies it straight into a texture; on the CPU its pixels are read back.
    #[wasm_bindgen(js_name = classifyBitmap)]
    pub async fn classify_bitmap(
        &self,
        bitmap: web_sys::ImageBitmap,
        k: usize,
        crop: Option<String>,
    ) -> Result<JsValue, JsError> {
        let crop = Crop::parse(crop.as_deref().unwrap_or("square")).map_err(js_err)?;
        classify_frame(&self.state, k, async |e| {
            e.run_image_bitmap(&bitmap, crop).await
        })
        .await
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
    ) -> Result<JsValue, JsError> {
        let crop = Crop::parse(crop.as_deref().unwrap_or("square")).map_err(js_err)?;
        classify_frame(&self.state, k, async |e| {
            e.run_rgba(&rgba, width, height, crop).await
        })
        .await
    }

    /// Runs a normalized float32 N x 3 x H x W batch and returns its raw logits.
    #[wasm_bindgen(js_name = runTensor)]
    pub async fn run_tensor(
        &self,
        data: Vec<f32>,
        n: usize,
        h: usize,
        w: usize,
    ) -> Result<JsValue, JsError> {
        let input = Tensor::new([n, 3, h, w], data).map_err(js_err)?;
        let start = web_time::Instant::now();
        let (out, backend, kernels) = with_engine(&self.state, async |e| {
            let out = e.run(&input).await?;
            Ok((out, e.backend(), kernels_value(e)))
        })
        .await?;
        Ok(object(&[
            ("logits", js_sys::Float32Array::from(&out.logits[..]).into()),
            ("classes", (out.classes as f64).into()),
            ("stages", stages_object(&out)),
            ("totalMs", (start.elapsed().as_secs_f64() * 1e3).into()),
            ("backend", backend.into()),
            ("kernels", kernels),
            ("timing", out.times.method.name().into()),
            ("resolutionMs", resolution_value(&out)),
            ("framesAveraged", (out.times.frames_averaged as f64).into()),
        ]))
    }
}

/// Runs one frame through `run` and turns its logits into a prediction.
async fn classify_frame(
    state: &Rc<RefCell<State>>,
    k: usize,
    run: impl AsyncFnOnce(&mut engine::Engine) -> crate::Result<Output>,
) -> Result<JsValue, JsError> {
    let start = web_time::Instant::now();
    let (out, backend, fallback, kernels) = with_engine(state, async |e| {
        let out = run(e).await?;
        Ok((out, e.backend(), fallback_value(e), kernels_value(e)))
    })
    .await?;
    let result = prediction(&out, k, start, backend, fallback);
    // Which WebGPU kernels ran, and how coarse the stage clock is.
    let _ = Reflect::set(&result, &"kernels".into(), &kernels);
    let _ = Reflect::set(&result, &"resolutionMs".into(), &resolution_value(&out));
    let frames = (out.times.frames_averaged as f64).into();
    let _ = Reflect::set(&result, &"framesAveraged".into(), &frames);
    Ok(result)
}

/// A classification result: the top `k` classes, stage times and who ran it.
fn prediction(
    out: &Output,
    k: usize,
    start: web_time::Instant,
    backend: &str,
    fallback: JsValue,
) -> JsValue {
    let top = js_sys::Array::new();
    for (index, prob) in preprocess::top_k(out.logits_of(0), k.max(1)) {
        top.push(&object(&[
            ("index", (index as f64).into()),
            ("name", crate::classes::name(index).into()),
            ("prob", (prob as f64).into()),
        ]));
    }
    object(&[
        ("top", top.into()),
        ("stages", stages_object(out)),
        ("totalMs", (start.elapsed().as_secs_f64() * 1e3).into()),
        ("backend", backend.into()),
        ("timing", out.times.method.name().into()),
        ("fallback", fallback),
    ])
}

/// The WebGPU kernel set that ran ("hardware" or "software"), or undefined on the CPU.
fn kernels_value(e: &engine::Engine) -> JsValue {
    #[cfg(feature = "gpu")]
    if let Some(stats) = e.gpu_stats() {
        return stats.kernels.name().into();
    }
    let _ = e;
    JsValue::UNDEFINED
}

/// The stage clock's resolution in ms when it is coarse (stage times are then a running
/// mean over `framesAveraged` frames), else null.
fn resolution_value(out: &Output) -> JsValue {
    out.times.resolution_ms.map_or(JsValue::NULL, JsValue::from)
}

/// Why WebGPU is not running frames, for results: a string, or undefined.
fn fallback_value(e: &engine::Engine) -> JsValue {
    e.fallback_reason()
        .map_or(JsValue::UNDEFINED, JsValue::from)
}

/// Validates and folds, then builds the backend; only then replaces the running model.
async fn load(state: &Rc<RefCell<State>>, bytes: &[u8]) -> Result<JsValue, JsError> {
    let loaded = weights::load(bytes).map_err(js_err)?;
    let preference = state.borrow().preference;
    #[cfg(feature = "gpu")]
    let engine = {
        let options = state.borrow().gpu_options;
        engine::Engine::with_gpu_options(loaded.network, preference, options).await
    };
    #[cfg(not(feature = "gpu"))]
    let engine = engine::Engine::new(loaded.network, preference).await;
    let engine = engine.map_err(js_err)?;
    let info = info_object(&loaded.info);
    let mut s = state.borrow_mut();
    s.engine = Some(engine);
    s.info = Some(loaded.info);
    Ok(info)
}

/// `fetch` in a window or a worker.
fn fetch(url: &str) -> Result<js_sys::Promise, JsError> {
    let global = js_sys::global();
    if let Some(w) = global.dyn_ref::<web_sys::Window>() {
        Ok(w.fetch_with_str(url))
    } else if let Some(w) = global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        Ok(w.fetch_with_str(url))
    } else {
        Err(JsError::new("no fetch in this JavaScript context"))
    }
}

async fn fetch_bytes(
    url: &str,
    on_progress: Option<&js_sys::Function>,
) -> Result<Vec<u8>, JsError> {
    let fail = |what: &str, e: JsValue| {
        JsError::new(&format!(
            "fetching {url}: {what}: {}",
            e.as_string().unwrap_or_else(|| format!("{e:?}"))
        ))
    };
    let resp: web_sys::Response = JsFuture::from(fetch(url)?)
        .await
        .map_err(|e| fail("network error", e))?
        .unchecked_into();
    if !resp.ok() {
        return Err(JsError::new(&format!(
            "fetching {url}: HTTP {} {}",
            resp.status(),
            resp.status_text()
        )));
    }
    let total = resp
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<f64>().ok());
    let total_js = total.map_or(JsValue::UNDEFINED, JsValue::from);
    let body = resp
        .body()
        .ok_or_else(|| JsError::new(&format!("fetching {url}: the response has no body")))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total.map_or(0, |t| (t as usize).min(MAX_FILE_BYTES)));
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| fail("read error", e))?;
        let done = Reflect::get(&chunk, &"done".into()).map_err(|e| fail("read error", e))?;
        if done.as_bool() == Some(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|e| fail("read error", e))?
            .unchecked_into();
        if bytes.len() + value.length() as usize > MAX_FILE_BYTES {
            let _ = reader.cancel();
            return Err(js_err(Error::NotWeights(format!(
                "{url} is larger than any ShuffleNetV2 weights file ({MAX_FILE_BYTES} bytes)"
            ))));
        }
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        if let Some(cb) = on_progress {
            // A throwing progress callback must not abort the download.
            let _ = cb.call2(&JsValue::NULL, &(bytes.len() as f64).into(), &total_js);
        }
    }
    Ok(bytes)
}

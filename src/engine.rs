//! Picks the backend that runs a loaded network, for the CLI and the browser alike.

use crate::backend::{Backend, BackendInfo, Frame};
use crate::cpu::reference::Reference;
use crate::cpu::FastCpu;
use crate::model::{Linear, Network};
use crate::{Error, Output, Result};

/// Which backend the caller asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preference {
    /// WebGPU where it works, the CPU otherwise.
    Auto,
    Gpu,
    Cpu,
    /// The plain reference loops (CLI checks only).
    Reference,
}

impl Preference {
    pub fn parse(s: &str) -> Result<Preference> {
        match s {
            "auto" => Ok(Preference::Auto),
            "webgpu" | "gpu" => Ok(Preference::Gpu),
            "cpu" => Ok(Preference::Cpu),
            "reference" => Ok(Preference::Reference),
            _ => Err(Error::Usage(format!(
                "unknown backend {s:?}: expected auto, webgpu, cpu or reference"
            ))),
        }
    }
}

/// How an engine runs its backends.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    /// Threads of the fast CPU backend, the caller's included (in the threaded wasm build,
    /// at most as many as `cpu::start_web_threads` started).
    pub cpu_threads: usize,
    /// Kernel set and timing of the WebGPU backend (tests also force faults).
    #[cfg(feature = "gpu")]
    pub gpu: crate::gpu::GpuOptions,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            cpu_threads: 1,
            #[cfg(feature = "gpu")]
            gpu: Default::default(),
        }
    }
}

/// A loaded network and the backend that runs it.
///
/// With `Auto` or `Gpu` the WebGPU backend runs frames while it works. Any device failure
/// (no WebGPU, no adapter, a pipeline that fails to build, a device lost mid-stream) moves
/// the engine to the fast CPU backend by itself: the reason is kept for `fallback_reason`,
/// and a frame that failed on the device is rerun on the CPU, so no frame is lost.
pub struct Engine {
    net: Network,
    backend: Box<dyn Backend>,
    options: EngineOptions,
    fallback: Option<String>,
    /// Who ran the last frame: the backend, or the fast CPU for a frame too big for it.
    last_ran: &'static str,
    /// The fast CPU that runs frames too big for the device (see `too_big_for_device`).
    oversize: Option<FastCpu>,
}

impl Engine {
    /// Starts the backend `preference` asks for: a device that cannot start leaves the fast
    /// CPU running, with the reason in `fallback_reason`.
    pub async fn new(net: Network, preference: Preference, options: EngineOptions) -> Engine {
        let mut engine = Engine {
            backend: Box::new(FastCpu::with_threads(&net, options.cpu_threads)),
            net,
            options,
            fallback: None,
            last_ran: "",
            oversize: None,
        };
        engine.start(preference).await;
        engine
    }

    /// Builds the backend `preference` asks for; a device that cannot start leaves the fast
    /// CPU backend running and says why.
    async fn start(&mut self, preference: Preference) {
        match preference {
            Preference::Reference => self.backend = Box::new(Reference::new(&self.net)),
            Preference::Cpu => self.backend = self.fast_cpu(),
            Preference::Auto | Preference::Gpu => match self.start_device().await {
                Ok(device) => {
                    self.backend = device;
                    self.fallback = None;
                }
                Err(e) => self.fallback = Some(e.to_string()),
            },
        }
    }

    async fn start_device(&self) -> Result<Box<dyn Backend>> {
        build_device(&self.net, self.options).await
    }

    /// What the engine builds its backends with.
    pub fn options(&self) -> EngineOptions {
        self.options
    }

    /// Runs frames on `device` from now on: a device built with `build_device` beside this
    /// engine, for the same backbone (the page's `auto` builds one while the CPU runs frames,
    /// times both and keeps the faster). It gets the engine's current head first.
    pub fn adopt_device(&mut self, mut device: Box<dyn Backend>) -> Result<()> {
        device.set_head(&self.net.fc)?;
        self.backend = device;
        self.fallback = None;
        self.oversize = None;
        Ok(())
    }

    /// Switches to `Gpu` (erring with the reason if WebGPU cannot run), `Cpu` or
    /// `Reference`; returns the backend now in use.
    pub async fn set_backend(&mut self, preference: Preference) -> Result<&'static str> {
        let on_device = self.on_device();
        let wants_device = matches!(preference, Preference::Auto | Preference::Gpu);
        if on_device != wants_device || !wants_device {
            self.start(preference).await;
        }
        if preference == Preference::Gpu && !self.on_device() {
            let why = self.fallback.clone().unwrap_or_default();
            return Err(Error::Gpu(why));
        }
        Ok(self.backend())
    }

    fn on_device(&self) -> bool {
        self.backend.info().capabilities.device_preprocessing
    }

    fn fast_cpu(&self) -> Box<dyn Backend> {
        Box::new(FastCpu::with_threads(&self.net, self.options.cpu_threads))
    }

    /// Runs the fast CPU backend on `threads` threads from now on (restarting it if it runs
    /// frames). Results do not depend on the count.
    pub fn set_cpu_threads(&mut self, threads: usize) {
        self.options.cpu_threads = threads.max(1);
        self.oversize = None;
        if self.backend.info().name.starts_with("cpu-") {
            self.backend = self.fast_cpu();
        }
    }

    /// Why WebGPU is not running frames, if it was wanted and is not.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// What the backend that runs the next frame is, and what the last one cost.
    pub fn info(&self) -> BackendInfo {
        self.backend.info()
    }

    /// Swaps the classifier for `fc` (same features in, any number of classes out) without
    /// touching the backbone; the network keeps it too, so a fallback or a backend switch
    /// runs the same head. On error nothing changes.
    pub fn set_head(&mut self, fc: Linear) -> Result<()> {
        self.backend.set_head(&fc)?;
        self.oversize = None;
        self.net.arch.num_classes = fc.out_f;
        self.net.fc = fc;
        Ok(())
    }

    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The backend that runs the next frame.
    pub fn backend(&self) -> &'static str {
        self.backend.info().name
    }

    /// A frame is coming (`Backend::prepare`).
    pub fn prepare(&self) {
        self.backend.prepare();
    }

    /// The backend that ran the last frame (the fast CPU for one too big for the device).
    pub fn last_ran(&self) -> &'static str {
        self.last_ran
    }

    /// A picture larger than the device's textures runs on the fast CPU, that frame only:
    /// the page scales frames to 2,048 pixels first, but a library caller may pass any size
    /// the CPU takes, and a device limit is no reason to refuse it.
    /// That CPU backend is built on the first such frame and kept for the next ones.
    fn too_big_for_device(&mut self, frame: &Frame<'_>) -> Option<&mut FastCpu> {
        let (width, height) = frame.picture_size()?;
        if width.max(height) <= self.backend.info().max_frame_side? {
            return None;
        }
        let (net, threads) = (&self.net, self.options.cpu_threads);
        Some(
            self.oversize
                .get_or_insert_with(|| FastCpu::with_threads(net, threads)),
        )
    }

    /// Classifies a frame (a batch, for a tensor): pictures are preprocessed on the device
    /// where the backend can. A device failure moves the engine to the fast CPU backend,
    /// which reruns the frame; bad input is the caller's.
    pub async fn run<'a>(&mut self, frame: impl Into<Frame<'a>>) -> Result<Output> {
        let frame = frame.into();
        if let Some(cpu) = self.too_big_for_device(&frame) {
            let out = cpu.run(frame).await?;
            self.last_ran = cpu.info().name;
            return Ok(out);
        }
        // A clone to rerun: it holds the frame's bytes by reference.
        let out = match self.backend.run(frame.clone()).await {
            Err(Error::Gpu(why)) => {
                self.fallback = Some(format!("GPU: {why}"));
                self.backend = self.fast_cpu();
                self.backend.run(frame).await?
            }
            other => other?,
        };
        self.last_ran = self.backend.info().name;
        Ok(out)
    }
}

/// Builds the device (WebGPU) backend for `net`: its pipelines and one warm-up frame. Apart
/// from any engine, so a caller may build it while an engine runs frames.
#[cfg(feature = "gpu")]
pub async fn build_device(net: &Network, options: EngineOptions) -> Result<Box<dyn Backend>> {
    let gpu = crate::gpu::GpuBackend::with_options(net, options.gpu).await?;
    Ok(Box::new(gpu))
}

#[cfg(not(feature = "gpu"))]
pub async fn build_device(_net: &Network, _options: EngineOptions) -> Result<Box<dyn Backend>> {
    Err(Error::Gpu("built without the gpu feature".into()))
}

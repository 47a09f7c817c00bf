//! Getting a device, and noticing when it stops working.

use std::sync::{Arc, Mutex};

use super::GpuFault;
use crate::{Error, Result};

/// Errors the device reports outside any error scope, and whether it was lost.
/// Filled from wgpu callbacks (which may run on other threads), read before and after
/// every frame.
#[derive(Clone, Default)]
pub struct Health {
    lost: Arc<Mutex<Option<String>>>,
    error: Arc<Mutex<Option<String>>>,
}

impl Health {
    fn watch(&self, device: &wgpu::Device) {
        let lost = self.lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            let mut slot = lost.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert(format!("device lost ({reason:?}): {message}"));
        });
        let error = self.error.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = error.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert(e.to_string());
        }));
    }

    pub fn mark_lost(&self, why: String) {
        let mut slot = self.lost.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(why);
    }

    /// The first problem seen, if any. A lost device stays lost.
    pub fn check(&self) -> Result<()> {
        if let Some(why) = self.lost.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Err(Error::Gpu(why));
        }
        if let Some(why) = self.error.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(Error::Gpu(why));
        }
        Ok(())
    }
}

pub struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter_name: String,
    /// `Cpu` for software adapters (SwiftShader, lavapipe, WARP): picks the kernel set.
    pub device_type: wgpu::DeviceType,
    pub timestamps: bool,
    /// The device has `shader-f16` (requested whenever the adapter offers it).
    pub f16: bool,
    /// The device has subgroup operations (requested whenever the adapter offers them):
    /// its narrowest and widest subgroups.
    pub subgroups: Option<[u32; 2]>,
    pub health: Health,
}

fn instance(fault: Option<GpuFault>) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if cfg!(target_arch = "wasm32") {
        // WebGL has no compute shaders: WebGPU or nothing.
        desc.backends = wgpu::Backends::BROWSER_WEBGPU;
    }
    if fault == Some(GpuFault::NoAdapter) {
        // An instance with no backends finds no adapter: the real "no adapter" path.
        desc.backends = wgpu::Backends::empty();
    }
    wgpu::Instance::new(desc)
}

/// The adapter as the page's badge names it after "WebGPU · ": its description with "(software)"
/// for a fallback adapter, never the backend again ("SwiftShader Device (Subzero) (software)").
/// Browsers often withhold the description: then say what we know. Native runs add the
/// backend ("llvmpipe (Vulkan)").
fn adapter_name(info: &wgpu::AdapterInfo) -> String {
    let software = info.device_type == wgpu::DeviceType::Cpu;
    match (info.backend, info.name.trim()) {
        (wgpu::Backend::BrowserWebGpu, "") if software => "software adapter".into(),
        (wgpu::Backend::BrowserWebGpu, "") => "GPU".into(),
        (wgpu::Backend::BrowserWebGpu, name) if software => format!("{name} (software)"),
        (wgpu::Backend::BrowserWebGpu, name) => name.into(),
        (backend, "") => format!("{backend:?}"),
        (backend, name) => format!("{name} ({backend:?})"),
    }
}

/// Whether the page has `navigator.gpu` at all (always true natively).
fn has_webgpu_api() -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into());
        navigator
            .and_then(|n| js_sys::Reflect::get(&n, &"gpu".into()))
            .is_ok_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        true
    }
}

impl Context {
    pub async fn acquire(fault: Option<GpuFault>) -> Result<Context> {
        if fault == Some(GpuFault::NoWebGpu) || !has_webgpu_api() {
            return Err(Error::Gpu(
                "WebGPU is not available (no navigator.gpu)".into(),
            ));
        }
        let adapter = instance(fault)
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("no GPU adapter: {e}")))?;
        let info = adapter.get_info();
        let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        let f16 = adapter.features().contains(wgpu::Features::SHADER_F16);
        // wgpu 30 maps `subgroups` natively only (not through the browser's WebGPU yet).
        let subgroups = adapter
            .features()
            .contains(wgpu::Features::SUBGROUP)
            .then_some([info.subgroup_min_size, info.subgroup_max_size]);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("shufflenet"),
                required_features: adapter.features()
                    & (wgpu::Features::TIMESTAMP_QUERY
                        | wgpu::Features::SHADER_F16
                        | wgpu::Features::SUBGROUP),
                // Large inputs or batches need more than the default binding sizes.
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("cannot open the GPU device: {e}")))?;
        let health = Health::default();
        health.watch(&device);
        let adapter_name = adapter_name(&info);
        Ok(Context {
            device,
            queue,
            adapter_name,
            device_type: info.device_type,
            timestamps,
            f16,
            subgroups,
            health,
        })
    }

    /// Waits for the GPU to finish everything submitted so far.
    pub async fn wait_idle(&self) -> Result<()> {
        let (tx, rx) = futures_channel::oneshot::channel();
        self.queue.on_submitted_work_done(move || {
            let _ = tx.send(());
        });
        self.poll()?;
        rx.await
            .map_err(|_| Error::Gpu("the GPU dropped a completion callback".into()))?;
        self.health.check()
    }

    /// Natively, drives callbacks by blocking until the queue is empty; the browser
    /// drives them itself.
    pub fn poll(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| {
                self.health.mark_lost(format!("device poll failed: {e}"));
                Error::Gpu(format!("device poll failed: {e}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::adapter_name;

    fn info(
        backend: wgpu::Backend,
        device_type: wgpu::DeviceType,
        name: &str,
    ) -> wgpu::AdapterInfo {
        wgpu::AdapterInfo {
            name: name.into(),
            vendor: 0,
            device: 0,
            device_type,
            device_pci_bus_id: String::new(),
            driver: String::new(),
            driver_info: String::new(),
            backend,
            subgroup_min_size: 0,
            subgroup_max_size: 0,
            transient_saves_memory: None,
            limit_bucket: None,
        }
    }

    #[test]
    fn the_badge_names_the_adapter_once() {
        use wgpu::{Backend, DeviceType};
        let web = Backend::BrowserWebGpu;
        let swiftshader = info(web, DeviceType::Cpu, "SwiftShader Device (Subzero)");
        assert_eq!(
            adapter_name(&swiftshader),
            "SwiftShader Device (Subzero) (software)"
        );
        assert_eq!(
            adapter_name(&info(web, DeviceType::Other, "Apple M2")),
            "Apple M2"
        );
        assert_eq!(
            adapter_name(&info(web, DeviceType::Cpu, "")),
            "software adapter"
        );
        assert_eq!(adapter_name(&info(web, DeviceType::Other, " ")), "GPU");
        let llvmpipe = info(Backend::Vulkan, DeviceType::Cpu, "llvmpipe");
        assert_eq!(adapter_name(&llvmpipe), "llvmpipe (Vulkan)");
        for i in [swiftshader, llvmpipe] {
            assert!(!adapter_name(&i).to_lowercase().contains("webgpu"), "{i:?}");
        }
    }
}

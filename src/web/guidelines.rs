//! The page's Guidelines panel: one of the paper's Tables 1 to 4 measured on this device, on
//! the CPU (against the paper's ARM column) or WebGPU (its GPU column).

use wasm_bindgen::prelude::*;

use crate::guidelines::{self, Lab, Settings};

/// Measures table `table` (1 to 4) on `backend` ("cpu" or "webgpu") with `runs` timed runs a
/// row, at the paper's input size and width `scale` (1, 2 or 4, its x1, x2, x4). Resolves to the table as JSON (the CLI's
/// `--json` line) with its markdown under `markdown`, for "copy as table".
#[wasm_bindgen(js_name = measureGuideline)]
pub async fn measure_guideline(
    backend: String,
    table: usize,
    runs: usize,
    scale: usize,
) -> Result<String, JsError> {
    let mut lab: Box<dyn Lab> = match backend.as_str() {
        "cpu" => Box::new(crate::cpu::LabCpu::default()),
        #[cfg(feature = "gpu")]
        "webgpu" => Box::new(
            crate::gpu::LabGpu::new()
                .await
                .map_err(|e| JsError::new(&e.to_string()))?,
        ),
        other => {
            return Err(JsError::new(&format!(
                "the guidelines run on cpu or webgpu, not {other:?}"
            )))
        }
    };
    let settings = Settings {
        runs,
        scales: vec![scale],
        ..Settings::default()
    };
    let result = guidelines::measure_table(lab.as_mut(), table, scale, &settings, &mut |_| {})
        .await
        .map_err(|e| JsError::new(&e.to_string()))?;
    let mut json = result.to_json();
    json["markdown"] = result.markdown().into();
    Ok(json.to_string())
}

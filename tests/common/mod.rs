//! Shared by every test file: one attribute for native `cargo test` and `wasm-pack test`,
//! committed fixtures compiled in (the browser has no file system), and comparisons.
#![allow(dead_code)]

/// Marks a test that runs natively under `cargo test` and in headless Chrome under
/// `wasm-pack test`. Async tests are blocked on natively.
#[macro_export]
macro_rules! suite_test {
    (fn $name:ident() $body:block) => {
        #[cfg_attr(not(target_arch = "wasm32"), test)]
        #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
        fn $name() $body
    };
    (async fn $name:ident() $body:block) => {
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            pollster::block_on(async $body)
        }
        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() $body
    };
}

/// Largest difference relative to the largest reference magnitude.
pub fn rel_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let scale = shufflenet_web::tensor::max_abs(want).max(1e-12);
    shufflenet_web::tensor::max_abs_diff(got, want) / scale
}

/// Asserts `got` matches `want` within `tol` relative to `max |want|`.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    let e = rel_err(got, want);
    assert!(e <= tol, "{what}: relative error {e:.3e} exceeds {tol:.0e}");
}

pub mod fixtures;

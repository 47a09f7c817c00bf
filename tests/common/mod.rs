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

/// Prints a figure natively and to the browser console (shown with --nocapture).
#[macro_export]
macro_rules! report {
    ($($t:tt)*) => {{
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_test::console_log!($($t)*);
        #[cfg(not(target_arch = "wasm32"))]
        println!($($t)*);
    }};
}

/// Deterministic pseudo-random values in about [-2, 2], like a normalized image.
pub fn noise(len: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1 << 24) as f32 * 4.0 - 2.0
        })
        .collect()
}

/// An `n x 3 x h x w` batch of `noise`.
pub fn input(n: usize, h: usize, w: usize, seed: u32) -> shufflenet_web::Tensor {
    shufflenet_web::Tensor::new([n, 3, h, w], noise(n * 3 * h * w, seed)).unwrap()
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

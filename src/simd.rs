//! `F4`, a 4-lane f32 vector: wasm `v128` with simd128, SSE on x86_64, a plain array elsewhere
//! (the "cpu-scalar" wasm build). Every kernel is written once against it, so native tests and
//! benches run the same tiling as the browser.
//!
//! Loads and stores take raw pointers: the kernels check their slice bounds once on entry and
//! then run unchecked inner loops. Unaligned access is fine on every target.

use crate::model::Activation;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub struct F4(v128);

    #[cfg(target_feature = "relaxed-simd")]
    #[inline(always)]
    fn madd(a: v128, b: v128, c: v128) -> v128 {
        f32x4_relaxed_madd(a, b, c)
    }

    #[cfg(not(target_feature = "relaxed-simd"))]
    #[inline(always)]
    fn madd(a: v128, b: v128, c: v128) -> v128 {
        f32x4_add(c, f32x4_mul(a, b))
    }

    impl F4 {
        #[inline(always)]
        pub fn splat(v: f32) -> F4 {
            F4(f32x4_splat(v))
        }
        /// # Safety
        /// `p` must be valid for reading 4 floats.
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> F4 {
            F4(v128_load(p as *const v128))
        }
        /// One float broadcast to all lanes.
        /// # Safety
        /// `p` must be valid for reading 1 float.
        #[inline(always)]
        pub unsafe fn load_splat(p: *const f32) -> F4 {
            F4(v128_load32_splat(p as *const u32))
        }
        /// # Safety
        /// `p` must be valid for writing 4 floats.
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            v128_store(p as *mut v128, self.0)
        }
        #[inline(always)]
        pub fn add(self, o: F4) -> F4 {
            F4(f32x4_add(self.0, o.0))
        }
        #[inline(always)]
        pub fn mul(self, o: F4) -> F4 {
            F4(f32x4_mul(self.0, o.0))
        }
        /// `self + a * b`: two roundings in simd128; with relaxed SIMD (the `pkg-relaxed`
        /// build) one fused instruction where the CPU has FMA, else the same two.
        #[inline(always)]
        pub fn mul_add(self, a: F4, b: F4) -> F4 {
            F4(madd(a.0, b.0, self.0))
        }
        #[inline(always)]
        pub fn max(self, o: F4) -> F4 {
            F4(f32x4_pmax(self.0, o.0))
        }
        #[inline(always)]
        pub fn min(self, o: F4) -> F4 {
            F4(f32x4_pmin(self.0, o.0))
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            [
                f32x4_extract_lane::<0>(self.0),
                f32x4_extract_lane::<1>(self.0),
                f32x4_extract_lane::<2>(self.0),
                f32x4_extract_lane::<3>(self.0),
            ]
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use core::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub struct F4(__m128);

    // SSE is part of the x86_64 baseline, so these intrinsics are always available: the
    // `unsafe` blocks below stand only for that target feature, unless they say more.
    impl F4 {
        #[inline(always)]
        pub fn splat(v: f32) -> F4 {
            // SAFETY: SSE is enabled on every x86_64; registers only, no memory.
            F4(unsafe { _mm_set1_ps(v) })
        }
        /// # Safety
        /// `p` must be valid for reading 4 floats.
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> F4 {
            F4(_mm_loadu_ps(p))
        }
        /// One float broadcast to all lanes.
        /// # Safety
        /// `p` must be valid for reading 1 float.
        #[inline(always)]
        pub unsafe fn load_splat(p: *const f32) -> F4 {
            F4(_mm_load1_ps(p))
        }
        /// # Safety
        /// `p` must be valid for writing 4 floats.
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            _mm_storeu_ps(p, self.0)
        }
        #[inline(always)]
        pub fn add(self, o: F4) -> F4 {
            // SAFETY: SSE is enabled on every x86_64; registers only, no memory.
            F4(unsafe { _mm_add_ps(self.0, o.0) })
        }
        #[inline(always)]
        pub fn mul(self, o: F4) -> F4 {
            // SAFETY: SSE is enabled on every x86_64; registers only, no memory.
            F4(unsafe { _mm_mul_ps(self.0, o.0) })
        }
        /// `self + a * b`, unfused like the wasm build.
        #[inline(always)]
        pub fn mul_add(self, a: F4, b: F4) -> F4 {
            // SAFETY: SSE is enabled on every x86_64; registers only, no memory.
            F4(unsafe { _mm_add_ps(self.0, _mm_mul_ps(a.0, b.0)) })
        }
        #[inline(always)]
        pub fn max(self, o: F4) -> F4 {
            // SAFETY: SSE is enabled on every x86_64; registers only, no memory.
            F4(unsafe { _mm_max_ps(self.0, o.0) })
        }
        #[inline(always)]
        pub fn min(self, o: F4) -> F4 {
            // SAFETY: SSE is enabled on every x86_64; registers only, no memory.
            F4(unsafe { _mm_min_ps(self.0, o.0) })
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            let mut a = [0.0; 4];
            // SAFETY: SSE is enabled on every x86_64, and `a` has room for the 4 floats stored
            // (`storeu`: any alignment).
            unsafe { _mm_storeu_ps(a.as_mut_ptr(), self.0) };
            a
        }
    }
}

#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
)))]
mod imp {
    #[derive(Clone, Copy)]
    pub struct F4([f32; 4]);

    impl F4 {
        #[inline(always)]
        pub fn splat(v: f32) -> F4 {
            F4([v; 4])
        }
        /// # Safety
        /// `p` must be valid for reading 4 floats.
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> F4 {
            F4(core::ptr::read_unaligned(p as *const [f32; 4]))
        }
        /// One float broadcast to all lanes.
        /// # Safety
        /// `p` must be valid for reading 1 float.
        #[inline(always)]
        pub unsafe fn load_splat(p: *const f32) -> F4 {
            F4([*p; 4])
        }
        /// # Safety
        /// `p` must be valid for writing 4 floats.
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            core::ptr::write_unaligned(p as *mut [f32; 4], self.0)
        }
        #[inline(always)]
        pub fn add(self, o: F4) -> F4 {
            F4(core::array::from_fn(|i| self.0[i] + o.0[i]))
        }
        #[inline(always)]
        pub fn mul(self, o: F4) -> F4 {
            F4(core::array::from_fn(|i| self.0[i] * o.0[i]))
        }
        #[inline(always)]
        pub fn mul_add(self, a: F4, b: F4) -> F4 {
            F4(core::array::from_fn(|i| self.0[i] + a.0[i] * b.0[i]))
        }
        #[inline(always)]
        pub fn max(self, o: F4) -> F4 {
            F4(core::array::from_fn(|i| self.0[i].max(o.0[i])))
        }
        #[inline(always)]
        pub fn min(self, o: F4) -> F4 {
            F4(core::array::from_fn(|i| self.0[i].min(o.0[i])))
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            self.0
        }
    }
}

pub use imp::F4;

impl F4 {
    /// Four floats as a vector.
    #[inline(always)]
    pub fn from_array(a: &[f32; 4]) -> F4 {
        // SAFETY: `a` holds 4 floats.
        unsafe { F4::load(a.as_ptr()) }
    }

    /// The activation that follows a conv, on four lanes: the same `max(x, 0)` and
    /// `min(x, 6)` the reference applies.
    #[inline(always)]
    pub fn activate(self, act: Activation) -> F4 {
        match act {
            Activation::None => self,
            Activation::Relu => self.max(F4::splat(0.0)),
            Activation::Relu6 => self.max(F4::splat(0.0)).min(F4::splat(6.0)),
        }
    }
}

/// Lanes per vector; channel counts are padded to a multiple of this.
pub const LANES: usize = 4;

pub fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

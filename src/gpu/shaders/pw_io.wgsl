// What pw.wgsl and pw_tiled.wgsl (and head_subgroup.wgsl) share: the bindings, the store of
// a unit's last 1x1 into its shuffled channels, and the head's last pooling step.

#import Pw
#import activation

struct Params {
    pw: array<Pw, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> src2: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

var<workgroup> red: array<vec4<f32>, 256>; // partial sums and pools, one vec4 per invocation

// Output channel o (pre-activation v) at pixel r of image n, after ReLU, into channel
// o * out_mul + out_add; a stride-1 unit also copies pass-through channel o into 2 * o.
fn store_unit(d: Pw, n: u32, r: u32, o: u32, v: f32) {
    dst[(n * d.dst_c + o * d.out_mul + d.out_add) * d.ohw + r] = max(v, 0.0);
    if d.copy_c != 0u {
        dst[(n * d.dst_c + 2u * o) * d.ohw + r] = src2[(n * d.copy_c + o) * d.ohw + r];
    }
}

// The head's last step, after the kernel's barrier: invocation cq < 4 sums the `lanes`
// partial pools of channel quad cq (red[cq * lanes + i]), divides by the pixels and writes
// the pooled channels c0 + 4 * cq .. + 3 of image n.
fn pool_lanes(d: Pw, n: u32, c0: u32, lid: u32, lanes: u32) {
    if lid < 4u {
        var total = vec4<f32>(0.0);
        for (var i = 0u; i < lanes; i++) {
            total += red[lid * lanes + i];
        }
        total /= f32(d.ohw);
        for (var i = 0u; i < 4u; i++) {
            let o = c0 + lid * 4u + i;
            if o < d.m {
                dst[n * d.dst_c + o] = total[i];
            }
        }
    }
}

// Hardware set: one conv of a unit the fused kernels (dw_quad.wgsl, pw_tiled.wgsl) do not
// run — the tutorial's network (issue 11): a 1x1, or a dense or grouped 3x3 (padding 1,
// stride 1 or 2), + folded BN and bias + its activation, stored into its branch's channels
// of the concatenation after a `shuffle`-way channel shuffle (as conv.wgsl).
//
// Why this shape: a dense 3x3 reduces over 9 x its input channels (4,392 at the tutorial's
// x2.0), far too long a chain for one invocation of a real GPU. A workgroup of 256 owns
// 16 output channels of one group for 256 / split pixels; the reduction (taps x the
// group's input channels) is split `split` ways (a power of two, chosen by the plan so a
// slice is at most 128 steps and small maps still fill the workgroup), and the slices are
// summed by a tree through workgroup memory, one channel quad at a time. Weights and bias
// are laid out as for conv.wgsl.

#import conv_io

var<workgroup> red: array<vec4<f32>, 256>; // one channel quad per invocation

@compute @workgroup_size(256)
fn conv_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let pixels = 256u / d.split;
    let s = lid / pixels;
    let pp = wg.x * pixels + lid % pixels;
    let valid = pp < d.p;
    let g = wg.y / d.bpg;
    let ob = wg.y % d.bpg;
    let n = pp / d.ohw;
    let r = pp % d.ohw;
    let cp4 = d.bpg * 4u;
    let ihw = d.ih * d.iw;
    let plane0 = (n * d.src_c + d.src_off + g * d.k) * ihw;
    let w0 = d.w + g * d.taps * d.k * cp4 + ob * 4u;
    var acc: array<vec4<f32>, 4>;
    if valid {
        // Slice `s` takes every split-th (tap, input channel) pair.
        for (var i = s; i < d.taps * d.k; i += d.split) {
            let tap = tap_at(r / d.ow, r % d.ow, i / d.k);
            if tap < 0 {
                continue; // zero padding
            }
            let x = src[plane0 + (i % d.k) * ihw + u32(tap)];
            let w = w0 + i * cp4;
            acc[0] += weights[w] * x;
            acc[1] += weights[w + 1u] * x;
            acc[2] += weights[w + 2u] * x;
            acc[3] += weights[w + 3u] * x;
        }
    }
    let bb = d.b + (g * d.bpg + ob) * 4u;
    for (var q = 0u; q < 4u; q++) {
        red[lid] = acc[q];
        workgroupBarrier();
        for (var half = d.split / 2u; half > 0u; half /= 2u) {
            if s < half {
                red[lid] += red[lid + half * pixels];
            }
            workgroupBarrier();
        }
        acc[q] = red[lid] + weights[bb + q];
        workgroupBarrier();
    }
    if s != 0u || !valid {
        return;
    }
    store_block(n, r, g, ob, acc);
}

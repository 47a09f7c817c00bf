// Software set: one conv of a unit the fused kernels (dw.wgsl, pw.wgsl) do not run — the
// tutorial's network (issue 11): a 1x1, or a dense or grouped 3x3 (padding 1, stride 1 or
// 2), + folded BN and bias + its activation, stored into its branch's channels of the
// concatenation after a `shuffle`-way channel shuffle (concat channel c goes to
// (c % cpg) * shuffle + c / cpg).
//
// Shaped like pw.wgsl, for CPU-type adapters: an invocation owns one output pixel (batch
// folded in) and a block of 16 output channels of one group, and runs the whole reduction
// (taps x the group's input channels); weights are laid out [group][tap][k][16 * bpg] so
// the 16 weights of a step are 4 workgroup-uniform vec4 loads.

#import conv_io

@compute @workgroup_size(64)
fn conv_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let pp = wg.x * 64u + lid;
    if pp >= d.p {
        return;
    }
    let g = wg.y / d.bpg;
    let ob = wg.y % d.bpg;
    let n = pp / d.ohw;
    let r = pp % d.ohw;
    let cp4 = d.bpg * 4u;
    let bb = d.b + (g * d.bpg + ob) * 4u;
    var a0 = weights[bb];
    var a1 = weights[bb + 1u];
    var a2 = weights[bb + 2u];
    var a3 = weights[bb + 3u];
    let ihw = d.ih * d.iw;
    let plane0 = (n * d.src_c + d.src_off + g * d.k) * ihw;
    for (var t = 0u; t < d.taps; t++) {
        let tap = tap_at(r / d.ow, r % d.ow, t);
        if tap < 0 {
            continue; // zero padding
        }
        let at = plane0 + u32(tap);
        let wt = d.w + (g * d.taps + t) * d.k * cp4 + ob * 4u;
        for (var k = 0u; k < d.k; k++) {
            let x = src[at + k * ihw];
            let w = wt + k * cp4;
            a0 += weights[w] * x;
            a1 += weights[w + 1u] * x;
            a2 += weights[w + 2u] * x;
            a3 += weights[w + 3u] * x;
        }
    }
    store_block(n, r, g, ob, array<vec4<f32>, 4>(a0, a1, a2, a3));
}

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

struct Conv {
    p: u32,        // output pixels over the batch
    ohw: u32,      // output pixels per image
    ih: u32,
    iw: u32,
    ow: u32,
    stride: u32,
    taps: u32,     // 9 (3x3, padding 1) or 1 (1x1)
    k: u32,        // input channels per group
    m: u32,        // output channels per group
    bpg: u32,      // 16-channel blocks per group
    src_c: u32,    // channels per image in src
    src_off: u32,  // first src channel read
    dst_c: u32,    // channels per image in dst
    cat_off: u32,  // this branch's first channel in the concatenation
    cpg: u32,      // concatenated channels per shuffle group
    shuffle: u32,  // shuffle groups (1: none)
    w: u32,        // weights in vec4s
    b: u32,        // bias [group][16 * bpg] in vec4s
    act: u32,      // 0 none, 1 ReLU, 2 ReLU6
    split: u32,    // reduction slices: a power of two, at most 256
}

@group(0) @binding(0) var<uniform> d: Conv;
@group(0) @binding(1) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

var<workgroup> red: array<vec4<f32>, 256>; // one channel quad per invocation

fn activate(v: f32) -> f32 {
    if d.act == 1u {
        return max(v, 0.0);
    }
    if d.act == 2u {
        return clamp(v, 0.0, 6.0);
    }
    return v;
}

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
    let oy = r / d.ow;
    let ox = r % d.ow;
    let cp4 = d.bpg * 4u;
    let side = select(1u, 3u, d.taps == 9u);
    let ihw = d.ih * d.iw;
    let plane0 = (n * d.src_c + d.src_off + g * d.k) * ihw;
    let w0 = d.w + g * d.taps * d.k * cp4 + ob * 4u;
    var acc: array<vec4<f32>, 4>;
    if valid {
        // Slice `s` takes every split-th (tap, input channel) pair.
        for (var i = s; i < d.taps * d.k; i += d.split) {
            let t = i / d.k;
            let k = i % d.k;
            let iy = i32(oy * d.stride + t / side) - i32(side / 2u);
            let ix = i32(ox * d.stride + t % side) - i32(side / 2u);
            if iy < 0 || ix < 0 || iy >= i32(d.ih) || ix >= i32(d.iw) {
                continue; // zero padding
            }
            let x = src[plane0 + k * ihw + u32(iy) * d.iw + u32(ix)];
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
    for (var j = 0u; j < 16u; j++) {
        let o = ob * 16u + j;
        if o >= d.m {
            break;
        }
        let c = d.cat_off + g * d.m + o;
        let dc = (c % d.cpg) * d.shuffle + c / d.cpg;
        dst[(n * d.dst_c + dc) * d.ohw + r] = activate(acc[j / 4u][j % 4u]);
    }
}

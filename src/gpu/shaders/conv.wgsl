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
    split: u32,    // hardware set only
}

@group(0) @binding(0) var<uniform> d: Conv;
@group(0) @binding(1) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn activate(v: f32) -> f32 {
    if d.act == 1u {
        return max(v, 0.0);
    }
    if d.act == 2u {
        return clamp(v, 0.0, 6.0);
    }
    return v;
}

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
    let oy = r / d.ow;
    let ox = r % d.ow;
    let cp4 = d.bpg * 4u;
    let bb = d.b + (g * d.bpg + ob) * 4u;
    var a0 = weights[bb];
    var a1 = weights[bb + 1u];
    var a2 = weights[bb + 2u];
    var a3 = weights[bb + 3u];
    let side = select(1u, 3u, d.taps == 9u);
    let ihw = d.ih * d.iw;
    let plane0 = (n * d.src_c + d.src_off + g * d.k) * ihw;
    for (var t = 0u; t < d.taps; t++) {
        let iy = i32(oy * d.stride + t / side) - i32(side / 2u);
        let ix = i32(ox * d.stride + t % side) - i32(side / 2u);
        if iy < 0 || ix < 0 || iy >= i32(d.ih) || ix >= i32(d.iw) {
            continue; // zero padding
        }
        let at = plane0 + u32(iy) * d.iw + u32(ix);
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
    let acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
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

// conv1 (3x3/2, folded BN, ReLU) fused with the 3x3/2 max pool (padding 1).
//
// One thread per pooled pixel computes all output channels: it reads the 7x7x3 input window
// under its pool window once and evaluates the (up to) 9 conv outputs in the window per
// channel. The conv outputs are never stored, which saves a dispatch and a 4x larger
// activation round trip; the price is evaluating a conv output ~2.25 times (27 MACs each).

struct Stem {
    n: u32,
    ih: u32,
    iw: u32,
    ch: u32,  // conv output height
    cw: u32,  // conv output width
    ph: u32,  // pooled height
    pw: u32,  // pooled width
    oc: u32,  // output channels
    w_off: u32,
    b_off: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> s: Stem;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn stem_main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let plane = s.ph * s.pw;
    let idx = gid.x;
    if idx >= s.n * plane {
        return;
    }
    let n = idx / plane;
    let py = i32((idx % plane) / s.pw);
    let px = i32(idx % s.pw);
    // Input rows/cols 4p-3 .. 4p+3 cover every conv output in the pool window; outside
    // the image they are the conv's zero padding.
    var window: array<f32, 147>;
    for (var c = 0; c < 3; c++) {
        let base = (n * 3u + u32(c)) * s.ih * s.iw;
        for (var r = 0; r < 7; r++) {
            let iy = 4 * py - 3 + r;
            for (var q = 0; q < 7; q++) {
                let ix = 4 * px - 3 + q;
                var v = 0.0;
                if iy >= 0 && iy < i32(s.ih) && ix >= 0 && ix < i32(s.iw) {
                    v = src[base + u32(iy) * s.iw + u32(ix)];
                }
                window[(c * 7 + r) * 7 + q] = v;
            }
        }
    }
    for (var o = 0u; o < s.oc; o++) {
        let w = s.w_off + o * 27u;
        let bias = weights[s.b_off + o];
        // ReLU outputs are >= 0 and the window always holds conv output (2py, 2px), so
        // starting the max at 0 is the same as ReLU after the pool.
        var best = 0.0;
        for (var dy = 0; dy < 3; dy++) {
            let cy = 2 * py - 1 + dy;
            if cy < 0 || cy >= i32(s.ch) {
                continue;
            }
            for (var dx = 0; dx < 3; dx++) {
                let cx = 2 * px - 1 + dx;
                if cx < 0 || cx >= i32(s.cw) {
                    continue;
                }
                var acc = bias;
                for (var c = 0; c < 3; c++) {
                    for (var ky = 0; ky < 3; ky++) {
                        for (var kx = 0; kx < 3; kx++) {
                            acc += weights[w + u32((c * 3 + ky) * 3 + kx)]
                                * window[(c * 7 + 2 * dy + ky) * 7 + 2 * dx + kx];
                        }
                    }
                }
                best = max(best, acc);
            }
        }
        dst[(n * s.oc + o) * plane + u32(py) * s.pw + u32(px)] = best;
    }
}

// Second half of a unit: the last 1x1 + folded BN + ReLU of each branch, with concat and
// channel shuffle folded into the store index (channel o * out_mul + out_add), and for
// stride-1 units the pass-through half copied into the even channels by the same threads.
// Stride-2 units run both branches' 1x1 here: workgroup_id.z is the branch.
//
// `head_main` is conv5 + its activation (ReLU, or none for the tutorial's) + global
// average pool in one dispatch.
//
// Each invocation owns one pixel (batch folded in) and 16 output channels; weights are
// transposed to [k][channel] so the 16 weights of a step are 4 workgroup-uniform vec4
// loads, and the one non-uniform load per step is the pixel's input value.

struct Pw {
    m: u32,        // output channels
    k: u32,        // input channels
    p: u32,        // pixels over the batch
    ohw: u32,      // pixels per image
    src_c: u32,
    src_off: u32,
    dst_c: u32,
    out_mul: u32,
    out_add: u32,
    w: u32,        // weights [k][mp] in vec4s
    mp4: u32,      // padded output channels / 4
    b: u32,        // bias (padded) in vec4s
    copy_c: u32,   // > 0: copy pass-through channels from src2 (copy_c channels per image)
    split: u32,    // hardware set only
    pq: u32,       // hardware set only
    act: u32,      // head only: conv5's activation
}

struct Params {
    pw: array<Pw, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> src2: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

var<workgroup> red: array<vec4<f32>, 256>; // head: [4][64] partial pools

// The head's activation after conv5 (`act`: 0 none, as the tutorial's conv5; 1 ReLU).
fn head_act(v: vec4<f32>, act: u32) -> vec4<f32> {
    return select(v, max(v, vec4<f32>(0.0)), act == 1u);
}

// The 16 pre-activation outputs of block `ob` at pixel `r` of image `n`.
fn block(d: Pw, n: u32, r: u32, ob: u32) -> array<vec4<f32>, 4> {
    let bb = d.b + ob * 4u;
    var a0 = weights[bb];
    var a1 = weights[bb + 1u];
    var a2 = weights[bb + 2u];
    var a3 = weights[bb + 3u];
    let at = (n * d.src_c + d.src_off) * d.ohw + r;
    let wb = d.w + ob * 4u;
    for (var k = 0u; k < d.k; k++) {
        let x = src[at + k * d.ohw];
        let w = wb + k * d.mp4;
        a0 += weights[w] * x;
        a1 += weights[w + 1u] * x;
        a2 += weights[w + 2u] * x;
        a3 += weights[w + 3u] * x;
    }
    return array<vec4<f32>, 4>(a0, a1, a2, a3);
}

@compute @workgroup_size(64)
fn pw_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let d = params.pw[wg.z];
    let pp = wg.x * 64u + lid;
    let o0 = wg.y * 16u;
    if pp >= d.p || o0 >= d.m {
        return;
    }
    let n = pp / d.ohw;
    let r = pp % d.ohw;
    var acc = block(d, n, r, wg.y);
    for (var j = 0u; j < 16u; j++) {
        let o = o0 + j;
        if o >= d.m {
            break;
        }
        dst[(n * d.dst_c + o * d.out_mul + d.out_add) * d.ohw + r] = max(acc[j / 4u][j % 4u], 0.0);
        if d.copy_c != 0u {
            dst[(n * d.dst_c + 2u * o) * d.ohw + r] = src2[(n * d.copy_c + o) * d.ohw + r];
        }
    }
}

// Workgroup (image wg.x, channel block wg.y) sums act(conv5) over the image's pixels.
@compute @workgroup_size(64)
fn head_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let d = params.pw[0];
    let n = wg.x;
    var sum: array<vec4<f32>, 4>;
    for (var r = lid; r < d.ohw; r += 64u) {
        var acc = block(d, n, r, wg.y);
        for (var i = 0u; i < 4u; i++) {
            sum[i] += head_act(acc[i], d.act);
        }
    }
    for (var i = 0u; i < 4u; i++) {
        red[i * 64u + lid] = sum[i];
    }
    workgroupBarrier();
    if lid < 4u {
        var total = vec4<f32>(0.0);
        for (var t = 0u; t < 64u; t++) {
            total += red[lid * 64u + t];
        }
        total /= f32(d.ohw);
        for (var j = 0u; j < 4u; j++) {
            let o = wg.y * 16u + lid * 4u + j;
            if o < d.m {
                dst[n * d.dst_c + o] = total[j];
            }
        }
    }
}

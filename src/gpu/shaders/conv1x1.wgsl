// Tiled 1x1 convolution (a GEMM: out[o][p] = sum_k W[o][k] * X[k][p]) with everything a
// ShuffleNetV2 unit needs folded into how tiles are loaded and stored:
//
// * `mode 0`: X is read straight from `src` at a channel offset. The stride-1 split is
//   this offset (`src_off`), never a copy.
// * `mode 1`: X is the output of a 3x3 depthwise conv (folded BN, no ReLU) computed while the
//   tile is loaded. Fusing depthwise into the following 1x1 saves a dispatch and a full
//   round trip of the depthwise activations through memory; its cost is recomputing each
//   depthwise value once per 64-channel output block (9 MACs against 64+ for the 1x1).
// * Stores go to channel `o * out_mul + out_add`: with (2, 1) or (2, 0) that is torch's
//   concat followed by channel_shuffle(groups=2), so neither needs its own kernel.
// * `copy_c > 0` (stride-1 units): the same tile also copies pass-through channel o to
//   output channel 2o, completing the unit in this one dispatch.
// * Stride-2 units run both branches (depthwise 3x3/2 -> 1x1) in one dispatch:
//   workgroup_id.z picks the branch's parameters.
// * `head_main`: conv5 + ReLU + global average pool in one dispatch; each workgroup walks
//   every pixel tile of one image so the pool is a register sum, not a second pass.
//
// Pixels (batch folded in, p = n * ohw + y * ow + x) are the GEMM's columns, so small late
// stages still fill 64-wide tiles when the batch is larger than one.

struct Conv {
    m: u32,        // output channels
    k: u32,        // input channels (reduction length)
    p: u32,        // output pixels over the whole batch
    ohw: u32,      // output pixels per image
    ow: u32,       // output width
    ih: u32,       // depthwise input height
    iw: u32,       // depthwise input width
    stride: u32,   // depthwise stride
    src_c: u32,    // channels per image in the tensor X is read from
    src_off: u32,  // first channel read (the split)
    dst_c: u32,    // channels per image in dst
    out_mul: u32,
    out_add: u32,
    w_off: u32,    // 1x1 weights [m][k] in `weights`
    b_off: u32,    // 1x1 bias [m]
    dw_w_off: u32, // depthwise weights [k][9]
    dw_b_off: u32, // depthwise bias [k]
    mode: u32,     // 0: plain 1x1, 1: depthwise then 1x1
    sel: u32,      // X comes from 0: src, 1: src2
    copy_c: u32,   // > 0: copy pass-through channels from src (which has copy_c channels)
    relu: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

struct Params {
    conv: array<Conv, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> src2: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

const TM: u32 = 64u; // output channels per tile
const TP: u32 = 64u; // pixels per tile
const TK: u32 = 16u; // reduction chunk

var<workgroup> ws: array<f32, 1024>; // [TK][TM]
var<workgroup> xs: array<f32, 1024>; // [TK][TP]
var<workgroup> red: array<f32, 1024>; // head: per-thread partial pools

fn read_x(sel: u32, i: u32) -> f32 {
    if sel == 0u {
        return src[i];
    }
    return src2[i];
}

// Value of X[kk][pp] (kk, pp already bounds-checked).
fn x_value(c: Conv, kk: u32, pp: u32) -> f32 {
    let n = pp / c.ohw;
    let r = pp % c.ohw;
    let plane = (n * c.src_c + c.src_off + kk);
    if c.mode == 0u {
        return read_x(c.sel, plane * c.ohw + r);
    }
    let oy = i32(r / c.ow);
    let ox = i32(r % c.ow);
    let base = plane * c.ih * c.iw;
    var acc = weights[c.dw_b_off + kk];
    for (var ky = 0; ky < 3; ky++) {
        let iy = oy * i32(c.stride) + ky - 1;
        if iy < 0 || iy >= i32(c.ih) {
            continue;
        }
        for (var kx = 0; kx < 3; kx++) {
            let ix = ox * i32(c.stride) + kx - 1;
            if ix < 0 || ix >= i32(c.iw) {
                continue;
            }
            acc += weights[c.dw_w_off + kk * 9u + u32(ky * 3 + kx)]
                * read_x(c.sel, base + u32(iy) * c.iw + u32(ix));
        }
    }
    return acc;
}

// The 4x4 block of a 64x64 output tile owned by thread `lid`: rows (channels)
// m0 + ty + 16i, columns (pixels) p0 + tx + 16j, for pixels below `p_end`.
fn gemm_tile(c: Conv, m0: u32, p0: u32, p_end: u32, lid: u32) -> array<vec4<f32>, 4> {
    let tx = lid % 16u;
    let ty = lid / 16u;
    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < c.k; k0 += TK) {
        for (var e = lid; e < TK * TM; e += 256u) {
            let m = e / TK;
            let kk = e % TK;
            var v = 0.0;
            if m0 + m < c.m && k0 + kk < c.k {
                v = weights[c.w_off + (m0 + m) * c.k + k0 + kk];
            }
            ws[kk * TM + m] = v;
        }
        for (var e = lid; e < TK * TP; e += 256u) {
            let kk = e / TP;
            let pl = e % TP;
            var v = 0.0;
            if p0 + pl < p_end && k0 + kk < c.k {
                v = x_value(c, k0 + kk, p0 + pl);
            }
            xs[kk * TP + pl] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let a = vec4<f32>(ws[kk * TM + ty], ws[kk * TM + ty + 16u], ws[kk * TM + ty + 32u], ws[kk * TM + ty + 48u]);
            let b = vec4<f32>(xs[kk * TP + tx], xs[kk * TP + tx + 16u], xs[kk * TP + tx + 32u], xs[kk * TP + tx + 48u]);
            acc[0] += a.x * b;
            acc[1] += a.y * b;
            acc[2] += a.z * b;
            acc[3] += a.w * b;
        }
        workgroupBarrier();
    }
    return acc;
}

@compute @workgroup_size(256)
fn unit_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = params.conv[wg.z];
    let m0 = wg.y * TM;
    let p0 = wg.x * TP;
    let acc = gemm_tile(c, m0, p0, c.p, lid);
    let tx = lid % 16u;
    let ty = lid / 16u;
    for (var i = 0u; i < 4u; i++) {
        let o = m0 + ty + 16u * i;
        if o >= c.m {
            continue;
        }
        let bias = weights[c.b_off + o];
        for (var j = 0u; j < 4u; j++) {
            let pp = p0 + tx + 16u * j;
            if pp >= c.p {
                continue;
            }
            let n = pp / c.ohw;
            let r = pp % c.ohw;
            var v = acc[i][j] + bias;
            if c.relu != 0u {
                v = max(v, 0.0);
            }
            dst[(n * c.dst_c + o * c.out_mul + c.out_add) * c.ohw + r] = v;
            if c.copy_c != 0u {
                dst[(n * c.dst_c + 2u * o) * c.ohw + r] = src[(n * c.copy_c + o) * c.ohw + r];
            }
        }
    }
}

// conv5 (1x1 + folded BN + ReLU) and the global average pool: workgroup (channel block
// wg.y, image wg.x) sums ReLU outputs over all of the image's pixel tiles.
@compute @workgroup_size(256)
fn head_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = params.conv[0];
    let m0 = wg.y * TM;
    let n = wg.x;
    let tx = lid % 16u;
    let ty = lid / 16u;
    var bias = vec4<f32>(0.0);
    for (var i = 0u; i < 4u; i++) {
        let o = m0 + ty + 16u * i;
        if o < c.m {
            bias[i] = weights[c.b_off + o];
        }
    }
    var sum = vec4<f32>(0.0);
    let p_end = (n + 1u) * c.ohw;
    for (var p0 = n * c.ohw; p0 < p_end; p0 += TP) {
        let acc = gemm_tile(c, m0, p0, p_end, lid);
        for (var j = 0u; j < 4u; j++) {
            if p0 + tx + 16u * j < p_end {
                sum += max(vec4<f32>(acc[0][j], acc[1][j], acc[2][j], acc[3][j]) + bias, vec4<f32>(0.0));
            }
        }
    }
    for (var i = 0u; i < 4u; i++) {
        red[(ty + 16u * i) * 16u + tx] = sum[i];
    }
    workgroupBarrier();
    if lid < TM && m0 + lid < c.m {
        var total = 0.0;
        for (var t = 0u; t < 16u; t++) {
            total += red[lid * 16u + t];
        }
        dst[n * c.dst_c + m0 + lid] = total / f32(c.ohw);
    }
}

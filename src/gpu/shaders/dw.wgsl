// First half of a unit branch: [1x1 + folded BN + ReLU] -> depthwise 3x3 (folded BN, no ReLU).
//
// Why this fusion: a depthwise channel only needs the same channel of the 1x1 before it, so
// a workgroup owns 16 channels of a spatial tile, computes the 1x1 for the tile plus its
// 1-pixel halo into workgroup memory, and runs the depthwise from there. The 1x1 output never
// touches global memory; the price is recomputing the halo (zero at image borders, where
// it is padding). The 1x1 weights are read at workgroup-uniform addresses (broadcast loads),
// which is what software GPUs (lavapipe, SwiftShader) run fastest.
//
// Stride-2 units also run branch 1's depthwise (straight from the input, no 1x1) in this
// dispatch: workgroup_id.z = image * branches + branch.

struct Dw {
    c: u32,        // channels produced (1x1 outputs = depthwise channels)
    k: u32,        // 1x1 input channels; 0: no 1x1, the depthwise reads the input directly
    src_c: u32,    // channels per image in src
    src_off: u32,  // first input channel read (the stride-1 split is this offset)
    ih: u32,
    iw: u32,
    oh: u32,
    ow: u32,
    stride: u32,
    tile: u32,     // output tile side
    tiles_x: u32,
    branches: u32,
    pw_w: u32,     // 1x1 weights, transposed [k][cp] in vec4s
    cp4: u32,      // padded channel count / 4
    pw_b: u32,     // 1x1 bias (padded) in vec4s
    dw_w: u32,     // depthwise weights [c][9]
    dw_b: u32,     // depthwise bias [c]
    dst_c: u32,    // channels per image in dst
    dst_off: u32,  // first dst channel written
    quads: u32,    // hardware set only
    split: u32,    // hardware set only
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

struct Params {
    dw: array<Dw, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

const HALO: u32 = 16u; // halo tile side: 14 + 2 (stride 1) or 2 * 7 + 1 (stride 2)
var<workgroup> halo_tile: array<f32, 4096>; // [16 channels][HALO * HALO]

fn weight(i: u32) -> f32 {
    return weights[i / 4u][i % 4u];
}

@compute @workgroup_size(256)
fn dw_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let d = params.dw[wg.z % params.dw[0].branches];
    let n = wg.z / params.dw[0].branches;
    let c0 = wg.y * 16u;
    if c0 >= d.c {
        return;
    }
    let ty0 = (wg.x / d.tiles_x) * d.tile;
    let tx0 = (wg.x % d.tiles_x) * d.tile;
    // Halo pixel `lid` of this tile, in input coordinates.
    let iy = i32(ty0 * d.stride + lid / HALO) - 1;
    let ix = i32(tx0 * d.stride + lid % HALO) - 1;
    let inside = iy >= 0 && iy < i32(d.ih) && ix >= 0 && ix < i32(d.iw);
    var v: array<vec4<f32>, 4>;
    if inside {
        let plane = d.ih * d.iw;
        let at = (n * d.src_c + d.src_off) * plane + u32(iy) * d.iw + u32(ix);
        if d.k == 0u {
            for (var j = 0u; j < 16u; j++) {
                if c0 + j < d.c {
                    v[j / 4u][j % 4u] = src[at + (c0 + j) * plane];
                }
            }
        } else {
            let wb = d.pw_w + c0 / 4u;
            let bb = d.pw_b + c0 / 4u;
            var a0 = weights[bb];
            var a1 = weights[bb + 1u];
            var a2 = weights[bb + 2u];
            var a3 = weights[bb + 3u];
            for (var k = 0u; k < d.k; k++) {
                let x = src[at + k * plane];
                let w = wb + k * d.cp4;
                a0 += weights[w] * x;
                a1 += weights[w + 1u] * x;
                a2 += weights[w + 2u] * x;
                a3 += weights[w + 3u] * x;
            }
            let zero = vec4<f32>(0.0);
            v = array<vec4<f32>, 4>(max(a0, zero), max(a1, zero), max(a2, zero), max(a3, zero));
        }
    }
    // Outside the image the depthwise sees its zero padding.
    for (var j = 0u; j < 16u; j++) {
        halo_tile[j * HALO * HALO + lid] = v[j / 4u][j % 4u];
    }
    workgroupBarrier();
    let count = 16u * d.tile * d.tile;
    for (var e = lid; e < count; e += 256u) {
        let j = e / (d.tile * d.tile);
        let q = e % (d.tile * d.tile);
        let ly = q / d.tile;
        let lx = q % d.tile;
        let oy = ty0 + ly;
        let ox = tx0 + lx;
        let ch = c0 + j;
        if oy >= d.oh || ox >= d.ow || ch >= d.c {
            continue;
        }
        var acc = weight(d.dw_b + ch);
        let base = j * HALO * HALO + (ly * d.stride) * HALO + lx * d.stride;
        for (var ky = 0u; ky < 3u; ky++) {
            for (var kx = 0u; kx < 3u; kx++) {
                acc += weight(d.dw_w + ch * 9u + ky * 3u + kx) * halo_tile[base + ky * HALO + kx];
            }
        }
        dst[((n * d.dst_c + d.dst_off + ch) * d.oh + oy) * d.ow + ox] = acc;
    }
}

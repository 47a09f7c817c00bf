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

#import dw_io

const HALO: u32 = 16u; // halo tile side: 14 + 2 (stride 1) or 2 * 7 + 1 (stride 2)
var<workgroup> halo_tile: array<f32, 4096>; // [16 channels][HALO * HALO]

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
    // Halo pixel `lid` of this tile.
    let pixel = halo_pixel(d, n, ty0, tx0, lid, HALO);
    var v: array<vec4<f32>, 4>;
    if pixel.inside {
        let plane = d.ih * d.iw;
        if d.k == 0u {
            for (var j = 0u; j < 16u; j++) {
                if c0 + j < d.c {
                    v[j / 4u][j % 4u] = src[pixel.at + (c0 + j) * plane];
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
                let x = src[pixel.at + k * plane];
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
    depthwise(d, n, c0, 16u, ty0, tx0, HALO, lid);
}

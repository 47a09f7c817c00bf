// conv1 (3x3/2, folded BN, ReLU or the tutorial's ReLU6) fused with the 3x3/2 max pool (padding 1).
//
// Why: the conv output is the largest activation of the network (4x the pooled map); keeping
// it in workgroup memory saves that round trip and a dispatch. A workgroup owns an 8 x 4
// tile of pooled pixels: it loads the 35 x 19 x 3 input patch once, then per group of 8
// channels computes the 17 x 9 conv outputs under the pool windows into workgroup memory
// and pools them. Conv weights are read at workgroup-uniform addresses.

#import Stem
#import activation

@group(0) @binding(0) var<uniform> s: Stem;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

const PW: u32 = 8u;          // pooled tile width
const PH: u32 = 4u;          // pooled tile height
const CW: u32 = 2u * PW + 1u; // conv tile 17 x 9
const CH: u32 = 2u * PH + 1u;
const IW: u32 = 2u * CW + 1u; // input tile 35 x 19
const IH: u32 = 2u * CH + 1u;
const G: u32 = 8u;           // channels per group

var<workgroup> input_tile: array<f32, 1995>; // [3][IH][IW]
var<workgroup> conv_tile: array<f32, 1224>;  // [G][CH][CW]

@compute @workgroup_size(64)
fn stem_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = wg.z;
    let px0 = wg.x * PW;
    let py0 = wg.y * PH;
    // Tile origins: conv (2p - 1) and input (2c - 1).
    let cx0 = i32(2u * px0) - 1;
    let cy0 = i32(2u * py0) - 1;
    let ix0 = 2 * cx0 - 1;
    let iy0 = 2 * cy0 - 1;
    for (var e = lid; e < 3u * IH * IW; e += 64u) {
        let c = e / (IH * IW);
        let iy = iy0 + i32((e % (IH * IW)) / IW);
        let ix = ix0 + i32(e % IW);
        var v = 0.0; // the conv's zero padding
        if iy >= 0 && iy < i32(s.ih) && ix >= 0 && ix < i32(s.iw) {
            v = src[((n * 3u + c) * s.ih + u32(iy)) * s.iw + u32(ix)];
        }
        input_tile[e] = v;
    }
    workgroupBarrier();
    for (var g = 0u; g < s.oc; g += G) {
        for (var e = lid; e < CH * CW; e += 64u) {
            let cy = e / CW;
            let cx = e % CW;
            var acc: array<f32, 8>;
            for (var j = 0u; j < G; j++) {
                acc[j] = weights[s.b_off + min(g + j, s.oc - 1u)];
            }
            for (var c = 0u; c < 3u; c++) {
                for (var ky = 0u; ky < 3u; ky++) {
                    for (var kx = 0u; kx < 3u; kx++) {
                        let x = input_tile[(c * IH + 2u * cy + ky) * IW + 2u * cx + kx];
                        let t = (c * 3u + ky) * 3u + kx;
                        for (var j = 0u; j < G; j++) {
                            acc[j] += weights[s.w_off + min(g + j, s.oc - 1u) * 27u + t] * x;
                        }
                    }
                }
            }
            // ReLU and ReLU6 outputs are >= 0 and every pool window holds a real conv output, so a
            // 0 for positions outside the conv map never wins the max wrongly.
            let y = cy0 + i32(cy);
            let x = cx0 + i32(cx);
            let valid = y >= 0 && y < i32(s.ch) && x >= 0 && x < i32(s.cw);
            for (var j = 0u; j < G; j++) {
                conv_tile[j * CH * CW + e] = select(0.0, activate(acc[j], s.act), valid);
            }
        }
        workgroupBarrier();
        for (var e = lid; e < G * PH * PW; e += 64u) {
            let j = e / (PH * PW);
            let py = (e % (PH * PW)) / PW;
            let px = e % PW;
            let o = g + j;
            if o >= s.oc || py0 + py >= s.ph || px0 + px >= s.pw {
                continue;
            }
            var best = 0.0;
            for (var dy = 0u; dy < 3u; dy++) {
                for (var dx = 0u; dx < 3u; dx++) {
                    best = max(best, conv_tile[(j * CH + 2u * py + dy) * CW + 2u * px + dx]);
                }
            }
            dst[((n * s.oc + o) * s.ph + py0 + py) * s.pw + px0 + px] = best;
        }
        workgroupBarrier();
    }
}

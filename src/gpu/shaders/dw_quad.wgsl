// Hardware set: first half of a unit branch, [1x1 + folded BN + ReLU] -> depthwise 3x3
// (folded BN, no ReLU), fused as in dw.wgsl: the 1x1 output of a tile and its halo stays in
// workgroup memory.
//
// Why this shape: dw.wgsl gives a workgroup 16 channels of a 16 x 16 halo, so the 14 x 14
// and 7 x 7 maps of stages 3 and 4 launch only 8 to 64 workgroups, most of their lanes
// idle on 7 x 7. Here an invocation owns one halo pixel x one channel quad (a vec4 of 1x1
// outputs from vec4 weight loads), and a workgroup takes as many quads as fit 256 lanes
// beside its halo (`quads`: 1 on a 16 x 16 or 15 x 15 halo, 3 on 7 x 7's 9 x 9): 4 to 12
// channels per workgroup, several times the workgroups.
//
// Where a 1x1 has many inputs (x1.5 and x2.0 late stages) its reduction is split `split`
// ways over more lanes of the workgroup and the slices summed in workgroup memory.
//
// Stride-2 units also run branch 1's depthwise (straight from the input, no 1x1) in this
// dispatch: workgroup_id.z = image * branches + branch.

#import dw_io

// [split][4 * quads channels][halo pixels]; split * quads * halo pixels <= 256. Slice 0
// ends up holding the 1x1 outputs the depthwise reads.
var<workgroup> halo_tile: array<f32, 1024>;

@compute @workgroup_size(256)
fn dw_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let d = params.dw[wg.z % params.dw[0].branches];
    let n = wg.z / params.dw[0].branches;
    let c0 = wg.y * 4u * d.quads;
    if c0 >= d.c {
        return;
    }
    let side = (d.tile - 1u) * d.stride + 3u; // halo side
    let hp = side * side;
    let ty0 = (wg.x / d.tiles_x) * d.tile;
    let tx0 = (wg.x % d.tiles_x) * d.tile;
    let lanes = d.quads * hp; // lanes per slice
    let s = lid / lanes;
    let q = (lid % lanes) / hp;
    let px = lid % hp;
    let ch0 = c0 + 4u * q;
    let pixel = halo_pixel(d, n, ty0, tx0, px, side);
    // This lane's slice of the 1x1 (or, without a 1x1, slice 0 loads the input).
    var v = vec4<f32>(0.0);
    if s < d.split && ch0 < d.c && pixel.inside {
        let plane = d.ih * d.iw;
        if d.k == 0u {
            for (var i = 0u; i < 4u && s == 0u; i++) {
                if ch0 + i < d.c {
                    v[i] = src[pixel.at + (ch0 + i) * plane];
                }
            }
        } else {
            if s == 0u {
                v = weights[d.pw_b + ch0 / 4u];
            }
            for (var k = s; k < d.k; k += d.split) {
                v += weights[d.pw_w + k * d.cp4 + ch0 / 4u] * src[pixel.at + k * plane];
            }
        }
    }
    let slot = (4u * q + s * 4u * d.quads) * hp + px;
    if s < d.split {
        for (var i = 0u; i < 4u; i++) {
            halo_tile[slot + i * hp] = v[i];
        }
    }
    workgroupBarrier();
    // Slice 0 adds the other slices, then the 1x1's ReLU (outside the image all are 0).
    if s == 0u && d.split > 1u {
        for (var t = 1u; t < d.split; t++) {
            for (var i = 0u; i < 4u; i++) {
                v[i] += halo_tile[slot + (t * 4u * d.quads + i) * hp];
            }
        }
    }
    if s == 0u && d.k != 0u {
        v = max(v, vec4<f32>(0.0));
    }
    if s == 0u {
        for (var i = 0u; i < 4u; i++) {
            halo_tile[slot + i * hp] = v[i];
        }
    }
    workgroupBarrier();
    depthwise(d, n, c0, 4u * d.quads, ty0, tx0, side, lid);
}

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

#import pw_io

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
        if o0 + j >= d.m {
            break;
        }
        store_unit(d, n, r, o0 + j, acc[j / 4u][j % 4u]);
    }
}

// Workgroup (image wg.x, channel block wg.y) sums act(conv5) over the image's pixels, 64
// partial pools per channel quad.
@compute @workgroup_size(64)
fn head_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let d = params.pw[0];
    let n = wg.x;
    var sum: array<vec4<f32>, 4>;
    for (var r = lid; r < d.ohw; r += 64u) {
        var acc = block(d, n, r, wg.y);
        for (var i = 0u; i < 4u; i++) {
            sum[i] += activate4(acc[i], d.act);
        }
    }
    for (var i = 0u; i < 4u; i++) {
        red[i * 64u + lid] = sum[i];
    }
    workgroupBarrier();
    pool_lanes(d, n, wg.y * 16u, lid, 64u);
}

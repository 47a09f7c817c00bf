// Hardware set: the last 1x1 + folded BN + ReLU of each branch (stored shuffled, stride-1
// pass-through copied, as pw.wgsl), and conv5 + its activation + global average pool
// (`head_main`; where subgroups have 16 lanes or more, head_subgroup.wgsl, which imports this,
// runs it instead).
//
// Why this shape: a real GPU needs thousands of invocations per dispatch and short serial
// chains, where pw.wgsl gives each invocation 16 channels of one pixel and the whole
// reduction. Here a workgroup of 256 computes a tile of 16 output channels x 4*pq pixels:
// - each invocation holds a register tile of 4 channels (one vec4) x 4 pixels;
// - the reduction over input channels is split `split` ways (split * pq * 4 = 256); the
//   slices are summed through workgroup memory at the end;
// - weights are staged through workgroup memory, 64 input channels at a time, one vec4
//   load per invocation, so each weight is read from memory once per workgroup.
// Small late maps get narrow pixel tiles and a long split (see `pw_tile` in plan/tiles.rs).

#import pw_io

const CQ: u32 = 4u;  // channel quads per tile: 16 output channels
const KC: u32 = 64u; // input channels of weights staged per round (KC * CQ = 256 vec4s)

var<workgroup> wtile: array<vec4<f32>, 256>; // [KC][CQ]

// Where invocation `lid` sits in the tile: pixel quad, channel quad, reduction slice.
struct Lane {
    pq: u32,
    cq: u32,
    s: u32,
}

fn lane(d: Pw, lid: u32) -> Lane {
    return Lane(lid % d.pq, (lid / d.pq) % CQ, lid / (d.pq * CQ));
}

// Partial sums of slice l.s (input channels l.s, l.s + split, ...) of channels c0 + 4 * l.cq
// .. + 3 at pixels px0 + l.pq + j * pq_count (j = 0..3), no bias. `lid` stages the weights.
// Every invocation of the workgroup must call it (it has barriers).
fn tile_partials(d: Pw, l: Lane, px0: u32, c0: u32, lid: u32) -> array<vec4<f32>, 4> {
    // Input offsets of the 4 pixels; pixels past the end read pixel 0 and are not stored.
    var at: array<u32, 4>;
    for (var j = 0u; j < 4u; j++) {
        let pp = px0 + l.pq + j * d.pq;
        let q = select(0u, pp, pp < d.p);
        at[j] = ((q / d.ohw) * d.src_c + d.src_off) * d.ohw + q % d.ohw;
    }
    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < d.k; k0 += KC) {
        let row = k0 + lid / CQ;
        var wv = vec4<f32>(0.0);
        if row < d.k {
            wv = weights[d.w + row * d.mp4 + c0 / 4u + lid % CQ];
        }
        wtile[lid] = wv;
        workgroupBarrier();
        let rows = min(KC, d.k - k0);
        for (var r = l.s; r < rows; r += d.split) {
            let w = wtile[r * CQ + l.cq];
            let off = (k0 + r) * d.ohw;
            acc[0] += w * src[at[0] + off];
            acc[1] += w * src[at[1] + off];
            acc[2] += w * src[at[2] + off];
            acc[3] += w * src[at[3] + off];
        }
        workgroupBarrier();
    }
    return acc;
}

// Slice 0 adds the other slices' partial sums through workgroup memory, one pixel at a
// time: the invocation at red slot `slot` holds slice s, slice t of its pixels sits at
// slot + t * stride. Every invocation must call it (it has barriers).
fn sum_slices(d: Pw, part: array<vec4<f32>, 4>, slot: u32, stride: u32, s: u32) -> array<vec4<f32>, 4> {
    var acc = part;
    for (var j = 0u; j < 4u; j++) {
        red[slot] = acc[j];
        workgroupBarrier();
        if s == 0u {
            for (var t = 1u; t < d.split; t++) {
                acc[j] += red[slot + t * stride];
            }
        }
        workgroupBarrier();
    }
    return acc;
}

fn add_bias(d: Pw, sums: array<vec4<f32>, 4>, c0: u32, cq: u32) -> array<vec4<f32>, 4> {
    var acc = sums;
    let bias = weights[d.b + c0 / 4u + cq];
    for (var j = 0u; j < 4u; j++) {
        acc[j] += bias;
    }
    return acc;
}

// Pre-activation outputs (bias included) of channels c0 + 4 * cq .. + 3 at the invocation's
// pixels px0 + pq + j * pq_count (j = 0..3). Complete in slice 0 only. Every invocation of
// the workgroup must call it (it has barriers).
fn tile_sums(d: Pw, px0: u32, c0: u32, lid: u32) -> array<vec4<f32>, 4> {
    let l = lane(d, lid);
    let part = tile_partials(d, l, px0, c0, lid);
    return add_bias(d, sum_slices(d, part, lid, d.pq * CQ, l.s), c0, l.cq);
}

@compute @workgroup_size(256)
fn pw_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let d = params.pw[wg.z];
    let c0 = wg.y * 16u;
    if c0 >= d.m {
        return;
    }
    let px0 = wg.x * 4u * d.pq;
    let acc = tile_sums(d, px0, c0, lid);
    let l = lane(d, lid);
    if l.s != 0u {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let pp = px0 + l.pq + j * d.pq;
        if pp >= d.p {
            break;
        }
        let n = pp / d.ohw;
        let r = pp % d.ohw;
        for (var i = 0u; i < 4u; i++) {
            let o = c0 + l.cq * 4u + i;
            if o >= d.m {
                break;
            }
            store_unit(d, n, r, o, acc[j][i]);
        }
    }
}

// Workgroup (image wg.x, 16 channels wg.y): conv5 tile by tile over the image's pixels,
// ReLU, each slice-0 invocation pools its pixels, then the pixel lanes are pooled.
@compute @workgroup_size(256)
fn head_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let d = params.pw[0];
    let n = wg.x;
    let c0 = wg.y * 16u;
    if c0 >= d.m {
        return;
    }
    let l = lane(d, lid);
    let end = (n + 1u) * d.ohw;
    var pool = vec4<f32>(0.0);
    for (var px0 = n * d.ohw; px0 < end; px0 += 4u * d.pq) {
        let acc = tile_sums(d, px0, c0, lid);
        for (var j = 0u; j < 4u; j++) {
            if px0 + l.pq + j * d.pq < end {
                pool += activate4(acc[j], d.act);
            }
        }
    }
    // Slice 0 of lane (cq, pq) is lid = cq * pq_count + pq.
    red[lid] = pool;
    workgroupBarrier();
    pool_lanes(d, n, c0, lid, d.pq);
}

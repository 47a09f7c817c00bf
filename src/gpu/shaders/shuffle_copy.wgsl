// The pass-through half of a stride-1 unit the fused kernels do not run (the tutorial's,
// issue 11): copied into its channels of the concatenation after the `shuffle`-way channel
// shuffle, as conv.wgsl stores the processed half. Both kernel sets use it: it is pure
// data movement, one value per invocation (workgroup_id.y is the channel).

#import conv_io

@compute @workgroup_size(64)
fn copy_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let pp = wg.x * 64u + lid;
    let o = wg.y;
    if pp >= d.p || o >= d.m {
        return;
    }
    let n = pp / d.ohw;
    let r = pp % d.ohw;
    dst[shuffled(n, d.cat_off + o, r)] = src[(n * d.src_c + d.src_off + o) * d.ohw + r];
}

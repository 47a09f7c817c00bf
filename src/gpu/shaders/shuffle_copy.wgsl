// The pass-through half of a stride-1 unit the fused kernels do not run (the tutorial's,
// issue 11): copied into its channels of the concatenation after the `shuffle`-way channel
// shuffle, as conv.wgsl stores the processed half. Both kernel sets use it: it is pure
// data movement, one value per invocation (workgroup_id.y is the channel).

struct Conv {
    p: u32,        // pixels over the batch
    ohw: u32,      // pixels per image
    ih: u32,
    iw: u32,
    ow: u32,
    stride: u32,
    taps: u32,
    k: u32,
    m: u32,        // channels copied
    bpg: u32,
    src_c: u32,    // channels per image in src
    src_off: u32,  // first src channel copied
    dst_c: u32,    // channels per image in dst
    cat_off: u32,  // the half's first channel in the concatenation
    cpg: u32,      // concatenated channels per shuffle group
    shuffle: u32,  // shuffle groups (1: none)
    w: u32,
    b: u32,
    act: u32,
    split: u32,
}

@group(0) @binding(0) var<uniform> d: Conv;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn copy_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let pp = wg.x * 64u + lid;
    let o = wg.y;
    if pp >= d.p || o >= d.m {
        return;
    }
    let n = pp / d.ohw;
    let r = pp % d.ohw;
    let c = d.cat_off + o;
    let dc = (c % d.cpg) * d.shuffle + c / d.cpg;
    dst[(n * d.dst_c + dc) * d.ohw + r] = src[(n * d.src_c + d.src_off + o) * d.ohw + r];
}

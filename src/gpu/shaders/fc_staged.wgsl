// What fc_split.wgsl and fc_subgroup.wgsl share: a workgroup of 256 takes COLS classes of
// one image and reads the image's pooled features through workgroup memory, CHUNK at a time.

#import fc_io

const COLS: u32 = 16u;    // classes per workgroup
const CHUNK: u32 = 1024u; // features staged per round

var<workgroup> feat: array<f32, 1024>;

// Features f0 .. f0 + len of image n into `feat`. Every invocation must call it (it ends
// with a barrier); the caller's barrier after using `feat` ends the round.
fn stage_features(n: u32, f0: u32, len: u32, lid: u32) {
    for (var i = lid; i < len; i += 256u) {
        feat[i] = src[n * f.in_f + f0 + i];
    }
    workgroupBarrier();
}

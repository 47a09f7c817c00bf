// The classifier on the pooled features: one thread per (class, image). Weights are
// transposed to [in][out] so neighbouring threads read neighbouring weights and the
// feature value is a workgroup-uniform load.

#import fc_io

@compute @workgroup_size(64)
fn fc_main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let o = gid.x;
    let n = gid.y;
    if o >= f.out_f {
        return;
    }
    var acc = weights[f.b_off + o];
    for (var i = 0u; i < f.in_f; i++) {
        acc += weights[f.w_off + i * f.out_f + o] * src[n * f.in_f + i];
    }
    dst[n * f.out_f + o] = acc;
}

// The classifier on the pooled features: one thread per (class, image). Weights are
// transposed to [in][out] so neighbouring threads read neighbouring weights and the
// feature value is a workgroup-uniform load.

struct Fc {
    n: u32,
    in_f: u32,
    out_f: u32,
    w_off: u32,
    b_off: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> f: Fc;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

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

// The classifier on the pooled features: one thread per (class, image).

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
    if o >= f.out_f || n >= f.n {
        return;
    }
    let row = f.w_off + o * f.in_f;
    let x = n * f.in_f;
    var acc = vec4<f32>(0.0);
    var i = 0u;
    for (; i + 4u <= f.in_f; i += 4u) {
        acc += vec4<f32>(weights[row + i], weights[row + i + 1u], weights[row + i + 2u], weights[row + i + 3u])
            * vec4<f32>(src[x + i], src[x + i + 1u], src[x + i + 2u], src[x + i + 3u]);
    }
    var total = weights[f.b_off + o] + acc.x + acc.y + acc.z + acc.w;
    for (; i < f.in_f; i++) {
        total += weights[row + i] * src[x + i];
    }
    dst[n * f.out_f + o] = total;
}

// Hardware set: the classifier with the reduction split. fc.wgsl gives each class one
// invocation and all 1,024+ features in a row (16 workgroups at x1.0); here a workgroup of
// 256 takes 16 classes x 16 slices of the features: the image's pooled features are shared
// through workgroup memory, each invocation sums every 16th feature (neighbouring lanes read
// neighbouring weights of the [in][out] layout), and the 16 partial sums are added at the end.

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

const COLS: u32 = 16u;    // classes per workgroup
const SLICES: u32 = 16u;  // COLS * SLICES = 256
const CHUNK: u32 = 1024u; // features staged per round

var<workgroup> feat: array<f32, 1024>;
var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn fc_main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = wg.y;
    let col = lid % COLS;
    let s = lid / COLS;
    let o = wg.x * COLS + col;
    var acc = 0.0;
    for (var f0 = 0u; f0 < f.in_f; f0 += CHUNK) {
        let len = min(CHUNK, f.in_f - f0);
        for (var i = lid; i < len; i += 256u) {
            feat[i] = src[n * f.in_f + f0 + i];
        }
        workgroupBarrier();
        if o < f.out_f {
            for (var i = s; i < len; i += SLICES) {
                acc += weights[f.w_off + (f0 + i) * f.out_f + o] * feat[i];
            }
        }
        workgroupBarrier();
    }
    part[lid] = acc;
    workgroupBarrier();
    if s == 0u && o < f.out_f {
        var total = weights[f.b_off + o];
        for (var t = 0u; t < SLICES; t++) {
            total += part[t * COLS + col];
        }
        dst[n * f.out_f + o] = total;
    }
}

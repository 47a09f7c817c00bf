// Hardware set: the classifier with the reduction split. fc.wgsl gives each class one
// invocation and all 1,024+ features in a row (16 workgroups at x1.0); here a workgroup of
// 256 takes 16 classes x 16 slices of the features: the image's pooled features are shared
// through workgroup memory, each invocation sums every 16th feature (neighbouring lanes read
// neighbouring weights of the [in][out] layout), and the 16 partial sums are added at the end.

#import fc_staged

const SLICES: u32 = 16u;  // COLS * SLICES = 256

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
        stage_features(n, f0, len, lid);
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

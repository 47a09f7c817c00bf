// Hardware set, where the adapter offers subgroups: the classifier with its reduction done by
// subgroupAdd instead of a workgroup-memory sum. A workgroup of 256 takes 16 classes. For
// each class every invocation sums every 256th feature (neighbouring lanes read neighbouring
// weights: this kernel's classifier is stored [out][in]), subgroupAdd adds a subgroup's lanes,
// and one lane per subgroup files that sum in a slot it takes with an atomic counter. Nothing
// here assumes how invocations are grouped into subgroups, nor their size (4 to 128).
// (No `enable subgroups;`: naga 30 rejects it and takes subgroup operations from the device's
// SUBGROUP feature instead.)

#import fc_staged

const SLOTS: u32 = 64u;   // subgroups per workgroup at most: 256 / the smallest size, 4

var<workgroup> part: array<f32, 1024>; // COLS * SLOTS
// Workgroup memory starts zeroed, so the counters need no reset.
var<workgroup> filed: array<atomic<u32>, 16>;

@compute @workgroup_size(256)
fn fc_main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let n = wg.y;
    let o0 = wg.x * COLS;
    var acc: array<f32, 16>;
    for (var f0 = 0u; f0 < f.in_f; f0 += CHUNK) {
        let len = min(CHUNK, f.in_f - f0);
        stage_features(n, f0, len, lid);
        for (var c = 0u; c < COLS; c++) {
            // Past the last class the last row is read again and its sum dropped: every
            // lane stays in the subgroup operations below.
            let row = f.w_off + min(o0 + c, f.out_f - 1u) * f.in_f + f0;
            for (var i = lid; i < len; i += 256u) {
                acc[c] += weights[row + i] * feat[i];
            }
        }
        workgroupBarrier();
    }
    for (var c = 0u; c < COLS; c++) {
        let total = subgroupAdd(acc[c]);
        // Every lane is active here (256 is a multiple of any subgroup size), so lane 0 is.
        if lane == 0u {
            part[c * SLOTS + atomicAdd(&filed[c], 1u)] = total;
        }
    }
    workgroupBarrier();
    let o = o0 + lid;
    if lid < COLS && o < f.out_f {
        var total = weights[f.b_off + o];
        let sums = atomicLoad(&filed[lid]);
        for (var t = 0u; t < sums; t++) {
            total += part[lid * SLOTS + t];
        }
        dst[n * f.out_f + o] = total;
    }
}

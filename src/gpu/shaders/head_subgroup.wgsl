// Hardware set, where every subgroup has at least 16 lanes: `head_main`'s conv5 + activation
// + global average pool (with pw_tiled.wgsl, whose tiles it shares), with each
// pixel's split-K sum done by a subgroupShuffleXor butterfly over the `split` lanes holding
// its slices, instead of two barriers and a serial read of workgroup memory.
//
// Lane roles put the slice fastest: role = s + split * (pq + pq_count * cq). Each subgroup
// takes a run of roles from a counter (lane `subgroup_invocation_id` of a subgroup that got
// `base` plays role base + id), so a pixel's slices are `split` aligned lanes of one
// subgroup whenever every subgroup is full and a multiple of split wide (sizes are powers
// of two, 4 to 128), however local_invocation_index maps to subgroups. The plan uses split
// 16 where the adapter's subgroup_min_size is 16 or more (tests force 4, 8 and 16). Vulkan
// does not promise full subgroups, so a workgroup that meets a partial or narrower subgroup
// takes roles from local_invocation_index and sums through workgroup memory instead: right
// whatever subgroups the device makes.
// (No `enable subgroups;`: naga 30 rejects it and takes subgroup operations from the device's
// SUBGROUP feature instead.)

#import pw_tiled

var<workgroup> roles_taken: atomic<u32>; // workgroup memory starts zeroed
var<workgroup> narrow: atomic<u32>;
var<workgroup> narrow_seen: u32;

@compute @workgroup_size(256)
fn head_subgroup_main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) sid: u32,
    @builtin(subgroup_size) size: u32,
) {
    let d = params.pw[0];
    let n = wg.x;
    let c0 = wg.y * 16u;
    if c0 >= d.m {
        return;
    }
    // The lowest active lane (naga 30 has no subgroupElect) takes the subgroup's roles.
    let present = subgroupAdd(1u);
    var base = 0u;
    if sid == subgroupMin(sid) {
        base = atomicAdd(&roles_taken, size);
        if present != size || size < d.split || size % d.split != 0u {
            atomicStore(&narrow, 1u);
        }
    }
    base = subgroupBroadcastFirst(base);
    workgroupBarrier();
    if lid == 0u {
        narrow_seen = atomicLoad(&narrow);
    }
    let in_memory = workgroupUniformLoad(&narrow_seen) != 0u;
    let role = select(base + sid, lid, in_memory);
    let l = Lane((role / d.split) % d.pq, role / (d.split * d.pq), role % d.split);

    let end = (n + 1u) * d.ohw;
    var pool = vec4<f32>(0.0);
    for (var px0 = n * d.ohw; px0 < end; px0 += 4u * d.pq) {
        var acc = tile_partials(d, l, px0, c0, lid);
        if in_memory {
            acc = sum_slices(d, acc, role, 1u, l.s);
        } else {
            // After log2(split) exchanges every lane of the run holds the run's sum.
            for (var m = 1u; m < d.split; m <<= 1u) {
                for (var j = 0u; j < 4u; j++) {
                    acc[j] += subgroupShuffleXor(acc[j], m);
                }
            }
        }
        acc = add_bias(d, acc, c0, l.cq);
        for (var j = 0u; j < 4u; j++) {
            if px0 + l.pq + j * d.pq < end {
                pool += activate4(acc[j], d.act);
            }
        }
    }
    if l.s == 0u {
        red[l.cq * d.pq + l.pq] = pool;
    }
    workgroupBarrier();
    pool_lanes(d, n, c0, lid, d.pq);
}

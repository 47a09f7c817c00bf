//! Tile heuristics: how each kernel's work is cut into workgroups for a map's shape, and
//! how its reductions are split. Pure arithmetic, no wgpu.

pub(super) fn div_up(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

/// Output tile side of the depthwise kernels: its halo (tile + 2, or 2 * tile + 1) must fit
/// a 16 x 16 workgroup tile.
pub(super) fn dw_tile(stride: usize) -> usize {
    if stride == 1 {
        14
    } else {
        7
    }
}

/// Invocations the hardware set gives every dispatch where the work allows: enough to
/// spread over the multiprocessors of a laptop or desktop GPU.
pub(super) const HW_MIN_INVOCATIONS: usize = 4096;
/// Invocations per workgroup of the hardware kernels.
pub(in crate::gpu) const HW_GROUP: usize = 256;

/// Register tile of `pw_tiled` for a 1x1 of `k` inputs over `pixels` pixels and `m`
/// outputs per branch: pixel quads per tile (4, 8, ... 64 pixels) and the reduction split
/// (64 / quads slices). The widest tile that still gives enough workgroups wins; small late
/// maps get narrower tiles and a longer split.
pub(super) fn pw_tile(k: usize, pixels: usize, m: usize, branches: usize) -> (usize, usize) {
    for pq in [16, 8, 4, 2] {
        let split = 64 / pq;
        let groups = div_up(pixels, 4 * pq) * div_up(m, 16) * branches;
        if groups * HW_GROUP >= HW_MIN_INVOCATIONS && div_up(k, split) + split <= 256 {
            return (pq, split);
        }
    }
    (1, 64)
}

/// Pixel quads and split of `head_tiled`: 16 pixels by 16 channels, a 16-way split.
const HEAD_PQ: usize = 4;

/// Pixel quads and split of the head: `head_tiled`'s, or with `head_lanes` lanes per
/// pixel's sum (`head_subgroup`) a `head_lanes`-way split over 64 / head_lanes quads.
pub(super) fn head_tile(head_lanes: usize) -> (usize, usize) {
    match 64usize.checked_div(head_lanes) {
        Some(pq) => (pq, head_lanes),
        None => (HEAD_PQ, 64 / HEAD_PQ),
    }
}
/// Slices of `fc_split`'s reduction (`fc_split.wgsl`: 16 classes x 16 slices).
pub(super) const FC_SLICES: usize = 16;
pub(super) const FC_COLS: usize = 16;

/// Channel quads per `dw_quad` workgroup: as many as fit 256 invocations beside the halo,
/// fewer when that leaves too few workgroups (narrow networks on 7 x 7 maps).
pub(super) fn dw_quads(halo_pixels: usize, channels: usize, other_groups: usize) -> usize {
    let fit = (HW_GROUP / halo_pixels).clamp(1, 4);
    (1..=fit)
        .rev()
        .find(|q| div_up(channels, 4 * q) * other_groups * HW_GROUP >= HW_MIN_INVOCATIONS)
        .unwrap_or(1)
}

/// Slices of `dw_quad`'s 1x1 reduction over `k` inputs: as few as keep its serial chain
/// within 256, as many as fit 256 lanes beside the halo.
pub(super) fn dw_split(k: usize, halo_pixels: usize) -> usize {
    let most = (HW_GROUP / halo_pixels).max(1);
    (1..=most).find(|&s| dw_serial(k, s) <= 256).unwrap_or(most)
}

/// `dw_quad`'s longest chain: one slice of the 1x1, the slices' sum, the 9 taps.
pub(super) fn dw_serial(k: usize, split: usize) -> usize {
    let sum = if split > 1 { split } else { 0 };
    div_up(k, split) + sum + 9
}

/// Slices of `conv_split`'s reduction over `r` steps for `pixels` output pixels and
/// `blocks` workgroups per pixel tile: a power of two that keeps a slice within 128 steps,
/// leaves no pixel lanes idle on small maps, and gives enough workgroups where it can.
pub(in crate::gpu) fn conv_split(r: usize, pixels: usize, blocks: usize) -> usize {
    let reduce = r.div_ceil(128).next_power_of_two();
    let fill = HW_GROUP / pixels.next_power_of_two().min(HW_GROUP);
    let mut split = reduce.max(fill).min(64);
    while split < 64 && div_up(pixels, HW_GROUP / split) * blocks * HW_GROUP < HW_MIN_INVOCATIONS {
        split *= 2;
    }
    split
}

// What dw.wgsl and dw_quad.wgsl share: the bindings, where a halo pixel reads its input, and
// the depthwise 3x3 from the halo tile in workgroup memory (`halo_tile`, which each kernel
// declares at its own size).

#import Dw

struct Params {
    dw: array<Dw, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn weight(i: u32) -> f32 {
    return weights[i / 4u][i % 4u];
}

// Where halo pixel `px` of a `side`-wide halo of the tile at (ty0, tx0) reads channel
// src_off of image n, and whether it is inside the image (outside, the depthwise sees its
// zero padding).
struct HaloPixel {
    inside: bool,
    at: u32,
}

fn halo_pixel(d: Dw, n: u32, ty0: u32, tx0: u32, px: u32, side: u32) -> HaloPixel {
    let iy = i32(ty0 * d.stride + px / side) - 1;
    let ix = i32(tx0 * d.stride + px % side) - 1;
    let inside = iy >= 0 && iy < i32(d.ih) && ix >= 0 && ix < i32(d.iw);
    let at = (n * d.src_c + d.src_off) * d.ih * d.iw + u32(iy) * d.iw + u32(ix);
    return HaloPixel(inside, select(0u, at, inside));
}

// The depthwise 3x3 of `channels` channels from c0 of the tile at (ty0, tx0), read from
// `halo_tile` ([channel][side * side]), stored into dst. After the kernel's barrier.
fn depthwise(d: Dw, n: u32, c0: u32, channels: u32, ty0: u32, tx0: u32, side: u32, lid: u32) {
    let tt = d.tile * d.tile;
    for (var e = lid; e < channels * tt; e += 256u) {
        let j = e / tt;
        let ly = (e % tt) / d.tile;
        let lx = e % d.tile;
        let oy = ty0 + ly;
        let ox = tx0 + lx;
        let ch = c0 + j;
        if oy >= d.oh || ox >= d.ow || ch >= d.c {
            continue;
        }
        var acc = weight(d.dw_b + ch);
        let base = j * side * side + (ly * d.stride) * side + lx * d.stride;
        for (var ky = 0u; ky < 3u; ky++) {
            for (var kx = 0u; kx < 3u; kx++) {
                acc += weight(d.dw_w + ch * 9u + ky * 3u + kx) * halo_tile[base + ky * side + kx];
            }
        }
        dst[((n * d.dst_c + d.dst_off + ch) * d.oh + oy) * d.ow + ox] = acc;
    }
}

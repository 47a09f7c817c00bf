// What conv.wgsl, conv_split.wgsl and shuffle_copy.wgsl share: the bindings, where a tap
// reads, and the store into a branch's channels of the concatenation after a `shuffle`-way
// channel shuffle (concat channel c goes to (c % cpg) * shuffle + c / cpg).

#import Conv
#import activation

@group(0) @binding(0) var<uniform> d: Conv;
@group(0) @binding(1) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// The dst index of concatenation channel c at pixel r of image n.
fn shuffled(n: u32, c: u32, r: u32) -> u32 {
    let dc = (c % d.cpg) * d.shuffle + c / d.cpg;
    return (n * d.dst_c + dc) * d.ohw + r;
}

// The offset in an input plane that tap t (of 9 for a 3x3 with padding 1, or 1) of output
// pixel (oy, ox) reads, or -1 in the zero padding.
fn tap_at(oy: u32, ox: u32, t: u32) -> i32 {
    let side = select(1u, 3u, d.taps == 9u);
    let iy = i32(oy * d.stride + t / side) - i32(side / 2u);
    let ix = i32(ox * d.stride + t % side) - i32(side / 2u);
    if iy < 0 || ix < 0 || iy >= i32(d.ih) || ix >= i32(d.iw) {
        return -1;
    }
    return iy * i32(d.iw) + ix;
}

// Block `ob` (16 channels) of group `g` at pixel r of image n, activated, into its
// concatenation channels.
fn store_block(n: u32, r: u32, g: u32, ob: u32, acc: array<vec4<f32>, 4>) {
    for (var j = 0u; j < 16u; j++) {
        let o = ob * 16u + j;
        if o >= d.m {
            break;
        }
        dst[shuffled(n, d.cat_off + g * d.m + o, r)] = activate(acc[j / 4u][j % 4u], d.act);
    }
}

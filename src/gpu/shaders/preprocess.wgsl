// Crop, resize and normalize an RGBA frame into the network's 1x3xSxS input, matching
// `preprocess::rgba_to_tensor`: PIL's antialiased bilinear resample (separable triangle
// filter, support max(scale, 1), weights normalized to sum 1) on 0..255 values in f32,
// then /255, minus the ImageNet mean, over the std.
//
// Each axis maps an output index i to source pixels: the crop [src_off, src_off + in_len)
// of the frame is resized to `out_len`, and output i is resized index i + out_off (the
// center crop of the eval transform).

#import Axis
#import Pre

@group(0) @binding(0) var<uniform> pre: Pre;
@group(0) @binding(1) var frame: texture_2d<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const MEAN = vec3<f32>(0.485, 0.456, 0.406);
const STD = vec3<f32>(0.229, 0.224, 0.225);

struct Taps {
    lo: i32,
    hi: i32,
    center: f32,
    inv_support: f32,
}

fn taps(a: Axis, i: u32) -> Taps {
    let scale = f32(a.in_len) / f32(a.out_len);
    let support = max(scale, 1.0);
    let center = (f32(i + a.out_off) + 0.5) * scale;
    let lo = max(i32(floor(center - support + 0.5)), 0);
    let hi = min(i32(floor(center + support + 0.5)), i32(a.in_len));
    return Taps(lo, hi, center, 1.0 / support);
}

fn weight(t: Taps, j: i32) -> f32 {
    return max(0.0, 1.0 - abs((f32(j) + 0.5 - t.center) * t.inv_support));
}

@compute @workgroup_size(8, 8)
fn preprocess_main(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= pre.side || gid.y >= pre.side {
        return;
    }
    let tx = taps(pre.x, gid.x);
    let ty = taps(pre.y, gid.y);
    var sum = vec3<f32>(0.0);
    var wy_total = 0.0;
    for (var y = ty.lo; y < ty.hi; y++) {
        let wy = weight(ty, y);
        wy_total += wy;
        var row = vec3<f32>(0.0);
        for (var x = tx.lo; x < tx.hi; x++) {
            let px = textureLoad(frame, vec2<i32>(x + i32(pre.x.src_off), y + i32(pre.y.src_off)), 0).rgb;
            row += weight(tx, x) * px;
        }
        sum += wy * row;
    }
    var wx_total = 0.0;
    for (var x = tx.lo; x < tx.hi; x++) {
        wx_total += weight(tx, x);
    }
    // Texels are unorm: k/255. The resample is linear, so /255 here equals PIL's 0..255 math.
    let v = (sum / (wx_total * wy_total) - MEAN) / STD;
    let plane = pre.side * pre.side;
    let at = gid.y * pre.side + gid.x;
    dst[at] = v.x;
    dst[plane + at] = v.y;
    dst[2u * plane + at] = v.z;
}

//! The benchmark networks in plain loops over NCHW batches: what every backend's ops are
//! checked against.

use super::net::{LabConv, LabNet, Op};

/// Runs `net` on `batch` images (`input`: NCHW, the input buffer's channels); returns the
/// output buffer, NCHW.
pub fn run(net: &LabNet, batch: usize, input: &[f32]) -> Vec<f32> {
    assert_eq!(
        input.len(),
        batch * net.image_len(0),
        "reference input length"
    );
    let mut bufs: Vec<Vec<f32>> = (0..net.buffers.len())
        .map(|b| vec![0.0; batch * net.image_len(b)])
        .collect();
    bufs[0].copy_from_slice(input);
    for op in &net.ops {
        match op {
            Op::Conv { conv, src, dst } => {
                let (cs, cd) = (net.buffers[src.buf], net.buffers[dst.buf]);
                let mut out = std::mem::take(&mut bufs[dst.buf]);
                for n in 0..batch {
                    let x = &bufs[src.buf][n * cs * net.plane()..][..cs * net.plane()];
                    let y = &mut out[n * cd * net.plane()..][..cd * net.plane()];
                    conv_image(conv, net.side, (x, src.off), (y, dst.off));
                }
                bufs[dst.buf] = out;
            }
            Op::Relu { buf } => bufs[*buf].iter_mut().for_each(|v| *v = v.max(0.0)),
            Op::Add { src, dst } => {
                let add = std::mem::take(&mut bufs[*src]);
                bufs[*dst].iter_mut().zip(&add).for_each(|(d, s)| *d += s);
                bufs[*src] = add;
            }
        }
    }
    std::mem::take(&mut bufs[net.output])
}

/// One image: channels `x_off..` of `x` through `conv` into channels `y_off..` of `y`.
fn conv_image(
    conv: &LabConv,
    side: usize,
    (x, x_off): (&[f32], usize),
    (y, y_off): (&mut [f32], usize),
) {
    let plane = side * side;
    let (k, m) = (conv.in_ch / conv.groups, conv.out_ch / conv.groups);
    let r = if conv.taps == 9 { 1 } else { 0 };
    for o in 0..conv.out_ch {
        let g = o / m;
        let filter = &conv.weight[o * k * conv.taps..][..k * conv.taps];
        for oy in 0..side {
            for ox in 0..side {
                let mut acc = conv.bias[o];
                for i in 0..k {
                    let plane_in = &x[(x_off + g * k + i) * plane..][..plane];
                    for t in 0..conv.taps {
                        let side_t = if conv.taps == 9 { 3 } else { 1 };
                        let iy = (oy + t / side_t) as isize - r;
                        let ix = (ox + t % side_t) as isize - r;
                        if iy < 0 || ix < 0 || iy >= side as isize || ix >= side as isize {
                            continue;
                        }
                        acc +=
                            filter[i * conv.taps + t] * plane_in[iy as usize * side + ix as usize];
                    }
                }
                y[(y_off + o) * plane + oy * side + ox] = acc;
            }
        }
    }
}

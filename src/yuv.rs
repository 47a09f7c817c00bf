//! A camera frame in the camera's own YUV layout (what WebCodecs' `VideoFrame.copyTo` gives
//! when asked for no format: I420 or NV12). The resize reads its Y, U and V straight from the
//! planes (only the pixels its filter reads, band by band on the CPU backend's threads) and
//! turns the resized pixels into RGB. A camera frame read this way skips the ImageBitmap and
//! the 2D canvas the browser would convert and read it back through (in Chrome, 0.07 against
//! 0.45 ms for a 320 x 240 frame, and 0.03 against 0.55 ms of capture on the main thread).

use crate::preprocess::{self, add_bytes, Crop, SourceRows, ToRgb, Window};
use crate::{Error, Result};
use core::ops::Range;

/// How the chroma samples are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YuvLayout {
    /// Three planes: Y, then U and V, each chroma plane half the width and height.
    I420,
    /// Two planes: Y, then U and V interleaved, half the height.
    Nv12,
}

impl YuvLayout {
    /// WebCodecs' `VideoPixelFormat` name: "I420", "I420A" (its alpha plane unread) or "NV12".
    pub fn parse(format: &str) -> Result<YuvLayout> {
        match format {
            "I420" | "I420A" => Ok(YuvLayout::I420),
            "NV12" => Ok(YuvLayout::Nv12),
            _ => Err(Error::Input(format!(
                "a {format} video frame: expected I420, I420A or NV12"
            ))),
        }
    }
}

/// The YUV to RGB matrix: red and blue luma weights (Kr, Kb).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Matrix {
    kr: f32,
    kb: f32,
}

impl Matrix {
    pub const BT601: Matrix = Matrix {
        kr: 0.299,
        kb: 0.114,
    };
    pub const BT709: Matrix = Matrix {
        kr: 0.2126,
        kb: 0.0722,
    };
    pub const BT2020: Matrix = Matrix {
        kr: 0.2627,
        kb: 0.0593,
    };

    /// WebCodecs' `VideoMatrixCoefficients` name; none (a camera that says nothing, such as
    /// Chrome's fake one) is BT.601, as browsers read it.
    pub fn parse(name: Option<&str>) -> Result<Matrix> {
        match name {
            None | Some("smpte170m" | "bt470bg") => Ok(Matrix::BT601),
            Some("bt709") => Ok(Matrix::BT709),
            Some("bt2020-ncl") => Ok(Matrix::BT2020),
            Some(other) => Err(Error::Input(format!(
                "a video frame with matrix {other}: expected bt709, bt470bg, smpte170m or bt2020-ncl"
            ))),
        }
    }
}

/// One plane: where its first row starts in the frame's bytes, and bytes from row to row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plane {
    pub offset: usize,
    pub stride: usize,
}

/// A YUV frame's bytes and how to read them.
#[derive(Clone, Debug)]
pub struct YuvFrame<'a> {
    pub data: &'a [u8],
    pub layout: YuvLayout,
    pub width: u32,
    pub height: u32,
    /// Y, then U and V (I420) or UV (NV12, the third unread).
    pub planes: [Plane; 3],
    pub matrix: Matrix,
    /// Full range (0 to 255) or video range (luma 16 to 235, chroma 16 to 240).
    pub full_range: bool,
    /// The pixels `data` holds: the whole frame, or a part of it from an even column and row
    /// (`held_window`: the part the resize reads, so that a browser copies no more), the
    /// planes' offsets and strides then those of that part.
    pub held: Window,
}

/// The part of a `width x height` frame the resize reads as `crop` says (`preprocess::window`),
/// widened to whole 2 x 2 blocks: what a camera frame's copy needs to hold (`YuvFrame::held`).
pub fn held_window(width: u32, height: u32, crop: Crop) -> Result<Window> {
    let (w, h) = (width as usize, height as usize);
    let win = preprocess::window(w, h, crop)?;
    let blocks = |r: Range<usize>, len: usize| r.start / 2 * 2..(r.end.div_ceil(2) * 2).min(len);
    Ok(Window {
        x: blocks(win.x, w),
        y: blocks(win.y, h),
    })
}

impl YuvFrame<'_> {
    /// Checks that the pixels held lie in the frame from an even column and row, and that
    /// every plane's rows of them lie inside `data`.
    pub fn check(&self) -> Result<()> {
        let held = &self.held;
        let frame = Window::all(self.width as usize, self.height as usize);
        if !frame.contains(held) || held.x.start % 2 == 1 || held.y.start % 2 == 1 {
            return Err(Error::Input(format!(
                "video frame pixels {held:?}: expected a part of the {} x {} frame from an even \
                 column and row",
                self.width, self.height
            )));
        }
        let (w, h) = (held.x.len(), held.y.len());
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let extents: &[(usize, usize)] = match self.layout {
            YuvLayout::I420 => &[(w, h), (cw, ch), (cw, ch)],
            YuvLayout::Nv12 => &[(w, h), (2 * cw, ch)],
        };
        for (i, (&(row, rows), p)) in extents.iter().zip(&self.planes).enumerate() {
            let end = (rows.max(1) - 1)
                .checked_mul(p.stride)
                .and_then(|e| e.checked_add(p.offset))
                .and_then(|e| e.checked_add(row));
            match end {
                Some(end) if p.stride >= row && end <= self.data.len() => {}
                _ => {
                    return Err(Error::Input(format!(
                        "video frame plane {i} (offset {}, stride {}) does not fit {w} x {h} \
                         pixels in {} bytes",
                        p.offset,
                        p.stride,
                        self.data.len()
                    )))
                }
            }
        }
        Ok(())
    }
}

/// Columns `cols` of a row as pixels into `line[cols]`: `luma` from `cols.start` on, and the
/// chroma of block `k` (`chroma(k)`); a pair of pixels at a time, as a block's two share it.
fn spread(
    luma: &[f32],
    cols: Range<usize>,
    line: &mut [[f32; 4]],
    chroma: impl Fn(usize) -> [f32; 2],
) {
    let pixel = |l: f32, [u, v]: [f32; 2]| [l, u, v, 0.0];
    let (mut x, end) = (cols.start, cols.end);
    if x % 2 == 1 && x < end {
        line[x] = pixel(luma[0], chroma(x / 2));
        x += 1;
    }
    let pairs = (end - x) / 2;
    let out = line[x..x + 2 * pairs].chunks_exact_mut(2);
    let lum = luma[x - cols.start..].chunks_exact(2);
    for (k, (o, l)) in (x / 2..).zip(out.zip(lum)) {
        let c = chroma(k);
        o[0] = pixel(l[0], c);
        o[1] = pixel(l[1], c);
    }
    if (end - x) % 2 == 1 {
        line[end - 1] = pixel(luma[end - 1 - cols.start], chroma((end - 1) / 2));
    }
}

/// The 2 x 2 blocks (chroma columns) columns `cols` lie in.
fn blocks(cols: &Range<usize>) -> Range<usize> {
    cols.start / 2..cols.end.div_ceil(2)
}

/// The frame's Y, U and V as they are, each pixel with the chroma sample of its 2 x 2 block
/// (as browsers read camera frames): the vertical pass sums luma rows and chroma rows in their
/// planes, a chroma row for each two luma rows (`add_row`: the Y of columns `cols`, then the
/// chroma of the blocks they lie in, U then V or interleaved as stored); the resize turns the
/// resized pixels into red, green and blue (`to_rgb`), on 224 x 224 pixels instead of every
/// pixel it reads. `check` first.
impl SourceRows for YuvFrame<'_> {
    fn row_len(&self, cols: Range<usize>) -> usize {
        cols.len() + 2 * blocks(&cols).len()
    }

    fn add_row(&self, y: usize, cols: Range<usize>, w: f32, acc: &mut [f32]) {
        let [py, pu, pv] = self.planes;
        let (luma, chroma) = acc.split_at_mut(cols.len());
        // The frame's row, columns and blocks as the held pixels' (which start on a block).
        let (x0, y0) = (self.held.x.start, self.held.y.start);
        let (y, cy) = (y - y0, y / 2 - y0 / 2);
        let blocks = blocks(&cols);
        let (cols, blocks) = (
            cols.start - x0..cols.end - x0,
            blocks.start - x0 / 2..blocks.end - x0 / 2,
        );
        let row = |p: Plane, y: usize, r: Range<usize>| &self.data[p.offset + y * p.stride..][r];
        add_bytes(luma, row(py, y, cols), w);
        match self.layout {
            YuvLayout::I420 => {
                let (u, v) = chroma.split_at_mut(blocks.len());
                add_bytes(u, row(pu, cy, blocks.clone()), w);
                add_bytes(v, row(pv, cy, blocks), w);
            }
            YuvLayout::Nv12 => {
                add_bytes(chroma, row(pu, cy, 2 * blocks.start..2 * blocks.end), w);
            }
        }
    }

    fn pixels(&self, acc: &[f32], cols: Range<usize>, line: &mut [[f32; 4]]) {
        let blocks = blocks(&cols);
        let (luma, chroma) = acc.split_at(cols.len());
        let first = blocks.start;
        match self.layout {
            YuvLayout::I420 => {
                let (u, v) = chroma.split_at(blocks.len());
                spread(luma, cols, line, |k| [u[k - first], v[k - first]]);
            }
            YuvLayout::Nv12 => {
                let uv = |k| [chroma[2 * (k - first)], chroma[2 * (k - first) + 1]];
                spread(luma, cols, line, uv);
            }
        }
    }

    fn to_rgb(&self) -> Option<ToRgb> {
        let m = self.matrix;
        let kg = 1.0 - m.kr - m.kb;
        let (y_mul, y_zero, c) = if self.full_range {
            (1.0, 0.0, 1.0)
        } else {
            (255.0 / 219.0, 16.0, 255.0 / 224.0)
        };
        // Each channel's share of U and V per level away from grey (128).
        let (rv, bu) = (2.0 * (1.0 - m.kr) * c, 2.0 * (1.0 - m.kb) * c);
        let (gu, gv) = (-bu * m.kb / kg, -rv * m.kr / kg);
        let y_add = -y_zero * y_mul;
        Some(ToRgb([
            [y_mul, 0.0, rv, y_add - 128.0 * rv],
            [y_mul, gu, gv, y_add - 128.0 * (gu + gv)],
            [y_mul, bu, 0.0, y_add - 128.0 * bu],
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RGB (0 to 1) to 8-bit YUV by the matrix's definition, the inverse of the conversion.
    fn yuv(rgb: [f32; 3], m: Matrix, full_range: bool) -> [u8; 3] {
        let [r, g, b] = rgb;
        let y = m.kr * r + (1.0 - m.kr - m.kb) * g + m.kb * b;
        let (u, v) = (
            (b - y) / (2.0 * (1.0 - m.kb)),
            (r - y) / (2.0 * (1.0 - m.kr)),
        );
        let (ys, y0, cs) = if full_range {
            (255.0, 0.0, 255.0)
        } else {
            (219.0, 16.0, 224.0)
        };
        [y * ys + y0, u * cs + 128.0, v * cs + 128.0].map(|x| x.round().clamp(0.0, 255.0) as u8)
    }

    /// A `w x h` frame of `layout` whose every 2 x 2 block has one colour from `colour(bx, by)`,
    /// each plane with `pad` bytes after its rows and an offset, as a browser may lay it out.
    fn frame(
        layout: YuvLayout,
        (w, h): (usize, usize),
        pad: usize,
        yuv_of: impl Fn(usize, usize) -> [u8; 3],
    ) -> (Vec<u8>, [Plane; 3]) {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let y_plane = Plane {
            offset: 3,
            stride: w + pad,
        };
        let mut data = vec![0u8; 3 + y_plane.stride * h];
        let plane = |row: usize, data: &mut Vec<u8>| {
            let p = Plane {
                offset: data.len() + 1,
                stride: row + pad,
            };
            data.resize(p.offset + p.stride * ch, 0);
            p
        };
        let planes = match layout {
            YuvLayout::I420 => [y_plane, plane(cw, &mut data), plane(cw, &mut data)],
            YuvLayout::Nv12 => {
                let uv = plane(2 * cw, &mut data);
                [y_plane, uv, uv]
            }
        };
        for y in 0..h {
            for x in 0..w {
                let [l, u, v] = yuv_of(x / 2, y / 2);
                data[planes[0].offset + y * planes[0].stride + x] = l;
                let c = (y / 2, x / 2);
                match layout {
                    YuvLayout::I420 => {
                        data[planes[1].offset + c.0 * planes[1].stride + c.1] = u;
                        data[planes[2].offset + c.0 * planes[2].stride + c.1] = v;
                    }
                    YuvLayout::Nv12 => {
                        data[planes[1].offset + c.0 * planes[1].stride + 2 * c.1] = u;
                        data[planes[1].offset + c.0 * planes[1].stride + 2 * c.1 + 1] = v;
                    }
                }
            }
        }
        (data, planes)
    }

    /// The conversion a frame of `matrix` and range gets.
    fn to_rgb(matrix: Matrix, full_range: bool) -> ToRgb {
        let f = YuvFrame {
            data: &[],
            layout: YuvLayout::I420,
            width: 0,
            height: 0,
            planes: [Plane {
                offset: 0,
                stride: 0,
            }; 3],
            matrix,
            full_range,
            held: Window::all(0, 0),
        };
        f.to_rgb().expect("a YUV frame converts")
    }

    /// Torchvision's normalization of a 0-to-255 channel value.
    fn normalized(v: f32, c: usize) -> f32 {
        (v / 255.0 - crate::preprocess::MEAN[c]) / crate::preprocess::STD[c]
    }

    #[test]
    fn primaries_and_greys_come_back() {
        let colours = [
            [0.0, 0.0, 0.0],
            [1.0, 1.0, 1.0],
            [0.5, 0.5, 0.5],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.9, 0.6, 0.1],
            [0.2, 0.3, 0.8],
        ];
        for m in [Matrix::BT601, Matrix::BT709, Matrix::BT2020] {
            for full_range in [false, true] {
                let t = to_rgb(m, full_range);
                for rgb in colours {
                    let [y, u, v] = yuv(rgb, m, full_range).map(f32::from);
                    let got = t.rgb([y, u, v, 0.0]);
                    for (c, want) in rgb.iter().enumerate() {
                        // 8-bit YUV rounds: video range keeps about 7.8 bits of each.
                        let err = (got[c] - want * 255.0).abs();
                        assert!(
                            err <= 2.5,
                            "{m:?} full {full_range} {rgb:?}: got {got:?}, channel {c} off by {err}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn out_of_range_values_clamp() {
        let t = to_rgb(Matrix::BT601, false);
        assert_eq!(t.rgb([0.0, 128.0, 128.0, 0.0]), [0.0; 3]);
        assert_eq!(t.rgb([16.0, 128.0, 128.0, 0.0]), [0.0; 3]);
        assert_eq!(t.rgb([255.0, 128.0, 128.0, 0.0]), [255.0; 3]);
        // Saturated chroma pushes channels past both ends.
        let [r, _, b] = t.rgb([128.0, 0.0, 255.0, 0.0]);
        assert_eq!((r, b), (255.0, 0.0));
    }

    #[test]
    fn both_layouts_read_each_pixel_with_its_blocks_chroma() {
        // Odd sizes: the last column and row have chroma samples of their own.
        let (w, h) = (13, 9);
        let yuv_of = |bx: usize, by: usize| {
            [
                (40 + 20 * bx) as u8,
                (60 + 25 * by) as u8,
                (200 - 9 * bx) as u8,
            ]
        };
        let mut lines = Vec::new();
        for layout in [YuvLayout::I420, YuvLayout::Nv12] {
            let (data, planes) = frame(layout, (w, h), 5, yuv_of);
            let f = YuvFrame {
                data: &data,
                layout,
                width: w as u32,
                height: h as u32,
                planes,
                matrix: Matrix::BT709,
                full_range: true,
                held: Window::all(w, h),
            };
            f.check().unwrap();
            // Column ranges starting and ending on either pixel of a block, one pixel alone.
            for cols in [3..12, 2..13, 0..13, 5..6, 4..5] {
                for y in 1..h {
                    // Two rows weighted, as the vertical pass adds them.
                    let (a, b) = (0.25, 0.5);
                    let mut line = vec![[-1.0; 4]; w];
                    let mut acc = vec![0.0; f.row_len(cols.clone())];
                    f.add_row(y - 1, cols.clone(), a, &mut acc);
                    f.add_row(y, cols.clone(), b, &mut acc);
                    f.pixels(&acc, cols.clone(), &mut line);
                    for x in cols.clone() {
                        let above = yuv_of(x / 2, (y - 1) / 2).map(f32::from);
                        let here = yuv_of(x / 2, y / 2).map(f32::from);
                        let [l, u, v] = [0, 1, 2].map(|c| 0.0 + a * above[c] + b * here[c]);
                        assert_eq!(line[x], [l, u, v, 0.0], "{layout:?} pixel {x}, {y}");
                    }
                    lines.push(line[cols.clone()].to_vec());
                }
            }
        }
        let half = lines.len() / 2;
        assert_eq!(lines[..half], lines[half..], "I420 and NV12 read alike");
    }

    #[test]
    fn a_frame_reads_as_its_picture_converted_to_bytes_would() {
        use crate::backend::{Frame, RgbaFrame};
        use crate::preprocess::Crop;
        let (w, h) = (300, 170);
        // Colours inside the RGB cube (no channel near 0 or 255), so no pixel clamps.
        let rgb_of = |bx: usize, by: usize| {
            [
                (bx * 7 % 200) as f32,
                (by * 5 % 200) as f32,
                ((bx + 3 * by) % 200) as f32,
            ]
            .map(|c| (c + 28.0) / 255.0)
        };
        let (m, full_range) = (Matrix::BT601, false);
        let yuv_of = |bx: usize, by: usize| yuv(rgb_of(bx, by), m, full_range);
        let (data, planes) = frame(YuvLayout::Nv12, (w, h), 3, yuv_of);
        let f = YuvFrame {
            data: &data,
            layout: YuvLayout::Nv12,
            width: w as u32,
            height: h as u32,
            planes,
            matrix: m,
            full_range,
            held: Window::all(w, h),
        };
        let t = to_rgb(m, full_range);
        let rgba: Vec<u8> = (0..h * w)
            .flat_map(|i| {
                let [l, u, v] = yuv_of(i % w / 2, i / w / 2).map(f32::from);
                let [r, g, b] = t.rgb([l, u, v, 0.0]).map(|c| c.round() as u8);
                [r, g, b, 255]
            })
            .collect();
        for crop in [Crop::Square, Crop::Eval] {
            let bytes = RgbaFrame {
                pixels: &rgba,
                width: w as u32,
                height: h as u32,
            };
            let want = Frame::Rgba(bytes, crop).to_tensor().unwrap();
            let got = Frame::Yuv(f.clone(), crop).to_tensor().unwrap();
            assert_eq!(got.shape, want.shape);
            // Bytes round each channel by up to half a level: 0.5 / 255 / std (0.225 at least).
            let worst = got
                .data
                .iter()
                .zip(&want.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst < 0.009, "{crop:?}: off by {worst}");
        }
        let short = YuvFrame {
            data: &data[..100],
            ..f
        };
        assert!(Frame::Yuv(short, Crop::Square).to_tensor().is_err());
    }

    #[test]
    fn a_colour_outside_the_rgb_cube_clamps_as_one_pixel_would() {
        use crate::backend::Frame;
        use crate::preprocess::Crop;
        // Dark, blue-less and very red: blue lies far below 0.
        let yuv = [30, 20, 240];
        let (data, planes) = frame(YuvLayout::I420, (64, 48), 0, |_, _| yuv);
        let f = YuvFrame {
            data: &data,
            layout: YuvLayout::I420,
            width: 64,
            height: 48,
            planes,
            matrix: Matrix::BT601,
            full_range: false,
            held: Window::all(64, 48),
        };
        let [l, u, v] = yuv.map(f32::from);
        let rgb = to_rgb(f.matrix, f.full_range).rgb([l, u, v, 0.0]);
        assert_eq!(rgb[2], 0.0);
        let x = Frame::Yuv(f, Crop::Eval).to_tensor().unwrap();
        for (c, plane) in x.data.chunks_exact(224 * 224).enumerate() {
            let want = normalized(rgb[c], c);
            assert!(
                plane.iter().all(|v| (v - want).abs() < 1e-5),
                "channel {c}: {} against {want}",
                plane[0]
            );
        }
    }

    /// Tight planes for `w x h` pixels: Y, then U and V or UV.
    fn tight(layout: YuvLayout, w: usize, h: usize) -> [Plane; 3] {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let p = |offset, stride| Plane { offset, stride };
        match layout {
            YuvLayout::I420 => [p(0, w), p(w * h, cw), p(w * h + cw * ch, cw)],
            YuvLayout::Nv12 => [p(0, w), p(w * h, 2 * cw), p(w * h, 2 * cw)],
        }
    }

    /// The bytes of `f`'s pixels `win` (from an even column and row) in tight planes, as
    /// `VideoFrame.copyTo` with a `rect` writes them.
    fn cut(f: &YuvFrame, win: &Window) -> Vec<u8> {
        let [py, pu, pv] = f.planes;
        let (x0, y0, w, h) = (win.x.start, win.y.start, win.x.len(), win.y.len());
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let rows = |p: Plane, first: usize, n: usize, from: usize, len: usize| {
            (first..first + n).flat_map(move |r| {
                let at = p.offset + r * p.stride + from;
                f.data[at..at + len].to_vec()
            })
        };
        let mut out: Vec<u8> = rows(py, y0, h, x0, w).collect();
        match f.layout {
            YuvLayout::I420 => {
                out.extend(rows(pu, y0 / 2, ch, x0 / 2, cw));
                out.extend(rows(pv, y0 / 2, ch, x0 / 2, cw));
            }
            YuvLayout::Nv12 => out.extend(rows(pu, y0 / 2, ch, x0, 2 * cw)),
        }
        out
    }

    #[test]
    fn the_held_window_alone_reads_as_the_whole_frame() {
        use crate::backend::Frame;
        let noise = |i: usize| (i.wrapping_mul(2654435761) >> 13) as u8;
        for layout in [YuvLayout::I420, YuvLayout::Nv12] {
            for (w, h, crop) in [
                (641usize, 479usize, Crop::Square),
                (641, 479, Crop::Eval),
                (240, 321, Crop::Square),
                (1280, 720, Crop::Eval),
                (7, 5, Crop::Eval),
            ] {
                let data: Vec<u8> = (0..w * h + 2 * w.div_ceil(2) * h.div_ceil(2))
                    .map(noise)
                    .collect();
                let whole = YuvFrame {
                    data: &data,
                    layout,
                    width: w as u32,
                    height: h as u32,
                    planes: tight(layout, w, h),
                    matrix: Matrix::BT709,
                    full_range: false,
                    held: Window::all(w, h),
                };
                let want = Frame::Yuv(whole.clone(), crop)
                    .to_tensor()
                    .unwrap()
                    .into_owned()
                    .data;
                let held = held_window(w as u32, h as u32, crop).unwrap();
                let needed = preprocess::window(w, h, crop).unwrap();
                assert!(held.contains(&needed), "{w} x {h} {crop:?}: {held:?}");
                let part = |win: &Window| {
                    let bytes = cut(&whole, win);
                    let f = YuvFrame {
                        data: &bytes,
                        planes: tight(layout, win.x.len(), win.y.len()),
                        held: win.clone(),
                        ..whole.clone()
                    };
                    Frame::Yuv(f, crop).to_tensor().map(|t| t.into_owned().data)
                };
                let got = part(&held).unwrap();
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{layout:?} {w} x {h} {crop:?}: {held:?}");
                // A part one block short of what the resize reads is refused, not read past.
                if needed.x.start >= 2 {
                    let short = Window {
                        x: held.x.start + 2..held.x.end,
                        y: held.y.clone(),
                    };
                    assert!(matches!(part(&short), Err(Error::Input(_))), "{w} x {h}");
                }
            }
        }
        // A part from an odd column is refused.
        let data = vec![128u8; 8 * 6 * 2];
        let odd = YuvFrame {
            data: &data,
            layout: YuvLayout::I420,
            width: 8,
            height: 6,
            planes: tight(YuvLayout::I420, 7, 6),
            matrix: Matrix::BT601,
            full_range: false,
            held: Window { x: 1..8, y: 0..6 },
        };
        assert!(matches!(odd.check(), Err(Error::Input(_))));
    }

    #[test]
    fn planes_outside_the_bytes_are_refused() {
        let (w, h) = (8, 6);
        let (data, planes) = frame(YuvLayout::I420, (w, h), 0, |_, _| [128; 3]);
        fn f(data: &[u8], planes: [Plane; 3]) -> YuvFrame<'_> {
            YuvFrame {
                data,
                layout: YuvLayout::I420,
                width: 8,
                height: 6,
                planes,
                matrix: Matrix::BT601,
                full_range: false,
                held: Window::all(8, 6),
            }
        }
        f(&data, planes).check().unwrap();
        let short = &data[..data.len() - 1];
        assert!(f(short, planes).check().is_err());
        let mut narrow = planes;
        narrow[0].stride = w - 1;
        assert!(f(&data, narrow).check().is_err());
        let mut far = planes;
        far[2].offset = usize::MAX - 2;
        let err = f(&data, far).check().unwrap_err().to_string();
        assert!(err.contains("plane 2"), "{err}");
        assert!(YuvLayout::parse("RGBA").is_err());
        assert!(Matrix::parse(Some("rgb")).is_err());
        assert_eq!(Matrix::parse(None).unwrap(), Matrix::BT601);
    }
}

//! A camera frame in the camera's own YUV layout (what WebCodecs' `VideoFrame.copyTo` gives
//! when asked for no format: I420 or NV12), read by the resize as RGB straight from its
//! planes: only the pixels its filter reads, band by band on the CPU backend's threads. A camera frame read this way skips the ImageBitmap and the 2D canvas the browser
//! would convert and read it back through (in Chrome, 0.07 against 0.45 ms for a 320 x 240
//! frame, and 0.03 against 0.55 ms of capture on the page's main thread).

use crate::preprocess::SourceRows;
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
#[derive(Clone, Copy, Debug)]
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
}

impl YuvFrame<'_> {
    /// Checks that every plane's rows lie inside `data`.
    pub fn check(&self) -> Result<()> {
        let (w, h) = (self.width as usize, self.height as usize);
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
                        "video frame plane {i} (offset {}, stride {}) does not fit a {w} x {h} \
                         frame in {} bytes",
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

/// Rows of the frame's red, green and blue, each pixel with the chroma sample of its 2 x 2
/// block (as browsers read camera frames); unrounded, clamped to 0 to 255. `check` first.
impl SourceRows for YuvFrame<'_> {
    fn read(&self, y: usize, cols: Range<usize>, line: &mut [[f32; 4]]) {
        let t = Terms::new(self.matrix, self.full_range);
        let [py, pu, pv] = self.planes;
        // First each pixel's share of its chroma sample, a sample for two pixels (the pair's
        // second may lie past `line`'s end), then its luma.
        let samples = cols.start / 2..cols.end.div_ceil(2);
        let (u_row, v_row) = (pu.offset + y / 2 * pu.stride, pv.offset + y / 2 * pv.stride);
        let mut put = |k: usize, c: [f32; 4]| {
            line[2 * k] = c;
            if let Some(second) = line.get_mut(2 * k + 1) {
                *second = c;
            }
        };
        match self.layout {
            YuvLayout::I420 => {
                let u = &self.data[u_row..][samples.clone()];
                let v = &self.data[v_row..][samples.clone()];
                for ((k, &u), &v) in samples.zip(u).zip(v) {
                    put(k, t.chroma(u, v));
                }
            }
            YuvLayout::Nv12 => {
                let uv = &self.data[u_row..][2 * samples.start..2 * samples.end];
                for (k, uv) in samples.zip(uv.chunks_exact(2)) {
                    put(k, t.chroma(uv[0], uv[1]));
                }
            }
        }
        let luma = &self.data[py.offset + y * py.stride..][cols.clone()];
        for (d, &l) in line[cols].iter_mut().zip(luma) {
            *d = t.add_luma(l, *d);
        }
    }
}

/// The conversion's terms: luma's scale and offset, and each chroma sample's share of red,
/// green and blue per level away from grey.
struct Terms {
    y_mul: f32,
    y_add: f32,
    rv: f32,
    gu: f32,
    gv: f32,
    bu: f32,
}

impl Terms {
    fn new(m: Matrix, full_range: bool) -> Terms {
        let kg = 1.0 - m.kr - m.kb;
        let (y_mul, y_zero, c) = if full_range {
            (1.0, 0.0, 1.0)
        } else {
            (255.0 / 219.0, 16.0, 255.0 / 224.0)
        };
        Terms {
            y_mul,
            y_add: -y_zero * y_mul,
            rv: 2.0 * (1.0 - m.kr) * c,
            gu: -2.0 * (1.0 - m.kb) * m.kb / kg * c,
            gv: -2.0 * (1.0 - m.kr) * m.kr / kg * c,
            bu: 2.0 * (1.0 - m.kb) * c,
        }
    }

    /// A chroma sample's shares of red, green and blue (and a zero lane).
    fn chroma(&self, u: u8, v: u8) -> [f32; 4] {
        let (u, v) = (f32::from(u) - 128.0, f32::from(v) - 128.0);
        [self.rv * v, self.gu * u + self.gv * v, self.bu * u, 0.0]
    }

    /// A pixel's red, green and blue (and a zero lane) from its luma and its chroma's shares.
    fn add_luma(&self, y: u8, chroma: [f32; 4]) -> [f32; 4] {
        let l = f32::from(y) * self.y_mul + self.y_add;
        let [r, g, b, _] = chroma;
        // Compare-and-select, not `clamp`: wasm's float min and max are NaN-exact, which V8
        // builds from several instructions; a select is one (and no NaN comes here).
        [r + l, g + l, b + l, 0.0].map(|c| {
            let c = if c < 0.0 { 0.0 } else { c };
            if c > 255.0 {
                255.0
            } else {
                c
            }
        })
    }

    #[cfg(test)]
    fn rgb(&self, y: u8, u: u8, v: u8) -> [f32; 4] {
        self.add_luma(y, self.chroma(u, v))
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
                let t = Terms::new(m, full_range);
                for rgb in colours {
                    let [y, u, v] = yuv(rgb, m, full_range);
                    let got = t.rgb(y, u, v);
                    for (c, want) in rgb.iter().enumerate() {
                        // 8-bit YUV rounds: video range keeps about 7.8 bits of each.
                        let err = (got[c] - want * 255.0).abs();
                        assert!(
                            err <= 2.5,
                            "{m:?} full {full_range} {rgb:?}: got {got:?}, channel {c} off by {err}"
                        );
                    }
                    assert_eq!(got[3], 0.0);
                }
            }
        }
    }

    #[test]
    fn out_of_range_values_clamp() {
        let t = Terms::new(Matrix::BT601, false);
        assert_eq!(t.rgb(0, 128, 128), [0.0; 4]);
        assert_eq!(t.rgb(16, 128, 128), [0.0; 4]);
        assert_eq!(t.rgb(255, 128, 128), [255.0, 255.0, 255.0, 0.0]);
        // Saturated chroma pushes channels past both ends.
        let [r, _, b, _] = t.rgb(128, 0, 255);
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
        let t = Terms::new(Matrix::BT709, true);
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
            };
            f.check().unwrap();
            for y in 0..h {
                // Columns from an odd one: the first shares its chroma with one outside.
                let cols = 3..12;
                let mut line = vec![[-1.0; 4]; w];
                f.read(y, cols.clone(), &mut line);
                for x in cols.clone() {
                    let [l, u, v] = yuv_of(x / 2, y / 2);
                    assert_eq!(line[x], t.rgb(l, u, v), "{layout:?} pixel {x}, {y}");
                }
                lines.push(line[cols].to_vec());
            }
        }
        assert_eq!(lines[..h], lines[h..]);
    }

    #[test]
    fn a_frame_reads_as_its_picture_converted_to_bytes_would() {
        use crate::backend::{Frame, RgbaFrame};
        use crate::preprocess::Crop;
        let (w, h) = (300, 170);
        let yuv_of = |bx: usize, by: usize| {
            [
                (bx * 7 % 256) as u8,
                (by * 5 % 256) as u8,
                ((bx + by) % 256) as u8,
            ]
        };
        let (data, planes) = frame(YuvLayout::Nv12, (w, h), 3, yuv_of);
        let f = YuvFrame {
            data: &data,
            layout: YuvLayout::Nv12,
            width: w as u32,
            height: h as u32,
            planes,
            matrix: Matrix::BT601,
            full_range: false,
        };
        let t = Terms::new(f.matrix, f.full_range);
        let rgba: Vec<u8> = (0..h * w)
            .flat_map(|i| {
                let [l, u, v] = yuv_of(i % w / 2, i / w / 2);
                let [r, g, b, _] = t.rgb(l, u, v).map(|c| c.round() as u8);
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
            let got = Frame::Yuv(f, crop).to_tensor().unwrap();
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

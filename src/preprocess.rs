//! Pixels to the network's input, as torchvision evaluates ImageNet models.
//!
//! Resizing is PIL's antialiased bilinear filter (what `transforms.Resize` applies to PIL
//! images): a separable triangle filter whose support widens with the downscale factor.
//! It runs in f32 without PIL's rounding to 8 bits between passes.

use crate::simd::F4;
use crate::tensor::Tensor;
use crate::{Error, Result};
use std::sync::Mutex;

pub const SIZE: usize = 224;
/// The eval transform resizes the shorter side to this, then center-crops `SIZE`.
pub const RESIZE: usize = 256;
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// `(v / 255 - MEAN) / STD` as `v * NORM_SCALE + NORM_SHIFT`: a multiply and an add.
const NORM_SCALE: [f32; 3] = [
    1.0 / (255.0 * STD[0]),
    1.0 / (255.0 * STD[1]),
    1.0 / (255.0 * STD[2]),
];
const NORM_SHIFT: [f32; 3] = [-MEAN[0] / STD[0], -MEAN[1] / STD[1], -MEAN[2] / STD[2]];
/// Largest image side accepted, so a hostile header cannot demand gigabytes.
pub const MAX_SIDE: usize = 16384;

/// How a frame becomes 224 x 224.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crop {
    /// `Resize(256)` + `CenterCrop(224)`: torchvision's evaluation transform.
    Eval,
    /// Center square crop resized straight to 224: keeps more of a webcam frame.
    Square,
}

impl Crop {
    pub fn parse(s: &str) -> Result<Crop> {
        match s {
            "eval" => Ok(Crop::Eval),
            "square" => Ok(Crop::Square),
            _ => Err(Error::Usage(format!(
                "unknown crop {s:?}: expected eval or square"
            ))),
        }
    }
}

/// One output sample's taps: first input index and normalized weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Taps {
    pub first: usize,
    pub weights: Vec<f32>,
}

/// PIL's `precompute_coeffs` for the bilinear filter, mapping `[offset, offset + span)` of
/// the input onto `out` samples. Taps are clamped to the pixels `valid` (the image, or the
/// crop when cropping comes before resizing).
pub fn taps(span: f64, offset: f64, valid: std::ops::Range<usize>, out: usize) -> Vec<Taps> {
    let scale = span / out as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale; // the triangle's radius is 1 at filter scale 1
    (0..out)
        .map(|i| {
            let center = offset + (i as f64 + 0.5) * scale;
            let lo = ((center - support + 0.5).floor().max(valid.start as f64)) as usize;
            let hi = ((center + support + 0.5).floor() as usize).min(valid.end);
            let raw: Vec<f64> = (lo..hi)
                .map(|j| (1.0 - ((j as f64 + 0.5 - center) / filter_scale).abs()).max(0.0))
                .collect();
            let sum: f64 = raw.iter().sum();
            Taps {
                first: lo,
                weights: raw.iter().map(|w| (w / sum) as f32).collect(),
            }
        })
        .collect()
}

/// How one axis of a frame maps onto the 224-pixel input: the `in_len` source pixels from
/// `src_off` are resized to `out_len`, and the output starts `out_off` pixels into that.
/// The CPU path and the GPU's preprocessing shader both take their geometry from here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axis {
    pub src_off: usize,
    pub in_len: usize,
    pub out_len: usize,
    pub out_off: usize,
}

/// The horizontal and vertical `Axis` of a `width x height` frame.
pub fn axes(width: usize, height: usize, crop: Crop) -> [Axis; 2] {
    let short = width.min(height);
    match crop {
        Crop::Square => {
            // Crop first, then resize: the filter never reads outside the square.
            [width, height].map(|len| Axis {
                src_off: (len - short) / 2,
                in_len: short,
                out_len: SIZE,
                out_off: 0,
            })
        }
        Crop::Eval => {
            // Resize(256): the shorter side becomes 256 and the longer keeps the aspect ratio
            // (truncated, as torchvision does). CenterCrop(224) then takes the middle, with
            // Python's round-half-to-even for the offset.
            [width, height].map(|len| {
                let out_len = if len == short {
                    RESIZE
                } else {
                    (RESIZE as f64 * len as f64 / short as f64) as usize
                };
                Axis {
                    src_off: 0,
                    in_len: len,
                    out_len,
                    out_off: ((out_len - SIZE) as f64 / 2.0).round_ties_even() as usize,
                }
            })
        }
    }
}

/// Horizontal and vertical taps for a frame. Output pixel i of a resize samples at
/// `(i + 0.5) * in / out`, so the crop is a window of the source at that scale; the filter
/// reads only the axis' own source pixels.
pub fn plan(width: usize, height: usize, crop: Crop) -> (Vec<Taps>, Vec<Taps>) {
    let [x, y] = axes(width, height, crop).map(|a| {
        let scale = a.in_len as f64 / a.out_len as f64;
        let start = a.src_off as f64 + a.out_off as f64 * scale;
        let valid = a.src_off..a.src_off + a.in_len;
        taps(SIZE as f64 * scale, start, valid, SIZE)
    });
    (x, y)
}

/// A frame's sides: each 1 to `MAX_SIDE` pixels.
fn check_size(width: usize, height: usize) -> Result<()> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(Error::Input(format!(
            "image is {width} x {height}; each side must be 1 to {MAX_SIDE} pixels"
        )));
    }
    Ok(())
}

fn check_frame(len: usize, width: usize, height: usize, channels: usize) -> Result<()> {
    check_size(width, height)?;
    if len != width * height * channels {
        return Err(Error::Input(format!(
            "{len} bytes of pixels do not make a {width} x {height} image with {channels} channels"
        )));
    }
    Ok(())
}

/// A rectangle of a frame's pixels: its columns and rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub x: std::ops::Range<usize>,
    pub y: std::ops::Range<usize>,
}

impl Window {
    /// Every pixel of a `width x height` frame.
    pub fn all(width: usize, height: usize) -> Window {
        Window {
            x: 0..width,
            y: 0..height,
        }
    }

    /// The pixels the horizontal and vertical taps read.
    fn read_by(hx: &[Taps], hy: &[Taps]) -> Window {
        Window {
            x: span(hx),
            y: span(hy),
        }
    }

    /// Whether `other` lies inside.
    pub fn contains(&self, other: &Window) -> bool {
        let within = |a: &std::ops::Range<usize>, b: &std::ops::Range<usize>| {
            a.start <= b.start && b.end <= a.end
        };
        within(&self.x, &other.x) && within(&self.y, &other.y)
    }
}

/// The pixels of a `width x height` frame that `crop`'s filter reads: a camera frame's centre
/// square, a photo's centre crop and the taps' reach. Reading only these from the browser
/// (`bitmap_pixels`) saves a quarter of a 4:3 frame.
pub fn window(width: usize, height: usize, crop: Crop) -> Result<Window> {
    check_size(width, height)?;
    let (hx, hy) = plan(width, height, crop);
    Ok(Window::read_by(&hx, &hy))
}

/// Runs a job over bands of the 224 output rows, every row once: `bands(rows, job)` calls
/// `job` on ranges that cover `0..rows`, one after another or on several threads at once
/// (the fast CPU's pool). Every row comes out with the same bits either way.
pub type Bands<'a> = &'a dyn Fn(usize, &(dyn Fn(std::ops::Range<usize>) + Sync));

/// All rows as one band, on the caller's thread.
pub const ONE_BAND: Bands<'static> = &|rows, job| job(0..rows);

/// Interleaved 8-bit pixels (3 = RGB, 4 = RGBA; alpha ignored) to a normalized 1x3x224x224.
pub fn pixels_to_tensor(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    crop: Crop,
) -> Result<Tensor> {
    pixels_to_tensor_in(pixels, width, height, channels, crop, ONE_BAND)
}

/// `pixels_to_tensor`, band by band as `bands` runs them: each band of output rows reads
/// the source rows its filter reads, so bands can run on several threads.
pub fn pixels_to_tensor_in(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    crop: Crop,
    bands: Bands<'_>,
) -> Result<Tensor> {
    check_frame(pixels.len(), width, height, channels)?;
    let all = Window::all(width, height);
    window_to_tensor(pixels, (width, height), &all, channels, crop, bands)
}

/// `pixels_to_tensor_in` from only the pixels `win` of a `width x height` frame (which must
/// hold its `window`): the same values, bit for bit.
pub fn window_to_tensor(
    pixels: &[u8],
    (width, height): (usize, usize),
    win: &Window,
    channels: usize,
    crop: Crop,
    bands: Bands<'_>,
) -> Result<Tensor> {
    if channels != 3 && channels != 4 {
        return Err(Error::Input(format!(
            "{channels} channels: expected RGB or RGBA"
        )));
    }
    check_size(width, height)?;
    // The taps once a frame: `needed` is `window`'s, from the same taps.
    let (hx, hy) = plan(width, height, crop);
    let needed = Window::read_by(&hx, &hy);
    if !Window::all(width, height).contains(win) || !win.contains(&needed) {
        return Err(Error::Input(format!(
            "pixels {win:?} of a {width} x {height} image do not hold the {needed:?} it needs"
        )));
    }
    check_frame(pixels.len(), win.x.len(), win.y.len(), channels)?;
    Ok(match channels {
        3 => resize(&Interleaved::<3> { pixels, win }, (&hx, &hy), bands),
        _ => resize(&Interleaved::<4> { pixels, win }, (&hx, &hy), bands),
    })
}

/// A picture's rows as the resize reads them. The vertical pass comes first, on the source's
/// own samples (8-bit rows, added as floats in place: the loops run on vectors); then each
/// column's channels become one pixel of four lanes, red, green and blue from 0 to 255 in the
/// first three unless `to_rgb` says otherwise, for the horizontal pass.
pub trait SourceRows: Sync {
    /// Floats `add_row` sums columns `cols` into.
    fn row_len(&self, cols: std::ops::Range<usize>) -> usize;

    /// Adds `w` times row `y`'s samples of columns `cols` to `acc` (`row_len` floats, laid
    /// out as the source likes).
    fn add_row(&self, y: usize, cols: std::ops::Range<usize>, w: f32, acc: &mut [f32]);

    /// Columns `cols` of `acc` (`add_row`'s layout) as pixels, into `line[cols]` (`line` is
    /// indexed by the frame's columns; the rest of it is scratch).
    fn pixels(&self, acc: &[f32], cols: std::ops::Range<usize>, line: &mut [[f32; 4]]);

    /// How the lanes become red, green and blue, if they are something else (YUV): applied to
    /// the resized pixels, as resizing and an affine map commute.
    fn to_rgb(&self) -> Option<ToRgb> {
        None
    }
}

/// `acc[i] += w * bytes[i]`: one loop the compiler runs on vectors.
pub fn add_bytes(acc: &mut [f32], bytes: &[u8], w: f32) {
    for (a, &b) in acc.iter_mut().zip(bytes) {
        *a += w * f32::from(b);
    }
}

/// Red, green and blue from a pixel's lanes: `rgb[c] = m[c][0..3] . lanes + m[c][3]`, clamped
/// to 0 to 255.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToRgb(pub [[f32; 4]; 3]);

impl ToRgb {
    /// One pixel's red, green and blue (`write_row` does the same on whole rows).
    #[cfg(test)]
    pub fn rgb(&self, lanes: [f32; 4]) -> [f32; 3] {
        self.0
            .map(|m| clamp_byte(m[0] * lanes[0] + m[1] * lanes[1] + m[2] * lanes[2] + m[3]))
    }
}

/// `v` clamped to 0 to 255 by compare-and-select, not `clamp`: wasm's float min and max are
/// NaN-exact, which V8 builds from several instructions; a select is one.
fn clamp_byte(v: f32) -> f32 {
    let v = if v < 0.0 { 0.0 } else { v };
    if v > 255.0 {
        255.0
    } else {
        v
    }
}

/// A `width x height` picture whose rows `src` reads, normalized to 1x3x224x224 as `crop`
/// says, band by band as `bands` runs them (see `pixels_to_tensor_in`). `held`: the pixels
/// `src` holds, which must hold those the taps read (planned once, for both).
pub fn rows_to_tensor(
    src: &impl SourceRows,
    (width, height): (usize, usize),
    held: &Window,
    crop: Crop,
    bands: Bands<'_>,
) -> Result<Tensor> {
    check_size(width, height)?;
    let (hx, hy) = plan(width, height, crop);
    let needed = Window::read_by(&hx, &hy);
    if !held.contains(&needed) {
        return Err(Error::Input(format!(
            "pixels {held:?} of a {width} x {height} frame do not hold the {needed:?} the resize reads"
        )));
    }
    Ok(resize(src, (&hx, &hy), bands))
}

/// The resize with its taps, an output row at a time: its vertical pass over the source rows
/// its taps read (only the columns the horizontal taps read), then its horizontal pass.
/// Vertical first: a downscale touches each source sample in about two output rows' taps,
/// where the horizontal pass first would run on every source row at the output's width.
fn resize(src: &impl SourceRows, (hx, hy): (&[Taps], &[Taps]), bands: Bands<'_>) -> Tensor {
    let mut out = vec![0f32; 3 * SIZE * SIZE];
    let to_rgb = src.to_rgb();
    let cols = span(hx);
    {
        // One lock per output row of each plane, each taken by the one band that writes it.
        let planes: Vec<Mutex<&mut [f32]>> = out.chunks_exact_mut(SIZE).map(Mutex::new).collect();
        bands(SIZE, &|ys| {
            let mut acc = vec![0f32; src.row_len(cols.clone())];
            let mut line = vec![[0f32; 4]; cols.end];
            let mut row = [[0f32; SIZE]; 3];
            for (y, t) in ys.clone().zip(&hy[ys]) {
                acc.fill(0.0);
                for (j, &w) in t.weights.iter().enumerate() {
                    src.add_row(t.first + j, cols.clone(), w, &mut acc);
                }
                src.pixels(&acc, cols.clone(), &mut line);
                horizontal(&line, hx, &mut row);
                write_row(&row, y, to_rgb.as_ref(), &planes);
            }
        });
    }
    Tensor::new([1, 3, SIZE, SIZE], out).expect("3 x 224 x 224 floats")
}

/// Interleaved 8-bit pixels of `CH` channels that hold a frame's pixels `win`.
struct Interleaved<'a, const CH: usize> {
    pixels: &'a [u8],
    win: &'a Window,
}

impl<const CH: usize> SourceRows for Interleaved<'_, CH> {
    fn row_len(&self, cols: std::ops::Range<usize>) -> usize {
        cols.len() * CH
    }

    fn add_row(&self, y: usize, cols: std::ops::Range<usize>, w: f32, acc: &mut [f32]) {
        let (win, stride) = (self.win, self.win.x.len());
        let at = (y - win.y.start) * stride;
        let src =
            &self.pixels[(at + cols.start - win.x.start) * CH..(at + cols.end - win.x.start) * CH];
        add_bytes(acc, src, w);
    }

    fn pixels(&self, acc: &[f32], cols: std::ops::Range<usize>, line: &mut [[f32; 4]]) {
        for (d, p) in line[cols].iter_mut().zip(acc.chunks_exact(CH)) {
            d[..CH].copy_from_slice(p);
        }
    }
}

/// The horizontal pass over one row of pixels (`line`, indexed by the frame's columns) into
/// `row`'s three lanes, each sum in tap order.
fn horizontal(line: &[[f32; 4]], hx: &[Taps], row: &mut [[f32; SIZE]; 3]) {
    for (x, t) in hx.iter().enumerate() {
        // A pixel's lanes as one vector (the compiler does not find it for wasm); the
        // product rounds before the sum, as everywhere else in the resize.
        let mut acc = F4::splat(0.0);
        for (p, &w) in line[t.first..].iter().zip(&t.weights) {
            acc = acc.add(F4::splat(w).mul(F4::from_array(p)));
        }
        let [a, b, c, _] = acc.to_array();
        [row[0][x], row[1][x], row[2][x]] = [a, b, c];
    }
}

/// Output row `y` (a lane a row, so these loops run on vectors): each pixel turned into red,
/// green and blue (`to_rgb`, if given), normalized and written to its three planes' rows.
fn write_row(
    row: &[[f32; SIZE]; 3],
    y: usize,
    to_rgb: Option<&ToRgb>,
    planes: &[Mutex<&mut [f32]>],
) {
    for c in 0..3 {
        let mut plane = planes[c * SIZE + y]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let (scale, shift) = (NORM_SCALE[c], NORM_SHIFT[c]);
        match to_rgb {
            None => {
                for (o, a) in plane.iter_mut().zip(&row[c]) {
                    *o = a * scale + shift;
                }
            }
            Some(ToRgb(m)) => {
                let m = m[c];
                let [l0, l1, l2] = row;
                for (((o, a), b), d) in plane.iter_mut().zip(l0).zip(l1).zip(l2) {
                    let v = m[0] * a + m[1] * b + m[2] * d + m[3];
                    *o = clamp_byte(v) * scale + shift;
                }
            }
        }
    }
}

/// The source pixels some tap reads.
fn span(taps: &[Taps]) -> std::ops::Range<usize> {
    let first = taps.iter().map(|t| t.first).min().unwrap_or(0);
    let last = taps.iter().map(|t| t.first + t.weights.len()).max();
    first..last.unwrap_or(0)
}

/// RGBA frame (canvas `ImageData` layout) to a normalized 1x3x224x224.
pub fn rgba_to_tensor(rgba: &[u8], width: usize, height: usize, crop: Crop) -> Result<Tensor> {
    pixels_to_tensor(rgba, width, height, 4, crop)
}

/// The RGBA pixels `win` of an ImageBitmap, drawn on an OffscreenCanvas of that size (works
/// in windows and workers). One canvas per thread and size, kept for the next frame, with
/// `willReadFrequently`:
/// a canvas the browser keeps in memory, not on the GPU, reads back without waiting for a
/// GPU copy (a camera frame took 4 to 5 ms to read without it).
#[cfg(target_arch = "wasm32")]
pub fn bitmap_pixels(bitmap: &web_sys::ImageBitmap, win: &Window) -> Result<Vec<u8>> {
    use std::cell::RefCell;
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::{OffscreenCanvas, OffscreenCanvasRenderingContext2d as Context};
    thread_local!(static CANVAS: RefCell<Option<(OffscreenCanvas, Context)>> = const { RefCell::new(None) });
    let js = |e: JsValue| Error::Input(format!("reading the image: {e:?}"));
    let (w, h) = (win.x.len() as u32, win.y.len() as u32);
    if w == 0 || h == 0 {
        return Err(Error::Input(format!("a {w} x {h} image is empty")));
    }
    let make = || -> Result<(OffscreenCanvas, Context)> {
        let canvas = OffscreenCanvas::new(w, h).map_err(js)?;
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"willReadFrequently".into(), &JsValue::TRUE).map_err(js)?;
        let ctx = canvas
            .get_context_with_context_options("2d", &options)
            .map_err(js)?
            .ok_or_else(|| Error::Input("no 2D canvas context".into()))?
            .dyn_into()
            .map_err(|_| Error::Input("the 2D context is not a 2D context".into()))?;
        Ok((canvas, ctx))
    };
    CANVAS.with_borrow_mut(|kept| {
        let fits = matches!(kept, Some((c, _)) if (c.width(), c.height()) == (w, h));
        if !fits {
            *kept = Some(make()?);
        }
        let (_, ctx) = kept.as_ref().expect("made above");
        // A picture with transparent pixels must not show the last frame through them.
        ctx.clear_rect(0.0, 0.0, w as f64, h as f64);
        let (x, y) = (win.x.start as f64, win.y.start as f64);
        ctx.draw_image_with_image_bitmap(bitmap, -x, -y)
            .map_err(js)?;
        Ok(ctx
            .get_image_data(0.0, 0.0, w as f64, h as f64)
            .map_err(js)?
            .data()
            .0)
    })
}

/// Softmax over one row of logits, computed stably.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// The `k` most probable classes as (index, probability), best first.
pub fn top_k(logits: &[f32], k: usize) -> Vec<(usize, f32)> {
    let p = softmax(logits);
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|a, b| p[*b].total_cmp(&p[*a]).then(a.cmp(b)));
    idx.into_iter().take(k).map(|i| (i, p[i])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `len` bytes of hashed noise.
    fn noise(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i: usize| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect()
    }

    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    #[test]
    fn taps_sum_to_one_and_stay_in_bounds() {
        for (span, out) in [(640.0, 224), (100.0, 224), (224.0, 224), (3.0, 224)] {
            for t in taps(span, 0.0, 0..span as usize, out) {
                let s: f32 = t.weights.iter().sum();
                assert!((s - 1.0).abs() < 1e-5);
                assert!(t.first + t.weights.len() <= span as usize);
            }
        }
    }

    #[test]
    fn identity_size_square_crop_is_exact() {
        // A 224 x 224 image maps pixel to pixel: one tap of weight 1.
        let px: Vec<u8> = (0..224 * 224 * 4).map(|i| (i * 7 % 251) as u8).collect();
        let t = rgba_to_tensor(&px, 224, 224, Crop::Square).unwrap();
        let want = (px[(5 * 224 + 9) * 4 + 1] as f32 / 255.0 - MEAN[1]) / STD[1];
        assert!((t.data[(224 + 5) * 224 + 9] - want).abs() < 1e-5);
    }

    /// The same resize, one output value at a time: each column's vertical taps summed, then
    /// the columns weighted, every sum in tap order as the fast passes add them.
    fn plain(pixels: &[u8], width: usize, height: usize, ch: usize, crop: Crop) -> Vec<f32> {
        let (hx, hy) = plan(width, height, crop);
        let mut out = vec![0f32; 3 * SIZE * SIZE];
        for c in 0..3 {
            for (y, ty) in hy.iter().enumerate() {
                for (x, tx) in hx.iter().enumerate() {
                    let mut v = 0f32;
                    for (i, &wx) in tx.weights.iter().enumerate() {
                        let col = tx.first + i;
                        let mut h = 0f32;
                        for (j, &wy) in ty.weights.iter().enumerate() {
                            h += wy * pixels[((ty.first + j) * width + col) * ch + c] as f32;
                        }
                        v += wx * h;
                    }
                    out[(c * SIZE + y) * SIZE + x] = v * NORM_SCALE[c] + NORM_SHIFT[c];
                }
            }
        }
        out
    }

    #[test]
    fn fast_passes_match_the_plain_resize_bit_for_bit() {
        for (w, h) in [
            (1, 1),
            (7, 3),
            (224, 224),
            (225, 301),
            (641, 479),
            (1280, 720),
        ] {
            for ch in [3usize, 4] {
                let px = noise(w * h * ch);
                for crop in [Crop::Eval, Crop::Square] {
                    let got = pixels_to_tensor(&px, w, h, ch, crop).unwrap().data;
                    let want = plain(&px, w, h, ch, crop);
                    assert!(same_bits(&got, &want), "{w} x {h}, {ch} channels, {crop:?}");
                }
            }
        }
    }

    #[test]
    fn bands_give_the_same_bits_as_one() {
        // Bands of 1, 7 and 100 rows, run last first: every row is the one-band row.
        for (w, h, crop) in [
            (320, 240, Crop::Square),
            (641, 479, Crop::Eval),
            (5, 3, Crop::Eval),
        ] {
            let px = noise(w * h * 4);
            let want = rgba_to_tensor(&px, w, h, crop).unwrap().data;
            for band in [1, 7, 100] {
                let backwards: Bands<'_> = &|rows, job| {
                    let starts: Vec<usize> = (0..rows).step_by(band).collect();
                    for &s in starts.iter().rev() {
                        job(s..(s + band).min(rows));
                    }
                };
                let got = pixels_to_tensor_in(&px, w, h, 4, crop, backwards)
                    .unwrap()
                    .data;
                assert!(
                    same_bits(&got, &want),
                    "{w} x {h}, {crop:?}, bands of {band}"
                );
            }
        }
    }

    #[test]
    fn the_window_alone_gives_the_same_bits_as_the_frame() {
        for (w, h, crop) in [
            (320, 240, Crop::Square),
            (240, 320, Crop::Square),
            (641, 479, Crop::Eval),
            (1280, 720, Crop::Eval),
            (5, 3, Crop::Eval),
        ] {
            let px = noise(w * h * 4);
            let want = rgba_to_tensor(&px, w, h, crop).unwrap().data;
            let win = window(w, h, crop).unwrap();
            if crop == Crop::Square {
                let side = w.min(h);
                let at = |len: usize| (len - side) / 2..(len - side) / 2 + side;
                assert_eq!(win, Window { x: at(w), y: at(h) }, "the centre square");
            }
            let cut: Vec<u8> = win
                .y
                .clone()
                .flat_map(|y| px[(y * w + win.x.start) * 4..(y * w + win.x.end) * 4].to_vec())
                .collect();
            let got = window_to_tensor(&cut, (w, h), &win, 4, crop, ONE_BAND)
                .unwrap()
                .data;
            assert!(
                same_bits(&got, &want),
                "{w} x {h}, {crop:?}, window {win:?}"
            );
            // A window that misses a column the filter reads is refused, not read past.
            let short = Window {
                x: win.x.start + 1..win.x.end,
                y: win.y.clone(),
            };
            let cut = vec![0u8; short.x.len() * short.y.len() * 4];
            let r = window_to_tensor(&cut, (w, h), &short, 4, crop, ONE_BAND);
            assert!(matches!(r, Err(Error::Input(_))), "{w} x {h}: {r:?}");
        }
    }

    #[test]
    fn rejects_mismatched_and_huge_frames() {
        assert!(rgba_to_tensor(&[0; 15], 2, 2, Crop::Square).is_err());
        assert!(rgba_to_tensor(&[], 0, 0, Crop::Eval).is_err());
        assert!(rgba_to_tensor(&[0; 4], 1, MAX_SIDE + 1, Crop::Eval).is_err());
    }

    #[test]
    fn top_k_orders_by_probability() {
        let t = top_k(&[0.1, 3.0, -1.0, 2.0], 2);
        assert_eq!(t.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 3]);
        assert!(t[0].1 > t[1].1);
    }
}

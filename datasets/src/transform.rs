//! torchvision's standard evaluation transform, `Resize(256)` then
//! `CenterCrop(224)` on a PIL image, without `ToTensor` / `Normalize`
//! (Tandem models take raw `u8` pixels), generalised to any crop size.
//!
//! - **Resize**: the shorter side becomes [`resize_side`]`(crop)` (256 for a
//!   224 crop, `round(crop * 256 / 224)` in general) and the longer side
//!   `floor(resize_side * long / short)`, as torchvision's
//!   `_compute_resized_output_size` computes it ([`resized_size`]).
//! - **Interpolation**: Pillow's `Image.resize(size, Image.BILINEAR)`, which
//!   torchvision calls for PIL images (its `antialias` argument is ignored
//!   there: Pillow always antialiases): a triangle filter whose support
//!   grows with the downscaling factor, coefficients normalised in `f64`
//!   and rounded to 22-bit fixed point, a horizontal pass then a vertical
//!   pass, each rounded and clamped to `u8`. [`resize_bilinear`] follows
//!   Pillow's `libImaging/Resample.c` step by step, so the bytes are
//!   Pillow's, not merely close to them.
//! - **Center crop**: offsets `round((size - crop) / 2)` with Python's
//!   `round` (halves to even), as torchvision's `center_crop` computes them
//!   ([`center_offset`]).
//!
//! Only the output pixels inside the crop are computed; each is the same
//! function of the input as in the full resize, so the result is the full
//! resize cropped.

use std::ops::Range;

/// Bits of fraction of Pillow's 8-bit resampling coefficients
/// (`PRECISION_BITS = 32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

/// The shorter side torchvision's standard evaluation resizes to before a
/// center crop of `crop`: 256 for 224 (`Resize(256)`, `CenterCrop(224)`),
/// `round(crop * 256 / 224)` for any other crop (37 for 32). There are no
/// ties: `crop * 8 / 7` is never a half.
pub fn resize_side(crop: usize) -> usize {
    (crop * 256 + 112) / 224
}

/// `(height, width)` after torchvision's `Resize(short)` of a
/// `height x width` image: the shorter side becomes `short`, the longer
/// `floor(short * long / shorter)` (`int(short * long / shorter)` in
/// torchvision, which is the same for every size an image can have).
pub fn resized_size(height: usize, width: usize, short: usize) -> (usize, usize) {
    if width <= height {
        (short * height / width, short)
    } else {
        (short, short * width / height)
    }
}

/// torchvision's `center_crop` offset: `int(round((size - crop) / 2.0))`,
/// Python's `round` taking halves to the even neighbour. `crop <= size`.
pub fn center_offset(size: usize, crop: usize) -> usize {
    let diff = size - crop;
    let half = diff / 2;
    if diff % 2 == 1 && half % 2 == 1 {
        half + 1
    } else {
        half
    }
}

/// The evaluation transform of one decoded image: `pixels` interleaved
/// (`height x width x channels`, row-major, as decoders give them), resized
/// so that its shorter side is [`resize_side`]`(max(out_height, out_width))`
/// and center-cropped to `out_height x out_width`. Returns channel-major
/// (`C x out_height x out_width`) bytes.
///
/// Panics when `pixels` is not `height * width * channels` bytes or a size
/// is zero.
pub fn eval_transform(
    pixels: &[u8],
    channels: usize,
    height: usize,
    width: usize,
    out_height: usize,
    out_width: usize,
) -> Vec<u8> {
    let short = resize_side(out_height.max(out_width));
    let (new_height, new_width) = resized_size(height, width, short);
    let top = center_offset(new_height, out_height);
    let left = center_offset(new_width, out_width);
    let window = resize_window(
        Image {
            pixels,
            channels,
            height,
            width,
        },
        new_height,
        new_width,
        top..top + out_height,
        left..left + out_width,
    );
    interleaved_to_planar(&window, channels, out_height * out_width)
}

/// Pillow's `Image.resize((out_width, out_height), Image.BILINEAR)` of an
/// interleaved `u8` image (`height x width x channels`): the same bytes,
/// interleaved. Panics when `pixels` is not `height * width * channels`
/// bytes or a size is zero.
pub fn resize_bilinear(
    pixels: &[u8],
    channels: usize,
    height: usize,
    width: usize,
    out_height: usize,
    out_width: usize,
) -> Vec<u8> {
    resize_window(
        Image {
            pixels,
            channels,
            height,
            width,
        },
        out_height,
        out_width,
        0..out_height,
        0..out_width,
    )
}

/// An interleaved `u8` image.
#[derive(Clone, Copy)]
struct Image<'a> {
    pixels: &'a [u8],
    channels: usize,
    height: usize,
    width: usize,
}

/// Output rows `rows` and columns `cols` of the `out_height x out_width`
/// resize of `image`, interleaved.
fn resize_window(
    image: Image<'_>,
    out_height: usize,
    out_width: usize,
    rows: Range<usize>,
    cols: Range<usize>,
) -> Vec<u8> {
    let Image {
        pixels,
        channels,
        height,
        width,
    } = image;
    assert!(channels > 0 && height > 0 && width > 0 && out_height > 0 && out_width > 0);
    assert_eq!(pixels.len(), height * width * channels, "image buffer size");
    assert!(rows.end <= out_height && cols.end <= out_width);
    let (crop_rows, crop_cols) = (rows.len(), cols.len());

    // Pillow skips a pass whose size does not change (`need_horizontal`,
    // `need_vertical`); that pass would be the identity anyway.
    let vertical = (out_height != height).then(|| Coefficients::new(height, out_height));
    // Source rows the vertical pass reads for the kept output rows.
    let source_rows = match &vertical {
        Some(v) if crop_rows > 0 => {
            v.bounds[rows.start].0..rows.clone().map(|yy| v.bounds[yy].1).max().unwrap_or(0)
        }
        Some(_) => 0..0,
        None => rows.clone(),
    };

    // Horizontal pass: the kept columns of every source row needed.
    let mut horizontal_out = vec![0u8; source_rows.len() * crop_cols * channels];
    if out_width != width {
        let h = Coefficients::new(width, out_width);
        for (row_out, y) in horizontal_out
            .chunks_exact_mut(crop_cols * channels)
            .zip(source_rows.clone())
        {
            let row_in = &pixels[y * width * channels..(y + 1) * width * channels];
            for (pixel_out, xx) in row_out.chunks_exact_mut(channels).zip(cols.clone()) {
                let (xmin, xmax) = h.bounds[xx];
                let weights = h.weights(xx);
                for (c, value) in pixel_out.iter_mut().enumerate() {
                    let mut sum: i64 = 1 << (PRECISION_BITS - 1);
                    for (x, &weight) in (xmin..xmax).zip(weights) {
                        sum += i64::from(row_in[x * channels + c]) * i64::from(weight);
                    }
                    *value = clip8(sum);
                }
            }
        }
    } else {
        for (row_out, y) in horizontal_out
            .chunks_exact_mut(crop_cols * channels)
            .zip(source_rows.clone())
        {
            let start = (y * width + cols.start) * channels;
            row_out.copy_from_slice(&pixels[start..start + crop_cols * channels]);
        }
    }

    let Some(v) = vertical else {
        return horizontal_out;
    };
    // Vertical pass over the horizontally resampled rows.
    let stride = crop_cols * channels;
    let mut out = vec![0u8; crop_rows * stride];
    for (row_out, yy) in out.chunks_exact_mut(stride).zip(rows) {
        let (ymin, ymax) = v.bounds[yy];
        let weights = v.weights(yy);
        for (i, value) in row_out.iter_mut().enumerate() {
            let mut sum: i64 = 1 << (PRECISION_BITS - 1);
            for (y, &weight) in (ymin..ymax).zip(weights) {
                let row = y - source_rows.start;
                sum += i64::from(horizontal_out[row * stride + i]) * i64::from(weight);
            }
            *value = clip8(sum);
        }
    }
    out
}

/// Pillow's `clip8`: the fixed-point sum back to a byte, clamped.
fn clip8(sum: i64) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow's bilinear (triangle) filter, support 1.
fn bilinear_filter(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for one axis.
struct Coefficients {
    /// Per output index: source range `xmin..xmax`.
    bounds: Vec<(usize, usize)>,
    /// `ksize` fixed-point weights per output index (only the first
    /// `xmax - xmin` are used).
    fixed: Vec<i32>,
    ksize: usize,
}

impl Coefficients {
    fn new(in_size: usize, out_size: usize) -> Self {
        // Pillow: `scale = (double)(in1 - in0) / outSize` with the box
        // `in0 = 0`, `in1 = in_size` held as `float` (exact for any size an
        // image can have).
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filterscale; // the bilinear filter's support is 1
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size);
        let mut fixed = vec![0i32; out_size * ksize];
        let mut k = vec![0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // C's `(int)` truncates towards zero, as `as` does.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin);
            k.fill(0.0);
            let mut ww = 0.0;
            for (x, weight) in k.iter_mut().take(n).enumerate() {
                let w = bilinear_filter(((x + xmin) as f64 - center + 0.5) * ss);
                *weight = w;
                ww += w;
            }
            if ww != 0.0 {
                for weight in k.iter_mut().take(n) {
                    *weight /= ww;
                }
            }
            for (out, &weight) in fixed[xx * ksize..(xx + 1) * ksize].iter_mut().zip(&k) {
                let scaled = weight * f64::from(1u32 << PRECISION_BITS);
                *out = if weight < 0.0 {
                    (-0.5 + scaled) as i32
                } else {
                    (0.5 + scaled) as i32
                };
            }
            bounds.push((xmin, xmin + n));
        }
        Coefficients {
            bounds,
            fixed,
            ksize,
        }
    }

    /// The fixed-point weights of output index `i`, from its `xmin`.
    fn weights(&self, i: usize) -> &[i32] {
        &self.fixed[i * self.ksize..(i + 1) * self.ksize]
    }
}

/// `pixels` interleaved (`plane` pixels of `channels` bytes) to channel-major.
fn interleaved_to_planar(pixels: &[u8], channels: usize, plane: usize) -> Vec<u8> {
    let mut out = vec![0u8; pixels.len()];
    for (p, pixel) in pixels.chunks_exact(channels).enumerate() {
        for (c, &value) in pixel.iter().enumerate() {
            out[c * plane + p] = value;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_torchvision() {
        assert_eq!(resize_side(224), 256);
        assert_eq!(resize_side(32), 37);
        // A 500x375 (w x h) photo: the height becomes 256, the width
        // int(256 * 500 / 375) = 341.
        assert_eq!(resized_size(375, 500, 256), (256, 341));
        assert_eq!(resized_size(500, 375, 256), (341, 256));
        assert_eq!(resized_size(300, 300, 256), (256, 256));
        // Python: round(58.5) = 58, round(59.5) = 60, round(16.0) = 16.
        assert_eq!(center_offset(341, 224), 58);
        assert_eq!(center_offset(343, 224), 60);
        assert_eq!(center_offset(256, 224), 16);
        assert_eq!(center_offset(224, 224), 0);
    }

    #[test]
    fn same_size_is_the_identity() {
        let pixels: Vec<u8> = (0..5 * 7 * 3).map(|i| (i * 37 % 256) as u8).collect();
        assert_eq!(resize_bilinear(&pixels, 3, 5, 7, 5, 7), pixels);
    }

    #[test]
    fn flat_images_stay_flat() {
        let pixels = vec![200u8; 37 * 53 * 3];
        let out = resize_bilinear(&pixels, 3, 37, 53, 11, 29);
        assert!(out.iter().all(|&p| p == 200), "{out:?}");
        let up = resize_bilinear(&pixels, 3, 37, 53, 70, 90);
        assert!(up.iter().all(|&p| p == 200));
    }

    #[test]
    fn the_window_is_the_full_resize_cropped() {
        let (h, w, c) = (41, 67, 3);
        let pixels: Vec<u8> = (0..h * w * c).map(|i| (i * 7919 % 251) as u8).collect();
        let out = eval_transform(&pixels, c, h, w, 24, 24);
        let (nh, nw) = resized_size(h, w, resize_side(24));
        assert_eq!((nh, nw), (27, 44));
        let full = resize_bilinear(&pixels, c, h, w, nh, nw);
        let (top, left) = (center_offset(nh, 24), center_offset(nw, 24));
        for ch in 0..c {
            for y in 0..24 {
                for x in 0..24 {
                    assert_eq!(
                        out[ch * 24 * 24 + y * 24 + x],
                        full[((y + top) * nw + x + left) * c + ch]
                    );
                }
            }
        }
    }
}

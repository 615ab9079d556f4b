//! Data movement of the fast path: channel-last (HWC) activations, the
//! im2col rows the kernels read, pooling, and the conversions to and from
//! the contract's `[C][H][W]` order.
//!
//! The fast path keeps activations channel-last so a convolution's im2col row
//! is a handful of contiguous channel runs, and the GEMM output (rows =
//! pixels, columns = channels) is already the next layer's input. The K
//! order inside a row is `[ky][kx][c]`; [`super::pack`] packs the weights in
//! the same order, which leaves every sum unchanged (integer addition
//! commutes, and wrapping i32 sums are exact when the final sum fits).

use crate::model::{Conv2d, Shape};

/// `[C][H][W]` -> `[H][W][C]`.
pub fn chw_to_hwc(shape: Shape, chw: &[i32]) -> Vec<i32> {
    transpose(chw, shape.channels, shape.height * shape.width)
}

/// `[H][W][C]` -> `[C][H][W]`.
pub fn hwc_to_chw(shape: Shape, hwc: &[i32]) -> Vec<i32> {
    transpose(hwc, shape.height * shape.width, shape.channels)
}

/// A `rows x cols` row-major matrix as `cols x rows`, in 32 x 32 blocks so
/// both sides stay in cache for wide layers.
fn transpose(values: &[i32], rows: usize, cols: usize) -> Vec<i32> {
    const BLOCK: usize = 32;
    assert_eq!(values.len(), rows * cols, "tensor size");
    let mut out = vec![0; values.len()];
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (0..cols).step_by(BLOCK) {
            for r in r0..(r0 + BLOCK).min(rows) {
                for c in c0..(c0 + BLOCK).min(cols) {
                    out[c * rows + r] = values[r * cols + c];
                }
            }
        }
    }
    out
}

/// Element types the kernels read activations as.
pub trait Element: Copy + Default {
    /// Narrow one activation. Callers guarantee it fits (the model loader
    /// bounds every activation by its layer's `in_bits`).
    fn narrow(value: i32) -> Self;
}
impl Element for u8 {
    #[inline(always)]
    fn narrow(value: i32) -> Self {
        value as u8
    }
}
impl Element for i16 {
    #[inline(always)]
    fn narrow(value: i32) -> Self {
        value as i16
    }
}
impl Element for i32 {
    #[inline(always)]
    fn narrow(value: i32) -> Self {
        value
    }
}

/// Append one image's im2col rows (channel-last input, already narrowed to
/// the kernel's element type) to `rows`: one row of `row_len >= K` elements
/// per output pixel, `K` in `[ky][kx][c]` order, zeros under padding and past `K`.
#[inline(always)]
pub fn im2col_hwc<T: Element>(
    conv: &Conv2d,
    in_shape: Shape,
    out_shape: Shape,
    hwc: &[T],
    row_len: usize,
    rows: &mut Vec<T>,
) {
    let [kh, kw] = conv.kernel;
    let channels = in_shape.channels;
    let (h, w) = (in_shape.height as isize, in_shape.width as isize);
    let start = rows.len();
    rows.resize(
        start + out_shape.height * out_shape.width * row_len,
        T::default(),
    );
    let mut row_start = start;
    for oy in 0..out_shape.height {
        for ox in 0..out_shape.width {
            let row = &mut rows[row_start..row_start + row_len];
            for ky in 0..kh {
                let iy = (oy * conv.stride + ky) as isize - conv.padding as isize;
                if iy < 0 || iy >= h {
                    continue;
                }
                // The taps of one kernel row that fall inside the image are
                // adjacent pixels, so one contiguous run of channels.
                let ix0 = (ox * conv.stride) as isize - conv.padding as isize;
                let (kx0, kx1) = (
                    (-ix0).max(0) as usize,
                    ((w - ix0).min(kw as isize)).max(0) as usize,
                );
                if kx0 >= kx1 {
                    continue;
                }
                let src = &hwc[(iy * w + ix0 + kx0 as isize) as usize * channels..]
                    [..(kx1 - kx0) * channels];
                copy_run(&mut row[(ky * kw + kx0) * channels..][..src.len()], src);
            }
            row_start += row_len;
        }
    }
}

/// `dst.copy_from_slice(src)` without a call to `memcpy` for the short runs
/// of a first layer with one or three channels.
#[inline(always)]
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    if src.len() > 32 {
        dst.copy_from_slice(src);
        return;
    }
    let mut chunks = dst.chunks_exact_mut(4).zip(src.chunks_exact(4));
    for (d, s) in &mut chunks {
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
        d[3] = s[3];
    }
    let done = src.len() / 4 * 4;
    for (d, s) in dst[done..].iter_mut().zip(&src[done..]) {
        *d = *s;
    }
}

/// Narrow a whole tensor to the kernel's element type.
#[inline(always)]
pub fn narrow<T: Element>(values: &[i32]) -> Vec<T> {
    values.iter().map(|&v| T::narrow(v)).collect()
}

/// Append one linear-layer input (already in the contract's flatten order)
/// as one row of `row_len >= K` elements.
#[inline(always)]
pub fn append_row<T: Element>(values: &[i32], row_len: usize, rows: &mut Vec<T>) {
    let start = rows.len();
    rows.extend(values.iter().map(|&v| T::narrow(v)));
    rows.resize(start + row_len, T::default());
}

/// Max-pooling on channel-last activations (no padding).
pub fn maxpool_hwc(
    kernel: usize,
    stride: usize,
    in_shape: Shape,
    out: Shape,
    hwc: &[i32],
) -> Vec<i32> {
    let channels = in_shape.channels;
    let mut result = vec![i32::MIN; out.len()];
    for oy in 0..out.height {
        for ox in 0..out.width {
            let dst = &mut result[(oy * out.width + ox) * channels..][..channels];
            for ky in 0..kernel {
                for kx in 0..kernel {
                    let (iy, ix) = (oy * stride + ky, ox * stride + kx);
                    let src = &hwc[(iy * in_shape.width + ix) * channels..][..channels];
                    for (d, &s) in dst.iter_mut().zip(src) {
                        *d = (*d).max(s);
                    }
                }
            }
        }
    }
    result
}

/// The im2col matrix of one image in the contract's order: row
/// `p = oy*out_w + ox` holds the `K = cin*kh*kw` inputs under the kernel at
/// output pixel `p`, in `[cin][kh][kw]` order (zero where the kernel covers
/// padding). This is the order the hardware drivers stream; the fast path
/// itself uses [`im2col_hwc`].
pub fn im2col(
    conv: &Conv2d,
    in_shape: Shape,
    input: &[i32],
    out_h: usize,
    out_w: usize,
) -> Vec<i32> {
    let [kh, kw] = conv.kernel;
    let k = conv.in_channels * kh * kw;
    let (h, w) = (in_shape.height as isize, in_shape.width as isize);
    let mut patches = vec![0i32; out_h * out_w * k];
    for oy in 0..out_h {
        for ox in 0..out_w {
            let row = &mut patches[(oy * out_w + ox) * k..][..k];
            let mut col = 0;
            for ci in 0..conv.in_channels {
                let plane = &input[ci * in_shape.height * in_shape.width..];
                for ky in 0..kh {
                    let iy = (oy * conv.stride + ky) as isize - conv.padding as isize;
                    for kx in 0..kw {
                        let ix = (ox * conv.stride + kx) as isize - conv.padding as isize;
                        if iy >= 0 && ix >= 0 && iy < h && ix < w {
                            row[col] = plane[(iy * w + ix) as usize];
                        }
                        col += 1;
                    }
                }
            }
        }
    }
    patches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trip() {
        let shape = Shape::new(3, 2, 5);
        let chw: Vec<i32> = (0..30).collect();
        let hwc = chw_to_hwc(shape, &chw);
        assert_eq!(hwc[..4], [0, 10, 20, 1]);
        assert_eq!(hwc_to_chw(shape, &hwc), chw);
    }
}

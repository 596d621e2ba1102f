//! Image bytes -> the model's input tensor, exactly as the sidecar says:
//! decode (with limits) -> gray or RGB -> bilinear resize of the shorter side -> centre crop
//! -> `(pixel / 255 - mean) / std`, NCHW float32.

use crate::err;
use crate::error::Result;
use crate::sidecar::{Color, Sidecar};
use image::imageops::FilterType;
use image::{DynamicImage, ImageReader, Limits};
use std::io::Cursor;
use tract_onnx::prelude::tract_ndarray::{ArrayD, IxDyn};

/// Largest image side accepted by the decoder (pixels). Larger images are refused before
/// their pixels are decoded.
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Largest decoder allocation (bytes): no decompression bombs.
pub const MAX_IMAGE_ALLOC: u64 = 256 * 1024 * 1024;

/// Decodes PNG or JPEG bytes, refusing oversized or empty images with a clear error.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage> {
    if bytes.is_empty() {
        return Err(err!(Image, "cannot decode image: the file is empty"));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| err!(Image, "cannot decode image: {e}"))?;
    if reader.format().is_none() {
        return Err(err!(Image, "cannot decode image: not a PNG or JPEG file"));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => err!(
            Limit,
            "image too large: at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} pixels and {} MiB decoded ({e})",
            MAX_IMAGE_ALLOC >> 20
        ),
        e => err!(Image, "cannot decode image: {e}"),
    })?;
    if img.width() == 0 || img.height() == 0 {
        return Err(err!(Image, "cannot use image: it has zero width or height"));
    }
    Ok(img)
}

/// Builds an image from RGBA pixels (a canvas' `ImageData`).
pub fn from_rgba(rgba: Vec<u8>, width: u32, height: u32) -> Result<DynamicImage> {
    if width == 0 || height == 0 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(err!(
            Image,
            "image size {width}x{height} must be 1..={MAX_IMAGE_SIDE} on each side"
        ));
    }
    let buf = image::RgbaImage::from_raw(width, height, rgba)
        .ok_or_else(|| err!(Image, "RGBA buffer does not hold {width}x{height} pixels"))?;
    Ok(DynamicImage::ImageRgba8(buf))
}

/// The size the image takes after resizing its shorter side to `target` (aspect kept).
pub fn resized_size(width: u32, height: u32, target: u32) -> (u32, u32) {
    if width <= height {
        let h = ((height as f64) * (target as f64) / (width as f64))
            .round()
            .max(1.0) as u32;
        (target, h.max(target))
    } else {
        let w = ((width as f64) * (target as f64) / (height as f64))
            .round()
            .max(1.0) as u32;
        (w.max(target), target)
    }
}

/// The image resized and centre-cropped to the model's input size, as 8-bit channels
/// (1 for gray, 3 for RGB, 4 for RGBA), row-major HxWxC. This is also what the viewer draws under a heatmap.
///
/// A very elongated image is refused: resizing its shorter side would make the longer one huge
/// (a 112-byte 1x16384 PNG became 224x3670016 RGB pixels, 2.5 GB and minutes of work), so the
/// resized image, like a decoded one, may have at most [`MAX_IMAGE_SIDE`] pixels on a side.
pub fn resize_and_crop(img: &DynamicImage, sc: &Sidecar) -> Result<(Vec<u8>, u32, u32)> {
    let [ch, cw] = sc.preprocess.crop;
    let (nw, nh) = resized_size(img.width(), img.height(), sc.preprocess.resize);
    let (nw, nh) = (nw.max(cw), nh.max(ch));
    if nw > MAX_IMAGE_SIDE || nh > MAX_IMAGE_SIDE {
        return Err(err!(
            Limit,
            "image {}x{} is too elongated: resizing its shorter side to {} pixels makes it {nw}x{nh} (at most {MAX_IMAGE_SIDE} pixels on a side)",
            img.width(),
            img.height(),
            sc.preprocess.resize
        ));
    }
    let left = (nw - cw) / 2;
    let top = (nh - ch) / 2;
    let fit = |r: DynamicImage| -> DynamicImage {
        let r = if (r.width(), r.height()) == (nw, nh) {
            r
        } else {
            r.resize_exact(nw, nh, FilterType::Triangle)
        };
        r.crop_imm(left, top, cw, ch)
    };
    let data = match sc.input.color {
        Color::Gray => fit(DynamicImage::ImageLuma8(img.to_luma8()))
            .into_luma8()
            .into_raw(),
        Color::Rgb => fit(DynamicImage::ImageRgb8(img.to_rgb8()))
            .into_rgb8()
            .into_raw(),
        Color::Rgba => fit(DynamicImage::ImageRgba8(img.to_rgba8()))
            .into_rgba8()
            .into_raw(),
        Color::Tensor => return Err(not_an_image(sc)),
    };
    Ok((data, cw, ch))
}

/// The error for an image given to a model whose input is not an image.
pub fn not_an_image(sc: &Sidecar) -> crate::Error {
    err!(
        Shape,
        "this model takes {} input channels ({:?}); images map onto 1 (gray), 3 (RGB) or 4 (RGBA) channels, so give it a tensor (.npy, or a Float32Array in JS)",
        sc.input.shape[1],
        sc.input.shape
    )
}

/// The full preprocessing: the model input tensor `[1, C, H, W]`.
pub fn to_tensor(img: &DynamicImage, sc: &Sidecar) -> Result<ArrayD<f32>> {
    let (pixels, w, h) = resize_and_crop(img, sc)?;
    let c = sc.input.color.channels().ok_or_else(|| not_an_image(sc))?;
    let (w, h) = (w as usize, h as usize);
    let mut x = ArrayD::<f32>::zeros(IxDyn(&[1, c, h, w]));
    let (mean, std): (Vec<f32>, Vec<f32>) = (0..c).map(|k| (sc.mean(k), sc.std(k))).unzip();
    for (i, px) in pixels.chunks_exact(c).enumerate() {
        let (y, xx) = (i / w, i % w);
        for k in 0..c {
            x[[0, k, y, xx]] = (px[k] as f32 / 255.0 - mean[k]) / std[k];
        }
    }
    Ok(x)
}

/// Decode + preprocess in one step.
pub fn image_bytes_to_tensor(bytes: &[u8], sc: &Sidecar) -> Result<ArrayD<f32>> {
    to_tensor(&decode(bytes)?, sc)
}

/// What the viewer draws under a heatmap for an input tensor `[1, C, H, W]`, as RGBA: an image
/// model's pixels with the normalisation undone; for a tensor-only model (or channels the
/// sidecar does not map), the mean over channels stretched to 0..255, in gray.
pub fn tensor_view_rgba(x: &ArrayD<f32>, sc: &Sidecar) -> Result<Vec<u8>> {
    let s = x.shape();
    if s.len() != 4 || s[0] != 1 {
        return Err(err!(Shape, "expected a [1, C, H, W] tensor, got {s:?}"));
    }
    let (c, h, w) = (s[1], s[2], s[3]);
    let px = |k: usize, i: usize, j: usize| {
        let v = (x[[0, k, i, j]] * sc.std(k) + sc.mean(k)) * 255.0;
        v.round().clamp(0.0, 255.0) as u8
    };
    let mut out = Vec::with_capacity(h * w * 4);
    match sc.input.color.channels() {
        Some(n) if n == c => {
            for i in 0..h {
                for j in 0..w {
                    let rgba = match c {
                        1 => [px(0, i, j), px(0, i, j), px(0, i, j), 255],
                        3 => [px(0, i, j), px(1, i, j), px(2, i, j), 255],
                        _ => [px(0, i, j), px(1, i, j), px(2, i, j), px(3, i, j)],
                    };
                    out.extend(rgba);
                }
            }
        }
        _ => {
            let mean = x
                .mean_axis(tract_onnx::prelude::tract_ndarray::Axis(1))
                .unwrap_or_default();
            let (lo, hi) = mean
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            let span = if hi > lo { hi - lo } else { 1.0 };
            for &v in mean.iter() {
                let g = (((v - lo) / span) * 255.0).round().clamp(0.0, 255.0) as u8;
                out.extend([g, g, g, 255]);
            }
        }
    }
    Ok(out)
}

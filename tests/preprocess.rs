//! Preprocessing against values computed by hand.

use saliency::sidecar::{Color, InputSpec, Layout, Preprocess, Sidecar};
use saliency::{preprocess, ErrorKind};

fn sidecar(
    color: Color,
    h: usize,
    w: usize,
    resize: u32,
    mean: Vec<f32>,
    std: Vec<f32>,
) -> Sidecar {
    let c = color.channels().unwrap();
    let mut s = Sidecar::default_for(&[1, c, h, w]).unwrap();
    s.input = InputSpec {
        shape: vec![1, c, h, w],
        color,
        layout: Layout::Nchw,
    };
    s.preprocess = Preprocess {
        resize,
        crop: [h as u32, w as u32],
        mean,
        std,
    };
    s.validate().unwrap();
    s
}

fn png(img: image::DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn centre_crop_and_normalise_without_resizing() {
    // A 4-wide, 2-high RGB image; the shorter side is already 2, so only the crop acts:
    // columns 1 and 2 are kept.
    let mut img = image::RgbImage::new(4, 2);
    for x in 0..4u32 {
        for y in 0..2u32 {
            img.put_pixel(x, y, image::Rgb([(10 * x + y) as u8, 100, 255]));
        }
    }
    let sc = sidecar(
        Color::Rgb,
        2,
        2,
        2,
        vec![0.5, 0.0, 1.0],
        vec![0.25, 1.0, 0.5],
    );
    let x = preprocess::image_bytes_to_tensor(&png(img.into()), &sc).unwrap();
    assert_eq!(x.shape(), &[1, 3, 2, 2]);
    // red at (y, x) = (0, 0) is column 1, row 0: 10 -> (10/255 - 0.5) / 0.25
    let close = |a: f32, b: f32| assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    close(x[[0, 0, 0, 0]], (10.0 / 255.0 - 0.5) / 0.25);
    close(x[[0, 0, 1, 1]], (21.0 / 255.0 - 0.5) / 0.25);
    close(x[[0, 1, 0, 1]], 100.0 / 255.0);
    close(x[[0, 2, 1, 0]], (1.0 - 1.0) / 0.5);
}

#[test]
fn gray_conversion_and_uniform_resize() {
    // A uniform image stays uniform under any resize; gray uses the luma of the colour.
    let img = image::RgbImage::from_pixel(50, 30, image::Rgb([200, 200, 200]));
    let sc = sidecar(Color::Gray, 28, 28, 28, vec![0.1307], vec![0.3081]);
    let x = preprocess::image_bytes_to_tensor(&png(img.into()), &sc).unwrap();
    assert_eq!(x.shape(), &[1, 1, 28, 28]);
    let want = (200.0 / 255.0 - 0.1307) / 0.3081;
    assert!(
        x.iter().all(|v| (v - want).abs() < 1e-5),
        "{:?}",
        x.iter().take(3).collect::<Vec<_>>()
    );
}

#[test]
fn resized_size_keeps_aspect() {
    assert_eq!(preprocess::resized_size(640, 480, 256), (341, 256));
    assert_eq!(preprocess::resized_size(480, 640, 256), (256, 341));
    assert_eq!(preprocess::resized_size(300, 300, 256), (256, 256));
}

#[test]
fn bad_images_are_clear_errors() {
    let e = preprocess::decode(b"").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Image);
    let e = preprocess::decode(b"GIF89a this is not supported").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Image, "{e}");
    let e = preprocess::from_rgba(vec![0; 10], 2, 2).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Image);
}

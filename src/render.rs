//! Turning an attribution into pixels: channel reduction, sign handling, Captum's outlier
//! clipping, bilinear/nearest upsampling, colormaps (d3's, via `colorous`) and the overlay.
//! Pure functions, shared by the viewer (through the wasm shell) and the tests.

use crate::err;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// A 2-D map, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Map2 {
    /// Height (rows).
    pub h: usize,
    /// Width (columns).
    pub w: usize,
    /// `h * w` values, row by row.
    pub data: Vec<f32>,
}

/// How the channels of an attribution become one map (JSON: `reduce`, `sum` | `max-abs` | `l2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Reduce {
    /// Sum over channels (keeps the sign; Captum's default).
    #[default]
    Sum,
    /// The channel value with the largest magnitude, with its sign.
    MaxAbs,
    /// The L2 norm over channels (non-negative).
    L2,
}

/// Which values of the reduced map are drawn (JSON: `sign`, `signed` | `absolute` | `positive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Sign {
    /// Positive and negative evidence, on a diverging colormap centred on zero.
    #[default]
    Signed,
    /// |value|.
    Absolute,
    /// max(value, 0).
    Positive,
}

/// How a map is resampled to the drawing size (JSON: `upsample`, `bilinear` | `nearest` |
/// `bicubic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Upsample {
    /// Half-pixel centres, borders clamped, as `cv2.resize` / `align_corners=False`.
    #[default]
    Bilinear,
    /// The source pixel whose cell holds the output pixel's centre.
    Nearest,
    /// Keys' cubic convolution (a = -0.75), half-pixel centres, borders replicated: as
    /// `torch.nn.functional.interpolate(mode="bicubic")` and `cv2.INTER_CUBIC`.
    Bicubic,
}

/// A colormap (JSON: its kebab-case name, e.g. `inferno`, `blue-white-red`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Colormap {
    /// d3's viridis (sequential).
    Viridis,
    /// d3's inferno (sequential; the default for unsigned maps).
    Inferno,
    /// d3's magma (sequential).
    Magma,
    /// d3's plasma (sequential).
    Plasma,
    /// d3's turbo (sequential, rainbow-like).
    Turbo,
    /// matplotlib's / OpenCV's jet, as pytorch-grad-cam draws.
    Jet,
    /// d3's greys (sequential: white to black).
    Greys,
    /// Diverging blue-white-red (d3's RdBu reversed: negative blue, positive red).
    BlueWhiteRed,
    /// Diverging purple-white-green.
    PurpleGreen,
}

impl Colormap {
    /// Whether the map is diverging (centred on zero: values span `[-v, v]`).
    pub(crate) fn is_diverging(self) -> bool {
        matches!(self, Colormap::BlueWhiteRed | Colormap::PurpleGreen)
    }

    /// The colour at `t` in [0, 1].
    pub fn at(self, t: f32) -> [u8; 3] {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0) as f64
        } else {
            0.0
        };
        let g = match self {
            Colormap::Viridis => colorous::VIRIDIS,
            Colormap::Inferno => colorous::INFERNO,
            Colormap::Magma => colorous::MAGMA,
            Colormap::Plasma => colorous::PLASMA,
            Colormap::Turbo => colorous::TURBO,
            Colormap::Greys => colorous::GREYS,
            Colormap::BlueWhiteRed => return rgb(colorous::RED_BLUE.eval_continuous(1.0 - t)),
            Colormap::PurpleGreen => colorous::PURPLE_GREEN,
            Colormap::Jet => return jet(t),
        };
        rgb(g.eval_continuous(t))
    }
}

fn rgb(c: colorous::Color) -> [u8; 3] {
    [c.r, c.g, c.b]
}

/// matplotlib's `jet` segment data (the same piecewise-linear map OpenCV's COLORMAP_JET
/// approximates); d3 has no jet.
fn jet(t: f64) -> [u8; 3] {
    let piece = |pts: &[(f64, f64)]| -> u8 {
        let mut v = pts[0].1;
        for w in pts.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            if t >= x0 && t <= x1 {
                v = if x1 > x0 {
                    y0 + (y1 - y0) * (t - x0) / (x1 - x0)
                } else {
                    y1
                };
                break;
            }
        }
        (v * 255.0).round() as u8
    };
    [
        piece(&[
            (0.0, 0.0),
            (0.35, 0.0),
            (0.66, 1.0),
            (0.89, 1.0),
            (1.0, 0.5),
        ]),
        piece(&[
            (0.0, 0.0),
            (0.125, 0.0),
            (0.375, 1.0),
            (0.64, 1.0),
            (0.91, 0.0),
            (1.0, 0.0),
        ]),
        piece(&[
            (0.0, 0.5),
            (0.11, 1.0),
            (0.34, 1.0),
            (0.65, 0.0),
            (1.0, 0.0),
        ]),
    ]
}

/// Display settings: everything the viewer's controls change (JSON with these field names,
/// each optional: a missing one takes its default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Display {
    /// Channel reduction (default `sum`).
    pub reduce: Reduce,
    /// Sign handling (default `signed`).
    pub sign: Sign,
    /// Captum's `outlier_perc`: the share (in %) of the total |attribution| mass clipped at the top.
    /// Within 0..=100, default 2.
    pub outlier_percent: f32,
    /// Resampling to the drawing size (default `bilinear`).
    pub upsample: Upsample,
    /// None: blue-white-red for signed maps, inferno otherwise.
    pub colormap: Option<Colormap>,
}

impl Default for Display {
    fn default() -> Self {
        Display {
            reduce: Reduce::Sum,
            sign: Sign::Signed,
            outlier_percent: 2.0,
            upsample: Upsample::Bilinear,
            colormap: None,
        }
    }
}

/// Reduces an attribution of shape `[1, C, H, W]`, `[C, H, W]` or `[H, W]` to one map.
pub fn reduce(shape: &[usize], data: &[f32], how: Reduce) -> Result<Map2> {
    let dims: Vec<usize> = match shape {
        [1, c, h, w] | [c, h, w] => vec![*c, *h, *w],
        [h, w] => vec![1, *h, *w],
        _ => return Err(err!(Shape, "cannot draw an attribution of shape {shape:?}: expected [1, C, H, W], [C, H, W] or [H, W]")),
    };
    let (c, h, w) = (dims[0], dims[1], dims[2]);
    if c * h * w != data.len() || h == 0 || w == 0 {
        return Err(err!(
            Shape,
            "attribution has {} values, its shape {shape:?} needs {}",
            data.len(),
            c * h * w
        ));
    }
    let plane = h * w;
    let out = (0..plane)
        .map(|i| {
            let vals = (0..c).map(|k| data[k * plane + i]);
            match how {
                Reduce::Sum => vals.sum(),
                Reduce::MaxAbs => vals.fold(0.0f32, |m, v| if v.abs() > m.abs() { v } else { m }),
                Reduce::L2 => vals.map(|v| v * v).sum::<f32>().sqrt(),
            }
        })
        .collect();
    Ok(Map2 { h, w, data: out })
}

/// Resamples a map to `h` x `w`.
pub fn upsample(m: &Map2, h: usize, w: usize, how: Upsample) -> Map2 {
    if (m.h, m.w) == (h, w) {
        return m.clone();
    }
    let (sy, sx) = (m.h as f32 / h as f32, m.w as f32 / w as f32);
    let at = |y: usize, x: usize| m.data[y * m.w + x];
    let mut data = Vec::with_capacity(h * w);
    for oy in 0..h {
        for ox in 0..w {
            data.push(match how {
                Upsample::Nearest => at(
                    ((oy as f32 + 0.5) * sy).floor().min((m.h - 1) as f32) as usize,
                    ((ox as f32 + 0.5) * sx).floor().min((m.w - 1) as f32) as usize,
                ),
                Upsample::Bilinear => {
                    // half-pixel centres; clamp at the borders as cv2 / torch do
                    let fy = ((oy as f32 + 0.5) * sy - 0.5).max(0.0);
                    let fx = ((ox as f32 + 0.5) * sx - 0.5).max(0.0);
                    let (y0, x0) = (
                        (fy.floor() as usize).min(m.h - 1),
                        (fx.floor() as usize).min(m.w - 1),
                    );
                    let (y1, x1) = ((y0 + 1).min(m.h - 1), (x0 + 1).min(m.w - 1));
                    let (dy, dx) = (fy - y0 as f32, fx - x0 as f32);
                    let top = at(y0, x0) * (1.0 - dx) + at(y0, x1) * dx;
                    let bottom = at(y1, x0) * (1.0 - dx) + at(y1, x1) * dx;
                    top * (1.0 - dy) + bottom * dy
                }
                Upsample::Bicubic => {
                    let fy = (oy as f32 + 0.5) * sy - 0.5;
                    let fx = (ox as f32 + 0.5) * sx - 0.5;
                    let (y0, x0) = (fy.floor(), fx.floor());
                    let (wy, wx) = (cubic_weights(fy - y0), cubic_weights(fx - x0));
                    let clamp = |v: f32, n: usize| (v.max(0.0) as usize).min(n - 1);
                    let mut acc = 0.0;
                    for (i, wyi) in wy.iter().enumerate() {
                        let yy = clamp(y0 + i as f32 - 1.0, m.h);
                        let row: f32 = wx
                            .iter()
                            .enumerate()
                            .map(|(j, wxj)| wxj * at(yy, clamp(x0 + j as f32 - 1.0, m.w)))
                            .sum();
                        acc += wyi * row;
                    }
                    acc
                }
            });
        }
    }
    Map2 { h, w, data }
}

/// Keys' cubic weights (a = -0.75) of the four neighbours at offsets -1, 0, 1, 2 for a
/// fractional position `t` in [0, 1).
fn cubic_weights(t: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let near = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let far = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

/// Captum's `_cumulative_sum_threshold`: the smallest value v such that the values up to v
/// hold `100 - outlier_percent` % of the total (of non-negative `values`).
pub fn cumulative_threshold(values: &[f32], outlier_percent: f32) -> f32 {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    let total: f64 = v.iter().map(|&x| x as f64).sum();
    let want = total * (100.0 - outlier_percent.clamp(0.0, 100.0) as f64) / 100.0;
    let mut acc = 0.0f64;
    for &x in &v {
        acc += x as f64;
        if acc >= want {
            return x;
        }
    }
    *v.last().unwrap()
}

/// The rendered heatmap: RGBA pixels and the value range its colours span (for the legend).
#[derive(Debug, Clone, Serialize)]
pub struct Heatmap {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` pixels, row by row, 4 bytes each (alpha always 255); not serialised.
    #[serde(skip)]
    pub rgba: Vec<u8>,
    /// The value at the bottom of the colormap (after sign handling): `-vmax` for signed maps
    /// and diverging colormaps, else 0.
    pub vmin: f32,
    /// The value at the top of the colormap: the outlier-clipping scale (> 0).
    pub vmax: f32,
    /// The colormap used (the requested one, or the default).
    pub colormap: Colormap,
}

/// Largest side of a drawn map, in pixels.
pub const MAX_SIDE: usize = 4096;

/// A drawing size of `h` x `w` pixels must be 1..=[`MAX_SIDE`] on each side (a `Parameter`
/// error otherwise): what every drawing and every map at a chosen size checks.
pub fn check_size(h: usize, w: usize) -> Result<()> {
    if h == 0 || w == 0 || h > MAX_SIDE || w > MAX_SIDE {
        return Err(err!(
            Parameter,
            "map size {h}x{w} must be 1..={MAX_SIDE} on each side"
        ));
    }
    Ok(())
}

/// Reduce, upsample to `h` x `w` (each 1..=[`MAX_SIDE`]), clip and colour an attribution.
pub fn render(shape: &[usize], data: &[f32], h: usize, w: usize, d: &Display) -> Result<Heatmap> {
    check_size(h, w)?;
    if data.iter().any(|v| !v.is_finite()) {
        return Err(err!(
            NonFinite,
            "the attribution contains NaN or infinite values; nothing to draw"
        ));
    }
    if !(0.0..=100.0).contains(&d.outlier_percent) {
        return Err(err!(
            Parameter,
            "outlier percentage {} must be within 0..=100",
            d.outlier_percent
        ));
    }
    let m = upsample(&reduce(shape, data, d.reduce)?, h, w, d.upsample);
    let signed = d.sign == Sign::Signed;
    let vals: Vec<f32> = match d.sign {
        Sign::Signed => m.data,
        Sign::Absolute => m.data.iter().map(|v| v.abs()).collect(),
        Sign::Positive => m.data.iter().map(|v| v.max(0.0)).collect(),
    };
    let abs: Vec<f32> = vals.iter().map(|v| v.abs()).collect();
    let mut scale = cumulative_threshold(&abs, d.outlier_percent);
    if scale <= 0.0 {
        scale = abs.iter().copied().fold(0.0, f32::max);
    }
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let cmap = d.colormap.unwrap_or(if signed {
        Colormap::BlueWhiteRed
    } else {
        Colormap::Inferno
    });
    let mut rgba = Vec::with_capacity(vals.len() * 4);
    for v in &vals {
        let t = if signed || cmap.is_diverging() {
            0.5 + 0.5 * (v / scale)
        } else {
            v / scale
        };
        let [r, g, b] = cmap.at(t);
        rgba.extend_from_slice(&[r, g, b, 255]);
    }
    let vmin = if signed || cmap.is_diverging() {
        -scale
    } else {
        0.0
    };
    Ok(Heatmap {
        width: w,
        height: h,
        rgba,
        vmin,
        vmax: scale,
        colormap: cmap,
    })
}

/// Min-max normalisation to [0, 1] (CAM / Grad-CAM display).
pub fn min_max(values: &[f32]) -> Vec<f32> {
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    if !(hi > lo) {
        return vec![0.0; values.len()];
    }
    values.iter().map(|v| (v - lo) / (hi - lo)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_matches_half_pixel_centres() {
        // 2x2 -> 4x4 with align_corners=False (torch): first row [1, 1.25, 1.75, 2] for [[1,2],[3,4]].
        let m = Map2 {
            h: 2,
            w: 2,
            data: vec![1.0, 2.0, 3.0, 4.0],
        };
        let u = upsample(&m, 4, 4, Upsample::Bilinear);
        assert_eq!(&u.data[0..4], &[1.0, 1.25, 1.75, 2.0]);
        assert_eq!(&u.data[12..16], &[3.0, 3.25, 3.75, 4.0]);
        // (1, 1): fy = fx = 0.25 -> rows 1.25 and 3.25 -> 1.75
        assert_eq!(u.data[5], 1.75);
        let n = upsample(&m, 4, 4, Upsample::Nearest);
        assert_eq!(&n.data[0..4], &[1.0, 1.0, 2.0, 2.0]);
    }

    #[test]
    fn captum_cumulative_threshold() {
        // values 1..=10 sum to 55; 98 % of 55 = 53.9 is reached only at 10; 80 % = 44 at 9 (45).
        let v: Vec<f32> = (1..=10).map(|i| i as f32).collect();
        assert_eq!(cumulative_threshold(&v, 2.0), 10.0);
        assert_eq!(cumulative_threshold(&v, 20.0), 9.0);
        assert_eq!(cumulative_threshold(&v, 0.0), 10.0);
    }

    #[test]
    fn reductions() {
        let shape = [1, 2, 1, 2];
        let data = [1.0, -3.0, 2.0, 1.0];
        assert_eq!(
            reduce(&shape, &data, Reduce::Sum).unwrap().data,
            vec![3.0, -2.0]
        );
        assert_eq!(
            reduce(&shape, &data, Reduce::MaxAbs).unwrap().data,
            vec![2.0, -3.0]
        );
        assert_eq!(
            reduce(&shape, &data, Reduce::L2).unwrap().data,
            vec![5f32.sqrt(), 10f32.sqrt()]
        );
        assert!(reduce(&[3, 3], &data, Reduce::Sum).is_err());
    }

    #[test]
    fn signed_maps_are_centred_on_white() {
        let h = render(
            &[1, 3],
            &[-1.0, 0.0, 1.0],
            1,
            3,
            &Display {
                outlier_percent: 0.0,
                ..Display::default()
            },
        )
        .unwrap();
        let px = |i: usize| [h.rgba[4 * i], h.rgba[4 * i + 1], h.rgba[4 * i + 2]];
        assert!(px(0)[2] > px(0)[0], "negative is blue: {:?}", px(0));
        assert!(px(2)[0] > px(2)[2], "positive is red: {:?}", px(2));
        assert!(
            px(1).iter().all(|&c| c > 230),
            "zero is (nearly) white: {:?}",
            px(1)
        );
        assert_eq!((h.vmin, h.vmax), (-1.0, 1.0));
        assert!(render(&[1, 2], &[f32::NAN, 0.0], 1, 2, &Display::default()).is_err());
    }

    #[test]
    fn jet_endpoints() {
        assert_eq!(Colormap::Jet.at(0.0), [0, 0, 128]);
        assert_eq!(Colormap::Jet.at(1.0), [128, 0, 0]);
        assert_eq!(Colormap::Jet.at(0.5), [123, 255, 123]);
    }

    #[test]
    fn bicubic_matches_torch() {
        // torch.nn.functional.interpolate(m, size=(5, 7), mode="bicubic", align_corners=False)
        let m = Map2 {
            h: 3,
            w: 3,
            data: vec![1.0, 2.0, 0.0, 4.0, -1.0, 3.0, 0.0, 5.0, 2.0],
        };
        let want = [
            0.5396974,
            0.93647832,
            1.8967229,
            2.2880001,
            1.3719419,
            0.04435033,
            -0.56963259,
            2.6759059,
            2.1932952,
            1.1764777,
            0.4040004,
            0.53834456,
            1.1084682,
            1.326963,
            4.5466461,
            3.3425672,
            0.67929924,
            -1.0,
            0.15451872,
            2.450439,
            3.4373183,
            1.6927807,
            1.8493015,
            2.1516268,
            2.456001,
            2.5903444,
            2.5951197,
            2.6201806,
            -1.0356021,
            0.38528419,
            3.4592428,
            5.5760012,
            4.6599417,
            2.4264717,
            1.5025429,
        ];
        let got = upsample(&m, 5, 7, Upsample::Bicubic);
        for (g, w) in got.data.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
    }
}

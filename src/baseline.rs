//! Integrated-gradients baselines in the model's input space, built from the preprocessing:
//! black and white are the images of pixel values 0 and 1 under the sidecar's mean/std;
//! blurred is a Gaussian blur of the input; noise is uniform over the pixel range.
//! (The CLI's `--baseline V|X.npy` maps to `Constant` or a tensor directly.)

use crate::err;
use crate::error::Result;
use crate::sidecar::Sidecar;
use serde::{Deserialize, Serialize};
use tract_onnx::prelude::tract_ndarray::{ArrayD, Axis};

/// A baseline as a request names it (JSON tagged by `kind`, e.g. `{"kind": "blurred",
/// "sigma": 5}`); [`make`] builds its tensor for an input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BaselineSpec {
    /// The same value everywhere, in model-input units (docs/conventions.md's `--baseline V`).
    Constant {
        /// The value, in model-input units; must be finite.
        value: f32,
    },
    /// The image of pixel value 0: (0 - mean_c) / std_c in channel c.
    Black,
    /// The image of pixel value 1: (1 - mean_c) / std_c in channel c.
    White,
    /// Gaussian blur of the input with this standard deviation in pixels.
    Blurred {
        /// The standard deviation in pixels, in (0, 100]; kernel radius ceil(3 sigma), edges
        /// clamped, separable.
        sigma: f32,
    },
    /// Uniform noise over the pixel range, seeded.
    Noise {
        /// The seed: one pixel value uniform on (0, 1] per element (SplitMix64), then
        /// (v - mean_c) / std_c.
        seed: u64,
    },
    /// The user's own baseline (e.g. an uploaded `.npy`), flat in the input's layout, in
    /// model-input units.
    Tensor {
        /// The values in row-major order, as many as the input has; all finite.
        values: Vec<f32>,
    },
}

/// The baseline tensor for input `x` (shape `[1, C, H, W]`).
pub fn make(b: &BaselineSpec, x: &ArrayD<f32>, sc: &Sidecar) -> Result<ArrayD<f32>> {
    if x.ndim() != 4 {
        return Err(err!(
            Shape,
            "baselines need a [1, C, H, W] input, got {:?}",
            x.shape()
        ));
    }
    let per_channel = |f: &dyn Fn(usize) -> f32| {
        let mut out = x.clone();
        for (c, mut plane) in out.axis_iter_mut(Axis(1)).enumerate() {
            plane.fill(f(c));
        }
        out
    };
    Ok(match b {
        BaselineSpec::Tensor { values } => {
            if values.len() != x.len() {
                return Err(err!(
                    Shape,
                    "the baseline has {} values but the input has {} ({:?})",
                    values.len(),
                    x.len(),
                    x.shape()
                ));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return Err(err!(
                    NonFinite,
                    "the baseline contains NaN or infinite values"
                ));
            }
            ArrayD::from_shape_vec(x.raw_dim(), values.clone())
                .map_err(|e| err!(Shape, "baseline: {e}"))?
        }
        BaselineSpec::Constant { value } => {
            if !value.is_finite() {
                return Err(err!(Parameter, "baseline value must be finite"));
            }
            ArrayD::from_elem(x.raw_dim(), *value)
        }
        BaselineSpec::Black => per_channel(&|c| (0.0 - sc.mean(c)) / sc.std(c)),
        BaselineSpec::White => per_channel(&|c| (1.0 - sc.mean(c)) / sc.std(c)),
        BaselineSpec::Noise { seed } => {
            let mut rng = crate::methods::rng::Normal::new(*seed);
            let mut out = x.clone();
            for (c, mut plane) in out.axis_iter_mut(Axis(1)).enumerate() {
                plane
                    .iter_mut()
                    .for_each(|v| *v = (rng.uniform() as f32 - sc.mean(c)) / sc.std(c));
            }
            out
        }
        BaselineSpec::Blurred { sigma } => {
            if !(sigma.is_finite() && *sigma > 0.0 && *sigma <= 100.0) {
                return Err(err!(
                    Parameter,
                    "blur sigma must be within (0, 100] pixels, got {sigma}"
                ));
            }
            blur(x, *sigma)
        }
    })
}

/// Separable Gaussian blur per channel, edges clamped.
fn blur(x: &ArrayD<f32>, sigma: f32) -> ArrayD<f32> {
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f32> = (-r..=r)
        .map(|i| libm::expf(-(i * i) as f32 / (2.0 * sigma * sigma)))
        .collect();
    let ks: f32 = k.iter().sum();
    let k: Vec<f32> = k.iter().map(|v| v / ks).collect();
    let (h, w) = (x.shape()[2], x.shape()[3]);
    let mut out = x.clone();
    for mut plane in out.axis_iter_mut(Axis(1)) {
        let src: Vec<f32> = plane.iter().copied().collect();
        let mut tmp = vec![0.0f32; h * w];
        for y in 0..h {
            for xx in 0..w {
                tmp[y * w + xx] = (-r..=r)
                    .map(|i| {
                        k[(i + r) as usize]
                            * src[y * w + (xx as isize + i).clamp(0, w as isize - 1) as usize]
                    })
                    .sum();
            }
        }
        for (i, v) in plane.iter_mut().enumerate() {
            let (y, xx) = (i / w, i % w);
            *v = (-r..=r)
                .map(|j| {
                    k[(j + r) as usize]
                        * tmp[(y as isize + j).clamp(0, h as isize - 1) as usize * w + xx]
                })
                .sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc() -> Sidecar {
        let mut s = Sidecar::default_for(&[1, 3, 4, 4]).unwrap();
        s.preprocess.mean = vec![0.5, 0.25, 0.0];
        s.preprocess.std = vec![0.5, 0.25, 1.0];
        s
    }

    #[test]
    fn black_and_white_follow_the_preprocessing() {
        let x = ArrayD::<f32>::zeros(vec![1, 3, 4, 4]);
        let b = make(&BaselineSpec::Black, &x, &sc()).unwrap();
        assert_eq!(
            (b[[0, 0, 0, 0]], b[[0, 1, 3, 3]], b[[0, 2, 1, 1]]),
            (-1.0, -1.0, 0.0)
        );
        let w = make(&BaselineSpec::White, &x, &sc()).unwrap();
        assert_eq!(
            (w[[0, 0, 0, 0]], w[[0, 1, 3, 3]], w[[0, 2, 1, 1]]),
            (1.0, 3.0, 1.0)
        );
    }

    #[test]
    fn blur_keeps_constants_and_mass() {
        let mut x = ArrayD::<f32>::from_elem(vec![1, 3, 4, 4], 2.0);
        let b = make(&BaselineSpec::Blurred { sigma: 1.0 }, &x, &sc()).unwrap();
        assert!(b.iter().all(|v| (v - 2.0).abs() < 1e-5));
        x[[0, 0, 1, 1]] = 10.0;
        let b = make(&BaselineSpec::Blurred { sigma: 1.0 }, &x, &sc()).unwrap();
        assert!(b[[0, 0, 1, 1]] < 10.0 && b[[0, 0, 1, 2]] > 2.0);
    }

    #[test]
    fn noise_is_seeded_and_in_range() {
        let x = ArrayD::<f32>::zeros(vec![1, 3, 4, 4]);
        let a = make(&BaselineSpec::Noise { seed: 7 }, &x, &sc()).unwrap();
        assert_eq!(
            a,
            make(&BaselineSpec::Noise { seed: 7 }, &x, &sc()).unwrap()
        );
        assert_ne!(
            a,
            make(&BaselineSpec::Noise { seed: 8 }, &x, &sc()).unwrap()
        );
        assert!(a.iter().all(|v| (-1.0..=3.0).contains(v)));
    }
}

#[cfg(test)]
mod tensor_tests {
    use super::*;

    #[test]
    fn a_given_tensor_must_fit_the_input() {
        let x = ArrayD::<f32>::zeros(vec![1, 1, 2, 2]);
        let sc = Sidecar::default_for(&[1, 1, 2, 2]).unwrap();
        let ok = make(
            &BaselineSpec::Tensor {
                values: vec![1.0, 2.0, 3.0, 4.0],
            },
            &x,
            &sc,
        )
        .unwrap();
        assert_eq!(ok.iter().copied().collect::<Vec<_>>(), [1.0, 2.0, 3.0, 4.0]);
        let e = make(
            &BaselineSpec::Tensor {
                values: vec![1.0; 3],
            },
            &x,
            &sc,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("3 values but the input has 4"),
            "{e}"
        );
        assert!(make(
            &BaselineSpec::Tensor {
                values: vec![f32::NAN; 4]
            },
            &x,
            &sc
        )
        .is_err());
        let r: BaselineSpec =
            serde_json::from_str(r#"{"kind": "tensor", "values": [0, 1, 2, 3]}"#).unwrap();
        assert_eq!(
            r,
            BaselineSpec::Tensor {
                values: vec![0.0, 1.0, 2.0, 3.0]
            }
        );
    }
}

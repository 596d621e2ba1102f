//! Where a map points. The CAM paper's box (Zhou et al. 2016, section 3.1): keep the pixels
//! whose value is at least `threshold` (default 20 %) of the map's maximum, take the largest
//! 8-connected component and its bounding box. The pointing game (Zhang et al. 2016): the
//! map's maximum is a hit when it falls inside the ground-truth box, or within `tolerance`
//! pixels of it (the paper uses 15 at 224 x 224).
//!
//! Boxes are pixel rectangles `[x0, x1) x [y0, y1)` in the map's (= the model input's) pixels.

use crate::err;
use crate::error::Result;
use crate::render::Map2;
use serde::{Deserialize, Serialize};

/// A pixel rectangle `[x0, x1) x [y0, y1)`, x the column and y the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixelBox {
    /// The first column inside.
    pub x0: usize,
    /// The first row inside.
    pub y0: usize,
    /// One past the last column inside.
    pub x1: usize,
    /// One past the last row inside.
    pub y1: usize,
}

impl PixelBox {
    /// The number of pixels inside, (x1 - x0) (y1 - y0); 0 for an empty or reversed box.
    pub fn area(&self) -> usize {
        self.x1.saturating_sub(self.x0) * self.y1.saturating_sub(self.y0)
    }

    /// Intersection over union with another box.
    pub fn iou(&self, o: &PixelBox) -> f64 {
        let ix = self.x1.min(o.x1).saturating_sub(self.x0.max(o.x0));
        let iy = self.y1.min(o.y1).saturating_sub(self.y0.max(o.y0));
        let inter = (ix * iy) as f64;
        let union = (self.area() + o.area()) as f64 - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    /// Checks the box lies inside an `h` x `w` map and is not empty.
    pub fn check(&self, h: usize, w: usize) -> Result<()> {
        if self.x0 >= self.x1 || self.y0 >= self.y1 || self.x1 > w || self.y1 > h {
            return Err(err!(
                Parameter,
                "box [{}, {}) x [{}, {}) must be non-empty and inside the {w}x{h} input",
                self.x0,
                self.x1,
                self.y0,
                self.y1
            ));
        }
        Ok(())
    }

    /// Parses `x0,y0,x1,y1`.
    pub fn parse(s: &str) -> Result<PixelBox> {
        let v: Vec<usize> = s
            .split(',')
            .map(|p| p.trim().parse::<usize>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| err!(Parameter, "a box is x0,y0,x1,y1 in pixels, got '{s}'"))?;
        match v[..] {
            [x0, y0, x1, y1] => Ok(PixelBox { x0, y0, x1, y1 }),
            _ => Err(err!(Parameter, "a box is x0,y0,x1,y1 in pixels, got '{s}'")),
        }
    }
}

/// The CAM paper's box of one map.
#[derive(Debug, Clone, Serialize)]
pub struct Localization {
    /// The bounding box of the largest component, if any pixel passed the threshold.
    pub bbox: Option<PixelBox>,
    /// The value threshold used (fraction x max).
    pub threshold: f32,
    /// Pixels in the largest component.
    pub component_pixels: usize,
}

/// The CAM paper's box at `fraction` of the map's maximum (positive evidence only).
pub fn cam_box(map: &Map2, fraction: f32) -> Result<Localization> {
    if !(fraction.is_finite() && (0.0..=1.0).contains(&fraction)) {
        return Err(err!(
            Parameter,
            "box threshold must be a fraction in [0, 1], got {fraction}"
        ));
    }
    let max = map.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() || max <= 0.0 {
        return Ok(Localization {
            bbox: None,
            threshold: 0.0,
            component_pixels: 0,
        });
    }
    let t = fraction * max;
    let on: Vec<bool> = map.data.iter().map(|&v| v >= t && v > 0.0).collect();
    let (h, w) = (map.h, map.w);
    let mut label = vec![usize::MAX; h * w];
    let mut best: Option<(usize, PixelBox)> = None;
    let mut stack = Vec::new();
    for start in 0..h * w {
        if !on[start] || label[start] != usize::MAX {
            continue;
        }
        label[start] = start;
        stack.push(start);
        let (mut n, mut b) = (
            0,
            PixelBox {
                x0: w,
                y0: h,
                x1: 0,
                y1: 0,
            },
        );
        while let Some(p) = stack.pop() {
            n += 1;
            let (y, x) = (p / w, p % w);
            b = PixelBox {
                x0: b.x0.min(x),
                y0: b.y0.min(y),
                x1: b.x1.max(x + 1),
                y1: b.y1.max(y + 1),
            };
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (ny, nx) = (y as i64 + dy, x as i64 + dx);
                    if ny < 0 || nx < 0 || ny >= h as i64 || nx >= w as i64 {
                        continue;
                    }
                    let q = ny as usize * w + nx as usize;
                    if on[q] && label[q] == usize::MAX {
                        label[q] = start;
                        stack.push(q);
                    }
                }
            }
        }
        if best.is_none_or(|(m, _)| n > m) {
            best = Some((n, b));
        }
    }
    let (component_pixels, bbox) = best.map_or((0, None), |(n, b)| (n, Some(b)));
    Ok(Localization {
        bbox,
        threshold: t,
        component_pixels,
    })
}

/// The pointing game's outcome for one map.
#[derive(Debug, Clone, Serialize)]
pub struct Pointing {
    /// The column of the map's maximum (the first in raster order).
    pub x: usize,
    /// The row of the map's maximum.
    pub y: usize,
    /// Whether that pixel's centre lies within `tolerance` pixels (Euclidean) of the truth box.
    pub hit: bool,
}

/// The pointing game: is the map's maximum inside `truth` (grown by `tolerance` pixels)?
pub fn pointing_game(map: &Map2, truth: &PixelBox, tolerance: f32) -> Result<Pointing> {
    truth.check(map.h, map.w)?;
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(err!(
            Parameter,
            "pointing tolerance must be >= 0 pixels, got {tolerance}"
        ));
    }
    let mut best = 0;
    for (i, &v) in map.data.iter().enumerate() {
        if v > map.data[best] {
            best = i;
        }
    }
    let (y, x) = (best / map.w, best % map.w);
    // Distance from the pixel centre to the box (0 inside).
    let (cx, cy) = (x as f32 + 0.5, y as f32 + 0.5);
    let dx = (truth.x0 as f32 - cx).max(cx - truth.x1 as f32).max(0.0);
    let dy = (truth.y0 as f32 - cy).max(cy - truth.y1 as f32).max(0.0);
    Ok(Pointing {
        x,
        y,
        hit: (dx * dx + dy * dy).sqrt() <= tolerance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(rows: &[&str]) -> Map2 {
        let h = rows.len();
        let w = rows[0].len();
        let data = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| (b - b'0') as f32))
            .collect();
        Map2 { h, w, data }
    }

    #[test]
    fn box_of_the_largest_component() {
        // two blobs above 20 % of 9: the 6-pixel one wins over the single 9
        let m = map(&["90000", "00000", "00222", "00022", "00002"]);
        let l = cam_box(&m, 0.2).unwrap();
        assert_eq!(
            l.bbox,
            Some(PixelBox {
                x0: 2,
                y0: 2,
                x1: 5,
                y1: 5
            })
        );
        assert_eq!(l.component_pixels, 6);
        // at 30 % (2.7) only the 9 is left
        assert_eq!(
            cam_box(&m, 0.3).unwrap().bbox,
            Some(PixelBox {
                x0: 0,
                y0: 0,
                x1: 1,
                y1: 1
            })
        );
    }

    #[test]
    fn diagonal_pixels_connect() {
        let l = cam_box(&map(&["100", "010", "001"]), 0.5).unwrap();
        assert_eq!(
            (l.bbox, l.component_pixels),
            (
                Some(PixelBox {
                    x0: 0,
                    y0: 0,
                    x1: 3,
                    y1: 3
                }),
                3
            )
        );
    }

    #[test]
    fn no_box_without_positive_evidence() {
        assert!(cam_box(
            &Map2 {
                h: 1,
                w: 2,
                data: vec![-1.0, 0.0]
            },
            0.2
        )
        .unwrap()
        .bbox
        .is_none());
    }

    #[test]
    fn pointing_with_tolerance_and_iou() {
        let m = map(&["00000", "00000", "00009"]);
        let truth = PixelBox {
            x0: 0,
            y0: 0,
            x1: 3,
            y1: 2,
        };
        let p = pointing_game(&m, &truth, 0.0).unwrap();
        assert_eq!((p.x, p.y, p.hit), (4, 2, false));
        assert!(pointing_game(&m, &truth, 2.0).unwrap().hit); // centre (4.5, 2.5): 1.5 and 0.5 away
        assert!(
            pointing_game(
                &m,
                &PixelBox {
                    x0: 4,
                    y0: 2,
                    x1: 5,
                    y1: 3
                },
                0.0
            )
            .unwrap()
            .hit
        );
        assert!(
            (truth.iou(&PixelBox {
                x0: 0,
                y0: 0,
                x1: 3,
                y1: 1
            }) - 0.5)
                .abs()
                < 1e-12
        );
        assert!(pointing_game(
            &m,
            &PixelBox {
                x0: 3,
                y0: 0,
                x1: 3,
                y1: 1
            },
            0.0
        )
        .is_err());
    }
}

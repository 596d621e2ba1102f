//! A small seeded generator (uniform and normal) (SplitMix64 + Box-Muller): the same noise for a seed on
//! every platform, natively and in wasm, with no dependency.

/// A seeded stream of uniforms on (0, 1] (SplitMix64) and of standard normals (Box-Muller:
/// sqrt(-2 ln u) cos(2 pi v), then the matching sin as the next sample).
pub struct Normal {
    state: u64,
    spare: Option<f64>,
}

impl Normal {
    /// A stream whose SplitMix64 state starts at `seed`.
    pub fn new(seed: u64) -> Normal {
        Normal {
            state: seed,
            spare: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on (0, 1].
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal sample.
    pub fn sample(&mut self) -> f64 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        let (u, v) = (self.uniform(), self.uniform());
        let r = (-2.0 * libm::log(u)).sqrt();
        let t = 2.0 * std::f64::consts::PI * v;
        self.spare = Some(r * libm::sin(t));
        r * libm::cos(t)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn standard_moments() {
        let mut n = super::Normal::new(7);
        let xs: Vec<f64> = (0..200_000).map(|_| n.sample()).collect();
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64;
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.01, "{m} {v}");
    }
}

//! LRP's plan of one layer unit's relevance step, apart from its arithmetic: which inputs
//! (a, a+, a-, |a|, the z-box bounds, ones) the step reads, each group's denominator as a
//! combination of the layer's output and products `W' in`, and the transposed passes. The plan
//! depends on the rule ([`Step`]) and three facts about the data only: whether the input is
//! non-negative, which groups the relevance reaches, and which inputs are all zero.
//! [`super::propagate`] executes it; the unit tests below check plans without any tensor.

use super::linear::key;
use super::rules::{In, Mask, Step, Term, Weight};

/// A term on a+ or a- whose weights are alpha W + beta W+.
fn folded(t: &Term) -> bool {
    matches!(t.input, In::Pos | In::Neg) && t.weight.basis().is_some()
}

/// Group `g`'s a+ / a- terms as `x W a + y |W| |a|`, if they are that (gamma's groups are).
///
/// Their sum is c1 W a+ + c2 W a- + c3 W+ a+ + c4 W+ a-, and |W| |a| = (2 W+ - W)(a+ - a-) =
/// 2 W+ a+ - 2 W+ a- - W a+ + W a-, so it is x W a + y |W| |a| when c3 = -c4 = 2y and
/// c1 = x - y, c2 = x + y. On a mixed-sign input that is one pass (W a is recorded) instead
/// of three (W a+, W+ a+, W+ a-); the rounding is of the same order, as those passes'
/// mixed-sign weights cancel too.
fn fold(step: &Step, g: usize, by: fn(&Term) -> f32) -> Option<(f32, f32)> {
    let mut c = [0f32; 4];
    for t in step.terms.iter().filter(|t| t.group == g && folded(t)) {
        let (alpha, beta) = t.weight.basis()?;
        let at = if t.input == In::Pos { 0 } else { 1 };
        c[at] += by(t) * alpha;
        c[at + 2] += by(t) * beta;
    }
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0);
    (c[2] != 0.0 && close(c[3], -c[2]) && close(c[1] - c[0], c[2]))
        .then_some((c[0] + c[2] / 2.0, c[2] / 2.0))
}

/// `l` with `k = l * rep`, if there is one.
fn proportion(rep: &[f32], k: &[f32]) -> Option<f32> {
    let j = rep.iter().position(|&c| c != 0.0)?;
    let l = k[j] / rep[j];
    rep.iter()
        .zip(k)
        .all(|(&r, &k)| (k - l * r).abs() <= 1e-6 * k.abs().max((l * r).abs()))
        .then_some(l)
}

/// One transposed pass of a step: the weights, the combination of the groups' normalised
/// relevances it runs on, and the inputs its result multiplies (with their factors).
pub type Pass = (Weight, Vec<f32>, Vec<(In, f32)>);

/// One group's denominator: `cz z + k[0] b + k[1] b+ + k[2] b² + sum c P` over `products`
/// `(c, (W', in))` that need a pass (`W a` is `z - b`, which needs none).
#[derive(Debug, Clone, PartialEq)]
pub struct Denominator {
    /// The factor of the layer's recorded output z.
    pub cz: f32,
    /// The factors of b, b+ and b².
    pub k: [f32; 3],
    /// The products that need a forward pass, with their factors.
    pub products: Vec<(f32, (Weight, In))>,
}

/// The forward half of a step's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    /// Per group: whether relevance reaches it (a group that receives none is skipped).
    pub used: Vec<bool>,
    /// Per group: the backward fold `(x, y)` of `fold`, if the group's terms fold.
    pub fold_back: Vec<Option<(f32, f32)>>,
    /// The inputs the step reads (a first).
    pub wanted: Vec<In>,
    /// Per group: its denominator (None for unused groups).
    pub denominators: Vec<Option<Denominator>>,
}

/// `W' in` as a combination of z - b (None: W a, the recorded output minus the bias) and
/// products that need a pass (`nonneg`: the input has no negative value).
pub fn terms_of(w: Weight, i: In, nonneg: bool) -> Vec<(f32, Option<(Weight, In)>)> {
    // a+ is a when a >= 0: one entry, not a copy.
    let i = if nonneg && i == In::Pos { In::A } else { i };
    let is_w = key(w) == key(Weight::W);
    match i {
        In::A if is_w => vec![(1.0, None)],
        In::Neg if nonneg => vec![],
        // W a- = W a - W a+.
        In::Neg if is_w => vec![(1.0, None), (-1.0, Some((Weight::W, In::Pos)))],
        _ => vec![(1.0, Some((w, i)))],
    }
}

/// The forward plan of `step` on an input that is non-negative or not (`nonneg`), whose
/// relevance reaches `[any output, one with z > 0, one with z < 0]` (`reached`).
pub fn forward(step: &Step, nonneg: bool, reached: [bool; 3]) -> Forward {
    // Forward (by the terms' signs) and backward (by their factors) folds.
    let folds = |by: fn(&Term) -> f32| -> Vec<Option<(f32, f32)>> {
        (0..step.groups.len())
            .map(|g| {
                (!nonneg && !step.own_weights)
                    .then(|| fold(step, g, by))
                    .flatten()
            })
            .collect()
    };
    let (fold_den, fold_back) = (folds(|t| t.sign), folds(|t| t.coef));
    // A group whose mask leaves no relevance has s = 0 and is skipped: e.g. gamma's z < 0
    // group under a ReLU, whose relevance is zero wherever z <= 0 (the layer above
    // multiplies by the ReLU's output). Its denominator and passes are then not computed.
    let [any, above, below] = reached;
    let used: Vec<bool> = (0..step.groups.len())
        .map(|g| {
            step.terms.iter().any(|t| t.group == g && t.coef != 0.0)
                && match step.groups[g] {
                    Mask::All => any,
                    Mask::Positive => above,
                    Mask::Negative => below,
                }
        })
        .collect();
    // The term inputs the denominators or the transposed passes read (a folded group's
    // terms read only a and |a|), a itself, and |a| if a group folds.
    let reads = |t: &Term| {
        let folds_den = fold_den[t.group].is_some() && folded(t);
        let folds_back = fold_back[t.group].is_some() && folded(t);
        used[t.group] && (!folds_den || (t.coef != 0.0 && !folds_back))
    };
    let mut wanted: Vec<In> = vec![In::A];
    for t in step.terms.iter().filter(|t| reads(t)) {
        // (W a- is W a - W a+.)
        let with = if t.input == In::Neg {
            vec![In::Pos, In::Neg]
        } else {
            vec![t.input]
        };
        for i in with {
            if !wanted.contains(&i) {
                wanted.push(i);
            }
        }
    }
    if (0..step.groups.len()).any(|g| used[g] && (fold_den[g].is_some() || fold_back[g].is_some()))
    {
        wanted.push(In::Abs);
    }
    // Each used group's denominator as cz z + (kb b + kp b+ + ks b^2) + sum c P over
    // products that need a pass (W a is z - b).
    let denominators = (0..step.groups.len())
        .map(|g| {
            if !used[g] {
                return None;
            }
            let mut cz = 0.0;
            let mut k = [0f32; 3];
            let mut products: Vec<(f32, (Weight, In))> = vec![];
            let mut add = |c: f32, w: Weight, i: In, k: &mut [f32; 3]| {
                for (m, p) in terms_of(w, i, nonneg) {
                    match p {
                        None => {
                            cz += c * m;
                            k[0] -= c * m;
                        }
                        Some(p) => products.push((c * m, p)),
                    }
                }
            };
            for t in step.terms.iter().filter(|t| t.group == g) {
                let (kb, kp, ks) = t.bias.coefs();
                k[0] += t.sign * kb;
                k[1] += t.sign * kp;
                k[2] += t.sign * ks;
                if fold_den[g].is_some() && folded(t) {
                    continue;
                }
                // (Where a has both signs, a rule with its own weights gets direct passes: no
                // cancellation in its all-positive or all-negative sums.)
                match t.weight.basis() {
                    Some((alpha, beta)) if nonneg || !step.own_weights => {
                        if alpha != 0.0 {
                            add(t.sign * alpha, Weight::W, t.input, &mut k);
                        }
                        if beta != 0.0 {
                            add(t.sign * beta, Weight::Pos, t.input, &mut k);
                        }
                    }
                    _ => add(t.sign, t.weight, t.input, &mut k),
                }
            }
            if let Some((x, y)) = fold_den[g] {
                add(x, Weight::W, In::A, &mut k);
                add(y, Weight::Abs, In::Abs, &mut k);
            }
            Some(Denominator { cz, k, products })
        })
        .collect();
    Forward {
        used,
        fold_back,
        wanted,
        denominators,
    }
}

/// The backward half: which transposed products each input is multiplied by, as
/// coefficients over the groups' normalised relevances, merged into as few passes as
/// possible. `has_input(i)`: input `i` is not all zero in some part.
pub fn passes(step: &Step, plan: &Forward, has_input: impl Fn(In) -> bool) -> Vec<Pass> {
    let (used, fold_back) = (&plan.used, &plan.fold_back);
    let mut need: Vec<(In, Weight, Vec<f32>)> = vec![];
    let mut add = |i: In, w: Weight, g: usize, c: f32| {
        if c == 0.0 {
            return;
        }
        let at = match need
            .iter()
            .position(|(j, v, _)| *j == i && key(*v) == key(w))
        {
            Some(at) => at,
            None => {
                need.push((i, w, vec![0.0; step.groups.len()]));
                need.len() - 1
            }
        };
        need[at].2[g] += c;
    };
    for t in &step.terms {
        if t.coef == 0.0 || !used[t.group] || fold_back[t.group].is_some() && folded(t) {
            continue;
        }
        if !has_input(t.input) {
            continue;
        }
        match t.weight.basis() {
            Some((alpha, beta)) if !step.own_weights => {
                add(t.input, Weight::W, t.group, t.coef * alpha);
                add(t.input, Weight::Pos, t.group, t.coef * beta);
            }
            _ => add(t.input, t.weight, t.group, t.coef),
        }
    }
    for (g, f) in fold_back.iter().enumerate() {
        if let (Some((x, y)), true) = (f, used[g]) {
            add(In::A, Weight::W, g, *x);
            add(In::Abs, Weight::Abs, g, *y);
        }
    }
    // One transposed pass per weight and combination, up to a factor.
    let mut passes: Vec<Pass> = vec![];
    for (i, w, k) in need {
        if k.iter().all(|&c| c == 0.0) {
            continue;
        }
        let shared = passes.iter_mut().find_map(|(pw, pk, members)| {
            (key(*pw) == key(w))
                .then(|| proportion(pk, &k))
                .flatten()
                .map(|l| (members, l))
        });
        match shared {
            Some((members, l)) => members.push((i, l)),
            None => passes.push((w, k, vec![(i, 1.0)])),
        }
    }
    // A W pass and a W+ pass on proportional combinations for the same inputs (gamma on a
    // non-negative input once its z < 0 group is skipped) are one pass with W + l W+.
    if !step.own_weights {
        let at = |w: Weight| passes.iter().position(|(pw, ..)| key(*pw) == key(w));
        if let (Some(i), Some(j)) = (at(Weight::W), at(Weight::Pos)) {
            let merged = (passes[i].2 == passes[j].2)
                .then(|| proportion(&passes[i].1, &passes[j].1))
                .flatten();
            if let Some(l) = merged {
                passes[i].0 = Weight::PlusPos(l);
                passes.remove(j);
            }
        }
    }
    passes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lrp::rules::{Bounds, LrpRule};

    const ALL: [bool; 3] = [true, true, true];

    fn rule(text: &str) -> Step {
        LrpRule::parse(text).unwrap().step()
    }

    fn weights(p: &[Pass]) -> Vec<(u8, u32)> {
        p.iter().map(|(w, ..)| key(*w)).collect()
    }

    /// Epsilon reads only a, needs no forward pass (W a is z - b) and one transposed pass.
    #[test]
    fn epsilon_is_one_backward_pass() {
        let s = rule("epsilon:0.25");
        let f = forward(&s, false, ALL);
        assert_eq!(f.wanted, vec![In::A]);
        let d = f.denominators[0].as_ref().unwrap();
        assert_eq!((d.cz, d.k, d.products.len()), (1.0, [0.0, 0.0, 0.0], 0));
        let p = passes(&s, &f, |_| true);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, Weight::W);
        assert_eq!(p[0].2, vec![(In::A, 1.0)]);
    }

    /// Gamma on a mixed-sign input folds both groups into `x W a + y |W| |a|`: it reads a and
    /// |a|, its denominators need one |W| |a| pass, and its backward two passes (W and |W|)
    /// for both groups.
    #[test]
    fn gamma_on_mixed_signs_folds_into_w_and_abs_w() {
        let s = rule("gamma:0.25");
        let f = forward(&s, false, ALL);
        assert_eq!(f.wanted, vec![In::A, In::Abs]);
        for d in f.denominators.iter().map(|d| d.as_ref().unwrap()) {
            assert_eq!(d.products.len(), 1, "{d:?}");
            assert_eq!(d.products[0].1, (Weight::Abs, In::Abs));
        }
        let p = passes(&s, &f, |_| true);
        assert_eq!(weights(&p), vec![key(Weight::W), key(Weight::Abs)]);
    }

    /// Gamma on a non-negative input whose relevance reaches only z > 0 (under a ReLU): one
    /// group, a+ is a, a- is nothing, and the W and W+ passes merge into one W + g W+ pass.
    #[test]
    fn gamma_under_a_relu_is_one_merged_pass() {
        let s = rule("gamma:0.25");
        let f = forward(&s, true, [true, true, false]);
        assert_eq!(f.used, vec![true, false]);
        assert!(f.denominators[1].is_none());
        assert!(!f.wanted.contains(&In::Abs));
        let p = passes(&s, &f, |i| i != In::Neg);
        assert_eq!(p.len(), 1);
        assert_eq!(key(p[0].0), key(Weight::PlusPos(0.25)));
    }

    /// Alpha-beta keeps its own weights on a mixed-sign input (no W+ - W cancellation): its
    /// passes use W+ and W- directly.
    #[test]
    fn alpha_beta_uses_its_own_weights() {
        let s = rule("alpha-beta:2,1");
        let f = forward(&s, false, ALL);
        assert!(f.fold_back.iter().all(Option::is_none));
        let p = passes(&s, &f, |_| true);
        let w = weights(&p);
        assert!(
            w.contains(&key(Weight::Pos)) && w.contains(&key(Weight::Neg)),
            "{p:?}"
        );
        assert!(!w.contains(&key(Weight::W)), "{p:?}");
    }

    /// z-box reads the bounds; its bias terms cancel (b - b+ - b- = 0), so its denominator's
    /// `W a` part is the recorded output minus the bias, z - b.
    #[test]
    fn zbox_reads_its_bounds_and_its_biases_cancel() {
        let s = LrpRule::ZBox {
            bounds: Bounds::Scalar {
                low: -1.0,
                high: 1.0,
            },
        }
        .step();
        let f = forward(&s, false, ALL);
        assert!(f.wanted.contains(&In::Low) && f.wanted.contains(&In::High));
        let d = f.denominators[0].as_ref().unwrap();
        assert_eq!((d.cz, d.k), (1.0, [-1.0, 0.0, 0.0]));
    }

    /// A group no relevance reaches is planned away entirely; with none reached, nothing runs.
    #[test]
    fn unreached_groups_cost_nothing() {
        let s = rule("epsilon:0.25");
        let f = forward(&s, false, [false, false, false]);
        assert_eq!(f.used, vec![false]);
        assert!(f.denominators[0].is_none());
        assert!(passes(&s, &f, |_| true).is_empty());
    }

    /// Flat and w-square read only ones: one forward pass (their denominators do not
    /// depend on the input) and one backward pass with their own weights.
    #[test]
    fn flat_and_w_square_read_ones() {
        for (text, w) in [("flat", Weight::Ones), ("w-square", Weight::Square)] {
            let s = rule(text);
            let f = forward(&s, false, ALL);
            assert_eq!(f.wanted, vec![In::A, In::Ones], "{text}");
            let d = f.denominators[0].as_ref().unwrap();
            assert_eq!(d.products, vec![(1.0, (w, In::Ones))], "{text}");
            let p = passes(&s, &f, |_| true);
            assert_eq!(weights(&p), vec![key(w)], "{text}");
        }
    }

    #[test]
    fn gammas_groups_fold_and_others_do_not() {
        let g = 0.25;
        let step = LrpRule::Gamma { gamma: g }.step();
        let by_sign: fn(&Term) -> f32 = |t| t.sign;
        // z > 0: W a + g (W+ a+ + W- a-) = (1 + g/2) W a + g/2 |W| |a|; z < 0: the mirror.
        assert_eq!(fold(&step, 0, by_sign), Some((1.0 + g / 2.0, g / 2.0)));
        assert_eq!(fold(&step, 1, by_sign), Some((1.0 + g / 2.0, -g / 2.0)));
        // Epsilon's term is on a itself.
        let eps = LrpRule::Epsilon { epsilon: 1e-6 }.step();
        assert_eq!(fold(&eps, 0, by_sign), None);
        // Alpha-beta's sums fold too (W+ a+ + W- a- = (W a + |W| |a|) / 2), but the walk keeps
        // its own weights: its beta denominator can vanish.
        let ab = LrpRule::AlphaBeta {
            alpha: 2.0,
            beta: 1.0,
        }
        .step();
        assert!(ab.own_weights);
        assert_eq!(fold(&ab, 0, by_sign), Some((0.5, 0.5)));
        assert_eq!(fold(&ab, 1, by_sign), Some((0.5, -0.5)));
        // A term on a+ alone is not a combination of W a and |W| |a|.
        let mut one = step.clone();
        one.terms.retain(|t| t.group == 0 && t.input == In::Pos);
        assert_eq!(fold(&one, 0, by_sign), None);
    }
}

// The explanation methods and their parameters, as data: the panel builds its controls from
// this table, the worker turns the values into the engine's request. One entry per method.
export const IG_RULES = ['gauss-legendre', 'riemann-left', 'riemann-right', 'riemann-middle', 'riemann-trapezoid'];
export const BASELINES = ['black', 'white', 'blurred', 'noise', 'constant', 'file'];

/// The page's own IG baseline (a .npy the user loaded): flat values in the input's layout.
let customBaseline = null;
export function setCustomBaseline(b) { customBaseline = b; }
export function getCustomBaseline() { return customBaseline; }
export const COMPOSITES = ['epsilon-gamma-box', 'epsilon-plus-flat', 'epsilon-alpha2-beta1-flat', 'layered', 'custom'];
/// LRP rules (docs/conventions.md) and their parameters, for the rule table.
export const LRP_RULES = {
  zero: [],
  epsilon: [{ name: 'ε', value: 0.25 }],
  gamma: [{ name: 'γ', value: 0.25 }],
  'alpha-beta': [{ name: 'α', value: 2 }],
  flat: [],
  'w-square': [],
  zbox: [],
};

/// A rule-table row as the library's rule string: "epsilon:0.25", "alpha-beta:2,1", "zbox".
export function ruleString(row) {
  const p = row.params ?? [];
  if (row.rule === 'alpha-beta') return `alpha-beta:${p[0]},${p[0] - 1}`;
  return p.length ? `${row.rule}:${p.join(',')}` : row.rule;
}

export const METHODS = [
  { id: 'gradient', title: 'Gradient (saliency)', params: [], signed: true },
  { id: 'gradient-x-input', title: 'Gradient × input', params: [], signed: true },
  { id: 'guided-backprop', title: 'Guided backprop', params: [], signed: true },
  {
    id: 'integrated-gradients', title: 'Integrated Gradients', signed: true,
    params: [
      { key: 'steps', label: 'steps', type: 'log-range', min: 1, max: 10000, value: 50 },
      { key: 'ig_rule', label: 'quadrature', type: 'select', options: IG_RULES, value: 'gauss-legendre' },
      { key: 'baseline', label: 'baseline', type: 'select', options: BASELINES, value: 'black' },
      { key: 'baseline_value', label: 'constant', type: 'number', step: 0.1, value: 0, showIf: (p) => p.baseline === 'constant' },
      { key: 'blur_sigma', label: 'blur σ (px)', type: 'number', step: 0.5, min: 0.5, max: 50, value: 5, showIf: (p) => p.baseline === 'blurred' },
      { key: 'baseline_seed', label: 'noise seed', type: 'number', step: 1, min: 0, value: 0, showIf: (p) => p.baseline === 'noise' },
      { key: 'baseline_file', label: 'baseline .npy', type: 'npy-file', value: null, showIf: (p) => p.baseline === 'file' },
    ],
  },
  {
    id: 'smoothgrad', title: 'SmoothGrad', signed: true,
    params: [
      { key: 'samples', label: 'samples', type: 'range', min: 1, max: 200, value: 25 },
      { key: 'noise', label: 'noise level', type: 'range', min: 0, max: 1, step: 0.01, value: 0.15 },
      { key: 'seed', label: 'seed', type: 'number', step: 1, min: 0, value: 0 },
    ],
  },
  { id: 'grad-cam', title: 'Grad-CAM', signed: false, params: [{ key: 'layer', label: 'layer', type: 'layer' }] },
  { id: 'cam', title: 'CAM', signed: false, params: [] },
  {
    id: 'lrp', title: 'LRP', signed: true,
    params: [
      { key: 'composite', label: 'composite', type: 'select', options: COMPOSITES, value: 'epsilon-gamma-box' },
      { key: 'low', label: 'z-box low', type: 'number', step: 0.1, value: null, placeholder: 'from preprocessing', showIf: (p) => p.composite === 'epsilon-gamma-box' },
      { key: 'high', label: 'z-box high', type: 'number', step: 0.1, value: null, placeholder: 'from preprocessing', showIf: (p) => p.composite === 'epsilon-gamma-box' },
      { key: 'lower_end', label: 'γ up to layer', type: 'number', step: 1, min: 0, value: null, placeholder: 'auto', showIf: (p) => p.composite === 'layered' },
      { key: 'upper_start', label: 'LRP-0 from layer', type: 'number', step: 1, min: 0, value: null, placeholder: 'auto', showIf: (p) => p.composite === 'layered' },
      { key: 'rules', label: 'rules per layer', type: 'rule-table', value: [{ layers: '0', rule: 'zbox', params: [] }, { layers: '1-', rule: 'epsilon', params: [0.25] }], showIf: (p) => p.composite === 'custom' },
    ],
  },
];

function tensorBaseline() {
  if (!customBaseline) throw new Error('choose a baseline .npy file first (the input\'s shape, in model-input units)');
  return { kind: 'tensor', values: Array.from(customBaseline.values) };
}

/// The engine request for a method and its parameter values.
export function request(method, values, target) {
  const r = { method, target: target ?? null };
  if (method === 'integrated-gradients') {
    r.steps = values.steps;
    r.ig_rule = values.ig_rule;
    r.baseline = values.baseline === 'constant' ? { kind: 'constant', value: Number(values.baseline_value) }
      : values.baseline === 'blurred' ? { kind: 'blurred', sigma: Number(values.blur_sigma) }
      : values.baseline === 'noise' ? { kind: 'noise', seed: Number(values.baseline_seed) }
      : values.baseline === 'file' ? tensorBaseline()
      : { kind: values.baseline };
  } else if (method === 'smoothgrad') {
    r.samples = values.samples;
    r.noise = values.noise;
    r.seed = values.seed;
  } else if (method === 'grad-cam') {
    r.layer = values.layer;
  } else if (method === 'lrp') {
    const num = (v) => (v === null || v === undefined || v === '' || Number.isNaN(Number(v)) ? null : Number(v));
    if (values.composite === 'custom') {
      r.rules = values.rules.map((row) => [String(row.layers).trim(), ruleString(row)]);
    } else if (values.composite === 'layered' && num(values.lower_end) !== null && num(values.upper_start) !== null) {
      r.composite = `layered:${num(values.lower_end)},${num(values.upper_start)}`;
    } else {
      r.composite = values.composite;
      if (values.composite === 'epsilon-gamma-box' && num(values.low) !== null && num(values.high) !== null) {
        r.low = num(values.low);
        r.high = num(values.high);
      }
    }
  }
  return r;
}

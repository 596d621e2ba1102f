// The explanation methods and their parameters, as data: the panel builds its controls from
// this table, the worker turns the values into the engine's request. One entry per method.
export const IG_RULES = ['gauss-legendre', 'riemann-left', 'riemann-right', 'riemann-middle', 'riemann-trapezoid'];
export const BASELINES = ['black', 'white', 'blurred', 'noise', 'constant'];

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
];

/// The engine request for a method and its parameter values.
export function request(method, values, target) {
  const r = { method, target: target ?? null };
  if (method === 'integrated-gradients') {
    r.steps = values.steps;
    r.ig_rule = values.ig_rule;
    r.baseline = values.baseline === 'constant' ? { kind: 'constant', value: Number(values.baseline_value) }
      : values.baseline === 'blurred' ? { kind: 'blurred', sigma: Number(values.blur_sigma) }
      : values.baseline === 'noise' ? { kind: 'noise', seed: Number(values.baseline_seed) }
      : { kind: values.baseline };
  } else if (method === 'smoothgrad') {
    r.samples = values.samples;
    r.noise = values.noise;
    r.seed = values.seed;
  } else if (method === 'grad-cam') {
    r.layer = values.layer;
  }
  return r;
}

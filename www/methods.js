// The explanation methods and their parameters, as the library describes them (Rust's
// `saliency::catalog`, asked of the worker once per page): this module only turns that
// description into the controls' shape and the controls' values into the engine's request.
// No method, parameter, default or option is written here (tests/catalog.rs checks).
import { sharedEngine } from './worker-client.js';

/// The library's description: { methods, lrp_rules, colormaps, upsample }.
export const CATALOG = await sharedEngine().call('catalog');

/// The page's own IG baseline (a .npy the user loaded): flat values in the input's layout.
let customBaseline = null;
export function setCustomBaseline(b) { customBaseline = b; }
export function getCustomBaseline() { return customBaseline; }

/// LRP rules and their values, for the rule table: { name: [{ name, value }] }.
export const LRP_RULES = Object.fromEntries(CATALOG.lrp_rules.map((r) => [r.name, r.params.map((p) => ({ name: p.label, value: p.default }))]));

/// A rule-table row as the library's rule string: "epsilon:0.25", "alpha-beta:2,1", "zbox".
export function ruleString(row) {
  const p = row.params ?? [];
  return p.length ? `${row.rule}:${p.join(',')}` : row.rule;
}

/// "epsilon:0.25" as a rule-table row's rule and values.
function ruleRow([layers, text]) {
  const [rule, args] = text.split(':');
  return { layers, rule, params: args ? args.split(',').map(Number) : [] };
}

/// The sub-parameters of a choice's options (a baseline kind's) are controls of their own,
/// keyed `<option>_<key>` and shown when their option is chosen.
const subKey = (option, key) => `${option}_${key}`;

/// One catalog parameter as the panel's control description(s).
function controls(p, showIf) {
  const when = p.show_if ? (v) => v[p.show_if[0]] === p.show_if[1] : null;
  const visible = showIf && when ? (v) => showIf(v) && when(v) : (showIf ?? when);
  const base = { key: p.key, label: p.unit ? `${p.label} (${p.unit})` : p.label, title: p.help, showIf: visible, gradients: !!p.gradients };
  switch (p.type) {
    case 'int':
      return [p.log
        ? { ...base, type: 'log-range', min: p.min, max: p.max, value: p.default }
        : { ...base, type: 'number', step: 1, min: p.min, max: p.max ?? undefined, value: p.default, placeholder: p.default === null ? 'auto' : undefined }];
    case 'float':
      return [p.min !== null && p.max !== null && p.default !== null
        ? { ...base, type: 'range', min: p.min, max: p.max, step: p.step, value: p.default }
        : { ...base, type: 'number', step: p.step, min: p.min ?? undefined, max: p.max ?? undefined, value: p.default, placeholder: p.default === null ? 'default' : undefined }];
    case 'choice': {
      const own = { ...base, type: 'select', options: p.options.map((o) => o.value), labels: Object.fromEntries(p.options.map((o) => [o.value, o.label])), value: p.default };
      const subs = p.options.flatMap((o) => (o.params ?? []).flatMap((q) => controls({ ...q, key: subKey(o.value, q.key) }, (v) => (!visible || visible(v)) && v[p.key] === o.value)));
      return [own, ...subs];
    }
    case 'layer':
      return [{ ...base, type: 'layer', required: p.required }];
    case 'tensor':
      return [{ ...base, type: 'npy-file', value: null }];
    case 'rules':
      return [{ ...base, type: 'rule-table', value: p.default.map(ruleRow) }];
    default:
      throw new Error(`unknown parameter type ${p.type} (${p.key})`);
  }
}

/// The methods, each with its controls: { id, title, signed, display, params: [...] }.
export const METHODS = CATALOG.methods.map((m) => ({
  id: m.id,
  title: m.label,
  signed: m.signed,
  display: m.display,
  catalog: m.params,
  params: m.params.flatMap((p) => controls(p)),
}));

function tensorBaseline() {
  if (!customBaseline) throw new Error('choose a baseline .npy file first (the input\'s shape, in model-input units)');
  return Array.from(customBaseline.values);
}

const given = (v) => v !== null && v !== undefined && v !== '' && !Number.isNaN(v);

/// The engine request for a method and its parameter values: each shown parameter under its
/// own key; a choice whose option takes parameters (a baseline kind) as { kind, ...them }.
export function request(method, values, target) {
  const r = { method, target: target ?? null };
  const m = CATALOG.methods.find((x) => x.id === method);
  for (const p of m?.params ?? []) {
    if (p.show_if && values[p.show_if[0]] !== p.show_if[1]) continue;
    const v = values[p.key];
    if (p.type === 'choice' && p.options.some((o) => o.params)) {
      const o = p.options.find((x) => x.value === v);
      const spec = { kind: v };
      for (const q of o?.params ?? []) spec[q.key] = q.type === 'tensor' ? tensorBaseline() : values[subKey(v, q.key)];
      r[p.key] = spec;
    } else if (p.type === 'rules') {
      r.rules = v.map((row) => [String(row.layers).trim(), ruleString(row)]);
    } else if (given(v)) {
      r[p.key] = v;
    }
  }
  // LRP: the viewer's "rules per layer" is a request with rules and no composite; the layered
  // composite's split points go into its name; z-box bounds go as a pair or not at all.
  if (r.composite === 'custom') delete r.composite;
  if (given(r.lower_end) && given(r.upper_start)) r.composite = `${r.composite}:${r.lower_end},${r.upper_start}`;
  delete r.lower_end;
  delete r.upper_start;
  if (!(given(r.low) && given(r.high))) { delete r.low; delete r.high; }
  return r;
}

/// A display setting left to the method's default.
export const AUTO = 'auto';
const D = CATALOG.display;

/// Display settings for the renderer, 'auto' resolved by the method's defaults (CATALOG); a
/// missing setting takes its default too.
export function displayFor(m, d) {
  const sign = d.sign === AUTO ? m.display.sign : d.sign;
  const own = sign === m.display.sign;
  return {
    reduce: d.reduce ?? D.reduce[0],
    sign,
    outlier_percent: d.outlier_percent === AUTO || d.outlier_percent === undefined ? m.display.outlier_percent : d.outlier_percent,
    upsample: d.upsample ?? D.upsample[0],
    colormap: d.colormap === AUTO || d.colormap === undefined ? (own ? m.display.colormap : sign === D.signs[0] ? D.colormap_signed : D.colormap_unsigned) : d.colormap,
  };
}

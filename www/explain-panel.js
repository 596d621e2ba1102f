// The explanation controls: method, its parameters (built from methods.js), and the display
// settings. Calls onCompute() when the explanation must be recomputed and onDisplay() when
// only its drawing changes (no recomputation: the worker keeps the last attribution).
import { getCustomBaseline, setCustomBaseline, METHODS, LRP_RULES, CATALOG, AUTO, displayFor } from './methods.js';

/// Display choices: the library's, with 'auto' (the method's own default) first.
const D = CATALOG.display;

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function labelled(text, control) {
  return el('label', { className: 'param' }, el('span', { textContent: text }), control);
}

function logToValue(pos, max) { return Math.max(1, Math.round(10 ** ((pos / 1000) * Math.log10(max)))); }
function valueToLog(v, max) { return Math.round((1000 * Math.log10(Math.max(1, v))) / Math.log10(max)); }

function formatSeconds(s) {
  return s < 1 ? `${Math.max(1, Math.round(s * 1000))} ms` : s < 120 ? `${s.toFixed(s < 10 ? 1 : 0)} s` : `${(s / 60).toFixed(0)} min`;
}

export class ExplainPanel {
  constructor(root, { onCompute, onDisplay, readNpy }) {
    this.readNpy = readNpy;
    this.root = root;
    this.onCompute = onCompute;
    this.onDisplay = onDisplay;
    this.values = Object.fromEntries(METHODS.map((m) => [m.id, Object.fromEntries(m.params.map((p) => [p.key, p.value]))]));
    this.method = METHODS[0].id;
    this.info = null;
    this.display = { opacity: D.opacity, colormap: AUTO, sign: AUTO, outlier_percent: AUTO, upsample: D.upsample[0], reduce: D.reduce[0] };
    this.methodSelect = el('select', { id: 'method-select' });
    this.methodSelect.dataset.testid = 'method-select';
    this.methodSelect.addEventListener('change', () => { this.chosen = true; this.method = this.methodSelect.value; this.renderParams(); this.onCompute(); });
    this.reason = el('span', { id: 'method-reason', className: 'muted' });
    this.params = el('div', { id: 'method-params', className: 'params' });
    // Methods that do not apply are listed disabled; why, beside the list.
    this.offReasons = el('p', { className: 'muted', id: 'disabled-reasons' });
    this.displayBox = el('div', { id: 'display-params', className: 'params' });
    // Three groups: what to explain, how (the method's parameters), how to show it.
    const group = (title, ...children) => el('fieldset', { className: 'group' }, el('legend', { textContent: title }), ...children);
    root.append(
      group('What to explain', el('div', { className: 'params' }, labelled('Method', this.methodSelect), this.reason), this.offReasons),
      group('How: the method\'s parameters', this.params),
      group('How to show it', this.displayBox),
    );
    this.renderDisplay();
  }

  /// The time one gradient took on this model (ms): the steps and samples sliders show what a
  /// run will cost before it starts.
  setCost(ms) {
    const first = this.msPerGradient === undefined || this.msPerGradient === null;
    this.msPerGradient = ms;
    if (first) this.renderParams();
  }

  /// Called when a model is loaded: enables the methods that apply, fills the layer list.
  setModel(info) {
    this.info = info;
    this.msPerGradient = null;
    const applies = Object.fromEntries(info.methods.map((m) => [m.method, m]));
    this.methodSelect.replaceChildren(...METHODS.map((m) => {
      const a = applies[m.id];
      const o = el('option', { value: m.id, textContent: m.title, disabled: a ? !a.applies : false });
      if (a && !a.applies) o.title = a.reason;
      return o;
    }));
    const layers = info.spatial_layers.map((l) => l.output);
    const gc = this.values['grad-cam'];
    if (!layers.includes(gc.layer)) gc.layer = info.cam_layer ?? layers[layers.length - 1];
    // Until the user picks one, the viewer opens on the first method of the catalog's
    // preference that applies; a method that does not apply gives way the same way.
    const open = CATALOG.open_with.find((id) => applies[id]?.applies) ?? METHODS[0].id;
    if (!this.chosen || (applies[this.method] && !applies[this.method].applies)) this.method = open;
    this.methodSelect.value = this.method;
    this.renderParams();
  }

  renderParams() {
    const m = METHODS.find((x) => x.id === this.method);
    const a = this.info?.methods.find((x) => x.method === this.method);
    this.reason.textContent = this.method === 'cam' && this.info?.cam_layer ? `on ${this.info.cam_layer}` : (a && !a.applies ? a.reason : (a?.note ?? ''));
    const v = this.values[this.method];
    const controls = m.params.filter((p) => !p.showIf || p.showIf(v)).map((p) => this.control(p, v));
    this.params.replaceChildren(...controls);
    // Methods that do not apply are listed disabled, each with its reason.
    const off = (this.info?.methods ?? []).filter((x) => !x.applies && METHODS.some((mm) => mm.id === x.method));
    this.offReasons.textContent = off.length ? `Not offered for this model: ${off.map((x) => `${x.method} (${x.reason})`).join('; ')}` : '';
    // A method without parameters (and nothing to say) shows no empty group.
    this.params.closest('fieldset')?.toggleAttribute('hidden', this.params.childElementCount === 0);
  }

  control(p, v) {
    const changed = (val) => { v[p.key] = val; if (p.type === 'select') this.renderParams(); this.onCompute(); };
    if (p.type === 'select') {
      const s = el('select', { name: p.key, title: p.title ?? '' }, ...p.options.map((o) => el('option', { value: o, textContent: p.labels?.[o] ?? o })));
      s.value = v[p.key];
      s.addEventListener('change', () => changed(s.value));
      return labelled(p.label, s);
    }
    if (p.type === 'layer') {
      const layers = this.info?.spatial_layers ?? [];
      const s = el('select', { name: 'layer', id: 'layer-select' }, ...layers.map((l) => el('option', { value: l.output, textContent: `${l.output} ${l.shape ? l.shape.slice(1).join('×') : ''}` })));
      s.dataset.testid = 'layer-select';
      s.value = v.layer;
      s.addEventListener('change', () => changed(s.value));
      return labelled(p.label, s);
    }
    if (p.type === 'rule-table') return this.ruleTable(v[p.key], () => changed(v[p.key]));
    if (p.type === 'npy-file') {
      const f = el('input', { type: 'file', name: p.key, accept: '.npy' });
      const note = el('span', { className: 'muted', textContent: getCustomBaseline()?.name ?? 'none loaded' });
      f.addEventListener('change', async () => {
        const file = f.files[0];
        if (!file) return;
        try {
          const values = await this.readNpy(new Uint8Array(await file.arrayBuffer()));
          setCustomBaseline({ name: file.name, values });
          note.textContent = `${file.name} (${values.length} values)`;
          changed(file.name);
        } catch (e) {
          note.textContent = `not usable: ${e.message}`;
        }
      });
      return labelled(p.label, el('span', {}, f, note));
    }
    if (p.type === 'log-range') {
      const out = el('output', { textContent: v[p.key] });
      const r = el('input', { type: 'range', name: p.key, min: 0, max: 1000, value: valueToLog(v[p.key], p.max) });
      // What a run will cost, before it starts: one gradient per unit, timed on this machine.
      const cost = el('span', { className: 'muted estimate' });
      const estimate = (n) => { cost.textContent = p.gradients && this.msPerGradient ? `≈ ${formatSeconds((n * this.msPerGradient) / 1000)}` : ''; };
      estimate(v[p.key]);
      r.addEventListener('input', () => { const n = logToValue(Number(r.value), p.max); out.textContent = n; estimate(n); });
      r.addEventListener('change', () => changed(logToValue(Number(r.value), p.max)));
      return labelled(p.label, el('span', {}, r, out, cost));
    }
    if (p.type === 'range') {
      const out = el('output', { textContent: v[p.key] });
      const r = el('input', { type: 'range', name: p.key, min: p.min, max: p.max, step: p.step ?? 1, value: v[p.key] });
      r.addEventListener('input', () => { out.textContent = r.value; });
      r.addEventListener('change', () => changed(Number(r.value)));
      return labelled(p.label, el('span', {}, r, out));
    }
    const n = el('input', { type: 'number', name: p.key, step: p.step ?? 'any', value: v[p.key] ?? '' });
    if (p.placeholder) n.placeholder = p.placeholder;
    if (p.min !== undefined) n.min = p.min;
    if (p.max !== undefined) n.max = p.max;
    n.addEventListener('change', () => changed(n.value === '' ? null : Number(n.value)));
    return labelled(p.label, n);
  }

  /// The per-layer LRP rule table: rows of (layers, rule, parameter), the same list of
  /// (layer selection, rule) pairs as the library's API. The model's layers are listed below it.
  ruleTable(rows, onChange) {
    const table = el('table', { className: 'rule-table' });
    const render = () => {
      table.replaceChildren(el('tr', {}, el('th', { textContent: 'layers' }), el('th', { textContent: 'rule' }), el('th', { textContent: 'parameter' }), el('th')));
      rows.forEach((row, i) => {
        const layers = el('input', { value: row.layers, name: `layers-${i}`, size: 6, title: '3, 1-4, 5- (to the last), - (all), or a comma list' });
        layers.addEventListener('change', () => { row.layers = layers.value; onChange(); });
        const rule = el('select', { name: `rule-${i}` }, ...Object.keys(LRP_RULES).map((r) => el('option', { value: r, textContent: r })));
        rule.value = row.rule;
        rule.addEventListener('change', () => { row.rule = rule.value; row.params = LRP_RULES[row.rule].map((q) => q.value); render(); onChange(); });
        const params = el('span', {}, ...LRP_RULES[row.rule].map((q, k) => {
          const n = el('input', { type: 'number', step: 'any', value: row.params?.[k] ?? q.value, name: `param-${i}-${k}`, title: q.name });
          n.addEventListener('change', () => { row.params[k] = Number(n.value); onChange(); });
          return el('label', { className: 'param' }, el('span', { textContent: q.name }), n);
        }));
        const note = CATALOG.lrp_rules.find((r) => r.name === row.rule)?.note;
        if (note) params.append(el('span', { className: 'muted', textContent: note }));
        const remove = el('button', { type: 'button', textContent: '×', title: 'remove this row' });
        remove.addEventListener('click', () => { rows.splice(i, 1); render(); onChange(); });
        table.append(el('tr', {}, el('td', {}, layers), el('td', {}, rule), el('td', {}, params), el('td', {}, remove)));
      });
      const add = el('button', { type: 'button', textContent: '+ rule' });
      // A new row: the default table's last rule, on every layer.
      const proto = METHODS.flatMap((m) => m.params).find((p) => p.type === 'rule-table').value.at(-1);
      add.addEventListener('click', () => { rows.push({ ...structuredClone(proto), layers: '-' }); render(); onChange(); });
      table.append(el('tr', {}, el('td', { colSpan: 4 }, add)));
    };
    render();
    const layers = (this.info?.layers ?? []).map((l) => `${l.layer}: ${l.op_type} ${l.shape ? l.shape.slice(1).join('×') : ''}`).join(' · ');
    return el('div', { className: 'rule-box' }, table, el('p', { className: 'muted', textContent: `layers of this model — ${layers}. Unlisted layers get ${CATALOG.lrp_default_rule}.` }));
  }

  renderDisplay() {
    const d = this.display;
    const sel = (key, options, label) => {
      const s = el('select', { name: key }, ...options.map((o) => el('option', { value: o, textContent: o })));
      s.value = d[key];
      s.addEventListener('change', () => { d[key] = s.value; this.onDisplay(); });
      return labelled(label, s);
    };
    const opacity = el('input', { type: 'range', name: 'opacity', min: 0, max: 1, step: 0.05, value: d.opacity });
    opacity.addEventListener('input', () => { d.opacity = Number(opacity.value); this.onDisplay({ opacityOnly: true }); });
    const outlier = el('input', { type: 'number', name: 'outlier_percent', min: 0, max: 50, step: 0.5, value: d.outlier_percent === AUTO ? '' : d.outlier_percent, placeholder: 'auto' });
    outlier.addEventListener('change', () => { d.outlier_percent = outlier.value === '' ? AUTO : Math.min(50, Math.max(0, Number(outlier.value))); this.onDisplay(); });
    this.displayBox.replaceChildren(
      labelled('opacity', opacity),
      sel('colormap', [AUTO, ...D.colormaps], 'colormap'),
      sel('sign', [AUTO, ...D.signs], 'values'),
      labelled('clip top %', outlier),
      sel('upsample', D.upsample, 'upsampling'),
      sel('reduce', D.reduce, 'channels'),
    );
  }

  /// The display settings for the renderer, with 'auto' resolved for the method.
  renderSettings(cfg = { method: this.method, display: this.display }) {
    const m = METHODS.find((x) => x.id === cfg.method);
    const d = cfg.display;
    return displayFor(m, d);
  }

  /// The current configuration (method, parameters, display), for a comparison panel.
  snapshot() {
    return structuredClone({ method: this.method, values: this.values[this.method], display: this.display });
  }

  currentValues() { return this.values[this.method]; }

  /// Restores a saved view (from the URL): method, its parameters, display settings.
  apply({ method, params, display }) {
    if (method && this.values[method]) {
      const opt = [...this.methodSelect.options].find((o) => o.value === method);
      if (opt && !opt.disabled) { this.method = method; this.chosen = true; }
    }
    if (params && typeof params === 'object') {
      const v = this.values[this.method];
      for (const k of Object.keys(v)) if (k in params) v[k] = params[k];
    }
    if (display && typeof display === 'object') {
      for (const k of Object.keys(this.display)) if (k in display) this.display[k] = display[k];
    }
    this.methodSelect.value = this.method;
    this.renderParams();
    this.renderDisplay();
  }
}

// The comparison grid: panels side by side, each with its own method, parameters, display
// settings and target (methods x layers, rules x parameters, ...). A panel is edited by
// selecting it: the main controls then drive that panel. Each panel keeps its attribution in
// the worker under its own key (an Explanation of the JS API), so display changes redraw
// without recomputing.
import { METHODS, request } from './methods.js';
import { drawOverlay, formatValue } from './heatmap.js';
import { drawLines } from './plot.js';

let nextKey = 1;

function summary(cfg, labels) {
  const m = METHODS.find((x) => x.id === cfg.method);
  const v = cfg.values;
  const bits = [];
  if (cfg.method === 'integrated-gradients') bits.push(`${v.steps} steps`, v.ig_rule, `${v.baseline} baseline`);
  if (cfg.method === 'smoothgrad') bits.push(`${v.samples} samples`, `noise ${v.noise}`);
  if (cfg.method === 'grad-cam') bits.push(v.layer);
  if (cfg.target !== null && cfg.target !== undefined) bits.push(`class “${labels[cfg.target] ?? cfg.target}”`);
  return `${m?.title ?? cfg.method}${bits.length ? ` — ${bits.join(', ')}` : ''}`;
}

export class CompareGrid {
  constructor(root, { context, onSelect, onError }) {
    this.root = root;
    this.context = context; // () => { model, view, imageCanvas, labels, renderSettings(cfg) }
    this.onSelect = onSelect;
    this.onError = onError;
    this.panels = [];
    this.selected = null;
  }

  add(cfg) {
    const key = `panel-${nextKey++}`;
    const el = document.createElement('figure');
    el.className = 'panel';
    el.dataset.key = key;
    el.innerHTML = `<div class="panel-stack"><canvas class="panel-image"></canvas><canvas class="panel-heat"></canvas></div>
      <figcaption><span class="panel-title"></span><br><span class="panel-stats muted"></span></figcaption>
      <div class="panel-buttons"><button type="button" class="panel-edit">Edit</button><button type="button" class="panel-remove" aria-label="Remove panel">×</button></div>`;
    const panel = { key, cfg: structuredClone(cfg), el };
    const plot = document.createElement('canvas');
    plot.className = 'panel-plot';
    plot.hidden = true;
    plot.setAttribute('aria-label', 'Deletion and insertion curves of this panel');
    el.querySelector('figcaption').append(plot);
    el.querySelector('.panel-edit').addEventListener('click', () => this.select(panel));
    el.querySelector('.panel-remove').addEventListener('click', () => this.remove(panel));
    this.root.append(el);
    this.panels.push(panel);
    this.root.hidden = false;
    panel.done = this.compute(panel);
    return panel.done;
  }

  /// Resolves when every panel has been computed.
  async settled() {
    await Promise.all(this.panels.map((p) => p.done));
  }

  /// Deletion and insertion curves of a panel's attribution, drawn under it.
  async evaluate(p, { steps = 50, score = 'probability' } = {}) {
    if (!p.el.dataset.done || !p.explanation) return null;
    const r = await p.explanation.curves({ steps, score });
    const plot = p.el.querySelector('.panel-plot');
    plot.hidden = false;
    drawLines(plot, [{ ys: r.deletion.scores, color: '#2563eb', label: `del ${r.deletion.auc.toFixed(3)}` }, { ys: r.insertion.scores, color: '#c0392b', label: `ins ${r.insertion.auc.toFixed(3)}` }],
      { ymin: score === 'probability' ? 0 : null, ymax: score === 'probability' ? 1 : null });
    p.scored = { steps, score };
    p.el.dataset.deletion = r.deletion.auc;
    p.el.dataset.insertion = r.insertion.auc;
    return { title: summary(p.cfg, this.context().labels), deletion: r.deletion.auc, insertion: r.insertion.auc };
  }

  remove(panel) {
    this.panels = this.panels.filter((p) => p !== panel);
    panel.el.remove();
    panel.explanation?.forget().catch(() => {});
    if (this.selected === panel) this.select(null);
    this.root.hidden = this.panels.length === 0;
  }

  clear() {
    for (const p of [...this.panels]) this.remove(p);
  }

  select(panel) {
    this.selected = panel;
    for (const p of this.panels) p.el.classList.toggle('selected', p === panel);
    this.onSelect(panel ? structuredClone(panel.cfg) : null);
  }

  /// The main controls changed while a panel is selected: it follows them.
  async updateSelected(cfg, { recompute }) {
    const p = this.selected;
    if (!p) return;
    p.cfg = structuredClone(cfg);
    await (recompute ? this.compute(p) : this.redraw(p));
  }

  async refreshAll() {
    for (const p of this.panels) await this.compute(p);
  }

  drawImage(p) {
    const { imageCanvas } = this.context();
    const c = p.el.querySelector('.panel-image');
    c.width = imageCanvas.width;
    c.height = imageCanvas.height;
    c.style.imageRendering = c.width < 128 ? 'pixelated' : 'auto';
    c.getContext('2d').drawImage(imageCanvas, 0, 0);
  }

  async compute(p) {
    const ctx = this.context();
    if (!ctx.view) return;
    const { labels } = ctx;
    p.el.querySelector('.panel-title').textContent = summary(p.cfg, labels);
    const stats = p.el.querySelector('.panel-stats');
    stats.textContent = 'computing…';
    p.el.classList.add('busy');
    try {
      this.drawImage(p);
      p.explanation = await ctx.model.explain({ method: p.cfg.method, params: request(p.cfg.method, p.cfg.values, p.cfg.target), target: p.cfg.target ?? null, key: p.key });
      const r = await p.explanation.render({ ...ctx.renderSettings(p.cfg), width: ctx.view.width, height: ctx.view.height });
      drawOverlay(p.el.querySelector('.panel-heat'), r.rgba, r.width, r.height, p.cfg.display.opacity);
      const m = p.explanation.meta;
      const parts = [`“${labels[m.target] ?? m.target}”`, `${(m.seconds * 1000).toFixed(1)} ms`, `range ${formatValue(r.legend.vmin)}…${formatValue(r.legend.vmax)}`];
      if (m.completeness_gap !== null && m.completeness_gap !== undefined) parts.push(`gap ${formatValue(m.completeness_gap)}`);
      stats.textContent = parts.join(' · ');
      p.el.dataset.done = '1';
      // A panel once scored keeps its curves live: they follow every recomputation.
      if (p.scored) await this.evaluate(p, p.scored);
    } catch (e) {
      stats.textContent = `error: ${e.message}`;
      this.onError(e);
    } finally {
      p.el.classList.remove('busy');
    }
  }

  async redraw(p) {
    const ctx = this.context();
    if (!p.explanation) return;
    try {
      const r = await p.explanation.render({ ...ctx.renderSettings(p.cfg), width: ctx.view.width, height: ctx.view.height });
      drawOverlay(p.el.querySelector('.panel-heat'), r.rgba, r.width, r.height, p.cfg.display.opacity);
    } catch (e) {
      this.onError(e);
    }
  }
}

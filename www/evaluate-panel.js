// Evaluating the explanation on screen: deletion / insertion curves with their areas
// (Petsiuk et al.), the CAM paper's box and the pointing game against a ground-truth box the
// user draws (or types), and the cascading-randomisation sanity check (Adebayo et al.).
// All numbers come from the explanation on screen (the JS API's Explanation: crate::evaluate
// in the worker); this file only asks and draws.
import { drawLines, drawMarks, boxSentence } from './plot.js';
import { CATALOG } from './methods.js';

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

const labelled = (text, control) => el('label', { className: 'param' }, el('span', { textContent: text }), control);

export class EvaluatePanel {
  /// context() -> { inputW, inputH, explanation, display, method, labels } of the main view.
  constructor(root, { marks, context, onError }) {
    this.marks = marks;
    this.context = context;
    this.onError = onError;
    this.truth = null;
    this.steps = el('input', { type: 'number', id: 'eval-steps', min: 1, max: 4096, value: 50 });
    this.score = el('select', { id: 'eval-score' }, el('option', { value: 'probability', textContent: 'probability' }), el('option', { value: 'logit', textContent: 'logit' }));
    this.live = el('input', { type: 'checkbox', id: 'eval-live' });
    this.runCurves = el('button', { type: 'button', id: 'eval-curves', textContent: 'Deletion & insertion' });
    this.plot = el('canvas', { id: 'eval-plot', className: 'eval-plot' });
    this.plot.setAttribute('aria-label', 'Deletion and insertion curves');
    // No empty box before there is something to plot.
    this.plot.hidden = true;
    this.curveText = el('p', { id: 'eval-auc', className: 'muted' });
    this.showBox = el('input', { type: 'checkbox', id: 'eval-box' });
    this.threshold = el('input', { type: 'range', id: 'eval-threshold', min: 0, max: 1, step: 0.05, value: 0.2 });
    this.thresholdOut = el('output', { textContent: '0.20' });
    this.truthToggle = el('button', { type: 'button', id: 'eval-truth-draw', textContent: 'Draw ground-truth box' });
    this.truthToggle.setAttribute('aria-pressed', 'false');
    this.truthFields = ['x0', 'y0', 'x1', 'y1'].map((k) => el('input', { type: 'number', id: `eval-truth-${k}`, min: 0, step: 1, className: 'short' }));
    this.tolerance = el('input', { type: 'number', id: 'eval-tolerance', min: 0, step: 1, value: 0, className: 'short' });
    this.boxText = el('p', { id: 'eval-box-text', className: 'muted' });
    this.stages = el('input', { type: 'number', id: 'eval-stages', min: 1, max: 64, value: 8, className: 'short' });
    this.runSanity = el('button', { type: 'button', id: 'eval-sanity', textContent: 'Sanity check' });
    this.sanityText = el('p', { id: 'eval-sanity-text', className: 'muted' });
    this.strip = el('div', { id: 'eval-sanity-strip', className: 'sanity-strip' });
    root.append(
      el('h3', { textContent: 'Faithfulness: deletion and insertion' }),
      el('p', { className: 'muted', textContent: 'Pixels are removed (deletion, to black) or added (insertion, into a blurred copy) in order of attribution; the score of the class is plotted. Lower deletion area and higher insertion area mean a more faithful map.' }),
      el('div', { className: 'params' }, labelled('steps', this.steps), labelled('score', this.score), labelled('recompute after each explanation', this.live), this.runCurves),
      this.plot, this.curveText,
      el('h3', { textContent: 'Localisation' }),
      el('div', { className: 'params' }, labelled('CAM-paper box', this.showBox), labelled('threshold (fraction of max)', el('span', {}, this.threshold, this.thresholdOut))),
      el('div', { className: 'params' }, this.truthToggle, ...this.truthFields.map((f, i) => labelled(['x0', 'y0', 'x1', 'y1'][i], f)), labelled('tolerance (px)', this.tolerance)),
      this.boxText,
      el('h3', { textContent: 'Sanity check: cascading randomisation' }),
      el('p', { className: 'muted', textContent: 'The weights are re-drawn from the top layer down and the same class is explained again. A map that explains the model must change; Spearman’s ρ (of |map|) to the original is shown under each stage.' }),
      el('div', { className: 'params' }, labelled('stages', this.stages), this.runSanity),
      this.sanityText, this.strip,
    );
    this.runCurves.addEventListener('click', () => this.curves().catch(onError));
    this.runSanity.addEventListener('click', () => this.sanity().catch(onError));
    this.showBox.addEventListener('change', () => this.localize().catch(onError));
    this.threshold.addEventListener('input', () => { this.thresholdOut.textContent = Number(this.threshold.value).toFixed(2); this.localize().catch(onError); });
    this.tolerance.addEventListener('change', () => this.localize().catch(onError));
    for (const f of this.truthFields) f.addEventListener('change', () => this.truthFromFields());
    this.truthToggle.addEventListener('click', () => this.setDrawing(this.truthToggle.getAttribute('aria-pressed') !== 'true'));
    this.dragTruth();
  }

  setDrawing(on) {
    this.truthToggle.setAttribute('aria-pressed', String(on));
    this.marks.classList.toggle('drawing', on);
  }

  dragTruth() {
    let start = null;
    const pos = (e) => {
      const { inputW, inputH } = this.context();
      const r = this.marks.getBoundingClientRect();
      return [Math.min(inputW, Math.max(0, Math.round(((e.clientX - r.left) / r.width) * inputW))), Math.min(inputH, Math.max(0, Math.round(((e.clientY - r.top) / r.height) * inputH)))];
    };
    this.marks.addEventListener('pointerdown', (e) => {
      if (!this.marks.classList.contains('drawing')) return;
      start = pos(e);
      this.marks.setPointerCapture(e.pointerId);
    });
    this.marks.addEventListener('pointermove', (e) => {
      if (!start) return;
      const [x, y] = pos(e);
      this.truth = { x0: Math.min(start[0], x), y0: Math.min(start[1], y), x1: Math.max(start[0], x), y1: Math.max(start[1], y) };
      this.drawMarks();
    });
    this.marks.addEventListener('pointerup', () => {
      if (!start) return;
      start = null;
      this.setDrawing(false);
      if (this.truth && (this.truth.x1 <= this.truth.x0 || this.truth.y1 <= this.truth.y0)) this.truth = null;
      this.truthToFields();
      this.localize().catch(this.onError);
    });
  }

  truthToFields() {
    ['x0', 'y0', 'x1', 'y1'].forEach((k, i) => { this.truthFields[i].value = this.truth ? this.truth[k] : ''; });
  }

  truthFromFields() {
    const v = this.truthFields.map((f) => f.value.trim());
    this.truth = v.every((s) => s !== '') ? Object.fromEntries(['x0', 'y0', 'x1', 'y1'].map((k, i) => [k, Math.max(0, Math.round(Number(v[i])))])) : null;
    this.localize().catch(this.onError);
  }

  /// A new image or model: the ground truth and the marks belong to the old one.
  reset() {
    this.truth = null;
    this.box = null;
    this.point = null;
    this.truthToFields();
    this.boxText.textContent = '';
    this.curveText.textContent = '';
    this.strip.replaceChildren();
    this.sanityText.textContent = '';
    this.clearMarks();
  }

  /// A new explanation is on screen.
  async afterExplain() {
    this.strip.replaceChildren();
    this.sanityText.textContent = '';
    await this.localize();
    if (this.live.checked) await this.curves();
    else {
      this.curveText.textContent = '';
      this.plot.hidden = true;
    }
  }

  async curves() {
    const ctx = this.context();
    if (!ctx.explanation) return null;
    this.curveText.textContent = 'computing…';
    const r = await ctx.explanation.curves({ steps: Number(this.steps.value), score: this.score.value });
    this.plot.hidden = false;
    drawLines(this.plot, [
      { ys: r.deletion.scores, color: '#2563eb', label: `deletion (AUC ${r.deletion.auc.toFixed(3)})` },
      { ys: r.insertion.scores, color: '#c0392b', label: `insertion (AUC ${r.insertion.auc.toFixed(3)})` },
    ], { ymin: this.score.value === 'probability' ? 0 : null, ymax: this.score.value === 'probability' ? 1 : null, xlabel: 'fraction of pixels' });
    this.curveText.textContent = `${ctx.method}: deletion AUC ${r.deletion.auc.toFixed(4)}, insertion AUC ${r.insertion.auc.toFixed(4)} (${r.deletion.scores.length - 1} steps, ${this.score.value})`;
    this.curveText.dataset.deletion = r.deletion.auc;
    this.curveText.dataset.insertion = r.insertion.auc;
    return r;
  }

  clearMarks() {
    const { inputW, inputH } = this.context();
    drawMarks(this.marks, {}, inputW, inputH);
  }

  drawMarks() {
    const { inputW, inputH } = this.context();
    drawMarks(this.marks, { box: this.box, truth: this.truth, point: this.point }, inputW, inputH);
  }

  async localize() {
    if (!this.showBox.checked && !this.truth) {
      this.box = null;
      this.point = null;
      this.boxText.textContent = '';
      this.drawMarks();
      return;
    }
    const e = this.context().explanation;
    if (!e) return;
    const r = await e.localize({ threshold: Number(this.threshold.value), truth: this.truth, tolerance: Number(this.tolerance.value) });
    this.box = this.showBox.checked ? r.bbox : null;
    this.point = r.pointing ?? null;
    const parts = [];
    const { inputW, inputH } = this.context();
    if (this.showBox.checked) parts.push(boxSentence(r, inputW, inputH));
    if (r.pointing) parts.push(`pointing game: ${r.pointing.hit ? 'hit' : 'miss'} (maximum at ${r.pointing.x}, ${r.pointing.y})`);
    if (r.iou !== null && r.iou !== undefined) parts.push(`IoU with the ground truth ${r.iou.toFixed(3)}`);
    this.boxText.textContent = parts.join(' · ');
    this.boxText.dataset.result = JSON.stringify(r);
    this.drawMarks();
  }

  async sanity() {
    const ctx = this.context();
    this.sanityText.textContent = 'randomising and explaining…';
    this.strip.replaceChildren();
    // The stages are compared on the default channel reduction (the sum, which keeps the sign).
    const display = { ...ctx.display, reduce: CATALOG.display.reduce[0] };
    if (!ctx.explanation) return null;
    const r = await ctx.explanation.sanityCheck({ stages: Number(this.stages.value), seed: 0, display });
    const { meta } = r;
    meta.stages.forEach((s, i) => {
      const c = el('canvas', { width: r.width, height: r.height, className: 'thumb' });
      c.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(r.images[i].buffer), r.width, r.height), 0, 0);
      const name = s.randomized === 0 ? 'original' : `top ${s.randomized} layer${s.randomized > 1 ? 's' : ''}`;
      const fig = el('figure', { className: 'stage', title: s.layer ? `randomised down to ${s.layer}` : 'the trained model' }, c, el('figcaption', { textContent: `${name} · ρ ${s.spearman_abs.toFixed(2)}` }));
      this.strip.append(fig);
    });
    const last = meta.stages.at(-1);
    this.sanityText.textContent = meta.flagged
      ? `⚠ ${ctx.method} barely changes when every layer is randomised (ρ ${last.spearman_abs.toFixed(2)} ≥ 0.5): this map shows the input more than the model.`
      : `${ctx.method} changes as the model is destroyed (ρ ${last.spearman_abs.toFixed(2)} with all ${last.randomized} layers randomised): it depends on the weights.`;
    this.sanityText.classList.toggle('flagged', meta.flagged);
    this.sanityText.dataset.result = JSON.stringify(meta.stages.map((s) => ({ randomized: s.randomized, spearman_abs: s.spearman_abs, spearman: s.spearman })));
    this.sanityText.dataset.flagged = String(meta.flagged);
    return meta;
  }
}

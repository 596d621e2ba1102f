// Integrated Gradients page: the steps slider, the completeness gap against the steps, the
// score along the path (sensitivity), a rescaled twin of the net (implementation invariance)
// and four baselines. Every number is computed by the same engine as the viewer.
import { explained, showError } from './learn-nav.js';
import { drawLines, drawPlaceholder } from './plot.js';
import { formatValue } from './heatmap.js';
import { METHODS, AUTO, displayFor } from './methods.js';

const $ = (id) => document.getElementById(id);
const ig = $('ig-main');
const views = ['ig-gradient', 'ig-guided', 'ig-main', 'bl-black', 'bl-white', 'bl-blurred', 'bl-noise'].map($);
for (const v of views) v.addEventListener('error', (e) => showError(new Error(e.detail)));
// Integrated gradients' own display, pixels drawn as blocks (28 x 28 inputs).
const SIGNED = displayFor(METHODS.find((m) => m.id === 'integrated-gradients'), { sign: AUTO, colormap: AUTO, outlier_percent: AUTO, upsample: 'nearest' });

for (let d = 0; d <= 9; d++) $('ig-image').append(new Option(`digit ${d}`, `images/digit_${d}.png`, d === 3, d === 3));
$('ig-image').addEventListener('change', () => {
  for (const v of views) { v.removeAttribute('target'); v.setAttribute('image', $('ig-image').value); }
  explained(ig).then(() => Promise.all([path(), twins()])).catch(showError);
});

// Steps: a logarithmic slider from 2 to 10 000.
const stepsOf = (pos) => Math.max(2, Math.round(10 ** (Math.log10(2) + (pos / 1000) * (4 - Math.log10(2)))));
$('ig-steps').addEventListener('input', () => {
  const n = stepsOf(Number($('ig-steps').value));
  $('ig-steps-out').textContent = n;
  ig.setAttribute('params', JSON.stringify({ steps: n }));
});
ig.addEventListener('explained', (e) => {
  const m = e.detail;
  $('ig-numbers').textContent = `${m.label}: F(x) − F(x′) = ${formatValue(m.score_delta)}; Σ IG = ${formatValue(m.score_delta + m.completeness_gap)}; completeness gap ${formatValue(m.completeness_gap)} with ${JSON.parse(ig.getAttribute('params')).steps} steps (${(m.seconds * 1000).toFixed(0)} ms).`;
});

// Completeness gap against the steps, for two quadrature rules (computed on request: ~8 s).
drawPlaceholder($('gap-plot'), 'Here: |completeness gap| against the number of steps, for the right Riemann sum and Gauss–Legendre. Press “Plot the gap against the steps” to compute it.');
const STEPS = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 10000];
$('gap-run').addEventListener('click', async () => {
  try {
    const series = [];
    for (const [rule, color] of [['riemann-right', '#c0392b'], ['gauss-legendre', '#2563eb']]) {
      const ys = [];
      for (const steps of STEPS) {
        $('gap-status').textContent = `${rule}, ${steps} steps…`;
        const e = await ig.model.explain({ method: 'integrated-gradients', params: { steps, ig_rule: rule, baseline: { kind: 'black' } }, target: ig.lastMeta?.target ?? null, key: 'gap' });
        ys.push(Math.max(1e-9, Math.abs(e.meta.completeness_gap)));
      }
      series.push({ xs: STEPS, ys: ys.map(Math.log10), color, label: rule });
    }
    drawLines($('gap-plot'), series, { xlog: true, xlabel: 'steps', ylabel: 'log10 |gap|' });
    $('gap-status').textContent = `|gap| at 10 000 steps: ${series.map((s) => `${s.label} ${formatValue(10 ** s.ys.at(-1))}`).join(', ')}`;
    $('gap-plot').dataset.gaps = JSON.stringify(series.map((s) => ({ rule: s.label, gaps: s.ys.map((y) => 10 ** y) })));
  } catch (e) {
    showError(e);
  }
});

// Sensitivity: the class probability along the straight path from black to x, and how fast it
// rises (finite differences); the gradient map at any point of the path.
const softmax = (z) => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const pathState = { points: [] };
async function path() {
  const { shape, data } = await ig.model.input();
  const pre = ig.info.preprocess;
  const black = (0 - pre.mean[0]) / pre.std[0];
  const target = ig.lastMeta.target;
  const points = [];
  for (let k = 0; k <= 20; k++) {
    const a = k / 20;
    const x = data.map((v) => black + a * (v - black));
    const r = await ig.model.explainTensor(x, { method: 'gradient', target });
    points.push({ a, p: softmax(r.logits)[target], grad: r });
  }
  // dp/dα by central differences (one-sided at the ends).
  points.forEach((pt, i) => {
    const lo = points[Math.max(0, i - 1)];
    const hi = points[Math.min(points.length - 1, i + 1)];
    pt.slope = (hi.p - lo.p) / (hi.a - lo.a);
  });
  pathState.points = points;
  pathState.shape = shape;
  const maxSlope = Math.max(...points.map((p) => p.slope), 1e-9);
  drawLines($('path-plot'), [
    { xs: points.map((p) => p.a), ys: points.map((p) => p.p), color: '#1d2330', label: 'probability p' },
    { xs: points.map((p) => p.a), ys: points.map((p) => p.slope / maxSlope), color: '#c0392b', label: 'dp/dα (scaled)' },
  ], { xlabel: 'α', ymin: 0, ymax: 1 });
  const end = points.at(-1);
  const half = points.find((p) => p.p >= 0.5 * (points[0].p + end.p));
  $('path-text').textContent = `p(x′) = ${points[0].p.toFixed(3)}, p(x) = ${end.p.toFixed(3)}: half of the rise is reached at α = ${half.a.toFixed(2)}; the steepest rise is dp/dα = ${formatValue(maxSlope)}, at the image itself dp/dα = ${formatValue(end.slope)}.`;
  $('path-plot').dataset.path = JSON.stringify(points.map((p) => [p.a, p.p, p.slope]));
  await showPathMap();
}

async function showPathMap() {
  const k = Number($('path-alpha').value);
  $('path-alpha-out').textContent = (k / 20).toFixed(2);
  const p = pathState.points[k];
  if (!p) return;
  const [, , h, w] = pathState.shape;
  const e = await ig.model.keep({ ...p.grad, method: 'gradient' }, { key: 'path' });
  const r = await e.render({ ...SIGNED, width: w, height: h });
  $('path-map').getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(r.rgba.buffer), r.width, r.height), 0, 0);
  $('path-map-cap').textContent = `the gradient at α = ${(k / 20).toFixed(2)} (red: raises the score, blue: lowers it), colour range ±${formatValue(r.legend.vmax)}`;
}
$('path-alpha').addEventListener('input', () => showPathMap().catch(showError));

// Implementation invariance: the rescaled twin.
function mapCanvas(title) {
  const c = Object.assign(document.createElement('canvas'), { width: 28, height: 28, className: 'term' });
  c.style.width = '120px';
  c.style.height = '120px';
  c.style.imageRendering = 'pixelated';
  const fig = document.createElement('figure');
  fig.append(c, Object.assign(document.createElement('figcaption'), { textContent: title }));
  return { fig, c };
}
const relDiff = (a, b) => {
  let n = 0;
  let d = 0;
  for (let i = 0; i < a.length; i++) { n += (a[i] - b[i]) ** 2; d += b[i] ** 2; }
  return Math.sqrt(n / Math.max(d, 1e-30));
};
let twinRun = 0;
let twin = null;
async function twins() {
  const run = ++twinRun;
  const c = 10 ** Number($('twin-c').value);
  $('twin-c-out').textContent = c >= 1 ? c.toFixed(c < 10 ? 2 : 0) : c.toPrecision(2);
  const next = await ig.model.rescaled({ layer: 0, factor: c });
  twin?.dispose().catch(() => {});
  twin = next;
  const target = ig.lastMeta.target;
  const reqs = {
    'Integrated Gradients (32 steps)': { method: 'integrated-gradients', params: { steps: 32, baseline: { kind: 'black' } }, target },
    'LRP-ε (ε = 0.25)': { method: 'lrp', params: { rules: [['-', 'epsilon:0.25']] }, target },
  };
  const figs = [];
  const numbers = [];
  for (const [name, request] of Object.entries(reqs)) {
    const a = await ig.model.explain({ ...request, key: 'twin-view' });
    const b = await next.explain({ ...request, key: 'twin-view' });
    if (run !== twinRun) return;
    for (const [who, e] of [['net', a], [`twin (c = ${$('twin-c-out').textContent})`, b]]) {
      const { fig, c: canvas } = mapCanvas(`${name}, ${who}`);
      const out = await e.render({ ...SIGNED, width: 28, height: 28 });
      canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(out.rgba.buffer), 28, 28), 0, 0);
      // Each map has its own colour scale: its range, so that equal-looking maps are not taken
      // for equal values.
      fig.querySelector('figcaption').append(document.createElement('br'), `colour range ±${formatValue(out.legend.vmax)}`);
      figs.push(fig);
    }
    numbers.push(`${name}: relative difference ${formatValue(relDiff(await b.values(), await a.values()))}`);
  }
  const x = await ig.model.input();
  const [la, lb] = [await ig.model.explainTensor(x.data), await next.explainTensor(x.data)];
  const dl = Math.max(...la.logits.map((v, i) => Math.abs(v - lb.logits[i])));
  $('twin-row').replaceChildren(...figs);
  $('twin-text').textContent = `Largest score difference between the twins: ${formatValue(dl)}. ${numbers.join('; ')}.`;
  $('twin-row').dataset.result = JSON.stringify({ c, logit_diff: dl, numbers });
}
$('twin-c').addEventListener('change', () => twins().catch(showError));

explained(ig).then(() => Promise.all([path(), twins()])).catch(showError);

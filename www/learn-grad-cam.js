// Grad-CAM page: three layers of one net side by side, on the same digit and class, each
// with its channel weights alpha_k as bars.
import { showError } from './learn-nav.js';
import { drawBars } from './plot.js';
import { formatValue } from './heatmap.js';

const $ = (id) => document.getElementById(id);
const views = [1, 2, 3].map((i) => $(`gc-${i}`));

for (let d = 0; d <= 9; d++) $('gc-image').append(new Option(`digit ${d}`, `images/digit_${d}.png`, d === 7, d === 7));
$('gc-image').addEventListener('change', () => views.forEach((v) => { v.removeAttribute('target'); v.setAttribute('image', $('gc-image').value); }));

views.forEach((v, n) => {
  v.addEventListener('explained', (e) => {
    const m = e.detail;
    if (n === 0) for (const other of views.slice(1)) if (other.getAttribute('target') !== String(m.target)) other.setAttribute('target', String(m.target));
    const w = m.channels.weights;
    drawBars($(`gc-bars-${n + 1}`), w);
    const pos = w.filter((a) => a > 0).length;
    v.dataset.alphas = String(w.length);
    // The map's own spread, so that a nearly flat map (the first block's) reads as one.
    v.explanation.values().then((a) => {
      const lo = a.reduce((x, y) => Math.min(x, y), Infinity);
      const hi = a.reduce((x, y) => Math.max(x, y), -Infinity);
      $(`gc-text-${n + 1}`).textContent = `${w.length} channels: ${pos} with α > 0, largest α = ${Math.max(...w).toFixed(4)}. Map values at the layer's resolution (before upsampling, so the colour bar's range differs a little) ${formatValue(lo)} to ${formatValue(hi)}${hi < 0.01 ? ': nearly flat, the colours stretch a tiny range' : ''}.`;
    }).catch(showError);
  });
  v.addEventListener('error', (e) => showError(new Error(e.detail)));
});
$('gc-effnet').addEventListener('error', (e) => showError(new Error(e.detail)));

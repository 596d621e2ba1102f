// Grad-CAM page: three layers of one net side by side, on the same digit and class, each
// with its channel weights alpha_k as bars.
import { showError } from './learn-nav.js';
import { drawBars } from './plot.js';

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
    $(`gc-text-${n + 1}`).textContent = `${w.length} channels: ${pos} with α > 0, largest α = ${Math.max(...w).toFixed(4)}`;
    v.dataset.alphas = String(w.length);
  });
  v.addEventListener('error', (e) => showError(new Error(e.detail)));
});
$('gc-effnet').addEventListener('error', (e) => showError(new Error(e.detail)));

// CAM page: keeps the two MNIST views on the same digit and class, writes the CAM sum with the
// class's real weights, and drives the EfficientNet box threshold.
import { explained, drawMap, showError } from './learn-nav.js';
import { boxSentence } from './plot.js';
import { formatValue } from './heatmap.js';

const $ = (id) => document.getElementById(id);
const bilinear = $('cam-bilinear');
const bicubic = $('cam-bicubic');
const effnet = $('cam-effnet');

for (let d = 0; d <= 9; d++) $('cam-image').append(new Option(`digit ${d}`, `images/digit_${d}.png`, d === 7, d === 7));
$('cam-image').addEventListener('change', () => {
  bilinear.removeAttribute('target');
  bicubic.removeAttribute('target');
  bilinear.setAttribute('image', $('cam-image').value);
  bicubic.setAttribute('image', $('cam-image').value);
});

async function showTerms(meta) {
  // The other view follows the class chosen in this one.
  const t = String(meta.target);
  if (bicubic.getAttribute('target') !== t) bicubic.setAttribute('target', t);
  const c = await bilinear.channelMaps();
  const [k, h, w] = c.shape;
  const plane = h * w;
  const terms = c.weights.map((wk, i) => {
    let mean = 0;
    for (let j = 0; j < plane; j++) mean += c.data[i * plane + j];
    return { i, wk, contribution: (wk * mean) / plane };
  });
  terms.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
  const shown = terms.slice(0, 6);
  const label = bilinear.info.labels[meta.target];
  $('cam-formula').innerHTML = '';
  $('cam-formula').append(`M(“${label}”) = `, ...shown.flatMap((s, n) => [n ? (s.wk < 0 ? ' − ' : ' + ') : (s.wk < 0 ? '−' : ''), `${Math.abs(s.wk).toFixed(3)}·f`, Object.assign(document.createElement('sub'), { textContent: s.i })]), ` + … (${k - shown.length} more terms)`);
  $('cam-term-list').replaceChildren(...shown.map((s) => {
    const canvas = document.createElement('canvas');
    drawMap(canvas, c.data.subarray(s.i * plane, (s.i + 1) * plane), h, w);
    canvas.setAttribute('aria-label', `feature map ${s.i}`);
    const fig = document.createElement('figure');
    fig.className = 'term';
    fig.append(canvas, Object.assign(document.createElement('figcaption'), { textContent: `w${s.i} = ${s.wk.toFixed(3)}` }));
    return fig;
  }));
  // Check: the mean of the map is the score minus the dense layer's bias.
  const sum = terms.reduce((acc, s) => acc + s.contribution, 0);
  $('cam-check').textContent = `Mean of the map = Σ_k w_k · mean(f_k) = ${formatValue(sum)}; the class score is ${formatValue(meta.score)} (the difference, ${formatValue(meta.score - sum)}, is the dense layer's bias for this class). ${k} feature maps of ${h}×${w} at ${c.layer}.`;
  document.body.dataset.camTerms = JSON.stringify({ target: meta.target, weights: shown.map((s) => [s.i, s.wk]), mean: sum, score: meta.score });
}

bilinear.addEventListener('explained', (e) => showTerms(e.detail).catch(showError));
explained(bilinear).catch(showError);

$('box-threshold').addEventListener('input', () => {
  $('box-threshold-out').textContent = Number($('box-threshold').value).toFixed(2);
  effnet.setAttribute('box', $('box-threshold').value);
});
$('box-image').addEventListener('change', () => effnet.setAttribute('image', $('box-image').value));
effnet.addEventListener('localized', (e) => {
  const [, , h, w] = effnet.info.input_shape;
  const text = boxSentence(e.detail, w, h);
  $('box-text').textContent = `${text[0].toUpperCase()}${text.slice(1)}.`;
});
for (const el of [bilinear, bicubic, effnet]) el.addEventListener('error', (e) => showError(new Error(e.detail)));

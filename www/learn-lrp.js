// LRP page: the patched nine, sliders for epsilon, gamma and alpha, and the overview paper's
// rule table with each rule's formula next to its heatmap and its conservation numbers.
import { showError } from './learn-nav.js';
import { formatValue } from './heatmap.js';

const $ = (id) => document.getElementById(id);
const custom = (rows) => JSON.stringify({ composite: 'custom', rules: rows.map(([layers, rule, params]) => ({ layers, rule, params })) });

const RULES = [
  ['LRP-0', 'Σ<sub>k</sub> a<sub>j</sub>w<sub>jk</sub> / Σ<sub>0,j</sub> a<sub>j</sub>w<sub>jk</sub> · R<sub>k</sub>', [['-', 'zero', []]]],
  ['LRP-ε', 'Σ<sub>k</sub> a<sub>j</sub>w<sub>jk</sub> / (ε + Σ<sub>0,j</sub> a<sub>j</sub>w<sub>jk</sub>) · R<sub>k</sub>', [['-', 'epsilon', [0.25]]]],
  ['LRP-γ', 'Σ<sub>k</sub> a<sub>j</sub>(w<sub>jk</sub> + γw<sub>jk</sub><sup>+</sup>) / Σ<sub>0,j</sub> a<sub>j</sub>(w<sub>jk</sub> + γw<sub>jk</sub><sup>+</sup>) · R<sub>k</sub>', [['-', 'gamma', [0.25]]]],
  ['LRP-αβ', 'Σ<sub>k</sub> ( α (a<sub>j</sub>w<sub>jk</sub>)<sup>+</sup> / Σ<sub>0,j</sub>(a<sub>j</sub>w<sub>jk</sub>)<sup>+</sup> − β (a<sub>j</sub>w<sub>jk</sub>)<sup>−</sup> / Σ<sub>0,j</sub>(a<sub>j</sub>w<sub>jk</sub>)<sup>−</sup> ) R<sub>k</sub>', [['-', 'alpha-beta', [2, 1]]]],
  ['flat', 'Σ<sub>k</sub> 1 / Σ<sub>j</sub> 1 · R<sub>k</sub>', [['0', 'flat', []], ['1-', 'epsilon', [0.25]]]],
  ['w²', 'Σ<sub>k</sub> w<sub>jk</sub><sup>2</sup> / Σ<sub>j</sub> w<sub>jk</sub><sup>2</sup> · R<sub>k</sub>', [['0', 'w-square', []], ['1-', 'epsilon', [0.25]]]],
  ['z<sup>B</sup>', 'Σ<sub>k</sub> (x<sub>j</sub>w<sub>jk</sub> − l<sub>j</sub>w<sub>jk</sub><sup>+</sup> − h<sub>j</sub>w<sub>jk</sub><sup>−</sup>) / Σ<sub>j</sub>(x<sub>j</sub>w<sub>jk</sub> − l<sub>j</sub>w<sub>jk</sub><sup>+</sup> − h<sub>j</sub>w<sub>jk</sub><sup>−</sup>) · R<sub>k</sub>', [['0', 'zbox', []], ['1-', 'epsilon', [0.25]]]],
];

const body = $('rule-rows');
for (const [name, formula, rows] of RULES) {
  const tr = document.createElement('tr');
  const v = document.createElement('saliency-viewer');
  Object.entries({ model: 'mnist_lrp', image: 'images/nine_patched.png', method: 'lrp', controls: '', params: custom(rows) }).forEach(([k, val]) => v.setAttribute(k, val));
  v.style.setProperty('--saliency-size', '120px');
  const sums = Object.assign(document.createElement('td'), { className: 'numbers' });
  v.addEventListener('explained', (e) => {
    const l = e.detail.lrp;
    sums.textContent = `${formatValue(l.relevance_sum)} / ${formatValue(l.score)} = ${(l.relevance_sum / l.score).toFixed(2)}`;
    tr.dataset.conservation = String(l.relevance_sum / l.score);
  });
  v.addEventListener('error', (e) => showError(new Error(e.detail)));
  const th = Object.assign(document.createElement('th'), { scope: 'row' });
  th.innerHTML = name;
  const f = Object.assign(document.createElement('td'), { className: 'formula' });
  f.innerHTML = formula;
  const cell = document.createElement('td');
  cell.append(v);
  // The number next to the rule's name (visible on a phone too), the formula last.
  tr.append(th, sums, cell, f);
  body.append(tr);
}

const slider = (id, out, fmt, apply) => {
  const update = () => { const x = Number($(id).value); $(out).textContent = fmt(x); apply(x); };
  $(id).addEventListener('input', update);
};
slider('eps', 'eps-out', (x) => formatValue(10 ** x), (x) => $('r-eps').setAttribute('params', custom([['-', 'epsilon', [Number((10 ** x).toPrecision(3))]]])));
slider('gamma', 'gamma-out', (x) => x.toFixed(2), (x) => $('r-gamma').setAttribute('params', custom([['-', 'gamma', [x]]])));
slider('alpha', 'alpha-out', (x) => String(x), (x) => {
  $('r-a2').setAttribute('params', custom([['-', 'alpha-beta', [x, x - 1]]]));
  $('r-a2-cap').textContent = `LRP-α${x}β${x - 1}`;
});

const nine = $('nine-patched');
const source = $('nine-source');
const seen = {};
for (const [key, el] of [['source', source], ['patched', nine]]) {
  el.addEventListener('prediction', (e) => {
    seen[key] = e.detail[0];
    if (seen.source && seen.patched) {
      $('nine-text').textContent = `Original: “${seen.source.label}” with p = ${seen.source.probability.toFixed(3)}. Patched: “${seen.patched.label}” with p = ${seen.patched.probability.toFixed(3)}.`;
      document.body.dataset.nine = JSON.stringify({ source: seen.source.label, patched: seen.patched.label });
    }
  });
}
for (const el of document.querySelectorAll('saliency-viewer')) el.addEventListener('error', (e) => showError(new Error(e.detail)));

// The page: picks models and images (bundled or dropped), classifies and explains through the
// JS API (saliency.js), shows the result with the view controller it shares with the
// <saliency-viewer> element (explanation-view.js). State lives here; computation in the
// page's worker; drawing in explanation-view.js and view.js.
import { load, runsInChunks } from './saliency.js';
import { ExplanationView, Coalescer, Cancelled } from './explanation-view.js';
import { loadCatalog, fetchBytes } from './catalog.js';
import { ExplainPanel } from './explain-panel.js';
import { request } from './methods.js';
import { formatValue } from './heatmap.js';
import { DrawPad, PatchTool, onPaste } from './tools.js';
import { download, heatmapPng, overlayPng } from './export.js';
import { readState, writeState } from './url-state.js';
import { CompareGrid } from './grid.js';
import { METHODS } from './methods.js';
import { SidecarForm } from './sidecar-form.js';
import { drawBars } from './plot.js';
import { EvaluatePanel } from './evaluate-panel.js';

const $ = (id) => document.getElementById(id);
const ui = {
  model: $('model-select'), image: $('image-select'), drop: $('drop'), file: $('file-input'),
  status: $('status'), progress: $('progress'), cancel: $('cancel'), error: $('error'), canvas: $('image-canvas'), root: $('viewer'),
  caption: $('image-caption'), topk: $('top-k'), timing: $('timing'), about: $('model-about'),
  explain: $('explain'), heat: $('heat-canvas'), legend: $('legend'), legendCanvas: $('legend-canvas'),
  legendMin: $('legend-min'), legendMax: $('legend-max'), stats: $('explain-stats'),
  drawBox: $('draw-box'), patchToggle: $('patch-toggle'), stack: document.querySelector('.stack'),
};

// `model`: the JS API's SaliencyModel on screen; `view`: the input, the map and its legend.
const state = { catalog: null, models: [], images: [], modelIndex: -1, info: null, model: null, imageBytes: null, imageTitle: '', target: null, labels: [] };
const view = new ExplanationView({
  image: ui.canvas, heat: ui.heat, original: $('original-canvas'), legend: ui.legend, strip: ui.legendCanvas, min: ui.legendMin, max: ui.legendMax, topk: ui.topk,
});
/// The input's size once one is shown (null before).
const shownInput = () => view.input;

// Explanations: recomputed when the method, a parameter or the target changes; only redrawn
// when a display setting changes. Requests made while one runs collapse into the latest.
const panel = new ExplainPanel($('explain-controls'), {
  readNpy: (bytes) => state.model.readNpy(bytes),
  onCompute: () => schedule('compute'), onDisplay: (o) => (o?.opacityOnly ? setOpacity() : schedule('render')) });
const grid = new CompareGrid($('compare-grid'), {
  context: () => ({ model: state.model, view: shownInput(), imageCanvas: ui.canvas, labels: state.labels, renderSettings: (cfg) => panel.renderSettings(cfg) }),
  onSelect: (cfg) => {
    if (!cfg) return;
    panel.apply({ method: cfg.method, params: cfg.values, display: cfg.display });
    state.target = cfg.target ?? null;
    view.markTarget(state.target);
    schedule('compute');
  },
  onError: (e) => showError(`A comparison panel failed: ${e.message}`),
});
const evaluation = new EvaluatePanel($('evaluate-controls'), {
  marks: $('marks-canvas'),
  context: () => ({
    inputW: state.info.input_shape[3], inputH: state.info.input_shape[2], method: panel.method, labels: state.labels,
    explanation: view.explanation, display: panel.renderSettings(),
  }),
  onError: (e) => showError(`Evaluation failed: ${e.message}`),
});
const sidecarForm = new SidecarForm($('sidecar-form'), (text) => {
  const m = state.models[state.formModel];
  m.sidecarText = text;
  sidecarForm.close();
  loadModel(state.formModel);
});
const panelConfig = () => ({ ...panel.snapshot(), target: state.target });

const work = new Coalescer(['render', 'compute'], async (kind) => {
  await (kind === 'compute' ? explain() : redraw());
  await grid.updateSelected(panelConfig(), { recompute: kind === 'compute' });
});
function schedule(kind) {
  if (!shownInput()) return null;
  // The newest request wins: a chunked computation in flight stops after its current chunks.
  if (kind === 'compute') view.abort();
  return work.schedule(kind);
}

/// How the map is shown: over the image (at the chosen opacity), beside it, or alone. A wide
/// screen opens side by side (the input and the map at full strength, the prediction beside
/// them); a narrow one over the image.
function setOpacity() { view.show({ opacity: panel.display.opacity }); }
function setMode(mode) {
  view.show({ mode });
  $('view').dataset.mode = mode;
  for (const r of document.querySelectorAll('input[name=view-mode]')) r.checked = r.value === mode;
}
for (const r of document.querySelectorAll('input[name=view-mode]')) {
  r.addEventListener('change', () => setMode(r.value));
}
setOpacity();
setMode(matchMedia('(min-width: 1000px)').matches ? 'side' : 'overlay');

async function explain() {
  busy(true);
  // What this run explains (the controls may move on while it runs).
  const methodShown = panel.method;
  const valuesShown = structuredClone(panel.currentValues());
  try {
    const req = request(methodShown, valuesShown, state.target);
    // The progress bar, Cancel and the status line appear only for work that lasts: for a
    // redraw of a few tens of ms (IG-50 on MNIST while a slider moves) they would make the
    // page lay itself out twice more per step, on the cores the workers need.
    let shown = false;
    const reveal = setTimeout(() => {
      if (!runsInChunks(req)) return;
      shown = true;
      ui.progress.hidden = false;
      ui.cancel.hidden = false;
      setStatus(`Computing ${methodShown}…`);
    }, 150);
    ui.progress.value = 0;
    let e;
    try {
      e = await view.explain({ method: methodShown, params: req, target: state.target }, panel.renderSettings(), { onProgress: (p) => { if (shown) ui.progress.value = p; } });
    } finally {
      clearTimeout(reveal);
      if (shown) {
        ui.progress.hidden = true;
        ui.cancel.hidden = true;
        setStatus('Ready.');
      }
    }
    setOpacity();
    const m = e.meta;
    // What the map shows, next to it (the full report is under the controls).
    const title = METHODS.find((x) => x.id === methodShown)?.title ?? methodShown;
    $('map-caption').textContent = `The map: ${title} for “${state.labels[m.target] ?? m.target}”${req.layer ? ` at ${req.layer}` : ''}.`;
    const parts = [`${methodShown} for “${state.labels[m.target] ?? m.target}” (score ${formatValue(m.score)})`, `${(m.seconds * 1000).toFixed(1)} ms${m.workers ? ` on ${m.workers} workers` : ''}`];
    if (m.plan_seconds > 0) parts.push(`+ ${(m.plan_seconds * 1000).toFixed(1)} ms to build the plan`);
    if (m.completeness_gap !== undefined && m.completeness_gap !== null) {
      // A gap of more than 5 % of the difference it should add up to: too few steps.
      const share = Math.abs(m.completeness_gap) / Math.max(Math.abs(m.score_delta ?? m.score), 1e-12);
      parts.push(`completeness gap ${formatValue(m.completeness_gap)}${share > 0.05 ? ` (${(100 * share).toFixed(0)} % of F(x) − F(x′): the sum is far from complete, use more steps or Gauss–Legendre)` : ''}`);
    }
    const lrp = m.lrp;
    $('lrp-box').hidden = !lrp;
    if (lrp) {
      parts.push(`Σ relevance ${formatValue(lrp.relevance_sum)} of ${formatValue(lrp.score)} (${(100 * lrp.absorbed / (lrp.score || 1)).toFixed(1)} % absorbed${lrp.absorbed_where ? `: ${lrp.absorbed_where}` : ' by biases and stabilisers'}: relevance they keep on its way down, which the map does not show)`);
      const layers = [...lrp.per_layer].sort((a, b) => a.layer - b.layer);
      drawBars($('lrp-plot'), layers.map((l) => l.relevance_in), { reference: lrp.score, labels: layers.map((l) => l.layer) });
    }
    ui.stats.textContent = parts.join(' · ');
    // One gradient's time on this model, for the cost shown beside the steps and samples.
    const units = { 'integrated-gradients': req.steps, smoothgrad: req.samples, gradient: 1, 'gradient-x-input': 1 }[methodShown];
    if (units && m.seconds > 0) panel.setCost((1000 * m.seconds) / units);
    document.body.dataset.explained = `${methodShown}:${m.target}`;
    ui.root.dataset.explanation = JSON.stringify({ request: req, target: m.target, score: m.score, completeness_gap: m.completeness_gap, lrp: m.lrp ? { relevance_sum: m.lrp.relevance_sum, absorbed: m.lrp.absorbed } : undefined });
    // What the picture shows: the URL carries it, and a cancelled run goes back to it.
    state.shown = { method: methodShown, params: valuesShown };
    saveUrlSoon();
    clearError();
    $('evaluate').hidden = false;
    await evaluation.afterExplain();
  } catch (e) {
    if (e instanceof Cancelled) {
      // Stopped by the user (not by a newer request): the controls go back to the explanation
      // on screen (a reload must not restart the cancelled run from the URL).
      ui.stats.textContent = work.queued ? '' : 'Cancelled.';
      if (!work.queued && state.shown) panel.apply(structuredClone(state.shown));
      return;
    }
    ui.stats.textContent = '';
    $('map-caption').textContent = '';
    showError(`Could not explain with ${methodShown}: ${e.message}`);
  } finally {
    busy(false);
  }
}

async function redraw() {
  try {
    await view.redraw(panel.renderSettings());
  } catch (e) {
    showError(`Could not draw the heatmap: ${e.message}`);
  }
}

// The view in the URL (bundled model and image only: local files never leave the page).
// Every history.replaceState is work for the browser process and the page's main thread (a
// slider drag through IG-50 redraws on MNIST painted ~13 ms later with one per redraw): the URL
// is written once the view has settled for 300 ms, on "Copy link" and when the page is hidden.
let urlTimer = null;
function saveUrlSoon() {
  clearTimeout(urlTimer);
  urlTimer = setTimeout(saveUrl, 300);
}
addEventListener('pagehide', () => { if (urlTimer) saveUrl(); });

function saveUrl() {
  clearTimeout(urlTimer);
  urlTimer = null;
  const m = state.models[state.modelIndex];
  const im = state.images[Number(ui.image.value)];
  writeState({
    model: m && !m.custom ? m.name : undefined,
    image: im && !im.custom && !state.imageEdited ? im.file : undefined,
    method: state.shown?.method ?? panel.method,
    params: state.shown?.params ?? panel.currentValues(),
    target: state.target ?? undefined,
    display: panel.display,
  });
}

/// A new input made in the page (drawing, patch): classified and explained like any image.
async function useImage(bytes, title) {
  state.imageBytes = bytes;
  state.imageTitle = title;
  state.imageEdited = true;
  await predict();
}

function setStatus(text) { ui.status.textContent = text; }
// The root's data-state: loading (no model yet), busy, error, ready.
function updateState() {
  ui.root.dataset.state = !state.info ? 'loading' : document.body.dataset.busy === '1' ? 'busy' : ui.error.hidden ? 'ready' : 'error';
}

function showError(e) {
  ui.error.hidden = false;
  ui.error.textContent = e?.message ?? String(e);
  document.body.dataset.error = ui.error.textContent;
  updateState();
}
function clearError() { ui.error.hidden = true; ui.error.textContent = ''; delete document.body.dataset.error; updateState(); }
function busy(flag) { document.body.dataset.busy = flag ? '1' : '0'; updateState(); }

function option(value, text) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  return o;
}

function fillModelSelect() {
  ui.model.replaceChildren(...state.models.map((m, i) => option(i, m.title)));
  ui.model.value = String(state.modelIndex);
  ui.model.disabled = false;
}

function fillImageSelect() {
  const color = state.info?.color;
  // RGB images serve RGBA models too; a tensor-only model takes only the tensors dropped for it.
  const fitsColor = (c) => !color || !c || c === color || (color === 'rgba' && c === 'rgb');
  const fits = state.images.map((im, i) => [im, i]).filter(([im]) => im.custom || (color !== 'tensor' && fitsColor(im.color)));
  // The images a bundled model was made for come first (index.json's "for"), the others in a
  // group that says so: a digit net can classify a shoe, but a class should know it is unfair.
  const name = state.models[state.modelIndex]?.custom ? null : state.models[state.modelIndex]?.name;
  const groups = [
    ['Your files', ([im]) => im.custom],
    ['Made for this model', ([im]) => !im.custom && im.for?.includes(name)],
    [name ? 'Other images (not what this model was trained on)' : 'Bundled images', ([im]) => !im.custom && !im.for?.includes(name)],
  ].map(([label, test]) => [label, fits.filter(test)]).filter(([, list]) => list.length);
  ui.image.replaceChildren(...groups.map(([label, list]) => {
    const g = document.createElement('optgroup');
    g.label = label;
    g.append(...list.map(([im, i]) => option(i, im.title)));
    return g;
  }));
  ui.image.disabled = false;
}

async function loadModel(index, { keepImage = false } = {}) {
  const m = state.models[index];
  clearError();
  busy(true);
  setStatus(`Loading ${m.title}…`);
  ui.progress.hidden = false;
  ui.progress.value = 0;
  try {
    const source = m.bytes ? { bytes: m.bytes, files: m.files ?? [] } : { url: m.url };
    const model = await load({ ...source, sidecar: m.sidecarText ?? null, onProgress: (p) => { ui.progress.value = p; } });
    // The previous model goes once the new one is in (a failed load keeps it).
    state.model?.dispose().catch(() => {});
    state.model = model;
    view.setModel(model);
    $('map-caption').textContent = '';
    const { info } = model;
    state.modelIndex = index;
    state.info = info;
    state.shown = null;
    ui.about.textContent = `${info.title || info.name || m.title}: input ${info.input_shape.join('×')} ${info.color}, ${info.classes} classes, ${info.nodes.length} ONNX nodes (loaded in ${(model.loadSeconds * 1000).toFixed(0)} ms)`;
    state.labels = info.labels;
    if (m.custom && !info.sidecar_given) { state.formModel = index; sidecarForm.open(info, m.title); } else sidecarForm.close();
    panel.setModel(info);
    if (state.pendingUrl) { panel.apply(state.pendingUrl); }
    // The drawing pad for small gray inputs (MNIST-like, up to 32 x 32): not for 64 x 64 faces.
    ui.drawBox.hidden = !(info.color === 'gray' && info.input_shape[2] <= 32 && info.input_shape[3] <= 32);
    ui.explain.hidden = false;
    evaluation.reset();
    clearComparison();
    $('compare').hidden = false;
    fillModelSelect();
    fillImageSelect();
    if (info.color === 'tensor' && !state.images.some((im) => im.custom && /\.npy$/i.test(im.file ?? ''))) {
      state.imageBytes = null;
      ui.canvas.getContext('2d').clearRect(0, 0, ui.canvas.width, ui.canvas.height);
      ui.topk.replaceChildren();
      ui.timing.textContent = '';
      ui.caption.textContent = 'No input yet: this model takes a .npy tensor.';
      showError(`This model takes ${info.input_shape[1]}-channel inputs, which no image maps onto: drop a .npy tensor of shape [${info.input_shape.join(', ')}]${info.layout === 'nhwc' ? ` (or [${[0, 2, 3, 1].map((a) => info.input_shape[a]).join(', ')}])` : ''} to explain it.`);
      setStatus('Waiting for a .npy input.');
    } else if (!keepImage || !state.imageBytes) await selectImage(initialImageFor(m, info));
    else await predict();
  } catch (e) {
    showError(`Could not load model “${m.title}”: ${e.message}`);
    if (m.custom && /sidecar/.test(e.message) && m.bytes) {
      // Loadable once told its input: keep it and ask.
      state.formModel = index;
      sidecarForm.open(null, m.title);
    } else if (m.custom) state.models.splice(index, 1);
    fillModelSelect();
    setStatus(state.info ? 'The previous model is still loaded.' : 'No model loaded.');
  } finally {
    ui.progress.hidden = true;
    busy(false);
  }
}

function initialImageFor(model, info) {
  const wanted = state.pendingUrl?.image;
  const i = wanted ? state.images.findIndex((im) => im.file === wanted) : -1;
  return i >= 0 ? i : defaultImageFor(model, info);
}

function defaultImageFor(model, info) {
  const want = model.sidecar?.default_image;
  let i = state.images.findIndex((im) => im.file === want);
  if (i < 0) i = state.images.findIndex((im) => im.color === info.color);
  if (i < 0 && info.color === 'rgba') i = state.images.findIndex((im) => im.color === 'rgb');
  if (info.color === 'tensor') i = state.images.findLastIndex((im) => im.custom && /\.npy$/i.test(im.file ?? ''));
  return Math.max(0, i);
}

async function selectImage(i) {
  const im = state.images[i];
  ui.image.value = String(i);
  state.imageBytes = im.bytes ?? await fetchBytes(im.url);
  state.imageTitle = im.title;
  state.imageEdited = false;
  evaluation.reset();
  await predict();
}

async function predict() {
  if (!state.info || !state.imageBytes) return;
  clearError();
  busy(true);
  setStatus('Classifying…');
  try {
    const t0 = performance.now();
    const r = await view.setInput(state.imageBytes);
    $('map-caption').textContent = '';
    ui.caption.textContent = `${state.imageTitle} as the model sees it (${r.view.width}×${r.view.height})`;
    const wantTarget = state.pendingUrl?.target;
    state.target = Number.isInteger(wantTarget) && wantTarget < state.labels.length ? wantTarget : null;
    state.pendingUrl = null;
    view.markTarget(state.target);
    ui.timing.textContent = `forward pass ${(r.seconds * 1000).toFixed(1)} ms (wasm, in a worker); round trip ${(performance.now() - t0).toFixed(0)} ms`;
    setStatus('Ready.');
    document.body.dataset.top1 = r.top[0].label;
  } catch (e) {
    showError(`Could not classify “${state.imageTitle}”: ${e.message}`);
    setStatus('Ready.');
    busy(false);
    return;
  }
  busy(false);
  await schedule('compute');
  await grid.refreshAll();
}

async function addFiles(files) {
  const list = [...files];
  const onnx = list.find((f) => f.name.toLowerCase().endsWith('.onnx'));
  const json = list.find((f) => f.name.toLowerCase().endsWith('.json'));
  const img = list.find((f) => /\.(png|jpe?g|npy)$/i.test(f.name) || f.type.startsWith('image/'));
  if (!onnx && !img) {
    showError(`Nothing to use in ${list.map((f) => f.name).join(', ')}: drop an .onnx model (with its .onnx.data weights file if it has one, and an optional sidecar .json), a PNG/JPEG image or a .npy tensor.`);
    return;
  }
  if (onnx) {
    const bytes = new Uint8Array(await onnx.arrayBuffer());
    const sidecarText = json ? await json.text() : null;
    // Anything else dropped with the model may be its external weights (`m.onnx.data`).
    const others = list.filter((f) => f !== onnx && f !== json && f !== img);
    state.models.push({ title: `Your model: ${onnx.name}`, bytes, files: others, sidecarText, custom: true });
    await loadModel(state.models.length - 1, { keepImage: !!state.imageBytes && !img });
  }
  if (img) {
    const bytes = new Uint8Array(await img.arrayBuffer());
    state.images.push({ title: `Your image: ${img.name}`, bytes, custom: true, file: img.name });
    fillImageSelect();
    await selectImage(state.images.length - 1);
  }
}

ui.topk.addEventListener('click', (e) => {
  const li = e.target.closest('li');
  if (!li) return;
  state.target = Number(li.dataset.index);
  view.markTarget(state.target);
  schedule('compute');
});
ui.model.addEventListener('change', () => loadModel(Number(ui.model.value)));
ui.image.addEventListener('change', () => selectImage(Number(ui.image.value)).catch(showError));
ui.file.addEventListener('change', () => addFiles(ui.file.files).catch(showError).finally(() => { ui.file.value = ''; }));
// The drop zone is reachable by Tab: Enter or Space opens the file dialog.
ui.drop.addEventListener('keydown', (e) => {
  if (e.target === ui.drop && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); ui.file.click(); }
});
ui.drop.addEventListener('dragover', (e) => { e.preventDefault(); ui.drop.classList.add('over'); });
ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
ui.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  ui.drop.classList.remove('over');
  addFiles(e.dataTransfer.files).catch(showError);
});
// A fragment typed or pasted into the address bar (our own updates use replaceState, which
// fires no event) restores that view.
window.addEventListener('hashchange', () => location.reload());
// Dropping anywhere else must not navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

new DrawPad($('draw-canvas'), $('draw-clear'), (bytes, title) => useImage(bytes, title).catch(showError));
const patch = new PatchTool(ui.stack, ui.canvas, $('patch-color'), (bytes, title) => useImage(bytes, `${state.imageTitle.replace(/ \+ patched.*$/, '')} + ${title}`).catch(showError));
ui.patchToggle.addEventListener('click', () => {
  patch.active = !patch.active;
  $('patch-fields').hidden = !patch.active;
  ui.patchToggle.setAttribute('aria-pressed', String(patch.active));
  ui.stack.classList.toggle('patching', patch.active);
});
ui.cancel.addEventListener('click', () => view.abort());
$('compare-add').addEventListener('click', () => grid.add(panelConfig()));
/// The faithfulness table belongs to the panels it scored: it goes when they go.
function clearComparison() {
  grid.clear();
  $('compare-table').hidden = true;
  $('compare-table').querySelector('tbody').replaceChildren();
}
$('compare-clear').addEventListener('click', clearComparison);
async function addAllMethods() {
  const applicable = new Set(state.info.methods.filter((m) => m.applies).map((m) => m.method));
  for (const m of METHODS.filter((x) => applicable.has(x.id))) {
    const cfg = panelConfig();
    cfg.method = m.id;
    cfg.values = structuredClone(panel.values[m.id]);
    await grid.add(cfg);
  }
}
$('compare-methods').addEventListener('click', () => addAllMethods().catch(showError));
// One click: every applicable method as a panel, each scored by deletion and insertion.
$('compare-faithfulness').addEventListener('click', async () => {
  const button = $('compare-faithfulness');
  button.disabled = true;
  busy(true);
  try {
    clearComparison();
    setStatus('Comparing: explaining with every method…');
    await addAllMethods();
    await grid.settled();
    const rows = [];
    for (const [k, p] of grid.panels.entries()) {
      setStatus(`Comparing: scoring panel ${k + 1} of ${grid.panels.length} (deletion and insertion curves)…`);
      rows.push(await grid.evaluate(p, { steps: Number($('eval-steps').value), score: $('eval-score').value }));
    }
    const body = $('compare-table').querySelector('tbody');
    body.replaceChildren(...rows.filter(Boolean).map((r) => {
      const tr = document.createElement('tr');
      for (const v of [r.title, r.deletion.toFixed(4), r.insertion.toFixed(4)]) tr.append(Object.assign(document.createElement('td'), { textContent: v }));
      return tr;
    }));
    $('compare-table').hidden = false;
  } catch (e) {
    showError(`Could not compare the methods: ${e.message}`);
  } finally {
    setStatus('Ready.');
    button.disabled = false;
    busy(false);
  }
});
$('compare-layers').addEventListener('click', async () => {
  // Convolution outputs (after their activation when there is one), at most six, in order.
  const layers = state.info.spatial_layers.filter((l) => /Relu|Clip|Conv|Add|Max|Sigmoid|Mul/.test(l.op_type));
  const step = Math.max(1, Math.ceil(layers.length / 6));
  for (const l of layers.filter((_, i) => i % step === step - 1 || i === layers.length - 1).slice(-6)) {
    const cfg = panelConfig();
    cfg.method = 'grad-cam';
    cfg.values = { ...structuredClone(panel.values['grad-cam']), layer: l.output };
    await grid.add(cfg);
  }
});
$('patch-paint').addEventListener('click', () => {
  const n = (id) => Math.max(0, Math.round(Number($(id).value) || 0));
  patch.paint(n('patch-x'), n('patch-y'), Math.max(1, n('patch-w')), Math.max(1, n('patch-h'))).catch(showError);
});
$('image-reset').addEventListener('click', () => selectImage(Number(ui.image.value)).catch(showError));
onPaste((files) => addFiles(files).catch(showError));
$('export-heat').addEventListener('click', async () => download(await heatmapPng(ui.heat), `heatmap-${panel.method}.png`, 'image/png'));
$('export-overlay').addEventListener('click', async () => download(await overlayPng(ui.canvas, ui.heat, panel.display.opacity), `overlay-${panel.method}.png`, 'image/png'));
$('export-npy').addEventListener('click', () => (view.explanation ? view.explanation.npy() : Promise.reject(new Error('nothing is explained yet'))).then((b) => download(b, `attribution-${panel.method}.npy`, 'application/octet-stream')).catch(showError));
$('copy-link').addEventListener('click', () => { saveUrl(); navigator.clipboard?.writeText(location.href).catch(() => {}); setStatus('Link to this view is in the address bar (and copied).'); });

async function main() {
  busy(true);
  try {
    state.catalog = await loadCatalog();
    state.models = [...state.catalog.models];
    state.images = [...state.catalog.images];
    state.pendingUrl = readState();
    const fromUrl = state.models.findIndex((m) => m.name === state.pendingUrl.model);
    state.modelIndex = Math.max(0, fromUrl);
    fillModelSelect();
    await loadModel(state.modelIndex);
  } catch (e) {
    showError(e);
    busy(false);
  }
}

main();

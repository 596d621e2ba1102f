// <saliency-viewer>: the viewer as an element for any static page of the same site.
//
//   <script type="module" src="saliency-viewer.js"></script>
//   <saliency-viewer model="mnist_cam" image="images/digit_7.png" method="grad-cam"
//                    params='{"layer": "/features/features.4/Relu_output_0"}' opacity="0.6"></saliency-viewer>
//
// Attributes: model (a bundled model's name, or a URL to an .onnx with `sidecar` = URL of its
// JSON), image (a bundled image path such as images/chelsea.png, or a URL), method, params
// (JSON, as methods.js), target (class index; default the top class), opacity, colormap, sign,
// upsample (bilinear, bicubic, nearest), outlier (display settings), controls
// ("method,opacity,topk": which built-in controls to show), box (draw the CAM paper's box at
// this fraction of the map's maximum), truth ("x0,y0,x1,y1" in input pixels: draw it and play
// the pointing game), resolution (draw the heatmap this many pixels wide, e.g. 224 for a
// 28 x 28 input, to see the upsampling; default: the input's size). Changing an attribute recomputes what depends on it.
// Events: `prediction` (detail: top-k), `explained` (detail: meta; CAM / Grad-CAM carry
// `meta.channels` with the layer's weights), `localized` (detail: box and pointing game),
// `error` (detail: message).
// Properties and methods for page scripts (teaching pages): `model` (the JS API's
// SaliencyModel of saliency.js, with the element's input), `explanation` (the Explanation on
// screen), `lastMeta`, `channelMaps()`, `curves({steps, score})`, `sanityCheck({stages})`,
// `useImageBytes(bytes)`. The element draws through the viewer's own view controller
// (explanation-view.js) and speaks only the JS API.
// All elements of a page share one worker, and each model, sidecar and image is fetched once
// per page however many elements show it; nothing leaves the page.
import { load } from './saliency.js';
import { METHODS, CATALOG, request, displayFor, AUTO } from './methods.js';
import { ExplanationView, Coalescer } from './explanation-view.js';
import { formatValue } from './heatmap.js';
import { drawMarks } from './plot.js';

const ROOT = new URL('.', import.meta.url);

/// A control with its visible name.
function labelled(text, control) {
  const l = document.createElement('label');
  l.append(`${text} `, control);
  return l;
}

/// Each URL is fetched once per page, however many elements show it (a failed fetch is
/// forgotten, so a later element tries again).
const fetched = new Map();
function once(url, read) {
  const key = String(url);
  if (!fetched.has(key)) {
    const p = fetch(url).then(async (res) => {
      if (!res.ok) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
      return read(res);
    });
    p.catch(() => fetched.delete(key));
    fetched.set(key, p);
  }
  return fetched.get(key);
}
const bytesOf = (url) => once(url, async (res) => new Uint8Array(await res.arrayBuffer()));
const textOf = (url) => once(url, (res) => res.text());

class SaliencyViewer extends HTMLElement {
  static observedAttributes = ['model', 'sidecar', 'image', 'method', 'params', 'target', 'opacity', 'colormap', 'sign', 'upsample', 'outlier', 'controls', 'box', 'truth', 'resolution'];

  constructor() {
    super();
    this.info = null;
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = `<link rel="stylesheet" href="${new URL('saliency-viewer.css', ROOT)}">
      <div class="wrap"><div class="stack"><canvas class="image"></canvas><canvas class="heat" hidden></canvas><canvas class="marks"></canvas></div>
      <div class="side"><div class="controls"></div><ol class="topk"></ol>
      <div class="legend" hidden><span class="min"></span><canvas class="strip"></canvas><span class="max"></span></div>
      <p class="stats"></p><p class="error" hidden></p></div></div>`;
    this.$ = (sel) => root.querySelector(sel);
    this.view = new ExplanationView({ image: this.$('.image'), heat: this.$('.heat'), legend: this.$('.legend'), strip: this.$('.strip'), min: this.$('.min'), max: this.$('.max'), topk: this.$('.topk') });
    // Work runs one step at a time; a newer request of a deeper level absorbs an older one.
    this.work = new Coalescer(['opacity', 'marks', 'controls', 'render', 'explain', 'image', 'model'], (l) => this.run(l).catch((e) => { if (e?.name !== 'cancelled') this.fail(e); }));
    // (A run stopped for a newer one is not an error.)
    this.$('.topk').addEventListener('click', (e) => {
      const li = e.target.closest('li');
      if (li) this.setAttribute('target', li.dataset.index);
    });
  }

  connectedCallback() { this.schedule('model'); }

  attributeChangedCallback(name, old, value) {
    if (old === value || !this.isConnected) return;
    const level = name === 'model' || name === 'sidecar' ? 'model' : name === 'image' ? 'image'
      : ['opacity'].includes(name) ? 'opacity' : ['colormap', 'sign', 'upsample', 'outlier', 'resolution'].includes(name) ? 'render'
        : name === 'controls' ? 'controls' : ['box', 'truth'].includes(name) ? 'marks' : 'explain';
    this.schedule(level);
  }

  schedule(level) {
    // A new explanation stops the chunked run in flight.
    if (['explain', 'image', 'model'].includes(level)) this.view.abort();
    return this.work.schedule(level);
  }

  async run(level) {
    if (level === 'model') await this.loadModel();
    if (level === 'model' || level === 'image') await this.loadImage();
    if (['model', 'image', 'controls'].includes(level)) this.renderControls();
    if (['model', 'image', 'explain'].includes(level)) {
      this.view.size = this.drawSize();
      this.view.show({ opacity: this.opacity });
      await this.explain();
    }
    if (level === 'render') await this.redraw();
    if (level === 'opacity') this.view.show({ opacity: this.opacity });
    if (level !== 'opacity' && level !== 'controls') await this.marks();
  }

  /// The element's model (the JS API's SaliencyModel, holding the element's input).
  get model() { return this.view.model; }

  /// The explanation on screen (the JS API's Explanation).
  get explanation() { return this.view.explanation; }

  /// CAM / Grad-CAM: the activations behind the map, with their weights.
  channelMaps() { return this.shown().channelMaps(); }

  /// Deletion and insertion curves of the map on screen.
  curves({ steps = 50, score = 'probability' } = {}) { return this.shown().curves({ steps, score }); }

  /// The cascading-randomisation check of the map on screen (stage maps drawn as it is).
  sanityCheck({ stages = 8, seed = 0 } = {}) { return this.shown().sanityCheck({ stages, seed, display: this.display() }); }

  shown() {
    if (!this.view.explanation) throw new Error('nothing is explained yet');
    return this.view.explanation;
  }

  /// The heatmap's pixel size: the input's, or `resolution` pixels wide (at most 1024).
  drawSize() {
    const r = Number(this.getAttribute('resolution'));
    const input = this.view.input;
    if (!r) return null;
    const width = Math.min(1024, Math.max(1, Math.round(r)));
    return { width, height: Math.max(1, Math.round((width * input.height) / input.width)) };
  }

  targetValue() {
    const t = this.getAttribute('target');
    return t === null || t === '' ? null : Number(t);
  }

  /// The box and the pointing game, drawn over the heatmap.
  async marks() {
    const c = this.$('.marks');
    const box = this.getAttribute('box');
    const truthText = this.getAttribute('truth');
    const [, , h, w] = this.info?.input_shape ?? [1, 1, 1, 1];
    if (!this.view.explanation || (box === null && truthText === null)) {
      drawMarks(c, {}, w, h);
      return;
    }
    let truth = null;
    if (truthText !== null) {
      const v = truthText.split(',').map(Number);
      if (v.length !== 4 || v.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`the truth attribute must be x0,y0,x1,y1 in input pixels, got “${truthText}”`);
      truth = { x0: v[0], y0: v[1], x1: v[2], y1: v[3] };
    }
    const r = await this.view.explanation.localize({ threshold: box === null ? 0.2 : Number(box), truth });
    drawMarks(c, { box: box !== null ? r.bbox : null, truth, point: r.pointing }, w, h);
    this.lastLocalization = r;
    this.dataset.localized = JSON.stringify(r);
    this.dispatchEvent(new CustomEvent('localized', { detail: r }));
  }

  get opacity() { return Number(this.getAttribute('opacity') ?? CATALOG.display.opacity); }

  get method() { return this.getAttribute('method') ?? METHODS[0].id; }

  params() {
    const m = METHODS.find((x) => x.id === this.method);
    if (!m) throw new Error(`unknown method ${this.method}`);
    const values = Object.fromEntries(m.params.map((p) => [p.key, p.value]));
    // A layer the method needs: CAM's feature map if there is one, else the last spatial layer.
    for (const p of m.params) if (p.type === 'layer' && p.required) values[p.key] = this.info?.cam_layer ?? this.info?.spatial_layers.at(-1)?.output;
    try { Object.assign(values, JSON.parse(this.getAttribute('params') ?? '{}')); } catch { throw new Error('the params attribute is not valid JSON'); }
    return values;
  }

  display() {
    const m = METHODS.find((x) => x.id === this.method) ?? METHODS[0];
    const attr = (name) => this.getAttribute(name) ?? AUTO;
    const outlier = this.getAttribute('outlier');
    return displayFor(m, { sign: attr('sign'), colormap: attr('colormap'), outlier_percent: outlier === null ? AUTO : Number(outlier), upsample: this.getAttribute('upsample') ?? undefined });
  }

  async loadModel() {
    const name = this.getAttribute('model') ?? 'efficientnet_lite0';
    let url;
    let sidecar = null;
    if (/\.onnx$/i.test(name)) {
      url = new URL(name, document.baseURI);
      const s = this.getAttribute('sidecar');
      if (s) sidecar = await textOf(new URL(s, document.baseURI));
    } else {
      const text = await textOf(new URL(`models/${name}.json`, ROOT));
      sidecar = text;
      url = new URL(`models/${JSON.parse(text).file}`, ROOT);
    }
    const model = await load({ url, sidecar });
    const old = this.view.model;
    this.view.setModel(model);
    this.lastMeta = null;
    old?.dispose().catch(() => {});
    this.info = model.info;
    this.sidecar = JSON.parse(sidecar ?? '{}');
  }

  async loadImage() {
    const image = this.getAttribute('image') ?? this.sidecar?.default_image;
    if (!image) throw new Error('no image attribute and the model has no default image');
    const url = /^images\//.test(image) ? new URL(`models/${image}`, ROOT) : new URL(image, document.baseURI);
    await this.useImageBytes(await bytesOf(url), false);
  }

  /// Classifies image bytes (PNG/JPEG) and explains them: also usable from page scripts.
  async useImageBytes(bytes, explain = true) {
    const r = await this.view.setInput(bytes);
    this.lastMeta = null;
    this.prediction = r;
    this.$('.topk').hidden = !this.showing('topk');
    this.dispatchEvent(new CustomEvent('prediction', { detail: r.top }));
    if (explain) await this.explain();
  }

  showing(what) { return (this.getAttribute('controls') ?? 'topk').split(',').map((s) => s.trim()).includes(what); }

  renderControls() {
    const box = this.$('.controls');
    box.replaceChildren();
    if (this.showing('method') && this.info) {
      const sel = document.createElement('select');
      sel.setAttribute('aria-label', 'explanation method');
      const applies = Object.fromEntries(this.info.methods.map((m) => [m.method, m.applies]));
      for (const m of METHODS) sel.append(Object.assign(document.createElement('option'), { value: m.id, textContent: m.title, disabled: applies[m.id] === false }));
      sel.value = this.method;
      sel.addEventListener('change', () => this.setAttribute('method', sel.value));
      box.append(labelled('method', sel));
    }
    if (this.showing('opacity')) {
      const r = Object.assign(document.createElement('input'), { type: 'range', min: 0, max: 1, step: 0.05, value: this.opacity });
      r.setAttribute('aria-label', 'heatmap opacity');
      r.addEventListener('input', () => this.setAttribute('opacity', r.value));
      box.append(labelled('opacity', r));
    }
  }

  async explain() {
    if (!this.view.input) return;
    const target = this.targetValue();
    this.view.markTarget(target);
    const e = await this.view.explain({ method: this.method, params: request(this.method, this.params(), target), target }, this.display());
    const m = e.meta;
    this.$('.stats').textContent = `${this.method} · “${this.info.labels[m.target]}” · ${(m.seconds * 1000).toFixed(1)} ms${m.completeness_gap != null ? ` · gap ${formatValue(m.completeness_gap)}` : ''}`;
    this.$('.error').hidden = true;
    this.lastMeta = m;
    this.dataset.explained = `${this.method}:${m.target}`;
    this.dispatchEvent(new CustomEvent('explained', { detail: m }));
  }

  async redraw() {
    this.view.size = this.drawSize();
    await this.view.redraw(this.display());
  }

  fail(e) {
    const msg = e?.message ?? String(e);
    this.$('.error').textContent = msg;
    this.$('.error').hidden = false;
    this.dataset.error = msg;
    this.dispatchEvent(new CustomEvent('error', { detail: msg }));
  }
}

customElements.define('saliency-viewer', SaliencyViewer);

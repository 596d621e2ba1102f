// The saliency viewer's JS API: load an ONNX classifier, classify an input, explain it with any
// method the library describes, draw the map, score it. Everything runs in one Web Worker per
// page (WebAssembly, the browser's CPU); nothing leaves the page. Types: saliency.d.ts.
//
//   import { load, catalog } from './saliency.js';
//   const model = await load({ url: 'models/mnist_cam.onnx', sidecar: 'models/mnist_cam.json' });
//   const input = await model.setInput(await (await fetch('digit.png')).bytes());
//   const e = await model.explain({ method: 'grad-cam' });
//   const map = await e.render({ width: 224, height: 224 });   // RGBA pixels + legend
//
// Every failure is an Error whose `name` is the library's error kind ('io', 'corrupt-model',
// 'unsupported-operator', 'shape', 'parameter', 'limit', ...) and whose message names the
// problem; a cancelled run rejects with `Cancelled` (name 'cancelled'). A model from a URL is
// fetched and compiled once per page, however often it is loaded. Attributions stay in the
// worker: an Explanation holds their report, and its values cross into the page only when
// asked for (`values()`, `npy()`) or drawn (`render()`).
//
// The viewer (app.js), the <saliency-viewer> element and the teaching pages use only this
// module (through explanation-view.js, their one shared view controller).
import { sharedEngine } from './worker-client.js';
import { METHODS, AUTO, displayFor } from './methods.js';
import { WorkerPool, Cancelled } from './pool.js';

export { Cancelled };

let nextSlot = 1;
const newSlot = () => `api-${nextSlot++}`;

/// IG and SmoothGrad run in chunks on every core of the machine (extra workers, created on
/// first use), for all the page's models.
let pool = null;

const fail = (name, message) => Object.assign(new Error(message), { name });

/// Whether `explain` runs a request in chunks over the machine's cores (IG's steps and
/// SmoothGrad's samples, from 16 on): only those report progress and can be cancelled.
export function runsInChunks(request) {
  return WorkerPool.worthIt(request);
}

/// The methods' description (Rust's `saliency::catalog`): ids, labels, parameters with their
/// types, defaults, ranges and options; LRP's rules; the drawing options.
export function catalog() {
  return sharedEngine().call('catalog');
}

async function text(source) {
  if (source === undefined || source === null) return null;
  // JSON text is the sidecar itself; any other string is its URL.
  if (typeof source === 'string' && source.trim().startsWith('{')) return source;
  if (typeof source === 'string' || source instanceof URL) {
    const res = await fetch(new URL(source, document.baseURI));
    if (!res.ok) throw fail('io', `cannot fetch ${source}: HTTP ${res.status}`);
    return res.text();
  }
  if (source instanceof Blob) return source.text();
  return typeof source === 'object' ? JSON.stringify(source) : String(source);
}

const bytesOf = async (b) => (b instanceof Blob ? new Uint8Array(await b.arrayBuffer()) : new Uint8Array(b instanceof ArrayBuffer ? b : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));

/// Loads a model: `{ url }` (its external data, if any, is fetched from beside it), `{ bytes }`
/// or `{ files }` (File / Blob objects: the .onnx with its .onnx.data, as a user drops them;
/// `{ bytes, files }`: the .onnx's bytes and its data files), with an optional `sidecar` (a
/// URL, a File, JSON text or an object; docs/conventions.md). `onProgress(fraction)` follows
/// the download.
export async function load({ url, bytes, files, sidecar, onProgress } = {}) {
  const engine = sharedEngine();
  const source = { sidecar: await text(sidecar) };
  const list = files?.length ? [...files] : [];
  if (bytes) {
    source.bytes = (await bytesOf(bytes)).slice().buffer;
    source.files = await Promise.all(list.map(async (f) => ({ name: f.name, bytes: (await bytesOf(f)).buffer })));
  } else if (list.length) {
    const onnx = list.find((f) => /\.onnx$/i.test(f.name));
    if (!onnx) throw fail('io', 'no .onnx file among the files given');
    source.bytes = (await bytesOf(onnx)).buffer;
    source.files = await Promise.all(list.filter((f) => f !== onnx).map(async (f) => ({ name: f.name, bytes: (await bytesOf(f)).buffer })));
  } else if (url) {
    source.url = String(new URL(url, document.baseURI));
  } else {
    throw fail('parameter', 'load() needs a url, bytes or files');
  }
  const slot = newSlot();
  const { info, seconds } = await engine.call('loadModel', { ...source, slot }, onProgress);
  return new SaliencyModel(engine, slot, info, { source, seconds });
}

/// A loaded model and its current input (one slot of the page's worker).
export class SaliencyModel {
  constructor(engine, slot, info, { source = null, seconds = 0 } = {}) {
    this.engine = engine;
    this.slot = slot;
    /// What `saliency info --json` says: input, classes, labels, layers, which methods apply.
    this.info = info;
    /// How long loading took (download, checks, compilation), in seconds.
    this.loadSeconds = seconds;
    this.source = source;
    this.nextKey = 1;
    this.inputBytes = null;
    this.inputVersion = 0;
  }

  call(cmd, args = {}, onProgress = null, transfer = []) {
    return this.engine.call(cmd, { slot: this.slot, ...args }, onProgress, transfer);
  }

  /// Classifies an input and keeps it for explanations: PNG/JPEG bytes (preprocessed as the
  /// sidecar says) or a .npy tensor of the input's shape. Returns the top-k classes and the
  /// input as the model sees it (RGBA pixels).
  async setInput(bytes, { k = 5 } = {}) {
    const data = (await bytesOf(bytes)).slice();
    // (postMessage copies the bytes: `data` stays ours for the pool workers.)
    const r = await this.call('predictImage', { bytes: data.buffer, k });
    this.inputBytes = data;
    this.inputVersion++;
    return { top: r.prediction.top, seconds: r.seconds, view: { rgba: r.view, width: r.width, height: r.height } };
  }

  /// Explains the current input: `{ method, params, target }` as a request
  /// (docs/conventions.md, "Requests": e.g. `{ method: 'integrated-gradients', params: { steps:
  /// 32 } }`; defaults from the catalog; `target` default: the top class). `key`: where the
  /// attribution is kept (an explanation under the same key replaces the previous one; default
  /// a new key). Sums over many points (IG's steps, SmoothGrad's samples) run in chunks on
  /// every core, with `onProgress(fraction)` and `signal` (an AbortSignal: the run stops after
  /// the chunks in flight and rejects with Cancelled).
  async explain({ method, params = {}, target = null, key, signal, onProgress } = {}) {
    const name = key ?? `e${this.nextKey++}`;
    const request = { ...params, method, target };
    let r;
    if (runsInChunks(request) && this.source) {
      pool ??= new WorkerPool(this.engine);
      await pool.prepare(this);
      if (signal?.aborted) throw new Cancelled();
      r = await pool.explain(request, { slot: this.slot, key: name, onProgress, signal });
    } else {
      r = await this.call('explainKept', { request, key: name });
    }
    return new Explanation(this, name, { ...r, method, request });
  }

  /// An attribution computed in the page (or by another model) kept under `key` for drawing
  /// and scoring with this model's input: `{ shape, data, meta, method }`.
  async keep({ shape, data, meta, method }, { key } = {}) {
    const name = key ?? `e${this.nextKey++}`;
    const values = Float32Array.from(data);
    const r = await this.call('storeAttribution', { key: name, shape, data: values.buffer, meta }, null, [values.buffer]);
    return new Explanation(this, name, { ...r, method });
  }

  /// Class scores (and, with a request, one explanation's values) for an input tensor of the
  /// page's making, in the model's input layout; nothing is kept.
  explainTensor(tensor, request = null) {
    const input = Float32Array.from(tensor);
    return this.call('explainTensor', { input: input.buffer, request }, null, [input.buffer]);
  }

  /// The current input as the model sees it (after preprocessing): `{ shape, data }`.
  input() { return this.call('inputTensor'); }

  /// The values of a float32/float64 .npy file with this model's input size (a baseline).
  readNpy(bytes) { return this.call('readNpy', { bytes: new Uint8Array(bytes).slice().buffer }); }

  /// A twin of this model with weight layers `layer` and `layer + 1` rescaled by `factor` and
  /// its inverse (the same function, other weights: implementation invariance), with the same
  /// input.
  async rescaled({ layer = 0, factor }) {
    const slot = newSlot();
    await this.engine.call('loadTwin', { from: this.slot, slot, layer, factor });
    const twin = new SaliencyModel(this.engine, slot, this.info);
    twin.inputVersion = this.inputVersion;
    return twin;
  }

  /// Frees the model's slot (the model itself once no other load uses it).
  async dispose() {
    await this.call('unload');
  }
}

/// One explanation: what the library reports, with the attribution kept in the worker.
export class Explanation {
  constructor(model, key, { shape, meta, method, request = null }) {
    this.model = model;
    this.key = key;
    /// The method's id.
    this.method = method;
    /// The request it answered (for the sanity check's re-runs).
    this.request = request;
    this.shape = shape;
    /// target, score, seconds; IG's completeness gap; LRP's conservation; CAM's channels.
    this.meta = meta;
  }

  /// The attribution's values (a Float32Array of `shape`).
  async values() {
    return (await this.model.call('attributionValues', { key: this.key })).data;
  }

  /// The map drawn at `width` x `height` with display options (sign, colormap, outlier_percent,
  /// upsample, reduce; defaults: the method's, from the catalog): RGBA pixels, the legend's
  /// value range and a colour strip.
  async render({ width, height, sign = AUTO, colormap = AUTO, outlier_percent: outlier = AUTO, upsample, reduce } = {}) {
    const [h, w] = this.shape.slice(-2);
    const display = displayFor(methodOf(this.method), { sign, colormap, outlier_percent: outlier, upsample, reduce });
    const r = await this.model.call('render', { key: this.key, display, width: width ?? w, height: height ?? h });
    return { rgba: r.rgba, width: r.width, height: r.height, legend: r.legend, strip: r.strip };
  }

  /// Deletion and insertion curves (`kinds`) with their areas: `steps` points each.
  curves({ kinds = ['deletion', 'insertion'], steps = 50, score = 'probability', onProgress } = {}) {
    return this.model.call('curves', { key: this.key, kinds, steps, score }, onProgress);
  }

  /// The CAM paper's box at `threshold` of the map's maximum, and the pointing game against
  /// `truth` ({x0, y0, x1, y1} or [x0, y0, x1, y1] in input pixels).
  localize({ threshold = 0.2, truth = null, tolerance = 0 } = {}) {
    const t = Array.isArray(truth) ? { x0: truth[0], y0: truth[1], x1: truth[2], y1: truth[3] } : truth;
    return this.model.call('localize', { key: this.key, threshold, truth: t, tolerance });
  }

  /// CAM / Grad-CAM: the layer's activations behind the map ([C, h, w]) and their weights.
  channelMaps() { return this.model.call('channelMaps', { key: this.key }); }

  /// The cascading-randomisation check (Adebayo et al.): the same request on copies of the
  /// model whose top `stages` layers are re-drawn; every stage's report and map (drawn with
  /// `display`).
  sanityCheck({ stages = 8, seed = 0, display = {} } = {}) {
    if (!this.request) throw fail('parameter', 'this explanation was not computed by the model, so it cannot be re-run');
    return this.model.call('sanity', { request: this.request, stages, seed, display: displayFor(methodOf(this.method), { sign: AUTO, colormap: AUTO, outlier_percent: AUTO, ...display }) });
  }

  /// The attribution as a float32 .npy file's bytes.
  npy() { return this.model.call('attributionNpy', { key: this.key }); }

  /// Frees the attribution in the worker.
  forget() { return this.model.call('forget', { key: this.key }); }
}

function methodOf(id) {
  const m = METHODS.find((x) => x.id === id);
  if (!m) throw fail('parameter', `unknown method '${id}' (known: ${METHODS.map((x) => x.id).join(', ')})`);
  return m;
}

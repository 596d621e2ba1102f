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
// problem. A model from a URL is fetched and compiled once per page, however often it is loaded.
import { sharedEngine } from './worker-client.js';
import { METHODS, AUTO, displayFor } from './methods.js';

let nextSlot = 1;

/// The methods' description (Rust's `saliency::catalog`): ids, labels, parameters with their
/// types, defaults, ranges and options; LRP's rules; the drawing options.
export function catalog() {
  return sharedEngine().call('catalog');
}

async function text(source) {
  if (source === undefined || source === null) return null;
  if (typeof source === 'string' || source instanceof URL) {
    const res = await fetch(new URL(source, document.baseURI));
    if (!res.ok) throw Object.assign(new Error(`cannot fetch ${source}: HTTP ${res.status}`), { name: 'io' });
    return res.text();
  }
  if (source instanceof Blob) return source.text();
  return typeof source === 'object' ? JSON.stringify(source) : String(source);
}

const bytesOf = async (b) => (b instanceof Blob ? new Uint8Array(await b.arrayBuffer()) : new Uint8Array(b instanceof ArrayBuffer ? b : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));

/// Loads a model: `{ url }` (its external data, if any, is fetched from beside it), `{ bytes }`
/// or `{ files }` (File / Blob objects: the .onnx with its .onnx.data, as a user drops them),
/// with an optional `sidecar` (a URL, a File, JSON text or an object; docs/conventions.md).
/// `onProgress(fraction)` follows the download.
export async function load({ url, bytes, files, sidecar, onProgress } = {}) {
  const engine = sharedEngine();
  const slot = `api-${nextSlot++}`;
  const side = await text(sidecar);
  const args = { slot, sidecar: side };
  if (files?.length) {
    const list = [...files];
    const onnx = list.find((f) => /\.onnx$/i.test(f.name));
    if (!onnx) throw Object.assign(new Error('no .onnx file among the files given'), { name: 'io' });
    args.bytes = (await bytesOf(onnx)).buffer;
    args.files = await Promise.all(list.filter((f) => f !== onnx).map(async (f) => ({ name: f.name, bytes: (await bytesOf(f)).buffer })));
  } else if (bytes) {
    args.bytes = (await bytesOf(bytes)).slice().buffer;
  } else if (url) {
    args.url = String(new URL(url, document.baseURI));
  } else {
    throw Object.assign(new Error('load() needs a url, bytes or files'), { name: 'parameter' });
  }
  const { info } = await engine.call('loadModel', args, onProgress);
  return new SaliencyModel(engine, slot, info);
}

/// A loaded model and its current input (one slot of the page's worker).
export class SaliencyModel {
  constructor(engine, slot, info) {
    this.engine = engine;
    this.slot = slot;
    /// What `saliency info --json` says: input, classes, labels, layers, which methods apply.
    this.info = info;
    this.nextKey = 1;
  }

  /// Classifies an input and keeps it for explanations: PNG/JPEG bytes (preprocessed as the
  /// sidecar says) or a .npy tensor of the input's shape. Returns the top-k classes and the
  /// input as the model sees it (RGBA pixels).
  async setInput(bytes, { k = 5 } = {}) {
    const data = await bytesOf(bytes);
    const r = await this.engine.call('predictImage', { bytes: data.slice().buffer, k, slot: this.slot });
    return { top: r.prediction.top, seconds: r.seconds, view: { rgba: r.view, width: r.width, height: r.height } };
  }

  /// Explains the current input: `{ method, params, target }` as a request
  /// (docs/conventions.md, "Requests": e.g. `{ method: 'integrated-gradients', params: { steps:
  /// 32 } }`; defaults from the catalog; `target` default: the top class).
  async explain({ method, params = {}, target = null }) {
    const key = `e${this.nextKey++}`;
    const request = { ...params, method, target };
    // Kept in the worker too, for drawing and scoring without sending it back.
    const r = await this.engine.call('explainKept', { request, slot: this.slot, key });
    return new Explanation(this, key, { ...r, method });
  }

  /// Frees the model's slot (the model itself once no other load uses it).
  async dispose() {
    await this.engine.call('unload', { slot: this.slot });
  }
}

/// One explanation: the attribution (a Float32Array of `shape`) and what the library reports.
export class Explanation {
  constructor(model, key, { shape, data, meta, method }) {
    this.model = model;
    this.key = key;
    /// The method's id.
    this.method = method;
    this.shape = shape;
    this.data = data;
    /// target, score, seconds; IG's completeness gap; LRP's conservation; CAM's channels.
    this.meta = meta;
  }

  /// The map drawn at `width` x `height` with display options (sign, colormap, outlier_percent,
  /// upsample, reduce; defaults: the method's, from the catalog): RGBA pixels, the legend's
  /// value range and a colour strip.
  async render({ width, height, sign = AUTO, colormap = AUTO, outlier_percent: outlier = AUTO, upsample, reduce } = {}) {
    const [h, w] = this.shape.slice(-2);
    const m = METHODS.find((x) => x.id === this.method);
    const display = displayFor(m, { sign, colormap, outlier_percent: outlier, upsample, reduce });
    const r = await this.model.engine.call('render', { slot: this.model.slot, key: this.key, display, width: width ?? w, height: height ?? h });
    return { rgba: r.rgba, width: r.width, height: r.height, legend: r.legend, strip: r.strip };
  }

  /// Deletion and insertion curves (`kinds`) with their areas: `steps` points each.
  curves({ kinds = ['deletion', 'insertion'], steps = 50, score = 'probability' } = {}) {
    return this.model.engine.call('curves', { slot: this.model.slot, key: this.key, kinds, steps, score });
  }

  /// The CAM paper's box at `threshold` of the map's maximum, and the pointing game against
  /// `truth` ([x0, y0, x1, y1] in input pixels).
  localize({ threshold = 0.2, truth = null, tolerance = 0 } = {}) {
    return this.model.engine.call('localize', { slot: this.model.slot, key: this.key, threshold, truth, tolerance });
  }

  /// The attribution as a float32 .npy file's bytes.
  npy() {
    return this.model.engine.call('attributionNpy', { slot: this.model.slot, key: this.key });
  }
}

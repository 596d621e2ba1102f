// The Web Worker that owns the wasm module and the loaded models. All heavy work runs here so
// the page never freezes. Protocol: {id, cmd, args} in; {id, ok, result | error} out, plus
// {id, progress} while a download runs.
// Several views can share one worker: each names its `slot` (default 'main'), which holds a
// model and its wasm Session: the last input it classified and its attributions (by key:
// 'main', one per panel), kept in wasm; this worker only dispatches.
// A failed load keeps the slot's previous model.
// Two builds of the module: plain SIMD128, and one with relaxed SIMD (faster kernels) for the
// browsers that validate it. `worker.js?simd=plain|relaxed` forces one (pool workers, tests,
// benchmarks).
// The probe is wasm-feature-detect's relaxed-SIMD test module (i8x16.relaxed_swizzle).
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11]);
const forced = new URLSearchParams(new URL(import.meta.url).search).get('simd');
const variant = forced ?? (WebAssembly.validate(RELAXED_PROBE) ? 'relaxed' : 'plain');
let SaliencyModel, Session, render_heatmap, colormap_strip, read_npy, external_data_files, self_contained, catalog, wasmExports;
// A pool worker (`worker.js?shared`) does not compile the module itself: the page hands it the
// main worker's compiled WebAssembly.Module (`useModule`), whose code V8 shares between
// workers, tiered-up functions included, so a new worker starts at full speed.
const shared = new URLSearchParams(new URL(import.meta.url).search).has('shared');
let provideModule;
const provided = shared ? new Promise((resolve) => { provideModule = resolve; }) : null;
let wasmModule;
const ready = (async () => {
  let mod;
  let dir = variant === 'relaxed' ? './pkg-relaxed/' : './pkg/';
  try {
    mod = await import(`${dir}saliency.js`);
  } catch (e) {
    if (variant !== 'relaxed') throw e;
    dir = './pkg/';
    mod = await import('./pkg/saliency.js'); // a site built without the relaxed variant
  }
  wasmModule = provided ? await provided : await WebAssembly.compile(await (await fetch(new URL(`${dir}saliency_bg.wasm`, import.meta.url))).arrayBuffer());
  wasmExports = await mod.default({ module_or_path: wasmModule });
  ({ SaliencyModel, Session, render_heatmap, colormap_strip, read_npy, external_data_files, self_contained, catalog } = mod);
})();
const slots = new Map();
/// Models loaded from a URL, shared by every slot that loads the same URL and sidecar (ten
/// elements on one model fetch and compile it once): key -> { ready: Promise<{model, info,
/// bytes}>, users: number of slots holding it }.
const byUrl = new Map();

/// Gives slot `name` a new model (`entry`: a shared one's cache key), releasing the old one:
/// a slot's own model is freed, a shared one when its last slot lets go.
function putSlot(name, slot) {
  const old = slots.get(name);
  slots.set(name, slot);
  if (!old) return;
  old.session.free();
  if (old.shared) release(old.shared);
  else if (old.model !== slot.model) old.model.free();
}

function release(key) {
  const e = byUrl.get(key);
  if (!e || --e.users > 0) return;
  byUrl.delete(key);
  e.ready.then((m) => m.model.free(), () => {});
}

async function fetchBytes(url, id) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  const total = Number(res.headers.get('content-length')) || 0;
  if (!res.body || !total) return new Uint8Array(await res.arrayBuffer());
  const out = new Uint8Array(total);
  const reader = res.body.getReader();
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > total) throw new Error(`cannot fetch ${url}: more bytes than announced`);
    out.set(value, loaded);
    loaded += value.length;
    self.postMessage({ id, progress: loaded / total });
  }
  return out.subarray(0, loaded);
}

/// The model as one file: its external tensors (if any) copied in from `files` or fetched
/// from beside `url`. A missing file is one error that names it.
async function withExternalData(onnx, url, files, id) {
  const names = external_data_files(onnx);
  if (!names.length) return onnx;
  const blobs = [];
  for (const name of names) {
    const base = name.split(/[\\/]/).pop();
    const given = files.find((f) => f.name === name || f.name === base);
    if (given) blobs.push(new Uint8Array(given.bytes));
    else if (url) {
      const at = new URL(name, new URL(url, self.location.href)).href;
      try {
        blobs.push(await fetchBytes(at, id));
      } catch (e) {
        const err = new Error(`this model keeps its weights in a separate file, '${base}', which could not be fetched from beside it (${e.message})`);
        err.name = 'io';
        throw err;
      }
    } else {
      const e = new Error(`this model keeps its weights in a separate file, '${base}': pick or drop it together with the .onnx`);
      e.name = 'io';
      throw e;
    }
  }
  return self_contained(onnx, names, blobs);
}

function slotOf(name = 'main') {
  const s = slots.get(name);
  if (!s) throw new Error('no model is loaded');
  return s;
}

/// A slot: a model (shared with other slots loading the same URL) and its session (the input
/// and the kept attributions live in wasm; `metas` holds each kept attribution's small report).
function newSlot(model, info, bytes, sidecar, shared) {
  return { model, session: new Session(model), info, bytes, sidecar, shared, metas: new Map() };
}

const commands = {
  /// The methods' description (Rust's saliency::catalog): the controls are built from it.
  catalog() { return JSON.parse(catalog()); },
  /// `files`: [{name, bytes}] given with the model (dropped or picked together): the weights a
  /// default PyTorch export keeps beside it (`m.onnx.data`). A model loaded from `url` fetches
  /// them from beside it.
  async loadModel({ url, bytes, sidecar, slot = 'main', files = [] }, id) {
    const t0 = performance.now();
    const build = async () => {
      const data = await withExternalData(bytes ? new Uint8Array(bytes) : await fetchBytes(url, id), url, files, id);
      const model = new SaliencyModel(data, sidecar ?? null);
      return { model, info: JSON.parse(model.info()), bytes: data };
    };
    // A model from a URL (without files given beside it) is fetched and compiled once per page.
    const key = url && !bytes && !files.length ? `${new URL(url, self.location.href).href}\n${sidecar ?? ''}` : null;
    let m;
    if (key) {
      let e = byUrl.get(key);
      if (!e) {
        e = { ready: build(), users: 0 };
        byUrl.set(key, e);
        e.ready.catch(() => { if (byUrl.get(key) === e) byUrl.delete(key); });
      }
      m = await e.ready;
      e.users++;
    } else {
      m = await build();
    }
    // The file stays for the checks that rewrite its weights (sanity check, twins).
    putSlot(slot, newSlot(m.model, m.info, m.bytes, sidecar ?? null, key));
    return { info: m.info, seconds: (performance.now() - t0) / 1000 };
  },
  /// The implementation-invariance twin of slot `from` (weight layers `layer` and `layer + 1`
  /// rescaled by `factor` and its inverse) in `slot`, with the same input.
  loadTwin({ from, slot, layer, factor }) {
    const f = slotOf(from);
    const model = SaliencyModel.rescaled(f.bytes, f.sidecar, layer, factor);
    const twin = newSlot(model, f.info, null, f.sidecar, null);
    twin.session.set_tensor(f.session.input());
    putSlot(slot, twin);
    return true;
  },
  /// `bytes`: a PNG/JPEG image, or a `.npy` tensor (models whose input is not an image).
  predictImage({ bytes, k, slot }) {
    const s = slotOf(slot);
    const data = new Uint8Array(bytes);
    s.session.set_input(data);
    s.metas.clear();
    const t0 = performance.now();
    const prediction = JSON.parse(s.session.predict(k ?? 5));
    const seconds = (performance.now() - t0) / 1000;
    const [, , height, width] = s.info.input_shape;
    const npy = data[0] === 0x93 && String.fromCharCode(...data.subarray(1, 6)) === 'NUMPY';
    const view = npy ? s.session.input_rgba() : s.model.model_view_rgba(data);
    return { result: { prediction, seconds, view, width, height }, transfer: [view.buffer] };
  },
  /// One explanation's raw values (a shard of a parallel one), not kept.
  explainRaw({ request, slot }) {
    const a = slotOf(slot).session.explain_values(JSON.stringify(request));
    const out = { shape: Array.from(a.shape()), data: a.data(), meta: JSON.parse(a.meta()) };
    a.free();
    return { result: out, transfer: [out.data.buffer] };
  },
  /// One explanation kept under `key`: its shape and report (the values stay here).
  explainKept({ request, slot, key = 'main' }) {
    const s = slotOf(slot);
    const t0 = performance.now();
    const meta = JSON.parse(s.session.explain(key, JSON.stringify(request)));
    meta.wall_seconds = (performance.now() - t0) / 1000;
    s.metas.set(key, meta);
    return { shape: Array.from(s.session.shape(key)), meta };
  },
  /// A kept attribution's values.
  attributionValues({ slot, key = 'main' }) {
    const a = slotOf(slot).session.attribution(key);
    const out = { shape: Array.from(a.shape()), data: a.data() };
    a.free();
    return { result: out, transfer: [out.data.buffer] };
  },
  /// Frees a slot: its session, and its own model or its share of one loaded from a URL.
  unload({ slot }) {
    const s = slots.get(slot);
    if (!s) return false;
    slots.delete(slot);
    s.session.free();
    if (s.shared) release(s.shared);
    else s.model.free();
    return true;
  },
  /// Keeps an attribution computed elsewhere (the sum of shards, a map of the page's making).
  storeAttribution({ slot, key = 'main', shape, data, meta }) {
    const s = slotOf(slot);
    s.session.keep(key, Uint32Array.from(shape), new Float32Array(data), JSON.stringify(meta));
    s.metas.set(key, meta);
    return { shape, meta };
  },
  render({ display, width, height, key = 'main', slot }) {
    const s = slotOf(slot);
    const h = s.session.render(key, JSON.stringify(display), height, width);
    const rgba = h.rgba();
    const legend = JSON.parse(h.meta());
    h.free();
    const strip = colormap_strip(legend.colormap, 256);
    return { result: { rgba, width, height, legend, strip, meta: s.metas.get(key) }, transfer: [rgba.buffer, strip.buffer] };
  },
  forget({ key, slot }) {
    const s = slots.get(slot ?? 'main');
    s?.session.forget(key);
    s?.metas.delete(key);
    return true;
  },
  attributionNpy({ key = 'main', slot } = {}) {
    return slotOf(slot).session.npy(key);
  },
  /// CAM / Grad-CAM: the activations behind an explanation ([C, h, w], with the weights).
  channelMaps({ key = 'main', slot }) {
    const s = slotOf(slot);
    const meta = s.metas.get(key);
    if (!meta?.channels) throw new Error('this explanation has no channel terms (CAM and Grad-CAM have)');
    const a = s.session.attribution(key);
    const data = a.channel_maps();
    a.free();
    return { shape: meta.channels.shape, weights: meta.channels.weights, layer: meta.channels.layer, data };
  },
  /// Deletion and/or insertion curves of a kept attribution (crate::evaluate::CurveRequest).
  curves({ key = 'main', slot, kinds = ['deletion', 'insertion'], steps = 50, score = 'probability', target = null, baselines = {} }, id) {
    const s = slotOf(slot);
    const out = {};
    kinds.forEach((kind, i) => {
      const req = { kind, steps, score, target: target ?? s.metas.get(key)?.target ?? null };
      if (baselines[kind]) req.baseline = baselines[kind];
      out[kind] = JSON.parse(s.session.curve(key, JSON.stringify(req)));
      self.postMessage({ id, progress: (i + 1) / kinds.length });
    });
    return out;
  },
  /// The CAM paper's box (and the pointing game against `truth`) of a kept attribution, in
  /// input pixels.
  localize({ key = 'main', slot, threshold = 0.2, truth = null, tolerance = 0 }) {
    return JSON.parse(slotOf(slot).session.localize(key, JSON.stringify({ threshold, truth, tolerance })));
  },
  /// The cascading-randomisation check of a request: every stage's meta and rendered map.
  sanity({ slot, request, stages = 8, seed = 0, display }) {
    const s = slotOf(slot);
    if (!s.bytes) throw new Error('this model has no file to randomise');
    const r = s.session.sanity_check(s.bytes, JSON.stringify(request), stages, BigInt(seed));
    const meta = JSON.parse(r.meta());
    const maps = r.maps();
    r.free();
    const [, , h, w] = s.info.input_shape;
    const images = meta.stages.map((_, i) => {
      const hm = render_heatmap(Uint32Array.from([h, w]), maps.subarray(i * h * w, (i + 1) * h * w), h, w, JSON.stringify(display));
      const rgba = hm.rgba();
      hm.free();
      return rgba;
    });
    return { result: { meta, images, width: w, height: h }, transfer: images.map((x) => x.buffer) };
  },
  /// Class scores and one explanation for an input tensor of the page's making (e.g. a point
  /// on the integrated-gradients path); nothing is kept.
  explainTensor({ slot, input, request }) {
    const s = slotOf(slot);
    const x = new Float32Array(input);
    const logits = Array.from(s.model.logits(x));
    if (!request) return { logits };
    const a = s.model.explain(x, JSON.stringify(request));
    const data = a.data();
    const out = { logits, shape: Array.from(a.shape()), data, meta: JSON.parse(a.meta()) };
    a.free();
    return { result: out, transfer: [data.buffer] };
  },
  /// The current input tensor of a slot (what the model sees), flat.
  inputTensor({ slot }) {
    const s = slotOf(slot);
    return { shape: s.info.input_shape, data: s.session.input() };
  },
  /// The values of a float32/float64 .npy file, checked against the slot's input size.
  readNpy({ bytes, slot }) {
    const values = read_npy(new Uint8Array(bytes));
    const s = slots.get(slot ?? 'main');
    const n = s ? s.info.input_shape.reduce((a, b) => a * b, 1) : values.length;
    if (values.length !== n) throw new Error(`the .npy file has ${values.length} values but the model's input ${JSON.stringify(s.info.input_shape)} has ${n}`);
    return values;
  },
  simdVariant() { return variant; },
  /// The compiled module, for pool workers (structured clone shares the code).
  wasmModule() { return wasmModule; },
};

// The benchmarks' worker (bench/browser/bench-worker.js) imports this one and adds its timing
// commands to `commands`; the site itself imports nothing from here.
export { commands, slotOf, wasmExports };

self.onmessage = async (ev) => {
  const { id, cmd, args } = ev.data;
  if (cmd === 'useModule' && provideModule) {
    provideModule(args.module);
    provideModule = null;
  }
  try {
    await ready;
    const fn = cmd === 'useModule' ? () => true : commands[cmd];
    if (!fn) throw new Error(`unknown command ${cmd}`);
    const out = await fn(args ?? {}, id);
    if (out && out.transfer) self.postMessage({ id, ok: true, result: out.result }, out.transfer);
    else self.postMessage({ id, ok: true, result: out });
  } catch (e) {
    self.postMessage({ id, ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(e) } });
  }
};

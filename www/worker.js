// The Web Worker that owns the wasm module and the loaded models. All heavy work runs here so
// the page never freezes. Protocol: {id, cmd, args} in; {id, ok, result | error} out, plus
// {id, progress} while a download runs.
// Several views can share one worker: each names its `slot` (default 'main'), which holds a
// model, the last input it classified and its attributions (by key: 'main', one per panel).
// A failed load keeps the slot's previous model.
// Two builds of the module: plain SIMD128, and one with relaxed SIMD (faster kernels) for the
// browsers that validate it. `worker.js?simd=plain|relaxed` forces one (benchmarks).
// The probe is wasm-feature-detect's relaxed-SIMD test module (i8x16.relaxed_swizzle).
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11]);
const forced = new URLSearchParams(self.location.search).get('simd');
const variant = forced ?? (WebAssembly.validate(RELAXED_PROBE) ? 'relaxed' : 'plain');
let SaliencyModel, render_heatmap, colormap_strip, read_npy, wasmExports;
const ready = (async () => {
  let mod;
  try {
    mod = await import(variant === 'relaxed' ? './pkg-relaxed/saliency.js' : './pkg/saliency.js');
  } catch (e) {
    if (variant !== 'relaxed') throw e;
    mod = await import('./pkg/saliency.js'); // a site built without the relaxed variant
  }
  wasmExports = await mod.default();
  ({ SaliencyModel, render_heatmap, colormap_strip, read_npy } = mod);
})();
const slots = new Map();

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

function slotOf(name = 'main') {
  const s = slots.get(name);
  if (!s) throw new Error('no model is loaded');
  return s;
}

const commands = {
  async loadModel({ url, bytes, sidecar, slot = 'main' }, id) {
    const data = bytes ? new Uint8Array(bytes) : await fetchBytes(url, id);
    const t0 = performance.now();
    const model = new SaliencyModel(data, sidecar ?? null);
    const info = JSON.parse(model.info());
    slots.get(slot)?.model.free();
    slots.set(slot, { model, info, input: null, attributions: new Map() });
    return { info, seconds: (performance.now() - t0) / 1000 };
  },
  predictImage({ bytes, k, slot }) {
    const s = slotOf(slot);
    const data = new Uint8Array(bytes);
    const x = s.model.preprocess_image(data);
    s.input = x;
    s.attributions.clear();
    const t0 = performance.now();
    const prediction = JSON.parse(s.model.predict(x, k ?? 5));
    const seconds = (performance.now() - t0) / 1000;
    const [, , height, width] = s.info.input_shape;
    const view = s.model.model_view_rgba(data);
    return { result: { prediction, seconds, view, width, height }, transfer: [view.buffer] };
  },
  explain({ request, display, width, height, key = 'main', slot }) {
    const s = slotOf(slot);
    if (!s.input) throw new Error('no image has been classified yet');
    const t0 = performance.now();
    const a = s.model.explain(s.input, JSON.stringify(request));
    const meta = JSON.parse(a.meta());
    meta.wall_seconds = (performance.now() - t0) / 1000;
    s.attributions.set(key, { shape: Array.from(a.shape()), data: a.data(), meta });
    a.free();
    return commands.render({ display, width, height, key, slot });
  },
  /// One explanation's raw values (a shard of a parallel one), not kept.
  explainRaw({ request, slot }) {
    const s = slotOf(slot);
    if (!s.input) throw new Error('no image has been classified yet');
    const a = s.model.explain(s.input, JSON.stringify(request));
    const data = a.data();
    const out = { shape: Array.from(a.shape()), data, meta: JSON.parse(a.meta()) };
    a.free();
    return { result: out, transfer: [data.buffer] };
  },
  /// Keeps an attribution computed elsewhere (the sum of shards) and draws it.
  storeAttribution({ slot, key = 'main', shape, data, meta, display, width, height }) {
    slotOf(slot).attributions.set(key, { shape, data: new Float32Array(data), meta });
    return commands.render({ display, width, height, key, slot });
  },
  render({ display, width, height, key = 'main', slot }) {
    const found = slotOf(slot).attributions.get(key);
    if (!found) throw new Error('nothing has been explained yet');
    const { shape, data, meta } = found;
    const h = render_heatmap(Uint32Array.from(shape), data, height, width, JSON.stringify(display));
    const rgba = h.rgba();
    const legend = JSON.parse(h.meta());
    h.free();
    const strip = colormap_strip(legend.colormap, 256);
    return { result: { rgba, width, height, legend, strip, meta }, transfer: [rgba.buffer, strip.buffer] };
  },
  forget({ key, slot }) {
    slots.get(slot ?? 'main')?.attributions.delete(key);
    return true;
  },
  attributionNpy({ key = 'main', slot } = {}) {
    const s = slotOf(slot);
    const found = s.attributions.get(key);
    if (!found) throw new Error('nothing has been explained yet');
    return s.model.npy(Uint32Array.from(found.shape), found.data);
  },
  simdVariant() { return variant; },
  /// The wasm instance's linear memory (bytes): it only grows, so this is the peak.
  memoryBytes() { return wasmExports.memory.buffer.byteLength; },
  /// Class scores for an input tensor given as .npy bytes (self-checks against native results).
  logitsOfNpy({ bytes, slot }) {
    return Array.from(slotOf(slot).model.logits(read_npy(new Uint8Array(bytes))));
  },
  timeForward({ bytes, runs, slot }) {
    const s = slotOf(slot);
    const x = s.model.preprocess_image(new Uint8Array(bytes));
    const times = [];
    for (let i = 0; i < (runs ?? 10); i++) {
      const t0 = performance.now();
      s.model.logits(x);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { median_ms: times[Math.floor(times.length / 2)], runs: times.length };
  },
};

self.onmessage = async (ev) => {
  const { id, cmd, args } = ev.data;
  try {
    await ready;
    const fn = commands[cmd];
    if (!fn) throw new Error(`unknown command ${cmd}`);
    const out = await fn(args ?? {}, id);
    if (out && out.transfer) self.postMessage({ id, ok: true, result: out.result }, out.transfer);
    else self.postMessage({ id, ok: true, result: out });
  } catch (e) {
    self.postMessage({ id, ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(e) } });
  }
};

// The Web Worker that owns the wasm module and the loaded model. All heavy work runs here so
// the page never freezes. Protocol: {id, cmd, args} in; {id, ok, result | error} out, plus
// {id, progress} while a download runs. A failed load keeps the previous model.
import init, { SaliencyModel } from './pkg/saliency.js';

const ready = init();
let current = null;

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

function requireModel() {
  if (!current) throw new Error('no model is loaded');
  return current;
}

const commands = {
  async loadModel({ url, bytes, sidecar }, id) {
    const data = bytes ? new Uint8Array(bytes) : await fetchBytes(url, id);
    const t0 = performance.now();
    const model = new SaliencyModel(data, sidecar ?? null);
    const info = JSON.parse(model.info());
    if (current) current.free();
    current = model;
    return { info, seconds: (performance.now() - t0) / 1000 };
  },
  predictImage({ bytes, k }) {
    const model = requireModel();
    const data = new Uint8Array(bytes);
    const x = model.preprocess_image(data);
    const t0 = performance.now();
    const prediction = JSON.parse(model.predict(x, k ?? 5));
    const seconds = (performance.now() - t0) / 1000;
    const info = JSON.parse(model.info());
    const [, , height, width] = info.input_shape;
    const view = model.model_view_rgba(data);
    return { result: { prediction, seconds, view, width, height }, transfer: [view.buffer] };
  },
  timeForward({ bytes, runs }) {
    const model = requireModel();
    const x = model.preprocess_image(new Uint8Array(bytes));
    const times = [];
    for (let i = 0; i < (runs ?? 10); i++) {
      const t0 = performance.now();
      model.logits(x);
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

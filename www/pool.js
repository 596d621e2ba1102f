// Integrated Gradients and SmoothGrad in chunks, spread over the CPU's cores: extra workers,
// each with its own wasm instance and cached plan, compute disjoint shards of the quadrature
// points or noise samples (`part: [k, n]` in the request). The shards' attributions add up
// exactly to the whole (both methods are sums over points); they are summed here and stored
// in the main worker for drawing. Chunking also gives a progress bar and a cancel that takes
// effect after the chunks in flight.
import { Engine } from './worker-client.js';

/// A run stopped by its AbortSignal.
export class Cancelled extends Error {
  constructor() { super('cancelled'); this.name = 'cancelled'; }
}

const points = (r) => (r.method === 'integrated-gradients' ? r.steps ?? 50 : r.method === 'smoothgrad' ? r.samples ?? 50 : 0);

export class WorkerPool {
  constructor(main, size = Math.min(navigator.hardwareConcurrency || 1, 8)) {
    this.main = main;
    this.size = Math.max(1, size);
    this.extra = [];
    this.model = null;
    this.input = null;
  }

  /// Sums over many points are chunked (and spread when there are several cores).
  static worthIt(request) {
    return points(request) >= 16;
  }

  /// The extra workers hold `model` (a SaliencyModel of saliency.js: how it was loaded, its
  /// current input) in their slot 'pool'.
  prepare(model) {
    // One at a time: two explanations asking at once must not load the model twice.
    this.ready = (this.ready ?? Promise.resolve()).catch(() => {}).then(() => this.load(model));
    return this.ready;
  }

  async load(model) {
    if (this.extra.length < this.size - 1) {
      // New workers get the main worker's compiled module: its tiered-up code comes along.
      const module = await this.main.call('wasmModule');
      const simd = await this.main.call('simdVariant');
      while (this.extra.length < this.size - 1) {
        const e = new Engine(`?shared&simd=${simd}`);
        await e.call('useModule', { module });
        this.extra.push(e);
      }
    }
    const source = model.source;
    if (this.model !== model) {
      this.model = null;
      await Promise.all(this.extra.map((e) => e.call('loadModel', { ...source, bytes: source.bytes ? source.bytes.slice(0) : undefined, slot: 'pool' })));
      this.model = model;
      this.input = null;
    }
    if (this.input !== model.inputVersion) {
      await Promise.all(this.extra.map((e) => e.call('predictImage', { bytes: model.inputBytes.buffer, k: 1, slot: 'pool' })));
      this.input = model.inputVersion;
    }
  }

  /// Computes `request` in chunks on the main worker (its `slot`) and the extra ones; keeps
  /// the sum under `key` in the main worker and returns its shape and report.
  async explain(request, { slot, key, onProgress, signal }) {
    const n = points(request);
    // One chunk per worker for short runs (each chunk re-runs the forward pass of x and x');
    // long runs get small chunks for the progress bar and a prompt cancel.
    const chunks = n < 400 ? this.size : Math.max(this.size, Math.min(64, Math.floor(n / 8)));
    const workers = [{ engine: this.main, slot }, ...this.extra.map((engine) => ({ engine, slot: 'pool' }))];
    const t0 = performance.now();
    let next = 0;
    let done = 0;
    let data = null;
    let first = null;
    let planSeconds = 0;
    const run = async (w) => {
      while (next < chunks) {
        if (signal?.aborted) throw new Cancelled();
        const k = next++;
        const r = await w.engine.call('explainRaw', { request: { ...request, part: [k, chunks] }, slot: w.slot });
        if (!data) { data = new Float32Array(r.data.length); first = r; }
        for (let i = 0; i < data.length; i++) data[i] += r.data[i];
        planSeconds = Math.max(planSeconds, r.meta.plan_seconds);
        onProgress?.(++done / chunks);
      }
    };
    await Promise.all(workers.map(run));
    const meta = { ...first.meta, seconds: (performance.now() - t0) / 1000, plan_seconds: planSeconds, workers: workers.length, chunks };
    if (meta.score_delta !== undefined && meta.score_delta !== null) {
      let total = 0;
      for (let i = 0; i < data.length; i++) total += data[i];
      meta.completeness_gap = total - meta.score_delta;
    }
    return this.main.call('storeAttribution', { slot, key, shape: first.shape, data: data.buffer, meta }, null, [data.buffer]);
  }
}

// Integrated Gradients and SmoothGrad spread over the CPU's cores: extra workers, each with
// its own wasm instance and cached plan, compute disjoint shards of the quadrature points or
// noise samples (`part: [k, n]` in the request); the shards' attributions add up exactly to
// the whole (both methods are sums over points), and are stored in the main worker for drawing.
import { Engine } from './worker-client.js';

export class WorkerPool {
  constructor(main, size = Math.min(navigator.hardwareConcurrency || 1, 8)) {
    this.main = main;
    this.size = Math.max(1, size);
    this.extra = [];
    this.modelKey = null;
    this.imageKey = null;
  }

  /// Whether a request is worth sharding (enough points for every worker).
  worthIt(request) {
    if (this.size < 2) return false;
    const n = request.method === 'integrated-gradients' ? request.steps : request.method === 'smoothgrad' ? request.samples : 0;
    return n >= 2 * this.size;
  }

  async prepare(modelKey, loadArgs, imageKey, imageBytes) {
    while (this.extra.length < this.size - 1) this.extra.push(new Engine());
    if (this.modelKey !== modelKey) {
      await Promise.all(this.extra.map((e) => e.call('loadModel', { ...loadArgs, bytes: loadArgs.bytes ? loadArgs.bytes.slice(0) : undefined, slot: 'pool' })));
      this.modelKey = modelKey;
      this.imageKey = null;
    }
    if (this.imageKey !== imageKey) {
      await Promise.all(this.extra.map((e) => e.call('predictImage', { bytes: imageBytes.slice().buffer, k: 1, slot: 'pool' })));
      this.imageKey = imageKey;
    }
  }

  /// Computes `request` in shards on the main worker (its `slot`) and the extra ones; stores
  /// the sum under `key` in the main worker and returns its rendering.
  async explain(request, { slot = 'main', key = 'main', display, width, height }) {
    const n = this.size;
    const t0 = performance.now();
    const shards = await Promise.all([
      this.main.call('explainRaw', { request: { ...request, part: [0, n] }, slot }),
      ...this.extra.map((e, i) => e.call('explainRaw', { request: { ...request, part: [i + 1, n] }, slot: 'pool' })),
    ]);
    const data = new Float32Array(shards[0].data.length);
    for (const s of shards) for (let i = 0; i < data.length; i++) data[i] += s.data[i];
    const meta = { ...shards[0].meta, seconds: (performance.now() - t0) / 1000, plan_seconds: Math.max(...shards.map((s) => s.meta.plan_seconds)), workers: n };
    if (meta.score_delta !== undefined && meta.score_delta !== null) {
      let total = 0;
      for (let i = 0; i < data.length; i++) total += data[i];
      meta.completeness_gap = total - meta.score_delta;
    }
    return this.main.call('storeAttribution', { slot, key, shape: shards[0].shape, data, meta, display, width, height }, null, [data.buffer]);
  }
}

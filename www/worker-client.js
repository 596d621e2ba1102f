// Promise-based calls into worker.js: `await engine.call('loadModel', {...}, onProgress)`.
export class Engine {
  /// `script` (a URL): another worker that speaks worker.js's protocol (the benchmarks' does).
  constructor(query = '', script = new URL('./worker.js', import.meta.url)) {
    this.worker = new Worker(new URL(`${script.pathname}${query}`, script), { type: 'module' });
    this.pending = new Map();
    this.nextId = 1;
    this.worker.onmessage = (ev) => {
      const { id, ok, result, error, progress } = ev.data;
      const p = this.pending.get(id);
      if (!p) return;
      if (progress !== undefined) { p.onProgress?.(progress); return; }
      this.pending.delete(id);
      if (ok) p.resolve(result);
      else p.reject(Object.assign(new Error(error.message), { name: error.name }));
    };
    this.worker.onerror = (ev) => {
      const err = new Error(`worker failed: ${ev.message || 'could not start'}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  call(cmd, args = {}, onProgress = null, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, cmd, args }, transfer);
    });
  }
}

let shared = null;
/// One worker (one wasm instance) for every view on the page; views keep apart by `slot`.
export function sharedEngine() {
  shared ??= new Engine();
  return shared;
}

// Promise-based calls into worker.js: `await engine.call('loadModel', {...}, onProgress)`.
export class Engine {
  /// `script` (a URL): another worker that speaks worker.js's protocol (the benchmarks' does).
  constructor(query = '', script = new URL('./worker.js', import.meta.url)) {
    const url = new URL(`${script.pathname}${query}`, script);
    // A worker must come from the page's origin: served from elsewhere (a CDN), the worker is a
    // same-origin blob that imports the real one (which then resolves its wasm beside itself).
    const local = url.origin === self.location.origin;
    const src = local ? url : URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};`], { type: 'text/javascript' }));
    this.worker = new Worker(src, { type: 'module' });
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

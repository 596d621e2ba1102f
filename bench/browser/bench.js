// Times each bundled model in the worker, for each wasm build (plain SIMD128 and relaxed
// SIMD): forward pass, gradient, CAM, LRP and IG-50 (in-worker loops after a warm-up: the
// median of five rounds of at least 100 ms each, see timeLoop in bench-worker.js). The result
// is also left as JSON in document.body.dataset.results for bench/bench-browser.mjs.
// This page is not part of the site: it is served at /bench/, beside the site's root (www/),
// whose modules it imports (bench/README.md).
import { Engine } from '../worker-client.js';
import { loadCatalog, fetchBytes } from '../catalog.js';
import { WorkerPool } from '../pool.js';

const out = document.getElementById('out');
const rows = [];
// Absolute addresses: the models are the site's, and the pool's workers (www/worker.js) resolve
// them from the site's root.
const catalog = await loadCatalog(new URL('../models/', location.href).href);
// The site's worker plus the timing commands (timeForward, timeExplain, memoryBytes).
const BENCH_WORKER = new URL('./bench-worker.js', import.meta.url);

const middle = (t) => Number([...t].sort((a, b) => a - b)[Math.floor(t.length / 2)].toFixed(2));

/// The medians (ms) of several timings (each returns seconds) run in turn, after a warm-up of
/// each for at least a second: V8 compiles hot wasm functions again in background threads
/// while they run, and on two cores that compile competes with the second worker (MNIST CAM's
/// IG-32 measured 1.4x on two node workers after one warm-up call, 1.9x after four seconds).
async function medians(fns, runs) {
  for (const fn of fns) {
    const t0 = performance.now();
    do await fn(); while (performance.now() - t0 < 1000);
  }
  const t = fns.map(() => []);
  for (let i = 0; i < runs; i++) for (const [k, fn] of fns.entries()) t[k].push((await fn()) * 1000);
  return t.map(middle);
}

// `?only=ig`: the IG table alone.
const only = new URLSearchParams(location.search).get('only');
for (const simd of only === 'ig' ? [] : ['plain', 'relaxed']) {
  const engine = new Engine(`?simd=${simd}`, BENCH_WORKER);
  const variant = await engine.call('simdVariant');
  for (const m of catalog.models) {
    const { seconds } = await engine.call('loadModel', { url: m.url, sidecar: m.sidecarText });
    const image = catalog.images.find((im) => im.file === m.sidecar.default_image);
    const bytes = await fetchBytes(image.url);
    // Times are in-worker loops (timeLoop in bench-worker.js): the worker's clock is coarsened to
    // 0.1 ms, so the MNIST nets' sub-millisecond runs are timed many at a time.
    const { mean_ms: forward } = await engine.call('timeForward', { bytes: bytes.buffer.slice(0), runs: 1 });
    await engine.call('predictImage', { bytes: bytes.buffer.slice(0), k: 1 });
    const explain = async (request) => Number((await engine.call('timeExplain', { request })).mean_ms.toFixed(3));
    const gradient = await explain({ method: 'gradient' });
    const cam = await explain({ method: 'cam' }).catch(() => null);
    const lrp = await explain({ method: 'lrp', composite: 'epsilon-gamma-box' });
    const ig50 = await explain({ method: 'integrated-gradients', steps: 50 });
    rows.push({ simd: variant, model: m.name, load_ms: Math.round(seconds * 1000), forward_ms: Number(forward.toFixed(3)), gradient_ms: gradient, cam_ms: cam, lrp_ms: lrp, ig50_one_worker_ms: ig50, gradient_ratio: Number((gradient / forward).toFixed(2)), lrp_ratio: Number((lrp / forward).toFixed(2)) });
    out.textContent = rows.map((r) => JSON.stringify(r)).join('\n');
  }
  engine.worker.terminate();
}
// Integrated gradients (32 steps) on one worker vs spread over all cores.
const parallel = [];
{
  const engine = new Engine('', BENCH_WORKER);
  for (const m of catalog.models) {
    await engine.call('loadModel', { url: m.url, sidecar: m.sidecarText });
    const image = catalog.images.find((im) => im.file === m.sidecar.default_image);
    const bytes = await fetchBytes(image.url);
    await engine.call('predictImage', { bytes: bytes.buffer.slice(0), k: 1 });
    const request = { method: 'integrated-gradients', steps: 32 };
    const runs = m.name === 'efficientnet_lite0' ? 5 : 9;
    // Both timed the same way, from the page (the pool's wall clock: messages, the sum of the
    // shards): a pool of one worker against a pool of all. The runs alternate, so that a slow
    // spell of the shared machine falls on both alike.
    const single = new WorkerPool(engine, 1);
    const pool = new WorkerPool(engine);
    // The pool is given what a SaliencyModel of saliency.js gives it: its source and input.
    await pool.prepare({ source: { url: m.url, sidecar: m.sidecarText }, inputBytes: bytes, inputVersion: 1 });
    const at = { slot: 'main', key: 'main' };
    const [one, inWorker, all] = await medians([
      async () => (await single.explain(request, at)).meta.seconds,
      // (The worker's own clock, as the one-worker number was before 2026-11-27.)
      async () => (await engine.call('explainKept', { request })).meta.seconds,
      async () => (await pool.explain(request, at)).meta.seconds,
    ], runs);
    parallel.push({ model: m.name, workers: pool.size, ig32_one_worker_ms: one, ig32_in_worker_ms: inWorker, ig32_all_workers_ms: all, speedup: Number((one / all).toFixed(2)) });
    for (const e of pool.extra) e.worker.terminate();
    out.textContent = [...rows, ...parallel].map((r) => JSON.stringify(r)).join('\n');
  }
  engine.worker.terminate();
}
// Control: this browser's own two-worker scaling, on a plain JS loop (no wasm, one message
// each way) of about the sizes of the small nets' IG-32 (~4 and ~30 ms on one worker), timed
// as the IG rows are. What the pool reaches is bounded by it.
{
  const spin = [0, 1].map(() => new Worker('bench-spin.js'));
  const run = (w, rounds) => new Promise((resolve) => { w.onmessage = () => resolve(); w.postMessage(rounds); });
  const time = async (f) => { const t0 = performance.now(); await f(); return (performance.now() - t0) / 1000; };
  for (const rounds of [800, 6000]) {
    const [one, all] = await medians([
      () => time(() => run(spin[0], rounds)),
      () => time(() => Promise.all([run(spin[0], rounds / 2), run(spin[1], rounds / 2)])),
    ], 9);
    parallel.push({ model: `JS loop ${rounds} (control)`, workers: 2, ig32_one_worker_ms: one, ig32_in_worker_ms: '-', ig32_all_workers_ms: all, speedup: Number((one / all).toFixed(2)) });
    out.textContent = [...rows, ...parallel].map((r) => JSON.stringify(r)).join('\n');
  }
  for (const w of spin) w.terminate();
}
// Memory of integrated gradients with 10 000 steps (MNIST CAM net, one worker): the wasm
// memory only grows, so its size after the run is the peak.
{
  const engine = new Engine('', BENCH_WORKER);
  const m = catalog.models.find((x) => x.name === 'mnist_cam');
  await engine.call('loadModel', { url: m.url, sidecar: m.sidecarText });
  const bytes = await fetchBytes(catalog.images.find((im) => im.file === m.sidecar.default_image).url);
  await engine.call('predictImage', { bytes: bytes.buffer.slice(0), k: 1 });
  await engine.call('explainKept', { request: { method: 'integrated-gradients', steps: 10 } });
  const before = await engine.call('memoryBytes');
  const t0 = performance.now();
  const r = await engine.call('explainKept', { request: { method: 'integrated-gradients', steps: 10000 } });
  const after = await engine.call('memoryBytes');
  parallel.push({ model: 'mnist_cam', ig10000_seconds: Number(((performance.now() - t0) / 1000).toFixed(2)), wasm_memory_mb_after_ig10: Number((before / 2 ** 20).toFixed(1)), wasm_memory_mb_after_ig10000: Number((after / 2 ** 20).toFixed(1)), gap: r.meta.completeness_gap });
  engine.worker.terminate();
}
document.body.dataset.parallel = JSON.stringify(parallel);
document.body.dataset.results = JSON.stringify(rows);

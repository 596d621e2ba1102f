// Times each bundled model's forward pass in the worker; the result is also left as JSON in
// document.body.dataset.results for scripts/bench-browser.mjs.
import { Engine } from './worker-client.js';
import { loadCatalog, fetchBytes } from './catalog.js';

const out = document.getElementById('out');
const engine = new Engine();
const rows = [];
const catalog = await loadCatalog();
for (const m of catalog.models) {
  const t0 = performance.now();
  const { seconds } = await engine.call('loadModel', { url: m.url, sidecar: m.sidecarText });
  const fetchAndLoad = performance.now() - t0;
  const image = catalog.images.find((im) => im.file === m.sidecar.default_image);
  const bytes = await fetchBytes(image.url);
  const { median_ms, runs } = await engine.call('timeForward', { bytes: bytes.buffer, runs: 20 });
  rows.push({ model: m.name, load_ms: Math.round(seconds * 1000), fetch_and_load_ms: Math.round(fetchAndLoad), forward_median_ms: Number(median_ms.toFixed(2)), runs });
  out.textContent = rows.map((r) => JSON.stringify(r)).join('\n');
}
document.body.dataset.results = JSON.stringify(rows);

// Browser benchmark (not a test): forward time per bundled model in headless Debian Chromium,
// wasm size raw and gzipped, and time from page open to the first prediction.
//   make build && node scripts/bench-browser.mjs
import fs from 'node:fs';
import zlib from 'node:zlib';
import { startServer, launch, WWW } from '../tests/browser/harness.mjs';

const srv = await startServer();
const b = await launch();
const page = await b.context.newPage();
const opens = [];
for (let i = 0; i < 5; i++) {
  const t0 = Date.now();
  await page.goto(srv.url);
  await page.waitForFunction(() => document.body.dataset.top1 && document.body.dataset.busy === '0', null, { timeout: 120_000 });
  opens.push(Date.now() - t0);
}
opens.sort((a, b) => a - b);
await page.goto(`${srv.url}bench.html`);
await page.waitForFunction(() => document.body.dataset.results, null, { timeout: 600_000 });
const rows = JSON.parse(await page.evaluate(() => document.body.dataset.results));
await b.close();
srv.server.close();
const wasm = fs.readFileSync(`${WWW}/pkg/saliency_bg.wasm`);
console.log('model                forward ms (median)   load ms');
for (const r of rows) console.log(`${r.model.padEnd(20)} ${String(r.forward_median_ms).padStart(10)}   ${String(r.load_ms).padStart(14)}`);
console.log(`wasm: ${(wasm.length / 1e6).toFixed(2)} MB raw, ${(zlib.gzipSync(wasm, { level: 9 }).length / 1e6).toFixed(2)} MB gzipped`);
console.log(`page open -> first prediction (EfficientNet-Lite0 on chelsea), median of 5: ${opens[2]} ms (all: ${opens.join(', ')})`);

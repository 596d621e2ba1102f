// Browser benchmark (not a test): forward time per bundled model in headless Debian Chromium,
// wasm size raw and gzipped, and time from page open to the first prediction.
//   make build && node bench/bench-browser.mjs [--ig-only]     (or: make bench-browser)
// Needs tests/browser's node_modules (playwright-core: make setup-test) and /usr/bin/chromium.
// The page it drives, browser/bench.html, is not part of the site: it is served at
// /viewer/bench/ beside the site (www/ at /viewer/, as the browser tests serve it).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { startServer, launch, WWW, SUBPATH } from '../tests/browser/harness.mjs';

const BENCH_PAGES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'browser');

/// The tests' server for www/ (tests/browser/harness.mjs), with BENCH_PAGES at SUBPATH/bench/.
async function startBenchServer() {
  const srv = await startServer();
  const [site] = srv.server.listeners('request');
  srv.server.removeAllListeners('request');
  srv.server.on('request', (req, res) => {
    const prefix = `${SUBPATH}bench/`;
    const { pathname } = new URL(req.url, 'http://x');
    if (!pathname.startsWith(prefix)) return site(req, res);
    const file = path.join(BENCH_PAGES, decodeURIComponent(pathname.slice(prefix.length)) || 'bench.html');
    if (!file.startsWith(BENCH_PAGES + path.sep) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) { res.writeHead(404).end(); return; }
    const body = fs.readFileSync(file);
    res.writeHead(200, { 'Content-Type': file.endsWith('.js') ? 'text/javascript' : 'text/html', 'Content-Length': body.length });
    res.end(body);
  });
  return srv;
}

const srv = await startBenchServer();
const b = await launch();
const page = await b.context.newPage();
const igOnly = process.argv.includes('--ig-only');
const opens = [];
for (let i = 0; i < (igOnly ? 0 : 5); i++) {
  const t0 = Date.now();
  await page.goto(srv.url);
  await page.waitForFunction(() => document.body.dataset.top1 && document.body.dataset.busy === '0', null, { timeout: 120_000 });
  opens.push(Date.now() - t0);
}
opens.sort((a, b) => a - b);
await page.goto(`${srv.url}bench/bench.html${igOnly ? '?only=ig' : ''}`);
await page.waitForFunction(() => document.body.dataset.results, null, { timeout: 600_000 });
const rows = JSON.parse(await page.evaluate(() => document.body.dataset.results));
const parallel = JSON.parse(await page.evaluate(() => document.body.dataset.parallel));
await b.close();
srv.server.close();
console.log('\nmodel                IG-32 one worker ms  all workers ms  workers  speed-up  (in-worker clock, one worker)');
for (const r of parallel.filter((x) => x.ig10000_seconds)) console.log(`IG 10 000 steps on ${r.model}: ${r.ig10000_seconds} s, wasm memory ${r.wasm_memory_mb_after_ig10} MB after IG-10 -> ${r.wasm_memory_mb_after_ig10000} MB after IG-10000, gap ${r.gap}`);
for (const r of parallel.filter((x) => !x.ig10000_seconds)) console.log(`${r.model.padEnd(20)} ${String(r.ig32_one_worker_ms).padStart(19)} ${String(r.ig32_all_workers_ms).padStart(15)} ${String(r.workers).padStart(8)} ${String(r.speedup).padStart(9)}  ${r.ig32_in_worker_ms}`);
if (igOnly) process.exit(0);
const wasm = fs.readFileSync(`${WWW}/pkg/saliency_bg.wasm`);
console.log('simd     model                 load ms  forward ms  gradient ms  (x fwd)  cam ms   lrp-egb ms  (x fwd)  IG-50 (1 worker) ms');
for (const r of rows) console.log(`${r.simd.padEnd(8)} ${r.model.padEnd(20)} ${String(r.load_ms).padStart(8)} ${String(r.forward_ms).padStart(11)} ${String(r.gradient_ms).padStart(12)} ${String(r.gradient_ratio).padStart(8)} ${String(r.cam_ms ?? '-').padStart(7)} ${String(r.lrp_ms).padStart(12)} ${String(r.lrp_ratio).padStart(8)} ${String(r.ig50_one_worker_ms).padStart(20)}`);
console.log(`wasm: ${(wasm.length / 1e6).toFixed(2)} MB raw, ${(zlib.gzipSync(wasm, { level: 9 }).length / 1e6).toFixed(2)} MB gzipped`);
console.log(`page open -> first prediction (EfficientNet-Lite0 on chelsea), median of 5: ${opens[2]} ms (all: ${opens.join(', ')})`);

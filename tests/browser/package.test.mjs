// The npm package a static site uses without Rust (`make package`): installed from its tarball
// into a scratch site outside the repository (plain HTML, no bundler), the element and the JS
// API show a prediction and a Grad-CAM map in Chromium, with the package served from the
// page's origin and from another one (a CDN: the worker must still start); and its .d.ts
// type-checks an example with `tsc --noEmit`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, watchErrors, WWW } from './harness.mjs';

const REPO = path.resolve(WWW, '..');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.ts': 'text/plain' };

/// A static server of `dir`; `cors`: as a CDN serves (any origin may read).
async function serve(dir, { cors = false } = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '');
    requests.push(rel);
    const file = path.join(dir, rel || 'index.html');
    const headers = cors ? { 'Access-Control-Allow-Origin': '*' } : {};
    if (!file.startsWith(dir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) { res.writeHead(404, headers).end(); return; }
    const body = fs.readFileSync(file);
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${server.address().port}`, requests };
}

/// The page: an element and a script using the API, both from `base` (the package's URL).
const page = (base) => `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>scratch site</title><link rel="icon" href="data:,">
<script type="module" src="${base}/saliency-viewer.js"></script>
<main>
<saliency-viewer id="el" model="models/mnist_cam.onnx" sidecar="models/mnist_cam.json" image="models/digit_7.png" method="grad-cam"></saliency-viewer>
</main>
<script type="module">
  import { load, catalog } from '${base}/saliency.js';
  try {
    const c = await catalog();
    const model = await load({ url: 'models/mnist_cam.onnx', sidecar: 'models/mnist_cam.json' });
    const input = await model.setInput(await (await fetch('models/digit_7.png')).arrayBuffer());
    const e = await model.explain({ method: 'grad-cam', params: { layer: model.info.cam_layer } });
    const map = await e.render({ width: 112, height: 112 });
    let bad = null;
    try { await model.explain({ method: 'integrated-gradients', params: { steps: 0 } }); } catch (err) { bad = { name: err.name, message: err.message }; }
    const values = await e.values();
    document.body.dataset.api = JSON.stringify({ methods: c.methods.length, top: input.top[0], shape: e.shape, values: values.length, score: e.meta.score, width: map.width, colored: map.rgba.some((v, i) => i % 4 === 3 && v > 0), bad });
  } catch (err) {
    document.body.dataset.api = JSON.stringify({ error: err.name + ': ' + err.message });
  }
</script>
</html>`;

let site, tarball, browser;
const servers = [];

before(async () => {
  execFileSync('python3', [path.join(REPO, 'scripts', 'package.py')], { cwd: REPO, stdio: 'inherit' });
  tarball = fs.readdirSync(path.join(REPO, 'dist')).filter((f) => f.endsWith('.tgz')).map((f) => path.join(REPO, 'dist', f))[0];
  // A scratch site outside the repository: the package installed from its tarball, a model.
  site = fs.mkdtempSync(path.join(os.tmpdir(), 'saliency-site-'));
  fs.writeFileSync(path.join(site, 'package.json'), '{"private": true, "type": "module"}\n');
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', tarball], { cwd: site, stdio: 'inherit' });
  fs.mkdirSync(path.join(site, 'models'));
  for (const f of ['mnist_cam.onnx', 'mnist_cam.json', 'images/digit_7.png']) fs.copyFileSync(path.join(WWW, 'models', f), path.join(site, 'models', path.basename(f)));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.server.close();
  if (site) fs.rmSync(site, { recursive: true, force: true });
});

async function check(html, label) {
  fs.writeFileSync(path.join(site, `${label}.html`), html);
  const errors = [];
  const p = watchErrors(await browser.context.newPage(), errors);
  await p.goto(`${servers[0].origin}/${label}.html`);
  await p.waitForFunction(() => document.body.dataset.api && (document.getElementById('el').dataset.explained || document.getElementById('el').dataset.error), null, { timeout: 120_000 });
  const api = JSON.parse(await p.evaluate(() => document.body.dataset.api));
  const el = await p.evaluate(() => { const v = document.getElementById('el'); return { explained: v.dataset.explained, error: v.dataset.error, top: v.prediction?.top[0] }; });
  await p.screenshot({ path: path.join(path.dirname(new URL(import.meta.url).pathname), 'artifacts', `package-${label}.png`) });
  await p.close();
  assert.equal(api.error, undefined, `${label}: API: ${api.error}`);
  assert.equal(el.error, undefined, `${label}: element: ${el.error}`);
  assert.match(el.explained, /^grad-cam:/);
  assert.ok(api.methods >= 8, `${label}: catalog`);
  assert.equal(api.top.index, el.top.index, `${label}: the API and the element agree on the class`);
  assert.ok(api.top.probability > 0.5, `${label}: a digit 7 is recognised (${api.top.label} ${api.top.probability})`);
  assert.equal(api.shape.length, 2, `${label}: a Grad-CAM map is [h, w] at the layer's size`);
  assert.equal(api.values, api.shape[0] * api.shape[1], `${label}: values() gives the whole map`);
  assert.ok(api.colored && api.width === 112, `${label}: a drawn map`);
  assert.equal(api.bad?.name, 'parameter', `${label}: a bad request is an Error named by its kind: ${JSON.stringify(api.bad)}`);
  assert.deepEqual(errors, [], `${label}: console errors`);
}

test('the packed tarball in a scratch site, same origin: the element and the API explain a digit', async () => {
  servers.push(await serve(site));
  await check(page('./node_modules/saliency-viewer'), 'same-origin');
});

test('the package served from another origin (a CDN): the worker still starts', async () => {
  const cdn = await serve(path.join(site, 'node_modules', 'saliency-viewer'), { cors: true });
  servers.push(cdn);
  await check(page(cdn.origin), 'cross-origin');
  assert.ok(cdn.requests.some((r) => r.endsWith('saliency_bg.wasm')), 'the wasm came from the CDN');
});

test('the .d.ts files type-check an example of the API and the element (tsc --noEmit)', () => {
  fs.writeFileSync(path.join(site, 'example.ts'), `import { load, catalog, type Explanation, type ErrorKind } from 'saliency-viewer';
import type { SaliencyViewerElement } from 'saliency-viewer/element';

async function main(bytes: Uint8Array): Promise<number> {
  const c = await catalog();
  const ids: string[] = c.methods.map((m) => m.id);
  const model = await load({ url: 'models/mnist_cam.onnx', sidecar: { labels: [] }, onProgress: (f: number) => void f });
  const input = await model.setInput(bytes, { k: 3 });
  const e: Explanation = await model.explain({ method: ids[0], params: { steps: 8 }, target: input.top[0].index });
  const map = await e.render({ width: 64, height: 64, colormap: c.display.colormaps[0], sign: 'auto' });
  const kind: ErrorKind = 'parameter';
  void kind;
  const el = document.querySelector('saliency-viewer') as SaliencyViewerElement | null;
  el?.addEventListener('prediction', (ev) => console.log(ev.detail[0].label));
  const values: Float32Array = await e.values();
  const box = await e.localize({ threshold: 0.5, truth: [0, 0, 8, 8] });
  void box;
  await e.forget();
  await model.dispose();
  return map.rgba.length + values.length + model.info.classes;
}
void main;
`);
  const tsc = path.join(path.dirname(new URL(import.meta.url).pathname), 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync('node', [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom', 'example.ts'], { cwd: site, stdio: 'inherit' });
});

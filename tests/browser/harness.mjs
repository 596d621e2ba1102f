// Test harness: a static server for ../../www mounted under a sub-path (as GitHub Pages would
// host it) that logs every request, and Debian's Chromium driven by playwright-core.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WWW = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../www');
export const SUBPATH = '/viewer/';
export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.wasm': 'application/wasm', '.onnx': 'application/octet-stream', '.png': 'image/png', '.jpg': 'image/jpeg', '.npy': 'application/octet-stream' };

/// `extra`: more folders served beside the site, by prefix (`{ '__zoo__/': dir }`).
export async function startServer(extra = {}) {
  const roots = { '__fixtures__/': FIXTURES, ...extra };
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url);
    const url = new URL(req.url, 'http://x');
    if (!url.pathname.startsWith(SUBPATH)) { res.writeHead(404).end(); return; }
    let rel = decodeURIComponent(url.pathname.slice(SUBPATH.length)) || 'index.html';
    // The test fixtures (user-exported models) are served beside the site, as a user's own
    // models would be: /viewer/__fixtures__/user/se_dynamo.onnx.
    const prefix = Object.keys(roots).find((p) => rel.startsWith(p));
    const root = prefix ? roots[prefix] : WWW;
    if (prefix) rel = rel.slice(prefix.length);
    const file = path.join(root, rel);
    if (!file.startsWith(root) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) { res.writeHead(404).end(); return; }
    const body = fs.readFileSync(file);
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { server, origin, url: `${origin}${SUBPATH}`, requests };
}

/// `options`: more settings of the browser context (a viewport; `bypassCSP` for tests that inject
/// scripts such as axe-core into the CSP-protected pages).
export async function launch(extraArgs = [], options = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saliency-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', ...extraArgs],
    ...options,
  });
  return { context, close: async () => { await context.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

/// Refuses and records every request that leaves the test server's origin.
export async function guardOrigin(context, origin, foreign) {
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (!u.startsWith(origin + '/') && !u.startsWith('blob:') && !u.startsWith('data:')) { foreign.push(u); return route.abort(); }
    return route.continue();
  });
}

/// Collects a page's console errors and uncaught exceptions.
export function watchErrors(page, errors) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e}`));
  return page;
}

/// A float32 little-endian .npy file's shape and values.
export function readNpy(file) {
  const b = fs.readFileSync(file);
  const hlen = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + hlen).toString('latin1');
  if (!header.includes("'<f4'")) throw new Error(`${file}: not float32: ${header}`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + 10 + hlen, b.byteOffset + b.length));
  return { shape, data };
}

/// The set-up every page suite shares: the test server, Debian's Chromium with requests off the
/// origin refused and recorded, both closed after the suite. Registers node:test's `before` and
/// `after`; the returned object's `srv` and `browser` are set once `before` has run, and its
/// `errors` (console errors, given to `watchErrors`) and `foreign` (refused requests) fill up.
/// `ready(site)`: the suite's own set-up, run once both are up (node:test may start separate
/// `before` hooks together).
export function siteSuite(hooks, options = {}, ready = null) {
  const site = { srv: null, browser: null, errors: [], foreign: [] };
  hooks.before(async () => {
    site.srv = await startServer();
    site.browser = await launch([], options);
    await guardOrigin(site.browser.context, site.srv.origin, site.foreign);
    await ready?.(site);
  });
  hooks.after(async () => {
    await site.browser?.close();
    site.srv?.server.close();
  });
  return site;
}

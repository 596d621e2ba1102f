// A user's own models in the viewer (issue: bring your own model): today's default PyTorch export
// dropped as its two files (.onnx + .onnx.data) and through the element (which fetches the .data
// beside the .onnx), the .onnx alone (one error naming the missing file), a channels-last and a
// four-channel net on a photo, and a two-channel net that takes only .npy tensors. Fixtures:
// tests/fixtures/user (tests/fixtures/make_user_exports.py).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { siteSuite, watchErrors, FIXTURES, readNpy } from './harness.mjs';

const USER = path.join(FIXTURES, 'user');
const KERAS = path.join(FIXTURES, 'keras');
const ARTIFACTS = path.join(path.dirname(new URL(import.meta.url).pathname), 'artifacts');
fs.mkdirSync(ARTIFACTS, { recursive: true });
let page;
const site = siteSuite({ before, after }, {}, async () => {
  page = watchErrors(await site.browser.context.newPage(), site.errors);
  await page.goto(site.srv.url);
  await page.waitForFunction(() => document.body.dataset.top1 && document.body.dataset.busy === '0', null, { timeout: 120_000 });
});
const { errors, foreign } = site;

const file = (name, dir = USER) => ({ name, mimeType: 'application/octet-stream', buffer: fs.readFileSync(path.join(dir, name)) });
const idle = () => page.waitForFunction(() => document.body.dataset.busy === '0', null, { timeout: 120_000 });

async function dropModel(files, title) {
  await page.setInputFiles('#file-input', files);
  await page.waitForFunction((t) => document.body.dataset.busy === '0'
    && (document.querySelector('#model-select option:checked')?.textContent.includes(t) || !document.getElementById('error').hidden), title, { timeout: 120_000 });
}

async function explainAll(label) {
  const methods = await page.locator('#method-select option:not([disabled])').evaluateAll((os) => os.map((o) => o.value));
  for (const m of methods) {
    await page.selectOption('#method-select', m);
    await page.waitForFunction((mm) => document.body.dataset.busy === '0'
      && ((document.body.dataset.explained ?? '').startsWith(mm + ':') || !document.getElementById('error').hidden), m, { timeout: 120_000 });
    assert.ok(await page.locator('#error').isHidden(), `${label}/${m}: ${await page.locator('#error').textContent()}`);
    assert.ok(await page.locator('#heat-canvas').isVisible(), `${label}/${m}: heatmap drawn`);
  }
  return methods;
}

test('the .onnx of a default PyTorch export without its .data: one error naming the file', async () => {
  await dropModel([file('se_dynamo.onnx')], 'se_dynamo.onnx');
  assert.match(await page.locator('#error').textContent(), /se_dynamo\.onnx\.data/);
  // The previous model still works.
  assert.match(await page.locator('#model-select option:checked').textContent(), /EfficientNet/);
});

test('a default PyTorch export dropped as its two files: a prediction and every method\'s map', async () => {
  await dropModel([file('se_dynamo.onnx'), file('se_dynamo.onnx.data')], 'se_dynamo.onnx');
  assert.ok(await page.locator('#error').isHidden(), await page.locator('#error').textContent());
  await idle();
  assert.equal(await page.locator('#top-k li').count(), 5);
  const methods = await explainAll('se_dynamo');
  for (const m of ['gradient', 'integrated-gradients', 'grad-cam', 'cam', 'lrp']) assert.ok(methods.includes(m), `${m} offered: ${methods}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'own-model-torch-export.png'), fullPage: true });
});

test('channels-last nets (a torch permute, a real Keras export through tf2onnx) and a four-channel net explain a photo', async () => {
  for (const [name, shape, dir, classes] of [['nhwc.onnx', '3×16×16', USER, 4], ['keras_nhwc.onnx', '3×20×20', KERAS, 5], ['rgba.onnx', '4×16×16', USER, 5]]) {
    const files = [file(name, dir), ...(fs.existsSync(path.join(dir, `${name}.data`)) ? [file(`${name}.data`, dir)] : [])];
    await dropModel(files, name);
    assert.ok(await page.locator('#error').isHidden(), `${name}: ${await page.locator('#error').textContent()}`);
    await idle();
    assert.match(await page.locator('#model-about').textContent(), new RegExp(shape), name);
    assert.equal(await page.locator('#top-k li').count(), classes, name);
    await explainAll(name);
  }
});

test('a two-channel net asks for a tensor, then explains a dropped .npy', async () => {
  await dropModel([file('two_channel.onnx')], 'two_channel.onnx');
  await idle();
  assert.match(await page.locator('#error').textContent(), /2-channel inputs.*\.npy tensor of shape \[1, 2, 20, 24\]/);
  await page.setInputFiles('#file-input', file('two_channel.input.npy'));
  await page.waitForFunction(() => document.body.dataset.busy === '0' && /two_channel\.input\.npy/.test(document.getElementById('image-caption').textContent), null, { timeout: 60_000 });
  assert.ok(await page.locator('#error').isHidden(), await page.locator('#error').textContent());
  assert.equal(await page.locator('#top-k li').count(), 4);
  await explainAll('two_channel');
});

test('the element fetches a default export\'s .data from beside its .onnx', async () => {
  const p2 = watchErrors(await site.browser.context.newPage(), errors);
  await p2.goto(`${site.srv.url}embed-demo.html`);
  await p2.evaluate(() => {
    const el = document.createElement('saliency-viewer');
    el.id = 'own';
    el.setAttribute('model', '__fixtures__/user/se_dynamo.onnx');
    el.setAttribute('image', 'images/chelsea.png');
    el.setAttribute('method', 'grad-cam');
    document.querySelector('main, body').append(el);
  });
  await p2.waitForFunction(() => document.getElementById('own').dataset.explained?.startsWith('grad-cam:') || document.getElementById('own').dataset.error, null, { timeout: 120_000 });
  assert.equal(await p2.evaluate(() => document.getElementById('own').dataset.error ?? ''), '');
  assert.ok(site.srv.requests.some((r) => r.endsWith('/__fixtures__/user/se_dynamo.onnx.data')), 'the .data was fetched');
  await p2.close();
});

test('in the browser, every user export matches its Captum / Zennit reference as natively', async () => {
  // The fixtures of tests/user_models.rs (torch's three exporters, a real Keras export, GatherND
  // pools), through the JS API in the page's worker: the wasm build's maps against the same
  // float64 references, within the reference nets' 1e-4. (In wasm tract once kept a layer
  // channels-last, and Grad-CAM read it scrambled: this is where such a difference shows.)
  const nets = [];
  for (const dir of ['user', 'keras', 'gathernd']) {
    for (const net of JSON.parse(fs.readFileSync(path.join(FIXTURES, dir, 'index.json'), 'utf8')).nets) nets.push({ ...net, dir });
  }
  const refs = {};
  for (const net of nets) for (const c of net.cases) refs[`${net.dir}/${c.file}`] = Array.from(readNpy(path.join(FIXTURES, net.dir, c.file)).data);
  const got = await page.evaluate(async (nets) => {
    const s = await import('./saliency.js');
    const out = {};
    for (const net of nets) {
      const m = await s.load({ url: `__fixtures__/${net.dir}/${net.onnx}` });
      await m.setInput(new Uint8Array(await (await fetch(`__fixtures__/${net.dir}/${net.input}`)).arrayBuffer()));
      for (const c of net.cases) {
        const { rule, baseline, ...params } = c.params;
        if (baseline !== undefined && baseline !== 0) throw new Error(`${net.net}: baseline ${baseline}`);
        if (rule) params.ig_rule = rule;
        try {
          const e = await m.explain({ method: c.method, params, target: c.target });
          out[`${net.dir}/${c.file}`] = Array.from(await e.values());
          await e.forget();
        } catch (e) {
          out[`${net.dir}/${c.file}`] = `${e.name}: ${e.message}`;
        }
      }
      await m.dispose();
    }
    return out;
  }, nets);
  const bad = [];
  for (const [key, want] of Object.entries(refs)) {
    const v = got[key];
    if (typeof v === 'string') { bad.push(`${key}: ${v}`); continue; }
    let d = 0;
    let n = 0;
    for (let i = 0; i < want.length; i++) { d += (v[i] - want[i]) ** 2; n += want[i] ** 2; }
    const err = Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
    if (!(v.length === want.length && err <= 1e-4)) bad.push(`${key}: rel-L2 ${err.toExponential(1)} (${v.length} values, ${want.length} expected)`);
  }
  assert.ok(Object.keys(refs).length >= 60, `${Object.keys(refs).length} cases`);
  assert.deepEqual(bad, []);
});

test('no console error, no request off the origin', () => {
  assert.deepEqual(errors, []);
  assert.deepEqual(foreign, []);
});

// The served viewer in Debian Chromium: loads with no console error, classifies the default
// photo, switches models, survives a corrupt model, and never talks to another origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, launch, WWW } from './harness.mjs';

const ARTIFACTS = path.join(path.dirname(new URL(import.meta.url).pathname), 'artifacts');
fs.mkdirSync(ARTIFACTS, { recursive: true });
const CLI = path.join(WWW, '..', 'target', 'release', 'saliency');

/// Pixel statistics of the heatmap canvas: distinct colours and a hash (to see it change).
async function heatStats(p = page) {
  return p.evaluate(() => {
    const c = document.querySelector('[data-testid=heatmap]');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let h = 0;
    for (let i = 0; i < d.length; i += 4) { colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]); h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0; }
    return { colours: colours.size, hash: h };
  });
}

let srv, browser, page;
const consoleErrors = [];
const foreign = [];

before(async () => {
  srv = await startServer();
  browser = await launch();
  // Every request of the page and its worker passes here; anything off-origin is recorded and refused.
  await browser.context.route('**/*', (route) => {
    const u = route.request().url();
    if (!u.startsWith(srv.origin + '/') && !u.startsWith('blob:') && !u.startsWith('data:')) { foreign.push(u); return route.abort(); }
    return route.continue();
  });
  browser.context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(srv.origin + '/') && !u.startsWith('blob:') && !u.startsWith('data:')) foreign.push(u);
  });
  page = await browser.context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
});

after(async () => {
  await browser?.close();
  srv?.server.close();
});

async function waitIdle() {
  await page.waitForFunction(() => document.body.dataset.busy === '0', null, { timeout: 120_000 });
}

test('opens on the bundled photo, classified by EfficientNet-Lite0', async () => {
  const t0 = Date.now();
  await page.goto(srv.url);
  await page.waitForFunction(() => document.body.dataset.top1, null, { timeout: 120_000 });
  await waitIdle();
  console.log(`# page open -> first prediction: ${Date.now() - t0} ms`);
  await page.waitForFunction(() => document.body.dataset.explained, null, { timeout: 120_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'cat-gradient.png'), fullPage: true });
  const top = await page.locator('#top-k li .label').allTextContents();
  assert.equal(top.length, 5);
  assert.match(top[0], /cat/i, `top-5 was ${top}`);
  assert.match(await page.locator('#model-select option:checked').textContent(), /EfficientNet/i);
  assert.deepEqual(consoleErrors, []);
});

test('switching to an MNIST net classifies a bundled digit', async () => {
  const idx = await page.locator('#model-select option').evaluateAll((os) => os.findIndex((o) => /CAM/i.test(o.textContent) && /MNIST/i.test(o.textContent)));
  assert.ok(idx >= 0, 'the MNIST CAM net is listed');
  await page.selectOption('#model-select', String(idx));
  await page.waitForFunction(() => document.body.dataset.busy === '0' && /digit/i.test(document.getElementById('image-caption').textContent), null, { timeout: 60_000 });
  const caption = await page.locator('#image-caption').textContent();
  const digit = caption.match(/(\d)/)[1];
  assert.equal(await page.locator('#top-k li .label').first().textContent(), digit, caption);
  // The digits come first, as made for this model; the shoes and the face are set apart.
  const groups = await page.locator('#image-select optgroup').evaluateAll((gs) => gs.map((g) => [g.label, [...g.children].map((o) => o.textContent)]));
  assert.equal(groups[0][0], 'Made for this model');
  assert.ok(groups[0][1].every((t) => /MNIST/.test(t)) && groups[0][1].length === 12, JSON.stringify(groups[0]));
  assert.match(groups[1][0], /^Other images/);
  assert.ok(groups[1][1].some((t) => /Fashion/.test(t)), JSON.stringify(groups[1]));
  assert.deepEqual(consoleErrors, []);
});

test('every method explains the digit and draws a heatmap with a legend', async () => {
  const methods = await page.locator('#method-select option:not([disabled])').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(methods, ['gradient', 'gradient-x-input', 'guided-backprop', 'integrated-gradients', 'smoothgrad', 'grad-cam', 'cam', 'lrp']);
  for (const m of methods) {
    await page.selectOption('#method-select', m);
    await page.waitForFunction((mm) => document.body.dataset.busy === '0' && (document.body.dataset.explained ?? '').startsWith(mm + ':'), m, { timeout: 60_000 });
    assert.ok(await page.locator('#heat-canvas').isVisible(), `${m}: heatmap drawn`);
    assert.ok(await page.locator('#legend').isVisible(), `${m}: legend shown`);
    assert.ok(await page.locator('#error').isHidden(), `${m}: ${await page.locator('#error').textContent()}`);
    const stats = await page.locator('#explain-stats').textContent();
    assert.match(stats, new RegExp(`^${m} for`), stats);
    if (m === 'integrated-gradients') {
      assert.match(stats, /completeness gap/);
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      if (cores > 1) assert.match(stats, new RegExp(`on ${Math.min(cores, 8)} workers`), stats);
    }
    if (m === 'lrp') {
      assert.match(stats, /Σ relevance .* absorbed/);
      assert.ok(await page.locator('#lrp-box').isVisible(), 'the per-layer relevance plot is shown');
    }
  }
  // LRP: a custom rule table (the library's list of (layers, rule) pairs) and the layered preset.
  await page.selectOption('#method-params select[name=composite]', 'custom');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && document.querySelector('.rule-table'), null, { timeout: 30_000 });
  await page.selectOption('.rule-table select[name=rule-1]', 'alpha-beta');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && document.querySelector('.rule-table input[name=param-1-0]'), null, { timeout: 30_000 });
  await page.fill('.rule-table input[name=layers-1]', '1-2');
  await page.locator('.rule-table input[name=layers-1]').dispatchEvent('change');
  await page.waitForFunction(() => document.body.dataset.busy === '0', null, { timeout: 30_000 });
  assert.ok(await page.locator('#error').isHidden(), await page.locator('#error').textContent());
  await page.fill('.rule-table input[name=layers-1]', '9-x');
  await page.locator('.rule-table input[name=layers-1]').dispatchEvent('change');
  await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
  assert.match(await page.locator('#error').textContent(), /bad layer selection '9-x'/);
  await page.fill('.rule-table input[name=layers-1]', '1-');
  await page.locator('.rule-table input[name=layers-1]').dispatchEvent('change');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && document.getElementById('error').hidden, null, { timeout: 30_000 });
  await page.selectOption('#method-params select[name=composite]', 'layered');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && /Σ relevance/.test(document.getElementById('explain-stats').textContent), null, { timeout: 30_000 });
  assert.ok(await page.locator('#error').isHidden(), await page.locator('#error').textContent());
  // Clicking another class explains that class.
  const second = await page.locator('#top-k li').nth(1).getAttribute('data-index');
  await page.locator('#top-k li').nth(1).click();
  await page.waitForFunction((t) => document.body.dataset.busy === '0' && document.body.dataset.explained === `lrp:${t}`, second, { timeout: 30_000 });
  // A display change redraws without recomputing.
  await page.selectOption('#display-params select[name=colormap]', 'viridis');
  await page.waitForFunction(() => document.body.dataset.busy === '0', null, { timeout: 30_000 });
  assert.ok(await page.locator('#error').isHidden());
  await page.selectOption('#method-select', 'gradient');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && (document.body.dataset.explained ?? '').startsWith('gradient:'), null, { timeout: 30_000 });
  assert.deepEqual(consoleErrors, []);
});

test('stable hooks drive the viewer; heatmaps change and are not blank; values match the native CLI', async () => {
  assert.equal(await page.locator('#viewer').getAttribute('data-state'), 'ready');
  await page.selectOption('[data-testid=image-select]', { label: 'MNIST digit 7' });
  await page.waitForFunction(() => document.body.dataset.busy === '0' && /digit 7/.test(document.getElementById('image-caption').textContent), null, { timeout: 30_000 });
  await page.selectOption('[data-testid=method-select]', 'gradient');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && (document.body.dataset.explained ?? '').startsWith('gradient:'), null, { timeout: 30_000 });
  const a = await heatStats();
  assert.ok(a.colours > 20, `gradient heatmap has ${a.colours} colours`);
  await page.selectOption('[data-testid=method-select]', 'grad-cam');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && (document.body.dataset.explained ?? '').startsWith('grad-cam:'), null, { timeout: 30_000 });
  const layers = await page.locator('[data-testid=layer-select] option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(layers.length >= 3, layers.join());
  const b = await heatStats();
  assert.ok(b.colours > 20 && b.hash !== a.hash, 'the heatmap changed with the method');
  await page.selectOption('[data-testid=layer-select]', layers[1]);
  await page.waitForFunction((l) => document.body.dataset.busy === '0' && JSON.parse(document.getElementById('viewer').dataset.explanation).request.layer === l, layers[1], { timeout: 30_000 });
  assert.notEqual((await heatStats()).hash, b.hash, 'the heatmap changed with the layer');
  await page.screenshot({ path: path.join(ARTIFACTS, 'mnist-grad-cam.png'), fullPage: true });

  // IG: the completeness gap shown is the native CLI's on the same image, both with their
  // default baseline (the library's one default: the constant 0 in model-input units).
  await page.selectOption('[data-testid=method-select]', 'integrated-gradients');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && (document.body.dataset.explained ?? '').startsWith('integrated-gradients:'), null, { timeout: 30_000 });
  const shown = JSON.parse(await page.locator('#viewer').getAttribute('data-explanation'));
  assert.deepEqual(shown.request.baseline, { kind: 'constant', value: 0 });
  const out = path.join(ARTIFACTS, 'ig.npy');
  const cli = JSON.parse(execFileSync(CLI, ['explain', '--model', path.join(WWW, 'models', 'mnist_cam.onnx'), '--input', path.join(WWW, 'models', 'images', 'digit_7.png'),
    '--method', 'integrated-gradients', '--steps', String(shown.request.steps), '--target', String(shown.target), '--out', out], { encoding: 'utf8' }));
  assert.ok(Math.abs(cli.score - shown.score) < 1e-4, `score ${shown.score} vs CLI ${cli.score}`);
  assert.ok(Math.abs(cli.completeness_gap - shown.completeness_gap) < 1e-3, `gap ${shown.completeness_gap} vs CLI ${cli.completeness_gap}`);

  // Rapid slider moves: the newest value wins.
  for (const v of [200, 600, 900, 300]) {
    await page.locator('#method-params input[name=steps]').evaluate((r, pos) => { r.value = String(pos); r.dispatchEvent(new Event('change')); }, v);
  }
  await page.waitForFunction(() => document.body.dataset.busy === '0' && JSON.parse(document.getElementById('viewer').dataset.explanation).request.steps === 16, null, { timeout: 60_000 });
  assert.ok(await page.locator('#error').isHidden(), await page.locator('#error').textContent());
  assert.equal(await page.locator('#viewer').getAttribute('data-state'), 'ready');
  await page.selectOption('[data-testid=method-select]', 'gradient');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && (document.body.dataset.explained ?? '').startsWith('gradient:'), null, { timeout: 30_000 });
});

test('a long integrated-gradients run shows progress and can be cancelled', async () => {
  await page.selectOption('[data-testid=method-select]', 'integrated-gradients');
  await page.waitForFunction(() => document.body.dataset.busy === '0', null, { timeout: 30_000 });
  await page.locator('#method-params input[name=steps]').evaluate((r) => { r.value = '1000'; r.dispatchEvent(new Event('change')); }); // 10 000 steps
  await page.waitForSelector('#cancel:not([hidden])', { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid=progress]').value > 0, null, { timeout: 60_000 });
  await page.click('#cancel');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && document.getElementById('explain-stats').textContent === 'Cancelled.', null, { timeout: 60_000 });
  assert.ok(await page.locator('#error').isHidden());
  await page.selectOption('[data-testid=method-select]', 'gradient');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && (document.body.dataset.explained ?? '').startsWith('gradient:'), null, { timeout: 30_000 });
});

test('the comparison grid: all methods, Grad-CAM by layer, and a panel edited from the controls', async () => {
  await page.click('#compare summary');
  await page.click('#compare-methods');
  await page.waitForFunction(() => document.querySelectorAll('#compare-grid .panel[data-done]').length === 8, null, { timeout: 60_000 });
  await page.click('#compare-layers');
  await page.waitForFunction(() => {
    const ps = document.querySelectorAll('#compare-grid .panel');
    return ps.length > 8 && [...ps].every((p) => p.dataset.done);
  }, null, { timeout: 60_000 });
  const titles = await page.locator('#compare-grid .panel-title').allTextContents();
  assert.ok(titles.filter((t) => t.startsWith('Grad-CAM')).length >= 3, titles.join('\n'));
  const stats = await page.locator('#compare-grid .panel-stats').allTextContents();
  assert.ok(stats.every((t) => !t.startsWith('error')), stats.join('\n'));
  // Edit the first panel (gradient): switching the method in the controls changes that panel.
  await page.locator('#compare-grid .panel-edit').first().click();
  await page.selectOption('#method-select', 'smoothgrad');
  await page.waitForFunction(() => document.querySelector('#compare-grid .panel.selected .panel-title')?.textContent.startsWith('SmoothGrad')
    && document.querySelector('#compare-grid .panel.selected .panel-stats').textContent.includes('ms'), null, { timeout: 60_000 });
  assert.match(await page.locator('#compare-grid .panel').nth(1).locator('.panel-title').textContent(), /^Gradient × input/);
  await page.click('#compare-clear');
  assert.equal(await page.locator('#compare-grid .panel').count(), 0);
  await page.selectOption('#method-select', 'gradient');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && (document.body.dataset.explained ?? '').startsWith('gradient:'), null, { timeout: 30_000 });
  assert.ok(await page.locator('#error').isHidden(), await page.locator('#error').textContent());
});

test('a painted patch and a drawn digit become new inputs; exports download', async () => {
  // Paint a white patch over the middle of the digit: the input changes and is re-classified.
  await page.click('#patch-toggle');
  await page.evaluate(() => window.scrollTo(0, 0));
  const box = await page.locator('.stack').boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 4 });
  await page.mouse.up();
  await page.waitForFunction(() => document.body.dataset.busy === '0' && /patched/.test(document.getElementById('image-caption').textContent), null, { timeout: 30_000 });
  // The same by keyboard: the rectangle's fields and the Paint button.
  await page.fill('#patch-x', '4');
  await page.fill('#patch-y', '10');
  await page.fill('#patch-w', '20');
  await page.fill('#patch-h', '6');
  await page.focus('#patch-paint');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && /patched \(20×6 at 4,10\)/.test(document.getElementById('image-caption').textContent), null, { timeout: 30_000 });
  await page.click('#patch-toggle');
  assert.equal(await page.locator('#top-k li').count(), 5);
  // Draw a vertical stroke: a "1".
  assert.ok(await page.locator('#draw-box').isVisible(), 'the drawing pad is offered for 28x28 gray models');
  await page.locator('#draw-canvas').scrollIntoViewIfNeeded();
  const pad = await page.locator('#draw-canvas').boundingBox();
  await page.mouse.move(pad.x + pad.width / 2, pad.y + pad.height * 0.15);
  await page.mouse.down();
  await page.mouse.move(pad.x + pad.width / 2, pad.y + pad.height * 0.85, { steps: 8 });
  await page.mouse.up();
  await page.waitForFunction(() => document.body.dataset.busy === '0' && /drawing/.test(document.getElementById('image-caption').textContent), null, { timeout: 30_000 });
  assert.equal(await page.locator('#top-k li .label').first().textContent(), '1');
  // The same digit by keyboard: clear, move the pen to the top, lower it, walk down, classify.
  await page.focus('#draw-canvas');
  await page.keyboard.press('Delete');
  for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowUp');
  await page.keyboard.press(' ');
  for (let i = 0; i < 19; i++) await page.keyboard.press('ArrowDown');
  assert.match(await page.locator('#draw-status').textContent(), /row 24, down/);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && /drawing/.test(document.getElementById('image-caption').textContent), null, { timeout: 30_000 });
  assert.equal(await page.locator('#top-k li .label').first().textContent(), '1', 'a keyboard-drawn stroke reads as a one');
  // Exports.
  for (const [button, name] of [['#export-npy', /\.npy$/], ['#export-heat', /\.png$/], ['#export-overlay', /\.png$/]]) {
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click(button)]);
    assert.match(dl.suggestedFilename(), name);
    const bytes = fs.readFileSync(await dl.path());
    assert.ok(bytes.length > 20, `${button}: ${bytes.length} bytes`);
    if (button === '#export-npy') assert.equal(bytes.subarray(0, 6).toString('latin1'), '\x93NUMPY');
  }
  await page.click('#image-reset');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && !/drawing|patched/.test(document.getElementById('image-caption').textContent), null, { timeout: 30_000 });
  // A phone-sized screen: nothing wider than the viewport.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: path.join(ARTIFACTS, 'phone.png'), fullPage: false });
  await page.setViewportSize({ width: 1280, height: 720 });
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone screen`);
  assert.deepEqual(consoleErrors, []);
});

test('an IG baseline loaded from a .npy file gives the same result as the same baseline built in', async () => {
  // A .npy of the black baseline (pixel 0 under the sidecar's normalisation) for the 28x28 net.
  const side = JSON.parse(fs.readFileSync(path.join(WWW, 'models', 'mnist_cam.json'), 'utf8'));
  const black = Math.fround(Math.fround(0 - side.preprocess.mean[0]) / side.preprocess.std[0]);
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), }";
  const pad = 64 - ((10 + header.length + 1) % 64);
  const head = Buffer.from(`\x93NUMPY\x01\x00`, 'latin1');
  const h = Buffer.from(header + ' '.repeat(pad) + '\n', 'latin1');
  const len = Buffer.alloc(2); len.writeUInt16LE(h.length);
  const body = Buffer.from(new Float32Array(784).fill(black).buffer);
  const file = path.join(ARTIFACTS, 'black-baseline.npy');
  fs.writeFileSync(file, Buffer.concat([head, len, h, body]));
  await page.selectOption('[data-testid=method-select]', 'integrated-gradients');
  // (The cancelled run above left 10 000 steps: back to 32.)
  await page.locator('#method-params input[name=steps]').evaluate((r) => { r.value = '376'; r.dispatchEvent(new Event('change')); });
  await page.waitForFunction(() => document.body.dataset.busy === '0' && JSON.parse(document.getElementById('viewer').dataset.explanation).request.steps === 32, null, { timeout: 60_000 });
  await page.selectOption('#method-params select[name=baseline]', 'black');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && JSON.parse(document.getElementById('viewer').dataset.explanation).request.baseline.kind === 'black', null, { timeout: 30_000 });
  const builtIn = JSON.parse(await page.locator('#viewer').getAttribute('data-explanation'));
  await page.selectOption('#method-params select[name=baseline]', 'tensor');
  await page.setInputFiles('#method-params input[name=tensor_values]', file);
  await page.waitForFunction(() => document.body.dataset.busy === '0' && JSON.parse(document.getElementById('viewer').dataset.explanation).request.baseline.kind === 'tensor', null, { timeout: 30_000 });
  const loaded = JSON.parse(await page.locator('#viewer').getAttribute('data-explanation'));
  assert.ok(Math.abs(loaded.completeness_gap - builtIn.completeness_gap) < 1e-6, `gap with the file ${loaded.completeness_gap} vs built in ${builtIn.completeness_gap}`);
  // A file of the wrong size is refused with a message; the view keeps working.
  const bad = path.join(ARTIFACTS, 'bad-baseline.npy');
  fs.writeFileSync(bad, Buffer.concat([head, len, h, body.subarray(0, 400)]));
  await page.setInputFiles('#method-params input[name=tensor_values]', bad);
  await page.waitForFunction(() => /not usable/.test(document.getElementById('method-params').textContent), null, { timeout: 10_000 });
  await page.selectOption('#method-params select[name=baseline]', 'black');
  await page.selectOption('[data-testid=method-select]', 'gradient');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && (document.body.dataset.explained ?? '').startsWith('gradient:'), null, { timeout: 30_000 });
  assert.ok(await page.locator('#error').isHidden(), await page.locator('#error').textContent());
});

test('the URL restores model, image, method, parameters and target', async () => {
  const params = encodeURIComponent(JSON.stringify({ steps: 8, ig_rule: 'riemann-middle', baseline: 'white', constant_value: 0, blurred_sigma: 5, noise_seed: 0 }));
  const page2 = await browser.context.newPage();
  page2.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page2.goto(`${srv.url}#model=mnist_lrp&image=images/digit_3.png&method=integrated-gradients&params=${params}&target=5`);
  await page2.waitForFunction(() => document.body.dataset.busy === '0' && document.body.dataset.explained === 'integrated-gradients:5', null, { timeout: 60_000 });
  assert.match(await page2.locator('#model-select option:checked').textContent(), /LRP/);
  assert.match(await page2.locator('#image-caption').textContent(), /digit 3/);
  assert.equal(await page2.locator('#method-params select[name=ig_rule]').inputValue(), 'riemann-middle');
  assert.equal(await page2.locator('#method-params select[name=baseline]').inputValue(), 'white');
  assert.match(await page2.locator('#explain-stats').textContent(), /completeness gap/);
  assert.match(page2.url(), /method=integrated-gradients/);
  await page2.close();
});

test('a corrupt model gives a clear message and the previous model keeps working', async () => {
  const before = await page.locator('#model-select').inputValue();
  await page.setInputFiles('#file-input', { name: 'broken.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not an ONNX file at all') });
  await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
  const msg = await page.locator('#error').textContent();
  assert.match(msg, /broken\.onnx/);
  assert.match(msg, /not a valid ONNX file|cannot interpret model/);
  assert.equal(await page.locator('#model-select').inputValue(), before);
  // Still works: pick another digit.
  const other = await page.locator('#image-select option').evaluateAll((os) => os.findIndex((o) => /3/.test(o.textContent)));
  const value = await page.locator('#image-select option').nth(other).getAttribute('value');
  await page.selectOption('#image-select', value);
  await page.waitForFunction(() => document.body.dataset.busy === '0' && /3/.test(document.getElementById('image-caption').textContent), null, { timeout: 30_000 });
  assert.equal(await page.locator('#top-k li .label').first().textContent(), '3');
  assert.ok(await page.locator('#error').isHidden());
});

test('a dropped model with its sidecar, and a dropped image, work without any request', async () => {
  const n = srv.requests.length;
  const file = (name, type) => ({ name, mimeType: type, buffer: fs.readFileSync(path.join(WWW, 'models', name)) });
  await page.setInputFiles('#file-input', [file('fashion_bn.onnx', 'application/octet-stream'), file('fashion_bn.json', 'application/json')]);
  await page.waitForFunction(() => document.body.dataset.busy === '0' && /Your model/.test(document.querySelector('#model-select option:checked').textContent), null, { timeout: 60_000 });
  const sneaker = fs.readdirSync(path.join(WWW, 'models', 'images')).find((f) => /^fashion_.*sneaker/i.test(f));
  if (sneaker) {
    await page.setInputFiles('#file-input', { name: sneaker, mimeType: 'image/png', buffer: fs.readFileSync(path.join(WWW, 'models', 'images', sneaker)) });
    await page.waitForFunction((s) => document.body.dataset.busy === '0' && document.getElementById('image-caption').textContent.includes(s), sneaker, { timeout: 30_000 });
    assert.equal(await page.locator('#top-k li .label').first().textContent(), 'Sneaker');
  }
  assert.deepEqual(srv.requests.slice(n), [], 'dropping local files must not cause requests');
  assert.ok(await page.locator('#error').isHidden(), await page.locator('#error').textContent());
});

test('a model dropped without a sidecar asks for its input, prefilled from the model', async () => {
  await page.setInputFiles('#file-input', { name: 'mnist_cam.onnx', mimeType: 'application/octet-stream', buffer: fs.readFileSync(path.join(WWW, 'models', 'mnist_cam.onnx')) });
  await page.waitForSelector('#sidecar-form:not([hidden])', { timeout: 30_000 });
  assert.equal(await page.locator('#sidecar-form [name=color]').inputValue(), 'gray');
  assert.equal(await page.locator('#sidecar-form [name=height]').inputValue(), '28');
  await page.fill('#sidecar-form [name=mean]', '0.1307');
  await page.fill('#sidecar-form [name=std]', '0.3081');
  await page.fill('#sidecar-form [name=labels]', 'zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine');
  await page.click('#sidecar-form [name=apply]');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && document.getElementById('sidecar-form').hidden && document.querySelector('#top-k li .label')?.textContent.length > 1, null, { timeout: 30_000 });
  const caption = await page.locator('#image-caption').textContent();
  const names = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
  const digit = caption.match(/digit (\d)/);
  if (digit) assert.equal(await page.locator('#top-k li .label').first().textContent(), names[Number(digit[1])]);
  assert.ok(await page.locator('#error').isHidden(), await page.locator('#error').textContent());
});

test('the embeddable element: two viewers on one page share a worker, attributes drive them', async () => {
  const p2 = await browser.context.newPage();
  p2.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  p2.on('pageerror', (e) => consoleErrors.push(String(e)));
  await p2.goto(`${srv.url}embed-demo.html`);
  await p2.waitForFunction(() => document.getElementById('cat').dataset.explained?.startsWith('grad-cam:')
    && document.getElementById('digit').dataset.explained === 'integrated-gradients:3', null, { timeout: 120_000 });
  const gap = async () => Math.abs(Number((await p2.evaluate(() => document.getElementById('digit').lastMeta.completeness_gap))));
  const coarse = await gap();
  await p2.evaluate(() => { const s = document.getElementById('steps'); s.value = '256'; s.dispatchEvent(new Event('change')); });
  await p2.waitForFunction(() => document.getElementById('digit').lastMeta?.seconds !== undefined && JSON.parse(document.getElementById('digit').getAttribute('params')).steps === 256
    && document.getElementById('digit').shadowRoot.querySelector('.stats').textContent.includes('gap'), null, { timeout: 60_000 });
  await p2.waitForFunction((c) => Math.abs(document.getElementById('digit').lastMeta.completeness_gap) < c, coarse, { timeout: 60_000 });
  assert.ok((await gap()) < coarse, `gap with 256 steps ${await gap()} vs 4 steps ${coarse}`);
  // The element's own method control.
  await p2.evaluate(() => { document.getElementById('cat').setAttribute('method', 'cam'); });
  await p2.waitForFunction(() => document.getElementById('cat').dataset.explained?.startsWith('cam:'), null, { timeout: 60_000 });
  assert.equal(await p2.evaluate(() => document.getElementById('cat').dataset.error ?? ''), '');
  await p2.close();
});

test('both wasm builds (SIMD128 and relaxed SIMD) give the native logits in this browser', async () => {
  const fixtures = path.join(WWW, '..', 'tests', 'fixtures');
  const models = ['mnist_cam', 'mnist_lrp', 'fashion_bn', 'emotion', 'efficientnet_lite0'].map((name) => ({
    name,
    onnx: fs.readFileSync(path.join(WWW, 'models', `${name}.onnx`)).toString('base64'),
    sidecar: fs.readFileSync(path.join(WWW, 'models', `${name}.json`), 'utf8'),
    input: fs.readFileSync(path.join(fixtures, `${name}.input.npy`)).toString('base64'),
    pinned: fs.readFileSync(path.join(fixtures, `${name}.tract_logits.npy`)).toString('base64'),
  }));
  const result = await page.evaluate(async (models) => {
    const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const out = {};
    for (const simd of ['plain', 'relaxed']) {
      const w = new Worker(`worker.js?simd=${simd}`, { type: 'module' });
      let id = 0;
      const call = (cmd, args) => new Promise((resolve, reject) => {
        const my = ++id;
        const on = (ev) => { if (ev.data.id !== my || ev.data.progress !== undefined) return; w.removeEventListener('message', on); ev.data.ok ? resolve(ev.data.result) : reject(new Error(ev.data.error.message)); };
        w.addEventListener('message', on);
        w.postMessage({ id: my, cmd, args });
      });
      out[simd] = { variant: await call('simdVariant', {}) };
      for (const m of models) {
        await call('loadModel', { bytes: bytes(m.onnx).buffer, sidecar: m.sidecar, slot: m.name });
        const x = await call('readNpy', { bytes: bytes(m.input).buffer, slot: m.name });
        const { logits: got } = await call('explainTensor', { input: x.buffer, slot: m.name });
        // the pinned file is a float32 .npy: its data is the last 4*n bytes
        const pinnedBytes = bytes(m.pinned);
        const want = new Float32Array(pinnedBytes.buffer.slice(pinnedBytes.length - 4 * got.length));
        out[simd][m.name] = got.reduce((mx, v, i) => Math.max(mx, Math.abs(v - want[i])), 0);
      }
      w.terminate();
    }
    return out;
  }, models);
  console.log(`# max |wasm - native| logits: ${JSON.stringify(result)}`);
  assert.equal(result.plain.variant, 'plain');
  assert.equal(result.relaxed.variant, 'relaxed');
  for (const name of models.map((m) => m.name)) {
    assert.ok(result.plain[name] <= 1e-5, `plain ${name}: ${result.plain[name]}`);
    assert.ok(result.relaxed[name] <= 1e-5, `relaxed ${name}: ${result.relaxed[name]}`);
  }
});

test('no request ever left the page origin, and no console error', () => {
  assert.deepEqual(foreign, []);
  assert.deepEqual(consoleErrors, []);
  assert.ok(srv.requests.every((u) => u.startsWith('/viewer/')), srv.requests.join('\n'));
});

// The teaching pages and the viewer's evaluation tools in Debian Chromium: each page loads
// without errors, its controls change its pictures, and its numbers are the native CLI's on
// the same inputs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { siteSuite, watchErrors, readNpy, WWW } from './harness.mjs';

const ARTIFACTS = path.join(path.dirname(new URL(import.meta.url).pathname), 'artifacts');
fs.mkdirSync(ARTIFACTS, { recursive: true });
const CLI = path.join(WWW, '..', 'target', 'release', 'saliency');
const MODELS = path.join(WWW, 'models');
const cli = (args) => JSON.parse(execFileSync(CLI, args, { encoding: 'utf8' }));

const site = siteSuite({ before, after });
const { errors, foreign } = site;

async function open(file) {
  const page = watchErrors(await site.browser.context.newPage(), errors);
  await page.goto(`${site.srv.url}${file}`);
  return page;
}

/// A hash of an element's heatmap pixels (to see it change) and its number of colours.
const heatOf = (page, id) => page.evaluate((i) => {
  const c = document.getElementById(i).shadowRoot.querySelector('.heat');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  const colours = new Set();
  for (let k = 0; k < d.length; k += 4) { h = (h * 31 + d[k] + 7 * d[k + 1] + 13 * d[k + 2]) >>> 0; colours.add((d[k] << 16) | (d[k + 1] << 8) | d[k + 2]); }
  return { hash: h, colours: colours.size };
}, id);

const explainedAll = (page, ids, timeout = 120_000) => page.waitForFunction((xs) => xs.every((i) => document.getElementById(i).lastMeta), ids, { timeout });
const noPageError = async (page) => assert.equal(await page.evaluate(() => document.body.dataset.error ?? ''), '');

test('CAM page: the sum with the real weights is the CLI\'s map, interpolation and the box threshold change the pictures', async () => {
  const page = await open('learn-cam.html');
  await page.waitForFunction(() => document.body.dataset.camTerms, null, { timeout: 120_000 });
  await explainedAll(page, ['cam-bilinear', 'cam-bicubic', 'cam-effnet']);
  const terms = JSON.parse(await page.evaluate(() => document.body.dataset.camTerms));
  // The page's mean of the map (sum_k w_k mean f_k) is the mean of the CLI's CAM.
  const out = path.join(ARTIFACTS, 'cam7.npy');
  const c = cli(['explain', '--model', path.join(MODELS, 'mnist_cam.onnx'), '--input', path.join(MODELS, 'images', 'digit_7.png'), '--method', 'cam', '--out', out]);
  assert.equal(c.target, terms.target);
  assert.ok(Math.abs(c.score - terms.score) < 1e-3, `score ${terms.score} vs CLI ${c.score}`);
  const map = readNpy(out).data;
  const mean = map.reduce((a, b) => a + b, 0) / map.length;
  assert.ok(Math.abs(mean - terms.mean) < 1e-3 * (1 + Math.abs(mean)), `map mean ${terms.mean} vs CLI ${mean}`);
  // Bilinear and bicubic draw the same map differently.
  const [bl, bc] = [await heatOf(page, 'cam-bilinear'), await heatOf(page, 'cam-bicubic')];
  assert.ok(bl.colours > 50 && bc.colours > 50 && bl.hash !== bc.hash, 'bilinear and bicubic pictures differ');
  // Another digit: a new map and new terms.
  await page.selectOption('#cam-image', 'images/digit_3.png');
  await page.waitForFunction(() => JSON.parse(document.body.dataset.camTerms).target === 3, null, { timeout: 60_000 });
  assert.notEqual((await heatOf(page, 'cam-bilinear')).hash, bl.hash);
  // The box: the CLI's at 50 % (where the lesson opens: at the paper's 20 % the cat's box is
  // the whole image, and the text says so), and a tighter one at 60 %.
  await page.waitForFunction(() => document.getElementById('cam-effnet').dataset.localized, null, { timeout: 60_000 });
  const shown = JSON.parse(await page.evaluate(() => document.getElementById('cam-effnet').dataset.localized));
  const ev = cli(['evaluate', '--model', path.join(MODELS, 'efficientnet_lite0.onnx'), '--input', path.join(MODELS, 'images', 'chelsea.png'), '--method', 'cam', '--metrics', 'box', '--box-threshold', '0.5']);
  assert.notDeepEqual([ev.box.x0, ev.box.y0, ev.box.x1, ev.box.y1], [0, 0, 224, 224], 'a box of its own, not the whole image');
  for (const k of ['x0', 'y0', 'x1', 'y1']) assert.ok(Math.abs(ev.box[k] - shown.bbox[k]) <= 1, `box ${JSON.stringify(shown.bbox)} vs CLI ${JSON.stringify(ev.box)}`);
  await page.evaluate(() => { const s = document.getElementById('box-threshold'); s.value = '0.6'; s.dispatchEvent(new Event('input')); });
  await page.waitForFunction(() => JSON.parse(document.getElementById('cam-effnet').dataset.localized).threshold > 0, null, { timeout: 60_000 });
  await page.waitForFunction((a) => document.getElementById('cam-effnet').dataset.localized !== a, JSON.stringify(shown), { timeout: 60_000 });
  const tight = JSON.parse(await page.evaluate(() => document.getElementById('cam-effnet').dataset.localized));
  assert.ok(tight.component_pixels < shown.component_pixels, `60 % box (${tight.component_pixels} px) is smaller than the 50 % one (${shown.component_pixels} px)`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'learn-cam.png'), fullPage: true });
  await noPageError(page);
  await page.close();
});

test('Grad-CAM page: three layers with their alpha bars, the CLI\'s scores, a new digit changes all three', async () => {
  const page = await open('learn-grad-cam.html');
  await explainedAll(page, ['gc-1', 'gc-2', 'gc-3', 'gc-effnet']);
  await page.waitForFunction(() => ['gc-1', 'gc-2', 'gc-3'].every((i) => document.getElementById(i).dataset.alphas), null, { timeout: 60_000 });
  const alphas = await page.evaluate(() => ['gc-1', 'gc-2', 'gc-3'].map((i) => Number(document.getElementById(i).dataset.alphas)));
  assert.deepEqual(alphas, [32, 64, 128]);
  // The first block's nearly flat map says so beside it (it looked like a rendering fault).
  await page.waitForFunction(() => /Map values/.test(document.getElementById('gc-text-1').textContent), null, { timeout: 60_000 });
  assert.match(await page.locator('#gc-text-1').textContent(), /nearly flat/);
  assert.doesNotMatch(await page.locator('#gc-text-3').textContent(), /nearly flat/);
  const before = await Promise.all(['gc-1', 'gc-2', 'gc-3'].map((i) => heatOf(page, i)));
  assert.equal(new Set(before.map((b) => b.hash)).size, 3, 'three different maps');
  const meta = await page.evaluate(() => document.getElementById('gc-2').lastMeta);
  const out = path.join(ARTIFACTS, 'gc2.npy');
  const c = cli(['explain', '--model', path.join(MODELS, 'mnist_cam.onnx'), '--input', path.join(MODELS, 'images', 'digit_7.png'), '--method', 'grad-cam', '--layer', '/features/features.4/Relu_output_0', '--out', out]);
  assert.ok(Math.abs(c.score - meta.score) < 1e-3, `score ${meta.score} vs CLI ${c.score}`);
  // alpha_k are the spatial means of the gradient: sum_k alpha_k A^k rebuilt by the CLI's map
  // is not available, but the map's maximum is.
  const cliMax = Math.max(...readNpy(out).data);
  const shownMax = await page.evaluate(() => document.getElementById('gc-2').shadowRoot.querySelector('.max').textContent);
  assert.ok(Math.abs(Number(shownMax) - cliMax) < 1e-2 * (1 + cliMax), `legend max ${shownMax} vs CLI map max ${cliMax}`);
  await page.selectOption('#gc-image', 'images/digit_2.png');
  await page.waitForFunction(() => ['gc-1', 'gc-2', 'gc-3'].every((i) => document.getElementById(i).dataset.explained === 'grad-cam:2'), null, { timeout: 60_000 });
  const after = await Promise.all(['gc-1', 'gc-2', 'gc-3'].map((i) => heatOf(page, i)));
  after.forEach((a, i) => assert.notEqual(a.hash, before[i].hash, `layer ${i + 1} map changed`));
  await page.screenshot({ path: path.join(ARTIFACTS, 'learn-grad-cam.png'), fullPage: true });
  await noPageError(page);
  await page.close();
});

test('IG page: steps slider, the gap against the steps, saturation along the path, the rescaled twin, baselines', async () => {
  const page = await open('learn-ig.html');
  await explainedAll(page, ['ig-gradient', 'ig-guided', 'ig-main', 'bl-black', 'bl-white', 'bl-blurred', 'bl-noise']);
  const m = await page.evaluate(() => document.getElementById('ig-main').lastMeta);
  const side = JSON.parse(fs.readFileSync(path.join(MODELS, 'mnist_lrp.json'), 'utf8'));
  const black = String(Math.fround(Math.fround(0 - side.preprocess.mean[0]) / side.preprocess.std[0]));
  const c = cli(['explain', '--model', path.join(MODELS, 'mnist_lrp.onnx'), '--input', path.join(MODELS, 'images', 'digit_3.png'), '--method', 'integrated-gradients',
    '--steps', '50', '--baseline', black, '--out', path.join(ARTIFACTS, 'ig3.npy')]);
  assert.ok(Math.abs(c.completeness_gap - m.completeness_gap) < 1e-3, `gap ${m.completeness_gap} vs CLI ${c.completeness_gap}`);
  // The slider: 2 steps.
  const heat = await heatOf(page, 'ig-main');
  await page.evaluate(() => { const s = document.getElementById('ig-steps'); s.value = '0'; s.dispatchEvent(new Event('input')); });
  await page.waitForFunction(() => JSON.parse(document.getElementById('ig-main').getAttribute('params')).steps === 2 && document.getElementById('ig-numbers').textContent.includes('with 2 steps'), null, { timeout: 60_000 });
  assert.notEqual((await heatOf(page, 'ig-main')).hash, heat.hash);
  // Completeness: before the button, the plot says what it will show (not a blank box); then
  // the gap closes with the steps, and Gauss-Legendre closes it faster.
  const inked = await page.evaluate(() => { const c = document.getElementById('gap-plot'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; });
  assert.ok(inked > 200, `the empty plot carries its placeholder (${inked} painted pixels)`);
  await page.click('#gap-run');
  await page.waitForFunction(() => document.getElementById('gap-plot').dataset.gaps, null, { timeout: 180_000 });
  const gaps = JSON.parse(await page.evaluate(() => document.getElementById('gap-plot').dataset.gaps));
  for (const g of gaps) assert.ok(g.gaps.at(-1) < g.gaps[0] / 10, `${g.rule}: gap ${g.gaps[0]} at 2 steps, ${g.gaps.at(-1)} at 10 000`);
  const [rr, gl] = gaps;
  assert.ok(gl.gaps[5] < rr.gaps[5], `64 steps: Gauss-Legendre ${gl.gaps[5]} vs right Riemann ${rr.gaps[5]}`);
  // Sensitivity: the probability rises from the baseline to the digit and is flat at the end.
  await page.waitForFunction(() => document.getElementById('path-plot').dataset.path, null, { timeout: 60_000 });
  const pathPts = JSON.parse(await page.evaluate(() => document.getElementById('path-plot').dataset.path));
  assert.ok(pathPts.at(-1)[1] > 0.9 && pathPts[0][1] < pathPts.at(-1)[1], JSON.stringify(pathPts.map((p) => p[1])));
  const steepest = Math.max(...pathPts.map((p) => p[2]));
  assert.ok(pathPts.at(-1)[2] < steepest / 10, `dp/dα at the image ${pathPts.at(-1)[2]} vs steepest ${steepest}`);
  // Implementation invariance: same scores and IG for the twin, not the same LRP-epsilon.
  await page.waitForFunction(() => document.getElementById('twin-row').dataset.result, null, { timeout: 60_000 });
  const twin = JSON.parse(await page.evaluate(() => document.getElementById('twin-row').dataset.result));
  const rel = twin.numbers.map((s) => Number(s.match(/relative difference (\S+)/)[1]));
  assert.ok(twin.logit_diff < 1e-3 && rel[0] < 1e-3 && rel[1] > 0.05, JSON.stringify(twin));
  await page.evaluate(() => { const s = document.getElementById('twin-c'); s.value = '2'; s.dispatchEvent(new Event('change')); });
  await page.waitForFunction(() => JSON.parse(document.getElementById('twin-row').dataset.result).c === 100, null, { timeout: 60_000 });
  // Baselines: four different maps.
  const hs = await Promise.all(['bl-black', 'bl-white', 'bl-blurred', 'bl-noise'].map((i) => heatOf(page, i)));
  assert.equal(new Set(hs.map((h) => h.hash)).size, 4);
  await page.screenshot({ path: path.join(ARTIFACTS, 'learn-ig.png'), fullPage: true });
  await noPageError(page);
  await page.close();
});

test('LRP page: the patched nine reads as a zero, sliders change the maps, the table\'s conservation is the CLI\'s', async () => {
  const page = await open('learn-lrp.html');
  const ids = ['nine-source', 'nine-patched', 'r-zero', 'r-eps', 'r-gamma', 'r-a1', 'r-a2', 'r-layered'];
  await explainedAll(page, ids);
  await page.waitForFunction(() => document.body.dataset.nine && document.querySelectorAll('#rule-rows tr[data-conservation]').length === 7, null, { timeout: 120_000 });
  assert.deepEqual(JSON.parse(await page.evaluate(() => document.body.dataset.nine)), { source: '9', patched: '0' });
  const eps = await heatOf(page, 'r-eps');
  await page.evaluate(() => { const s = document.getElementById('eps'); s.value = '0.75'; s.dispatchEvent(new Event('input')); });
  await page.waitForFunction(() => document.getElementById('r-eps').getAttribute('params').includes('5.62'), null, { timeout: 30_000 });
  for (let i = 0; i < 100 && (await heatOf(page, 'r-eps')).hash === eps.hash; i++) await page.waitForTimeout(100);
  assert.notEqual((await heatOf(page, 'r-eps')).hash, eps.hash, 'the epsilon slider changed the map');
  // Conservation of the LRP-0 row against the CLI on the same image.
  const shown = Number(await page.evaluate(() => document.querySelector('#rule-rows tr').dataset.conservation));
  const c = cli(['explain', '--model', path.join(MODELS, 'mnist_lrp.onnx'), '--input', path.join(MODELS, 'images', 'nine_patched.png'), '--method', 'lrp', '--rule', '-=zero', '--out', path.join(ARTIFACTS, 'lrp0.npy')]);
  assert.ok(Math.abs(shown - c.relevance_sum / c.score) < 1e-4, `LRP-0 conservation ${shown} vs CLI ${c.relevance_sum / c.score}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'learn-lrp.png'), fullPage: true });
  await noPageError(page);
  await page.close();
});

test('viewer evaluation: curves, box, pointing game and sanity check agree with `saliency evaluate`; every method scored in one click', async () => {
  const page = await open('index.html#model=mnist_cam&image=images/digit_9.png&method=gradient');
  await page.waitForFunction(() => document.body.dataset.explained?.startsWith('gradient:') && document.body.dataset.busy === '0', null, { timeout: 120_000 });
  // The evaluation tools are folded until asked for.
  assert.equal(await page.locator('#eval-curves').isVisible(), false);
  await page.click('#evaluate summary');
  await page.click('#eval-curves');
  await page.waitForFunction(() => document.getElementById('eval-auc').dataset.deletion, null, { timeout: 60_000 });
  const auc = await page.evaluate(() => ({ ...document.getElementById('eval-auc').dataset }));
  await page.check('#eval-box');
  for (const [k, v] of Object.entries({ x0: 5, y0: 3, x1: 22, y1: 26 })) await page.fill(`#eval-truth-${k}`, String(v));
  await page.dispatchEvent('#eval-truth-y1', 'change');
  await page.waitForFunction(() => JSON.parse(document.getElementById('eval-box-text').dataset.result ?? '{}').pointing, null, { timeout: 30_000 });
  const loc = JSON.parse(await page.evaluate(() => document.getElementById('eval-box-text').dataset.result));
  await page.click('#eval-sanity');
  await page.waitForFunction(() => document.getElementById('eval-sanity-text').dataset.flagged, null, { timeout: 60_000 });
  const sanity = JSON.parse(await page.evaluate(() => document.getElementById('eval-sanity-text').dataset.result));
  assert.equal(await page.locator('#eval-sanity-strip canvas').count(), sanity.length);
  const ev = cli(['evaluate', '--model', path.join(MODELS, 'mnist_cam.onnx'), '--input', path.join(MODELS, 'images', 'digit_9.png'), '--method', 'gradient',
    '--metrics', 'deletion,insertion,box,pointing,sanity', '--truth', '5,3,22,26']);
  assert.ok(Math.abs(ev.deletion_auc - Number(auc.deletion)) < 1e-4 && Math.abs(ev.insertion_auc - Number(auc.insertion)) < 1e-4, `AUCs ${JSON.stringify(auc)} vs CLI ${ev.deletion_auc} ${ev.insertion_auc}`);
  assert.deepEqual(loc.bbox, ev.box);
  assert.deepEqual(loc.pointing, ev.pointing);
  assert.ok(Math.abs(loc.iou - ev.box_iou) < 1e-9);
  assert.equal(sanity.length, ev.sanity.stages.length);
  sanity.forEach((s, i) => assert.ok(Math.abs(s.spearman_abs - ev.sanity.stages[i].spearman_abs) < 0.02, `stage ${i}: ${s.spearman_abs} vs CLI ${ev.sanity.stages[i].spearman_abs}`));
  assert.equal(await page.evaluate(() => document.getElementById('eval-sanity-text').dataset.flagged), String(ev.sanity.flagged));
  // One click: every applicable method as a scored panel.
  await page.click('#compare summary');
  await page.click('#compare-faithfulness');
  await page.waitForFunction(() => !document.getElementById('compare-table').hidden, null, { timeout: 180_000 });
  const rows = await page.locator('#compare-table tbody tr').count();
  assert.equal(rows, 8);
  assert.equal(await page.locator('.panel[data-deletion]').count(), 8);
  await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-evaluation.png'), fullPage: true });
  assert.ok(await page.locator('#error').isHidden(), await page.locator('#error').textContent());
  await page.close();
});

test('no request left the origin and no console error on any page', () => {
  assert.deepEqual(foreign, []);
  assert.deepEqual(errors, []);
});

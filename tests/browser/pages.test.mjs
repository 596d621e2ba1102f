// Every page of the site as its readers meet it, at desktop (1280 x 900) and phone (390 x 844)
// sizes: axe-core finds no accessibility violation, nothing scrolls sideways, and a screenshot
// of each is kept in artifacts/ for a person to look at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { startServer, launch, guardOrigin, watchErrors } from './harness.mjs';

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const ARTIFACTS = path.join(path.dirname(new URL(import.meta.url).pathname), 'artifacts');
const PAGES = ['index.html', 'learn-cam.html', 'learn-grad-cam.html', 'learn-ig.html', 'learn-lrp.html', 'embed-demo.html'];
const SIZES = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };

let srv;
const browsers = {};
const errors = [];
const foreign = [];

before(async () => {
  srv = await startServer();
  for (const [size, viewport] of Object.entries(SIZES)) {
    // (The pages' CSP forbids injected scripts: axe needs a context that bypasses it.)
    browsers[size] = await launch([], { viewport, bypassCSP: true });
    await guardOrigin(browsers[size].context, srv.origin, foreign);
  }
});

after(async () => {
  for (const b of Object.values(browsers)) await b.close();
  srv?.server.close();
});

for (const size of Object.keys(SIZES)) {
  for (const file of PAGES) {
    test(`${file} at ${size} size: no axe-core violation, no sideways scroll`, async () => {
      const page = watchErrors(await browsers[size].context.newPage(), errors);
      await page.goto(`${srv.url}${file}`);
      // Settled: the viewer's first explanation, or every element of a lesson drawn.
      await page.waitForFunction(() => {
        const views = [...document.querySelectorAll('saliency-viewer')];
        const viewer = document.getElementById('viewer');
        return views.every((v) => v.dataset.explained || v.dataset.error) && (!viewer || document.body.dataset.explained);
      }, null, { timeout: 180_000 });
      await page.screenshot({ path: path.join(ARTIFACTS, `page-${file.replace('.html', '')}-${size}.png`), fullPage: true });
      const wide = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: window.innerWidth }));
      assert.ok(wide.scroll <= wide.view, `${file} (${size}): the page is ${wide.scroll} px wide in a ${wide.view} px window`);
      await page.addScriptTag({ content: AXE });
      const result = await page.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
      });
      await page.close();
      assert.deepEqual(result, [], `${file} (${size}) axe-core violations`);
    });
  }
}

test('the keyboard reaches the classes: Tab focuses them, Enter explains the focused one (viewer and element)', async () => {
  const page = watchErrors(await browsers.desktop.context.newPage(), errors);
  await page.goto(`${srv.url}index.html`);
  await page.waitForFunction(() => document.body.dataset.busy === '0' && document.body.dataset.explained, null, { timeout: 120_000 });
  // The viewer opens on the catalog's first choice that applies: Grad-CAM on the cat.
  assert.match(await page.evaluate(() => document.body.dataset.explained), /^grad-cam:/);
  // The drop zone opens the file dialog from the keyboard.
  const [chooser] = await Promise.all([page.waitForEvent('filechooser', { timeout: 30_000 }), page.locator('#drop').press('Enter')]);
  assert.ok(chooser.isMultiple(), 'several files (a model with its weights and sidecar) can be chosen at once');
  const second = page.locator('#top-k li').nth(1);
  const index = await second.getAttribute('data-index');
  // Tab from the page's start reaches the first class; the arrow key moves to the next.
  for (let i = 0; i < 60 && await page.evaluate(() => document.activeElement?.className) !== 'class-choice'; i++) await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'class-choice', 'Tab reaches the classes');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement?.closest('li')?.dataset.index), index);
  await page.keyboard.press('Enter');
  await page.waitForFunction((i) => document.body.dataset.busy === '0' && document.body.dataset.explained?.endsWith(`:${i}`), index, { timeout: 60_000 });
  assert.equal(await second.locator('button').getAttribute('aria-pressed'), 'true');
  // Honest pictures: EfficientNet-Lite0 has ReLU6 only, so guided backprop says it is the gradient;
  // after a gradient, the steps slider says what an IG run will cost before it starts.
  // The map beside the image, and alone.
  await page.check('input[name=view-mode][value=side]');
  const side = await page.evaluate(() => ({ original: !document.getElementById('original-canvas').hidden, opacity: document.getElementById('heat-canvas').style.opacity, image: document.getElementById('image-canvas').style.visibility }));
  assert.deepEqual(side, { original: true, opacity: '1', image: 'hidden' });
  // The map alone is not captioned as the input.
  await page.check('input[name=view-mode][value=map]');
  assert.ok(await page.locator('#image-caption').isHidden(), 'no input caption under the map alone');
  assert.match(await page.locator('#map-caption').textContent(), /^The map: /);
  await page.check('input[name=view-mode][value=overlay]');
  assert.equal(await page.evaluate(() => document.getElementById('original-canvas').hidden), true);
  assert.ok(await page.locator('#image-caption').isVisible());
  await page.selectOption('[data-testid=method-select]', 'guided-backprop');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && document.body.dataset.explained?.startsWith('guided-backprop'), null, { timeout: 60_000 });
  assert.match(await page.locator('#method-reason').textContent(), /identical to the gradient/);
  await page.selectOption('[data-testid=method-select]', 'gradient');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && document.body.dataset.explained?.startsWith('gradient:'), null, { timeout: 60_000 });
  await page.selectOption('[data-testid=method-select]', 'integrated-gradients');
  await page.waitForFunction(() => document.body.dataset.busy === '0' && document.body.dataset.explained?.startsWith('integrated-gradients'), null, { timeout: 120_000 });
  assert.match(await page.locator('#method-params .estimate').first().textContent(), /^≈ \d/);
  // The element's list, in its shadow root.
  await page.goto(`${srv.url}embed-demo.html`);
  await page.waitForFunction(() => document.getElementById('cat').dataset.explained, null, { timeout: 120_000 });
  const el = page.locator('#cat');
  const third = await el.evaluate((v) => v.shadowRoot.querySelectorAll('.topk li')[2].dataset.index);
  await el.evaluate((v) => v.shadowRoot.querySelectorAll('.topk button')[2].focus());
  await page.keyboard.press('Enter');
  await page.waitForFunction((i) => document.getElementById('cat').dataset.explained?.endsWith(`:${i}`), third, { timeout: 60_000 });
  await page.close();
});

// Each lesson's main control, reached with Tab alone and moved with an arrow key, changes the
// picture it drives: [page, control, element it drives].
const LESSON_CONTROLS = [
  ['learn-cam.html', 'cam-image', 'cam-bilinear'],
  ['learn-grad-cam.html', 'gc-image', 'gc-1'],
  ['learn-ig.html', 'ig-steps', 'ig-main'],
  ['learn-lrp.html', 'eps', 'r-eps'],
  ['embed-demo.html', 'steps', 'digit'],
];
for (const [file, control, view] of LESSON_CONTROLS) {
  test(`${file}: Tab reaches #${control}, an arrow key changes it, and #${view} is explained again`, async () => {
    const page = watchErrors(await browsers.desktop.context.newPage(), errors);
    await page.goto(`${srv.url}${file}`);
    await page.waitForFunction((v) => document.getElementById(v).lastMeta, view, { timeout: 180_000 });
    const before = await page.evaluate((v) => JSON.stringify(document.getElementById(v).lastMeta), view);
    for (let i = 0; i < 80 && await page.evaluate(() => document.activeElement?.id) !== control; i++) await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), control, `Tab reaches #${control}`);
    const focus = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(focus, 'none', 'the focus is visible');
    const select = await page.evaluate(() => document.activeElement.tagName === 'SELECT');
    await page.keyboard.press(select ? 'ArrowDown' : 'ArrowRight');
    await page.waitForFunction(([v, b]) => { const m = document.getElementById(v).lastMeta; return m && JSON.stringify(m) !== b; }, [view, before], { timeout: 120_000 });
    await page.close();
  });
}

test('the viewer opens at 1280 x 900 on the input and its map side by side, the prediction beside them, all on the first screen', async () => {
  const page = watchErrors(await browsers.desktop.context.newPage(), errors);
  await page.goto(`${srv.url}index.html`);
  await page.waitForFunction(() => document.body.dataset.busy === '0' && document.body.dataset.explained, null, { timeout: 120_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-first-screen-desktop.png') });
  const at = await page.evaluate(() => Object.fromEntries(['original-canvas', 'heat-canvas', 'top-k'].map((id) => {
    const r = document.getElementById(id).getBoundingClientRect();
    return [id, { left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width }];
  })));
  const [o, h, k] = [at['original-canvas'], at['heat-canvas'], at['top-k']];
  assert.ok(o.width >= 360 && h.width >= 360, `large pictures: ${o.width} and ${h.width} px`);
  assert.ok(Math.abs(o.top - h.top) < 1 && h.left >= o.right, `the input and the map side by side: ${JSON.stringify({ o, h })}`);
  assert.ok(h.bottom <= 900 && o.bottom <= 900, `both on the first screen (bottom ${h.bottom} px of 900)`);
  assert.ok(k.left >= h.right && k.top < h.bottom, `the prediction beside them: ${JSON.stringify(k)}`);
  assert.equal(await page.evaluate(() => document.getElementById('image-canvas').style.visibility), 'hidden');
  // The model's name is not clipped in its select.
  const sel = await page.evaluate(() => { const s = document.getElementById('model-select'); const c = document.createElement('canvas').getContext('2d'); c.font = getComputedStyle(s).font; return { text: c.measureText(s.selectedOptions[0].textContent).width, box: s.clientWidth }; });
  assert.ok(sel.text < sel.box, `the model's name (${sel.text} px) fits its select (${sel.box} px)`);
  // On a digit net the drawing pad appears under the pictures, and the prediction stays beside.
  const mnist = await page.evaluate(() => [...document.querySelectorAll('#model-select option')].find((o) => /MNIST/.test(o.textContent)).value);
  await page.selectOption('#model-select', mnist);
  await page.waitForFunction(() => document.body.dataset.busy === '0' && !document.getElementById('draw-box').hidden && document.body.dataset.explained, null, { timeout: 120_000 });
  const [h2, k2] = await page.evaluate(() => ['heat-canvas', 'top-k'].map((id) => document.getElementById(id).getBoundingClientRect().toJSON()));
  assert.ok(k2.left >= h2.right && k2.top < h2.bottom, `with the drawing pad, the prediction is still beside the map: ${JSON.stringify({ h2, k2 })}`);
  // A phone opens on the map over the image, in one column.
  const phone = watchErrors(await browsers.phone.context.newPage(), errors);
  await phone.goto(`${srv.url}index.html`);
  await phone.waitForFunction(() => document.body.dataset.busy === '0' && document.body.dataset.explained, null, { timeout: 120_000 });
  assert.equal(await phone.evaluate(() => document.querySelector('input[name=view-mode]:checked').value), 'overlay');
  await phone.close();
  await page.close();
});

test('no request left the origin and no console error on any page', () => {
  assert.deepEqual(foreign, []);
  assert.deepEqual(errors, []);
});

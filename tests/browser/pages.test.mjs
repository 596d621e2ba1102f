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
  const second = page.locator('#top-k li').nth(1);
  const index = await second.getAttribute('data-index');
  await second.locator('button').focus();
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'class-choice');
  await page.keyboard.press('Enter');
  await page.waitForFunction((i) => document.body.dataset.busy === '0' && document.body.dataset.explained?.endsWith(`:${i}`), index, { timeout: 60_000 });
  assert.equal(await second.locator('button').getAttribute('aria-pressed'), 'true');
  // Honest pictures: EfficientNet-Lite0 has ReLU6 only, so guided backprop says it is the gradient;
  // after a gradient, the steps slider says what an IG run will cost before it starts.
  // The map beside the image, and alone.
  await page.check('input[name=view-mode][value=side]');
  const side = await page.evaluate(() => ({ original: !document.getElementById('original-canvas').hidden, opacity: document.getElementById('heat-canvas').style.opacity, image: document.getElementById('image-canvas').style.visibility }));
  assert.deepEqual(side, { original: true, opacity: '1', image: 'hidden' });
  await page.check('input[name=view-mode][value=overlay]');
  assert.equal(await page.evaluate(() => document.getElementById('original-canvas').hidden), true);
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

test('no request left the origin and no console error on any page', () => {
  assert.deepEqual(foreign, []);
  assert.deepEqual(errors, []);
});

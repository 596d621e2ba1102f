// Elements share what they can: ten <saliency-viewer>s on one model fetch the model and its
// sidecar once (one worker, one compiled model), an image shown twice is fetched once, and each
// element still explains its own image.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { siteSuite, watchErrors } from './harness.mjs';

const site = siteSuite({ before, after });
const { errors, foreign } = site;

test('ten elements on one model: the model and its sidecar are fetched once, every element explains its own image', async () => {
  const page = watchErrors(await site.browser.context.newPage(), errors);
  site.srv.requests.length = 0;
  await page.goto(`${site.srv.url}__fixtures__/pages/ten-viewers.html`);
  await page.waitForFunction(() => [...document.querySelectorAll('saliency-viewer')].every((v) => v.dataset.explained || v.dataset.error), null, { timeout: 120_000 });
  const states = await page.evaluate(() => [...document.querySelectorAll('saliency-viewer')].map((v) => ({ id: v.id, explained: v.dataset.explained, error: v.dataset.error })));
  assert.equal(states.length, 10);
  for (const s of states) assert.ok(s.explained && !s.error, `${s.id}: ${s.error}`);
  const count = (suffix) => site.srv.requests.filter((u) => new URL(u, 'http://x').pathname.endsWith(suffix)).length;
  assert.equal(count('/models/mnist_cam.onnx'), 1, `model fetched ${count('/models/mnist_cam.onnx')} times`);
  assert.equal(count('/models/mnist_cam.json'), 1, `sidecar fetched ${count('/models/mnist_cam.json')} times`);
  for (let d = 0; d < 5; d++) assert.equal(count(`/models/images/digit_${d}.png`), 1, `digit_${d}.png (shown twice)`);
  // Each element classified its own digit: their top classes differ.
  const tops = await page.evaluate(() => [...document.querySelectorAll('saliency-viewer')].map((v) => v.prediction.top[0].index));
  assert.ok(new Set(tops).size >= 4, `top classes ${tops}`);
  await page.close();
});

test('no request left the origin and no console error', () => {
  assert.deepEqual(foreign, []);
  assert.deepEqual(errors, []);
});

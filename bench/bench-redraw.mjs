// Redraw benchmark (not a test): how long the viewer takes to show a new heatmap after a
// parameter change, per bundled MNIST model and method, in headless Debian Chromium. The change
// is a click on another class in the predictions list (every method recomputes); for IG-50 it
// is also the quadrature rule. Two numbers per redraw: "compute" is what the page reports
// (the worker(s)' time, as in the stats line), "to paint" runs from the change event to the
// first animation frame after the new heatmap is on the canvas (so it includes the event
// handling, the rendering, and waiting for the display's next frame).
//   make build && node bench/bench-redraw.mjs [LOADS] [CHANGES]     (or: make bench-redraw)
// Needs tests/browser's node_modules (playwright-core: make setup-test) and /usr/bin/chromium.
// MODELS=mnist_cam METHODS=integrated-gradients,smoothgrad limit the run; QUERY=?x=y is added to
// the page's address. The page's frames are 16.7 ms apart and each change starts right after
// one, so "to paint" comes in steps of a frame (33.3, 50.0, 66.7 ms).
import { startServer, launch } from '../tests/browser/harness.mjs';

const loads = Number(process.argv[2] ?? 3);
const changes = Number(process.argv[3] ?? 30);
const MODELS = Object.fromEntries(Object.entries({ mnist_cam: 'images/digit_7.png', mnist_lrp: 'images/digit_3.png' }).filter(([m]) => !process.env.MODELS || process.env.MODELS.split(',').includes(m)));
const METHODS = process.env.METHODS?.split(',') ?? ['gradient', 'gradient-x-input', 'guided-backprop', 'integrated-gradients', 'smoothgrad', 'grad-cam', 'cam', 'lrp'];

const srv = await startServer();
const results = {};
for (let run = 0; run < loads; run++) {
  for (const [model, image] of Object.entries(MODELS)) {
    const b = await launch();
    const page = await b.context.newPage();
    await page.goto(`${srv.url}${process.env.QUERY ?? ''}#model=${model}&image=${image}&method=gradient`);
    await page.waitForFunction(() => (document.body.dataset.explained ?? '').startsWith('gradient:') && document.body.dataset.busy === '0', null, { timeout: 120_000 });
    for (const method of [...METHODS, 'ig-rule']) {
      const id = method === 'ig-rule' ? 'integrated-gradients' : method;
      const enabled = await page.evaluate((m) => !document.querySelector(`[data-testid=method-select] option[value="${m}"]`)?.disabled, id);
      if (!enabled) continue;
      await page.selectOption('[data-testid=method-select]', id);
      await page.waitForFunction((m) => (document.body.dataset.explained ?? '').startsWith(`${m}:`) && document.body.dataset.busy === '0', id, { timeout: 120_000 });
      if (id === 'smoothgrad') {
        // The page's default is 25 samples: measure 50, as for IG's steps.
        await page.evaluate(() => {
          const r = document.querySelector('#method-params input[name=samples]');
          r.value = '50';
          r.dispatchEvent(new Event('change'));
        });
        await page.waitForFunction(() => JSON.parse(document.getElementById('viewer').dataset.explanation ?? '{}').request?.samples === 50 && document.body.dataset.busy === '0', null, { timeout: 120_000 });
      }
      await page.waitForTimeout(300);
      const times = await page.evaluate(async ([n, byRule]) => {
        const stats = document.getElementById('explain-stats');
        const out = [];
        for (let i = 0; i < n; i++) {
          const before = stats.textContent;
          const done = new Promise((res) => {
            const mo = new MutationObserver(() => { if (stats.textContent !== before) { mo.disconnect(); res(); } });
            mo.observe(stats, { childList: true, characterData: true, subtree: true });
          });
          const t0 = performance.now();
          if (byRule) {
            const sel = document.querySelector('#method-params select[name=ig_rule]');
            sel.value = i % 2 ? 'gauss-legendre' : 'riemann-middle';
            sel.dispatchEvent(new Event('change'));
          } else {
            const items = document.querySelectorAll('[data-testid=predictions] li');
            items[i % 2].click();
          }
          await done;
          await new Promise((r) => requestAnimationFrame(() => r()));
          const shown = Number(stats.textContent.match(/· ([\d.]+) ms/)[1]);
          out.push([shown, performance.now() - t0]);
        }
        return out;
      }, [changes, method === 'ig-rule']);
      const key = `${model} ${method === 'ig-rule' ? 'integrated-gradients (rule)' : method === 'integrated-gradients' ? 'integrated-gradients (class)' : method}`;
      (results[key] ??= []).push(...times);
    }
    await b.close();
  }
}
srv.server.close();
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };
console.log(`${loads} page loads x ${changes} changes per method (IG: 50 steps, SmoothGrad: 50 samples, on all workers)`);
console.log('model      method                         compute ms (median, p90)   to paint ms (median, p90)');
for (const [k, v] of Object.entries(results)) {
  const [model, ...m] = k.split(' ');
  const c = v.map((x) => x[0]);
  const p = v.map((x) => x[1]);
  console.log(`${model.padEnd(10)} ${m.join(' ').padEnd(30)} ${median(c).toFixed(1).padStart(10)} ${pct(c, 0.9).toFixed(1).padStart(8)} ${median(p).toFixed(1).padStart(18)} ${pct(p, 0.9).toFixed(1).padStart(8)}`);
}

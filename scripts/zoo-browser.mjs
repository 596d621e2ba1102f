// The zoo in Chromium: every export `scripts/zoo.py --keep DIR` left in DIR, loaded in Debian's
// Chromium through the viewer's JS API (saliency.js, in the page's worker, as a user's page
// would), fed the same input tensor, and explained with the same requests as the CLI. Compares
// the logits with onnxruntime's and every map with Captum's / Zennit's float64 reference (the
// verdict zoo.py gives: within max(1e-3, 30 x the float32 floor), or "at a kink" within that of
// torch's channels-last float32) and with the CLI's own map;
// then drops the files into the viewer itself and waits for its prediction and first map.
//
//   node scripts/zoo-browser.mjs /tmp/zoo [REGEX]    # REGEX: only the exports whose stem matches
//
// Not run by CI (it needs the exports zoo.py makes with torch); needs `make build` (or
// scripts/build-web.py) and tests/browser's npm packages. Prints one Markdown table.
import fs from 'node:fs';
import path from 'node:path';
import { startServer, launch, guardOrigin, watchErrors, readNpy } from '../tests/browser/harness.mjs';

const dir = path.resolve(process.argv[2] ?? '/tmp/zoo');
const only = process.argv[3] ? new RegExp(process.argv[3]) : null;
const zoo = JSON.parse(fs.readFileSync(path.join(dir, 'zoo.json'), 'utf8'));
const nets = zoo.nets.filter((n) => !only || only.test(n.stem));

const norm = (a) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));
/// |a - b| / |b|; `scale`: a smallest |b| (a Grad-CAM map of a layer whose weighted channels
/// all but cancel is rounding noise, all zero after its ReLU or not: a map under 1e-3 of the
/// net's largest is measured against that, as in zoo.py).
const relL2 = (a, b, scale = 1e-30) => {
  let d = 0;
  for (let i = 0; i < b.length; i++) d += (a[i] - b[i]) ** 2;
  return Math.sqrt(d) / Math.max(norm(b), scale);
};
const e1 = (v) => v.toExponential(1);

const srv = await startServer({ '__zoo__/': dir });
const browser = await launch();
const errors = [];
const foreign = [];
await guardOrigin(browser.context, srv.origin, foreign);
const page = watchErrors(await browser.context.newPage(), errors);
page.setDefaultTimeout(1_800_000);
await page.goto(srv.url);
await page.waitForFunction(() => document.body.dataset.top1 && document.body.dataset.busy === '0', null, { timeout: 300_000 });

const cols = ['model', 'exporter', 'load (s)', 'logits', 'gradient', 'ig', 'lrp', 'cam', 'grad-cam', 'viewer'];
console.log(`| ${cols.join(' | ')} |`);
console.log(`|${' --- |'.repeat(cols.length)}`);
const rows = [];
for (const net of nets) {
  const row = { model: net.model, exporter: net.exporter };
  const got = await page.evaluate(async ({ net }) => {
    const s = await import('./saliency.js');
    const bytes = async (f) => new Uint8Array(await (await fetch(`__zoo__/${f}`)).arrayBuffer());
    let m;
    try {
      m = await s.load({ url: `__zoo__/${net.stem}.onnx` });
    } catch (e) {
      return { load: `${e.name}: ${e.message}` };
    }
    const out = { load: 'ok', loadSeconds: m.loadSeconds, maps: [] };
    try {
      const x = await bytes(net.input);
      out.logits = (await m.explainTensor(await m.readNpy(x))).logits;
      await m.setInput(x);
      for (const map of net.maps) {
        const t = performance.now();
        try {
          const e = await m.explain({ method: map.method, params: map.params, target: net.target });
          out.maps.push({ file: map.file, values: Array.from(await e.values()), seconds: (performance.now() - t) / 1000 });
          await e.forget();
        } catch (e) {
          out.maps.push({ file: map.file, error: `${e.name}: ${e.message}` });
        }
      }
    } catch (e) {
      out.error = `${e.name}: ${e.message}`;
    } finally {
      await m.dispose();
    }
    return out;
  }, { net });
  row.load = got.load === 'ok' ? got.loadSeconds.toFixed(1) : got.load.slice(0, 90);
  if (got.error) row.logits = got.error.slice(0, 90);
  if (got.logits) {
    const ort = readNpy(path.join(dir, net.onnxruntime)).data;
    const top = Math.max(...ort.map(Math.abs));
    const gap = Math.max(...got.logits.map((v, i) => Math.abs(v - ort[i]))) / top;
    row.logits = `${e1(gap)} ${gap <= 1e-4 ? 'ok' : 'FAIL'}`;
  }
  const cells = { gradient: [], 'integrated-gradients': [], lrp: [], cam: [], 'grad-cam': [] };
  const camScale = 1e-3 * Math.max(0, ...net.maps.filter((m) => m.method === 'grad-cam')
    .map((m) => norm(readNpy(path.join(dir, m.file)).data)));
  for (const map of net.maps) {
    const g = got.maps?.find((m) => m.file === map.file);
    if (!g) continue;
    if (g.error) { cells[map.method].push(`error: ${g.error.slice(0, 60)}`); continue; }
    const cliMap = readNpy(path.join(dir, map.file)).data;
    if (process.env.ZOO_SAVE) fs.writeFileSync(path.join(dir, `${map.file}.browser.json`), JSON.stringify(g.values));
    const vsCli = relL2(g.values, cliMap, map.method === 'grad-cam' ? camScale : 1e-30);
    if (map.reference) {
      const ref = readNpy(path.join(dir, map.reference)).data;
      const err = relL2(g.values, ref, map.method === 'grad-cam' ? camScale : 1e-30);
      const within = (floor) => floor != null && err <= Math.max(1e-3, 30 * floor);
      // Outside, but as close to the CLI's map as the CLI's is to float64 and the CLI's verdict
      // found the kink (`zoo.py`'s flip search): the same unit on the same side.
      const asCli = map.verdict?.includes('at a kink') && vsCli <= Math.max(1e-3, 30 * map.floor);
      const verdict = within(map.floor) ? 'ok' : within(map.floor_channels_last) ? 'at a kink (as torch\'s channels-last float32)'
        : asCli ? 'at a kink (as the CLI)' : 'FAIL';
      cells[map.method].push(`${e1(err)}/${map.floor.toExponential(0)} ${verdict} (CLI ${e1(vsCli)})`);
    } else {
      cells[map.method].push(`CLI ${e1(vsCli)}`);
    }
  }
  row.gradient = cells.gradient.join('; ');
  row.ig = cells['integrated-gradients'].join('; ');
  row.lrp = cells.lrp.join('; ');
  row.cam = cells.cam.join('; ') || 'not offered';
  // Grad-CAM: layers explained of those tried, how many missed their reference (where zoo.py
  // had one), and the largest distance to the CLI's map.
  const gc = cells['grad-cam'];
  const worst = Math.max(0, ...gc.flatMap((c) => [...c.matchAll(/CLI ([0-9.e+-]+)/g)].map((m) => Number(m[1]))));
  const failed = gc.filter((c) => c.startsWith('error'));
  const missed = gc.filter((c) => c.includes('FAIL')).length;
  const kinks = gc.filter((c) => c.includes('kink')).length;
  row['grad-cam'] = gc.length ? `${gc.length - failed.length}/${gc.length}${missed ? `, ${missed} FAIL` : ''}${kinks ? `, ${kinks} at a kink` : ''} (CLI ≤ ${e1(worst)})${failed.length ? ` ${failed[0]}` : ''}` : '';
  // The viewer: the files dropped as a user drops them, its prediction and its first map.
  if (got.load === 'ok') {
    const files = net.files.map((f) => path.join(dir, f));
    await page.setInputFiles('#file-input', files);
    try {
      await page.waitForFunction((t) => (document.querySelector('#model-select option:checked')?.textContent.includes(t)
        && document.body.dataset.busy === '0' && document.body.dataset.explained) || !document.getElementById('error').hidden,
      `${net.stem}.onnx`, { timeout: 1_800_000 });
      const error = await page.locator('#error').isVisible() ? await page.locator('#error').textContent() : null;
      const top = await page.locator('#top-k li').count();
      row.viewer = error ? `error: ${error.slice(0, 60)}` : `${top} classes, ${await page.evaluate(() => document.body.dataset.explained.split(':')[0])} drawn`;
    } catch (e) {
      row.viewer = `timeout: ${String(e).slice(0, 60)}`;
    }
  }
  rows.push(row);
  console.log(`| ${[row.model, row.exporter, row.load, row.logits ?? '', row.gradient ?? '', row.ig ?? '', row.lrp ?? '', row.cam ?? '', row['grad-cam'] ?? '', row.viewer ?? ''].join(' | ')} |`);
}
if (errors.length) console.log(`\nconsole errors: ${errors.length}\n${errors.slice(0, 5).join('\n')}`);
if (foreign.length) console.log(`\nrequests off the origin: ${foreign.join(', ')}`);
fs.writeFileSync(path.join(dir, 'browser.json'), JSON.stringify(rows, null, 1));
await browser.close();
srv.server.close();

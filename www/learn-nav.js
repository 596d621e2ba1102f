// The teaching pages' navigation, the same on each page (current page marked).
const PAGES = [
  ['index.html', 'Viewer'],
  ['learn-cam.html', 'CAM'],
  ['learn-grad-cam.html', 'Grad-CAM'],
  ['learn-ig.html', 'Integrated Gradients'],
  ['learn-lrp.html', 'LRP'],
  ['embed-demo.html', 'Embedding'],
];
const nav = document.querySelector('nav.learn');
const here = location.pathname.split('/').pop() || 'index.html';
for (const [href, title] of PAGES) {
  const a = Object.assign(document.createElement('a'), { href, textContent: title });
  if (href === here) a.setAttribute('aria-current', 'page');
  nav.append(a);
}

/// Resolves when an element has shown its first explanation (or rejects on its error).
export function explained(el) {
  if (el.lastMeta) return Promise.resolve(el.lastMeta);
  return new Promise((resolve, reject) => {
    el.addEventListener('explained', (e) => resolve(e.detail), { once: true });
    el.addEventListener('error', (e) => reject(new Error(e.detail)), { once: true });
  });
}

/// Grey thumbnail of one h x w map (min..max to black..white).
export function drawMap(canvas, data, h, w) {
  canvas.width = w;
  canvas.height = h;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const img = new ImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const g = hi > lo ? Math.round((255 * (data[i] - lo)) / (hi - lo)) : 0;
    img.data.set([g, g, g, 255], 4 * i);
  }
  canvas.getContext('2d').putImageData(img, 0, 0);
}

/// Page errors are shown, never swallowed.
export function showError(e) {
  const p = document.getElementById('page-error');
  p.textContent = e?.message ?? String(e);
  p.hidden = false;
  document.body.dataset.error = p.textContent;
}

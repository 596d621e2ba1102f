// Small plots on a canvas: bars (LRP relevance per layer, Grad-CAM weights), lines (curves),
// boxes over an image.
import { formatValue } from './heatmap.js';

/// The canvas sized to its CSS box at the device's pixel ratio, cleared, drawn in CSS pixels.
function surface(canvas, defaultHeight) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 320;
  const h = canvas.clientHeight || defaultHeight;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  const c = canvas.getContext('2d');
  c.scale(dpr, dpr);
  c.clearRect(0, 0, w, h);
  return { c, w, h };
}

export function drawBars(canvas, values, { reference = null, labels = [] } = {}) {
  const { c, w, h } = surface(canvas, 90);
  const all = reference === null ? values : [...values, reference];
  const max = Math.max(1e-12, ...all.map((v) => Math.abs(v)));
  const pad = 14;
  const mid = values.some((v) => v < 0) ? h / 2 : h - pad;
  const scale = (mid - 4) / max;
  const bw = (w - 8) / Math.max(1, values.length);
  c.font = '10px system-ui, sans-serif';
  values.forEach((v, i) => {
    c.fillStyle = v >= 0 ? '#c0392b' : '#2563eb';
    const x = 4 + i * bw;
    c.fillRect(x + 1, v >= 0 ? mid - v * scale : mid, Math.max(1, bw - 2), Math.abs(v) * scale);
    if (labels[i] !== undefined && bw > 14) {
      c.fillStyle = '#5b6473';
      c.fillText(String(labels[i]), x + bw / 2 - 3, h - 2);
    }
  });
  if (reference !== null) {
    c.strokeStyle = '#1d2330';
    c.setLineDash([4, 3]);
    c.beginPath();
    c.moveTo(0, mid - reference * scale);
    c.lineTo(w, mid - reference * scale);
    c.stroke();
  }
}

/// Line plot: `series` = [{ ys, xs?, color, label }]; x in [0, 1] unless `xs` are given
/// (then `xlog` plots them on a log scale). Axis ticks at the ends, a legend on top.
export function drawLines(canvas, series, { xlog = false, ymin = null, ymax = null, xlabel = '', ylabel = '' } = {}) {
  const { c, w, h } = surface(canvas, 140);
  const pts = series.map((s) => s.ys.map((y, i) => [s.xs ? s.xs[i] : i / Math.max(1, s.ys.length - 1), y]));
  const all = pts.flat();
  if (!all.length) return;
  const fx = (x) => (xlog ? Math.log10(Math.max(x, 1e-12)) : x);
  const xs = all.map(([x]) => fx(x));
  const ys = all.map(([, y]) => y).filter(Number.isFinite);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const y0 = ymin ?? Math.min(...ys);
  const y1 = ymax ?? Math.max(...ys);
  const L = 38, R = 6, T = 16, B = 18;
  const px = (x) => L + ((fx(x) - x0) / (x1 - x0 || 1)) * (w - L - R);
  const py = (y) => h - B - ((y - y0) / (y1 - y0 || 1)) * (h - T - B);
  c.strokeStyle = '#9aa3b2';
  c.lineWidth = 1;
  c.strokeRect(L, T, w - L - R, h - T - B);
  c.font = '10px system-ui, sans-serif';
  c.fillStyle = '#5b6473';
  const fmt = (v) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(0) : String(+v.toFixed(2)));
  c.fillText(fmt(y1), 2, T + 8);
  c.fillText(fmt(y0), 2, h - B);
  c.fillText(fmt(xlog ? 10 ** x0 : x0), L, h - 4);
  const right = fmt(xlog ? 10 ** x1 : x1);
  c.fillText(right, w - R - c.measureText(right).width, h - 4);
  if (xlabel) c.fillText(xlabel, (w - c.measureText(xlabel).width) / 2, h - 4);
  if (ylabel) c.fillText(ylabel, L + 4, T + 10);
  let lx = L + 4;
  series.forEach((s, k) => {
    c.strokeStyle = s.color;
    c.lineWidth = 1.5;
    c.beginPath();
    pts[k].forEach(([x, y], i) => (i ? c.lineTo(px(x), py(y)) : c.moveTo(px(x), py(y))));
    c.stroke();
    if (s.label) {
      c.fillStyle = s.color;
      c.fillText(s.label, lx, T - 4);
      lx += c.measureText(s.label).width + 12;
    }
  });
}

/// A rectangle in model-input pixels drawn on a canvas that shows the input at another size.
export function drawBox(canvas, box, inputW, inputH, { color = '#ffffff', dash = [] } = {}) {
  const c = canvas.getContext('2d');
  const sx = canvas.width / inputW;
  const sy = canvas.height / inputH;
  c.save();
  c.lineWidth = Math.max(3, canvas.width / 90);
  c.setLineDash(dash);
  c.strokeStyle = '#000000';
  c.strokeRect(box.x0 * sx, box.y0 * sy, (box.x1 - box.x0) * sx, (box.y1 - box.y0) * sy);
  c.strokeStyle = color;
  c.lineWidth /= 2;
  c.strokeRect(box.x0 * sx, box.y0 * sy, (box.x1 - box.x0) * sx, (box.y1 - box.y0) * sy);
  c.restore();
}

/// The localisation marks over a map, in model-input pixels: the CAM paper's box (white), the
/// ground truth (green, dashed) and the pointing game's maximum (a dot, green on a hit). The
/// canvas is first sized to its CSS box and cleared.
export function drawMarks(canvas, { box = null, truth = null, point = null }, inputW, inputH) {
  canvas.width = canvas.clientWidth * (window.devicePixelRatio || 1) || 320;
  canvas.height = canvas.clientHeight * (window.devicePixelRatio || 1) || 320;
  const c = canvas.getContext('2d');
  c.clearRect(0, 0, canvas.width, canvas.height);
  if (box) drawBox(canvas, box, inputW, inputH, { color: '#ffffff' });
  if (truth) drawBox(canvas, truth, inputW, inputH, { color: '#22c55e', dash: [6, 4] });
  if (point) {
    c.fillStyle = point.hit ? '#22c55e' : '#ef4444';
    c.beginPath();
    c.arc(((point.x + 0.5) * canvas.width) / inputW, ((point.y + 0.5) * canvas.height) / inputH, Math.max(4, canvas.width / 60), 0, 2 * Math.PI);
    c.fill();
  }
}

/// An empty plot that says what it will show and how to fill it (instead of a blank box).
export function drawPlaceholder(canvas, text) {
  const { c, w, h } = surface(canvas, 160);
  c.strokeStyle = '#c8ced8';
  c.setLineDash([5, 4]);
  c.strokeRect(0.5, 0.5, w - 1, h - 1);
  c.fillStyle = '#5b6473';
  c.font = '13px system-ui, sans-serif';
  c.textAlign = 'center';
  // Wrapped to the canvas's width.
  const lines = [];
  for (const word of text.split(' ')) {
    const last = lines.at(-1);
    if (last !== undefined && c.measureText(`${last} ${word}`).width < w - 24) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  lines.forEach((l, i) => c.fillText(l, w / 2, h / 2 + (i - (lines.length - 1) / 2) * 17));
}

/// The CAM paper's box (a localize() result) in words, for a w x h input; a box that is the
/// whole input says so (every pixel is above the threshold), since it looks like no answer.
export function boxSentence(r, w, h) {
  const b = r.bbox;
  if (!b) return 'no positive evidence: no box';
  const whole = b.x0 === 0 && b.y0 === 0 && b.x1 === w && b.y1 === h;
  return `box x ${b.x0}–${b.x1}, y ${b.y0}–${b.y1} of ${w} × ${h} (${r.component_pixels} pixels in the largest region above ${formatValue(r.threshold)})${whole ? ': the whole image, the map is above this fraction of its maximum everywhere; raise the threshold' : ''}`;
}

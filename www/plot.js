// Small bar plots on a canvas (LRP relevance per layer).
export function drawBars(canvas, values, { reference = null, labels = [] } = {}) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 320;
  const h = canvas.clientHeight || 90;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  const c = canvas.getContext('2d');
  c.scale(dpr, dpr);
  c.clearRect(0, 0, w, h);
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

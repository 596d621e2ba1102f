// Drawing a heatmap over the image canvas, and its legend.
export function drawOverlay(canvas, rgba, width, height, opacity) {
  canvas.width = width;
  canvas.height = height;
  canvas.style.imageRendering = width < 128 ? 'pixelated' : 'auto';
  canvas.style.opacity = String(opacity);
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength), width, height), 0, 0);
  canvas.hidden = false;
}

export function drawLegend(canvas, strip, vmin, vmax, minLabel, maxLabel) {
  const n = strip.length / 4;
  canvas.width = n;
  canvas.height = 1;
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(strip.buffer, strip.byteOffset, strip.byteLength), n, 1), 0, 0);
  minLabel.textContent = formatValue(vmin);
  maxLabel.textContent = formatValue(vmax);
}

export function formatValue(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(2) : v.toPrecision(3);
}

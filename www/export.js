// Downloads: the heatmap, the overlay (image + heatmap at the chosen opacity), the raw
// attribution as .npy. Everything is made in the page; nothing is sent anywhere.
import { canvasPng } from './tools.js';

export function download(bytes, name, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export async function heatmapPng(heat) {
  return canvasPng(heat);
}

export async function overlayPng(image, heat, opacity) {
  const c = document.createElement('canvas');
  c.width = heat.width;
  c.height = heat.height;
  const ctx = c.getContext('2d');
  ctx.imageSmoothingEnabled = image.width >= 128;
  ctx.drawImage(image, 0, 0, c.width, c.height);
  ctx.globalAlpha = opacity;
  ctx.drawImage(heat, 0, 0);
  return canvasPng(c);
}

// The bundled models and images: models/index.json and each model's sidecar JSON.
export async function loadCatalog(base = 'models/') {
  const index = await fetchJson(`${base}index.json`);
  const models = await Promise.all(index.models.map(async (m) => {
    const sidecarText = await fetchText(`${base}${m.sidecar}`);
    const sidecar = JSON.parse(sidecarText);
    return { name: sidecar.name, title: sidecar.title || sidecar.name, url: `${base}${sidecar.file}`, sidecar, sidecarText };
  }));
  const images = index.images.map((im) => ({ ...im, url: `${base}${im.file}` }));
  return { models, images, base };
}

export async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function fetchText(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  return res.text();
}

async function fetchJson(url) {
  return JSON.parse(await fetchText(url));
}

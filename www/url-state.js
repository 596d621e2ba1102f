// The whole view as a URL fragment: model and image (when bundled), method, its parameters,
// target class and display settings. `#` keeps it out of requests: nothing reaches a server.
export function readState(hash = location.hash) {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const json = (k) => { try { return p.has(k) ? JSON.parse(p.get(k)) : undefined; } catch { return undefined; } };
  const target = p.has('target') ? Number(p.get('target')) : undefined;
  return {
    model: p.get('model') ?? undefined,
    image: p.get('image') ?? undefined,
    method: p.get('method') ?? undefined,
    params: json('params'),
    display: json('display'),
    target: Number.isInteger(target) && target >= 0 ? target : undefined,
  };
}

export function writeState(s) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined || v === null) continue;
    p.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  const hash = `#${p.toString()}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

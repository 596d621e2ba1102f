// A worker for bench.js's control: a plain JS loop of `rounds` passes over a small array (no
// wasm), so that the page can measure this browser's own two-worker scaling.
const a = new Float32Array(4096);
onmessage = (e) => {
  let s = 0;
  for (let r = 0; r < e.data; r++) {
    for (let i = 0; i < a.length; i++) {
      a[i] = a[i] * 0.999 + i;
      s += a[i];
    }
  }
  postMessage(s);
};

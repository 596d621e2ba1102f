// The benchmark page's worker: the site's worker (www/worker.js, imported: the same wasm
// builds, `?simd=plain|relaxed`, slots and commands) plus the timing commands that only the
// benchmark uses, so that the shipped worker carries none of them. Served at /bench/, beside the
// site's root (bench/README.md).
import { commands, slotOf, wasmExports } from '../worker.js';

/// `fn` run back to back, in rounds of n runs that last at least 100 ms (n doubles until they
/// do), after a warm-up: the median over five rounds of a round's time / n.
/// performance.now() is coarsened to 0.1 ms here, so sub-millisecond runs cannot be timed one
/// by one.
function timeLoop(fn) {
  fn();
  let n = 1;
  const means = [];
  while (means.length < 5) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    const dt = performance.now() - t0;
    if (dt < 100 && means.length === 0) {
      n *= 2;
      continue;
    }
    means.push(dt / n);
  }
  means.sort((a, b) => a - b);
  return { mean_ms: means[2], loop_runs: n };
}

// www/worker.js looks a command up when its message comes (once the wasm module is ready), so
// these are answered like its own.
Object.assign(commands, {
  /// The wasm instance's linear memory (bytes): it only grows, so this is the peak.
  memoryBytes() { return wasmExports.memory.buffer.byteLength; },
  /// The forward pass of an image (PNG/JPEG bytes): `runs` single timings, and `timeLoop`'s.
  timeForward({ bytes, runs, slot }) {
    const s = slotOf(slot);
    const x = s.model.preprocess_image(new Uint8Array(bytes));
    const times = [];
    for (let i = 0; i < (runs ?? 10); i++) {
      const t0 = performance.now();
      s.model.logits(x);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { median_ms: times[Math.floor(times.length / 2)], runs: times.length, ...timeLoop(() => s.model.logits(x)) };
  },
  /// One explanation of the slot's current input, timed as in `timeLoop`.
  timeExplain({ request, slot }) {
    const s = slotOf(slot);
    const json = JSON.stringify(request);
    return timeLoop(() => s.session.explain_values(json).free());
  },
});
